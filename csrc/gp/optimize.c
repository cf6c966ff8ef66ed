/* MAP / ML hyperparameters in log space with NLopt's L-BFGS (paper §2: Student-t prior on
 * log sigma_m, Gaussian prior on log l), with seeded random restarts. */
#include <math.h>
#include <nlopt.h>
#include <stdlib.h>
#include <string.h>
#include "gp_internal.h"
#include "moonlab/tensor.h"

ml_gp_prior ml_gp_prior_defaults(void)
{
    return (ml_gp_prior){.use = 1, .mag_nu = 3, .mag_mu = NAN, .mag_scale = 1, .len_mu = NAN, .len_scale = 1};
}

ml_gp_opt_opts ml_gp_opt_defaults(void)
{
    return (ml_gp_opt_opts){.prior = ml_gp_prior_defaults(), .maxit = 200, .restarts = 0, .seed = 0,
                            .xtol = 1e-8, .bound = 10, .progress = NULL, .prior_center = NULL,
                            .lower = NULL};
}

/* log prior of the parameters theta (own kinds) and its gradient added to grad. */
static double log_prior(const ml_gp_kernel *k, const ml_gp_prior *pr, const double *theta,
                        const double *theta0, double *grad)
{
    if (!pr->use) return 0;
    double lp = 0;
    for (int p = 0; p < k->np; p++) {
        int kind, fixed;
        char nm[8];
        ml_gpk_param_info(k, p, &kind, &fixed, nm, sizeof nm);
        if (fixed) continue;
        if (kind == ML_GPP_VARIANCE) {
            double z = 0.5 * theta[p], mu = isnan(pr->mag_mu) ? 0.5 * theta0[p] : pr->mag_mu;
            double t = (z - mu) / pr->mag_scale, nu = pr->mag_nu;
            lp += -0.5 * (nu + 1) * log1p(t * t / nu);
            if (grad) grad[p] += 0.5 * (-(nu + 1) * t / (nu + t * t)) / pr->mag_scale;
        } else if (kind == ML_GPP_LENGTHSCALE) {
            double mu = isnan(pr->len_mu) ? theta0[p] : pr->len_mu, t = (theta[p] - mu) / pr->len_scale;
            lp += -0.5 * t * t;
            if (grad) grad[p] += -t / pr->len_scale;
        }
    }
    return lp;
}

int ml_gp_log_posterior(ml_gp *g, const ml_gp_prior *pr, const double *theta0, double *val,
                        double *grad)
{
    ml_gp_kernel *k = ml_gp_kernel_of(g);
    int np = ml_gpk_nparams(k);
    double *th = malloc((size_t)(np ? np : 1) * sizeof *th);
    if (!th) return ml_fail(ML_ENOMEM, "gp: out of memory");
    ml_gpk_get_params(k, th);
    double lml;
    int rc = ml_gp_lml(g, &lml, grad);
    if (!rc) *val = lml + log_prior(k, pr, th, theta0 ? theta0 : th, grad);
    free(th);
    return rc;
}

typedef struct {
    ml_gp *g;
    const ml_gp_opt_opts *o;
    int np, nfree;
    int *idx;                 /* free parameter -> kernel parameter */
    double *theta, *theta0, *grad, *best;
    const double *center;     /* of the priors */
    double best_val;
    int evals, fail_code, interrupted;
    nlopt_opt opt;
} opt_ctx;

static double objective(unsigned n, const double *z, double *gz, void *data)
{
    opt_ctx *c = data;
    c->evals++;
    if (gp_tick(c->o->progress, c->evals, 0) != ML_OK) {
        c->interrupted = 1;
        nlopt_force_stop(c->opt);
    }
    for (unsigned i = 0; i < n; i++) c->theta[c->idx[i]] = z[i];
    ml_gp_kernel *k = ml_gp_kernel_of(c->g);
    double val = -HUGE_VAL;
    int rc = ml_gpk_set_params(k, c->theta);
    if (!rc) rc = ml_gp_refit(c->g);
    for (int p = 0; p < c->np; p++) c->grad[p] = 0;
    if (!rc) rc = ml_gp_log_posterior(c->g, &c->o->prior, c->center, &val, c->grad);
    if (rc || !isfinite(val)) {
        /* a failed fit is a very bad point: push back towards the start */
        c->fail_code = rc ? rc : ML_ENUMERIC;
        if (gz)
            for (unsigned i = 0; i < n; i++) gz[i] = z[i] - c->theta0[c->idx[i]];
        ml_clear_error();
        return 1e300;
    }
    if (val > c->best_val) {
        c->best_val = val;
        memcpy(c->best, c->theta, (size_t)c->np * sizeof *c->best);
    }
    if (gz)
        for (unsigned i = 0; i < n; i++) gz[i] = -c->grad[c->idx[i]];
    return -val;
}

