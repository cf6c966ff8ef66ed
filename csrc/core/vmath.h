/* Internal: log and cos(2 pi u) in portable C that vectorises (no tables, no branches, no calls), for
 * the normal generator (csrc/core/rng.c). Only correctly rounded IEEE operations (+ - * / and integer
 * bit manipulation) are used and nothing may be contracted into an FMA, so a scalar call and every
 * vector lane of an AVX2 or AVX-512 build of the same code give the same bits. Accuracy, checked against
 * __float128 by spec/c/vmath_test.c: within about one ulp (the measured maxima are in docs/tensor.md).
 * The polynomials are fdlibm's (Sun Microsystems, freely distributable; e_log.c, k_sin.c, k_cos.c). */
#ifndef MOONLAB_CORE_VMATH_H
#define MOONLAB_CORE_VMATH_H

#include <stdint.h>
#include <string.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF /* GCC does not contract in ISO C mode (-std=c11) */
#endif

#define ML_VM_INLINE static inline __attribute__((always_inline))

ML_VM_INLINE uint64_t ml_vm_bits(double x)
{
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

ML_VM_INLINE double ml_vm_double(uint64_t b)
{
    double x;
    memcpy(&x, &b, sizeof x);
    return x;
}

/* An exact conversion of 0 <= m < 2^53 to double, as two 32-bit halves (vectorises without AVX-512DQ). */
ML_VM_INLINE double ml_vm_u53(uint64_t m)
{
    double lo = ml_vm_double(0x4330000000000000ULL | (m & 0xffffffffULL)) - 0x1p52;
    double hi = ml_vm_double(0x4530000000000000ULL | (m >> 32)) - 0x1p84;
    return hi + lo;
}

/* log(x) for finite normal x > 0 (fdlibm's e_log.c without its special cases and shortcuts):
 * x = 2^k (1 + f) with 1 + f in [sqrt(2)/2, sqrt(2)), s = f / (2 + f),
 * log(1 + f) = f - (f^2/2 - s (f^2/2 + R(s^2))) with R a degree-7 minimax polynomial. */
ML_VM_INLINE double ml_vm_log(double x)
{
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    const double Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01, Lg3 = 2.857142874366239149e-01,
                 Lg4 = 2.222219843214978396e-01, Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01,
                 Lg7 = 1.479819860511658591e-01;
    uint64_t b = ml_vm_bits(x), m = b & 0x000fffffffffffffULL;
    /* i = 2^52 when the mantissa is >= sqrt(2) (fdlibm's test on its top 20 bits): then use x/2 */
    uint64_t i = (m + 0x95f6400000000ULL) & 0x0010000000000000ULL;
    int64_t k = (int64_t)(b >> 52) - 1023 + (int64_t)(i >> 52);
    double f = ml_vm_double(m | (i ^ 0x3ff0000000000000ULL)) - 1.0;
    double dk = ml_vm_double((uint64_t)(k + 0x4338000000000000LL)) - 0x1.8p52; /* exact for |k| < 2^51 */
    double s = f / (2.0 + f), z = s * s, w = z * z;
    double t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
    double t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
    double R = t2 + t1, hfsq = 0.5 * f * f;
    return dk * ln2_hi - ((hfsq - (s * (hfsq + R) + dk * ln2_lo)) - f);
}

/* cos(2 pi u) for |u| < 2^49: 4u = q + r exactly (q an integer, |r| <= 1/2), x = r pi/2 in [-pi/4, pi/4]
 * carried as x + y (the product r pi/2 made exact with Dekker's splitting, plus r times the tail of pi/2),
 * cos(2 pi u) = cos x, -sin x, -cos x, sin x for q = 0, 1, 2, 3 mod 4 (fdlibm's k_sin.c / k_cos.c kernels). */
ML_VM_INLINE double ml_vm_cos2pi(double u)
{
    const double S1 = -1.66666666666666324348e-01, S2 = 8.33333333332248946124e-03,
                 S3 = -1.98412698298579493134e-04, S4 = 2.75573137070700676789e-06,
                 S5 = -2.50507602534068634195e-08, S6 = 1.58969099521155010221e-10;
    const double C1 = 4.16666666666666019037e-02, C2 = -1.38888888888741095749e-03,
                 C3 = 2.48015872894767294178e-05, C4 = -2.75573143513906633035e-07,
                 C5 = 2.08757232129817482790e-09, C6 = -1.13596475577881948265e-11;
    /* pi/2 = P + PT; P = PH + PL with 26-bit PH (Dekker's split of P) */
    const double P = 0x1.921fb54442d18p0, PH = 0x1.921fb58p0, PL = -0x1.dde974p-27, PT = 0x1.1a62633145c07p-54;
    double t = 4.0 * u, big = t + 0x1.8p52; /* rounds 4u to the nearest integer q, kept in the low bits */
    uint64_t q = ml_vm_bits(big);
    double r = t - (big - 0x1.8p52);
    double c = r * 134217729.0, rh = c - (c - r), rl = r - rh; /* r = rh + rl, 26 + 26 bits */
    double p = r * P, e = ((rh * PH - p) + rh * PL + rl * PH) + rl * PL; /* r P = p + e exactly */
    double lo = e + r * PT, x = p + lo, y = lo - (x - p), z = x * x, v = z * x;
    /* sin(x + y) = x + (x^3 S1 + x^5 (S2 + ... + z^4 S6) + y (1 - z/2)) */
    double rs = S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)));
    double sn = x - ((z * (0.5 * y - v * rs) - y) - v * S1);
    /* cos(x + y) = 1 - z/2 + z^2 (C1 + ... + z^5 C6) - x y, with 1 - z/2 evaluated in two parts */
    double w2 = z * z, rc = z * (C1 + z * (C2 + z * C3)) + w2 * w2 * (C4 + z * (C5 + z * C6));
    double hz = 0.5 * z, w1 = 1.0 - hz;
    double cs = w1 + (((1.0 - w1) - hz) + (z * rc - x * y));
    uint64_t odd = 0 - (q & 1), sign = ((q + 1) & 2) << 62;
    return ml_vm_double(((ml_vm_bits(sn) & odd) | (ml_vm_bits(cs) & ~odd)) ^ sign);
}

#endif
