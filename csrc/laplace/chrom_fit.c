/* moonlab chrom — fitting (Da, kappa) per analyte (and scales, hold-up time) to a
 * chromatogram by Levenberg-Marquardt (Marquardt 1963) with the Jacobian from the
 * inverse transforms of dG/dDa, dG/dkappa, sG — on a uniform grid with a Gaussian
 * injection all from one Fourier series sharing the F values (chrom_series.c), else by
 * de Hoog per output — or finite differences of the FD model; standard errors from
 * s^2 (J^T J)^-1. */
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include "chrom_model.h"

/* Solves L L^T x = b in place with the lower factor L stored in A (as chol_solve leaves it). */
static void chol_resolve(int n, const double *A, double *b) {
    for (int i = 0; i < n; i++) {
        double s = b[i];
        for (int k = 0; k < i; k++) s -= A[i * n + k] * b[k];
        b[i] = s / A[i * n + i];
    }
    for (int i = n - 1; i >= 0; i--) {
        double s = b[i];
        for (int k = i + 1; k < n; k++) s -= A[k * n + i] * b[k];
        b[i] = s / A[i * n + i];
    }
}

/* Solves A x = b (A symmetric positive definite, n x n) by Cholesky; A is overwritten. */
static int chol_solve(int n, double *A, double *b) {
    for (int j = 0; j < n; j++) {
        double d = A[j * n + j];
        for (int k = 0; k < j; k++) d -= A[j * n + k] * A[j * n + k];
        if (!(d > 0)) return -1;
        d = sqrt(d);
        A[j * n + j] = d;
        for (int i = j + 1; i < n; i++) {
            double s = A[i * n + j];
            for (int k = 0; k < j; k++) s -= A[i * n + k] * A[j * n + k];
            A[i * n + j] = s / d;
        }
    }
    chol_resolve(n, A, b);
    return 0;
}


/* Errors of a trial step that only mean "step rejected" (the parameters left the model's
 * domain or the model overflowed); anything else (out of memory, interrupt) ends the fit. */
static int rejectable(int rc) { return rc == ML_ENUMERIC; }

/* See chrom.h. Levenberg-Marquardt (Marquardt 1963) with diagonal scaling; stops when the
 * relative SSR change of an accepted step is below tol (converged), when the gradient is
 * orthogonal to the residual within 1e-10 (converged; MINPACK's gtol test) or the residual is at
 * the rounding level of the data, when no step reduces the SSR (converged if the linearised model
 * promised < 1e-8 of the SSR, else stalled), or after max_iter steps. */
