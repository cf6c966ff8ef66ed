/* Data geometry of the GPR-dimer (gpr_geom.c): trust region, length-scale floor, farthest-point subsets. */
#ifndef MOONLAB_GP_GPR_GEOM_H
#define MOONLAB_GP_GPR_GEOM_H

#include <stdint.h>
#include "gp_internal.h"

typedef struct {
    const double *X;          /* data points */
    int64_t n;
    int D;
    double radius, lo, hi;
    const ml_gp_kernel *kd;   /* the inverse-distance leaf (its pairs, frozen atoms) or NULL */
} gp_trust_ctx;

/* The inverse-distance leaf of a kernel (sums and products searched), or NULL. */
const ml_gp_kernel *gp_invdist_leaf(const ml_gp_kernel *k);

/* 1 when x (a gp_trust_ctx in ud) is inside the trust region: within the radius of some data point
 * (Cartesian) or, with an inverse-distance leaf, every pair distance ratio r(x) / r(data) of its
 * pairs (moving-moving and moving-frozen) within [lo, hi] for some data point. */
int gp_in_trust(void *ud, const double *x);

/* Lower bounds (log) of the length scales, in parameter order from offset: f times the largest
 * distance between two of the n points in each length scale's metric (phi: n * npairs doubles). */
void gp_length_floor(const ml_gp_kernel *k, int64_t n, const double *X, int D, double f,
                     double *lower, int offset, double *phi);

/* Farthest-point sampling of m of the n points into sel: the newest point first, then each time the
 * point farthest from those chosen (inverse-distance kernels: Euclidean in the pair features 1/r,
 * else Cartesian). phi: n * npairs doubles; dmin: n doubles. */
void gp_fps(const ml_gp_kernel *k, int64_t n, const double *X, int D, int64_t m, int64_t *sel, double *phi,
            double *dmin);

#endif
