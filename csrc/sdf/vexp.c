/* A vectorised exp for the sampler's loops over samples: the AVX-512 (8 lanes) or AVX2+FMA (4 lanes) kernel of
 * simd_tmpl.h by ml_cpu_isa() (so MOONLAB_ISA selects a lower path), libm's exp on the scalar path. Values below
 * −708 give 0 on every path (no subnormals), above 709 +inf, NaN stays NaN. */
#include <math.h>
#include "moonlab/cpu.h"
#include "sdf_internal.h"

void sdf_vexp(const double *x, double *y, int n)
{
#if defined(__GNUC__) && defined(__x86_64__)
    ml_isa isa = ml_cpu_isa();
    if (isa == ML_ISA_AVX512) { sdf_vexp_avx512(x, y, n); return; }
    if (isa == ML_ISA_AVX2) { sdf_vexp_avx2(x, y, n); return; }
#endif
    for (int i = 0; i < n; i++) y[i] = x[i] < -708.0 ? 0.0 : exp(x[i]);
}
