/* moonlab attn — shared internals: geometry of a call, mask access, block kernels. */
#ifndef MOONLAB_ATTN_INTERNAL_H
#define MOONLAB_ATTN_INTERNAL_H

#include <math.h>
#include <stdint.h>
#include "moonlab/attn.h"

#ifndef ATTN_BQ
#define ATTN_BQ 64 /* query rows per block */
#endif
#ifndef ATTN_BK
#define ATTN_BK 64 /* keys per block */
#endif

/* Everything a kernel needs to know about one call. */
typedef struct attn_geom {
    int64_t B, Hq, Hkv, L, S, E, Ev, rep; /* rep = Hq / Hkv */
    double scale;
    int causal;                           /* causal or window */
    int64_t off;                          /* d(i) = i + off */
    int64_t window;                       /* 0 = none */
    /* mask (NULL = none): element (b,h,i,j) at ms[0]*b + ms[1]*h + ms[2]*i + ms[3]*j */
    const void *mask;
    int mask_f64, mask_keep;
    int64_t ms[4];
    int gate_act, gate_op;
    int64_t gdim; /* 0 = no gate, 1 = headwise, Ev = elementwise */
} attn_geom;

/* Fills g from validated inputs (mask/gate may be NULL). */
void attn_geom_init(attn_geom *g, const ml_attn_opts *o, const ml_tensor *q, const ml_tensor *k,
                    const ml_tensor *v, const ml_tensor *mask, const ml_tensor *gate);

/* Below this many multiply-adds a call runs on the calling thread: waking OpenMP workers costs
 * more than it saves (tens of microseconds, far more when the CPUs are busy). */
#ifndef ATTN_PAR_MIN
#define ATTN_PAR_MIN 2e6
#endif
/* 1 when the call is large enough for OpenMP (the omp `if` clause of every attn region). */
static inline int attn_parallel(const attn_geom *g) {
    return (double)g->B * (double)g->Hq * (double)g->L * (double)g->S * (double)(g->E + g->Ev) >= ATTN_PAR_MIN;
}

/* Calls CALL(r) with the compile-time constant r = R for R in 1..6 (register-tile row counts). */
#define ATTN_RCASES(CALL)                                                                          \
    switch (R) {                                                                                   \
    case 6: CALL(6); break;                                                                        \
    case 5: CALL(5); break;                                                                        \
    case 4: CALL(4); break;                                                                        \
    case 3: CALL(3); break;                                                                        \
    case 2: CALL(2); break;                                                                        \
    default: CALL(1); break;                                                                       \
    }

/* Keys visible to query i under causal/window: [lo, hi) clipped to [0,S) (lo >= hi: none). */
static inline void attn_key_range(const attn_geom *g, int64_t i, int64_t *lo, int64_t *hi) {
    int64_t a = 0, b = g->S;
    if (g->causal) {
        int64_t d = i + g->off;
        if (d + 1 < b) b = d + 1;
        if (g->window > 0 && d - g->window + 1 > a) a = d - g->window + 1;
    }
    if (b < 0) b = 0;
    *lo = a; *hi = b;
}

/* Mask value for (b,h,i,j) as an additive term (-inf = masked). */
static inline double attn_mask_add(const attn_geom *g, int64_t b, int64_t h, int64_t i, int64_t j) {
    int64_t idx = g->ms[0] * b + g->ms[1] * h + g->ms[2] * i + g->ms[3] * j;
    double m = g->mask_f64 ? ((const double *)g->mask)[idx] : (double)((const float *)g->mask)[idx];
    if (g->mask_keep) return m != 0.0 ? 0.0 : -INFINITY;
    return m;
}

/* C[M×N] += A[M×K] · B[K×N] (row-major, leading dims lda/ldb/ldc). */
void attn_gemm_f32(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                   float *C, int ldc);
void attn_gemm_f64(int M, int N, int K, const double *A, int lda, const double *B, int ldb,
                   double *C, int ldc);
/* C[M×N] += Aᵀ · B with A stored [K×M] (ld lda). */
void attn_gemm_tn_f32(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                      float *C, int ldc);
void attn_gemm_tn_f64(int M, int N, int K, const double *A, int lda, const double *B, int ldb,
                      double *C, int ldc);
