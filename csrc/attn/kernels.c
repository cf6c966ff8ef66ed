/* moonlab attn — block kernels: small GEMM, max and exp-sum, with an AVX2+FMA variant chosen at
 * run time (__builtin_cpu_supports) and a portable fallback. */
#include <math.h>
#include "attn_internal.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define ATTN_X86 1
#include <immintrin.h>
#endif

static int have_avx2(void) {
#ifdef ATTN_X86
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int attn_have_avx2(void) { return have_avx2(); }

/* ---- portable versions ---- */

#define GEMM_GENERIC(T, NAME)                                                                 \
    static void NAME(int M, int N, int K, const T *A, int lda, const T *B, int ldb, T *C,     \
                     int ldc) {                                                              \
        for (int i = 0; i < M; i++) {                                                        \
            T *c = C + (int64_t)i * ldc;                                                     \
            const T *a = A + (int64_t)i * lda;                                               \
            for (int k = 0; k < K; k++) {                                                    \
                T av = a[k];                                                                 \
                const T *b = B + (int64_t)k * ldb;                                           \
                for (int j = 0; j < N; j++) c[j] += av * b[j];                               \
            }                                                                                \
        }                                                                                    \
    }
GEMM_GENERIC(float, gemm_f32_generic)
GEMM_GENERIC(double, gemm_f64_generic)

#ifdef ATTN_X86
/* 4×16 register tile: 8 accumulators, 2 loads of B and 4 broadcasts of A per k. */
__attribute__((target("avx2,fma"))) static void gemm_f32_avx2(int M, int N, int K,
                                                              const float *A, int lda,
                                                              const float *B, int ldb, float *C,
                                                              int ldc) {
    int i = 0;
    for (; i + 4 <= M; i += 4) {
        const float *a0 = A + (int64_t)i * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
        float *c0 = C + (int64_t)i * ldc, *c1 = c0 + ldc, *c2 = c1 + ldc, *c3 = c2 + ldc;
        int j = 0;
        for (; j + 16 <= N; j += 16) {
            __m256 x00 = _mm256_loadu_ps(c0 + j), x01 = _mm256_loadu_ps(c0 + j + 8);
            __m256 x10 = _mm256_loadu_ps(c1 + j), x11 = _mm256_loadu_ps(c1 + j + 8);
            __m256 x20 = _mm256_loadu_ps(c2 + j), x21 = _mm256_loadu_ps(c2 + j + 8);
            __m256 x30 = _mm256_loadu_ps(c3 + j), x31 = _mm256_loadu_ps(c3 + j + 8);
            const float *b = B + j;
            for (int k = 0; k < K; k++, b += ldb) {
                __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
                __m256 a = _mm256_broadcast_ss(a0 + k);
                x00 = _mm256_fmadd_ps(a, b0, x00); x01 = _mm256_fmadd_ps(a, b1, x01);
                a = _mm256_broadcast_ss(a1 + k);
                x10 = _mm256_fmadd_ps(a, b0, x10); x11 = _mm256_fmadd_ps(a, b1, x11);
                a = _mm256_broadcast_ss(a2 + k);
                x20 = _mm256_fmadd_ps(a, b0, x20); x21 = _mm256_fmadd_ps(a, b1, x21);
                a = _mm256_broadcast_ss(a3 + k);
                x30 = _mm256_fmadd_ps(a, b0, x30); x31 = _mm256_fmadd_ps(a, b1, x31);
            }
            _mm256_storeu_ps(c0 + j, x00); _mm256_storeu_ps(c0 + j + 8, x01);
            _mm256_storeu_ps(c1 + j, x10); _mm256_storeu_ps(c1 + j + 8, x11);
            _mm256_storeu_ps(c2 + j, x20); _mm256_storeu_ps(c2 + j + 8, x21);
            _mm256_storeu_ps(c3 + j, x30); _mm256_storeu_ps(c3 + j + 8, x31);
        }
        for (; j + 8 <= N; j += 8) {
            __m256 x0 = _mm256_loadu_ps(c0 + j), x1 = _mm256_loadu_ps(c1 + j);
            __m256 x2 = _mm256_loadu_ps(c2 + j), x3 = _mm256_loadu_ps(c3 + j);
            const float *b = B + j;
            for (int k = 0; k < K; k++, b += ldb) {
                __m256 b0 = _mm256_loadu_ps(b);
                x0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a0 + k), b0, x0);
                x1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a1 + k), b0, x1);
                x2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a2 + k), b0, x2);
                x3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a3 + k), b0, x3);
            }
            _mm256_storeu_ps(c0 + j, x0); _mm256_storeu_ps(c1 + j, x1);
            _mm256_storeu_ps(c2 + j, x2); _mm256_storeu_ps(c3 + j, x3);
        }
        if (j < N) {
            for (int r = 0; r < 4; r++) {
                const float *a = A + (int64_t)(i + r) * lda;
                float *c = C + (int64_t)(i + r) * ldc;
                for (int jj = j; jj < N; jj++) {
                    float s = c[jj];
                    for (int k = 0; k < K; k++) s += a[k] * B[(int64_t)k * ldb + jj];
                    c[jj] = s;
                }
            }
        }
    }
    for (; i < M; i++) {
        const float *a = A + (int64_t)i * lda;
        float *c = C + (int64_t)i * ldc;
        int j = 0;
        for (; j + 8 <= N; j += 8) {
            __m256 x = _mm256_loadu_ps(c + j);
            const float *b = B + j;
            for (int k = 0; k < K; k++, b += ldb)
                x = _mm256_fmadd_ps(_mm256_broadcast_ss(a + k), _mm256_loadu_ps(b), x);
            _mm256_storeu_ps(c + j, x);
        }
        for (; j < N; j++) {
            float s = c[j];
            for (int k = 0; k < K; k++) s += a[k] * B[(int64_t)k * ldb + j];
            c[j] = s;
        }
    }
}

