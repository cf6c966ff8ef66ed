/* The GPR-accelerated dimer (paper §2): a GP on energies and gradients is refitted (with MAP
 * hyperparameters) after every true evaluation, the dimer runs on its posterior mean inside a
 * trust region, and the true E, G are evaluated at the new midpoint only. Safeguards beyond the
 * paper (docs/gp.md): a length-scale floor from the data's spread, an adaptive trust region,
 * rejection of poor steps, and initial rotations on true images (after Koistinen et al.). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gp_internal.h"
#include "gpr_geom.h"

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
    o.hyper_select = ML_GP_HYPER_LATEST;
    o.anchor_prior = 0;
    o.init_rot = 0;
    o.init_rot_tol = 5.0 * M_PI / 180;
    o.trust_adapt = -1, o.reject = -1; /* auto: on for inverse-distance kernels */
    o.reject_tol = 0.5;
    o.length_floor = -1;               /* auto: 1 for inverse-distance kernels, else 0 */
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

/* The surrogate's minimum mode at x: the eigenvector of the lowest eigenvalue of the posterior
 * mean's finite-difference Hessian (rigid-body modes left out). The sign follows prev. Returns the
 * angle between the new mode and prev in *angle. */
static int surrogate_mode(ml_gp_potential *sp, const double *x, const double *prev, double *mode,
                          double *angle, double *ws)
{
    int D = sp->dim, nev;
    double *H = ws, *ev = H + (int64_t)D * D, *vec = ev + D;
    int rc = ml_gp_hessian(sp, x, 1e-4, sp->rigid, H, ev, vec, &nev);
    if (rc) return rc;
    if (nev < 1) return ml_fail(ML_ENUMERIC, "gpr_dimer: the surrogate Hessian has no modes");
    double c = gp_dot(D, vec, prev) / fmax(gp_norm(D, prev), 1e-300);
    for (int i = 0; i < D; i++) mode[i] = c < 0 ? -vec[i] : vec[i];
    *angle = acos(fmin(1.0, fabs(c)));
    return ML_OK;
}

/* Energies shifted so that E(start) = 0, sigma_c^2 = max(1, mean(E)^2); MAP hyperparameters
 * (warm-started from k's) when do_hyper, on the latest hyper_points points when set, else on the
 * fitted GP itself; then *gout holds a GP with k fitted to all n points. */
typedef struct {
    const ml_gp_gpr_opts *o;
    ml_gp_opt_opts ho;
    ml_gp_kernel *k;
    int D;
    ml_gp_gpr_result *res;
    double *lower, *phi;  /* length-scale floors (np), pair features (cap * npairs) */
    int64_t *sel;         /* hyper_select = fps: the chosen points (cap) */
    double *sub, *dmin;   /* their X, E, G rows (cap * (2D + 1)); distances (cap) */
} model_ctx;

