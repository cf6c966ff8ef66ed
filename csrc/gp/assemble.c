/* Joint energy+gradient covariance matrices K(X, X2) and the contraction
 * 1/2 sum_ij W_ij dK_ij/dtheta_p of the lml gradient, block by block (dK is never stored). */
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include "gp_internal.h"

int ml_gpk_matrix(const ml_gp_kernel *k, int D, int64_t n, const double *X, int64_t n2,
                  const double *X2, int deriv, double *out)
{
    if (k->dim && k->dim != D)
        return ml_fail(ML_EINVAL, "kernel needs %d input dimensions, points have %d", k->dim, D);
    int m = deriv ? D + 1 : 1;
    int64_t ld = n2 * m, ws = ml_gpk_work_size(k, D) + (int64_t)m * m;
    int same_set = X2 == X && n2 == n;
    int fail = 0;
    /* small matrices (the dimer's inner loop) are faster on one thread */
    int par = (double)n * (double)n2 * (double)(m * m) > 1e6;
#pragma omp parallel if (par)
    {
        double *w = malloc((size_t)ws * sizeof *w);
        if (!w) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(dynamic, 4)
        for (int64_t i = 0; i < n; i++) {
            if (!w) continue;
            double *B = w + ws - (int64_t)m * m;
            int64_t j0 = same_set ? i : 0;
            for (int64_t j = j0; j < n2; j++) {
                ml_gpk_block(k, D, X + i * D, X2 + j * D, same_set && i == j, deriv, B, NULL, w);
                for (int a = 0; a < m; a++)
                    for (int b = 0; b < m; b++) {
                        out[(i * m + a) * ld + j * m + b] = B[a * m + b];
                        if (same_set && j != i) out[(j * m + b) * ld + i * m + a] = B[a * m + b];
                    }
            }
        }
        free(w);
    }
    return fail ? ml_fail(ML_ENOMEM, "gp kernel matrix: out of memory") : ML_OK;
}

int gp_grad_contract(const ml_gp_kernel *k, int D, int64_t n, const double *X, int deriv,
                     const double *W, double *grad)
{
    int m = deriv ? D + 1 : 1, np = k->np;
    int64_t N = n * m, mm2 = (int64_t)m * m;
    int64_t ws = ml_gpk_work_size(k, D) + mm2 * (1 + np);
    int fail = 0;
    /* per-row partial sums, added in row order: the same result on any thread count */
    double *rows = calloc((size_t)(n * np + 1), sizeof *rows);
    if (!rows) return ml_fail(ML_ENOMEM, "gp lml gradient: out of memory");
    int par = (double)n * (double)n * (double)(mm2 * (1 + np)) > 2e6;
#pragma omp parallel if (par)
    {
        double *w = malloc((size_t)ws * sizeof *w);
        if (!w) {
#pragma omp atomic write
            fail = 1;
        } else {
            double *B = w + ws - mm2 * (1 + np), *dB = B + mm2;
#pragma omp for schedule(dynamic, 4)
            for (int64_t i = 0; i < n; i++) {
                double *acc = rows + i * np;
                for (int64_t j = i; j < n; j++) {
                    ml_gpk_block(k, D, X + i * D, X + j * D, i == j, deriv, B, dB, w);
                    double f = i == j ? 0.5 : 1.0;
                    for (int p = 0; p < np; p++) {
                        const double *d = dB + p * mm2;
                        double s = 0;
                        for (int a = 0; a < m; a++) {
                            const double *wr = W + (i * m + a) * N + j * m;
                            for (int b = 0; b < m; b++) s += wr[b] * d[a * m + b];
                        }
                        acc[p] += f * s;
                    }
                }
            }
            free(w);
        }
    }
    for (int p = 0; p < np; p++) {
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += rows[i * np + p];
        grad[p] = s;
    }
    free(rows);
    return fail ? ml_fail(ML_ENOMEM, "gp lml gradient: out of memory") : ML_OK;
}
