/* The primitives' exact signed distances in their local frames (Quilez's closed forms; VolSDF §3 uses exact SDFs
 * or 1-Lipschitz bounds), block-wise for evaluation and pointwise with the analytic gradient. */
#include <math.h>
#include "core/clones.h"
#include "sdf_internal.h"

static double len3(double x, double y, double z) { return sqrt(x * x + y * y + z * z); }

CLONES void sdf_prim_block(int kind, const double *pa, const double *x, const double *y, const double *z, int n,
                    double *d)
{
    switch (kind) {
    case ML_SDF_SPHERE:
#pragma omp simd
        for (int i = 0; i < n; i++) d[i] = len3(x[i], y[i], z[i]) - pa[0];
        break;
    case ML_SDF_BOX:
#pragma omp simd
        for (int i = 0; i < n; i++) {
            double qx = fabs(x[i]) - pa[0], qy = fabs(y[i]) - pa[1], qz = fabs(z[i]) - pa[2];
            double ox = sdf_max(qx, 0), oy = sdf_max(qy, 0), oz = sdf_max(qz, 0);
            d[i] = len3(ox, oy, oz) + sdf_min(sdf_max(qx, sdf_max(qy, qz)), 0.0);
        }
        break;
    case ML_SDF_TORUS:
#pragma omp simd
        for (int i = 0; i < n; i++) {
            double qx = sqrt(x[i] * x[i] + z[i] * z[i]) - pa[0];
            d[i] = sqrt(qx * qx + y[i] * y[i]) - pa[1];
        }
        break;
    case ML_SDF_CAPSULE: {
        double bax = pa[3] - pa[0], bay = pa[4] - pa[1], baz = pa[5] - pa[2];
        double bb = bax * bax + bay * bay + baz * baz, inv = bb > 0 ? 1.0 / bb : 0.0;
#pragma omp simd
        for (int i = 0; i < n; i++) {
            double px = x[i] - pa[0], py = y[i] - pa[1], pz = z[i] - pa[2];
            double h = sdf_min(sdf_max((px * bax + py * bay + pz * baz) * inv, 0.0), 1.0);
            d[i] = len3(px - bax * h, py - bay * h, pz - baz * h) - pa[6];
        }
        break;
    }
    case ML_SDF_PLANE:
#pragma omp simd
        for (int i = 0; i < n; i++) d[i] = x[i] * pa[0] + y[i] * pa[1] + z[i] * pa[2] - pa[3];
        break;
    case ML_SDF_CYLINDER:
#pragma omp simd
        for (int i = 0; i < n; i++) {
            double dx = sqrt(x[i] * x[i] + z[i] * z[i]) - pa[0], dy = fabs(y[i]) - pa[1];
            double ox = sdf_max(dx, 0), oy = sdf_max(dy, 0);
            d[i] = sdf_min(sdf_max(dx, dy), 0.0) + sqrt(ox * ox + oy * oy);
        }
        break;
    default:
        for (int i = 0; i < n; i++) d[i] = NAN;
    }
}

static void set3(double g[3], double a, double b, double c)
{
    if (g) { g[0] = a; g[1] = b; g[2] = c; }
}

/* Gradient of the 2-D box distance in (a, b) with half sizes (0, 0) after the shift: returns d and (ga, gb). */
static double box2(double qa, double qb, double *ga, double *gb)
{
    if (qa > 0 || qb > 0) {
        double oa = fmax(qa, 0), ob = fmax(qb, 0), l = sqrt(oa * oa + ob * ob);
        *ga = oa / l; *gb = ob / l;
        return l;
    }
    if (qa > qb) { *ga = 1; *gb = 0; return qa; }
    *ga = 0; *gb = 1;
    return qb;
}

double sdf_prim_point(int kind, const double *pa, const double q[3], double g[3])
{
    double x = q[0], y = q[1], z = q[2];
    switch (kind) {
    case ML_SDF_SPHERE: {
        double l = len3(x, y, z);
        if (l > 0) set3(g, x / l, y / l, z / l); else set3(g, 0, 0, 1);
        return l - pa[0];
    }
    case ML_SDF_BOX: {
        double qv[3] = {fabs(x) - pa[0], fabs(y) - pa[1], fabs(z) - pa[2]}, s[3] = {x < 0 ? -1 : 1, y < 0 ? -1 : 1,
                                                                                  z < 0 ? -1 : 1};
        if (qv[0] > 0 || qv[1] > 0 || qv[2] > 0) {
            double o[3] = {fmax(qv[0], 0), fmax(qv[1], 0), fmax(qv[2], 0)}, l = len3(o[0], o[1], o[2]);
            set3(g, s[0] * o[0] / l, s[1] * o[1] / l, s[2] * o[2] / l);
            return l;
        }
        int a = qv[0] >= qv[1] ? (qv[0] >= qv[2] ? 0 : 2) : (qv[1] >= qv[2] ? 1 : 2);
        set3(g, a == 0 ? s[0] : 0, a == 1 ? s[1] : 0, a == 2 ? s[2] : 0);
        return qv[a];
    }
    case ML_SDF_TORUS: {
        double rho = sqrt(x * x + z * z), qx = rho - pa[0], l = sqrt(qx * qx + y * y);
        double cx = rho > 0 ? x / rho : 1, cz = rho > 0 ? z / rho : 0;
        if (l > 0) set3(g, qx / l * cx, y / l, qx / l * cz); else set3(g, cx, 0, cz);
        return l - pa[1];
    }
    case ML_SDF_CAPSULE: {
        double bax = pa[3] - pa[0], bay = pa[4] - pa[1], baz = pa[5] - pa[2];
        double bb = bax * bax + bay * bay + baz * baz;
        double px = x - pa[0], py = y - pa[1], pz = z - pa[2];
        double h = bb > 0 ? fmin(fmax((px * bax + py * bay + pz * baz) / bb, 0.0), 1.0) : 0.0;
        double vx = px - bax * h, vy = py - bay * h, vz = pz - baz * h, l = len3(vx, vy, vz);
        if (l > 0) set3(g, vx / l, vy / l, vz / l); else set3(g, 0, 0, 1);
        return l - pa[6];
    }
    case ML_SDF_PLANE:
        set3(g, pa[0], pa[1], pa[2]);
        return x * pa[0] + y * pa[1] + z * pa[2] - pa[3];
    case ML_SDF_CYLINDER: {
        double rho = sqrt(x * x + z * z), ga, gb;
        double dd = box2(rho - pa[0], fabs(y) - pa[1], &ga, &gb);
        double cx = rho > 0 ? x / rho : 1, cz = rho > 0 ? z / rho : 0;
        set3(g, ga * cx, gb * (y < 0 ? -1 : 1), ga * cz);
        return dd;
    }
    default:
        set3(g, NAN, NAN, NAN);
        return NAN;
    }
}