int ml_chrom_fit(const ml_chrom_fit_problem *pr, const double *A, size_t n, const double *t,
                 const double *y, double *p, double *se, double *resid, ml_chrom_fit_info *info) {
    if (pr->K < 1 || pr->K > ML_CHROM_FIT_KMAX)
        return ml_fail(ML_EINVAL, "K = %d analytes, expected 1..%d", pr->K, ML_CHROM_FIT_KMAX);
    int np = ml_chrom_npar(pr);
    if ((size_t)np >= n) return ml_fail(ML_EINVAL, "%zu data points for %d parameters", n, np);
    for (size_t j = 0; j < n; j++)
        if (!isfinite(t[j]) || !isfinite(y[j]) || (j && !(t[j] > t[j - 1])))
            return ml_fail(ML_EINVAL, "data point %zu: times must increase and values be finite", j + 1);
    ml_chrom_params chk = pr->base;
    int rc = ml_chrom_check(&chk);
    if (rc) return rc;
    if ((size_t)np > SIZE_MAX / sizeof(double) / (n + 8))
        return ml_fail(ML_ENOMEM, "fit of %zu points too large", n);
    size_t nw = 4 * n + n * (size_t)np + 4 * (size_t)np * np + 6 * (size_t)np;
    double *w = malloc(sizeof(double) * nw);
    if (!w) return ml_fail(ML_ENOMEM, "out of memory for the fit (%zu points)", n);
    model_ctx m;
    rc = ml_chrom_ctx_init(&m, pr, A, n, t, 1);
    if (rc) {
        free(w);
        return rc;
    }
    double *ym = w, *r = ym + n, *rn = r + n, *J = rn + 2 * n, *JtJ = J + n * np, *Ab = JtJ + np * np,
           *g = Ab + np * np, *dp = g + np, *pn = dp + np, *dg = pn + np, *acc = dg + np;
    double lambda = 1e-3, ssr = 0;
    int it = 0, maxit = pr->max_iter > 0 ? pr->max_iter : 100, reason = ML_CHROM_STOP_MAXITER;
    int converged = 0;
    double tol = pr->tol > 0 ? pr->tol : 1e-10;
    /* residuals at the rounding level of the model (noiseless data): RMS <= 1e-12 max|y| */
    double ymax = 0;
    for (size_t j = 0; j < n; j++) ymax = fmax(ymax, fabs(y[j]));
    double floor_ssr = 1e-24 * ymax * ymax * (double)n;
    rc = ml_chrom_model_eval(&m, p, ym, J);
    for (size_t j = 0; j < n && rc == ML_OK; j++) { r[j] = y[j] - ym[j]; ssr += r[j] * r[j]; }
    while (rc == ML_OK) {
        rc = ml_progress_tick(pr->progress, it, maxit);
        if (rc) break;
        /* normal equations J^T J, J^T r */
        for (int a = 0; a < np; a++) {
            g[a] = 0;
            for (int b = 0; b <= a; b++) JtJ[a * np + b] = 0;
        }
        for (size_t j = 0; j < n; j++) {
            const double *Jj = J + j * np;
            for (int a = 0; a < np; a++) {
                g[a] += Jj[a] * r[j];
                for (int b = 0; b <= a; b++) JtJ[a * np + b] += Jj[a] * Jj[b];
            }
        }
        double gmax = 0;
        for (int a = 0; a < np; a++) {
            for (int b = 0; b < a; b++) JtJ[b * np + a] = JtJ[a * np + b];
            dg[a] = JtJ[a * np + a] > 0 ? JtJ[a * np + a] : 1;
            double cosang = fabs(g[a]) / sqrt(dg[a] * fmax(ssr, 1e-300));
            if (cosang > gmax) gmax = cosang;
        }
        if (gmax < 1e-10 || ssr <= floor_ssr) {
            converged = 1;
            reason = ML_CHROM_STOP_TOL;
            break;
        }
        if (it >= maxit) break;
        it++;
        /* Levenberg-Marquardt step v with geodesic acceleration (Transtrum & Sethna 2012):
         * a = -(J^T J + lambda D)^-1 J^T f_vv, f_vv the model's second directional derivative
         * along v by one finite difference; step v + a/2, taken while 2|a|/|v| <= 0.75. It
         * follows the curved valleys of (Da, kappa, A) in a few steps where plain LM crawls. */
        int accepted = 0;
        double ssr_new = ssr, pred0 = -1;
        for (int tries = 0; tries < 40 && !accepted && rc == ML_OK; tries++) {
            memcpy(Ab, JtJ, sizeof(double) * np * np);
            for (int a = 0; a < np; a++) Ab[a * np + a] += lambda * dg[a];
            memcpy(dp, g, sizeof(double) * np);
            if (chol_solve(np, Ab, dp)) { lambda *= 10; continue; }
            if (pred0 < 0) { /* SSR reduction the linearised model predicts for this step */
                pred0 = 0;
                for (int a = 0; a < np; a++) pred0 += dp[a] * (g[a] + lambda * dg[a] * dp[a]);
            }
            const double hh = 0.1;
            for (int a = 0; a < np; a++) pn[a] = p[a] + hh * dp[a];
            int prc = ml_chrom_model_eval(&m, pn, rn, NULL);
            if (prc == ML_OK) {
                /* acc = J^T f_vv, f_vv = (2/h)((f(p + h v) - f(p))/h - J v) */
                for (int a = 0; a < np; a++) acc[a] = 0;
                for (size_t j = 0; j < n; j++) {
                    const double *Jj = J + j * np;
                    double jv = 0;
                    for (int a = 0; a < np; a++) jv += Jj[a] * dp[a];
                    double fvv = 2 / hh * ((rn[j] - ym[j]) / hh - jv);
                    for (int a = 0; a < np; a++) acc[a] -= Jj[a] * fvv;
                }
                chol_resolve(np, Ab, acc);
                double na = 0, nv = 0;
                for (int a = 0; a < np; a++) {
                    na += dg[a] * acc[a] * acc[a];
                    nv += dg[a] * dp[a] * dp[a];
                }
                int geo_ok = 2 * sqrt(na) <= 0.75 * sqrt(nv);
                for (int a = 0; a < np; a++) pn[a] = p[a] + dp[a] + (geo_ok ? 0.5 * acc[a] : 0);
                prc = ml_chrom_model_eval(&m, pn, rn, NULL);
            }
            if (prc == ML_OK) {
                double s = 0;
                for (size_t j = 0; j < n; j++) { double d = y[j] - rn[j]; s += d * d; }
                if (s < ssr) { accepted = 1; ssr_new = s; }
            } else if (rejectable(prc)) {
                ml_clear_error();
            } else {
                rc = prc; /* out of memory, interrupt: never a silent "success" */
                break;
            }
            if (!accepted) lambda *= 10;
        }
        if (rc) break;
        if (!accepted) {
            /* no step reduces the SSR: at the minimum within the model's own accuracy when
             * the linearised model promised almost nothing, else stalled */
            it--;
            if ((pred0 >= 0 && pred0 <= 1e-8 * ssr) || ssr <= floor_ssr) {
                converged = 1;
                reason = ML_CHROM_STOP_TOL;
            } else {
                reason = ML_CHROM_STOP_STALLED;
            }
            break;
        }
        memcpy(p, pn, sizeof(double) * np);
        double rel = (ssr - ssr_new) / fmax(ssr, 1e-300);
        ssr = ssr_new;
        lambda = fmax(lambda / 10, 1e-12);
        rc = ml_chrom_model_eval(&m, p, ym, J);
        for (size_t j = 0; j < n && rc == ML_OK; j++) r[j] = y[j] - ym[j];
        if (rel < tol) {
            converged = 1;
            reason = ML_CHROM_STOP_TOL;
            break;
        }
    }
    if (rc == ML_OK) {
        /* standard errors: s^2 (J^T J)^-1 at the estimate, column by column */
        for (int a = 0; a < np; a++)
            for (int b = 0; b < np; b++) {
                double s = 0;
                for (size_t j = 0; j < n; j++) s += J[j * np + a] * J[j * np + b];
                JtJ[a * np + b] = s;
            }
        double s2 = ssr / (double)(n - np);
        for (int a = 0; a < np; a++) {
            memcpy(Ab, JtJ, sizeof(double) * np * np);
            for (int b = 0; b < np; b++) dp[b] = b == a;
            if (chol_solve(np, Ab, dp)) { se[a] = NAN; continue; }
            se[a] = sqrt(s2 * dp[a]);
        }
        for (size_t j = 0; j < n; j++) resid[j] = r[j];
        if (info) {
            info->iterations = it;
            info->ssr = ssr;
            info->converged = converged;
            info->reason = reason;
            info->nevals = m.nevals;
            info->series = m.series;
        }
    }
    ml_chrom_ctx_free(&m);
    free(w);
    return rc;
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* See chrom.h: sigma = 1.4826 median|y_{j-1} - 2 y_j + y_{j+1}| / sqrt(6) (white noise
 * has var(second difference) = 6 sigma^2; the median ignores the few large curvature
 * values at sharp peaks). */
int ml_chrom_noise(size_t n, const double *y, double *sigma) {
    if (n < 5) return ml_fail(ML_EINVAL, "noise estimate needs >= 5 points, got %zu", n);
    double *d = malloc(sizeof(double) * (n - 2));
    if (!d) return ml_fail(ML_ENOMEM, "out of memory for %zu points", n);
    for (size_t j = 1; j + 1 < n; j++) d[j - 1] = fabs(y[j - 1] - 2 * y[j] + y[j + 1]);
    qsort(d, n - 2, sizeof(double), cmp_dbl);
    size_t h = (n - 2) / 2;
    double med = (n - 2) % 2 ? d[h] : 0.5 * (d[h - 1] + d[h]);
    free(d);
    *sigma = 1.482602218505602 * med / sqrt(6.0);
    return isfinite(*sigma) ? ML_OK : ml_fail(ML_ENUMERIC, "noise estimate is not finite");
}
