/* moonlab laplace — options, defaults and orders, and the dispatcher that runs a method
 * (pert.c, quad.c, talbot_shared.c, dehoog.c, weeks.c, fourier.c) and checks its result. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lp_internal.h"

static const char *const method_names[ML_LAPLACE_NMETHODS] = {
    "talbot", "euler", "stehfest", "dehoog", "weeks", "fourier"};

ml_laplace_opts ml_laplace_defaults(void) {
    ml_laplace_opts o;
    o.method = ML_LAPLACE_DEHOOG;
    o.M = 0;
    o.abscissa = NAN;
    o.sigma = NAN;
    o.b = NAN;
    o.tol = NAN;
    o.T = NAN;
    o.precision = ML_LAPLACE_PREC_AUTO;
    o.progress = NULL;
    return o;
}

int ml_laplace_default_order(int method) {
    switch (method) {
    case ML_LAPLACE_TALBOT: return 24;
    case ML_LAPLACE_EULER: return 18;
    case ML_LAPLACE_STEHFEST: return 14;
    case ML_LAPLACE_DEHOOG: return 24;
    case ML_LAPLACE_WEEKS: return 128;
    case ML_LAPLACE_FOURIER: return 16384;
    default: return 0;
    }
}

/* Measured on the suite (examples/laplace_accuracy.lua): the smallest orders
 * whose discretisation error is below the goals once F is exact to ~1e-34. */
int ml_laplace_default_order_quad(int method) {
    switch (method) {
    case ML_LAPLACE_TALBOT: return 40;
    case ML_LAPLACE_EULER: return 32;
    case ML_LAPLACE_STEHFEST: return 38;
    default: return ml_laplace_default_order(method);
    }
}

static int is_pert(int method) {
    return method == ML_LAPLACE_TALBOT || method == ML_LAPLACE_EULER ||
           method == ML_LAPLACE_STEHFEST;
}

int ml_laplace_uses_quad(const ml_laplace_opts *o, const ml_laplace_fn *fn) {
    if (!ML_LAPLACE_HAVE_QUAD || !o || !fn || !fn->evalq || !is_pert(o->method)) return 0;
    if (o->precision == ML_LAPLACE_PREC_QUAD) return 1;
    if (o->precision == ML_LAPLACE_PREC_DOUBLE) return 0;
    return o->method == ML_LAPLACE_EULER || o->method == ML_LAPLACE_STEHFEST;
}

void ml_laplace_order_range(int method, int *lo, int *hi) {
    int l = 1, h = 1;
    switch (method) {
    case ML_LAPLACE_TALBOT: l = 4; h = 200; break;
    case ML_LAPLACE_EULER: l = 2; h = 60; break;
    case ML_LAPLACE_STEHFEST: l = 2; h = ML_LP_STEHFEST_NMAX; break;
    case ML_LAPLACE_DEHOOG: l = 2; h = 200; break;
    case ML_LAPLACE_WEEKS: l = 4; h = 1 << 16; break;
    case ML_LAPLACE_FOURIER: l = 16; h = 1 << 24; break;
    default: break;
    }
    if (lo) *lo = l;
    if (hi) *hi = h;
}

const char *ml_laplace_method_name(int method) {
    if (method < 0 || method >= ML_LAPLACE_NMETHODS) return "?";
    return method_names[method];
}

int ml_laplace_method_parse(const char *name) {
    for (int i = 0; i < ML_LAPLACE_NMETHODS; i++)
        if (name && strcmp(name, method_names[i]) == 0) return i;
    return -1;
}

static int check_order(int method, int quad, int *M) {
    int lo, hi;
    if (*M == 0) *M = quad ? ml_laplace_default_order_quad(method) : ml_laplace_default_order(method);
    ml_laplace_order_range(method, &lo, &hi);
    if (*M < lo || *M > hi)
        return ml_fail(ML_EINVAL, "order M = %d out of range [%d, %d] for method '%s'", *M, lo,
                       hi, ml_laplace_method_name(method));
    if (method == ML_LAPLACE_STEHFEST && *M % 2)
        return ml_fail(ML_EINVAL, "order M = %d for method 'stehfest' must be even", *M);
    return ML_OK;
}

