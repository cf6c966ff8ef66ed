/* Checks of the normal generator's math (csrc/core/vmath.h) and of its bulk fill (spec/rng_spec.lua builds
 * and runs it, once per kernel path MOONLAB_ISA = scalar, avx2, avx512):
 * - ml_vm_log and ml_vm_cos2pi against __float128 (quadmath) over many arguments: max error in ulps, also
 *   printed against the C library's log and cos(2 pi u);
 * - ml_rng_normal(seed, i) == sqrt(-2 log u1) cos(2 pi u2) with these functions, bit for bit;
 * - ml_tensor_randn (f64 and f32) == ml_rng_normal element by element, bit for bit, with 1 and 2 threads;
 *   prints a hash of the draw so that the parent compares the paths.
 * Usage: vmath_test N (arguments per accuracy class). */
#define _GNU_SOURCE
#include <math.h>
#include <quadmath.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "moonlab/moonlab.h"
#include "core/vmath.h"

static int fails;
#define CHECK(c, ...) do { if (!(c)) { if (fails++ < 20) { printf("FAIL line %d: ", __LINE__); printf(__VA_ARGS__); printf("\n"); } } } while (0)

/* |d - y| in units of the last place of y rounded to double (y != 0). */
static double ulps(double d, __float128 y)
{
    double yd = (double)y;
    int e;
    frexp(yd, &e);
    __float128 diff = (__float128)d - y;
    if (diff < 0) diff = -diff;
    return (double)(diff / (__float128)ldexp(1.0, e - 53));
}

static uint64_t state = 0x243f6a8885a308d3ULL;
static uint64_t next(void) { return ml_rng_u64(77, state++); }
static double unif(void) { return (double)(next() >> 11) * 0x1.0p-53; }

typedef struct { double ours, libm, vs_libm; double at_ours, at_libm; } acc;
static void log_one(acc *a, double x)
{
    __float128 y = logq((__float128)x);
    if (y == 0) { CHECK(ml_vm_log(x) == 0, "log(%a) = %a, expected 0", x, ml_vm_log(x)); return; }
    double e = ulps(ml_vm_log(x), y), l = ulps(log(x), y), d = ulps(ml_vm_log(x), (__float128)log(x));
    if (d > a->vs_libm) a->vs_libm = d;
    if (e > a->ours) a->ours = e, a->at_ours = x;
    if (l > a->libm) a->libm = l, a->at_libm = x;
}

/* cos(2 pi u) in quad precision after the exact reduction 4u = q + r (the reduction itself is exact math:
 * cos(2 pi u) = cos, -sin, -cos, sin of r pi/2 for q = 0, 1, 2, 3 mod 4), so zeros are exact zeros. */
static __float128 cos2pi_q(double u)
{
    double t = 4.0 * u, q = nearbyint(t), r = t - q;
    __float128 x = M_PI_2q * (__float128)r;
    long k = ((long)fmod(q, 4.0) + 4) % 4;
    return k == 0 ? cosq(x) : k == 1 ? -sinq(x) : k == 2 ? -cosq(x) : sinq(x);
}

