/* Reference timings for benchmarks: BLAS GEMM, memcpy and a plain read measured from C. */
#include <cblas.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "moonlab/bench.h"
#include "moonlab/cpu.h"
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

/* ---- read ceiling: the fastest plain read of a buffer (no arithmetic beyond an XOR per vector) ----
 * `streams` contiguous parts of the range are read interleaved, 256 bytes of each in turn. */
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx512f"))) static uint64_t read_512(const char *p, size_t part, int streams)
{
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < part; i += 256)
        for (int k = 0; k < streams; k++) {
            const char *q = p + (size_t)k * part + i;
            a0 = _mm512_xor_si512(a0, _mm512_loadu_si512(q));
            a1 = _mm512_xor_si512(a1, _mm512_loadu_si512(q + 64));
            a2 = _mm512_xor_si512(a2, _mm512_loadu_si512(q + 128));
            a3 = _mm512_xor_si512(a3, _mm512_loadu_si512(q + 192));
        }
    a0 = _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3));
    uint64_t l[8], s = 0;
    _mm512_storeu_si512(l, a0);
    for (int j = 0; j < 8; j++) s ^= l[j];
    return s;
}

__attribute__((target("avx2"))) static uint64_t read_256(const char *p, size_t part, int streams)
{
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < part; i += 256)
        for (int k = 0; k < streams; k++)
            for (int h = 0; h < 256; h += 128) {
                const char *q = p + (size_t)k * part + i + h;
                a0 = _mm256_xor_si256(a0, _mm256_loadu_si256((const __m256i *)q));
                a1 = _mm256_xor_si256(a1, _mm256_loadu_si256((const __m256i *)(q + 32)));
                a2 = _mm256_xor_si256(a2, _mm256_loadu_si256((const __m256i *)(q + 64)));
                a3 = _mm256_xor_si256(a3, _mm256_loadu_si256((const __m256i *)(q + 96)));
            }
    a0 = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
    uint64_t l[4], s = 0;
    _mm256_storeu_si256((__m256i *)l, a0);
    for (int j = 0; j < 4; j++) s ^= l[j];
    return s;
}
#endif

static uint64_t read_c(const char *p, size_t part, int streams)
{
    uint64_t a[8] = {0}, s = 0, w;
    for (size_t i = 0; i < part; i += 256)
        for (int k = 0; k < streams; k++)
            for (int h = 0; h < 256; h += 64)
                for (int j = 0; j < 8; j++) memcpy(&w, p + (size_t)k * part + i + h + 8 * j, 8), a[j] ^= w;
    for (int j = 0; j < 8; j++) s ^= a[j];
    return s;
}

/* n bytes at p as `streams` interleaved parts of a multiple of 256 bytes each, then the rest bytewise. */
static uint64_t read_any(const char *p, size_t n, int streams)
{
    size_t part = n / (size_t)streams / 256 * 256, done = part * (size_t)streams;
    uint64_t s;
#if defined(__GNUC__) && defined(__x86_64__)
    if (ml_cpu_isa() == ML_ISA_AVX512) s = read_512(p, part, streams);
    else if (ml_cpu_isa() == ML_ISA_AVX2) s = read_256(p, part, streams);
    else
#endif
        s = read_c(p, part, streams);
    for (size_t i = done; i < n; i++) s ^= (uint8_t)p[i];
    return s;
}

static volatile uint64_t read_sink;

int ml_bench_read(const void *data, size_t bytes, int threads, int streams, int reps, double *seconds)
{
    if (!data || threads < 1 || streams < 1 || reps < 1)
        return ml_fail(ML_EINVAL, "bench read: need data, threads >= 1, streams >= 1, reps >= 1");
    const char *p = data;
    for (int r = 0; r < reps; r++) {
        uint64_t s = 0;
        double t0 = ml_bench_now();
#pragma omp parallel num_threads(threads) reduction(^ : s)
        {
            int k = omp_get_thread_num(), n = omp_get_num_threads();
            size_t per = bytes / (size_t)n / 64 * 64, b = per * (size_t)k, e = k == n - 1 ? bytes : b + per;
            s ^= read_any(p + b, e - b, streams);
        }
        seconds[r] = ml_bench_now() - t0;
        read_sink = s;
    }
    return ML_OK;
}
