/* moonlab laplace — options, node evaluation, and the per-t methods
 * (fixed Talbot, Euler, Gaver-Stehfest) of the form
 *   f(t) = e^{at}/t * sum_k Re(w_k F(alpha_k/t + a))   (Abate & Whitt 2006, eq. 2.3). */
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

double ml_lp_shift(const ml_laplace_opts *o, const ml_laplace_fn *fn) {
    return isnan(o->abscissa) ? fn->abscissa : o->abscissa;
}

int ml_lp_check_times(size_t nt, const double *t, double *tmax, double *tmin) {
    double hi = 0, lo = INFINITY;
    for (size_t i = 0; i < nt; i++) {
        if (!(t[i] > 0) || !isfinite(t[i]))
            return ml_fail(ML_EINVAL, "t[%zu] = %g, expected a finite time > 0", i + 1, t[i]);
        if (t[i] > hi) hi = t[i];
        if (t[i] < lo) lo = t[i];
    }
    if (tmax) *tmax = hi;
    if (tmin) *tmin = lo;
    return ML_OK;
}

#define EVAL_BATCH 1024

int ml_lp_eval(const ml_laplace_fn *fn, double shift, size_t n, const double complex *s,
               double complex *out) {
    if (!fn || !fn->eval) return ml_fail(ML_EINVAL, "transform has no eval function");
    size_t nb = (n + EVAL_BATCH - 1) / EVAL_BATCH;
    int rc = ML_OK;
    double complex *tmp = malloc(sizeof(double complex) * (n ? n : 1));
    if (!tmp) return ml_fail(ML_ENOMEM, "out of memory for %zu nodes", n);
    for (size_t i = 0; i < n; i++) tmp[i] = s[i] + shift;
    if (fn->threadsafe && nb > 1 && ML_LP_PAR(n)) {
        int bad = ML_OK;
#pragma omp parallel for schedule(dynamic)
        for (size_t b = 0; b < nb; b++) {
            size_t i0 = b * EVAL_BATCH, m = n - i0 < EVAL_BATCH ? n - i0 : EVAL_BATCH;
            int r = fn->eval(fn->params, m, tmp + i0, out + i0);
            if (r != ML_OK) {
#pragma omp atomic write
                bad = r;
            }
        }
        rc = bad;
    } else {
        for (size_t b = 0; b < nb && rc == ML_OK; b++) {
            size_t i0 = b * EVAL_BATCH, m = n - i0 < EVAL_BATCH ? n - i0 : EVAL_BATCH;
            rc = ml_progress_tick(NULL, 0, 0); /* Ctrl-C between batches of a slow (Lua) F */
            if (rc == ML_OK) rc = fn->eval(fn->params, m, tmp + i0, out + i0);
        }
    }
    if (rc == ML_OK) {
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(creal(out[i])) || !isfinite(cimag(out[i]))) {
                rc = ml_fail(ML_ENUMERIC, "F(%g%+gi) = %g%+gi is not finite", creal(tmp[i]),
                             cimag(tmp[i]), creal(out[i]), cimag(out[i]));
                break;
            }
        }
    }
    free(tmp);
    return rc;
}

/* Gaver-Stehfest weights (Stehfest 1970, eq. 1-2), exact-ish in long double:
 * V_k = (-1)^{k+N/2} sum_{j=floor((k+1)/2)}^{min(k,N/2)} j^{N/2} (2j)! /
 *       ((N/2-j)! j! (j-1)! (k-j)! (2j-k)!). */
int ml_laplace_stehfest_weights(int N, long double *V) {
    if (N < 2 || N > ML_LP_STEHFEST_NMAX || N % 2)
        return ml_fail(ML_EINVAL, "Stehfest N = %d, expected an even number in [2, %d]", N,
                       ML_LP_STEHFEST_NMAX);
    long double fact[2 * ML_LP_STEHFEST_NMAX + 1];
    fact[0] = 1.0L;
    for (int i = 1; i <= 2 * N; i++) fact[i] = fact[i - 1] * i;
    int h = N / 2;
    for (int k = 1; k <= N; k++) {
        long double sum = 0;
        int j0 = (k + 1) / 2, j1 = k < h ? k : h;
        for (int j = j0; j <= j1; j++)
            sum += powl((long double)j, h) * fact[2 * j] /
                   (fact[h - j] * fact[j] * fact[j - 1] * fact[k - j] * fact[2 * j - k]);
        V[k - 1] = ((k + h) % 2 ? -1.0L : 1.0L) * sum;
    }
    return ML_OK;
}

