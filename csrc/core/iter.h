/* Internal: walking up to ML_ITER_MAXOP strided operands of one shape, row by row. */
#ifndef MOONLAB_CORE_ITER_H
#define MOONLAB_CORE_ITER_H

#include "moonlab/tensor.h"

#define ML_ITER_MAXOP 4
#define ML_PAR_N 32768 /* below this many elements, threads cost more than they save */

/* One loop nest: the operands' strides (elements) over a common shape, with
 * adjacent dims merged where every operand allows it. */
typedef struct ml_iter {
    int ndim, nop;
    int64_t shape[ML_MAXDIM];
    int64_t st[ML_ITER_MAXOP][ML_MAXDIM];
    int64_t numel;
} ml_iter;

/* Row callback: n elements; operand k starts at element offset off[k] (from
 * its data pointer) and advances by st[k] elements. */
typedef void (*ml_iter_row)(void *ctx, int64_t n, const int64_t *off, const int64_t *st);

/* Builds the nest for shape[ndim] and nop operands with the given strides. */
void ml_iter_init(ml_iter *it, int ndim, const int64_t *shape, int nop, const int64_t *const *strides);
/* Calls row() over every element; threads over rows and row chunks when
 * threaded is set and the nest is large. Row calls never overlap in output. */
void ml_iter_run(const ml_iter *it, ml_iter_row row, void *ctx, int threaded);

/* Strides of t broadcast to shape[ndim] (right-aligned; size-1 dims get 0). */
void ml_broadcast_strides(const ml_tensor *t, int ndim, const int64_t *shape, int64_t *st);

#endif
