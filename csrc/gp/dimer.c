/* The dimer method (Henkelman & Jónsson 1999): rotation by the Fourier fit of the curvature
 * (Heyden, Bell & Keil 2005; Kästner & Sherwood 2008) with the image gradient interpolated after
 * each rotation, and L-BFGS translation on the effective force F - 2 (F.t) t (C < 0) or
 * -(F.t) t with a fixed step (C > 0), capped at a maximum step. Gradients G = dE/dx. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gp_internal.h"

ml_gp_dimer_opts ml_gp_dimer_defaults(void)
{
    return (ml_gp_dimer_opts){.delta = 0.01, .gtol = 0.01, .max_rot = 10, .rot_tol = 5.0 * M_PI / 180,
                              .memory = 25, .max_step = 0.05, .convex_step = 0.1, .lbfgs_init = 0.01,
                              .maxit = 1000, .max_calls = 0, .rigid = 0, .progress = NULL};
}

typedef struct {
    int D, nr;
    double *basis, *xi, *g1, *g1t, *tt, *th, *Ht;
} rot_ws;

static void normalize(int D, double *v)
{
    double n = gp_norm(D, v);
    if (n > 0)
        for (int i = 0; i < D; i++) v[i] /= n;
}

/* Rotates the unit mode t at x (gradient g0) to the lowest-curvature direction. *C receives the
 * curvature along the final t. */
static int rotate(ml_gp_potential *p, const double *x, const double *g0, double *t,
                  const ml_gp_dimer_opts *o, rot_ws *w, double *C)
{
    int D = w->D, rc;
    double E;
    for (int i = 0; i < D; i++) w->xi[i] = x[i] + o->delta * t[i];
    if ((rc = ml_gp_pot_eval(p, w->xi, &E, w->g1))) return rc;
    double c0 = 0;
    for (int r = 0; r < o->max_rot; r++) {
        for (int i = 0; i < D; i++) w->Ht[i] = (w->g1[i] - g0[i]) / o->delta;
        c0 = gp_dot(D, t, w->Ht);
        for (int i = 0; i < D; i++) w->th[i] = -(w->Ht[i] - c0 * t[i]);
        if (w->nr) gp_project_out(D, w->nr, w->basis, w->th);
        double fr = gp_norm(D, w->th);
        if (!(fr > 1e-12 * (fabs(c0) + 1e-300))) break;
        for (int i = 0; i < D; i++) w->th[i] /= fr;
        double dc = 2 * gp_dot(D, w->th, w->Ht); /* dC/dphi at 0 */
        double phi1 = -0.5 * atan(dc / (2 * fabs(c0) + 1e-300));
        if (fabs(phi1) < o->rot_tol) break;
        for (int i = 0; i < D; i++) w->tt[i] = t[i] * cos(phi1) + w->th[i] * sin(phi1);
        normalize(D, w->tt);
        for (int i = 0; i < D; i++) w->xi[i] = x[i] + o->delta * w->tt[i];
        if ((rc = ml_gp_pot_eval(p, w->xi, &E, w->g1t))) return rc;
        double c1 = 0;
        for (int i = 0; i < D; i++) c1 += w->tt[i] * (w->g1t[i] - g0[i]);
        c1 /= o->delta;
        double b1 = 0.5 * dc;
        double a1 = (c0 - c1 + b1 * sin(2 * phi1)) / (1 - cos(2 * phi1));
        double a0 = 2 * (c0 - a1);
        double phim = 0.5 * atan(b1 / a1);
        double cm = 0.5 * a0 + a1 * cos(2 * phim) + b1 * sin(2 * phim);
        if (cm > c0) {
            phim += 0.5 * M_PI;
            cm = 0.5 * a0 + a1 * cos(2 * phim) + b1 * sin(2 * phim);
        }
        /* interpolated image gradient at the new orientation */
        double s1 = sin(phi1), ca = sin(phi1 - phim) / s1, cb = sin(phim) / s1,
               cc = 1 - cos(phim) - sin(phim) * tan(0.5 * phi1);
        for (int i = 0; i < D; i++) {
            w->g1[i] = ca * w->g1[i] + cb * w->g1t[i] + cc * g0[i];
            t[i] = t[i] * cos(phim) + w->th[i] * sin(phim);
        }
        if (w->nr) gp_project_out(D, w->nr, w->basis, t);
        normalize(D, t);
        c0 = cm;
        if (fabs(phim) < o->rot_tol) break;
    }
    /* the curvature along the final t from the (interpolated) image gradient */
    double c = 0;
    for (int i = 0; i < D; i++) c += t[i] * (w->g1[i] - g0[i]);
    *C = c / o->delta;
    return ML_OK;
}

static void effective_force(int D, const double *g, const double *t, double C, double *f)
{
    double ft = -gp_dot(D, g, t);
    for (int i = 0; i < D; i++) f[i] = C < 0 ? -g[i] - 2 * ft * t[i] : -ft * t[i];
}

