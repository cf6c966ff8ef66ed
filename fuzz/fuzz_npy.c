/* libFuzzer harness: the .npy loader (ml_npy_load). An input that loads must be a consistent tensor:
 * every element is read (a size computed wrong shows as an overflow), and it must survive a save/load
 * round trip unchanged. */
#include <string.h>
#include "harness.h"
#include "moonlab/tensor.h"

static void parse(const char *path)
{
    ml_tensor t;
    if (ml_npy_load(path, &t) != ML_OK) return;
    if (t.numel < 0 || t.ndim < 0 || t.ndim > ML_MAXDIM) abort();
    volatile double s = 0;
    for (int64_t i = 0; i < t.numel; i++) s += ml_tensor_getd(&t, i);
    char out[300];
    snprintf(out, sizeof out, "%s.out.npy", path);
    ml_tensor u;
    if (ml_npy_save(out, &t) != ML_OK || ml_npy_load(out, &u) != ML_OK) abort();
    if (u.dtype != t.dtype || u.numel != t.numel || u.ndim != t.ndim ||
        memcmp(u.data, t.data, (size_t)t.numel * ml_dtype_size(t.dtype)) != 0)
        abort(); /* a loaded tensor does not round-trip */
    unlink(out);
    ml_tensor_release(&u);
    ml_tensor_release(&t);
}

ML_FUZZ_FILE(parse)
