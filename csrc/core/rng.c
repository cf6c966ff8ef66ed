/* Counter-based random numbers: element i of a seeded draw is a pure
 * function of (seed, i), so results do not depend on threads or machines.
 * The mixer is SplitMix64 (Steele, Lea & Flood 2014) applied to
 * seed-derived key + counter * golden gamma. */
#include <math.h>
#include "moonlab/tensor.h"
#include "clones.h"

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t ml_rng_u64(uint64_t seed, uint64_t counter)
{
    uint64_t key = mix64(seed + 0x9e3779b97f4a7c15ULL);
    return mix64(key + (counter + 1) * 0x9e3779b97f4a7c15ULL);
}

double ml_rng_uniform(uint64_t seed, uint64_t counter)
{
    return (double)(ml_rng_u64(seed, counter) >> 11) * 0x1.0p-53;
}

/* Box–Muller on the pair of uniforms at counters 2c and 2c+1 (cosine branch). */
double ml_rng_normal(uint64_t seed, uint64_t counter)
{
    double u1 = ((double)(ml_rng_u64(seed, 2 * counter) >> 11) + 0.5) * 0x1.0p-53;
    double u2 = ml_rng_uniform(seed, 2 * counter + 1);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Uniforms lo + w u for counters [i0, i1): ml_rng_uniform inlined with the key hoisted, in a loop the
 * compiler vectorises (64-bit integer mixing, an exact conversion, one multiply and one add: the same bits
 * as the scalar formula on every path). */
#define RAND_FILL(NAME, T)                                                                        \
    CLONES static void NAME(T *d, int64_t i0, int64_t i1, uint64_t key, double lo, double w)      \
    {                                                                                             \
        for (int64_t i = i0; i < i1; i++) {                                                       \
            uint64_t z = mix64(key + ((uint64_t)i + 1) * 0x9e3779b97f4a7c15ULL);                  \
            d[i] = (T)(lo + w * ((double)(int64_t)(z >> 11) * 0x1.0p-53));                        \
        }                                                                                         \
    }
RAND_FILL(rand_fill_f32, float)
RAND_FILL(rand_fill_f64, double)

#define RAND_CHUNK 65536

int ml_tensor_rand(ml_tensor *t, uint64_t seed, double lo, double hi)
{
    int64_t n = t->numel, nc = (n + RAND_CHUNK - 1) / RAND_CHUNK;
    uint64_t key = mix64(seed + 0x9e3779b97f4a7c15ULL);
    int f32 = t->dtype == ML_F32;
#pragma omp parallel for if (nc > 1) schedule(static)
    for (int64_t c = 0; c < nc; c++) {
        int64_t i0 = c * RAND_CHUNK, i1 = n - i0 < RAND_CHUNK ? n : i0 + RAND_CHUNK;
        if (f32) rand_fill_f32(ml_f32(t), i0, i1, key, lo, hi - lo);
        else rand_fill_f64(ml_f64(t), i0, i1, key, lo, hi - lo);
    }
    return ML_OK;
}

int ml_tensor_randn(ml_tensor *t, uint64_t seed, double mean, double std)
{
    int64_t n = t->numel;
    if (t->dtype == ML_F32) {
        float *d = ml_f32(t);
#pragma omp parallel for if (n > 65536) schedule(static)
        for (int64_t i = 0; i < n; i++) d[i] = (float)(mean + std * ml_rng_normal(seed, (uint64_t)i));
    } else {
        double *d = ml_f64(t);
#pragma omp parallel for if (n > 65536) schedule(static)
        for (int64_t i = 0; i < n; i++) d[i] = mean + std * ml_rng_normal(seed, (uint64_t)i);
    }
    return ML_OK;
}
