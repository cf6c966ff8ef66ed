/* Cholesky factorisation through LAPACK dpotrf with jitter escalation. */
#include <math.h>
#include <limits.h>
#include <stdlib.h>
#include "gp_internal.h"

/* A is symmetric (both triangles stored, column-major); on success its lower triangle holds L.
 * dpotrf('L') reads only the lower triangle, so the untouched upper triangle restores A. */
int gp_cholesky(double *A, int64_t n, double *jitter)
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
            for (int64_t j = 0; j < n; j++)
                for (int64_t i = j + 1; i < n; i++) A[j * n + i] = A[i * n + j]; /* restore lower */
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
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = j + 1; i < n; i++) A[j * n + i] = A[i * n + j];
    for (int64_t i = 0; i < n; i++) A[i * n + i] = diag[i];
    free(diag);
    return ml_fail(ML_ENUMERIC,
                   "covariance matrix is not positive definite even with jitter 1e-4 x mean diagonal "
                   "(duplicate points without noise, or a non-SPD kernel?)");
}