/* exp for 8 floats (Cephes expf polynomial, ~1 ulp); exact 0 below -87.3 (covers -inf). */
__attribute__((target("avx2,fma"))) static inline __m256 exp8(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.3f); /* inputs are <= 0 (scores minus their max) */
    __m256 keep = _mm256_cmp_ps(x, lo, _CMP_GE_OQ);
    x = _mm256_max_ps(x, lo);
    __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
    __m256 x2 = _mm256_mul_ps(x, x);
    y = _mm256_fmadd_ps(y, x2, _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    __m256i n = _mm256_cvtps_epi32(fx);
    n = _mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23);
    y = _mm256_mul_ps(y, _mm256_castsi256_ps(n));
    return _mm256_and_ps(y, keep);
}

__attribute__((target("avx2,fma"))) static float expsum_f32_avx2(float *x, int n, float m) {
    __m256 vm = _mm256_set1_ps(m), acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float t[8];
    _mm256_storeu_ps(t, acc);
    float s = ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
    for (; i < n; i++) { x[i] = expf(x[i] - m); s += x[i]; }
    return s;
}

__attribute__((target("avx2,fma"))) static float max_f32_avx2(const float *x, int n) {
    __m256 acc = _mm256_set1_ps(-INFINITY), nan = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 xv = _mm256_loadu_ps(x + i);
        acc = _mm256_max_ps(acc, xv);
        nan = _mm256_or_ps(nan, _mm256_cmp_ps(xv, xv, _CMP_UNORD_Q));
    }
    float t[8];
    _mm256_storeu_ps(t, acc);
    float m = t[0];
    for (int r = 1; r < 8; r++) m = t[r] > m ? t[r] : m;
    if (_mm256_movemask_ps(nan)) return NAN;
    for (; i < n; i++) m = (x[i] > m || x[i] != x[i]) ? x[i] : m;
    return m;
}

