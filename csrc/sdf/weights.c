/* Volume-rendering quadrature along one ray (paper eq. 8-10, Max 1995): δ, α_i, T_i, w_i and the opacity. */
#include <math.h>
#include "sdf_internal.h"

void ml_sdf_weights(const double *t, const double *sigma, int n, double last_delta, double *delta,
                    double *alpha, double *trans, double *w, double *opacity)
{
    /* T_{i+1} = T_i (1 − α_i) = T_i e^{−δ_i σ_i}: one expm1 per sample */
    double Ti = 1.0, op = 0;
    for (int i = 0; i < n; i++) {
        double dl = i + 1 < n ? t[i + 1] - t[i] : last_delta;
        double fe = dl * sigma[i];
        double ai = fe > 0 ? -expm1(-fe) : 0.0;
        if (delta) delta[i] = dl;
        if (alpha) alpha[i] = ai;
        if (trans) trans[i] = Ti;
        if (w) w[i] = ai * Ti;
        op += ai * Ti;
        Ti *= 1.0 - ai;
    }
    if (opacity) *opacity = op;
}
