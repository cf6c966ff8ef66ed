/* Volume-rendering quadrature along one ray (paper eq. 8-10, Max 1995): δ, α_i, T_i, w_i and the opacity. */
#include <math.h>
#include "sdf_internal.h"

void ml_sdf_weights(const double *t, const double *sigma, int n, double last_delta, double *delta,
                    double *alpha, double *trans, double *w, double *opacity)
{
    double acc = 0, op = 0; /* acc = Σ_{j<i} δ_j σ_j */
    for (int i = 0; i < n; i++) {
        double dl = i + 1 < n ? t[i + 1] - t[i] : last_delta;
        double fe = dl * sigma[i];
        double Ti = exp(-acc);
        double ai = fe > 0 ? -expm1(-fe) : 0.0;
        if (delta) delta[i] = dl;
        if (alpha) alpha[i] = ai;
        if (trans) trans[i] = Ti;
        if (w) w[i] = ai * Ti;
        op += ai * Ti;
        acc += fe;
    }
    if (opacity) *opacity = op;
}
