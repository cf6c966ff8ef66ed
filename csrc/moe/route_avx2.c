/* moonlab moe — the f32 token pass of the routers compiled for AVX2 + FMA (chosen at run time by
 * route_tokens.c when the CPU has them): the same template as the portable copy, 8 floats per vector. */
#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx2,fma")
#include "moe_internal.h"
#include "moonlab/cpu.h"

#include <immintrin.h>

/* exp of 8 floats <= 0: the moe_expf polynomial in vector form. */
static inline __m256 exp8(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(12582912.0f));
    __m256i n = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B400000));
    __m256 fn = _mm256_cvtepi32_ps(n);
    __m256 r = _mm256_fnmadd_ps(fn, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(fn, _mm256_set1_ps(1.428606765330187e-06f), r);
    __m256 y = _mm256_fmadd_ps(_mm256_set1_ps(1.9875691500e-4f), r, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 p = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(y, r), r, r), _mm256_set1_ps(1.0f));
    __m256 sc = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(p, sc);
}

static inline float hsum8(__m256 v) {
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    a = _mm_add_ps(a, _mm_movehl_ps(a, a));
    a = _mm_add_ss(a, _mm_movehdup_ps(a));
    return _mm_cvtss_f32(a);
}

static inline float hmax8(__m256 v) {
    __m128 a = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    a = _mm_max_ps(a, _mm_movehl_ps(a, a));
    a = _mm_max_ss(a, _mm_movehdup_ps(a));
    return _mm_cvtss_f32(a);
}

/* m = max z, s = exp(z - m), sum = sum s, sz = sum s z (8 floats per step, scalar tail). */
static inline void softmax_kernel(const float *z, int64_t E, float *s, float *m, float *sum, float *sz) {
    int64_t e = 0;
    __m256 vm = _mm256_set1_ps(-INFINITY);
    for (; e + 8 <= E; e += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(z + e));
    float mx = hmax8(vm);
    for (; e < E; e++) mx = z[e] > mx ? z[e] : mx;
    __m256 vmx = _mm256_set1_ps(mx), vs = _mm256_setzero_ps(), vz = _mm256_setzero_ps();
    for (e = 0; e + 8 <= E; e += 8) {
        __m256 zz = _mm256_loadu_ps(z + e), v = exp8(_mm256_sub_ps(zz, vmx));
        _mm256_storeu_ps(s + e, v);
        vs = _mm256_add_ps(vs, v);
        vz = _mm256_fmadd_ps(v, zz, vz);
    }
    float a = hsum8(vs), b = hsum8(vz);
    for (; e < E; e++) {
        float v = moe_expf(z[e] - mx);
        s[e] = v;
        a += v;
        b += v * z[e];
    }
    *m = mx; *sum = a; *sz = b;
}
#define MOE_SOFTMAX_KERNEL softmax_kernel

#define MOE_CAT2(a, b) a##b
#define MOE_CAT(a, b) MOE_CAT2(a, b)
#define REAL float
#define SUFFIX f32_avx2
#define MOE_EXP(x) moe_expf(x)
#include "topk_tmpl.h"
#include "route_tmpl.h"

void moe_route_block_f32_avx2(const ml_moe_route_opts *o, const float *X, int64_t E, int64_t t0, int64_t t1,
                              int64_t *experts, float *W, float *probs, double *P, double *zs, double *hs,
                              int64_t *bad, float *buf, double *rank) {
    route_block_f32_avx2(o, X, E, t0, t1, experts, W, probs, P, zs, hs, bad, buf, rank);
}
int moe_route_have_avx2(void) { return ml_cpu_isa() >= ML_ISA_AVX2; } /* MOONLAB_ISA=scalar forces the portable pass */
#else
#include "moe_internal.h"
void moe_route_block_f32_avx2(const ml_moe_route_opts *o, const float *X, int64_t E, int64_t t0, int64_t t1,
                              int64_t *experts, float *W, float *probs, double *P, double *zs, double *hs,
                              int64_t *bad, float *buf, double *rank) {
    (void)o; (void)X; (void)E; (void)t0; (void)t1; (void)experts; (void)W; (void)probs; (void)P; (void)zs;
    (void)hs; (void)bad; (void)buf; (void)rank;
}
int moe_route_have_avx2(void) { return 0; }
#endif
