/* Counter-based random numbers: element i of a seeded draw is a pure
 * function of (seed, i), so results do not depend on threads or machines.
 * The mixer is SplitMix64 (Steele, Lea & Flood 2014) applied to
 * seed-derived key + counter * golden gamma. */
#include <math.h>
#include "moonlab/tensor.h"
#include "clones.h"
#include "vmath.h"
#include "moonlab/cpu.h"

#define GAMMA 0x9e3779b97f4a7c15ULL

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t ml_rng_u64(uint64_t seed, uint64_t counter)
{
    uint64_t key = mix64(seed + GAMMA);
    return mix64(key + (counter + 1) * GAMMA);
}

double ml_rng_uniform(uint64_t seed, uint64_t counter)
{
    return (double)(ml_rng_u64(seed, counter) >> 11) * 0x1.0p-53;
}

/* Box–Muller on the uniforms u1 = (top 53 bits of z1 + 1/2) 2^-53 in (0, 1] and u2 = (top 53 bits of z2) 2^-53
 * in [0, 1) (cosine branch): sqrt(-2 log u1) cos(2 pi u2), log and cos from vmath.h so that the bulk fill below
 * gives the same bits on every path. The conversions are exact either way: a plain cast where it is one
 * instruction (scalar, AVX-512DQ), ml_vm_u53 in vector code without AVX-512DQ. */
static inline __attribute__((always_inline)) double box_muller(uint64_t z1, uint64_t z2, int cast)
{
    uint64_t m1 = z1 >> 11, m2 = z2 >> 11;
    double d1 = cast ? (double)(int64_t)m1 : ml_vm_u53(m1), d2 = cast ? (double)(int64_t)m2 : ml_vm_u53(m2);
    double u1 = (d1 + 0.5) * 0x1.0p-53, u2 = d2 * 0x1.0p-53;
    return sqrt(-2.0 * ml_vm_log(u1)) * ml_vm_cos2pi(u2);
}

/* N(0, 1) draw number `counter` of a seed: Box–Muller (above) on the uniforms at counters 2c and 2c+1. */
double ml_rng_normal(uint64_t seed, uint64_t counter)
{
    uint64_t key = mix64(seed + GAMMA);
    return box_muller(mix64(key + (2 * counter + 1) * GAMMA), mix64(key + (2 * counter + 2) * GAMMA), 1);
}

/* Uniforms lo + w u for counters [i0, i1): ml_rng_uniform inlined with the key hoisted, in a loop the
 * compiler vectorises (64-bit integer mixing, an exact conversion, one multiply and one add: the same bits
 * as the scalar formula on every path). */
#define RAND_FILL(NAME, T)                                                                        \
    CLONES static void NAME(T *d, int64_t i0, int64_t i1, uint64_t key, double lo, double w)      \
    {                                                                                             \
        for (int64_t i = i0; i < i1; i++) {                                                       \
            uint64_t z = mix64(key + ((uint64_t)i + 1) * GAMMA);                                  \
            d[i] = (T)(lo + w * ((double)(int64_t)(z >> 11) * 0x1.0p-53));                        \
        }                                                                                         \
    }
RAND_FILL(rand_fill_f32, float)
RAND_FILL(rand_fill_f64, double)

#define RAND_CHUNK 65536

int ml_tensor_rand(ml_tensor *t, uint64_t seed, double lo, double hi)
{
    int64_t n = t->numel, nc = (n + RAND_CHUNK - 1) / RAND_CHUNK;
    uint64_t key = mix64(seed + GAMMA);
    int f32 = t->dtype == ML_F32;
#pragma omp parallel for if (nc > 1) schedule(static)
    for (int64_t c = 0; c < nc; c++) {
        int64_t i0 = c * RAND_CHUNK, i1 = n - i0 < RAND_CHUNK ? n : i0 + RAND_CHUNK;
        if (f32) rand_fill_f32(ml_f32(t), i0, i1, key, lo, hi - lo);
        else rand_fill_f64(ml_f64(t), i0, i1, key, lo, hi - lo);
    }
    return ML_OK;
}

/* mean + std * normal for counters [i0, i1), compiled for AVX-512, AVX2 and baseline x86-64 from the same C
 * (box_muller inlined); ml_cpu_isa() picks one per call. */
#define RANDN_FILL(NAME, TGT, T, CAST)                                                            \
    TGT static void NAME(T *d, int64_t i0, int64_t i1, uint64_t key, double mean, double sd)      \
    {                                                                                             \
        uint64_t w = key + (2 * (uint64_t)i0 + 1) * GAMMA;                                        \
        for (int64_t i = i0; i < i1; i++, w += 2 * GAMMA)                                         \
            d[i] = (T)(mean + sd * box_muller(mix64(w), mix64(w + GAMMA), CAST));                 \
    }
#if defined(__GNUC__) && defined(__x86_64__) && !defined(ML_NO_CLONES)
#define HAVE_X86 1
#ifdef __clang__ /* no prefer-vector-width in clang's target attribute */
#define TGT512 __attribute__((target("arch=x86-64-v4")))
#else
#define TGT512 __attribute__((target("arch=x86-64-v4,prefer-vector-width=512")))
#endif
#define TGT256 __attribute__((target("avx2")))
RANDN_FILL(randn_f32_512, TGT512, float, 1)
RANDN_FILL(randn_f64_512, TGT512, double, 1)
RANDN_FILL(randn_f32_256, TGT256, float, 0)
RANDN_FILL(randn_f64_256, TGT256, double, 0)
#else
#define HAVE_X86 0
#endif
RANDN_FILL(randn_f32_c, , float, 0)
RANDN_FILL(randn_f64_c, , double, 0)

typedef void (*randn_f32_fn)(float *, int64_t, int64_t, uint64_t, double, double);
typedef void (*randn_f64_fn)(double *, int64_t, int64_t, uint64_t, double, double);

/* Fills f32/f64 t with mean + std * ml_rng_normal(seed, i), i the row-major index (f32: that f64 value rounded),
 * in fixed chunks over threads: the same bits for every thread count and kernel path. */
int ml_tensor_randn(ml_tensor *t, uint64_t seed, double mean, double std)
{
    int64_t n = t->numel, nc = (n + RAND_CHUNK - 1) / RAND_CHUNK;
    uint64_t key = mix64(seed + GAMMA);
    randn_f32_fn f32 = randn_f32_c;
    randn_f64_fn f64 = randn_f64_c;
#if HAVE_X86
    ml_isa isa = ml_cpu_isa();
    /* x86-64-v4 also needs AVX-512 BW/CD/DQ/VL beside the F that ML_ISA_AVX512 promises */
    if (isa == ML_ISA_AVX512 && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512cd"))
        f32 = randn_f32_512, f64 = randn_f64_512;
    else if (isa >= ML_ISA_AVX2)
        f32 = randn_f32_256, f64 = randn_f64_256;
#endif
    int is32 = t->dtype == ML_F32;
#pragma omp parallel for if (nc > 1) schedule(static)
    for (int64_t c = 0; c < nc; c++) {
        int64_t i0 = c * RAND_CHUNK, i1 = n - i0 < RAND_CHUNK ? n : i0 + RAND_CHUNK;
        if (is32) f32(ml_f32(t), i0, i1, key, mean, std);
        else f64(ml_f64(t), i0, i1, key, mean, std);
    }
    return ML_OK;
}
