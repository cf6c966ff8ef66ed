/* Internal: vectorised line kernels of the float reductions (sum, max/min), chosen per call by
 * ml_cpu_isa() among AVX-512, AVX2 and portable C. The sums keep 32 double lanes combined in one
 * fixed order on every path, so a sum is bitwise the same whichever path runs. */
#ifndef MOONLAB_CORE_REDUCE_SIMD_H
#define MOONLAB_CORE_REDUCE_SIMD_H

#include <stdint.h>

/* Sum of n contiguous elements: 32 double lanes per block of ML_RSUM_BLOCK, blocks combined pairwise. */
#define ML_RSUM_BLOCK 2048
double ml_rsum_f32(const float *x, int64_t n);
double ml_rsum_f64(const double *x, int64_t n);

/* Largest (sign > 0) or smallest (sign < 0) of n >= 1 elements ignoring NaN; *nan = 1 when one was seen
 * (then the result is meaningless: callers return NaN, as NumPy's max does). */
float ml_rext_f32(const float *x, int64_t n, int sign, int *nan);
double ml_rext_f64(const double *x, int64_t n, int sign, int *nan);

/* 0-based position of the first NaN, else of the first largest (sign > 0) / smallest element (NumPy's argmax). */
int64_t ml_rarg_f32(const float *x, int64_t n, int sign);
int64_t ml_rarg_f64(const double *x, int64_t n, int sign);

#endif
