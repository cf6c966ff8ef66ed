/* Posterior mean and variance of energies and gradients at new points. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gp_internal.h"


int ml_gp_predict(ml_gp *g, int64_t m, const double *Xs, double *E, double *Evar, double *G,
                  double *Gvar)
{
    int D, deriv;
    int64_t n, N;
    const double *X, *L, *alpha;
    double mean;
    const ml_gp_kernel *k;
    gp_internals(g, &D, &deriv, &n, &N, &X, &L, &alpha, &mean, &k);
    if (n == 0) return ml_fail(ML_EINVAL, "the GP has no data: call fit first");
    for (int64_t i = 0; i < m * D; i++)
        if (!isfinite(Xs[i])) return ml_fail(ML_EINVAL, "Xs[%lld] is not finite", (long long)(i / D + 1));
    int want_g = G || Gvar, want_var = Evar || Gvar;
    int ms = want_g ? D + 1 : 1;        /* quantities per test point */
    int mt = deriv ? D + 1 : 1;         /* observations per training point */
    int mf = (deriv || want_g) ? D + 1 : 1; /* block size */
    const int64_t chunk = 64;
    int64_t ws = ml_gpk_work_size(k, D) + 2 * (int64_t)mf * mf;
    double *Ks = malloc((size_t)(N * chunk * ms) * sizeof *Ks);
    if (!Ks) return ml_fail(ML_ENOMEM, "gp.predict: out of memory");
    int fail = 0;
    for (int64_t s0 = 0; s0 < m; s0 += chunk) {
        int64_t cm = m - s0 < chunk ? m - s0 : chunk, cols = cm * ms;
        double *prior = NULL;
        /* Ks [N x cols] col-major: column s*ms + c, row i*mt + a */
        int par = (double)cm * (double)n * (double)(mf * mf) > 1e6;
#pragma omp parallel if (par)
        {
            double *w = malloc((size_t)ws * sizeof *w);
            if (!w) {
#pragma omp atomic write
                fail = 1;
            }
#pragma omp for schedule(static)
            for (int64_t t = 0; t < cm * n; t++) {
                if (!w) continue;
                int64_t s = t / n, i = t % n;
                double *B = w + ws - 2 * (int64_t)mf * mf;
                ml_gpk_block(k, D, X + i * D, Xs + (s0 + s) * D, 0, mf > 1, B, NULL, w);
                for (int c = 0; c < ms; c++)
                    for (int a = 0; a < mt; a++) Ks[(s * ms + c) * N + i * mt + a] = B[a * mf + c];
            }
            free(w);
        }
        if (fail) break;
        for (int64_t s = 0; s < cm; s++)
            for (int c = 0; c < ms; c++) {
                double v = cblas_ddot((int)N, Ks + (s * ms + c) * N, 1, alpha, 1);
                if (c == 0) E[s0 + s] = v + mean;
                else if (G) G[(s0 + s) * D + c - 1] = v;
            }
        if (!want_var) continue;
        cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, (int)N, (int)cols, 1.0,
                    L, (int)N, Ks, (int)N);
        double *w = malloc((size_t)ws * sizeof *w);
        if (!w) { fail = 1; break; }
        prior = w + ws - 2 * (int64_t)mf * mf;
        for (int64_t s = 0; s < cm; s++) {
            const double *xs = Xs + (s0 + s) * D;
            ml_gpk_block(k, D, xs, xs, 0, mf > 1, prior, NULL, w);
            for (int c = 0; c < ms; c++) {
                const double *col = Ks + (s * ms + c) * N;
                double var = prior[c * mf + c] - cblas_ddot((int)N, col, 1, col, 1);
                if (var < 0) var = 0;
                if (c == 0) { if (Evar) Evar[s0 + s] = var; }
                else if (Gvar) Gvar[(s0 + s) * D + c - 1] = var;
            }
        }
        free(w);
    }
    free(Ks);
    return fail ? ml_fail(ML_ENOMEM, "gp.predict: out of memory") : ML_OK;
}
