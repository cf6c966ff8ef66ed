/* moonlab laplace — de Hoog, Knight & Stokes (1982): the Fourier series
 *   f(t) ~ e^{gamma t}/T [ F(gamma)/2 + sum_k Re F(gamma + i k pi/T) e^{i k pi t/T} ]
 * accelerated by the quotient-difference continued fraction (their eqs. 16-21),
 * with the improved remainder (eq. 23). gamma = a - ln(tol)/(2T). */
#include <math.h>
#include <stdlib.h>
#include "lp_internal.h"

/* a/b by Smith's algorithm, inline (avoids the libgcc call on the hot path). */
static inline double complex cdiv(double complex a, double complex b) {
    double br = creal(b), bi = cimag(b), ar = creal(a), ai = cimag(a);
    if (fabs(br) >= fabs(bi)) {
        double r = bi / br, d = br + bi * r;
        return ((ar + ai * r) + I * (ai - ar * r)) / d;
    }
    double r = br / bi, d = bi + br * r;
    return ((ar * r + ai) + I * (ai * r - ar)) / d;
}

/* Continued-fraction coefficients d[0..2M] from the 2M+1 values fp (QD rhombus rules). */
static int qd_table(int M, const double complex *fp, double complex *d) {
    int np = 2 * M + 1;
    double complex *e = calloc((size_t)np * (M + 1), sizeof(double complex));
    double complex *q = calloc((size_t)(2 * M) * M, sizeof(double complex));
    if (!e || !q) {
        free(e);
        free(q);
        return ml_fail(ML_ENOMEM, "out of memory for the QD table (M = %d)", M);
    }
#define E(i, r) e[(size_t)(i) * (M + 1) + (r)]
#define Q(i, r) q[(size_t)(i) * M + (r)]
    Q(0, 0) = cdiv(fp[1], fp[0] / 2);
    for (int i = 1; i < 2 * M; i++) Q(i, 0) = cdiv(fp[i + 1], fp[i]);
    for (int r = 1; r <= M; r++) {
        int mr = 2 * (M - r) + 1;
        for (int i = 0; i < mr; i++) E(i, r) = Q(i + 1, r - 1) - Q(i, r - 1) + E(i + 1, r - 1);
        if (r < M) {
            int mq = 2 * (M - r - 1) + 3;
            for (int i = 0; i < mq && i + 1 < 2 * M; i++)
                Q(i, r) = cdiv(Q(i + 1, r - 1) * E(i + 1, r), E(i, r));
        }
    }
    d[0] = fp[0] / 2;
    for (int r = 1; r <= M; r++) {
        d[2 * r - 1] = -Q(0, r - 1);
        d[2 * r] = -E(0, r);
    }
#undef E
#undef Q
    free(e);
    free(q);
    return ML_OK;
}

/* Evaluates the accelerated series at t from the coefficients d. */
static double cf_eval(int M, const double complex *d, double t, double T, double gamma) {
    double complex z = cexp(I * M_PI * t / T);
    double complex A0 = 0, A1 = d[0], B0 = 1, B1 = 1;
    for (int i = 1; i < 2 * M; i++) {
        double complex A2 = A1 + d[i] * A0 * z, B2 = B1 + d[i] * B0 * z;
        A0 = A1; A1 = A2; B0 = B1; B1 = B2;
    }
    double complex brem = (1.0 + (d[2 * M - 1] - d[2 * M]) * z) / 2.0;
    double complex rem = brem * (csqrt(1.0 + d[2 * M] * z / (brem * brem)) - 1.0);
    /* -h(1 - sqrt(1 + d z / h^2)) of eq. 23 (sign as in mpmath's powm1 form) */
    double complex A = A1 + rem * A0, B = B1 + rem * B0;
    return exp(gamma * t) / T * creal(cdiv(A, B));
}

