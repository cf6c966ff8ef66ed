/* moonlab attn — f32 forward for AVX2+FMA (8 lanes) from fwd_simd_tmpl.h; forward.c calls it when
 * ml_cpu_isa() is ML_ISA_AVX2. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "attn_internal.h"
#include "core/exp2_poly.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>

#define FTGT __attribute__((target("avx2,fma")))

/* 2^t for 8 floats with t <= 1/2 (or NaN, which propagates): 2^n·2^f, f in [-1/2, 1/2], degree-5
 * minimax polynomial (relative error 2.4e-7 in fp32 evaluation). t below -126.5 (including -inf)
 * gives exactly 0: n = -127 yields the scale bits 0. */
FTGT static inline __attribute__((always_inline)) __m256 exp2n8(__m256 t) {
    const __m256 magic = _mm256_set1_ps(12582912.0f + 127.0f); /* 1.5·2^23 + bias */
    t = _mm256_max_ps(_mm256_set1_ps(-127.0f), t);             /* max(lo, NaN) = NaN */
    __m256 r = _mm256_add_ps(t, magic);                         /* low mantissa bits: round(t) + 127 */
    __m256 f = _mm256_sub_ps(t, _mm256_sub_ps(r, magic));
    __m256 p = ML_EXP2_POLY5(_mm256_fmadd_ps, _mm256_set1_ps, f);
    __m256 sc = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(r), 23));
    return _mm256_mul_ps(p, sc);
}

FTGT static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

FTGT static inline float hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define FV __m256
#define FVL 8
#define FSFX(n) n##_avx2
#define FMASK __m256i
#define F_MASK_N(n) _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define F_LOAD _mm256_load_ps
#define F_STORE _mm256_store_ps
#define F_LOADU _mm256_loadu_ps
#define F_STOREU _mm256_storeu_ps
#define F_BCAST _mm256_broadcast_ss
#define F_SET1 _mm256_set1_ps
#define F_ZERO _mm256_setzero_ps
#define F_FMA _mm256_fmadd_ps
#define F_MUL _mm256_mul_ps
#define F_ADD _mm256_add_ps
#define F_SUB _mm256_sub_ps
#define F_MAX _mm256_max_ps
#define F_MASKLOAD(p, m) _mm256_maskload_ps(p, m)
#define F_MAXNAN(a, b) _mm256_or_ps(_mm256_max_ps(a, b), _mm256_cmp_ps(a, b, _CMP_UNORD_Q))
#define F_NINF_TO_ZERO(v) _mm256_andnot_ps(_mm256_cmp_ps(v, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ), v)
#define F_EXP2N exp2n8
#define F_HSUM hsum8
#define F_HMAX hmax8
#include "fwd_simd_tmpl.h"

#else
int attn_forward_f32_avx2(const attn_geom *g, const float *q, const float *k, const float *v,
                          const float *z, float *out, float *lse, float *y) {
    (void)g; (void)q; (void)k; (void)v; (void)z; (void)out; (void)lse; (void)y;
    return ml_fail(ML_EINVAL, "attn: AVX2 kernel not built for this target");
}
#endif
