/* moonlab chrom — fitting (Da, kappa) per analyte (and scales, hold-up time) to a
 * chromatogram by Levenberg-Marquardt (Marquardt 1963) with the Jacobian from the
 * inverse transforms of dG/dDa, dG/dkappa, sG (or finite differences of the FD
 * model); standard errors from s^2 (J^T J)^-1. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "moonlab/chrom.h"

static int npar(const ml_chrom_fit_problem *pr) {
    return pr->K * (2 + (pr->fit_scale != 0)) + (pr->fit_hold != 0);
}

typedef struct {
    const ml_chrom_fit_problem *pr;
    const double *A;
    size_t n;
    const double *t;
    double *tau, *buf; /* tau[n], buf[n] */
} model_ctx;

static void unpack(const model_ctx *m, const double *p, int k, double *Da, double *ka, double *Ak,
                   double *th) {
    int per = 2 + (m->pr->fit_scale != 0);
    *Da = p[k * per];
    *ka = p[k * per + 1];
    *Ak = m->pr->fit_scale ? p[k * per + 2] : (m->A ? m->A[k] : 1.0);
    *th = m->pr->fit_hold ? p[m->pr->K * per] : m->pr->t_hold;
}

/* c(tau) of one analyte for output `out`, zero at tau <= 0. */
static int one_curve(const model_ctx *m, ml_chrom_params *q, int out, double *c) {
    q->output = out;
    size_t n = m->n, first = 0;
    while (first < n && !(m->tau[first] > 0)) c[first++] = 0;
    if (first == n) return ML_OK;
    if (m->pr->use_fd) {
        ml_chrom_params r = *q;
        r.output = ML_CHROM_G;
        return ml_chrom_fd(&r, &m->pr->fd, n - first, m->tau + first, c + first, NULL);
    }
    ml_laplace_fn fn = ml_chrom_transform(q);
    return ml_laplace_invert_many(&m->pr->inv, &fn, n - first, m->tau + first, c + first, NULL);
}

/* y = model(p); if J != NULL (n x np, row-major) the Jacobian too. */
static int model_eval(const model_ctx *m, const double *p, double *y, double *J) {
    const ml_chrom_fit_problem *pr = m->pr;
    int np = npar(pr), per = 2 + (pr->fit_scale != 0);
    size_t n = m->n;
    memset(y, 0, sizeof(double) * n);
    if (J) memset(J, 0, sizeof(double) * n * np);
    double Da, ka, Ak, th;
    unpack(m, p, 0, &Da, &ka, &Ak, &th);
    if (!(th > 0)) return ml_fail(ML_ENUMERIC, "hold-up time left the domain (%g)", th);
    for (size_t j = 0; j < n; j++) m->tau[j] = m->t[j] / th;
    for (int k = 0; k < pr->K; k++) {
        unpack(m, p, k, &Da, &ka, &Ak, &th);
        if (!(Da >= 0) || !(ka > 0)) return ml_fail(ML_ENUMERIC, "parameters left the domain");
        ml_chrom_params q = pr->base;
        q.Da = Da;
        q.kappa = ka;
        q.scale = 1;
        q.x = 1;
        int rc = one_curve(m, &q, ML_CHROM_G, m->buf);
        if (rc) return rc;
        for (size_t j = 0; j < n; j++) y[j] += Ak * m->buf[j];
        if (!J) continue;
        if (pr->fit_scale)
            for (size_t j = 0; j < n; j++) J[j * np + k * per + 2] = m->buf[j];
        if (pr->use_fd) continue; /* finite differences below */
        rc = one_curve(m, &q, ML_CHROM_DG_DDA, m->buf);
        if (rc) return rc;
        for (size_t j = 0; j < n; j++) J[j * np + k * per] = Ak * m->buf[j];
        rc = one_curve(m, &q, ML_CHROM_DG_DKAPPA, m->buf);
        if (rc) return rc;
        for (size_t j = 0; j < n; j++) J[j * np + k * per + 1] = Ak * m->buf[j];
        if (pr->fit_hold) {
            rc = one_curve(m, &q, ML_CHROM_SG, m->buf);
            if (rc) return rc;
            for (size_t j = 0; j < n; j++) J[j * np + np - 1] += Ak * m->buf[j] * (-m->tau[j] / th);
        }
    }
    if (J && pr->use_fd) {
        double *pp = malloc(sizeof(double) * np), *y2 = malloc(sizeof(double) * n);
        int rc = (pp && y2) ? ML_OK : ml_fail(ML_ENOMEM, "out of memory");
        for (int a = 0; a < np && rc == ML_OK; a++) {
            if (pr->fit_scale && a < pr->K * per && a % per == 2) continue;
            memcpy(pp, p, sizeof(double) * np);
            double h = 1e-6 * fmax(fabs(p[a]), 1e-3);
            pp[a] += h;
            rc = model_eval(m, pp, y2, NULL);
            for (size_t j = 0; j < n && rc == ML_OK; j++) J[j * np + a] = (y2[j] - y[j]) / h;
        }
        for (size_t j = 0; j < n; j++) m->tau[j] = m->t[j] / th;
        free(pp);
        free(y2);
        return rc;
    }
    return ML_OK;
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
    return 0;
}