int ml_gp_optimize(ml_gp *g, const ml_gp_opt_opts *o, ml_gp_opt_result *r)
{
    memset(r, 0, sizeof *r);
    if (ml_gp_npoints(g) == 0) return ml_fail(ML_EINVAL, "the GP has no data: call fit first");
    if (o->maxit < 1 || o->restarts < 0 || !(o->bound > 0) || !(o->xtol >= 0))
        return ml_fail(ML_EINVAL, "bad optimiser options (maxit >= 1, restarts >= 0, bound > 0)");
    if (o->prior.use && !(o->prior.mag_nu > 0 && o->prior.mag_scale > 0 && o->prior.len_scale > 0))
        return ml_fail(ML_EINVAL, "prior scales and nu must be > 0");
    ml_gp_kernel *k = ml_gp_kernel_of(g);
    opt_ctx c = {.g = g, .o = o, .np = ml_gpk_nparams(k), .best_val = -HUGE_VAL};
    int np = c.np;
    c.idx = malloc((size_t)(np + 1) * sizeof *c.idx);
    double *buf = malloc((size_t)(6 * np + 6) * sizeof *buf);
    if (!c.idx || !buf) {
        free(c.idx), free(buf);
        return ml_fail(ML_ENOMEM, "gp.optimize: out of memory");
    }
    c.theta = buf, c.theta0 = buf + np + 1, c.grad = c.theta0 + np + 1, c.best = c.grad + np + 1;
    double *z = c.best + np + 1, *lb = z + np + 1;
    double *ub = malloc((size_t)(np + 1) * sizeof *ub);
    ml_gpk_get_params(k, c.theta0);
    c.center = o->prior_center ? o->prior_center : c.theta0;
    memcpy(c.theta, c.theta0, (size_t)np * sizeof *c.theta);
    memcpy(c.best, c.theta0, (size_t)np * sizeof *c.best);
    for (int p = 0; p < np; p++) {
        int kind, fixed;
        char nm[8];
        ml_gpk_param_info(k, p, &kind, &fixed, nm, sizeof nm);
        if (!fixed) c.idx[c.nfree++] = p;
    }
    int rc = ML_OK;
    strcpy(r->reason, "tolerance");
    r->converged = 1;
    if (c.nfree == 0 || !ub) {
        if (!ub) rc = ml_fail(ML_ENOMEM, "gp.optimize: out of memory");
        else rc = ml_gp_refit(g);
        if (!rc) rc = ml_gp_log_posterior(g, &o->prior, c.center, &r->objective, NULL);
        if (!rc) rc = ml_gp_lml(g, &r->lml, NULL);
        free(c.idx), free(buf), free(ub);
        return rc;
    }
    int any_ok = 0, all_conv = 1, stalled = 0;
    for (int start = 0; start <= o->restarts && !c.interrupted; start++) {
        nlopt_opt opt = nlopt_create(NLOPT_LD_LBFGS, (unsigned)c.nfree);
        if (!opt) { rc = ml_fail(ML_ENOMEM, "gp.optimize: NLopt could not be created"); break; }
        for (int i = 0; i < c.nfree; i++) {
            double t0 = c.theta0[c.idx[i]];
            lb[i] = t0 - o->bound, ub[i] = t0 + o->bound;
            if (o->lower && o->lower[c.idx[i]] > lb[i]) lb[i] = fmin(o->lower[c.idx[i]], ub[i]);
            z[i] = start == 0 ? t0 : t0 + ml_rng_normal(o->seed, (uint64_t)(start * np + i));
            if (z[i] < lb[i]) z[i] = lb[i];
            if (z[i] > ub[i]) z[i] = ub[i];
        }
        c.opt = opt;
        nlopt_set_lower_bounds(opt, lb);
        nlopt_set_upper_bounds(opt, ub);
        nlopt_set_min_objective(opt, objective, &c);
        nlopt_set_maxeval(opt, o->maxit);
        nlopt_set_xtol_rel(opt, o->xtol);
        nlopt_set_ftol_rel(opt, 1e-12);
        nlopt_set_vector_storage(opt, 10);
        double fmin;
        nlopt_result res = nlopt_optimize(opt, z, &fmin);
        nlopt_destroy(opt);
        if (c.best_val > -HUGE_VAL) any_ok = 1;
        if (res == NLOPT_MAXEVAL_REACHED) all_conv = 0, strcpy(r->reason, "max_iters");
        else if (res == NLOPT_FORCED_STOP && c.interrupted) all_conv = 0, strcpy(r->reason, "interrupted");
        else if (res == NLOPT_ROUNDOFF_LIMITED || res == NLOPT_FAILURE) stalled = 1;
        else if (res < 0) all_conv = 0, strcpy(r->reason, "failed");
    }
    r->iterations = c.evals;
    r->converged = all_conv && any_ok;
    /* leave the GP fitted at the best point found (or the start) */
    ml_gpk_set_params(k, any_ok ? c.best : c.theta0);
    int rc2 = ml_gp_refit(g);
    if (!rc && rc2) rc = rc2;
    if (!rc) rc = ml_gp_log_posterior(g, &o->prior, c.center, &r->objective, c.grad);
    if (!rc) rc = ml_gp_lml(g, &r->lml, NULL);
    if (!rc && stalled && all_conv) {
        /* NLopt's line search gave up: converged when the gradient at the best point is small */
        double gmax = 0;
        for (int i = 0; i < c.nfree; i++) gmax = fmax(gmax, fabs(c.grad[c.idx[i]]));
        if (gmax > 1e-3 * fmax(1.0, fabs(r->objective))) {
            all_conv = 0;
            strcpy(r->reason, "stalled");
        }
        r->converged = all_conv && any_ok;
    }
    if (!rc && c.interrupted) rc = ml_fail(GP_EINTR, "interrupted");
    free(c.idx), free(buf), free(ub);
    return rc;
}
