/* moonlab chrom — the fit's model and its Jacobian (see chrom_model.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "chrom_model.h"

int ml_chrom_npar(const ml_chrom_fit_problem *pr) {
    return pr->K * (2 + (pr->fit_scale != 0)) + (pr->fit_hold != 0);
}


static void unpack(const model_ctx *m, const double *p, int k, double *Da, double *ka, double *Ak,
                   double *th) {
    int per = 2 + (m->pr->fit_scale != 0);
    *Da = p[k * per];
    *ka = p[k * per + 1];
    *Ak = m->pr->fit_scale ? p[k * per + 2] : (m->A ? m->A[k] : 1.0);
    *th = m->pr->fit_hold ? p[m->pr->K * per] : m->pr->t_hold;
}

/* c(tau) of one analyte for output `out`, zero at tau <= 0. */
static int one_curve(model_ctx *m, ml_chrom_params *q, int out, double *c) {
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
    size_t nev = 0;
    int rc = ml_laplace_invert_many(&m->pr->inv, &fn, n - first, m->tau + first, c + first, &nev);
    m->nevals += nev;
    return rc;
}

/* The series model: y and, with J, every Jacobian column from one pass over the nodes. */
static int series_eval(model_ctx *m, const double *p, double th, double *y, double *J) {
    const ml_chrom_fit_problem *pr = m->pr;
    int K = pr->K, np = ml_chrom_npar(pr), per = 2 + (pr->fit_scale != 0), rc = ML_OK;
    size_t n = m->n;
    if (!m->S || m->S_th != th) {
        ml_chrom_series_free(m->S);
        ml_chrom_params b = pr->base;
        b.x = 1;
        b.scale = 1;
        m->S = ml_chrom_series_new(&b, n, m->t0 / th, m->dt / th, &rc);
        if (!m->S) return rc;
        m->S_th = th;
    }
    double Da[ML_CHROM_FIT_KMAX], ka[ML_CHROM_FIT_KMAX], Ak[ML_CHROM_FIT_KMAX], t_h;
    for (int k = 0; k < K; k++) unpack(m, p, k, &Da[k], &ka[k], &Ak[k], &t_h);
    rc = ml_chrom_series_eval(m->S, K, Da, ka, Ak, y, J && pr->fit_hold ? m->ydot : NULL,
                              J && pr->fit_scale ? m->cur : NULL, J ? m->dDa : NULL,
                              J ? m->dka : NULL);
    m->nevals += (size_t)K * ml_chrom_series_nodes(m->S);
    if (rc || !J) return rc;
    for (int k = 0; k < K; k++)
        for (size_t j = 0; j < n; j++) {
            double *row = J + j * np + k * per;
            row[0] = m->dDa[(size_t)k * n + j];
            row[1] = m->dka[(size_t)k * n + j];
            if (pr->fit_scale) row[2] = m->cur[(size_t)k * n + j];
        }
    if (pr->fit_hold)
        for (size_t j = 0; j < n; j++) J[j * np + np - 1] = m->ydot[j] * (-m->tau[j] / th);
    return ML_OK;
}

/* y = model(p); if J != NULL (n x np, row-major) the Jacobian too. */
int ml_chrom_model_eval(model_ctx *m, const double *p, double *y, double *J) {
    const ml_chrom_fit_problem *pr = m->pr;
    int np = ml_chrom_npar(pr), per = 2 + (pr->fit_scale != 0);
    size_t n = m->n;
    double Da, ka, Ak, th;
    unpack(m, p, 0, &Da, &ka, &Ak, &th);
    if (!(th > 0) || !isfinite(th)) return ml_fail(ML_ENUMERIC, "hold-up time left the domain (%g)", th);
    for (size_t j = 0; j < n; j++) m->tau[j] = m->t[j] / th;
    for (int k = 0; k < pr->K; k++) {
        unpack(m, p, k, &Da, &ka, &Ak, &th);
        if (!(Da >= 0) || !(ka > 0) || !isfinite(Da) || !isfinite(ka) || !isfinite(Ak))
            return ml_fail(ML_ENUMERIC, "parameters left the domain (analyte %d: Da = %g, kappa = %g)",
                           k + 1, Da, ka);
    }
    if (m->series) return series_eval(m, p, th, y, J);
    memset(y, 0, sizeof(double) * n);
    if (J) memset(J, 0, sizeof(double) * n * np);
    for (int k = 0; k < pr->K; k++) {
        unpack(m, p, k, &Da, &ka, &Ak, &th);
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
            rc = ml_chrom_model_eval(m, pp, y2, NULL);
            for (size_t j = 0; j < n && rc == ML_OK; j++) J[j * np + a] = (y2[j] - y[j]) / h;
        }
        for (size_t j = 0; j < n; j++) m->tau[j] = m->t[j] / th;
        free(pp);
        free(y2);
        return rc;
    }
    return ML_OK;
}

/* Scratch of a model context; series when the problem asks for it and the data allow. */
int ml_chrom_ctx_init(model_ctx *m, const ml_chrom_fit_problem *pr, const double *A, size_t n,
                    const double *t, int with_jac) {
    memset(m, 0, sizeof *m);
    m->pr = pr;
    m->A = A;
    m->n = n;
    m->t = t;
    m->series = pr->series && !pr->use_fd && pr->base.injection == ML_CHROM_GAUSSIAN &&
                ml_chrom_uniform(n, t, &m->t0, &m->dt);
    if (m->series) { /* a grid the series cannot serve (FFT or term caps): de Hoog instead */
        int rc;
        ml_chrom_params b = pr->base;
        b.x = 1;
        b.scale = 1;
        double th = pr->t_hold > 0 ? pr->t_hold : 1;
        m->S = ml_chrom_series_new(&b, n, m->t0 / th, m->dt / th, &rc);
        if (m->S) m->S_th = th;
        else if (rc == ML_EINVAL) {
            m->series = 0;
            ml_clear_error();
        } else {
            return rc;
        }
    }
    size_t per = m->series && with_jac ? 3 * (size_t)pr->K + 1 : 0;
    if (n > SIZE_MAX / sizeof(double) / (2 + per)) return ml_fail(ML_ENOMEM, "fit of %zu points too large", n);
    m->tau = malloc(sizeof(double) * n * (2 + per));
    if (!m->tau) {
        ml_chrom_series_free(m->S);
        m->S = NULL;
        return ml_fail(ML_ENOMEM, "out of memory for %zu points", n);
    }
    m->buf = m->tau + n;
    if (per) {
        m->cur = m->buf + n;
        m->dDa = m->cur + (size_t)pr->K * n;
        m->dka = m->dDa + (size_t)pr->K * n;
        m->ydot = m->dka + (size_t)pr->K * n;
    }
    return ML_OK;
}

void ml_chrom_ctx_free(model_ctx *m) {
    ml_chrom_series_free(m->S);
    free(m->tau);
}

int ml_chrom_model(const ml_chrom_fit_problem *pr, const double *A, const double *p, size_t n,
                   const double *t, double *y) {
    if (pr->K < 1 || pr->K > ML_CHROM_FIT_KMAX)
        return ml_fail(ML_EINVAL, "K = %d analytes, expected 1..%d", pr->K, ML_CHROM_FIT_KMAX);
    model_ctx m;
    int rc = ml_chrom_ctx_init(&m, pr, A, n, t, 0);
    if (rc) return rc;
    rc = ml_chrom_model_eval(&m, p, y, NULL);
    ml_chrom_ctx_free(&m);
    return rc;
}
