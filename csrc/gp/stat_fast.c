/* The column kernels of stat_fast.h: stat_fast_tmpl.h instantiated for AVX-512, AVX2 and baseline x86-64
 * (the compiler vectorises the loops for each), picked by ml_cpu_isa() (MOONLAB_ISA forces a lower one). */
#include <math.h>
#include "stat_fast.h"
#include "gp_internal.h"
#include "moonlab/cpu.h"
#include "core/exp_le0.h"
#include "core/vmath.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-math-errno") /* sqrt vectorises (its arguments are >= 0) */
#endif

#define GPF_SQRT3 1.7320508075688772
#define GPF_SQRT5 2.2360679774997898

#define TGT
#define SFX(name) name##_base
#include "stat_fast_tmpl.h"
#undef TGT
#undef SFX

#if defined(__GNUC__) && defined(__x86_64__)
#define TGT __attribute__((target("arch=x86-64-v3")))
#define SFX(name) name##_avx2
#include "stat_fast_tmpl.h"
#undef TGT
#undef SFX

#define TGT __attribute__((target("arch=x86-64-v4")))
#define SFX(name) name##_avx512
#include "stat_fast_tmpl.h"
#undef TGT
#undef SFX
#endif

void gpf_pick(gpf_col_fn *col, gpf_grad_fn *grad)
{
    *col = gpf_col_base, *grad = gpf_grad_base;
#if defined(__GNUC__) && defined(__x86_64__)
    ml_isa isa = ml_cpu_isa();
    if (isa == ML_ISA_AVX512) *col = gpf_col_avx512, *grad = gpf_grad_avx512;
    else if (isa == ML_ISA_AVX2) *col = gpf_col_avx2, *grad = gpf_grad_avx2;
#endif
}
