/* The GP object: data, the Cholesky factor, fit, rank-k extension, log marginal likelihood. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gp_internal.h"

struct ml_gp {
    ml_gp_kernel *k;
    int D, mean_mode, deriv, fast;
    double noise, mean, jitter;
    double t_assembly, t_cholesky;  /* seconds of the last factorisation */
    double t_inverse, t_contract;   /* seconds of the last lml gradient: K^-1, contraction */
    int64_t n, N;           /* points, observations */
    double *X, *E, *G;      /* data copies */
    double *y, *L, *alpha;  /* targets (mean removed), factor (col-major N x N), K^-1 y */
};

ml_gp *ml_gp_new(const ml_gp_kernel *k, int D, double noise, int mean)
{
    if (D < 1) return ml_fail(ML_EINVAL, "dimension must be >= 1, got %d", D), NULL;
    if (k->dim && k->dim != D)
        return ml_fail(ML_EINVAL, "kernel needs %d input dimensions, got %d", k->dim, D), NULL;
    if (!(isfinite(noise) && noise >= 0)) return ml_fail(ML_EINVAL, "noise must be finite and >= 0, got %g", noise), NULL;
    ml_gp *g = calloc(1, sizeof *g);
    if (!g) return ml_fail(ML_ENOMEM, "gp: out of memory"), NULL;
    g->k = ml_gpk_clone(k);
    if (!g->k) {
        free(g);
        return NULL;
    }
    g->D = D, g->noise = noise, g->mean_mode = mean;
    return g;
}

static void drop_data(ml_gp *g)
{
    free(g->X), free(g->E), free(g->G), free(g->y), free(g->L), free(g->alpha);
    g->X = g->E = g->G = g->y = g->L = g->alpha = NULL;
    g->n = g->N = 0;
}

void ml_gp_free(ml_gp *g)
{
    if (!g) return;
    drop_data(g);
    ml_gpk_free(g->k);
    free(g);
}

ml_gp_kernel *ml_gp_kernel_of(ml_gp *g) { return g->k; }
int64_t ml_gp_npoints(const ml_gp *g) { return g->n; }
int ml_gp_has_gradients(const ml_gp *g) { return g->deriv; }
double ml_gp_jitter(const ml_gp *g) { return g->jitter; }
void ml_gp_timing(const ml_gp *g, double *assembly, double *cholesky) { *assembly = g->t_assembly, *cholesky = g->t_cholesky; }
int ml_gp_fast_path(const ml_gp *g) { return g->fast; }
void ml_gp_lml_timing(const ml_gp *g, double *inverse, double *contract) { *inverse = g->t_inverse, *contract = g->t_contract; }
double ml_gp_mean_value(const ml_gp *g) { return g->mean; }
const double *ml_gp_data_x(const ml_gp *g) { return g->X; }
const double *ml_gp_data_e(const ml_gp *g) { return g->E; }

static int check_data(int D, int64_t n, const double *X, const double *E, const double *G)
{
    for (int64_t i = 0; i < n * D; i++)
        if (!isfinite(X[i])) return ml_fail(ML_EINVAL, "X[%lld] is not finite", (long long)(i / D + 1));
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(E[i])) return ml_fail(ML_EINVAL, "E[%lld] is not finite", (long long)i + 1);
    if (G)
        for (int64_t i = 0; i < n * D; i++)
            if (!isfinite(G[i])) return ml_fail(ML_EINVAL, "G[%lld] is not finite", (long long)(i / D + 1));
    return ML_OK;
}

/* Targets for points [from, n): energy minus the mean, then the gradient. */
static void fill_targets(ml_gp *g, int64_t from)
{
    int m = g->deriv ? g->D + 1 : 1;
    for (int64_t i = from; i < g->n; i++) {
        g->y[i * m] = g->E[i] - g->mean;
        if (g->deriv) memcpy(g->y + i * m + 1, g->G + i * g->D, (size_t)g->D * sizeof(double));
    }
}

/* alpha = K^-1 y from the factor. */
static void solve_alpha(ml_gp *g)
{
    memcpy(g->alpha, g->y, (size_t)g->N * sizeof(double));
    if (g->N == 0) return;
    cblas_dtrsv(CblasColMajor, CblasLower, CblasNoTrans, CblasNonUnit, (int)g->N, g->L, (int)g->N, g->alpha, 1);
    cblas_dtrsv(CblasColMajor, CblasLower, CblasTrans, CblasNonUnit, (int)g->N, g->L, (int)g->N, g->alpha, 1);
}