/* g = act(z) for 8 floats: sigmoid via exp(-|z|) (stable), silu = z·sigmoid, ns = 0.5 + 0.5·sigmoid. */
__attribute__((target("avx2,fma"))) static inline __m256 gate8(int act, __m256 z) {
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    __m256 e = exp8(_mm256_or_ps(z, sign)); /* exp(-|z|) */
    __m256 r = _mm256_div_ps(one, _mm256_add_ps(one, e));
    __m256 neg = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 s = _mm256_blendv_ps(r, _mm256_mul_ps(e, r), neg);
    if (act == ML_GATE_SILU) return _mm256_mul_ps(z, s);
    if (act == ML_GATE_NS_SIGMOID) return _mm256_fmadd_ps(_mm256_set1_ps(0.5f), s, _mm256_set1_ps(0.5f));
    return s;
}

__attribute__((target("avx2,fma"))) static void gate_apply_f32_avx2(int act, int op, const float *z,
                                                                    int64_t gdim, const float *y,
                                                                    float *out, int64_t n) {
    int64_t e = 0;
    __m256 gh = _mm256_set1_ps(gdim == 1 ? (float)attn_gate_fn(act, z[0]) : 0.0f);
    for (; e + 8 <= n; e += 8) {
        __m256 gv = gdim == 1 ? gh : gate8(act, _mm256_loadu_ps(z + e));
        __m256 yv = _mm256_loadu_ps(y + e);
        _mm256_storeu_ps(out + e, op == ML_GATE_ADD ? _mm256_add_ps(yv, gv) : _mm256_mul_ps(yv, gv));
    }
    for (; e < n; e++) {
        float gv = (float)attn_gate_fn(act, gdim == 1 ? z[0] : z[e]);
        out[e] = op == ML_GATE_ADD ? y[e] + gv : y[e] * gv;
    }
}
#endif

void attn_gemm_f32(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                   float *C, int ldc) {
#ifdef ATTN_X86
    if (have_avx2()) { gemm_f32_avx2(M, N, K, A, lda, B, ldb, C, ldc); return; }
#endif
    gemm_f32_generic(M, N, K, A, lda, B, ldb, C, ldc);
}

void attn_gemm_f64(int M, int N, int K, const double *A, int lda, const double *B, int ldb,
                   double *C, int ldc) {
    gemm_f64_generic(M, N, K, A, lda, B, ldb, C, ldc);
}

float attn_expsum_f32(float *x, int n, float m) {
#ifdef ATTN_X86
    if (have_avx2()) return expsum_f32_avx2(x, n, m);
#endif
    float s = 0.0f;
    for (int i = 0; i < n; i++) { x[i] = expf(x[i] - m); s += x[i]; }
    return s;
}

double attn_expsum_f64(double *x, int n, double m) {
    double s = 0.0;
    for (int i = 0; i < n; i++) { x[i] = exp(x[i] - m); s += x[i]; }
    return s;
}

float attn_max_f32(const float *x, int n) {
#ifdef ATTN_X86
    if (have_avx2()) return max_f32_avx2(x, n);
#endif
    float m = -INFINITY; /* NaN propagates: once m is NaN no comparison replaces it */
    for (int i = 0; i < n; i++) m = (x[i] > m || x[i] != x[i]) ? x[i] : m;
    return m;
}

double attn_max_f64(const double *x, int n) {
    double m = -INFINITY;
    for (int i = 0; i < n; i++) m = (x[i] > m || x[i] != x[i]) ? x[i] : m;
    return m;
}

void attn_gate_apply_f32(int act, int op, const float *z, int64_t gdim, const float *y, float *out,
                         int64_t n) {
#ifdef ATTN_X86
    if (have_avx2()) { gate_apply_f32_avx2(act, op, z, gdim, y, out, n); return; }
#endif
    for (int64_t e = 0; e < n; e++) {
        float gv = (float)attn_gate_fn(act, gdim == 1 ? z[0] : z[e]);
        out[e] = op == ML_GATE_ADD ? y[e] + gv : y[e] * gv;
    }
}

void attn_gate_apply_f64(int act, int op, const double *z, int64_t gdim, const double *y,
                         double *out, int64_t n) {
    for (int64_t e = 0; e < n; e++) {
        double gv = attn_gate_fn(act, gdim == 1 ? z[0] : z[e]);
        out[e] = op == ML_GATE_ADD ? y[e] + gv : y[e] * gv;
    }
}
