/* Internal: strided 1-D kernels behind the elementwise ops (vectorised, chosen at run time). */
#ifndef MOONLAB_CORE_KERN_H
#define MOONLAB_CORE_KERN_H

#include "moonlab/tensor.h"

/* Each kernel processes n elements; x, y, c are inputs, o the output; strides
 * are in elements and may be 0 (a broadcast operand). */
void ml_kern_binary(ml_binop op, ml_dtype dt, int64_t n, const void *x, int64_t sx, const void *y, int64_t sy,
                    void *o, int64_t so);
/* o (bool bytes) = x CMP y, both of dtype dt. */
void ml_kern_compare(ml_cmpop op, ml_dtype dt, int64_t n, const void *x, int64_t sx, const void *y, int64_t sy,
                     uint8_t *o, int64_t so);
/* o = f(x) for f32/f64 (ML_ABS and ML_NEG also for the integer dtypes). */
void ml_kern_unary(ml_unop op, ml_dtype dt, int64_t n, const void *x, int64_t sx, void *o, int64_t so);
/* o = c ? x : y for elements of es bytes. */
void ml_kern_where(size_t es, int64_t n, const uint8_t *c, int64_t sc, const void *x, int64_t sx, const void *y,
                   int64_t sy, void *o, int64_t so);
/* Vectorised exp for contiguous arrays (about 1 ulp). */
void ml_kern_exp_f32(int64_t n, const float *x, float *o);
void ml_kern_exp_f64(int64_t n, const double *x, double *o);

#endif