static int checked_size(int64_t n, int m, int64_t *N)
{
    if (n > (int64_t)1 << 31 || n * m > 200000) /* 200000^2 doubles = 320 GB: refuse early */
        return ml_fail(ML_ENOMEM, "gp: %lld observations are too many for a dense factor", (long long)(n * m));
    *N = n * m;
    return ML_OK;
}

/* The lower triangle of the fast path's training matrix again (jitter escalation). */
static int refill_fast(void *ud, double *A)
{
    const ml_gp *g = ud;
    return gp_fast_matrix(g->k, g->D, g->n, g->X, A);
}

int ml_gp_refit(ml_gp *g)
{
    if (g->n == 0) return ML_OK;
    int64_t N = g->N;
    double t0 = gp_now();
    int fast = g->fast = gp_fast_ok(g->k, g->deriv);
    int rc = fast ? gp_fast_matrix(g->k, g->D, g->n, g->X, g->L)
                  : ml_gpk_matrix(g->k, g->D, g->n, g->X, g->n, g->X, g->deriv, g->L);
    if (rc) return rc;
    for (int64_t i = 0; i < N; i++) g->L[i * N + i] += g->noise;
    double t1 = gp_now();
    rc = fast ? gp_cholesky_refill(g->L, N, &g->jitter, refill_fast, g) : gp_cholesky(g->L, N, &g->jitter);
    g->t_assembly = t1 - t0, g->t_cholesky = gp_now() - t1;
    if (rc) return rc;
    solve_alpha(g);
    return ML_OK;
}

int ml_gp_fit(ml_gp *g, int64_t n, const double *X, const double *E, const double *G)
{
    if (n < 1) return ml_fail(ML_EINVAL, "need at least one point, got %lld", (long long)n);
    int rc = check_data(g->D, n, X, E, G);
    if (rc) return rc;
    int m = G ? g->D + 1 : 1;
    int64_t N = 0;
    if ((rc = checked_size(n, m, &N))) return rc;
    drop_data(g);
    g->deriv = G != NULL;
    g->n = n, g->N = N;
    g->X = malloc((size_t)(n * g->D) * sizeof(double));
    g->E = malloc((size_t)n * sizeof(double));
    g->G = G ? malloc((size_t)(n * g->D) * sizeof(double)) : NULL;
    g->y = malloc((size_t)N * sizeof(double));
    g->alpha = malloc((size_t)N * sizeof(double));
    g->L = malloc((size_t)(N * N) * sizeof(double));
    if (!g->X || !g->E || (G && !g->G) || !g->y || !g->alpha || !g->L) {
        drop_data(g);
        return ml_fail(ML_ENOMEM, "gp.fit: out of memory for %lld observations", (long long)N);
    }
    memcpy(g->X, X, (size_t)(n * g->D) * sizeof(double));
    memcpy(g->E, E, (size_t)n * sizeof(double));
    if (G) memcpy(g->G, G, (size_t)(n * g->D) * sizeof(double));
    g->mean = 0;
    if (g->mean_mode == ML_GP_MEAN_CONSTANT) {
        for (int64_t i = 0; i < n; i++) g->mean += E[i];
        g->mean /= (double)n;
    }
    fill_targets(g, 0);
    rc = ml_gp_refit(g);
    if (rc) drop_data(g);
    return rc;
}

static int grow(double **p, int64_t count)
{
    double *q = realloc(*p, (size_t)(count ? count : 1) * sizeof(double));
    if (!q) return ml_fail(ML_ENOMEM, "gp.add: out of memory");
    *p = q;
    return ML_OK;
}

