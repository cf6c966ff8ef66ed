/* The pinhole camera: eye, target, up, vertical field of view; one ray through each pixel centre. */
#include <math.h>
#include "sdf_internal.h"

static int unit(double v[3])
{
    double l = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    if (!(l > 0) || !isfinite(l)) return 0;
    v[0] /= l; v[1] /= l; v[2] /= l;
    return 1;
}

int ml_sdf_camera_rays(const ml_sdf_camera *c, double *o, double *u)
{
    for (int i = 0; i < 3; i++)
        if (!isfinite(c->eye[i]) || !isfinite(c->target[i]) || !isfinite(c->up[i]))
            return ml_fail(ML_EINVAL, "camera: eye, target and up must be finite");
    if (!(c->fov > 0 && c->fov < 180)) return ml_fail(ML_EINVAL, "camera: fov must be in (0, 180) degrees, got %g", c->fov);
    if (c->width <= 0 || c->height <= 0 || c->width > 16384 || c->height > 16384 ||
        (int64_t)c->width * c->height > ((int64_t)1 << 26))
        return ml_fail(ML_EINVAL, "camera: width and height must be in [1, 16384], got %dx%d", c->width, c->height);
    double f[3] = {c->target[0] - c->eye[0], c->target[1] - c->eye[1], c->target[2] - c->eye[2]};
    if (!unit(f)) return ml_fail(ML_EINVAL, "camera: eye and target coincide");
    double up[3] = {c->up[0], c->up[1], c->up[2]};
    double r[3] = {f[1] * up[2] - f[2] * up[1], f[2] * up[0] - f[0] * up[2], f[0] * up[1] - f[1] * up[0]};
    if (!unit(r)) return ml_fail(ML_EINVAL, "camera: up is zero or parallel to the view direction");
    double v[3] = {r[1] * f[2] - r[2] * f[1], r[2] * f[0] - r[0] * f[2], r[0] * f[1] - r[1] * f[0]};
    double th = tan(c->fov * M_PI / 360.0), asp = (double)c->width / (double)c->height;
    for (int64_t i = 0; i < c->height; i++)
        for (int64_t j = 0; j < c->width; j++) {
            double x = (2.0 * ((double)j + 0.5) / c->width - 1.0) * th * asp;
            double y = (1.0 - 2.0 * ((double)i + 0.5) / c->height) * th;
            int64_t k = i * c->width + j;
            double d[3] = {f[0] + x * r[0] + y * v[0], f[1] + x * r[1] + y * v[1], f[2] + x * r[2] + y * v[2]};
            unit(d);
            for (int a = 0; a < 3; a++) { o[3 * k + a] = c->eye[a]; u[3 * k + a] = d[a]; }
        }
    return ML_OK;
}
