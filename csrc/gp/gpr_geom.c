/* Data geometry of the GPR-dimer: its trust region (pair-distance ratios over the kernel's pairs,
 * or a Cartesian radius), the length-scale floor from the data's spread, and farthest-point subsets. */
#include <math.h>
#include <stddef.h>
#include "gp_internal.h"
#include "gpr_geom.h"

/* The inverse-distance leaf of a kernel (sums and products searched), or NULL. */
const ml_gp_kernel *gp_invdist_leaf(const ml_gp_kernel *k)
{
    if (!k) return NULL;
    if (k->type == ML_GPK_INVDIST) return k;
    const ml_gp_kernel *a = gp_invdist_leaf(k->a);
    return a ? a : gp_invdist_leaf(k->b);
}

/* Squared distance of pair p in configuration x (a frozen partner from the kernel). */
static double pair_r2(const ml_gp_kernel *k, const gp_pair *pr, const double *x)
{
    int ad = k->adim;
    const double *ra = x + pr->a * ad, *rb = pr->b >= 0 ? x + pr->b * ad : k->frozen + (-1 - pr->b) * ad;
    double r2 = 0;
    for (int c = 0; c < ad; c++) r2 += (ra[c] - rb[c]) * (ra[c] - rb[c]);
    return r2;
}

/* Inside when some data point is within the radius (Cartesian), or, for atoms, has every pair
 * distance ratio r_ij(x) / r_ij(data) within [lo, hi], over the kernel's pairs: moving-moving
 * and moving-frozen (so a rigid slide of an adsorbed island over a frozen surface is bounded). */
int gp_in_trust(void *ud, const double *x)
{
    const gp_trust_ctx *t = ud;
    for (int64_t d = 0; d < t->n; d++) {
        const double *y = t->X + d * t->D;
        if (!t->kd) {
            double s = 0;
            for (int i = 0; i < t->D; i++) s += (x[i] - y[i]) * (x[i] - y[i]);
            if (sqrt(s) <= t->radius) return 1;
            continue;
        }
        int ok = 1;
        for (int p = 0; p < t->kd->npairs && ok; p++) {
            const gp_pair *pr = t->kd->pairs + p;
            double q = sqrt(pair_r2(t->kd, pr, x) / pair_r2(t->kd, pr, y));
            if (!(q >= t->lo && q <= t->hi)) ok = 0;
        }
        if (ok) return 1;
    }
    return 0;
}

/* Inverse distances of the kernel's pairs at x. */
static void pair_features(const ml_gp_kernel *k, const double *x, double *phi)
{
    for (int p = 0; p < k->npairs; p++) phi[p] = 1.0 / sqrt(pair_r2(k, k->pairs + p, x));
}

/* Lower bounds of the length scales (log, in parameter order from offset): f times the largest
 * distance between two of the n data points in the length scale's own metric (inverse-distance
 * kernels: over the pairs of its type in 1/r space; isotropic stationary: Euclidean; ARD: along
 * its coordinate). phi holds n * npairs doubles for inverse-distance leaves. */
void gp_length_floor(const ml_gp_kernel *k, int64_t n, const double *X, int D, double f,
                         double *lower, int offset, double *phi)
{
    if (k->a) {
        gp_length_floor(k->a, n, X, D, f, lower, offset, phi);
        gp_length_floor(k->b, n, X, D, f, lower, offset + k->a->np, phi);
        return;
    }
    int nl = k->type == ML_GPK_INVDIST ? k->ntl : k->type <= ML_GPK_RQ ? k->nl : 0, j = 0;
    if (k->type == ML_GPK_INVDIST)
        for (int64_t i = 0; i < n; i++) pair_features(k, X + i * D, phi + i * k->npairs);
    for (int q = 0; q < k->np; q++) {
        if (k->kind[q] != ML_GPP_LENGTHSCALE || j >= nl) continue;
        double best = 0;
        for (int64_t a = 0; a < n; a++)
            for (int64_t b = a + 1; b < n; b++) {
                double s = 0;
                if (k->type == ML_GPK_INVDIST) {
                    for (int p = 0; p < k->npairs; p++)
                        if (k->pairs[p].t == j) {
                            double d = phi[a * k->npairs + p] - phi[b * k->npairs + p];
                            s += d * d;
                        }
                } else if (nl == 1) {
                    for (int i = 0; i < D; i++) s += (X[a * D + i] - X[b * D + i]) * (X[a * D + i] - X[b * D + i]);
                } else {
                    s = (X[a * D + j] - X[b * D + j]) * (X[a * D + j] - X[b * D + j]);
                }
                if (s > best) best = s;
            }
        lower[offset + q] = best > 0 ? log(f * sqrt(best)) : -HUGE_VAL;
        j++;
    }
}

/* Farthest-point sampling of m of the n points (the newest first), in the kernel's feature space. */
void gp_fps(const ml_gp_kernel *k, int64_t n, const double *X, int D, int64_t m, int64_t *sel, double *phi,
            double *dmin)
{
    const ml_gp_kernel *kd = gp_invdist_leaf(k);
    int F = kd ? kd->npairs : D;
    const double *feat = X;
    if (kd) {
        for (int64_t i = 0; i < n; i++) pair_features(kd, X + i * D, phi + i * F);
        feat = phi;
    }
    for (int64_t i = 0; i < n; i++) dmin[i] = HUGE_VAL;
    int64_t c = n - 1;
    for (int64_t j = 0; j < m; j++) {
        sel[j] = c;
        dmin[c] = -1; /* chosen */
        int64_t best = -1;
        for (int64_t i = 0; i < n; i++) {
            if (dmin[i] < 0) continue;
            double s = 0;
            for (int f = 0; f < F; f++) s += (feat[i * F + f] - feat[c * F + f]) * (feat[i * F + f] - feat[c * F + f]);
            if (s < dmin[i]) dmin[i] = s;
            if (best < 0 || dmin[i] > dmin[best]) best = i;
        }
        c = best;
    }
}
