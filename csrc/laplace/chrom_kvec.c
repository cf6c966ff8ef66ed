/* moonlab chrom — the impulse-response kernel over arrays (chrom_kvec.h), one instance of
 * chrom_kvec_tmpl.h per instruction set, picked by ml_cpu_isa() (MOONLAB_ISA forces a lower one). */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "chrom_kvec.h"
#include "moonlab/cpu.h"

#define KV_Y0 156.25 /* z = 2 sqrt(y) = 25 */
#define KV_NS 40 /* 39 terms and a zero: four chains of 10 */
#define KV_NA 24 /* 22 terms and two zeros: four chains of 6 */
#define KV_MAGIC_BITS 0x4338000000000000ULL /* bits of 0x1.8p52 */

/* 1/(m! (m+1)!), m = 0..38 */
static const double KV_SC[KV_NS] = {
    1, 0.5, 0.083333333333333329, 0.0069444444444444441, 0.00034722222222222224, 1.1574074074074073e-05,
    2.7557319223985888e-07, 4.9209498614260522e-09, 6.8346525853139614e-11, 7.5940584281266231e-13,
    6.9036894801151122e-15, 5.230067787965994e-17, 3.3526075563884579e-19, 1.842092063949702e-21,
    8.7718669711890575e-24, 3.6549445713287741e-26, 1.3437296218120491e-28, 4.3912732738955857e-31,
    1.2839980333028028e-33, 3.3789421929021126e-36, 8.0451004592907443e-39, 1.7413637357772174e-41,
    3.4414303078601135e-44, 6.2344751953987565e-47, 1.0390791992331261e-49, 1.5985833834355786e-52,
    2.2771843068882885e-55, 3.0121485540850376e-58, 3.7095425542919185e-61, 4.2638420164274928e-64,
    4.5847763617499917e-67, 4.6217503646673306e-70, 4.3766575422986083e-73, 3.9007642979488491e-76,
    3.2779531915536543e-79, 2.6015501520267099e-82, 1.9531157297497823e-85, 1.3891292530226046e-88,
    9.3733417882766846e-92, 0};
/* Hankel's coefficients for order 1: prod_{j<=k} ((2j-1)^2 - 4)/(8j), k = 0..21 */
static const double KV_AC[KV_NA] = {
    1, -0.375, -0.1171875, -0.1025390625, -0.144195556640625, -0.27757644653320312, -0.67659258842468262,
    -1.993531733751297, -6.8839142681099474, -27.248827311268542, -121.59789187653587, -603.84407670507017,
    -3302.2722944808525, -19718.375912236628, -127641.27264617461, -890297.87670706783, -6656367.7188176876,
    -53104110.109685227, -450278600.30503929, -4043620325.1077542, -38338575207.427895,
    -382701134659.8606, 0, 0};
/* 1/i!, i = 0..13 (exp) */
static const double KV_EC[14] = {1, 1, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
                                 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600,
                                 1.0 / 6227020800.0};

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
/* baseline x86-64: SSE2, two lanes */
typedef double v2d __attribute__((vector_size(16)));
typedef long long v2i __attribute__((vector_size(16)));
#define KV_NAME kern_scalar
#define KV_TGT
#define KV_W 2
#define VD v2d
#define VI v2i
#define KV_FMA(x, y, z) ((x) * (y) + (z))
#define KV_SQRT(v) ((v2d)_mm_sqrt_pd((__m128d)(v)))
#include "chrom_kvec_tmpl.h"

typedef double v4d __attribute__((vector_size(32)));
typedef long long v4i __attribute__((vector_size(32)));
#define KV_NAME kern_avx2
#define KV_TGT __attribute__((target("avx2,fma")))
#define KV_W 4
#define VD v4d
#define VI v4i
#define KV_FMA(x, y, z) ((v4d)_mm256_fmadd_pd((__m256d)(x), (__m256d)(y), (__m256d)(z)))
#define KV_SQRT(v) ((v4d)_mm256_sqrt_pd((__m256d)(v)))
#include "chrom_kvec_tmpl.h"

typedef double v8d __attribute__((vector_size(64)));
typedef long long v8i __attribute__((vector_size(64)));
#define KV_NAME kern_avx512
#define KV_TGT __attribute__((target("avx512f,avx2,fma")))
#define KV_W 8
#define VD v8d
#define VI v8i
#define KV_FMA(x, y, z) ((v8d)_mm512_fmadd_pd((__m512d)(x), (__m512d)(y), (__m512d)(z)))
#define KV_SQRT(v) ((v8d)_mm512_sqrt_pd((__m512d)(v)))
#include "chrom_kvec_tmpl.h"
#else
/* other targets: one lane */
typedef double v1d __attribute__((vector_size(8)));
typedef long long v1i __attribute__((vector_size(8)));
#define KV_NAME kern_scalar
#define KV_TGT
#define KV_W 1
#define VD v1d
#define VI v1i
#define KV_FMA(x, y, z) ((x) * (y) + (z))
#define KV_SQRT(v) ((v1d){sqrt((v)[0])})
#include "chrom_kvec_tmpl.h"
#endif

/* See chrom_kvec.h. */
chrom_kern_fn chrom_kern_pick(void) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    ml_isa isa = ml_cpu_isa();
    if (isa == ML_ISA_AVX512) return kern_avx512;
    if (isa == ML_ISA_AVX2) return kern_avx2;
#endif
    return kern_scalar;
}
