/* moonlab moe — the gate part of EM's expected complete log-likelihood, Q(theta) = sum_t sum_i r_ti log g_i(x_t),
 * with its gradient and (for linear logits) Hessian over the free gate parameters. */
#include <stdlib.h>
#include <omp.h>
#include "gmoe_internal.h"

void gmoe_gate_point(const ml_gmoe *m, int fix_last, int np, const double *x, const double *r, const double *l,
                     const double *g, double *work, double *a, int want_grad, int want_hess) {
    int K = m->K;
    double *J = work, *dl = J + (size_t)K * np, *v = dl + K;
    double q = 0;
    for (int i = 0; i < K; i++)
        if (r[i] > 0) q += r[i] * l[i];
    a[0] += q;
    if (!want_grad) return;
    double rs = 0;
    for (int i = 0; i < K; i++) rs += g[i] > 0 ? r[i] : 0;
    for (int i = 0; i < K; i++) dl[i] = g[i] > 0 ? r[i] - g[i] * rs : 0;
    gmoe_logit_jacobian(m, fix_last, x, J);
    for (int p = 0; p < np; p++) {
        double s = 0;
        for (int i = 0; i < K; i++) s += J[(size_t)i * np + p] * dl[i];
        a[1 + p] += s;
    }
    if (!want_hess) return;
    /* -J' (diag g - g g') J over the selected experts, times the responsibility mass rs */
    double *h = a + 1 + np;
    for (int p = 0; p < np; p++) {
        double gj = 0;
        for (int i = 0; i < K; i++) gj += g[i] * J[(size_t)i * np + p];
        v[p] = gj;
    }
    for (int p = 0; p < np; p++)
        for (int q2 = 0; q2 <= p; q2++) {
            double s = 0;
            for (int i = 0; i < K; i++) s += g[i] * J[(size_t)i * np + p] * J[(size_t)i * np + q2];
            h[p * np + q2] -= rs * (s - v[p] * v[q2]);
        }
}

double gmoe_gate_reduce(const double *acc, int nth, int np, double *grad, double *hess) {
    size_t acc_n = gmoe_gate_acc_size(np);
    double Q = 0;
    for (int c = 0; c < nth; c++) {
        const double *a = acc + (size_t)c * acc_n;
        Q += a[0];
        if (grad) for (int p = 0; p < np; p++) grad[p] = (c ? grad[p] : 0) + a[1 + p];
        if (hess)
            for (int p = 0; p < np; p++)
                for (int q2 = 0; q2 <= p; q2++) {
                    double v = (c ? hess[p * np + q2] : 0) + a[1 + np + p * np + q2];
                    hess[p * np + q2] = hess[q2 * np + p] = v;
                }
    }
    return Q;
}

double gmoe_gate_objective(const ml_gmoe *m, int fix_last, const double *X, const double *R, int64_t n,
                           int threads, double *grad, double *hess) {
    int K = m->K, d = m->d, np = gmoe_gate_nparams(m, fix_last);
    int nth = (threads == 1 || n < 20000) ? 1 : omp_get_max_threads();
    size_t acc_n = gmoe_gate_acc_size(np), wn = gmoe_gate_work_size(K, np) + 2 * (size_t)K;
    double *acc = calloc((size_t)nth * acc_n, sizeof(double));
    double *work = malloc((size_t)nth * wn * sizeof(double));
    if (!acc || !work) { free(acc); free(work); return NAN; }
    int fast = gmoe_fast_ok(m) && !(hess && (m->gate == ML_GMOE_TEMPERATURE || m->gate == ML_GMOE_ACTIVATION));
    #pragma omp parallel num_threads(nth)
    if (fast) {
        int c = omp_get_thread_num(), nn = omp_get_num_threads();
        gmoe_fast_gate_q(m, fix_last, X, R, n, n * c / nn, n * (c + 1) / nn, acc + (size_t)c * acc_n, grad != NULL,
                         hess != NULL);
    } else {
        int c = omp_get_thread_num(), nn = omp_get_num_threads();
        int64_t lo = n * c / nn, hi = n * (c + 1) / nn;
        double *a = acc + (size_t)c * acc_n, *w = work + (size_t)c * wn;
        double *l = w + gmoe_gate_work_size(K, np), *g = l + K, rt[GMOE_FAST_K];
        int by_expert = gmoe_fast_ok(m); /* R's layout (gmoe_internal.h) */
        for (int64_t t = lo; t < hi; t++) {
            const double *x = X + t * d, *r = R + t * K;
            if (by_expert) {
                for (int i = 0; i < K; i++) rt[i] = R[i * n + t];
                r = rt;
            }
            gmoe_logits(m, x, l);
            gmoe_gate_both(m, l, g);
            gmoe_gate_point(m, fix_last, np, x, r, l, g, w, a, grad != NULL, hess != NULL);
        }
    }
    double Q = gmoe_gate_reduce(acc, nth, np, grad, hess);
    free(acc); free(work);
    return Q;
}
