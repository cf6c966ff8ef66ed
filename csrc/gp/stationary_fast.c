/* The energy-only fast path of a stationary kernel (se, matern 1.5/2.5, rq, ARD or isotropic, optionally times a
 * constant and plus white): the training matrix (lower triangle only) and the lml gradient column by column,
 * O(N^2 D) vectorised loops instead of one generic block per pair (assemble.c). The kernel of R&W eq. 5.9:
 * dL/dtheta_p = 1/2 tr((alpha alpha^T - K^-1) dK/dtheta_p), with dK/dlog l_d = v f'(s) (-2 (x_d - y_d)^2 / l_d^2),
 * dK/dlog v = K. MOONLAB_GP_FAST=0 turns it off (the generic code then runs: for cross-checks). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gp_internal.h"
#include "stat_fast.h"

/* The parts of a covered kernel tree and the index of each one's first parameter. */
typedef struct {
    const ml_gp_kernel *stat, *cst, *white;
    int p_stat, p_cst, p_white;
} gpf_parts;

static int is_stat(const ml_gp_kernel *k)
{
    return k->type == ML_GPK_SE || k->type == ML_GPK_MATERN15 || k->type == ML_GPK_MATERN25 || k->type == ML_GPK_RQ;
}

/* stat, constant * stat or stat * constant, parameters from off */
static int parse_prod(const ml_gp_kernel *k, int off, gpf_parts *p)
{
    if (is_stat(k)) {
        p->stat = k, p->p_stat = off;
        return 1;
    }
    if (k->type != ML_GPK_PROD) return 0;
    if (k->a->type == ML_GPK_CONST && is_stat(k->b)) {
        p->cst = k->a, p->p_cst = off, p->stat = k->b, p->p_stat = off + k->a->np;
        return 1;
    }
    if (is_stat(k->a) && k->b->type == ML_GPK_CONST) {
        p->stat = k->a, p->p_stat = off, p->cst = k->b, p->p_cst = off + k->a->np;
        return 1;
    }
    return 0;
}

static int parse(const ml_gp_kernel *k, gpf_parts *p)
{
    memset(p, 0, sizeof *p);
    if (k->type == ML_GPK_SUM) {
        if (k->b->type == ML_GPK_WHITE && parse_prod(k->a, 0, p)) {
            p->white = k->b, p->p_white = k->a->np;
            return 1;
        }
        if (k->a->type == ML_GPK_WHITE && parse_prod(k->b, k->a->np, p)) {
            p->white = k->a, p->p_white = 0;
            return 1;
        }
        return 0;
    }
    return parse_prod(k, 0, p);
}

int gp_fast_ok(const ml_gp_kernel *k, int deriv)
{
    gpf_parts p;
    const char *env = getenv("MOONLAB_GP_FAST");
    if (deriv || (env && strcmp(env, "0") == 0)) return 0;
    return parse(k, &p);
}

/* The flattened kernel and X transposed (D x n) in one allocation (*buf, freed by the caller). */
static int setup(const ml_gp_kernel *k, int D, int64_t n, const double *X, gpf_parts *p, gpf_kern *q, double **XT)
{
    if (!parse(k, p)) return ml_fail(ML_EINVAL, "gp: kernel not covered by the fast path");
    const ml_gp_kernel *s = p->stat;
    double *buf = malloc((size_t)(D + n * D) * sizeof *buf);
    if (!buf) return ml_fail(ML_ENOMEM, "gp: out of memory");
    for (int d = 0; d < D; d++) buf[d] = s->il2[s->nl == 1 ? 0 : d];
    double *xt = buf + D;
    for (int64_t i = 0; i < n; i++)
        for (int d = 0; d < D; d++) xt[(int64_t)d * n + i] = X[i * D + d];
    q->type = s->type, q->D = D, q->iso = s->nl == 1;
    q->v = exp(s->theta[0]) * (p->cst ? exp(p->cst->theta[0]) : 1.0);
    q->alpha = s->type == ML_GPK_RQ ? exp(s->theta[s->nl + 1]) : 1.0;
    q->white = p->white ? exp(p->white->theta[0]) : 0.0;
    q->il2 = buf;
    *XT = buf;
    return ML_OK;
}

/* One pass over the columns j = 0 .. n-1 (OpenMP, dynamic: column j has n - j entries): the matrix column into
 * out, or (out NULL) the gradient terms into cols[j * na ...]; each thread has 3n doubles of scratch. */
typedef struct {
    const gpf_kern *q;
    int64_t n;
    const double *XT, *kinv, *alpha;
    double *out, *cols;
    int na;
} gpf_job;

static int for_columns(const gpf_job *b)
{
    gpf_col_fn col;
    gpf_grad_fn grad;
    gpf_pick(&col, &grad);
    int64_t n = b->n;
    int fail = 0;
#pragma omp parallel if ((double)n * (double)n * (double)(b->q->D + 8) > 2e6)
    {
        double *s = malloc((size_t)(3 * n) * sizeof *s);
        if (!s) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(dynamic, 16)
        for (int64_t j = 0; j < n; j++) {
            if (!s) continue;
            if (b->out) col(b->q, n, b->XT, j, s, b->out + j * n + j);
            else grad(b->q, n, b->XT, j, b->kinv + j * n, b->alpha, s, s + n, s + 2 * n, b->cols + j * b->na);
        }
        free(s);
    }
    return fail ? ml_fail(ML_ENOMEM, "gp: out of memory") : ML_OK;
}

int gp_fast_matrix(const ml_gp_kernel *k, int D, int64_t n, const double *X, double *out)
{
    gpf_parts p;
    gpf_kern q;
    double *buf;
    int rc = setup(k, D, n, X, &p, &q, &buf);
    if (rc) return rc;
    gpf_job b = {&q, n, buf + D, NULL, NULL, out, NULL, 0};
    rc = for_columns(&b);
    free(buf);
    return rc;
}

int gp_fast_grad(const ml_gp_kernel *k, int D, int64_t n, const double *X, const double *kinv,
                 const double *alpha, double *grad)
{
    gpf_parts p;
    gpf_kern q;
    double *buf;
    int rc = setup(k, D, n, X, &p, &q, &buf);
    if (rc) return rc;
    int na = 3 + D;
    /* per-column sums, added in column order: the same result on any thread count */
    double *cols = malloc((size_t)((n + 1) * na) * sizeof *cols);
    if (!cols) {
        free(buf);
        return ml_fail(ML_ENOMEM, "gp lml gradient: out of memory");
    }
    gpf_job b = {&q, n, buf + D, kinv, alpha, NULL, cols, na};
    if ((rc = for_columns(&b))) {
        free(cols), free(buf);
        return rc;
    }
    double *t = cols + n * na;
    for (int c = 0; c < na; c++) {
        double u = 0;
        for (int64_t j = 0; j < n; j++) u += cols[j * na + c];
        t[c] = u;
    }
    const ml_gp_kernel *st = p.stat;
    double *g = grad + p.p_stat;
    g[0] = q.v * t[0];
    if (q.iso) g[1] = -2 * q.v * t[1];
    else
        for (int d = 0; d < D; d++) g[1 + d] = -2 * q.v * q.il2[d] * t[2 + d];
    if (st->type == ML_GPK_RQ) g[1 + st->nl] = q.v * t[2 + D];
    if (p.cst) grad[p.p_cst] = g[0];
    if (p.white) {
        double u = 0;
        for (int64_t i = 0; i < n; i++) u += alpha[i] * alpha[i] - kinv[i * n + i];
        grad[p.p_white] = 0.5 * q.white * u;
    }
    free(cols), free(buf);
    return ML_OK;
}