/* x[i] = exp(x[i] - m) for i < n; returns the sum. */
float attn_expsum_f32(float *x, int n, float m);
double attn_expsum_f64(double *x, int n, double m);
/* max of x[0..n) (-inf for n = 0). */
float attn_max_f32(const float *x, int n);
double attn_max_f64(const double *x, int n);

/* out[e] = y[e] * act(z) or y[e] + act(z) for e < n; z has n entries (gdim > 1) or one (gdim 1). */
void attn_gate_apply_f32(int act, int op, const float *z, int64_t gdim, const float *y, float *out,
                         int64_t n);
void attn_gate_apply_f64(int act, int op, const double *z, int64_t gdim, const double *y,
                         double *out, int64_t n);

/* Per-ISA block kernels (kernels_avx2.c, kernels_avx512.c; same contracts as above). Only call
 * the _avx512 ones when ml_cpu_isa() == ML_ISA_AVX512, the _avx2 ones when it is >= ML_ISA_AVX2. */
#define ATTN_ISA_DECL(ISA)                                                                        \
    void attn_gemm_f32_##ISA(int M, int N, int K, const float *A, int lda, const float *B, int ldb, \
                             float *C, int ldc);                                                   \
    void attn_gemm_f64_##ISA(int M, int N, int K, const double *A, int lda, const double *B,      \
                             int ldb, double *C, int ldc);                                         \
    void attn_gemm_tn_f32_##ISA(int M, int N, int K, const float *A, int lda, const float *B,      \
                                int ldb, float *C, int ldc);                                       \
    void attn_gemm_tn_f64_##ISA(int M, int N, int K, const double *A, int lda, const double *B,   \
                                int ldb, double *C, int ldc);                                      \
    float attn_expsum_f32_##ISA(float *x, int n, float m);                                         \
    double attn_expsum_f64_##ISA(double *x, int n, double m);                                      \
    float attn_max_f32_##ISA(const float *x, int n);                                               \
    double attn_max_f64_##ISA(const double *x, int n);                                             \
    void attn_gate_fwd_f32_##ISA(int act, int op, const float *z, const float *y, float *out,      \
                                 int64_t n);                                                       \
    void attn_gate_fwd_f64_##ISA(int act, int op, const double *z, const double *y, double *out,   \
                                 int64_t n);                                                       \
    void attn_gate_bwd_f32_##ISA(int act, int op, const float *z, const float *dout,              \
                                 const float *y, float *dy, float *dz, int64_t n);                 \
    void attn_gate_bwd_f64_##ISA(int act, int op, const double *z, const double *dout,            \
                                 const double *y, double *dy, double *dz, int64_t n);
ATTN_ISA_DECL(avx2)
ATTN_ISA_DECL(avx512)

/* 1 when ml_cpu_isa() allows the AVX2+FMA kernels (kernels.c). */
int attn_have_avx2(void);
/* f32 forward with AVX2+FMA / AVX-512F register tiles (fwd_avx2.c, fwd_avx512.c from
 * fwd_simd_tmpl.h); only call when ml_cpu_isa() allows the ISA. */
int attn_forward_f32_avx2(const attn_geom *g, const float *q, const float *k, const float *v,
                          const float *z, float *out, float *lse, float *y);
int attn_forward_f32_avx512(const attn_geom *g, const float *q, const float *k, const float *v,
                            const float *z, float *out, float *lse, float *y);

/* Elementwise gate backward of one row (gdim = Ev): dy = dout·act(z) (mul) or dout (add), dz =
 * (dout·y or dout)·act'(z). */
void attn_gate_bwd_f32(int act, int op, const float *z, const float *dout, const float *y, float *dy,
                       float *dz, int64_t n);
void attn_gate_bwd_f64(int act, int op, const double *z, const double *dout, const double *y,
                       double *dy, double *dz, int64_t n);

/* Gate helpers (gate.c). */
double attn_gate_fn(int act, double z);
double attn_gate_dfn(int act, double z);

#endif
