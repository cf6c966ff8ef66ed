/* The opacity error bound of VolSDF (paper §3.3, Theorem 1 and eq. 14-16, as in the reference code). */
#include <math.h>
#include "sdf_internal.h"

static double sgn(double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); }

/* Exact SDF: the surface avoids the balls of radius |d| around both ends, so the distance along the segment is
 * at least the height of the triangle (a, b, c) over a, or b / c when that end is the closest point. A
 * 1-Lipschitz bound only gives |d| >= max(b − s, c − (a − s)) at s along the segment: the cone bound. */
void ml_sdf_dstar(const double *t, const double *d, int n, int exact, double *ds)
{
    for (int i = 0; i + 1 < n; i++) {
        double a = t[i + 1] - t[i], b = fabs(d[i]), c = fabs(d[i + 1]), v = 0;
        if (sgn(d[i]) * sgn(d[i + 1]) != 1.0) { ds[i] = 0; continue; }
        if (exact) {
            if (a * a + b * b <= c * c) v = b;
            else if (a * a + c * c <= b * b) v = c;
            else if (b + c - a > 0) {
                double s = 0.5 * (a + b + c), area = s * (s - a) * (s - b) * (s - c);
                v = area > 0 ? 2.0 * sqrt(area) / a : 0.0;
            }
        } else {
            if (c >= a + b) v = c - a;
            else if (b >= a + c) v = b - a;
            else v = 0.5 * (b + c - a);
            if (v < 0) v = 0;
        }
        ds[i] = v;
    }
}

/* scratch: 4n doubles. */
double ml_sdf_bound(const double *t, const double *d, const double *ds, int n, double beta, double *scratch)
{
    if (n < 2) return 0.0;
    double *x = scratch, *y = scratch + n, *e = scratch + 2 * n, *r = scratch + 3 * n;
    double ib = 1.0 / beta;
    for (int i = 0; i < n; i++) x[i] = -fabs(d[i]) * ib;
    for (int i = 0; i + 1 < n; i++) y[i] = -ds[i] * ib;
    sdf_vexp(x, x, n);
    sdf_vexp(y, y, n - 1);
    double R = 0, E = 0, c4 = 0.25 * ib * ib;
    for (int i = 0; i + 1 < n; i++) {
        double dl = t[i + 1] - t[i];
        double sig = ib * (d[i] > 0 ? 0.5 * x[i] : (d[i] < 0 ? 1.0 - 0.5 * x[i] : 0.5));
        r[i] = -R;                 /* −R̂(t_i) */
        E += dl * dl * c4 * y[i];  /* Ê(t_{i+1}) */
        e[i] = E - R;              /* exp(Ê − R̂) − exp(−R̂): unclamped (the reference clamps exp(Ê) at 1e6) */
        R += dl * sig;
    }
    sdf_vexp(e, e, n - 1);
    sdf_vexp(r, r, n - 1);
    double B = 0;
    for (int i = 0; i + 1 < n; i++) {
        double v = e[i] - r[i];
        if (v > B) B = v;
    }
    return B;
}
