/* moonlab attn — block kernels (small GEMM, max, exp-sum, gate) dispatched on ml_cpu_isa(): the
 * AVX-512 and AVX2 variants (kernels_avx512.c, kernels_avx2.c) or the portable loops below. */
#include <math.h>
#include "attn_internal.h"
#include "moonlab/cpu.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define ATTN_X86 1
#endif

int attn_have_avx2(void) { return ml_cpu_isa() >= ML_ISA_AVX2; }

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

/* C[M×N] += Aᵀ·B, A stored [K×M]. */
#define GEMM_TN_GENERIC(T, NAME)                                                              \
    static void NAME(int M, int N, int K, const T *A, int lda, const T *B, int ldb, T *C,     \
                     int ldc) {                                                              \
        for (int k = 0; k < K; k++) {                                                        \
            const T *a = A + (int64_t)k * lda, *b = B + (int64_t)k * ldb;                    \
            for (int i = 0; i < M; i++) {                                                    \
                T av = a[i], *c = C + (int64_t)i * ldc;                                      \
                for (int j = 0; j < N; j++) c[j] += av * b[j];                               \
            }                                                                                \
        }                                                                                    \
    }
GEMM_TN_GENERIC(float, gemm_tn_f32_generic)
GEMM_TN_GENERIC(double, gemm_tn_f64_generic)

/* DISPATCH returns the ISA variant's value; DISPATCH_V calls a void variant and returns. */
#ifdef ATTN_X86
#define DISPATCH(NAME, ...)                                                                   \
    do {                                                                                     \
        ml_isa isa_ = ml_cpu_isa();                                                          \
        if (isa_ == ML_ISA_AVX512) return NAME##_avx512(__VA_ARGS__);                        \
        if (isa_ == ML_ISA_AVX2) return NAME##_avx2(__VA_ARGS__);                            \
    } while (0)
#define DISPATCH_V(NAME, ...)                                                                 \
    do {                                                                                     \
        ml_isa isa_ = ml_cpu_isa();                                                          \
        if (isa_ == ML_ISA_AVX512) { NAME##_avx512(__VA_ARGS__); return; }                   \
        if (isa_ == ML_ISA_AVX2) { NAME##_avx2(__VA_ARGS__); return; }                       \
    } while (0)
#else
#define DISPATCH(NAME, ...) do { } while (0)
#define DISPATCH_V(NAME, ...) do { } while (0)
#endif

/* The four block-product entry points: ISA variant or the portable loops. */
#define GEMM_ENTRY(NAME, T, GENERIC)                                                          \
    void NAME(int M, int N, int K, const T *A, int lda, const T *B, int ldb, T *C, int ldc) { \
        DISPATCH_V(NAME, M, N, K, A, lda, B, ldb, C, ldc);                                     \
        GENERIC(M, N, K, A, lda, B, ldb, C, ldc);                                            \
    }
GEMM_ENTRY(attn_gemm_f32, float, gemm_f32_generic)
GEMM_ENTRY(attn_gemm_f64, double, gemm_f64_generic)
GEMM_ENTRY(attn_gemm_tn_f32, float, gemm_tn_f32_generic)
GEMM_ENTRY(attn_gemm_tn_f64, double, gemm_tn_f64_generic)

float attn_expsum_f32(float *x, int n, float m) {
    DISPATCH(attn_expsum_f32, x, n, m);
    float s = 0.0f;
    for (int i = 0; i < n; i++) { x[i] = expf(x[i] - m); s += x[i]; }
    return s;
}

double attn_expsum_f64(double *x, int n, double m) {
    DISPATCH(attn_expsum_f64, x, n, m);
    double s = 0.0;
    for (int i = 0; i < n; i++) { x[i] = exp(x[i] - m); s += x[i]; }
    return s;
}

float attn_max_f32(const float *x, int n) {
    DISPATCH(attn_max_f32, x, n);
    float m = -INFINITY; /* NaN propagates: once m is NaN no comparison replaces it */
    for (int i = 0; i < n; i++) m = (x[i] > m || x[i] != x[i]) ? x[i] : m;
    return m;
}

double attn_max_f64(const double *x, int n) {
    DISPATCH(attn_max_f64, x, n);
    double m = -INFINITY;
    for (int i = 0; i < n; i++) m = (x[i] > m || x[i] != x[i]) ? x[i] : m;
    return m;
}

/* Headwise gates (gdim 1) are one scalar per row; elementwise ones use the vector kernels. */
#define GATE_APPLY_ENTRY(NAME, T)                                                             \
    void attn_gate_apply_##NAME(int act, int op, const T *z, int64_t gdim, const T *y, T *out, \
                                int64_t n) {                                                 \
        if (gdim > 1) DISPATCH_V(attn_gate_fwd_##NAME, act, op, z, y, out, n);                 \
        for (int64_t e = 0; e < n; e++) {                                                    \
            T gv = (T)attn_gate_fn(act, gdim == 1 ? z[0] : z[e]);                            \
            out[e] = op == ML_GATE_ADD ? y[e] + gv : y[e] * gv;                              \
        }                                                                                    \
    }
GATE_APPLY_ENTRY(f32, float)
GATE_APPLY_ENTRY(f64, double)

#define GATE_BWD_ENTRY(NAME, T)                                                               \
    void attn_gate_bwd_##NAME(int act, int op, const T *z, const T *dout, const T *y, T *dy,  \
                              T *dz, int64_t n) {                                            \
        DISPATCH_V(attn_gate_bwd_##NAME, act, op, z, dout, y, dy, dz, n);                      \
        for (int64_t e = 0; e < n; e++) {                                                    \
            double gv = attn_gate_fn(act, z[e]);                                             \
            double dge = op == ML_GATE_ADD ? (double)dout[e] : (double)dout[e] * y[e];       \
            dy[e] = op == ML_GATE_ADD ? dout[e] : (T)(dout[e] * gv);                         \
            dz[e] = (T)(dge * attn_gate_dfn(act, z[e]));                                     \
        }                                                                                    \
    }
GATE_BWD_ENTRY(f32, float)
GATE_BWD_ENTRY(f64, double)
