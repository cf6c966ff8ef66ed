/* The VolSDF density σ(x) = α Ψ_β(−d(x)) with α = 1/β (paper eq. 2-3). */
#include <math.h>
#include "sdf_internal.h"

/* Ψ_β(−d) = ½ + ½ sign(d) expm1(−|d|/β): ½e^{−d/β} outside (d > 0), 1 − ½e^{d/β} inside. */
double ml_sdf_density1(double d, double beta)
{
    double s = d > 0 ? 1.0 : (d < 0 ? -1.0 : 0.0);
    return (0.5 + 0.5 * s * expm1(-fabs(d) / beta)) / beta;
}

int ml_sdf_density(const double *d, int64_t n, double beta, double *sigma)
{
    if (!(beta > 0) || !isfinite(beta)) return ml_fail(ML_EINVAL, "beta must be finite and > 0, got %g", beta);
#pragma omp parallel for if (n > 65536) schedule(static)
    for (int64_t i = 0; i < n; i++) sigma[i] = ml_sdf_density1(d[i], beta);
    return ML_OK;
}
