/* moonlab chrom — the fit's model (internal): y(t) = sum_k A_k c_k(t / t_hold) and its Jacobian,
 * by the Fourier series on uniform grids with a Gaussian injection (chrom_series.c), else by de Hoog
 * per curve (the transfer function's derivatives inverted at the same nodes), or by the FD solver
 * with finite differences. Used by chrom_fit.c. */
#ifndef ML_CHROM_MODEL_H
#define ML_CHROM_MODEL_H

#include "moonlab/chrom.h"

typedef struct {
    const ml_chrom_fit_problem *pr;
    const double *A;
    size_t n;
    const double *t;
    double *tau, *buf;     /* tau[n], buf[n] */
    int series;            /* the Fourier-series model applies (uniform t, Gaussian injection) */
    double t0, dt;         /* the uniform data grid */
    ml_chrom_series *S;    /* plan for hold-up time S_th (rebuilt only when t_hold is fitted) */
    double S_th;
    double *cur, *dDa, *dka, *ydot; /* K*n, K*n, K*n, n */
    size_t nevals;
} model_ctx;

/* Number of fitted parameters: per analyte Da, kappa, [A]; then [t_hold]. */
int ml_chrom_npar(const ml_chrom_fit_problem *pr);
/* Scratch for n times (with_jac: the series' Jacobian buffers); picks the series when it applies. */
int ml_chrom_ctx_init(model_ctx *m, const ml_chrom_fit_problem *pr, const double *A, size_t n,
                      const double *t, int with_jac);
void ml_chrom_ctx_free(model_ctx *m);
/* y = model(p); with J != NULL (n x np, row-major) the Jacobian too. ML_ENUMERIC when p leaves
 * the model's domain. */
int ml_chrom_model_eval(model_ctx *m, const double *p, double *y, double *J);

#endif
