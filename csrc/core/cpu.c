/* Instruction-set level of the SIMD kernels: CPU support capped by MOONLAB_ISA. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "moonlab/cpu.h"

ml_isa ml_cpu_isa_supported(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (avx2 && __builtin_cpu_supports("avx512f")) return ML_ISA_AVX512;
    if (avx2) return ML_ISA_AVX2;
#endif
    return ML_ISA_SCALAR;
}

static ml_isa requested(void)
{
    const char *e = getenv("MOONLAB_ISA");
    if (!e) return ML_ISA_AVX512;
    if (!strcmp(e, "scalar")) return ML_ISA_SCALAR;
    if (!strcmp(e, "avx2")) return ML_ISA_AVX2;
    return ML_ISA_AVX512;
}

/* Cached after the first call (-1 = not yet known); racing first calls compute the same value. */
static atomic_int isa_cache = -1;

ml_isa ml_cpu_isa(void)
{
    int v = atomic_load_explicit(&isa_cache, memory_order_relaxed);
    if (v < 0) {
        ml_isa s = ml_cpu_isa_supported(), r = requested();
        v = (int)(r < s ? r : s);
        atomic_store_explicit(&isa_cache, v, memory_order_relaxed);
    }
    return (ml_isa)v;
}

const char *ml_isa_name(ml_isa isa)
{
    return isa == ML_ISA_AVX512 ? "avx512" : isa == ML_ISA_AVX2 ? "avx2" : "scalar";
}
