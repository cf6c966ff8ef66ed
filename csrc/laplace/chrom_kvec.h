/* moonlab chrom — the continuous part of the column's impulse response without dispersion,
 * k(w) = a e^{-D - kappa w} S(a w),  S(y) = sum_m y^m/(m!(m+1)!) = I1(2 sqrt y)/sqrt y  (a = D kappa),
 * evaluated over arrays of w in loops the compiler vectorises (AVX-512, AVX2+FMA or plain C, chosen
 * by ml_cpu_isa()). Not a public header: used by chrom_kernel.c. */
#ifndef ML_CHROM_KVEC_H
#define ML_CHROM_KVEC_H
#include <stddef.h>

typedef struct {
    double D, sD, kappa, a; /* D = tau Da, sqrt(D), kappa, a = D kappa */
} chrom_kc;

/* out[i] = k(w[i]) for w[i] >= 0 (negative w is taken as 0). */
typedef void (*chrom_kern_fn)(const chrom_kc *c, size_t n, const double *w, double *out);

/* The variant for the current ml_cpu_isa(). */
chrom_kern_fn chrom_kern_pick(void);

#endif
