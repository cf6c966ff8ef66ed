/* moonlab attn — f32 forward for AVX-512F (16 lanes) from fwd_simd_tmpl.h; forward.c calls it when
 * ml_cpu_isa() is ML_ISA_AVX512. Compiled with target attributes, so it builds for any x86-64. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "attn_internal.h"
#include "core/exp2_poly.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>

#define FTGT __attribute__((target("avx512f,avx2,fma")))

/* 2^t for 16 floats: the AVX2 kernel's exp2 split (degree-5 polynomial, 2.4e-7 relative), exactly 0
 * below -126.5 (including -inf), NaN propagates. */
FTGT static inline __attribute__((always_inline)) __m512 exp2n16(__m512 t) {
    const __m512 magic = _mm512_set1_ps(12582912.0f + 127.0f);
    t = _mm512_max_ps(_mm512_set1_ps(-127.0f), t); /* max(lo, NaN) = NaN */
    __m512 r = _mm512_add_ps(t, magic);
    __m512 f = _mm512_sub_ps(t, _mm512_sub_ps(r, magic));
    __m512 p = ML_EXP2_POLY5(_mm512_fmadd_ps, _mm512_set1_ps, f);
    __m512 sc = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(r), 23));
    return _mm512_mul_ps(p, sc);
}

#define FV __m512
#define FVL 16
#define FSFX(n) n##_avx512
#define FMASK __mmask16
#define F_MASK_N(n) ((__mmask16)((1u << (n)) - 1u))
#define F_LOAD _mm512_load_ps
#define F_STORE _mm512_store_ps
#define F_LOADU _mm512_loadu_ps
#define F_STOREU _mm512_storeu_ps
#define F_BCAST(p) _mm512_set1_ps(*(p))
#define F_SET1 _mm512_set1_ps
#define F_ZERO _mm512_setzero_ps
#define F_FMA _mm512_fmadd_ps
#define F_MUL _mm512_mul_ps
#define F_ADD _mm512_add_ps
#define F_SUB _mm512_sub_ps
#define F_MAX _mm512_max_ps
#define F_MASKLOAD(p, m) _mm512_maskz_loadu_ps(m, p)
#define F_MAXNAN(a, b) \
    _mm512_mask_mov_ps(_mm512_max_ps(a, b), _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q), _mm512_set1_ps(NAN))
#define F_NINF_TO_ZERO(v) \
    _mm512_maskz_mov_ps((__mmask16)~_mm512_cmp_ps_mask(v, _mm512_set1_ps(-INFINITY), _CMP_EQ_OQ), v)
#define F_EXP2N exp2n16
#define F_HSUM _mm512_reduce_add_ps
#define F_HMAX _mm512_reduce_max_ps
#include "fwd_simd_tmpl.h"

#else
int attn_forward_f32_avx512(const attn_geom *g, const float *q, const float *k, const float *v,
                            const float *z, float *out, float *lse, float *y) {
    (void)g; (void)q; (void)k; (void)v; (void)z; (void)out; (void)lse; (void)y;
    return ml_fail(ML_EINVAL, "attn: AVX-512 kernel not built for this target");
}
#endif
