/* Vectorised line kernels of the float reductions (see reduce_simd.h). The AVX-512 and AVX2 kernels
 * are compiled with target attributes, so the library still runs on CPUs without them; ml_cpu_isa()
 * (capped by MOONLAB_ISA) picks the path on every call. */
#include "reduce_simd.h"
#include "moonlab/cpu.h"

#if defined(__GNUC__) && defined(__x86_64__)
#define HAVE_X86 1
#include <immintrin.h>
#define TGT512 __attribute__((target("avx512f,avx2,fma")))
#define TGT256 __attribute__((target("avx2,fma")))
#else
#define HAVE_X86 0
#endif

#define LANES 32

/* Lane j holds the elements j, j+32, j+64, ... of a block; the lanes are combined as a pairwise tree
 * and the tail (n mod 32 elements) is added to its lanes first, identically on every path. */
static double lanes_total(double *a, int64_t i, int64_t n, const float *xf, const double *xd)
{
    for (int64_t k = i; k < n; k++) a[k - i] += xf ? (double)xf[k] : xd[k];
    for (int w = LANES / 2; w; w >>= 1)
        for (int j = 0; j < w; j++) a[j] += a[j + w];
    return a[0];
}

static double blk_f32_c(const float *x, int64_t n)
{
    double a[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) a[j] += (double)x[i + j];
    return lanes_total(a, i, n, x, 0);
}

static double blk_f64_c(const double *x, int64_t n)
{
    double a[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) a[j] += x[i + j];
    return lanes_total(a, i, n, 0, x);
}

#if HAVE_X86
/* lanes_total's tree (no tail) in registers, the same additions in the same order: lanes 0-7, 8-15, 16-23,
 * 24-31 are in a0..a3 (AVX-512) or lanes 4k..4k+3 in a[k] (AVX2). */
TGT512 static double tree_512(__m512d a0, __m512d a1, __m512d a2, __m512d a3)
{
    __m512d b = _mm512_add_pd(_mm512_add_pd(a0, a2), _mm512_add_pd(a1, a3)); /* w = 16, then w = 8 */
    __m256d c = _mm256_add_pd(_mm512_castpd512_pd256(b), _mm512_extractf64x4_pd(b, 1)); /* w = 4 */
    __m128d d = _mm_add_pd(_mm256_castpd256_pd128(c), _mm256_extractf128_pd(c, 1));   /* w = 2 */
    return _mm_cvtsd_f64(_mm_add_sd(d, _mm_unpackhi_pd(d, d)));                         /* w = 1 */
}

TGT256 static double tree_256(const __m256d *a)
{
    __m256d b0 = _mm256_add_pd(a[0], a[4]), b1 = _mm256_add_pd(a[1], a[5]); /* w = 16 */
    __m256d b2 = _mm256_add_pd(a[2], a[6]), b3 = _mm256_add_pd(a[3], a[7]);
    __m256d c = _mm256_add_pd(_mm256_add_pd(b0, b2), _mm256_add_pd(b1, b3)); /* w = 8, then w = 4 */
    __m128d d = _mm_add_pd(_mm256_castpd256_pd128(c), _mm256_extractf128_pd(c, 1)); /* w = 2 */
    return _mm_cvtsd_f64(_mm_add_sd(d, _mm_unpackhi_pd(d, d)));                       /* w = 1 */
}

TGT512 static double blk_f32_512(const float *x, int64_t n)
{
    __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm256_loadu_ps(x + i)));
        a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8)));
        a2 = _mm512_add_pd(a2, _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 16)));
        a3 = _mm512_add_pd(a3, _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 24)));
    }
    if (i == n) return tree_512(a0, a1, a2, a3);
    double a[LANES];
    _mm512_storeu_pd(a, a0);
    _mm512_storeu_pd(a + 8, a1);
    _mm512_storeu_pd(a + 16, a2);
    _mm512_storeu_pd(a + 24, a3);
    return lanes_total(a, i, n, x, 0);
}

TGT512 static double blk_f64_512(const double *x, int64_t n)
{
    __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        a0 = _mm512_add_pd(a0, _mm512_loadu_pd(x + i));
        a1 = _mm512_add_pd(a1, _mm512_loadu_pd(x + i + 8));
        a2 = _mm512_add_pd(a2, _mm512_loadu_pd(x + i + 16));
        a3 = _mm512_add_pd(a3, _mm512_loadu_pd(x + i + 24));
    }
    if (i == n) return tree_512(a0, a1, a2, a3);
    double a[LANES];
    _mm512_storeu_pd(a, a0);
    _mm512_storeu_pd(a + 8, a1);
    _mm512_storeu_pd(a + 16, a2);
    _mm512_storeu_pd(a + 24, a3);
    return lanes_total(a, i, n, 0, x);
}