static int one_set(int M, const ml_laplace_fn *fn, double a, double T, double tol, size_t nt,
                   const double *t, double *f, size_t *nevals) {
    int np = 2 * M + 1;
    double gamma = a - log(tol) / (2.0 * T);
    double complex *s = malloc(sizeof(double complex) * np * 3);
    if (!s) return ml_fail(ML_ENOMEM, "out of memory");
    double complex *fp = s + np, *d = s + 2 * np;
    for (int k = 0; k < np; k++) s[k] = (gamma - a) + I * M_PI * k / T;
    int rc = ml_lp_eval(fn, a, (size_t)np, s, fp);
    if (rc == ML_OK) {
        if (nevals) *nevals += (size_t)np;
        /* F values that underflow to zero end the series (e.g. a Gaussian factor
         * e^{s^2 sigma^2/2} far up the line): use the terms before them. */
        for (int k = 1; k < np; k++)
            if (fp[k] == 0) {
                M = (k - 1) / 2;
                break;
            }
        if (M >= 1) rc = qd_table(M, fp, d);
    }
    if (rc == ML_OK) {
        for (size_t i = 0; i < nt; i++)
            f[i] = M >= 1 ? cf_eval(M, d, t[i], T, gamma)
                          : exp(gamma * t[i]) / T * creal(fp[0]) / 2;
        for (size_t i = 0; i < nt; i++)
            if (!isfinite(f[i])) {
                rc = ml_fail(ML_ENUMERIC,
                             "de Hoog: quotient-difference breakdown (non-finite result at t = %g)",
                             t[i]);
                break;
            }
    }
    free(s);
    return rc;
}

static int cmp_idx(const void *pa, const void *pb, void *ctx) {
    const double *t = ctx;
    double x = t[*(const size_t *)pa], y = t[*(const size_t *)pb];
    return (x > y) - (x < y);
}

/* per-t (band_ratio == 1), banded (times within band_ratio share one set of F
 * values, T = 2 t_band) or one set for all (opts->T given). */
int ml_lp_dehoog(const ml_laplace_opts *o, const ml_laplace_fn *fn, int M, double band_ratio,
                 size_t nt, const double *t, double *f, size_t *nevals) {
    double a = ml_lp_shift(o, fn), tmax;
    double tol = isnan(o->tol) ? 1e-14 : o->tol;
    if (!(tol > 0 && tol < 1)) return ml_fail(ML_EINVAL, "tol = %g, expected 0 < tol < 1", tol);
    ml_lp_check_times(nt, t, &tmax, NULL);
    if (!isnan(o->T)) {
        if (!(o->T >= tmax) || !isfinite(o->T) || o->T > 1e6 * tmax)
            return ml_fail(ML_EINVAL, "T = %g, expected max t = %g <= T <= 1e6 max t", o->T, tmax);
        return one_set(M, fn, a, o->T, tol, nt, t, f, nevals);
    }
    size_t *idx = malloc(sizeof(size_t) * nt);
    double *tb = malloc(sizeof(double) * nt * 2);
    if (!idx || !tb) {
        free(idx);
        free(tb);
        return ml_fail(ML_ENOMEM, "out of memory for %zu times", nt);
    }
    double *fb = tb + nt;
    for (size_t i = 0; i < nt; i++) idx[i] = i;
    qsort_r(idx, nt, sizeof(size_t), cmp_idx, (void *)t);
    int rc = ML_OK;
    size_t hi = nt;
    while (hi > 0 && rc == ML_OK) {
        rc = ml_progress_tick(o->progress, (double)(nt - hi), (double)nt);
        if (rc) break;
        double thi = t[idx[hi - 1]];
        size_t lo = hi - 1;
        while (lo > 0 && t[idx[lo - 1]] * band_ratio >= thi) lo--;
        for (size_t j = lo; j < hi; j++) tb[j - lo] = t[idx[j]];
        rc = one_set(M, fn, a, 2.0 * thi, tol, hi - lo, tb, fb, nevals);
        for (size_t j = lo; j < hi && rc == ML_OK; j++) f[idx[j]] = fb[j - lo];
        hi = lo;
    }
    free(idx);
    free(tb);
    return rc;
}