/* Node pattern for a per-t method: alpha[k], w[k] (k < K). */
static int pattern(int method, int M, double complex *alpha, double complex *w,
                   long double *V) {
    if (method == ML_LAPLACE_TALBOT) {
        /* Abate & Valko 2004, eqs. (3.2)-(3.4): r = 2M/5, theta_k = k pi/M. */
        double r = 2.0 * M / 5.0;
        alpha[0] = r;
        w[0] = 0.2 * exp(r);
        for (int k = 1; k < M; k++) {
            double th = k * M_PI / M, ct = cos(th) / sin(th);
            double sig = th + (th * ct - 1.0) * ct;
            alpha[k] = r * th * (ct + I);
            w[k] = 0.4 * cexp(alpha[k]) * (1.0 + I * sig);
        }
        return M;
    }
    if (method == ML_LAPLACE_EULER) {
        /* Abate & Whitt 2006, eq. (5.4)-(5.5). */
        int K = 2 * M + 1;
        double xi[2 * 60 + 1];
        xi[0] = 0.5;
        for (int k = 1; k <= M; k++) xi[k] = 1.0;
        double p2 = ldexp(1.0, -M);
        xi[2 * M] = p2;
        double binom = 1.0; /* C(M, k) */
        for (int k = 1; k < M; k++) {
            binom = binom * (M - k + 1) / k;
            xi[2 * M - k] = xi[2 * M - k + 1] + p2 * binom;
        }
        double A = M * log(10.0) / 3.0, sc = pow(10.0, M / 3.0);
        for (int k = 0; k < K; k++) {
            alpha[k] = A + I * M_PI * k;
            w[k] = sc * (k % 2 ? -1.0 : 1.0) * xi[k];
        }
        return K;
    }
    /* Stehfest: alpha_k = k ln2, weights V_k ln2 (real, long double). */
    int rc = ml_laplace_stehfest_weights(M, V);
    if (rc) return -rc;
    for (int k = 0; k < M; k++) {
        alpha[k] = (k + 1) * M_LN2;
        w[k] = (double)V[k];
    }
    return M;
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

#define T_CHUNK 2048

static int invert_pert(const ml_laplace_opts *o, const ml_laplace_fn *fn, int M, size_t nt,
                       const double *t, double *f, size_t *nevals) {
    int method = o->method;
    int Kmax = method == ML_LAPLACE_EULER ? 2 * M + 1 : M;
    double complex *alpha = malloc(sizeof(double complex) * Kmax);
    double complex *w = malloc(sizeof(double complex) * Kmax);
    long double *V = malloc(sizeof(long double) * (M + 1));
    size_t chunk = nt < T_CHUNK ? nt : T_CHUNK;
    double complex *s = malloc(sizeof(double complex) * chunk * Kmax + 1);
    double complex *Fv = malloc(sizeof(double complex) * chunk * Kmax + 1);
    int rc = ML_OK;
    if (!alpha || !w || !V || !s || !Fv) {
        rc = ml_fail(ML_ENOMEM, "out of memory for %zu x %d nodes", chunk, Kmax);
        goto done;
    }
    int K = pattern(method, M, alpha, w, V);
    if (K < 0) { rc = -K; goto done; }
    double a = ml_lp_shift(o, fn);
    for (size_t c0 = 0; c0 < nt && rc == ML_OK; c0 += chunk) {
        size_t m = nt - c0 < chunk ? nt - c0 : chunk;
        rc = ml_progress_tick(o->progress, (double)c0, (double)nt);
        if (rc) break;
        for (size_t i = 0; i < m; i++)
            for (int k = 0; k < K; k++) s[i * K + k] = alpha[k] / t[c0 + i];
        rc = ml_lp_eval(fn, a, m * (size_t)K, s, Fv);
        if (rc) break;
        if (nevals) *nevals += m * (size_t)K;
#pragma omp parallel for if (ML_LP_PAR(m * (size_t)K))
        for (size_t i = 0; i < m; i++) {
            double ti = t[c0 + i];
            const double complex *Fi = Fv + i * K;
            if (method == ML_LAPLACE_STEHFEST) {
                long double acc = 0;
                for (int k = 0; k < K; k++) acc += V[k] * (long double)creal(Fi[k]);
                f[c0 + i] = (double)(acc * (long double)M_LN2 / ti) * exp(a * ti);
            } else {
                long double acc = 0; /* long double: the weights alternate in sign */
                for (int k = 0; k < K; k++)
                    acc += (long double)creal(w[k]) * creal(Fi[k]) -
                           (long double)cimag(w[k]) * cimag(Fi[k]);
                f[c0 + i] = (double)acc / ti * exp(a * ti);
            }
        }
        for (size_t i = 0; i < m; i++)
            if (!isfinite(f[c0 + i])) {
                rc = ml_fail(ML_ENUMERIC, "%s: result %g at t = %g is not finite (F grows left "
                             "of the contour? delays need dehoog or fourier)",
                             ml_laplace_method_name(method), f[c0 + i], t[c0 + i]);
                break;
            }
    }
done:
    free(alpha);
    free(w);
    free(V);
    free(s);
    free(Fv);
    return rc;
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
                  : invert_pert(o, fn, M, nt, t, f, nevals);
        break;
    case ML_LAPLACE_EULER:
    case ML_LAPLACE_STEHFEST: rc = invert_pert(o, fn, M, nt, t, f, nevals); break;
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