TGT256 static double blk_f32_256(const float *x, int64_t n)
{
    __m256d a[8];
    for (int k = 0; k < 8; k++) a[k] = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < 8; k++) a[k] = _mm256_add_pd(a[k], _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4 * k)));
    if (i == n) return tree_256(a);
    double s[LANES];
    for (int k = 0; k < 8; k++) _mm256_storeu_pd(s + 4 * k, a[k]);
    return lanes_total(s, i, n, x, 0);
}

TGT256 static double blk_f64_256(const double *x, int64_t n)
{
    __m256d a[8];
    for (int k = 0; k < 8; k++) a[k] = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < 8; k++) a[k] = _mm256_add_pd(a[k], _mm256_loadu_pd(x + i + 4 * k));
    if (i == n) return tree_256(a);
    double s[LANES];
    for (int k = 0; k < 8; k++) _mm256_storeu_pd(s + 4 * k, a[k]);
    return lanes_total(s, i, n, 0, x);
}
#endif

typedef double (*blk32_fn)(const float *, int64_t);
typedef double (*blk64_fn)(const double *, int64_t);

#define PAIRWISE(NAME, T, FN)                                                                     \
    static double NAME(FN blk, const T *x, int64_t n)                                             \
    {                                                                                             \
        if (n <= ML_RSUM_BLOCK) return blk(x, n);                                                 \
        int64_t h = (n / 2 + ML_RSUM_BLOCK - 1) / ML_RSUM_BLOCK * ML_RSUM_BLOCK;                  \
        return NAME(blk, x, h) + NAME(blk, x + h, n - h);                                         \
    }
PAIRWISE(pairwise_f32, float, blk32_fn)
PAIRWISE(pairwise_f64, double, blk64_fn)

#if HAVE_X86
#define PICK_SUM(C, V512, V256) (ml_cpu_isa() == ML_ISA_AVX512 ? V512 : ml_cpu_isa() == ML_ISA_AVX2 ? V256 : C)
#else
#define PICK_SUM(C, V512, V256) C
#endif
double ml_rsum_f32(const float *x, int64_t n) { return pairwise_f32(PICK_SUM(blk_f32_c, blk_f32_512, blk_f32_256), x, n); }
double ml_rsum_f64(const double *x, int64_t n) { return pairwise_f64(PICK_SUM(blk_f64_c, blk_f64_512, blk_f64_256), x, n); }

/* ---- max / min ---- */

/* Portable: 16 independent lanes; NaN seen through v != v. */
#define EXT_C(NAME, T, BETTER)                                                                    \
    static T NAME(const T *x, int64_t n, int *nan)                                                \
    {                                                                                             \
        T lm[16];                                                                                 \
        unsigned char bad = 0;                                                                    \
        for (int j = 0; j < 16; j++) lm[j] = x[0];                                                \
        int64_t i = 0;                                                                            \
        for (; i + 16 <= n; i += 16)                                                              \
            for (int j = 0; j < 16; j++) {                                                        \
                T v = x[i + j];                                                                   \
                lm[j] = BETTER(v, lm[j]) ? v : lm[j];                                             \
                bad |= v != v;                                                                    \
            }                                                                                     \
        for (; i < n; i++) {                                                                      \
            T v = x[i];                                                                           \
            lm[0] = BETTER(v, lm[0]) ? v : lm[0];                                                 \
            bad |= v != v;                                                                        \
        }                                                                                         \
        T m = lm[0];                                                                              \
        for (int j = 1; j < 16; j++) m = BETTER(lm[j], m) ? lm[j] : m;                            \
        *nan = bad;                                                                               \
        return m;                                                                                 \
    }
#define GT(a, b) ((a) > (b))
#define LT(a, b) ((a) < (b))
EXT_C(max_f32_c, float, GT)
EXT_C(min_f32_c, float, LT)
EXT_C(max_f64_c, double, GT)
EXT_C(min_f64_c, double, LT)

#if HAVE_X86
/* Four vector accumulators (OP(v, m) keeps m where v is NaN); unordered compares collect NaNs in a mask.
 * The scalar tail and the lane combination use the portable kernel's rules. */
