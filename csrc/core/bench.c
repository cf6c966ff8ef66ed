/* Reference timings for benchmarks: BLAS GEMM and memcpy measured from C. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "moonlab/bench.h"
#include "moonlab/tensor.h"

double ml_bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int ml_bench_gemm(ml_dtype dt, int n, int reps, double *seconds)
{
    if (n < 1 || reps < 1) return ml_fail(ML_EINVAL, "bench gemm: n and reps must be positive");
    size_t es = ml_dtype_size(dt), nn = (size_t)n * (size_t)n;
    void *a = malloc(nn * es), *b = malloc(nn * es), *c = malloc(nn * es);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return ml_fail(ML_ENOMEM, "bench gemm: out of memory");
    }
    for (size_t i = 0; i < nn; i++) {
        double x = ml_rng_uniform(1, i) - 0.5, y = ml_rng_uniform(2, i) - 0.5;
        if (dt == ML_F32) ((float *)a)[i] = (float)x, ((float *)b)[i] = (float)y;
        else ((double *)a)[i] = x, ((double *)b)[i] = y;
    }
    for (int r = 0; r < reps; r++) {
        double t0 = ml_bench_now();
        if (dt == ML_F32)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
        seconds[r] = ml_bench_now() - t0;
    }
    free(a), free(b), free(c);
    return ML_OK;
}

int ml_bench_memcpy(size_t bytes, int reps, double *seconds)
{
    char *a = malloc(bytes), *b = malloc(bytes);
    if (!a || !b) {
        free(a), free(b);
        return ml_fail(ML_ENOMEM, "bench memcpy: out of memory");
    }
    memset(a, 1, bytes);
    memset(b, 0, bytes);
    for (int r = 0; r < reps; r++) {
        double t0 = ml_bench_now();
        memcpy(b, a, bytes);
        seconds[r] = ml_bench_now() - t0;
    }
    free(a), free(b);
    return ML_OK;
}
