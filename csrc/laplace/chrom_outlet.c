/* moonlab chrom — the default outlet: picks the Fourier series (uniform grid, Gaussian injection),
 * the closed-form impulse response (no dispersion) or de Hoog with M = 40 (dispersion), see chrom.h. */
#include "lp_internal.h"
#include "moonlab/chrom.h"

/* de Hoog order with dispersion: M = 24 (the inversion default) leaves 4e-11 (pulse) to 6e-10 (data)
 * of the peak at Pe = 500 against mpmath; M = 40 stays within 7e-13 for Pe = 5..500. */
#define ML_CHROM_DISPERSION_M 40

/* See chrom.h. */
int ml_chrom_outlet(const ml_chrom_params *p, size_t n, const double *t, double *c) {
    int rc = ml_chrom_check(p);
    if (rc) return rc;
    rc = ml_lp_check_times(n, t, NULL, NULL);
    if (rc) return rc;
    double t0, dt;
    if (p->injection == ML_CHROM_GAUSSIAN && ml_chrom_uniform(n, t, &t0, &dt)) {
        ml_chrom_series *S = ml_chrom_series_new(p, n, t0, dt, &rc);
        if (S) {
            double Da = p->Da, ka = p->kappa, A = p->scale;
            rc = ml_chrom_series_eval(S, 1, &Da, &ka, &A, c, NULL, NULL, NULL, NULL);
            ml_chrom_series_free(S);
            return rc;
        }
        ml_clear_error();
    }
    if (p->Pe == 0) return ml_chrom_kernel_outlet(p, n, t, c);
    ml_chrom_params q = *p;
    q.output = ML_CHROM_G;
    ml_laplace_fn fn = ml_chrom_transform(&q);
    ml_laplace_opts o = ml_laplace_defaults();
    o.method = ML_LAPLACE_DEHOOG;
    o.M = ML_CHROM_DISPERSION_M;
    return ml_laplace_invert_many(&o, &fn, n, t, c, NULL);
}
