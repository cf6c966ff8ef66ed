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

/* suffix[i] = Σ_{j>=i} δ_j²·max(e^{−d*_j/β_hi}, e^{−36}) over the n − 1 intervals (suffix[n−1] = 0): with β <= β_hi it
 * bounds what the intervals from i on can still add to 4β²·Ê. */
void sdf_bound_suffix(const double *t, const double *ds, int n, double beta_hi, double *suffix)
{
    if (n < 2) { if (n == 1) suffix[0] = 0; return; }
    for (int i = 0; i + 1 < n; i++) suffix[i] = -ds[i] / beta_hi;
    sdf_vexp(suffix, suffix, n - 1);
    double acc = 0;
    suffix[n - 1] = 0;
    for (int i = n - 2; i >= 0; i--) {
        double dl = t[i + 1] - t[i];
        acc += dl * dl * fmax(suffix[i], 2.319522830243569e-16);
        suffix[i] = acc;
    }
}

/* The bound for the bisection over β in [·, beta_hi], in blocks of 64 intervals along the ray: intervals far from
 * the surface at beta_hi (|d_i| and d*_i above 36·beta_hi) skip their exponentials and enter with rigorous
 * over-estimates (error term δ²/(4β²)·e^{−36}, outside density 0, inside density (1 − e^{−36}/2)/β), which can
 * only raise B; the scan stops at the first k with R̂_k > Ê_{k+1} + suffix[k+1]/(4β²) + 40, every later term being
 * below exp(Ê_{k+1} + suffix[k+1]/(4β²) − R̂_k) < e^{−40}; and it returns as soon as the running maximum exceeds
 * stop (the bisection only needs B <= ε or not). scratch: 6n doubles. */
double sdf_bound_fast(const double *t, const double *d, const double *ds, int n, double beta, double beta_hi,
                      const double *suffix, double stop, double *scratch)
{
    if (n < 2) return 0.0;
    double *x = scratch, *y = scratch + n, *e = scratch + 2 * n, *r = scratch + 3 * n;
    int *act = (int *)(scratch + 4 * n);
    double ib = 1.0 / beta, cut = 36.0 * beta_hi, c4 = 0.25 * ib * ib;
    const double tiny = 2.319522830243569e-16; /* e^{−36} */
    double R = 0, E = 0, B = 0;
    for (int i0 = 0; i0 + 1 < n; i0 += 64) {
        int i1 = i0 + 64 < n - 1 ? i0 + 64 : n - 1, na = 0, K = i1, stopped = 0;
        double tail = 0;
        for (int i = i0; i < i1; i++)
            if (fabs(d[i]) < cut || ds[i] < cut) {
                x[na] = -fabs(d[i]) * ib;
                y[na] = -ds[i] * ib;
                act[na++] = i;
            }
        sdf_vexp(x, x, na);
        sdf_vexp(y, y, na);
        for (int i = i0, a = 0; i < i1; i++) {
            double dl = t[i + 1] - t[i], sig, ey;
            if (a < na && act[a] == i) {
                sig = ib * (d[i] > 0 ? 0.5 * x[a] : (d[i] < 0 ? 1.0 - 0.5 * x[a] : 0.5));
                ey = y[a++];
            } else {
                sig = d[i] > 0 ? 0.0 : ib * (1.0 - 0.5 * tiny);
                ey = tiny;
            }
            r[i] = -R;
            E += dl * dl * c4 * ey;
            e[i] = E - R;
            double rest = E + suffix[i + 1] * c4;
            if (R > rest + 40.0) { K = i; tail = rest - R; stopped = 1; break; }
            R += dl * sig;
        }
        sdf_vexp(e + i0, e + i0, K - i0);
        sdf_vexp(r + i0, r + i0, K - i0);
        for (int i = i0; i < K; i++) {
            double v = e[i] - r[i];
            if (v > B) B = v;
        }
        if (stopped) {
            double v = exp(tail);
            return v > B ? v : B;
        }
        if (B > stop) return B;
    }
    return B;
}