int ml_gp_add(ml_gp *g, int64_t k, const double *X, const double *E, const double *G)
{
    if (g->n == 0) return ml_gp_fit(g, k, X, E, G);
    if (k < 1) return ml_fail(ML_EINVAL, "need at least one point, got %lld", (long long)k);
    if ((G != NULL) != g->deriv)
        return ml_fail(ML_EINVAL, "the GP was fitted %s gradients: add points %s them", g->deriv ? "with" : "without",
                       g->deriv ? "with" : "without");
    int rc = check_data(g->D, k, X, E, G);
    if (rc) return rc;
    int D = g->D, m = g->deriv ? D + 1 : 1;
    int64_t n0 = g->n, N0 = g->N, n1 = n0 + k, N1 = 0, Kn = k * m;
    if ((rc = checked_size(n1, m, &N1))) return rc;
    if ((rc = grow(&g->X, n1 * D)) || (rc = grow(&g->E, n1)) || (G && (rc = grow(&g->G, n1 * D))) ||
        (rc = grow(&g->y, N1)) || (rc = grow(&g->alpha, N1)))
        return rc;
    double *L1 = malloc((size_t)(N1 * N1) * sizeof(double));
    double *K12 = malloc((size_t)(N0 * Kn + Kn * Kn) * sizeof(double));
    double *Xall = g->X;
    if (!L1 || !K12) {
        free(L1), free(K12);
        return ml_fail(ML_ENOMEM, "gp.add: out of memory");
    }
    memcpy(Xall + n0 * D, X, (size_t)(k * D) * sizeof(double));
    memcpy(g->E + n0, E, (size_t)k * sizeof(double));
    if (G) memcpy(g->G + n0 * D, G, (size_t)(k * D) * sizeof(double));
    g->n = n1, g->N = N1;
    fill_targets(g, n0);
    /* K12 [N0 x Kn] row-major = K21^T col-major; K22 [Kn x Kn] */
    double *K22 = K12 + N0 * Kn;
    rc = ml_gpk_matrix(g->k, D, n0, Xall, k, Xall + n0 * D, g->deriv, K12);
    if (!rc) rc = ml_gpk_matrix(g->k, D, k, Xall + n0 * D, k, Xall + n0 * D, g->deriv, K22);
    if (rc) goto fail;
    /* L21^T = L11^-1 K12 (K12 row-major [N0 x Kn] transposed into T col-major [N0 x Kn]; the
     * new-new block K22 was built as a training matrix, white noise included) */
    double *T = malloc((size_t)(N0 * Kn) * sizeof(double));
    if (!T) { rc = ml_fail(ML_ENOMEM, "gp.add: out of memory"); goto fail; }
    for (int64_t r = 0; r < N0; r++)
        for (int64_t c = 0; c < Kn; c++) T[c * N0 + r] = K12[r * Kn + c];
    cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, (int)N0, (int)Kn, 1.0,
                g->L, (int)N0, T, (int)N0);
    /* S = K22 + (noise + jitter) I - T^T T */
    for (int64_t i = 0; i < Kn; i++) K22[i * Kn + i] += g->noise + g->jitter;
    cblas_dsyrk(CblasColMajor, CblasLower, CblasTrans, (int)Kn, (int)N0, -1.0, T, (int)N0, 1.0, K22, (int)Kn);
    for (int64_t j = 0; j < Kn; j++)
        for (int64_t i = 0; i < j; i++) K22[j * Kn + i] = K22[i * Kn + j]; /* mirror lower to upper */
    double jit2;
    rc = gp_cholesky(K22, Kn, &jit2);
    if (rc || jit2 > 0) {
        /* the extension needs jitter of its own: refactor everything (escalation reported) */
        free(T);
        free(L1), free(K12);
        double *Lf = malloc((size_t)(N1 * N1) * sizeof(double));
        if (!Lf) { g->n = n0, g->N = N0; return ml_fail(ML_ENOMEM, "gp.add: out of memory"); }
        free(g->L);
        g->L = Lf;
        rc = ml_gp_refit(g);
        if (rc) drop_data(g);
        return rc;
    }
    /* assemble L1 = [L11 0; T^T L22] col-major */
    for (int64_t c = 0; c < N0; c++) {
        memcpy(L1 + c * N1, g->L + c * N0, (size_t)N0 * sizeof(double));
        for (int64_t r = 0; r < Kn; r++) L1[c * N1 + N0 + r] = T[r * N0 + c];
    }
    for (int64_t c = 0; c < Kn; c++) {
        for (int64_t r = 0; r < N0; r++) L1[(N0 + c) * N1 + r] = 0;
        for (int64_t r = 0; r < Kn; r++) L1[(N0 + c) * N1 + N0 + r] = r >= c ? K22[c * Kn + r] : 0;
    }
    free(T), free(K12);
    free(g->L);
    g->L = L1;
    solve_alpha(g);
    return ML_OK;
