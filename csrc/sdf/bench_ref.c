/* The benchmark's reference: one fixed CSG scene written by hand in C (what the compiled scene must approach).
 * Scene (11 nodes): subtract(union(sphere r .5 at (−.8,0,0), box half (.3,.3,.3) at (.8,0,0), torus R .6 r .15
 * at (0,.6,0), capsule (−.5,−.6,0)–(.5,−.6,0) r .15, cylinder r .2 h/2 .5 at (0,0,.7)), sphere r .3 at (0,0,0)). */
#include <math.h>
#include "sdf_internal.h"

static inline double len3(double x, double y, double z) { return sqrt(x * x + y * y + z * z); }

void ml_sdf_bench_scene_ref(const double *p, int64_t n, double *d)
{
#pragma omp parallel for schedule(static) if (n > 16384)
    for (int64_t i = 0; i < n; i++) {
        double x = p[3 * i], y = p[3 * i + 1], z = p[3 * i + 2];
        double a = len3(x + 0.8, y, z) - 0.5;
        double qx = fabs(x - 0.8) - 0.3, qy = fabs(y) - 0.3, qz = fabs(z) - 0.3;
        double b = len3(fmax(qx, 0), fmax(qy, 0), fmax(qz, 0)) + fmin(fmax(qx, fmax(qy, qz)), 0.0);
        double tq = sqrt(x * x + z * z) - 0.6, ty = y - 0.6;
        double c = sqrt(tq * tq + ty * ty) - 0.15;
        double h = fmin(fmax((x + 0.5) / 1.0, 0.0), 1.0);
        double e = len3(x + 0.5 - h, y + 0.6, z) - 0.15;
        double cdx = sqrt(x * x + (z - 0.7) * (z - 0.7)) - 0.2, cdy = fabs(y) - 0.5;
        double f = fmin(fmax(cdx, cdy), 0.0) + sqrt(fmax(cdx, 0) * fmax(cdx, 0) + fmax(cdy, 0) * fmax(cdy, 0));
        double u = fmin(fmin(fmin(fmin(a, b), c), e), f);
        double g = len3(x, y, z) - 0.3;
        d[i] = fmax(u, -g);
    }
}
