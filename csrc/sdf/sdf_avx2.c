/* The SDF core's AVX2+FMA kernels (4 doubles) from simd_tmpl.h: sdf_vexp_avx2 (vexp.c) and sdf_bisect_above_avx2
 * (bisect.c), called when ml_cpu_isa() is ML_ISA_AVX2. Compiled with target attributes, so it builds for any
 * x86-64. */
#include <math.h>
#include "bisect.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma")))

/* [a, a+b, a+b+c, a+b+c+d] of [a, b, c, d] */
TGT static inline __attribute__((always_inline)) __m256d prefix4(__m256d v)
{
    v = _mm256_add_pd(v, _mm256_blend_pd(_mm256_permute4x64_pd(v, 0x90), _mm256_setzero_pd(), 1));
    return _mm256_add_pd(v, _mm256_permute2f128_pd(v, v, 0x08));
}

/* p·2^k: k + 1023 put in the exponent bits */
TGT static inline __attribute__((always_inline)) __m256d pow2(__m256d p, __m256d k)
{
    __m128i e = _mm_add_epi32(_mm256_cvtpd_epi32(k), _mm_set1_epi32(1023));
    return _mm256_mul_pd(p, _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_cvtepi32_epi64(e), 52)));
}

#define V __m256d
#define M __m256d
#define VL 4
#define SFX(name) name##_avx2
#define VLOAD(p) _mm256_loadu_pd(p)
#define VSTORE(p, v) _mm256_storeu_pd(p, v)
#define VSET1(x) _mm256_set1_pd(x)
#define VZERO() _mm256_setzero_pd()
#define VADD(a, b) _mm256_add_pd(a, b)
#define VSUB(a, b) _mm256_sub_pd(a, b)
#define VMUL(a, b) _mm256_mul_pd(a, b)
#define VMIN(a, b) _mm256_min_pd(a, b)
#define VMAX(a, b) _mm256_max_pd(a, b)
#define VFMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define VFNMA(a, b, c) _mm256_fnmadd_pd(a, b, c)
#define VROUND(x) _mm256_round_pd(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VPOW2(p, k) pow2(p, k)
#define VLT(a, b) _mm256_cmp_pd(a, b, _CMP_LT_OQ)
#define VGT(a, b) _mm256_cmp_pd(a, b, _CMP_GT_OQ)
#define VNLE(a, b) _mm256_cmp_pd(a, b, _CMP_NLE_UQ)
#define VUNORD(a, b) _mm256_cmp_pd(a, b, _CMP_UNORD_Q)
#define MAND(a, b) _mm256_and_pd(a, b)
#define MANY(m) (_mm256_movemask_pd(m) != 0)
#define MALL(m) (_mm256_movemask_pd(m) == 0xF)
#define VSEL(m, a, b) _mm256_blendv_pd(b, a, m)
#define VPREFIX(v) prefix4(v)
#define VLAST(v) _mm256_permute4x64_pd(v, 0xFF)
#define VDIV(a, b) _mm256_div_pd(a, b)
#define VSQRT(x) _mm256_sqrt_pd(x)
#define VABS(x) _mm256_andnot_pd(_mm256_set1_pd(-0.0), x)
#define VLE(a, b) _mm256_cmp_pd(a, b, _CMP_LE_OQ)
#define VGE(a, b) _mm256_cmp_pd(a, b, _CMP_GE_OQ)
#define MOR(a, b) _mm256_or_pd(a, b)
#include "simd_tmpl.h"
#endif
