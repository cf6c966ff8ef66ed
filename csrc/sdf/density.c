/* The VolSDF density σ(x) = α Ψ_β(−d(x)) with α = 1/β (paper eq. 2-3). */
#include <float.h>
#include <math.h>
#include "sdf_internal.h"

/* Ψ_β(−d) = ½ + ½ sign(d) expm1(−|d|/β) (the reference's form) is ½e^{−d/β} outside (d > 0), computed as such:
 * the reference's ½ + ½·expm1(−d/β) cancels to 0 once d/β > 37; inside, ½ − ½·expm1(d/β) = 1 − ½e^{d/β}. */
double ml_sdf_density1(double d, double beta)
{
    if (d > 0) return 0.5 * exp(-d / beta) / beta;
    return (0.5 - 0.5 * expm1(d / beta)) / beta;
}

/* ML_OK for a usable beta: finite, > 0 and at least DBL_MIN, so that the density's 1/beta stays finite. */
int sdf_check_beta(double beta)
{
    if (!(beta > 0) || !isfinite(beta)) return ml_fail(ML_EINVAL, "beta must be finite and > 0, got %g", beta);
    if (beta < DBL_MIN) return ml_fail(ML_EINVAL, "beta = %g is below %g: the density 1/beta would overflow", beta, DBL_MIN);
    return ML_OK;
}

int ml_sdf_density(const double *d, int64_t n, double beta, double *sigma)
{
    int rc = sdf_check_beta(beta);
    if (rc) return rc;
#pragma omp parallel for if (n > 65536) schedule(static)
    for (int64_t i = 0; i < n; i++) sigma[i] = ml_sdf_density1(d[i], beta);
    return ML_OK;
}
