/* Small vector helpers, the progress tick and the rigid-body modes of an atom cluster. */
#include <math.h>
#include <string.h>
#include <time.h>
#include "gp_internal.h"

double gp_dot(int n, const double *a, const double *b)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

double gp_norm(int n, const double *a) { return sqrt(gp_dot(n, a, a)); }

void gp_project_out(int D, int nr, const double *basis, double *v)
{
    for (int r = 0; r < nr; r++) {
        double c = gp_dot(D, basis + (int64_t)r * D, v);
        for (int i = 0; i < D; i++) v[i] -= c * basis[(int64_t)r * D + i];
    }
}

int gp_tick(const struct ml_progress *p, double done, double total)
{
    return ml_progress_tick(p, done, total);
}

/* Translations along each axis and rotations about the centroid (1 in 2-D, 3 in 3-D),
 * orthonormalised by Gram-Schmidt; degenerate modes (collinear atoms) are dropped. */
int ml_gp_rigid_basis(int natoms, int adim, const double *x, double *basis, int *nr)
{
    if (natoms < 1 || (adim != 2 && adim != 3)) return ml_fail(ML_EINVAL, "rigid modes need atoms in 2 or 3 dims");
    int D = natoms * adim, k = 0;
    double cen[3] = {0, 0, 0};
    for (int a = 0; a < natoms; a++)
        for (int c = 0; c < adim; c++) cen[c] += x[a * adim + c] / natoms;
    int nrot = adim == 2 ? 1 : 3;
    for (int m = 0; m < adim + nrot; m++) {
        double *v = basis + (int64_t)k * D;
        for (int a = 0; a < natoms; a++) {
            double r[3] = {0, 0, 0};
            for (int c = 0; c < adim; c++) r[c] = x[a * adim + c] - cen[c];
            for (int c = 0; c < adim; c++) v[a * adim + c] = 0;
            if (m < adim) {
                v[a * adim + m] = 1;
            } else if (adim == 2) {
                v[a * 2] = -r[1], v[a * 2 + 1] = r[0];
            } else {
                int ax = m - 3; /* e_ax x r */
                double e[3] = {0, 0, 0};
                e[ax] = 1;
                v[a * 3] = e[1] * r[2] - e[2] * r[1];
                v[a * 3 + 1] = e[2] * r[0] - e[0] * r[2];
                v[a * 3 + 2] = e[0] * r[1] - e[1] * r[0];
            }
        }
        double n0 = gp_norm(D, v);
        gp_project_out(D, k, basis, v);
        double n1 = gp_norm(D, v);
        if (n0 > 0 && n1 > 1e-8 * n0) {
            for (int i = 0; i < D; i++) v[i] /= n1;
            k++;
        }
    }
    *nr = k;
    return ML_OK;
}

double gp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