fail:
    free(L1), free(K12);
    g->n = n0, g->N = N0;
    return rc;
}

/* The fast path's gradient (stationary_fast.c) with K^-1 formed in the upper triangle of the factor's storage,
 * which the fast fit leaves unused: U = L^T copied there is K's upper Cholesky factor, dpotri('U') turns it into
 * the upper triangle of K^-1 (no N^2 buffer; the diagonal, shared with L, is saved and put back). */
static int fast_gradient(ml_gp *g, double *grad)
{
    int64_t N = g->N;
    double *A = g->L, t0 = gp_now();
    double *diag = malloc((size_t)N * sizeof *diag);
    if (!diag) return ml_fail(ML_ENOMEM, "gp.lml: out of memory for the gradient");
    for (int64_t i = 0; i < N; i++) diag[i] = A[i * N + i];
    const int64_t B = 64; /* tiles of B x B: reads down columns of L, writes down columns of U */
#pragma omp parallel for schedule(dynamic, 1) if (N >= 512)
    for (int64_t jb = 0; jb < N; jb += B)
        for (int64_t ib = jb; ib < N; ib += B)
            for (int64_t j = jb; j < jb + B && j < N; j++)
                for (int64_t i = ib > j ? ib : j + 1; i < ib + B && i < N; i++) A[i * N + j] = A[j * N + i];
    int nn = (int)N, info;
    dpotri_("U", &nn, A, &nn, &info);
    double t1 = gp_now();
    g->t_inverse = t1 - t0;
    int rc = info ? ml_fail(ML_ENUMERIC, "gp.lml: inverse of the factor failed (info %d)", info)
                  : gp_fast_grad(g->k, g->D, g->n, g->X, A, g->alpha, grad);
    for (int64_t i = 0; i < N; i++) A[i * N + i] = diag[i];
    free(diag);
    g->t_contract = gp_now() - t1;
    return rc;
}

int ml_gp_lml(ml_gp *g, double *lml, double *grad)
{
    if (g->n == 0) return ml_fail(ML_EINVAL, "the GP has no data: call fit first");
    int64_t N = g->N;
    double quad = cblas_ddot((int)N, g->y, 1, g->alpha, 1), logdet = 0;
    for (int64_t i = 0; i < N; i++) logdet += 2 * log(g->L[i * N + i]);
    *lml = -0.5 * quad - 0.5 * logdet - 0.5 * (double)N * log(2 * M_PI);
    if (!grad) return ML_OK;
    if (g->fast) return fast_gradient(g, grad);
    double t0 = gp_now();
    double *W = malloc((size_t)(N * N) * sizeof *W);
    if (!W) return ml_fail(ML_ENOMEM, "gp.lml: out of memory for the gradient");
    memcpy(W, g->L, (size_t)(N * N) * sizeof *W);
    int nn = (int)N, info;
    dpotri_("L", &nn, W, &nn, &info);
    if (info != 0) {
        free(W);
        return ml_fail(ML_ENUMERIC, "gp.lml: inverse of the factor failed (info %d)", info);
    }
    double t1 = gp_now();
    g->t_inverse = t1 - t0;
    /* W = alpha alpha^T - K^-1, both triangles */
    for (int64_t j = 0; j < N; j++) {
        double aj = g->alpha[j];
        for (int64_t i = j; i < N; i++) {
            double v = g->alpha[i] * aj - W[j * N + i];
            W[j * N + i] = v;
            W[i * N + j] = v;
        }
    }
    int rc = gp_grad_contract(g->k, g->D, g->n, g->X, g->deriv, W, grad);
    free(W);
    g->t_contract = gp_now() - t1;
    return rc;
}

int gp_internals(const ml_gp *g, int *D, int *deriv, int64_t *n, int64_t *N, const double **X,
                 const double **L, const double **alpha, double *mean, const ml_gp_kernel **k)
{
    *D = g->D, *deriv = g->deriv, *n = g->n, *N = g->N, *X = g->X, *L = g->L, *alpha = g->alpha;
    *mean = g->mean, *k = g->k;
    return ML_OK;
}