#define EXT_V(NAME, T, TGT, VT, W, LOAD, OP, UNORD, STORE, BETTER, PORT)                          \
    TGT static T NAME(const T *x, int64_t n, int *nan)                                            \
    {                                                                                             \
        if (n < 4 * W) return PORT(x, n, nan);                                                    \
        VT m0 = LOAD(x), m1 = LOAD(x + W), m2 = LOAD(x + 2 * W), m3 = LOAD(x + 3 * W);           \
        int bad = UNORD(m0) | UNORD(m1) | UNORD(m2) | UNORD(m3);                                  \
        int64_t i = 4 * W;                                                                        \
        for (; i + 4 * W <= n; i += 4 * W) {                                                      \
            VT v0 = LOAD(x + i), v1 = LOAD(x + i + W), v2 = LOAD(x + i + 2 * W), v3 = LOAD(x + i + 3 * W); \
            m0 = OP(v0, m0);                                                                      \
            m1 = OP(v1, m1);                                                                      \
            m2 = OP(v2, m2);                                                                      \
            m3 = OP(v3, m3);                                                                      \
            bad |= UNORD(v0) | UNORD(v1) | UNORD(v2) | UNORD(v3);                                 \
        }                                                                                         \
        T a[4 * W];                                                                               \
        STORE(a, m0);                                                                             \
        STORE(a + W, m1);                                                                         \
        STORE(a + 2 * W, m2);                                                                     \
        STORE(a + 3 * W, m3);                                                                     \
        T m = a[0];                                                                               \
        for (int j = 1; j < 4 * W; j++) m = BETTER(a[j], m) ? a[j] : m;                           \
        for (; i < n; i++) {                                                                      \
            T v = x[i];                                                                           \
            m = BETTER(v, m) ? v : m;                                                             \
            bad |= v != v;                                                                        \
        }                                                                                         \
        *nan = bad != 0;                                                                          \
        return m;                                                                                 \
    }
#define UN512S(v) (int)_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q)
#define UN512D(v) (int)_mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q)
#define UN256S(v) _mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q))
#define UN256D(v) _mm256_movemask_pd(_mm256_cmp_pd(v, v, _CMP_UNORD_Q))
EXT_V(max_f32_512, float, TGT512, __m512, 16, _mm512_loadu_ps, _mm512_max_ps, UN512S, _mm512_storeu_ps, GT, max_f32_c)
EXT_V(min_f32_512, float, TGT512, __m512, 16, _mm512_loadu_ps, _mm512_min_ps, UN512S, _mm512_storeu_ps, LT, min_f32_c)
EXT_V(max_f64_512, double, TGT512, __m512d, 8, _mm512_loadu_pd, _mm512_max_pd, UN512D, _mm512_storeu_pd, GT, max_f64_c)
EXT_V(min_f64_512, double, TGT512, __m512d, 8, _mm512_loadu_pd, _mm512_min_pd, UN512D, _mm512_storeu_pd, LT, min_f64_c)
EXT_V(max_f32_256, float, TGT256, __m256, 8, _mm256_loadu_ps, _mm256_max_ps, UN256S, _mm256_storeu_ps, GT, max_f32_c)
EXT_V(min_f32_256, float, TGT256, __m256, 8, _mm256_loadu_ps, _mm256_min_ps, UN256S, _mm256_storeu_ps, LT, min_f32_c)
EXT_V(max_f64_256, double, TGT256, __m256d, 4, _mm256_loadu_pd, _mm256_max_pd, UN256D, _mm256_storeu_pd, GT, max_f64_c)
EXT_V(min_f64_256, double, TGT256, __m256d, 4, _mm256_loadu_pd, _mm256_min_pd, UN256D, _mm256_storeu_pd, LT, min_f64_c)
#endif

typedef float (*ext32_fn)(const float *, int64_t, int *);
typedef double (*ext64_fn)(const double *, int64_t, int *);

/* The kernel of this CPU's level among F512, F256 and the portable FC. */
#if HAVE_X86
#define PICK_ISA(NAME, FN, F512, F256, FC)                                                        \
    static FN NAME(void)                                                                          \
    {                                                                                             \
        ml_isa isa = ml_cpu_isa();                                                                \
        return isa == ML_ISA_AVX512 ? F512 : isa == ML_ISA_AVX2 ? F256 : FC;                      \
    }
#else
#define PICK_ISA(NAME, FN, F512, F256, FC) \
    static FN NAME(void) { return FC; }
#endif
PICK_ISA(pickmax32, ext32_fn, max_f32_512, max_f32_256, max_f32_c)
PICK_ISA(pickmin32, ext32_fn, min_f32_512, min_f32_256, min_f32_c)
PICK_ISA(pickmax64, ext64_fn, max_f64_512, max_f64_256, max_f64_c)
PICK_ISA(pickmin64, ext64_fn, min_f64_512, min_f64_256, min_f64_c)

/* The max (sign > 0) or min kernel of this CPU's level. */
static ext32_fn pick32(int sign) { return sign > 0 ? pickmax32() : pickmin32(); }
static ext64_fn pick64(int sign) { return sign > 0 ? pickmax64() : pickmin64(); }

