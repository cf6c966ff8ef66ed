/* Strided loop nests shared by copies, elementwise ops and comparisons. */
#include <string.h>
#include "iter.h"

void ml_iter_init(ml_iter *it, int ndim, const int64_t *shape, int nop, const int64_t *const *strides)
{
    memset(it, 0, sizeof *it);
    it->nop = nop;
    it->numel = 1;
    for (int d = 0; d < ndim; d++) it->numel *= shape[d];
    /* drop size-1 dims, then merge d into d+1 when contiguous for every operand */
    int nd = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 1) continue;
        if (nd > 0) {
            int ok = 1;
            for (int k = 0; k < nop; k++)
                if (it->st[k][nd - 1] != strides[k][d] * shape[d]) ok = 0;
            if (ok) {
                it->shape[nd - 1] *= shape[d];
                for (int k = 0; k < nop; k++) it->st[k][nd - 1] = strides[k][d];
                continue;
            }
        }
        it->shape[nd] = shape[d];
        for (int k = 0; k < nop; k++) it->st[k][nd] = strides[k][d];
        nd++;
    }
    if (nd == 0) { /* a single element */
        it->shape[0] = 1;
        nd = 1;
    }
    it->ndim = nd;
}

#define CHUNK 16384

void ml_iter_run(const ml_iter *it, ml_iter_row row, void *ctx, int threaded)
{
    if (it->numel == 0) return;
    int nd = it->ndim, nop = it->nop;
    int64_t inner = it->shape[nd - 1], rows = it->numel / inner;
    int64_t nchunk = inner > 2 * CHUNK ? (inner + CHUNK - 1) / CHUNK : 1;
    int64_t clen = (inner + nchunk - 1) / nchunk, tasks = rows * nchunk;
    int par = threaded && it->numel > ML_PAR_N && tasks > 1;
#pragma omp parallel for if (par) schedule(static)
    for (int64_t task = 0; task < tasks; task++) {
        int64_t r = task / nchunk, c = task % nchunk;
        int64_t off[ML_ITER_MAXOP] = {0}, st[ML_ITER_MAXOP];
        int64_t rem = r;
        for (int d = nd - 2; d >= 0; d--) {
            int64_t i = rem % it->shape[d];
            rem /= it->shape[d];
            for (int k = 0; k < nop; k++) off[k] += i * it->st[k][d];
        }
        int64_t start = c * clen, n = inner - start < clen ? inner - start : clen;
        for (int k = 0; k < nop; k++) {
            st[k] = it->st[k][nd - 1];
            off[k] += start * st[k];
        }
        if (n > 0) row(ctx, n, off, st);
    }
}

void ml_broadcast_strides(const ml_tensor *t, int ndim, const int64_t *shape, int64_t *st)
{
    int lead = ndim - t->ndim;
    for (int d = 0; d < ndim; d++) {
        int sd = d - lead;
        st[d] = sd < 0 || (t->shape[sd] == 1 && shape[d] != 1) ? 0 : t->strides[sd];
    }
}