static int fit_model(model_ctx *m, int64_t n, const double *X, const double *E, double *Es,
                     const double *G, int do_hyper, ml_gp **gout)
{
    const ml_gp_gpr_opts *o = m->o;
    int D = m->D, rc;
    double mean = 0;
    for (int64_t i = 0; i < n; i++) Es[i] = E[i] - E[0], mean += Es[i];
    mean /= (double)n;
    ml_gpk_set_constant(m->k, fmax(1.0, mean * mean));
    double t0 = gp_now();
    if (do_hyper && o->length_floor > 0) {
        for (int q = 0; q < ml_gpk_nparams(m->k); q++) m->lower[q] = -HUGE_VAL;
        gp_length_floor(m->k, n, X, D, o->length_floor, m->lower, 0, m->phi);
        m->ho.lower = m->lower;
    }
    int64_t hm = o->hyper_points && n > o->hyper_points ? o->hyper_points : n;
    if (do_hyper && hm < n) {
        ml_gp *gs = ml_gp_new(m->k, D, o->noise, ML_GP_MEAN_ZERO);
        if (!gs) return ml_errcode() ? ml_errcode() : ML_ENOMEM;
        const double *hX = X + (n - hm) * D, *hE = Es + (n - hm), *hG = G + (n - hm) * D;
        if (o->hyper_select == ML_GP_HYPER_FPS) {
            double *sX = m->sub, *sG = sX + hm * D, *sE = sG + hm * D;
            gp_fps(m->k, n, X, D, hm, m->sel, m->phi, m->dmin);
            for (int64_t j = 0; j < hm; j++) {
                memcpy(sX + j * D, X + m->sel[j] * D, (size_t)D * sizeof *sX);
                memcpy(sG + j * D, G + m->sel[j] * D, (size_t)D * sizeof *sG);
                sE[j] = Es[m->sel[j]];
            }
            hX = sX, hE = sE, hG = sG;
        }
        rc = ml_gp_fit(gs, hm, hX, hE, hG);
        if (!rc) rc = map_hyper(gs, m->k, &m->ho, &m->res->hyper_failures);
        ml_gp_free(gs);
        if (rc == GP_EINTR) return rc;
        if (rc) { m->res->hyper_failures++; ml_clear_error(); }
    }
    double t1 = gp_now();
    ml_gp_free(*gout);
    ml_gp *g = *gout = ml_gp_new(m->k, D, o->noise, ML_GP_MEAN_ZERO);
    if (!g) return ml_errcode() ? ml_errcode() : ML_ENOMEM;
    if ((rc = ml_gp_fit(g, n, X, Es, G))) return rc;
    double t2 = gp_now();
    m->res->t_fit += t2 - t1;
    if (do_hyper && hm == n) {
        int frc = m->res->hyper_failures;
        if ((rc = map_hyper(g, m->k, &m->ho, &m->res->hyper_failures))) return rc;
        /* a failed MAP keeps the previous hyperparameters: refit with them */
        if (m->res->hyper_failures > frc) {
            ml_gp_free(g);
            g = *gout = ml_gp_new(m->k, D, o->noise, ML_GP_MEAN_ZERO);
            if (!g) return ml_errcode() ? ml_errcode() : ML_ENOMEM;
            if ((rc = ml_gp_fit(g, n, X, Es, G))) return rc;
        }
    }
    m->res->t_hyper += (t1 - t0) + (gp_now() - t2);
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
        !(o->ratio_hi > 1) || o->inner_maxit < 1 || o->hyper_every < 1 || o->hyper_points < 0 ||
        (o->hyper_select != ML_GP_HYPER_LATEST && o->hyper_select != ML_GP_HYPER_FPS) ||
        o->init_rot < 0 || !(o->init_rot_tol > 0) || !(o->reject_tol > 0) || !(o->length_floor >= 0 || o->length_floor == -1))
        return ml_fail(ML_EINVAL, "bad gpr_dimer options (max_outer, inner_maxit >= 1; trust_radius > 0; "
                                  "0 < ratio_lo < 1 < ratio_hi; noise >= 0; hyper_every >= 1, "
                                  "hyper_points >= 0, hyper_select latest|fps, init_rot >= 0, init_rot_tol, reject_tol > 0, "
                                  "length_floor >= 0)");
    if (ml_gpk_dim(k0) && ml_gpk_dim(k0) != D)
        return ml_fail(ML_EINVAL, "kernel needs %d coordinates, the potential has %d", ml_gpk_dim(k0), D);
    int cap = o->max_outer + 1;
    double *X = malloc((size_t)cap * D * sizeof *X), *E = malloc((size_t)cap * sizeof *E),
           *Es = malloc((size_t)cap * sizeof *Es), *G = malloc((size_t)cap * D * sizeof *G),
           *m0 = malloc((size_t)D * sizeof *m0), *ws = malloc(((size_t)2 * D * D + 6 * (size_t)D) * sizeof *ws);
    ml_gp_kernel *k = ml_gpk_clone(k0);
    ml_gp *g = NULL;
    double *th0 = k ? malloc((size_t)(ml_gpk_nparams(k) + 1) * sizeof *th0) : NULL;
    double *lower = k ? malloc((size_t)(ml_gpk_nparams(k) + 1) * sizeof *lower) : NULL;
    const ml_gp_kernel *kd = k ? gp_invdist_leaf(k) : NULL;
    double *phi = malloc((size_t)cap * (kd ? kd->npairs + 1 : 1) * sizeof *phi);
    int64_t *sel = malloc((size_t)cap * sizeof *sel);
    double *sub = malloc((size_t)cap * (2 * (size_t)D + 1) * sizeof *sub), *dmin = malloc((size_t)cap * sizeof *dmin);
    if (!X || !E || !Es || !G || !m0 || !ws || !k || !th0 || !lower || !phi || !sel || !sub || !dmin) {
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
    /* the safeguards default to on for inverse-distance kernels (atoms), off otherwise */
    ml_gp_gpr_opts oo = *o;
    if (oo.trust_adapt < 0) oo.trust_adapt = kd != NULL;
    if (oo.reject < 0) oo.reject = kd != NULL;
    if (oo.length_floor < 0) oo.length_floor = kd ? 1 : 0;
    o = &oo;
    model_ctx mc = {.o = o, .ho = o->hyper, .k = k, .D = D, .res = res, .lower = lower, .phi = phi,
                    .sel = sel, .sub = sub, .dmin = dmin};
    if (o->anchor_prior) mc.ho.prior_center = th0;
    int64_t calls0 = p->calls, n = 0, cur = 0;
    memcpy(X, x, (size_t)D * sizeof *X);
    if ((rc = ml_gp_pot_eval(p, X, E, G))) goto done;
    n = 1;
    if (path) path(path_ud, x, E[0]);
    strcpy(r->reason, "max_iters");
    double C = 0;
    /* initial rotations: true image evaluations at the start until the surrogate's minimum mode
     * settles (init_rot of them at most) */
    int nimg = 0, init_done = o->init_rot == 0;
    /* adaptive trust: the region's size factor tf in [1/64, 1] */
    double tf = 1;
    int outer;
    for (outer = 0;; outer++) {
        const double *gl = G + cur * D;
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
        rc = fit_model(&mc, n, X, E, Es, G, outer % o->hyper_every == 0, &g);
        if (rc == GP_EINTR) { strcpy(r->reason, "interrupted"); break; }
        if (rc) break;
        double t2 = gp_now();
        surrogate s = {.g = g, .D = D};
        ml_gp_potential sp = {.eval = sur_eval, .ud = &s, .dim = D, .natoms = p->natoms, .adim = p->adim,
                              .rigid = p->rigid};
        if (!init_done) {
            if (nimg > 0) {
                double angle = 0;
                if ((rc = surrogate_mode(&sp, X + cur * D, mode, m0, &angle, ws))) break;
                memcpy(mode, m0, (size_t)D * sizeof *mode);
                if (angle < o->init_rot_tol || nimg >= o->init_rot) init_done = 1;
            }
            if (!init_done) {
                /* the true image x + delta tau */
                for (int i = 0; i < D; i++) X[n * D + i] = X[cur * D + i] + o->dimer.delta * mode[i];
                res->t_dimer += gp_now() - t2;
                if ((rc = ml_gp_pot_eval(p, X + n * D, E + n, G + n * D))) break;
                n++, nimg++;
                continue;
            }
        }
        /* the dimer on the posterior mean */
        gp_trust_ctx tc = {.X = X, .n = n, .D = D, .radius = tf * o->trust_radius,
                        .lo = 1 - tf * (1 - o->ratio_lo), .hi = 1 + tf * (o->ratio_hi - 1), .kd = gp_invdist_leaf(k)};
        ml_gp_dimer_opts io = o->dimer;
        io.gtol = fmax(gn / 10, o->dimer.gtol / 10);
        io.maxit = o->inner_maxit;
        io.max_calls = 0;
        io.progress = NULL;
        memcpy(x, X + cur * D, (size_t)D * sizeof *x);
        memcpy(m0, mode, (size_t)D * sizeof *m0);
        ml_gp_dimer_result ir;
        int hit;
        rc = gp_dimer_run(&sp, x, mode, &io, &ir, NULL, NULL, gp_in_trust, &tc, &hit);
        res->t_dimer += gp_now() - t2;
        if (rc) break;
        C = ir.curvature;
        if (!(gp_norm(D, mode) > 0)) memcpy(mode, m0, (size_t)D * sizeof *m0);
        /* the true evaluation at the new midpoint */
        double Ep = 0, sn = 0;
        if ((rc = ml_gp_predict(g, 1, x, &Ep, NULL, NULL, NULL))) break;
        Ep += E[0];
        for (int i = 0; i < D; i++) sn += (x[i] - X[cur * D + i]) * (x[i] - X[cur * D + i]);
        double scale = gn * sqrt(sn) + 1e-12 * (1 + fabs(E[cur]));
        memcpy(X + n * D, x, (size_t)D * sizeof *X);
        if ((rc = ml_gp_pot_eval(p, X + n * D, E + n, G + n * D))) break;
        /* a poor step: the prediction missed by more than reject_tol of the first-order change
         * and the true gradient grew */
        double err = E[n] - Ep;
        int worse = gp_norm(D, G + n * D) > gn;
        int reject = o->reject && worse && err > o->reject_tol * scale;
        if (o->trust_adapt) {
            if (worse && fabs(err) > o->reject_tol * scale) tf = fmax(tf * 0.5, 1.0 / 64);
            else if (fabs(err) < 0.2 * o->reject_tol * scale && hit) tf = fmin(tf * 2, 1.0);
        }
        n++;
        if (!reject) {
            cur = n - 1;
            if (path) path(path_ud, x, E[cur]);
        } else {
            memcpy(mode, m0, (size_t)D * sizeof *m0);
        }
    }
    memcpy(x, X + cur * D, (size_t)D * sizeof *x);
    r->iterations = outer;
    r->energy = E[cur];
    r->curvature = C;
    r->calls = p->calls - calls0;
done:
    ml_gp_free(g);
    ml_gpk_free(k);
    free(X), free(E), free(Es), free(G), free(m0), free(ws), free(th0), free(lower), free(phi);
    free(sel), free(sub), free(dmin);
    return rc;
}
