/* moonlab moe — gate M-step for temperature and activation gates: L-BFGS (NLopt) on -Q over the gate
 * parameters and log tau, started at the current parameters; the result is kept only when Q increased. */
#include <stdlib.h>
#include <nlopt.h>
#include "gmoe_internal.h"

typedef struct { ml_gmoe *m; int fix_last; const double *X, *R; int64_t n; int threads; double scale; } qn_ctx;

static double qn_f(unsigned np, const double *th, double *grad, void *ud) {
    qn_ctx *c = ud;
    gmoe_gate_unpack(c->m, c->fix_last, th);
    double Q = gmoe_gate_objective(c->m, c->fix_last, c->X, c->R, c->n, c->threads, grad, NULL);
    if (!isfinite(Q)) {
        if (grad) for (unsigned i = 0; i < np; i++) grad[i] = 0;
        return HUGE_VAL;
    }
    if (grad) for (unsigned i = 0; i < np; i++) grad[i] = -grad[i] * c->scale;
    return -Q * c->scale;
}

int gmoe_gate_qn(ml_gmoe *m, int fix_last, const double *X, const double *R, int64_t n, int steps, int threads) {
    int np = gmoe_gate_nparams(m, fix_last);
    double *th = malloc((size_t)np * 2 * sizeof(double));
    if (!th) return ml_fail(ML_ENOMEM, "fit_em: out of memory");
    double *th0 = th + np;
    gmoe_gate_pack(m, fix_last, th);
    memcpy(th0, th, (size_t)np * sizeof(double));
    double Q0 = gmoe_gate_objective(m, fix_last, X, R, n, threads, NULL, NULL);
    qn_ctx c = {m, fix_last, X, R, n, threads, 1.0 / (double)(n > 0 ? n : 1)};
    nlopt_opt opt = nlopt_create(NLOPT_LD_LBFGS, (unsigned)np);
    if (!opt) { free(th); return ml_fail(ML_ENOMEM, "fit_em: NLopt could not be created"); }
    nlopt_set_min_objective(opt, qn_f, &c);
    nlopt_set_maxeval(opt, steps * 4);
    nlopt_set_ftol_rel(opt, 1e-12);
    nlopt_set_xtol_rel(opt, 1e-10);
    double f = 0;
    nlopt_result res = nlopt_optimize(opt, th, &f);
    nlopt_destroy(opt);
    (void)res;
    gmoe_gate_unpack(m, fix_last, th);
    double Q1 = gmoe_gate_objective(m, fix_last, X, R, n, threads, NULL, NULL);
    if (!(isfinite(Q1) && Q1 >= Q0)) gmoe_gate_unpack(m, fix_last, th0);
    free(th);
    return ML_OK;
}
