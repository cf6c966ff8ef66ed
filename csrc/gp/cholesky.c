/* Cholesky factorisation through LAPACK dpotrf with jitter escalation. */
#include <math.h>
#include <limits.h>
#include <cblas.h>
#include <stdlib.h>
#include <time.h>
#include "gp_internal.h"
#include "moonlab/tensor.h"

/* A is symmetric (both triangles stored, column-major); on success its lower triangle holds L.
 * dpotrf('L') reads only the lower triangle, so the untouched upper triangle restores A. */
int gp_cholesky(double *A, int64_t n, double *jitter) { return gp_cholesky_refill(A, n, jitter, NULL, NULL); }

/* The lower triangle again: refilled, or mirrored from the untouched upper triangle. */
static int restore_lower(double *A, int64_t n, int (*refill)(void *, double *), void *ud)
{
    if (refill) return refill(ud, A);
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = j + 1; i < n; i++) A[j * n + i] = A[i * n + j];
    return ML_OK;
}

int gp_cholesky_refill(double *A, int64_t n, double *jitter, int (*refill)(void *ud, double *A), void *ud)
{
    *jitter = 0;
    if (n == 0) return ML_OK;
    if (n > INT_MAX) return ml_fail(ML_EINVAL, "matrix of size %lld exceeds the LAPACK range", (long long)n);
    int nn = (int)n, info = 0;
    double *diag = malloc((size_t)n * sizeof *diag);
    if (!diag) return ml_fail(ML_ENOMEM, "gp: out of memory for the Cholesky factor");
    double mean = 0;
    for (int64_t i = 0; i < n; i++) {
        diag[i] = A[i * n + i];
        if (!isfinite(diag[i])) {
            free(diag);
            return ml_fail(ML_ENUMERIC, "covariance matrix has a non-finite diagonal entry at %lld", (long long)i + 1);
        }
        mean += diag[i];
    }
    mean = fabs(mean / (double)n);
    if (!(mean > 0)) mean = 1;
    double jit = 0;
    for (int attempt = 0; attempt <= 7; attempt++) {
        if (attempt > 0) {
            jit = mean * pow(10.0, -11 + attempt); /* 1e-10 .. 1e-4 of the mean diagonal */
            int rc = restore_lower(A, n, refill, ud);
            if (rc) {
                free(diag);
                return rc;
            }
            for (int64_t i = 0; i < n; i++) A[i * n + i] = diag[i] + jit;
        }
        dpotrf_("L", &nn, A, &nn, &info);
        if (info == 0) {
            *jitter = jit;
            free(diag);
            return ML_OK;
        }
        if (info < 0) break;
    }
    int rc = restore_lower(A, n, refill, ud);
    for (int64_t i = 0; i < n; i++) A[i * n + i] = diag[i];
    free(diag);
    if (rc) return rc;
    return ml_fail(ML_ENUMERIC,
                   "covariance matrix is not positive definite even with jitter 1e-4 x mean diagonal "
                   "(duplicate points without noise, or a non-SPD kernel?)");
}

/* Benchmark reference: seconds of one dpotrf on a random SPD matrix of size n (A A^T / n + I). */
int ml_gp_bench_cholesky(int64_t n, uint64_t seed, double *seconds)
{
    if (n < 1 || n > 60000) return ml_fail(ML_EINVAL, "n must be in 1..60000");
    double *A = malloc((size_t)(n * n) * sizeof *A), *B = malloc((size_t)(n * n) * sizeof *B);
    if (!A || !B) {
        free(A), free(B);
        return ml_fail(ML_ENOMEM, "bench: out of memory");
    }
    for (int64_t i = 0; i < n * n; i++) B[i] = ml_rng_normal(seed, (uint64_t)i);
    cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, (int)n, (int)n, 1.0 / (double)n, B, (int)n, 0.0, A, (int)n);
    for (int64_t i = 0; i < n; i++) A[i * n + i] += 1.0;
    int nn = (int)n, info;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    dpotrf_("L", &nn, A, &nn, &info);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free(A), free(B);
    if (info) return ml_fail(ML_ENUMERIC, "bench: dpotrf failed (%d)", info);
    *seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return ML_OK;
}
