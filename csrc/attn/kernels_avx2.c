/* moonlab attn — AVX2+FMA block kernels (f32 and f64) from simd_tmpl.h; called by kernels.c only
 * when ml_cpu_isa() >= ML_ISA_AVX2. */
#include <math.h>
#include "attn_internal.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma")))

/* exp for 8 floats (Cephes expf polynomial, ~1 ulp); exact 0 below -87.3 (covers -inf); NaN
 * propagates. */
TGT static inline __m256 exp8_ps(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.3f); /* inputs are <= 0 (scores minus their max) */
    __m256 zero = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(lo, x); /* NaN x stays NaN */
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
    return _mm256_andnot_ps(zero, y);
}

/* exp for 4 doubles: n = round(x·log2 e), r = x - n·ln 2 (two-part constant), e^r by its Taylor
 * series to r^13 (|r| <= 0.347: truncation < 1e-17 relative), times 2^n built in the exponent
 * bits. Below -708 the result is 0 (covers -inf); NaN propagates. */
TGT static inline __m256d exp4_pd(__m256d x) {
    const __m256d lo = _mm256_set1_pd(-708.0);
    __m256d zero = _mm256_cmp_pd(x, lo, _CMP_LT_OQ);
    x = _mm256_max_pd(lo, x); /* NaN x stays NaN */
    __m256d n = _mm256_round_pd(_mm256_mul_pd(x, _mm256_set1_pd(1.4426950408889634)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(6.93145751953125e-1), x);
    r = _mm256_fnmadd_pd(n, _mm256_set1_pd(1.42860682030941723212e-6), r);
    static const double c[14] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0,
                                 1.0 / 3628800.0,    1.0 / 362880.0,    1.0 / 40320.0,
                                 1.0 / 5040.0,       1.0 / 720.0,       1.0 / 120.0,
                                 1.0 / 24.0,         1.0 / 6.0,         0.5,
                                 1.0,                1.0};
    __m256d p = _mm256_set1_pd(c[0]);
    for (int i = 1; i < 14; i++) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(c[i]));
    __m128i ni = _mm256_cvtpd_epi32(n); /* NaN -> INT_MIN; p is NaN then anyway */
    __m256i e = _mm256_slli_epi64(_mm256_add_epi64(_mm256_cvtepi32_epi64(ni), _mm256_set1_epi64x(1023)), 52);
    p = _mm256_mul_pd(p, _mm256_castsi256_pd(e));
    return _mm256_andnot_pd(zero, p);
}

TGT static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
TGT static inline float hmax_ps(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
TGT static inline double hsum_pd(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
TGT static inline double hmax_pd(__m256d v) {
    __m128d s = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_max_sd(s, _mm_unpackhi_pd(s, s)));
}

#define T float
#define V __m256
#define VL 8
#define SFX(n) attn_##n##_f32_avx2
#define VLOAD _mm256_loadu_ps
#define VSTORE _mm256_storeu_ps
#define VSET1 _mm256_set1_ps
#define VZERO _mm256_setzero_ps
#define VFMA _mm256_fmadd_ps
#define VADD _mm256_add_ps
#define VSUB _mm256_sub_ps
#define VMAX _mm256_max_ps
#define VMUL _mm256_mul_ps
#define VDIV _mm256_div_ps
#define VMIN _mm256_min_ps
#define VHSUM hsum_ps
#define VHMAX hmax_ps
#define VEXP exp8_ps
#define SEXP expf
#define NAN_T __m256
#define NAN_INIT _mm256_setzero_ps()
#define NAN_UPD(a, x) _mm256_or_ps(a, _mm256_cmp_ps(x, x, _CMP_UNORD_Q))
#define NAN_ANY(a) _mm256_movemask_ps(a)
#include "simd_tmpl.h"

#define T double
#define V __m256d
#define VL 4
#define SFX(n) attn_##n##_f64_avx2
#define VLOAD _mm256_loadu_pd
#define VSTORE _mm256_storeu_pd
#define VSET1 _mm256_set1_pd
#define VZERO _mm256_setzero_pd
#define VFMA _mm256_fmadd_pd
#define VADD _mm256_add_pd
#define VSUB _mm256_sub_pd
#define VMAX _mm256_max_pd
#define VMUL _mm256_mul_pd
#define VDIV _mm256_div_pd
#define VMIN _mm256_min_pd
#define VHSUM hsum_pd
#define VHMAX hmax_pd
#define VEXP exp4_pd
#define SEXP exp
#define NAN_T __m256d
#define NAN_INIT _mm256_setzero_pd()
#define NAN_UPD(a, x) _mm256_or_pd(a, _mm256_cmp_pd(x, x, _CMP_UNORD_Q))
#define NAN_ANY(a) _mm256_movemask_pd(a)
#include "simd_tmpl.h"

#endif
