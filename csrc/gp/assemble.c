/* Joint energy+gradient covariance matrices K(X, X2) and the contraction
 * 1/2 sum_ij W_ij dK_ij/dtheta_p of the lml gradient, block by block (dK is never stored).
 * Kernels whose blocks factor through per-point features (the inverse-distance kernel: 1/r over
 * the pairs and their Jacobian) get those computed once per point instead of once per block. */
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include "gp_internal.h"

/* Per-point features of X (n points) for kernels that have them (else NULL with *F = 0);
 * *fail is set when memory runs out. */
static double *point_features(const ml_gp_kernel *k, int D, int64_t n, const double *X, int64_t *F, int *fail)
{
    *F = 0;
    if (k->type != ML_GPK_INVDIST || n < 2) return NULL;
    int64_t f = gp_invdist_feat_size(k);
    double *out = malloc((size_t)(n * f) * sizeof *out);
    if (!out) {
        *fail = 1;
        return NULL;
    }
#pragma omp parallel for schedule(static) if (n * f > 20000)
    for (int64_t i = 0; i < n; i++) gp_invdist_features(k, X + i * D, out + i * f);
    *F = f;
    return out;
}

/* dst[q * ld + c] = src[q * lds + c] (or src[c * lds + q] transposed) for rows q < rows and
 * columns c < cols; stream: non-temporal stores where dst is 16-byte aligned. */
static void put_rows(double *dst, int64_t ld, const double *src, int64_t lds, int64_t rows, int64_t cols,
                     int transpose, int stream)
{
    for (int64_t q = 0; q < rows; q++) {
        double *d = dst + q * ld;
        int64_t c = 0;
#ifdef __SSE2__
        if (stream && ((uintptr_t)d & 15) == 0) {
            if (transpose)
                for (; c + 1 < cols; c += 2) _mm_stream_pd(d + c, _mm_set_pd(src[(c + 1) * lds + q], src[c * lds + q]));
            else
                for (; c + 1 < cols; c += 2) _mm_stream_pd(d + c, _mm_loadu_pd(src + q * lds + c));
        }
#endif
        if (transpose)
            for (; c < cols; c++) d[c] = src[c * lds + q];
        else if (c < cols)
            memcpy(d + c, src + q * lds + c, (size_t)(cols - c) * sizeof *d);
    }
}

