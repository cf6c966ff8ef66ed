/* libFuzzer harness: the CSV reader (ml_csv_read), with and without a header line, comma and tab
 * delimiters. A file that loads must be a consistent 2-D tensor whose every element can be read. */
#include <stdlib.h>
#include "harness.h"
#include "moonlab/tensor.h"

static void parse(const char *path)
{
    static const struct { char delim; int header; ml_dtype dt; } modes[] = {
        {',', 1, ML_F64}, {',', 0, ML_F32}, {'\t', 0, ML_F64}, {';', 1, ML_F64}};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        ml_tensor t;
        char **names = NULL;
        int ncols = 0;
        if (ml_csv_read(path, modes[m].delim, modes[m].header, modes[m].dt, &t, &names, &ncols) != ML_OK) continue;
        if (t.ndim != 2 || t.numel != t.shape[0] * t.shape[1]) abort();
        volatile double s = 0;
        for (int64_t i = 0; i < t.numel; i++) s += ml_tensor_getd(&t, i);
        if (names) {
            for (int c = 0; c < ncols; c++) free(names[c]);
            free(names);
        }
        ml_tensor_release(&t);
    }
}

ML_FUZZ_FILE(parse)
