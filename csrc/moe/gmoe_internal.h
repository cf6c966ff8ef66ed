/* moonlab moe — internals of the Gaussian-MoE files: gate logits and their parameter derivatives. */
#ifndef MOONLAB_GMOE_INTERNAL_H
#define MOONLAB_GMOE_INTERNAL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "moonlab/moe.h"

#define GMOE_LOG2PI 1.8378770664093454836

/* Gate logits l [K] at one x [d] (topk: unselected logits are -inf). */
void gmoe_logits(const ml_gmoe *m, const double *x, double *l);
/* log g [K] at one x from logits l (in place allowed); unselected experts of top-k get -inf. */
void gmoe_log_gate(const ml_gmoe *m, double *l);
/* The same, also writing g [K] = exp(log g) (one exp per expert). */
void gmoe_gate_both(const ml_gmoe *m, double *l, double *g);
/* Number of free gate parameters: (beta0_i, beta1_i) of experts 0..K-1 (0..K-2 with fix_last), plus log tau
 * for temperature/activation gates. */
int gmoe_gate_nparams(const ml_gmoe *m, int fix_last);
/* Packs / unpacks the free gate parameters. */
void gmoe_gate_pack(const ml_gmoe *m, int fix_last, double *theta);
void gmoe_gate_unpack(ml_gmoe *m, int fix_last, const double *theta);
/* dl_i/dtheta for one x: writes J [K * np] (row i = expert i). */
void gmoe_logit_jacobian(const ml_gmoe *m, int fix_last, const double *x, double *J);

/* Gate objective Q = sum_t sum_i r_ti log g_i(x_t) and optionally its gradient over the free parameters
 * (grad [np]) and Hessian (hess [np*np], softmax/top-k only: the Hessian of the logits' part). */
double gmoe_gate_objective(const ml_gmoe *m, int fix_last, const double *X, const double *R, int64_t n,
                           int threads, double *grad, double *hess);

/* Accumulators of one thread: [Q, grad (np), Hessian lower triangle (np*np)]; work of gmoe_gate_point. */
static inline size_t gmoe_gate_acc_size(int np) { return 1 + (size_t)np + (size_t)np * np; }
static inline size_t gmoe_gate_work_size(int K, int np) { return (size_t)K * np + (size_t)K + (size_t)np; }
/* Adds point x's terms to the accumulators a: r [K] posteriors, l [K] log gate, g [K] gate probabilities. */
void gmoe_gate_point(const ml_gmoe *m, int fix_last, int np, const double *x, const double *r, const double *l,
                     const double *g, double *work, double *a, int want_grad, int want_hess);
/* Sums nth accumulators into Q (returned), grad and the symmetric Hessian (either may be NULL). */
double gmoe_gate_reduce(const double *acc, int nth, int np, double *grad, double *hess);

/* Gate M-steps: raise Q from the current parameters (never lower it). Return ML_OK. pre (NULL or
 * [Q, grad, Hessian] at the current parameters for these R, as the E-step accumulated them) saves the first
 * evaluation of the Newton step. */
int gmoe_gate_newton(ml_gmoe *m, int fix_last, const double *X, const double *R, int64_t n, int steps,
                     int threads, const double *pre);
/* The full first Newton step from pre, for EM to check in its next E-step pass: saves the gate in th_old
 * [nparams], moves it to th_old + dir and returns the slope g.dir (> 0), or returns 0 and leaves it unchanged at a
 * stationary point. The caller keeps the step only when Q rose by the Armijo amount, else restores th_old. */
double gmoe_gate_newton_try(ml_gmoe *m, int fix_last, const double *pre, double *th_old);
int gmoe_gate_qn(ml_gmoe *m, int fix_last, const double *X, const double *R, int64_t n, int steps, int threads);

/* Posterior-weighted sufficient statistics of one expert, with x~ = (x, 1), p = d + 1: the lower triangle of
 * sum r x~ x~' [p*p] (its last element is sum r), then sum r x~ y [p] and sum r y^2. */
static inline size_t gmoe_stats_size(int d) { return (size_t)(d + 1) * (d + 1) + (d + 1) + 1; }
static inline void gmoe_stats_add(double *S, int d, const double *x, double y, double r) {
    int p = d + 1;
    double *bv = S + p * p;
    for (int u = 0; u < p; u++) {
        double xu = u < d ? x[u] : 1.0, rx = r * xu;
        for (int v = 0; v <= u; v++) S[u * p + v] += rx * (v < d ? x[v] : 1.0);
        bv[u] += rx * y;
    }
    bv[p] += r * y * y;
}

/* Expert M-step from the statistics S [K * gmoe_stats_size(d)]: weighted least squares for (a_i, b_i),
 * sigma_i^2 the weighted residual variance (floored at sigma_min; *floored set when it binds). */
int gmoe_experts_from_stats(ml_gmoe *m, const double *S, int64_t n, double sigma_min, int *floored);

/* The blocked, vectorised passes of EM (em_fast.c): whether they apply to m
 * (no top-K masking: softmax, temperature, activation, top-K with k >= K; K <= GMOE_FAST_K, d <= GMOE_FAST_D);
 * there the posteriors R are stored by expert, R[i*n + t] (n points), else by point, R[t*K + i]; the E-step over
 * points [lo,hi) (writes R,
 * adds the statistics to St and, gacc != NULL, the gate accumulators of gmoe_gate_point; returns the
 * log-likelihood of those points, NAN when out of memory; Rold != NULL: also adds the gate's Q for the
 * previous posteriors Rold at the current gate to *qold); Q over [lo,hi) added to the accumulators acc of
 * gmoe_gate_point, with the gradient (want_grad) and the Hessian (want_hess; softmax and top-K only). */
#define GMOE_FAST_K 16
#define GMOE_FAST_D 8
int gmoe_fast_ok(const ml_gmoe *m);
double gmoe_fast_estep(const ml_gmoe *m, int fix, const double *X, const double *Y, int64_t n, int64_t lo,
                       int64_t hi, double *R, double *St, double *gacc, const double *Rold, double *qold);
void gmoe_fast_gate_q(const ml_gmoe *m, int fix, const double *X, const double *R, int64_t n, int64_t lo,
                      int64_t hi, double *acc, int want_grad, int want_hess);

/* Solves the symmetric positive definite system A x = b (n <= 64) by Cholesky, adding ridge*I when needed.
 * A is overwritten. Returns 0 on success. */
int gmoe_spd_solve(double *A, double *b, int n);

#endif
