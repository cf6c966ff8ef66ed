/* Internal: the bisection for β+ of the error-bounded sampler (paper §3.4, Algorithm 1): the per-round inputs of
 * the bound test and the test itself per ISA (bisect.c; the vector paths in sdf_avx2.c and sdf_avx512.c). */
#ifndef MOONLAB_SDF_BISECT_H
#define MOONLAB_SDF_BISECT_H

#include <stddef.h>
#include "sdf_internal.h"

#define SDF_TINY 2.319522830243569e-16 /* e^{−36} */
#define SDF_PAD 8                      /* the intervals are padded with zero lengths to a multiple of this */

/* The β-independent inputs of one round, over the n − 1 intervals of the evaluated samples (padded to n1): d_i,
 * |d_i|, d*_i, δ_i, δ_i², and sfx[i] = Σ_{j>=i} δ_j²·max(e^{−d*_j/β_hi}, e^{−36}) [n1 + 1], which with β <= β_hi
 * bounds what the intervals from i on can still add to 4β²·Ê. */
typedef struct sdf_bisect {
    int n1;
    double *d, *ad, *ds, *dl, *dl2, *sfx;
} sdf_bisect;

/* Doubles of scratch sdf_bisect_init needs for n samples. */
size_t sdf_bisect_size(int n);
/* Fills b for the sorted samples t, d [n] (ml_sdf_dstar with exact), carving its arrays from scratch. */
void sdf_bisect_init(sdf_bisect *b, double *scratch, const double *t, const double *d, int n, int exact,
                     double beta_hi);
/* β+: beta if B(beta) <= eps, else the upper end after iters bisection steps over [beta, beta_hi] (the reference's
 * rule: the midpoint becomes the upper end when B <= eps there). */
double sdf_bisect_beta(const sdf_bisect *b, double beta, double beta_hi, double eps, int iters);

/* B(β) > ε (the test the bisection needs; B unclamped as ml_sdf_bound, so never below it up to rounding). */
int sdf_bisect_above_avx2(const sdf_bisect *b, double beta, double eps);
int sdf_bisect_above_avx512(const sdf_bisect *b, double beta, double eps);
/* The vector part of sdf_bisect_init's fill (simd_tmpl.h): returns how many of the n1 intervals it did. */
int sdf_bisect_fill_avx2(sdf_bisect *b, const double *t, const double *d, int n1, int exact, double beta_hi);
int sdf_bisect_fill_avx512(sdf_bisect *b, const double *t, const double *d, int n1, int exact, double beta_hi);

#endif
