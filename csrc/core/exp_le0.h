/* Internal: exp(x) for x <= 0 (finite or NaN) written to be inlined into loops that the compiler vectorises:
 * Cody–Waite reduction x = k ln2 + r, |r| <= ln2/2, the exp kernels' Taylor polynomial (expm1_poly.h), 2^k
 * through the exponent bits (relative error ~1e-16); results below 2^-1022 (x < -708) flush to 0, NaN stays NaN.
 * Only + - * and bit operations: with contraction off (ISO C mode) every vector width gives the same bits. */
#ifndef MOONLAB_CORE_EXP_LE0_H
#define MOONLAB_CORE_EXP_LE0_H

#include <stdint.h>
#include <string.h>
#include "expm1_poly.h"

static inline __attribute__((always_inline)) double ml_exp_le0(double x)
{
    const double shifter = 0x1.8p52;
    double xc = x > -708.0 ? x : -708.0;
    double kd = xc * 1.4426950408889634 + shifter;
    int64_t kb;
    memcpy(&kb, &kd, 8);
    double k = kd - shifter;
    double r = xc - k * 6.93147180369123816490e-01;
    r = r - k * 1.90821492927058770002e-10;
    double p = ml_expm1_taylor(r) + 1.0;
    int64_t sb = (int64_t)((uint64_t)((kb & 0xfff) + 1023) << 52); /* 2^k, k in [-1022, 0] */
    double sc;
    memcpy(&sc, &sb, 8);
    double res = p * sc;
    return x > -708.0 ? res : (x != x ? x : 0.0);
}

#endif
