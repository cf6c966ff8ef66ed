/* Sphere tracing (Hart 1996): step along the ray by the distance bound until |d| < tol. */
#include <math.h>
#include <stdlib.h>
#include "sdf_internal.h"

int ml_sdf_sphere_trace(const ml_sdf_field *f, const double *o, const double *u, int64_t R, double near,
                        double far, double tol, int max_steps, double *t, int64_t *steps)
{
    int rc = sdf_check_rays(o, u, R);
    if (rc != ML_OK) return rc;
    if (!isfinite(near) || !isfinite(far) || !(far > near) || near < 0)
        return ml_fail(ML_EINVAL, "need 0 <= near < far, finite; got near %g, far %g", near, far);
    if (!(tol > 0)) return ml_fail(ML_EINVAL, "tol must be > 0, got %g", tol);
    if (max_steps < 1) return ml_fail(ML_EINVAL, "max_steps must be >= 1, got %d", max_steps);
    /* march all active rays in lock step so that serial fields are called once per step */
    double *p = malloc(sizeof(double) * 3 * (size_t)R), *d = malloc(sizeof(double) * (size_t)R);
    int64_t *act = malloc(sizeof(int64_t) * (size_t)R);
    if (!p || !d || !act) { free(p); free(d); free(act); return ml_fail(ML_ENOMEM, "sphere_trace: out of memory"); }
    int64_t na = R;
    for (int64_t r = 0; r < R; r++) { t[r] = near; act[r] = r; if (steps) steps[r] = 0; }
    for (int s = 0; s < max_steps && na > 0 && rc == ML_OK; s++) {
#pragma omp parallel for schedule(static) if (na > 4096)
        for (int64_t i = 0; i < na; i++) {
            int64_t r = act[i];
            for (int c = 0; c < 3; c++) p[3 * i + c] = o[3 * r + c] + t[r] * u[3 * r + c];
        }
        rc = sdf_field_eval(f, p, na, d);
        if (rc != ML_OK) break;
        int64_t k = 0;
        for (int64_t i = 0; i < na; i++) {
            int64_t r = act[i];
            if (steps) steps[r]++;
            if (fabs(d[i]) < tol) continue; /* hit: t[r] stays */
            t[r] += fabs(d[i]);
            if (t[r] > far) { t[r] = INFINITY; continue; }
            act[k++] = r;
        }
        na = k;
        if (ml_interrupted()) rc = ml_fail(ML_EINTR, "interrupted");
    }
    for (int64_t i = 0; i < na; i++) t[act[i]] = INFINITY; /* out of steps */
    free(p); free(d); free(act);
    return rc;
}