static void cos_one(acc *a, double u)
{
    __float128 y = cos2pi_q(u);
    if (y == 0) { CHECK(ml_vm_cos2pi(u) == 0, "cos2pi(%a) = %a, expected 0", u, ml_vm_cos2pi(u)); return; }
    double e = ulps(ml_vm_cos2pi(u), y), l = ulps(cos(6.283185307179586 * u), y);
    if (e > a->ours) a->ours = e, a->at_ours = u;
    if (l > a->libm) a->libm = l, a->at_libm = u;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    acc lg = {0}, cs = {0};
    /* log: the generator's u1 = (m + 1/2) 2^-53, then wide ranges, then near 1 and the sqrt(2) split */
    for (long i = 0; i < n; i++) log_one(&lg, (double)((next() >> 11) + 0.5) * 0x1.0p-53);
    for (long i = 0; i < n; i++) log_one(&lg, ldexp(1.0 + unif(), (int)(next() % 2044) - 1022));
    for (long i = 0; i < n; i++) log_one(&lg, 1.0 + ldexp(unif() - 0.5, -(int)(next() % 50)));
    for (long i = 0; i < n; i++) log_one(&lg, ldexp(M_SQRT2 * (1 + ldexp(unif() - 0.5, -(int)(next() % 50))), (int)(next() % 40) - 20));
    const double lx[] = {1.0, 0x1p-54, 0x1.8p-54, 0.5, 2.0, 0x1.fffffffffffffp-1, 0x1.0000000000001p0, M_SQRT2,
                         M_SQRT1_2, 0x1p-1022, 0x1.fffffffffffffp1023, 10.0, 0.1};
    for (size_t i = 0; i < sizeof lx / sizeof lx[0]; i++) log_one(&lg, lx[i]);
    /* cos(2 pi u): the generator's u2 = m 2^-53, near the zeros and extrema, then |u| up to 2^20 */
    for (long i = 0; i < n; i++) cos_one(&cs, (double)(next() >> 11) * 0x1.0p-53);
    for (long i = 0; i < n; i++) cos_one(&cs, (double)(next() % 8) * 0.125 + ldexp(unif() - 0.5, -(int)(next() % 45) - 3));
    for (long i = 0; i < n; i++) cos_one(&cs, ldexp(unif() - 0.5, (int)(next() % 22)));
    for (int q = 0; q < 8; q++) cos_one(&cs, q * 0.125);
    CHECK(ml_vm_cos2pi(0.0) == 1.0 && ml_vm_cos2pi(0.5) == -1.0 && ml_vm_cos2pi(0.25) == 0.0
              && ml_vm_cos2pi(-1.0) == 1.0, "cos2pi at 0, 1/2, 1/4, -1");
    printf("LOG maxulp %.3f at %a (libm %.3f at %a; ours - libm at most %.3f ulp)\n", lg.ours, lg.at_ours, lg.libm,
           lg.at_libm, lg.vs_libm);
    printf("COS maxulp %.3f at %a (libm cos(2pi u) %.3f at %a)\n", cs.ours, cs.at_ours, cs.libm, cs.at_libm);
    CHECK(lg.ours < 1.0, "log: %.3f ulp", lg.ours);
    CHECK(cs.ours < 1.5, "cos2pi: %.3f ulp", cs.ours);

    /* the scalar definition, and how far it moved from the C library's sqrt(-2 log u1) cos(2 pi u2) */
    double maxrel = 0;
    for (uint64_t seed = 0; seed < 4; seed++)
        for (uint64_t c = 0; c < 20000; c++) {
            double u1 = ((double)(ml_rng_u64(seed, 2 * c) >> 11) + 0.5) * 0x1.0p-53;
            double u2 = (double)(ml_rng_u64(seed, 2 * c + 1) >> 11) * 0x1.0p-53;
            double z = ml_rng_normal(seed, c), def = sqrt(-2.0 * ml_vm_log(u1)) * ml_vm_cos2pi(u2);
            CHECK(memcmp(&z, &def, sizeof z) == 0, "normal(%llu, %llu) = %a, definition %a", (unsigned long long)seed,
                  (unsigned long long)c, z, def);
            double old = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
            double rel = fabs(z - old) / fmax(fabs(old), 1.0);
            if (rel > maxrel) maxrel = rel;
        }
    printf("LIBM max |z - libm| / max(|libm|, 1) %.3g\n", maxrel);
    CHECK(maxrel < 1e-14, "normal vs libm: difference %.3g", maxrel);

    /* the fill on this path == the scalar function, with 1 and 2 threads; odd sizes, several chunks */
    const int64_t sizes[] = {1, 7, 8, 9, 17, 1000, 3 * 65536 + 13};
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int th = 1; th <= 2; th++) {
        ml_set_threads(th);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            int64_t sh[1] = {sizes[s]};
            ml_tensor a, b;
            if (ml_tensor_init_uninit(&a, ML_F64, 1, sh) || ml_tensor_init_uninit(&b, ML_F32, 1, sh)) return 2;
            uint64_t seed = 1000 + s;
            double mean = s % 2 ? 0.0 : 1.5, sd = s % 2 ? 1.0 : 0.25;
            ml_tensor_randn(&a, seed, mean, sd);
            ml_tensor_randn(&b, seed, mean, sd);
            int bad = 0;
            for (int64_t i = 0; i < sh[0]; i++) {
                double z = mean + sd * ml_rng_normal(seed, (uint64_t)i);
                float zf = (float)z;
                if (memcmp(&z, ml_f64(&a) + i, sizeof z) || memcmp(&zf, ml_f32(&b) + i, sizeof zf)) bad++;
            }
            CHECK(bad == 0, "%d threads, n = %lld: %d elements differ from ml_rng_normal", th, (long long)sh[0], bad);
            if (th == 1) {
                h = fnv(h, ml_f64(&a), (size_t)sh[0] * sizeof(double));
                h = fnv(h, ml_f32(&b), (size_t)sh[0] * sizeof(float));
            }
            ml_tensor_release(&a);
            ml_tensor_release(&b);
        }
    }
    printf("ISA %s HASH %016llx\n", ml_isa_name(ml_cpu_isa()), (unsigned long long)h);
    printf("vmath: %d failures\n", fails);
    return fails != 0;
}
