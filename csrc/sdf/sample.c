/* Ray sampling entry point: options, checks, and the dispatch over chunks of rays to the methods. */
#include <math.h>
#include <stdlib.h>
#include "sdf_internal.h"

ml_sdf_sample_opts ml_sdf_sample_defaults(void)
{
    ml_sdf_sample_opts o = {ML_SDF_ERROR_BOUND, 0.01, 0.1, 128, 64, 32, 10, 5, 3.0, 0.0, -1.0, 0, 0, 1e10, NULL};
    return o;
}

static int check_opts(const ml_sdf_sample_opts *o)
{
    if (o->method < 0 || o->method > ML_SDF_HIERARCHICAL) return ml_fail(ML_EINVAL, "unknown method %d", o->method);
    int brc = sdf_check_beta(o->beta);
    if (brc) return brc;
    if (!(o->eps > 0) || !isfinite(o->eps)) return ml_fail(ML_EINVAL, "eps must be finite and > 0, got %g", o->eps);
    if (o->n_eval < 2 || o->n_eval > 4096) return ml_fail(ML_EINVAL, "n_eval must be in [2, 4096], got %d", o->n_eval);
    if (o->n_final < 1 || o->n_final > 4096) return ml_fail(ML_EINVAL, "n_final must be in [1, 4096], got %d", o->n_final);
    if (o->n_extra < 0 || o->n_extra > o->n_eval)
        return ml_fail(ML_EINVAL, "n_extra must be in [0, n_eval], got %d", o->n_extra);
    if (o->beta_iters < 0 || o->beta_iters > 100) return ml_fail(ML_EINVAL, "beta_iters must be in [0, 100], got %d", o->beta_iters);
    if (o->max_iters < 1 || o->max_iters > 64) return ml_fail(ML_EINVAL, "max_iters must be in [1, 64], got %d", o->max_iters);
    if ((int64_t)o->n_eval * o->max_iters > 32768)
        return ml_fail(ML_EINVAL, "n_eval * max_iters must be <= 32768, got %lld", (long long)o->n_eval * o->max_iters);
    if (!(o->radius > 0) || !isfinite(o->radius)) return ml_fail(ML_EINVAL, "radius must be finite and > 0, got %g", o->radius);
    if (!isfinite(o->near) || o->near < 0) return ml_fail(ML_EINVAL, "near must be finite and >= 0, got %g", o->near);
    if (!isfinite(o->far) || !(o->far > o->near))
        return ml_fail(ML_EINVAL, "far must be finite and > near (%g), got %g", o->near, o->far);
    if (!(o->last_delta >= 0)) return ml_fail(ML_EINVAL, "last_delta must be >= 0, got %g", o->last_delta);
    return ML_OK;
}

int ml_sdf_sample(const ml_sdf_field *f, const double *o, const double *u, int64_t R,
                  const ml_sdf_sample_opts *opt, ml_sdf_samples *out)
{
    ml_sdf_sample_opts op = *opt;
    if (op.far < 0) op.far = 2.0 * op.radius;
    int rc = check_opts(&op);
    if (rc == ML_OK) rc = sdf_check_rays(o, u, R);
    if (rc != ML_OK) return rc;
    if (!out || !out->t) return ml_fail(ML_EINVAL, "sdf.sample: no output buffer for t");
    return op.method == ML_SDF_ERROR_BOUND ? sdf_sample_eb(f, o, u, R, &op, out) : sdf_sample_simple(f, o, u, R, &op, out);
    return rc;
}