float ml_rext_f32(const float *x, int64_t n, int sign, int *nan) { return pick32(sign)(x, n, nan); }
double ml_rext_f64(const double *x, int64_t n, int sign, int *nan) { return pick64(sign)(x, n, nan); }

/* Index of the first element of x [n] equal to v (v is there: a value the block held). */
#define FIND_C(NAME, T)                                                                           \
    static int64_t NAME(const T *x, int64_t n, T v)                                               \
    {                                                                                             \
        int64_t j = 0;                                                                            \
        while (j < n - 1 && x[j] != v) j++;                                                       \
        return j;                                                                                 \
    }
FIND_C(find_f32_c, float)
FIND_C(find_f64_c, double)

#if HAVE_X86
/* The same, four vectors per step: equal lanes as a bit mask, the lowest set bit is the answer. */
#define FIND_V(NAME, T, TGT, VT, W, LOAD, SET1, EQMASK, PORT)                                     \
    TGT static int64_t NAME(const T *x, int64_t n, T v)                                           \
    {                                                                                             \
        VT b = SET1(v);                                                                           \
        int64_t i = 0;                                                                            \
        for (; i + 4 * W <= n; i += 4 * W) {                                                      \
            uint64_t q = (uint64_t)EQMASK(LOAD(x + i), b) | (uint64_t)EQMASK(LOAD(x + i + W), b) << W | \
                         (uint64_t)EQMASK(LOAD(x + i + 2 * W), b) << (2 * W) |                    \
                         (uint64_t)EQMASK(LOAD(x + i + 3 * W), b) << (3 * W);                     \
            if (q) return i + __builtin_ctzll(q);                                                 \
        }                                                                                         \
        return i + PORT(x + i, n - i, v);                                                         \
    }
#define EQ512S(a, b) _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ)
#define EQ512D(a, b) _mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ)
#define EQ256S(a, b) _mm256_movemask_ps(_mm256_cmp_ps(a, b, _CMP_EQ_OQ))
#define EQ256D(a, b) _mm256_movemask_pd(_mm256_cmp_pd(a, b, _CMP_EQ_OQ))
FIND_V(find_f32_512, float, TGT512, __m512, 16, _mm512_loadu_ps, _mm512_set1_ps, EQ512S, find_f32_c)
FIND_V(find_f64_512, double, TGT512, __m512d, 8, _mm512_loadu_pd, _mm512_set1_pd, EQ512D, find_f64_c)
FIND_V(find_f32_256, float, TGT256, __m256, 8, _mm256_loadu_ps, _mm256_set1_ps, EQ256S, find_f32_c)
FIND_V(find_f64_256, double, TGT256, __m256d, 4, _mm256_loadu_pd, _mm256_set1_pd, EQ256D, find_f64_c)
#endif

typedef int64_t (*find32_fn)(const float *, int64_t, float);
typedef int64_t (*find64_fn)(const double *, int64_t, double);

PICK_ISA(pickf32, find32_fn, find_f32_512, find_f32_256, find_f32_c)
PICK_ISA(pickf64, find64_fn, find_f64_512, find_f64_256, find_f64_c)

/* argmax/argmin in one pass over memory: the extreme of each cache-sized block, then a vector scan of the
 * block that first held the final extreme (or a scan of the first block with a NaN) for its position. */
#define ARG_BLOCK 16384
#define ARG(NAME, T, FN, PICK, FFN, FPICK)                                                        \
    int64_t NAME(const T *x, int64_t n, int sign)                                                 \
    {                                                                                             \
        FN f = PICK(sign);                                                                        \
        int64_t bb = 0;                                                                           \
        T best = 0;                                                                               \
        for (int64_t b = 0; b < n; b += ARG_BLOCK) {                                              \
            int64_t m = n - b < ARG_BLOCK ? n - b : ARG_BLOCK, j = b;                             \
            int nan = 0;                                                                          \
            T v = f(x + b, m, &nan);                                                              \
            if (nan) {                                                                            \
                while (x[j] == x[j]) j++;                                                         \
                return j;                                                                         \
            }                                                                                     \
            if (b == 0 || (sign > 0 ? v > best : v < best)) best = v, bb = b;                     \
        }                                                                                         \
        FFN find = FPICK();                                                                       \
        int64_t m = n - bb < ARG_BLOCK ? n - bb : ARG_BLOCK;                                      \
        return bb + find(x + bb, m, best);                                                        \
    }
ARG(ml_rarg_f32, float, ext32_fn, pick32, find32_fn, pickf32)
ARG(ml_rarg_f64, double, ext64_fn, pick64, find64_fn, pickf64)
