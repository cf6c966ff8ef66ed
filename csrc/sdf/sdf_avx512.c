/* The SDF core's AVX-512F kernels (8 doubles) from simd_tmpl.h: sdf_vexp_avx512 (vexp.c) and
 * sdf_bisect_above_avx512 (bisect.c), called when ml_cpu_isa() is ML_ISA_AVX512. Compiled with target attributes,
 * so it builds for any x86-64. */
#include <math.h>
#include "bisect.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx2,fma")))

/* inclusive prefix sums of 8 lanes: shifts by 1, 2, 4 lanes (zeros shifted in) */
TGT static inline __attribute__((always_inline)) __m512d prefix8(__m512d v)
{
    v = _mm512_add_pd(v, _mm512_maskz_permutexvar_pd(0xFE, _mm512_set_epi64(6, 5, 4, 3, 2, 1, 0, 0), v));
    v = _mm512_add_pd(v, _mm512_maskz_permutexvar_pd(0xFC, _mm512_set_epi64(5, 4, 3, 2, 1, 0, 0, 0), v));
    return _mm512_add_pd(v, _mm512_maskz_permutexvar_pd(0xF0, _mm512_set_epi64(3, 2, 1, 0, 0, 0, 0, 0), v));
}

#define V __m512d
#define M __mmask8
#define VL 8
#define SFX(name) name##_avx512
#define VLOAD(p) _mm512_loadu_pd(p)
#define VSTORE(p, v) _mm512_storeu_pd(p, v)
#define VSET1(x) _mm512_set1_pd(x)
#define VZERO() _mm512_setzero_pd()
#define VADD(a, b) _mm512_add_pd(a, b)
#define VSUB(a, b) _mm512_sub_pd(a, b)
#define VMUL(a, b) _mm512_mul_pd(a, b)
#define VMIN(a, b) _mm512_min_pd(a, b)
#define VMAX(a, b) _mm512_max_pd(a, b)
#define VFMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define VFNMA(a, b, c) _mm512_fnmadd_pd(a, b, c)
#define VROUND(x) _mm512_roundscale_pd(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VPOW2(p, k) _mm512_scalef_pd(p, k)
#define VLT(a, b) _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ)
#define VGT(a, b) _mm512_cmp_pd_mask(a, b, _CMP_GT_OQ)
#define VNLE(a, b) _mm512_cmp_pd_mask(a, b, _CMP_NLE_UQ)
#define VUNORD(a, b) _mm512_cmp_pd_mask(a, b, _CMP_UNORD_Q)
#define MAND(a, b) ((__mmask8)((a) & (b)))
#define MANY(m) ((m) != 0)
#define MALL(m) ((m) == 0xFF)
#define VSEL(m, a, b) _mm512_mask_blend_pd(m, b, a)
#define VPREFIX(v) prefix8(v)
#define VLAST(v) _mm512_permutexvar_pd(_mm512_set1_epi64(7), v)
#define VDIV(a, b) _mm512_div_pd(a, b)
#define VSQRT(x) _mm512_sqrt_pd(x)
#define VABS(x) _mm512_abs_pd(x)
#define VLE(a, b) _mm512_cmp_pd_mask(a, b, _CMP_LE_OQ)
#define VGE(a, b) _mm512_cmp_pd_mask(a, b, _CMP_GE_OQ)
#define MOR(a, b) ((__mmask8)((a) | (b)))
#include "simd_tmpl.h"
#endif
