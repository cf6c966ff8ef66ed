/* moonlab attn — AVX-512F block kernels (f32 and f64) from simd_tmpl.h; called by kernels.c only
 * when ml_cpu_isa() == ML_ISA_AVX512. Compiled with target attributes, so the library builds and
 * runs on CPUs without AVX-512. */
#include <math.h>
#include "attn_internal.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx2,fma")))

/* exp for 16 floats (same Cephes polynomial as the AVX2 kernel); 0 below -87.3; NaN propagates. */
TGT static inline __m512 exp16_ps(__m512 x) {
    const __m512 lo = _mm512_set1_ps(-87.3f);
    __mmask16 zero = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
    x = _mm512_max_ps(lo, x);
    __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), x);
    __m512 y = _mm512_set1_ps(1.9875691500E-4f);
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507E-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073E-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894E-2f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459E-1f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201E-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(x, x), _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
    y = _mm512_scalef_ps(y, fx);
    return _mm512_maskz_mov_ps(~zero, y);
}

/* exp for 8 doubles: the AVX2 kernel's range reduction and Taylor series, 2^n by scalef. */
TGT static inline __m512d exp8_pd(__m512d x) {
    const __m512d lo = _mm512_set1_pd(-708.0);
    __mmask8 zero = _mm512_cmp_pd_mask(x, lo, _CMP_LT_OQ);
    x = _mm512_max_pd(lo, x);
    __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(1.4426950408889634)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(6.93145751953125e-1), x);
    r = _mm512_fnmadd_pd(n, _mm512_set1_pd(1.42860682030941723212e-6), r);
    static const double c[14] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0,
                                 1.0 / 3628800.0,    1.0 / 362880.0,    1.0 / 40320.0,
                                 1.0 / 5040.0,       1.0 / 720.0,       1.0 / 120.0,
                                 1.0 / 24.0,         1.0 / 6.0,         0.5,
                                 1.0,                1.0};
    __m512d p = _mm512_set1_pd(c[0]);
    for (int i = 1; i < 14; i++) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(c[i]));
    return _mm512_maskz_mov_pd((__mmask8)~zero, _mm512_scalef_pd(p, n));
}

#define T float
#define V __m512
#define VL 16
#define SFX(n) attn_##n##_f32_avx512
#define VLOAD _mm512_loadu_ps
#define VSTORE _mm512_storeu_ps
#define VSET1 _mm512_set1_ps
#define VZERO _mm512_setzero_ps
#define VFMA _mm512_fmadd_ps
#define VADD _mm512_add_ps
#define VSUB _mm512_sub_ps
#define VMAX _mm512_max_ps
#define VMUL _mm512_mul_ps
#define VDIV _mm512_div_ps
#define VMIN _mm512_min_ps
#define VHSUM _mm512_reduce_add_ps
#define VHMAX _mm512_reduce_max_ps
#define VEXP exp16_ps
#define SEXP expf
#define NAN_T __mmask16
#define NAN_INIT 0
#define NAN_UPD(a, x) (__mmask16)((a) | _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q))
#define NAN_ANY(a) ((a) != 0)
#include "simd_tmpl.h"

#define T double
#define V __m512d
#define VL 8
#define SFX(n) attn_##n##_f64_avx512
#define VLOAD _mm512_loadu_pd
#define VSTORE _mm512_storeu_pd
#define VSET1 _mm512_set1_pd
#define VZERO _mm512_setzero_pd
#define VFMA _mm512_fmadd_pd
#define VADD _mm512_add_pd
#define VSUB _mm512_sub_pd
#define VMAX _mm512_max_pd
#define VMUL _mm512_mul_pd
#define VDIV _mm512_div_pd
#define VMIN _mm512_min_pd
#define VHSUM _mm512_reduce_add_pd
#define VHMAX _mm512_reduce_max_pd
#define VEXP exp8_pd
#define SEXP exp
#define NAN_T __mmask8
#define NAN_INIT 0
#define NAN_UPD(a, x) (__mmask8)((a) | _mm512_cmp_pd_mask(x, x, _CMP_UNORD_Q))
#define NAN_ANY(a) ((a) != 0)
#include "simd_tmpl.h"
#endif
