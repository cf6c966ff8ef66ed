/* What the library links and runs on; thread control for OpenMP and OpenBLAS. */
#include <cblas.h>
#include <fftw3.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "moonlab/runtime.h"
#include "moonlab/error.h"

/* libgomp's threads spin GOMP_SPINCOUNT iterations (default 300000, several milliseconds) in a
 * barrier before sleeping. When Linux wakes a sleeping worker onto the CPU of the thread that woke
 * it (usual after an idle pause, always when the other CPUs are busy), that thread then spins away
 * its time slice at the region's end while the worker waits for the same CPU: a 2 ms attention call
 * took 14-21 ms after a 0.5 s pause, and 20-70 ms under contention. 3000 iterations (tens of
 * microseconds) bounds that loss; measured against 30000 and 300000, it was 3-5x faster under
 * contention and no slower back to back. Runs before libgomp's own initialisation (the library is
 * linked with -z initfirst); an explicit OMP_WAIT_POLICY or GOMP_SPINCOUNT is left alone. Child
 * processes inherit the variable. */
__attribute__((constructor)) static void ml_omp_spin_default(void)
{
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT")) setenv("GOMP_SPINCOUNT", "3000", 0);
}

/* LAPACK's own version query (Fortran symbol, provided by OpenBLAS). */
extern void ilaver_(int *major, int *minor, int *patch);

/* OpenBLAS kernels that use neither AVX2 nor AVX-512 (its generic fallbacks). */
static int core_is_pre_avx2(const char *core)
{
    static const char *const old[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom",
                                      "Barcelona", "Opteron", "Opteron_SSE3", "Bobcat", "Nano",
                                      "Katmai", "Coppermine", "Northwood", "Banias", "Athlon",
                                      "Sandybridge", "Bulldozer", "Piledriver", "Steamroller",
                                      "Excavator", "generic", "Generic", "unknown", NULL};
    for (int i = 0; old[i]; i++)
        if (!strcasecmp(core, old[i])) return 1;
    return 0;
}

static int core_has_avx512(const char *core)
{
    return !strcasecmp(core, "SkylakeX") || !strcasecmp(core, "Cooperlake") ||
           !strcasecmp(core, "SapphireRapids");
}

void ml_get_info(ml_info *info)
{
    memset(info, 0, sizeof *info);
    info->version = ML_VERSION;
    snprintf(info->blas, sizeof info->blas, "%s", openblas_get_config());
    snprintf(info->blas_core, sizeof info->blas_core, "%s", openblas_get_corename());
    int lmaj = 0, lmin = 0, lpat = 0;
    ilaver_(&lmaj, &lmin, &lpat);
    snprintf(info->lapack, sizeof info->lapack, "LAPACK %d.%d.%d (in OpenBLAS)", lmaj, lmin, lpat);
    snprintf(info->fftw, sizeof info->fftw, "%s", fftw_version);
    info->omp_threads = omp_get_max_threads();
    info->blas_threads = openblas_get_num_threads();
    __builtin_cpu_init();
    info->cpu_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    info->cpu_avx512 = __builtin_cpu_supports("avx512f");
    const char *core = info->blas_core;
    if (info->cpu_avx512 && !core_has_avx512(core)) {
        info->blas_generic = 1;
        snprintf(info->coretype_hint, sizeof info->coretype_hint, "%s",
                 __builtin_cpu_supports("avx512bf16") ? "Cooperlake" : "SkylakeX");
    } else if (info->cpu_avx2 && core_is_pre_avx2(core)) {
        info->blas_generic = 1;
        snprintf(info->coretype_hint, sizeof info->coretype_hint, "%s",
                 __builtin_cpu_is("amd") ? "Zen" : "Haswell");
    }
}

int ml_set_threads(int n)
{
    if (n < 1) return ml_fail(ML_EINVAL, "thread count %d is not positive", n);
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
    return ML_OK;
}

int ml_get_threads(void) { return omp_get_max_threads(); }