int gp_dimer_run(ml_gp_potential *p, double *x, double *mode, const ml_gp_dimer_opts *o,
                 ml_gp_dimer_result *r, ml_gp_pathfn path, void *path_ud, gp_trustfn trust,
                 void *tud, int *hit_trust)
{
    memset(r, 0, sizeof *r);
    if (hit_trust) *hit_trust = 0;
    int D = p->dim, rc = ML_OK;
    if (!(o->delta > 0) || !(o->gtol > 0) || o->max_rot < 1 || !(o->rot_tol > 0) || o->memory < 1 ||
        !(o->max_step > 0) || !(o->convex_step > 0) || !(o->lbfgs_init > 0) || o->maxit < 1 || o->max_calls < 0)
        return ml_fail(ML_EINVAL, "bad dimer options (delta, gtol, rot_tol, max_step, convex_step, lbfgs_init "
                                  "> 0; max_rot, memory, maxit >= 1)");
    if (o->rigid && !p->natoms) return ml_fail(ML_EINVAL, "rigid projection needs an atoms potential");
    rot_ws w = {.D = D};
    double *buf = malloc((size_t)(14 * D + 6 * D) * sizeof *buf);
    gp_lbfgs lb;
    memset(&lb, 0, sizeof lb);
    if (!buf || gp_lbfgs_init(&lb, D, o->memory, o->lbfgs_init)) {
        free(buf);
        return ml_fail(ML_ENOMEM, "dimer: out of memory");
    }
    w.basis = buf, w.xi = buf + 6 * D, w.g1 = w.xi + D, w.g1t = w.g1 + D, w.tt = w.g1t + D,
    w.th = w.tt + D, w.Ht = w.th + D;
    double *g0 = w.Ht + D, *f = g0 + D, *fn = f + D, *step = fn + D, *xn = step + D, *gn = xn + D,
           *yv = gn + D;
    int64_t calls0 = p->calls;
    if (o->rigid && (rc = ml_gp_rigid_basis(p->natoms, p->adim, x, w.basis, &w.nr))) goto done;
    if (w.nr) gp_project_out(D, w.nr, w.basis, mode);
    double mn = gp_norm(D, mode);
    if (!(mn > 0) || !isfinite(mn)) {
        rc = ml_fail(ML_EINVAL, "initial mode is zero%s", w.nr ? " after removing the rigid-body modes" : "");
        goto done;
    }
    for (int i = 0; i < D; i++) mode[i] /= mn;
    double E, C = 0;
    if ((rc = ml_gp_pot_eval(p, x, &E, g0))) goto done;
    strcpy(r->reason, "max_iters");
    int it;
    for (it = 0; it < o->maxit; it++) {
        if (gp_norm(D, g0) < o->gtol) {
            r->converged = 1;
            strcpy(r->reason, "tolerance");
            break;
        }
        if (o->max_calls && p->calls - calls0 >= o->max_calls) {
            strcpy(r->reason, "max_calls");
            break;
        }
        if (gp_tick(o->progress, it, o->maxit) != ML_OK) {
            strcpy(r->reason, "interrupted");
            rc = ml_fail(GP_EINTR, "interrupted");
            break;
        }
        if (w.nr && (rc = ml_gp_rigid_basis(p->natoms, p->adim, x, w.basis, &w.nr))) break;
        if ((rc = rotate(p, x, g0, mode, &o[0], &w, &C))) break;
        effective_force(D, g0, mode, C, f);
        double fnorm = gp_norm(D, f);
        if (C > 0) {
            gp_lbfgs_reset(&lb);
            for (int i = 0; i < D; i++) step[i] = fnorm > 0 ? o->convex_step * f[i] / fnorm : 0;
        } else {
            gp_lbfgs_step(&lb, f, step);
            if (gp_dot(D, step, f) <= 0) {
                gp_lbfgs_reset(&lb);
                for (int i = 0; i < D; i++) step[i] = o->lbfgs_init * f[i];
            }
        }
        double sn = gp_norm(D, step), cap = C > 0 ? o->convex_step : o->max_step;
        if (sn > cap)
            for (int i = 0; i < D; i++) step[i] *= cap / sn;
        if (!(sn > 0)) {
            strcpy(r->reason, "stalled");
            break;
        }
        for (int i = 0; i < D; i++) xn[i] = x[i] + step[i];
        if (trust && !trust(tud, xn)) {
            /* shorten the step into the trust region, then stop there */
            int inside = 0;
            for (int b = 0; b < 12 && !inside; b++) {
                for (int i = 0; i < D; i++) step[i] *= 0.5, xn[i] = x[i] + step[i];
                inside = trust(tud, xn);
            }
            if (hit_trust) *hit_trust = 1;
            strcpy(r->reason, "trust_region");
            if (inside) {
                memcpy(x, xn, (size_t)D * sizeof *x);
                if ((rc = ml_gp_pot_eval(p, x, &E, g0))) break;
            }
            it++;
            break;
        }
        if ((rc = ml_gp_pot_eval(p, xn, &E, gn))) break;
        effective_force(D, gn, mode, C, fn);
        for (int i = 0; i < D; i++) yv[i] = -(fn[i] - f[i]);
        if (C < 0) gp_lbfgs_push(&lb, step, yv);
        memcpy(x, xn, (size_t)D * sizeof *x);
        memcpy(g0, gn, (size_t)D * sizeof *g0);
        if (path) path(path_ud, x, E);
    }
    r->iterations = it;
    r->energy = E;
    r->curvature = C;
    r->calls = p->calls - calls0;
    if (!rc && !r->converged && gp_norm(D, g0) < o->gtol) {
        r->converged = 1;
        strcpy(r->reason, "tolerance");
    }
done:
    free(buf);
    gp_lbfgs_free(&lb);
    return rc;
}

int ml_gp_dimer(ml_gp_potential *p, double *x, double *mode, const ml_gp_dimer_opts *o,
                ml_gp_dimer_result *r, ml_gp_pathfn path, void *path_ud)
{
    if (o->rigid && !p->natoms) return ml_fail(ML_EINVAL, "rigid projection needs an atoms potential");
    return gp_dimer_run(p, x, mode, o, r, path, path_ud, NULL, NULL, NULL);
}
