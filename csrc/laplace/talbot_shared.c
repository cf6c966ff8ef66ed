/* moonlab laplace — fixed Talbot on a common contour for a band of times
 * (Abate & Valko 2004 contour; reuse across t as in Weideman & Trefethen 2007, §4):
 *   f(t) = e^{at} (r/M) [ F(r) e^{rt}/2 + sum_k Re(e^{t s_k} F(s_k)(1 + i sigma_k)) ],
 *   s_k = r theta_k (cot theta_k + i), r = 2M/(5 t_band), t_band the band's largest t. */
#include <math.h>
#include <stdlib.h>
#include "lp_internal.h"

/* Times in a band share a contour when t_max/t_min <= BAND_RATIO. */
#define BAND_RATIO 2.0

static int cmp_idx(const void *pa, const void *pb, void *ctx) {
    const double *t = ctx;
    double x = t[*(const size_t *)pa], y = t[*(const size_t *)pb];
    return (x > y) - (x < y);
}

int ml_lp_talbot_shared(const ml_laplace_opts *o, const ml_laplace_fn *fn, int M, size_t nt,
                        const double *t, double *f, size_t *nevals) {
    size_t *idx = malloc(sizeof(size_t) * nt);
    double complex *s = malloc(sizeof(double complex) * M);
    double complex *Fv = malloc(sizeof(double complex) * M);
    double *sig = malloc(sizeof(double) * M);
    int rc = ML_OK;
    if (!idx || !s || !Fv || !sig) {
        rc = ml_fail(ML_ENOMEM, "out of memory for %zu times", nt);
        goto done;
    }
    for (size_t i = 0; i < nt; i++) idx[i] = i;
    qsort_r(idx, nt, sizeof(size_t), cmp_idx, (void *)t);
    double a = ml_lp_shift(o, fn);
    /* The band's contour is sized for its largest t; bands are built downwards
     * from the largest time so that each contour serves t in [t_hi/ratio, t_hi]. */
    size_t hi = nt;
    while (hi > 0 && rc == ML_OK) {
        rc = ml_progress_tick(o->progress, (double)(nt - hi), (double)nt);
        if (rc) break;
        double thi = t[idx[hi - 1]];
        size_t lo = hi;
        while (lo > 0 && t[idx[lo - 1]] * BAND_RATIO >= thi) lo--;
        double r = 2.0 * M / (5.0 * thi);
        s[0] = r;
        sig[0] = 0;
        for (int k = 1; k < M; k++) {
            double th = k * M_PI / M, ct = cos(th) / sin(th);
            s[k] = r * th * (ct + I);
            sig[k] = th + (th * ct - 1.0) * ct;
        }
        rc = ml_lp_eval(fn, a, (size_t)M, s, Fv);
        if (rc) break;
        if (nevals) *nevals += (size_t)M;
#pragma omp parallel for if (ML_LP_PAR((hi - lo) * (size_t)M))
        for (size_t j = lo; j < hi; j++) {
            double tj = t[idx[j]];
            double acc = 0.5 * creal(Fv[0]) * exp(r * tj);
            for (int k = 1; k < M; k++)
                acc += creal(cexp(tj * s[k]) * Fv[k] * (1.0 + I * sig[k]));
            f[idx[j]] = acc * r / M * exp(a * tj);
        }
        hi = lo;
    }
done:
    free(idx);
    free(s);
    free(Fv);
    free(sig);
    return rc;
}
