/* The GPR-accelerated dimer (paper §2): a GP on energies and gradients is refitted (with MAP
 * hyperparameters) after every true evaluation, the dimer runs on its posterior mean inside a
 * trust region, and the true E, G are evaluated at the new midpoint only. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gp_internal.h"

ml_gp_gpr_opts ml_gp_gpr_defaults(void)
{
    ml_gp_gpr_opts o;
    o.dimer = ml_gp_dimer_defaults();
    o.dimer.rot_tol = 0.01;
    o.noise = 1e-5;
    o.max_outer = 300;
    o.trust_radius = 0.2;
    o.ratio_lo = 2.0 / 3.0, o.ratio_hi = 1.5;
    o.inner_maxit = 200;
    o.hyper = ml_gp_opt_defaults();
    o.hyper.maxit = 100;
    o.hyper.xtol = 1e-4;
    o.hyper_every = 1;
    o.hyper_points = 0;
    o.anchor_prior = 0;
    return o;
}

typedef struct {
    ml_gp *g;
    int D;
    double *Es, *Evar;
} surrogate;

static int sur_eval(void *ud, const double *x, double *E, double *G)
{
    surrogate *s = ud;
    return ml_gp_predict(s->g, 1, x, E, NULL, G, NULL);
}

typedef struct {
    const double *X;      /* data points */
    int64_t n;
    int D, natoms, adim;
    double radius, lo, hi;
} trust_ctx;

/* Inside when some data point is within the radius (Cartesian), or, for atoms, has every pair
 * distance ratio r_ij(x) / r_ij(data) within [lo, hi]. */
static int in_trust(void *ud, const double *x)
{
    const trust_ctx *t = ud;
    for (int64_t d = 0; d < t->n; d++) {
        const double *y = t->X + d * t->D;
        if (!t->natoms) {
            double s = 0;
            for (int i = 0; i < t->D; i++) s += (x[i] - y[i]) * (x[i] - y[i]);
            if (sqrt(s) <= t->radius) return 1;
            continue;
        }
        int ok = 1;
        for (int a = 0; a < t->natoms && ok; a++)
            for (int b = a + 1; b < t->natoms && ok; b++) {
                double r1 = 0, r2 = 0;
                for (int c = 0; c < t->adim; c++) {
                    double u = x[a * t->adim + c] - x[b * t->adim + c];
                    double v = y[a * t->adim + c] - y[b * t->adim + c];
                    r1 += u * u, r2 += v * v;
                }
                double q = sqrt(r1 / r2);
                if (!(q >= t->lo && q <= t->hi)) ok = 0;
            }
        if (ok) return 1;
    }
    return 0;
}

/* MAP hyperparameters of g (starting from its kernel's); on success copies them into k (the warm
 * start of the next iteration). A failed optimisation counts in *failures and leaves k unchanged;
 * only an interrupt (GP_EINTR) or out-of-memory is returned. */
static int map_hyper(ml_gp *g, ml_gp_kernel *k, const ml_gp_opt_opts *ho, int *failures)
{
    ml_gp_opt_result hr;
    if (ml_gp_optimize(g, ho, &hr)) {
        if (ml_errcode() == GP_EINTR && !strcmp(ml_errmsg(), "interrupted")) return GP_EINTR;
        (*failures)++;
        ml_clear_error();
        return ML_OK;
    }
    int np = ml_gpk_nparams(k);
    double *th = malloc((size_t)(np ? np : 1) * sizeof *th);
    if (!th) return ml_fail(ML_ENOMEM, "gpr_dimer: out of memory");
    ml_gpk_get_params(ml_gp_kernel_of(g), th);
    ml_gpk_set_params(k, th);
    free(th);
    return ML_OK;
}