static int dispatch(const ml_laplace_opts *o, const ml_laplace_fn *fn, size_t nt,
                    const double *t, double *f, size_t *nevals, int many) {
    if (!o || !fn || (nt && (!t || !f))) return ml_fail(ML_EINVAL, "NULL argument");
    if (o->method < 0 || o->method >= ML_LAPLACE_NMETHODS)
        return ml_fail(ML_EINVAL, "unknown method %d", o->method);
    if (o->precision < ML_LAPLACE_PREC_AUTO || o->precision > ML_LAPLACE_PREC_QUAD)
        return ml_fail(ML_EINVAL, "unknown precision %d", o->precision);
    int quad = ml_laplace_uses_quad(o, fn);
    if (o->precision == ML_LAPLACE_PREC_QUAD && !quad) {
        if (!is_pert(o->method))
            return ml_fail(ML_EINVAL, "precision 'quad' is available for talbot, euler and "
                                      "stehfest, not for method '%s'",
                           ml_laplace_method_name(o->method));
        return ml_fail(ML_EINVAL, "precision 'quad' needs a C transform with a quad-precision "
                                  "evaluator%s",
                       ML_LAPLACE_HAVE_QUAD ? " (this F has none; Lua functions are double)"
                                            : " (not available in this build)");
    }
    int M = o->M;
    int rc = check_order(o->method, quad, &M);
    if (rc) return rc;
    double a = ml_lp_shift(o, fn);
    if (!isfinite(a)) return ml_fail(ML_EINVAL, "abscissa %g is not finite", a);
    if (nevals) *nevals = 0;
    rc = ml_lp_check_times(nt, t, NULL, NULL);
    if (rc || nt == 0) return rc;
    if (quad) rc = ml_lp_pert_quad(o, fn, M, nt, t, f, nevals);
    else switch (o->method) {
    case ML_LAPLACE_TALBOT:
        rc = many ? ml_lp_talbot_shared(o, fn, M, nt, t, f, nevals)
                  : ml_lp_pert(o, fn, M, nt, t, f, nevals);
        break;
    case ML_LAPLACE_EULER:
    case ML_LAPLACE_STEHFEST: rc = ml_lp_pert(o, fn, M, nt, t, f, nevals); break;
    case ML_LAPLACE_DEHOOG: rc = ml_lp_dehoog(o, fn, M, many ? 2.0 : 1.0, nt, t, f, nevals); break;
    case ML_LAPLACE_WEEKS: rc = ml_lp_weeks(o, fn, M, nt, t, f, nevals); break;
    default: rc = ml_lp_fourier(o, fn, M, nt, t, f, nevals); break;
    }
    /* one rule for every method and entry point: a result is finite, or the call fails */
    for (size_t i = 0; i < nt && rc == ML_OK; i++)
        if (!isfinite(f[i]))
            rc = ml_fail(ML_ENUMERIC,
                         "%s: result %g at t = %g is not finite (t too large for the method's "
                         "parameters, or F growing left of the contour)",
                         ml_laplace_method_name(o->method), f[i], t[i]);
    return rc;
}

/* See laplace.h. */
int ml_laplace_invert(const ml_laplace_opts *o, const ml_laplace_fn *fn, size_t nt,
                      const double *t, double *f) {
    return dispatch(o, fn, nt, t, f, NULL, 0);
}

/* See laplace.h. */
int ml_laplace_invert_many(const ml_laplace_opts *o, const ml_laplace_fn *fn, size_t nt,
                           const double *t, double *f, size_t *nevals) {
    return dispatch(o, fn, nt, t, f, nevals, 1);
}