int ml_gpk_matrix(const ml_gp_kernel *k, int D, int64_t n, const double *X, int64_t n2,
                  const double *X2, int deriv, double *out)
{
    if (k->dim && k->dim != D)
        return ml_fail(ML_EINVAL, "kernel needs %d input dimensions, points have %d", k->dim, D);
    int m = deriv ? D + 1 : 1;
    int64_t ld = n2 * m, ws = ml_gpk_work_size(k, D) + (int64_t)m * m;
    int same_set = X2 == X && n2 == n;
    int fail = 0;
    gp_huge_pages(out, (size_t)(n * m) * (size_t)ld * sizeof *out);
    int64_t F = 0, F2 = 0;
    double *FX = point_features(k, D, n, X, &F, &fail), *FY = FX;
    if (FX && !same_set) {
        FY = point_features(k, D, n2, X2, &F2, &fail);
        if (!FY) F = 0;
    }
    /* Tiles of TB x TB point pairs (8 x 8 with 22 x 22 blocks) are computed into a buffer and
     * written out as (TB*m)-wide row segments (the mirror tile transposed), with non-temporal
     * stores when the matrix is too big to stay in cache (over 32 MB, the L3 of the machine this
     * was tuned on; a smaller one is left in cache for the factorisation that follows): writing
     * m-wide pieces of rows far apart cost more than the kernel. The training matrix computes the
     * tiles on and above the diagonal only. */
    const int64_t TB = m < 180 ? 180 / m : 1; /* a tile of about 180 x 180 doubles (256 kB) */
    int64_t nt = (n + TB - 1) / TB, nt2 = (n2 + TB - 1) / TB, tw = TB * m;
    int64_t ntiles = same_set ? nt * (nt + 1) / 2 : nt * nt2;
    int stream = (double)(n * m) * (double)ld > 4194304.0;
    ws += tw * tw;
    /* small matrices (the dimer's inner loop) are faster on one thread */
    int par = (double)n * (double)n2 * (double)(m * m) > 1e6;
#pragma omp parallel if (par)
    {
        double *w = fail ? NULL : malloc((size_t)ws * sizeof *w);
        if (!w) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(dynamic, 1) nowait
        for (int64_t t = 0; t < ntiles; t++) {
            if (!w) continue;
            int64_t I = 0, J = 0;
            if (same_set) { /* tile row I holds the tiles J = I .. nt-1 */
                int64_t r = t;
                while (r >= nt - I) r -= nt - I, I++;
                J = I + r;
            } else {
                I = t / nt2, J = t % nt2;
            }
            double *Tb = w + ws - tw * tw, *B = Tb - (int64_t)m * m;
            int64_t i0 = I * TB, j0 = J * TB;
            int64_t ni = (n - i0 < TB ? n - i0 : TB), nj = (n2 - j0 < TB ? n2 - j0 : TB);
            int diag = same_set && I == J;
            for (int64_t i = 0; i < ni; i++)
                for (int64_t j = diag ? i : 0; j < nj; j++) {
                    if (F) gp_block_invdist_feat(k, D, FX + (i0 + i) * F, FY + (j0 + j) * F, deriv, B, NULL, w);
                    else ml_gpk_block(k, D, X + (i0 + i) * D, X2 + (j0 + j) * D, diag && i == j, deriv, B, NULL, w);
                    double *o = Tb + i * m * tw + j * m;
                    for (int a = 0; a < m; a++) memcpy(o + a * tw, B + a * m, (size_t)m * sizeof *o);
                    if (!diag || j == i) continue;
                    double *tr = Tb + j * m * tw + i * m; /* the mirror block inside a diagonal tile */
                    for (int b = 0; b < m; b++)
                        for (int a = 0; a < m; a++) tr[b * tw + a] = B[a * m + b];
                }
            put_rows(out + i0 * m * ld + j0 * m, ld, Tb, tw, ni * m, nj * m, 0, stream);
            if (same_set && !diag) put_rows(out + j0 * m * ld + i0 * m, ld, Tb, tw, nj * m, ni * m, 1, stream);
        }
#ifdef __SSE2__
        if (stream) _mm_sfence(); /* each thread orders its own streaming stores before the barrier */
#endif
        free(w);
    }
    if (FY != FX) free(FY);
    free(FX);
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
    int64_t F = 0;
    double *FX = point_features(k, D, n, X, &F, &fail);
    int par = (double)n * (double)n * (double)(mm2 * (1 + np)) > 2e6;
#pragma omp parallel if (par)
    {
        double *w = fail ? NULL : malloc((size_t)ws * sizeof *w);
        if (!w) {
#pragma omp atomic write
            fail = 1;
        } else {
            double *B = w + ws - mm2 * (1 + np), *dB = B + mm2;
#pragma omp for schedule(dynamic, 4)
            for (int64_t i = 0; i < n; i++) {
                double *acc = rows + i * np;
                for (int64_t j = i; j < n; j++) {
                    if (F) gp_block_invdist_feat(k, D, FX + i * F, FX + j * F, deriv, B, dB, w);
                    else ml_gpk_block(k, D, X + i * D, X + j * D, i == j, deriv, B, dB, w);
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
    free(FX);
    for (int p = 0; p < np; p++) {
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += rows[i * np + p];
        grad[p] = s;
    }
    free(rows);
    return fail ? ml_fail(ML_ENOMEM, "gp lml gradient: out of memory") : ML_OK;
}