int ml_chrom_model(const ml_chrom_fit_problem *pr, const double *A, const double *p, size_t n,
                   const double *t, double *y) {
    double *w = malloc(sizeof(double) * (2 * n + 1));
    if (!w) return ml_fail(ML_ENOMEM, "out of memory");
    model_ctx m = {pr, A, n, t, w, w + n};
    int rc = model_eval(&m, p, y, NULL);
    free(w);
    return rc;
}

/* See chrom.h. */
int ml_chrom_fit(const ml_chrom_fit_problem *pr, const double *A, size_t n, const double *t,
                 const double *y, double *p, double *se, double *resid, int *iters,
                 double *ssr_out) {
    if (pr->K < 1 || pr->K > 64) return ml_fail(ML_EINVAL, "K = %d analytes, expected 1..64", pr->K);
    int np = npar(pr);
    if ((size_t)np >= n) return ml_fail(ML_EINVAL, "%zu data points for %d parameters", n, np);
    for (size_t j = 0; j < n; j++)
        if (!isfinite(t[j]) || !isfinite(y[j]) || (j && !(t[j] > t[j - 1])))
            return ml_fail(ML_EINVAL, "data point %zu: times must increase and values be finite", j + 1);
    ml_chrom_params chk = pr->base;
    int rc = ml_chrom_check(&chk);
    if (rc) return rc;
    size_t nw = 2 * n + 2 * n + n * (size_t)np + 4 * (size_t)np * np + 4 * np;
    double *w = malloc(sizeof(double) * nw);
    if (!w) return ml_fail(ML_ENOMEM, "out of memory for the fit");
    model_ctx m = {pr, A, n, t, w, w + n};
    double *ym = w + 2 * n, *r = ym + n, *J = r + n, *JtJ = J + n * np, *Ab = JtJ + np * np,
           *g = Ab + np * np, *dp = g + np, *pn = dp + np, *yn = pn + np;
    double *rn = malloc(sizeof(double) * n);
    if (!rn) { free(w); return ml_fail(ML_ENOMEM, "out of memory"); }
    (void)yn;
    double lambda = 1e-3, ssr = 0;
    int it = 0, maxit = pr->max_iter > 0 ? pr->max_iter : 100;
    double tol = pr->tol > 0 ? pr->tol : 1e-10;
    rc = model_eval(&m, p, ym, J);
    for (size_t j = 0; j < n && rc == ML_OK; j++) { r[j] = y[j] - ym[j]; ssr += r[j] * r[j]; }
    while (rc == ML_OK && it < maxit) {
        it++;
        for (int a = 0; a < np; a++) {
            g[a] = 0;
            for (size_t j = 0; j < n; j++) g[a] += J[j * np + a] * r[j];
            for (int b = 0; b <= a; b++) {
                double s = 0;
                for (size_t j = 0; j < n; j++) s += J[j * np + a] * J[j * np + b];
                JtJ[a * np + b] = JtJ[b * np + a] = s;
            }
        }
        int accepted = 0;
        double ssr_new = ssr;
        for (int tries = 0; tries < 30 && !accepted; tries++) {
            memcpy(Ab, JtJ, sizeof(double) * np * np);
            for (int a = 0; a < np; a++) Ab[a * np + a] *= 1 + lambda;
            memcpy(dp, g, sizeof(double) * np);
            if (chol_solve(np, Ab, dp)) { lambda *= 10; continue; }
            for (int a = 0; a < np; a++) pn[a] = p[a] + dp[a];
            int prc = model_eval(&m, pn, rn, NULL);
            if (prc == ML_OK) {
                double s = 0;
                for (size_t j = 0; j < n; j++) { double d = y[j] - rn[j]; s += d * d; }
                if (s < ssr) { accepted = 1; ssr_new = s; }
            }
            ml_clear_error();
            if (!accepted) lambda *= 10;
        }
        if (!accepted) break; /* no descent: at a minimum within roundoff */
        memcpy(p, pn, sizeof(double) * np);
        double rel = (ssr - ssr_new) / fmax(ssr, 1e-300);
        ssr = ssr_new;
        lambda = fmax(lambda / 10, 1e-12);
        rc = model_eval(&m, p, ym, J);
        for (size_t j = 0; j < n && rc == ML_OK; j++) r[j] = y[j] - ym[j];
        if (rel < tol) break;
    }
    if (rc == ML_OK) {
        /* standard errors: s^2 (J^T J)^-1, column by column */
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
        if (iters) *iters = it;
        if (ssr_out) *ssr_out = ssr;
    }
    free(rn);
    free(w);
    return rc;
}
