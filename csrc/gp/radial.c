/* Radial profiles f(s) of the stationary kernels (s = squared scaled distance) and their
 * s-derivatives; the derivatives of the rational-quadratic profile with respect to log alpha. */
#include <math.h>
#include "gp_internal.h"

void gp_radial(int type, double s, double alpha, double f[4], double fa[3])
{
    double r = sqrt(s);
    switch (type) {
    case ML_GPK_SE: {
        double e = exp(-0.5 * s);
        f[0] = e, f[1] = -0.5 * e, f[2] = 0.25 * e, f[3] = -0.125 * e;
        break;
    }
    case ML_GPK_MATERN15: {
        const double c = sqrt(3.0);
        double e = exp(-c * r);
        f[0] = (1 + c * r) * e;
        f[1] = -1.5 * e;
        /* f2 ~ 1/r and f3 ~ 1/r^3 multiply terms of order r^2 and r^4 in the blocks */
        f[2] = r > 0 ? 0.75 * c * e / r : 0;
        f[3] = r > 0 ? -0.375 * c * e * (c * r + 1) / (r * r * r) : 0;
        break;
    }
    case ML_GPK_MATERN25: {
        const double c = sqrt(5.0);
        double e = exp(-c * r);
        f[0] = (1 + c * r + 5.0 * s / 3.0) * e;
        f[1] = -(5.0 / 6.0) * (1 + c * r) * e;
        f[2] = (25.0 / 12.0) * e;
        f[3] = r > 0 ? -(25.0 * c / 24.0) * e / r : 0;
        break;
    }
    case ML_GPK_RQ: {
        double a = alpha, q = 1 + s / (2 * a), lq = log(q);
        double p = exp(-a * lq);
        f[0] = p;
        f[1] = -0.5 * p / q;
        f[2] = (a + 1) / (4 * a) * p / (q * q);
        f[3] = -(a + 1) * (a + 2) / (8 * a * a) * p / (q * q * q);
        if (fa) {
            fa[0] = f[0] * (-a * lq + s / (2 * q));
            fa[1] = f[1] * (-a * lq + (a + 1) * s / (2 * a * q));
            fa[2] = f[2] * (a / (a + 1) - 1 - a * lq + (a + 2) * s / (2 * a * q));
        }
        return;
    }
    default:
        f[0] = f[1] = f[2] = f[3] = 0;
    }
    if (fa) fa[0] = fa[1] = fa[2] = 0;
}
