/* libFuzzer harness: the .npz reader (ml_npz_load: ZIP directory, stored and deflated members, each an
 * .npy). Every member that loads is read in full and survives a save/load round trip. */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "moonlab/tensor.h"

static void parse(const char *path)
{
    ml_npz_item *items = NULL;
    int n = 0;
    if (ml_npz_load(path, &items, &n) != ML_OK) return;
    if (n < 0 || (n > 0 && !items)) abort();
    for (int k = 0; k < n; k++) {
        volatile double s = 0;
        for (int64_t i = 0; i < items[k].t.numel; i++) s += ml_tensor_getd(&items[k].t, i);
    }
    char out[300];
    snprintf(out, sizeof out, "%s.out.npz", path);
    ml_npz_item *back = NULL;
    int m = 0;
    if (n > 0 && ml_npz_save(out, items, n, 1) == ML_OK) {
        if (ml_npz_load(out, &back, &m) != ML_OK || m != n) abort(); /* what we wrote must read back */
        for (int k = 0; k < m; k++) {
            if (back[k].t.numel != items[k].t.numel || back[k].t.dtype != items[k].t.dtype) abort();
            ml_tensor_release(&back[k].t);
        }
        free(back);
    }
    unlink(out);
    for (int k = 0; k < n; k++) ml_tensor_release(&items[k].t);
    free(items);
}

ML_FUZZ_FILE(parse)
