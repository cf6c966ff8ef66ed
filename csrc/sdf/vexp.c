/* A vectorisable exp for the sampler's hot loops (the bound is evaluated ~11 times per round on every interval).
 * Cody–Waite reduction x = k ln2 + r, |r| <= ln2/2, Taylor polynomial of degree 13, 2^k built in the exponent
 * bits. Compiled for AVX2 and a generic target, chosen at load time. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "sdf_internal.h"

__attribute__((target_clones("avx2", "default")))
void sdf_vexp(const double *x, double *y, int n)
{
    const double log2e = 1.4426950408889634, ln2hi = 0.6931471803691238, ln2lo = 1.9082149292705877e-10;
#pragma omp simd
    for (int i = 0; i < n; i++) {
        double v = x[i];
        int under = !(v > -708.0);  /* also NaN -> handled below */
        int over = v > 709.0;
        v = v < -708.0 ? -708.0 : (v > 709.0 ? 709.0 : v);
        double kd = floor(v * log2e + 0.5);
        double r = (v - kd * ln2hi) - kd * ln2lo;
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
        p = p * r + 1.0;
        p = p * r + 1.0;
        int64_t k = (int64_t)kd;
        uint64_t bits = (uint64_t)(k + 1023) << 52;
        double s;
        memcpy(&s, &bits, sizeof s);
        double res = p * s;
        res = under ? 0.0 : res;
        res = over ? INFINITY : res;
        y[i] = (x[i] != x[i]) ? x[i] : res;
    }
}
