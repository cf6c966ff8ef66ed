/* Local minimisation of a potential with NLopt's L-BFGS (to find the minima a saddle connects). */
#include <math.h>
#include <nlopt.h>
#include <stdlib.h>
#include <string.h>
#include "gp_internal.h"

typedef struct {
    ml_gp_potential *p;
    double gtol, best_e, *best_x, *g;
    int rc, evals, done, interrupted;
    const struct ml_progress *pg;
    nlopt_opt opt;
} min_ctx;

static double min_obj(unsigned n, const double *x, double *grad, void *data)
{
    min_ctx *c = data;
    double E;
    c->evals++;
    if (gp_tick(c->pg, c->evals, 0) != ML_OK) {
        c->interrupted = 1;
        nlopt_force_stop(c->opt);
        return HUGE_VAL;
    }
    int rc = ml_gp_pot_eval(c->p, x, &E, c->g);
    if (rc == ML_ENUMERIC && c->evals > 1) {
        /* an overflowing trial step (steep walls): a very bad point, the line search backs off */
        ml_clear_error();
        if (grad) memset(grad, 0, n * sizeof *grad);
        return 1e300;
    }
    if (rc) {
        c->rc = rc;
        nlopt_force_stop(c->opt);
        return HUGE_VAL;
    }
    if (grad) memcpy(grad, c->g, n * sizeof *grad);
    if (E < c->best_e) {
        c->best_e = E;
        memcpy(c->best_x, x, n * sizeof *x);
        if (gp_norm((int)n, c->g) < c->gtol) {
            c->done = 1;
            nlopt_force_stop(c->opt);
        }
    }
    return E;
}

int ml_gp_minimize(ml_gp_potential *p, double *x, double gtol, int maxit, double *E,
                   ml_gp_iter_result *r, const struct ml_progress *pg)
{
    memset(r, 0, sizeof *r);
    int D = p->dim;
    if (!(gtol > 0) || maxit < 1) return ml_fail(ML_EINVAL, "gtol must be > 0 and maxit >= 1");
    min_ctx c = {.p = p, .gtol = gtol, .best_e = HUGE_VAL, .pg = pg};
    c.best_x = malloc((size_t)D * sizeof *c.best_x);
    c.g = malloc((size_t)D * sizeof *c.g);
    if (!c.best_x || !c.g) {
        free(c.best_x), free(c.g);
        return ml_fail(ML_ENOMEM, "gp.minimize: out of memory");
    }
    memcpy(c.best_x, x, (size_t)D * sizeof *x);
    /* restart NLopt (fresh memory) until the gradient tolerance or the budget is reached */
    int rc = ML_OK;
    nlopt_result res = NLOPT_SUCCESS;
    for (int round = 0; round < 20 && !c.done && c.evals < maxit; round++) {
        nlopt_opt opt = nlopt_create(NLOPT_LD_LBFGS, (unsigned)D);
        if (!opt) { rc = ml_fail(ML_ENOMEM, "gp.minimize: NLopt could not be created"); break; }
        c.opt = opt;
        nlopt_set_min_objective(opt, min_obj, &c);
        nlopt_set_maxeval(opt, maxit - c.evals);
        nlopt_set_ftol_rel(opt, 1e-15);
        nlopt_set_xtol_rel(opt, 1e-12);
        nlopt_set_stopval(opt, -HUGE_VAL);
        double f;
        double *z = malloc((size_t)D * sizeof *z);
        if (!z) { nlopt_destroy(opt); rc = ml_fail(ML_ENOMEM, "gp.minimize: out of memory"); break; }
        memcpy(z, c.best_x, (size_t)D * sizeof *z);
        res = nlopt_optimize(opt, z, &f);
        free(z);
        nlopt_destroy(opt);
        if (c.rc || c.interrupted) break;
        /* check the gradient at the best point */
        double Eb;
        if ((rc = ml_gp_pot_eval(p, c.best_x, &Eb, c.g))) break;
        c.evals++;
        if (gp_norm(D, c.g) < gtol) c.done = 1;
        if (res == NLOPT_MAXEVAL_REACHED) break;
    }
    if (!rc) rc = c.rc;
    memcpy(x, c.best_x, (size_t)D * sizeof *x);
    *E = c.best_e;
    r->iterations = c.evals;
    r->converged = c.done;
    strcpy(r->reason, c.done ? "tolerance" : c.interrupted ? "interrupted"
                      : c.evals >= maxit ? "max_iters" : "stalled");
    (void)res;
    free(c.best_x), free(c.g);
    if (!rc && c.interrupted) rc = ml_fail(GP_EINTR, "interrupted");
    return rc;
}