int ml_gp_gpr_dimer(ml_gp_potential *p, const ml_gp_kernel *k0, double *x, double *mode,
                    const ml_gp_gpr_opts *o, ml_gp_gpr_result *res, ml_gp_pathfn path,
                    void *path_ud)
{
    memset(res, 0, sizeof *res);
    ml_gp_dimer_result *r = &res->d;
    int D = p->dim, rc = ML_OK;
    if (o->max_outer < 1 || !(o->noise >= 0) || !(o->trust_radius > 0) || !(o->ratio_lo > 0 && o->ratio_lo < 1) ||
        !(o->ratio_hi > 1) || o->inner_maxit < 1 || o->hyper_every < 1 || o->hyper_points < 0)
        return ml_fail(ML_EINVAL, "bad gpr_dimer options (max_outer, inner_maxit >= 1; trust_radius > 0; "
                                  "0 < ratio_lo < 1 < ratio_hi; noise >= 0; hyper_every >= 1, "
                                  "hyper_points >= 0)");
    if (ml_gpk_dim(k0) && ml_gpk_dim(k0) != D)
        return ml_fail(ML_EINVAL, "kernel needs %d coordinates, the potential has %d", ml_gpk_dim(k0), D);
    int natoms = 0, adim = 0;
    ml_gpk_atoms(k0, &natoms, &adim);
    int cap = o->max_outer + 1;
    double *X = malloc((size_t)cap * D * sizeof *X), *E = malloc((size_t)cap * sizeof *E),
           *Es = malloc((size_t)cap * sizeof *Es), *G = malloc((size_t)cap * D * sizeof *G),
           *m0 = malloc((size_t)D * sizeof *m0);
    ml_gp_kernel *k = ml_gpk_clone(k0);
    ml_gp *g = NULL;
    double *th0 = k ? malloc((size_t)(ml_gpk_nparams(k) + 1) * sizeof *th0) : NULL;
    if (!X || !E || !Es || !G || !m0 || !k || !th0) {
        rc = ml_fail(ML_ENOMEM, "gpr_dimer: out of memory");
        goto done;
    }
    double mn = gp_norm(D, mode);
    if (!(mn > 0) || !isfinite(mn)) {
        rc = ml_fail(ML_EINVAL, "initial mode is zero");
        goto done;
    }
    for (int i = 0; i < D; i++) mode[i] /= mn;
    /* the MAP options: priors centred on the starting hyperparameters (anchor_prior) or on each
     * iteration's warm start */
    ml_gpk_get_params(k, th0);
    ml_gp_opt_opts ho = o->hyper;
    if (o->anchor_prior) ho.prior_center = th0;
    int64_t calls0 = p->calls, n = 0;
    memcpy(X, x, (size_t)D * sizeof *X);
    if ((rc = ml_gp_pot_eval(p, X, E, G))) goto done;
    n = 1;
    if (path) path(path_ud, x, E[0]);
    strcpy(r->reason, "max_iters");
    double C = 0;
    int outer;
    for (outer = 0;; outer++) {
        const double *gl = G + (n - 1) * D;
        double gn = gp_norm(D, gl);
        if (gn < o->dimer.gtol) {
            r->converged = 1;
            strcpy(r->reason, "tolerance");
            break;
        }
        if (n >= cap) break;
        if (gp_tick(o->dimer.progress, (double)n, (double)cap) != ML_OK) {
            strcpy(r->reason, "interrupted");
            rc = ml_fail(GP_EINTR, "interrupted");
            break;
        }
        /* energies shifted so that E(start) = 0; sigma_c^2 = max(1, mean(E)^2) */
        double mean = 0;
        for (int64_t i = 0; i < n; i++) Es[i] = E[i] - E[0], mean += Es[i];
        mean /= (double)n;
        ml_gpk_set_constant(k, fmax(1.0, mean * mean));
        double t0 = gp_now();
        /* MAP hyperparameters (warm-started from the previous ones) at every hyper_every-th
         * iteration, on the latest hyper_points points when set, else on the fitted GP itself */
        int do_hyper = outer % o->hyper_every == 0;
        int64_t hm = o->hyper_points && n > o->hyper_points ? o->hyper_points : n;
        if (do_hyper && hm < n) {
            ml_gp *gs = ml_gp_new(k, D, o->noise, ML_GP_MEAN_ZERO);
            if (!gs) { rc = ml_errcode() ? ml_errcode() : ML_ENOMEM; break; }
            rc = ml_gp_fit(gs, hm, X + (n - hm) * D, Es + (n - hm), G + (n - hm) * D);
            if (!rc) rc = map_hyper(gs, k, &ho, &res->hyper_failures);
            ml_gp_free(gs);
            if (rc == GP_EINTR) { strcpy(r->reason, "interrupted"); break; }
            if (rc) { res->hyper_failures++; ml_clear_error(); rc = ML_OK; }
        }
        double t1 = gp_now();
        ml_gp_free(g);
        g = ml_gp_new(k, D, o->noise, ML_GP_MEAN_ZERO);
        if (!g) { rc = ml_errcode() ? ml_errcode() : ML_ENOMEM; break; }
        if ((rc = ml_gp_fit(g, n, X, Es, G))) break;
        double t2 = gp_now();
        res->t_fit += t2 - t1;
        if (do_hyper && hm == n) {
            int frc = res->hyper_failures;
            rc = map_hyper(g, k, &ho, &res->hyper_failures);
            if (rc == GP_EINTR) { strcpy(r->reason, "interrupted"); break; }
            if (rc) break;
            /* a failed MAP keeps the previous hyperparameters: refit with them */
            if (res->hyper_failures > frc) {
                ml_gp_free(g);
                g = ml_gp_new(k, D, o->noise, ML_GP_MEAN_ZERO);
                if (!g) { rc = ml_errcode() ? ml_errcode() : ML_ENOMEM; break; }
                if ((rc = ml_gp_fit(g, n, X, Es, G))) break;
            }
        }
        res->t_hyper += (t1 - t0) + (gp_now() - t2);
        t2 = gp_now();
        /* the dimer on the posterior mean */
        surrogate s = {.g = g, .D = D};
        ml_gp_potential sp = {.eval = sur_eval, .ud = &s, .dim = D, .natoms = p->natoms, .adim = p->adim,
                              .rigid = p->rigid};
        trust_ctx tc = {.X = X, .n = n, .D = D, .natoms = natoms, .adim = adim, .radius = o->trust_radius,
                        .lo = o->ratio_lo, .hi = o->ratio_hi};
        ml_gp_dimer_opts io = o->dimer;
        io.gtol = fmax(gn / 10, o->dimer.gtol / 10);
        io.maxit = o->inner_maxit;
        io.max_calls = 0;
        io.progress = NULL;
        memcpy(x, X + (n - 1) * D, (size_t)D * sizeof *x);
        memcpy(m0, mode, (size_t)D * sizeof *m0);
        ml_gp_dimer_result ir;
        int hit;
        rc = gp_dimer_run(&sp, x, mode, &io, &ir, NULL, NULL, in_trust, &tc, &hit);
        res->t_dimer += gp_now() - t2;
        if (rc) break;
        C = ir.curvature;
        if (!(gp_norm(D, mode) > 0)) memcpy(mode, m0, (size_t)D * sizeof *m0);
        /* the true evaluation at the new midpoint */
        memcpy(X + n * D, x, (size_t)D * sizeof *X);
        if ((rc = ml_gp_pot_eval(p, X + n * D, E + n, G + n * D))) break;
        n++;
        if (path) path(path_ud, x, E[n - 1]);
    }
    memcpy(x, X + (n - 1) * D, (size_t)D * sizeof *x);
    r->iterations = outer;
    r->energy = E[n - 1];
    r->curvature = C;
    r->calls = p->calls - calls0;
done:
    ml_gp_free(g);
    ml_gpk_free(k);
    free(X), free(E), free(Es), free(G), free(m0), free(th0);
    return rc;
}
