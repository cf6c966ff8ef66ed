/* Internal: expm1(r) by its Taylor series to r^13 / 13!, the polynomial of the exp kernels (csrc/core/kern.c)
 * and of the EM's inlined exp (csrc/moe/em_fast.c): truncation below 2^-60 relative for |r| <= 0.347. */
#ifndef MOONLAB_CORE_EXPM1_POLY_H
#define MOONLAB_CORE_EXPM1_POLY_H

static inline __attribute__((always_inline)) double ml_expm1_taylor(double r)
{
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    return p * r * r + r;
}

#endif
