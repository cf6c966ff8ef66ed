/* moonlab moe — maximum likelihood for the Gaussian MoE by EM (Nguyen et al. 2023, Sec. 5; 2024, Sec. 5):
 * E-step posteriors, expert WLS, gate step by Newton (softmax, top-K) or L-BFGS (temperature, activation). */
#include <stdlib.h>
#include <omp.h>
#include "gmoe_internal.h"

ml_gmoe_em_opts ml_gmoe_em_defaults(void) {
    ml_gmoe_em_opts o = {1e-6, 2000, 1, 1, 1e-3, 0};
    return o;
}

/* The E-step runs over fixed chunks of points (at least 4096 each, at most EM_CHUNKS of them) handed to the
 * threads dynamically, each with its own accumulators reduced in chunk order: the same sums on any thread
 * count, and a thread that the OS holds back does not hold the others up. */
#define EM_CHUNKS 64
static int em_chunks(int64_t n) {
    int64_t c = n / 4096;
    return c < 1 ? 1 : c > EM_CHUNKS ? EM_CHUNKS : (int)c;
}

/* E-step: R posteriors (layout: gmoe_internal.h) and the sufficient statistics S of the expert M-step; returns
 * the log-likelihood (sum). Sthr and gacc hold em_chunks(n) accumulators. */
static double estep(const ml_gmoe *m, const double *X, const double *Y, int64_t n, double *R, int threads,
                    double *S, double *Sthr, int fix, double *gacc, double *pre, const double *Rold, double *qold) {
    int K = m->K, d = m->d;
    size_t per = gmoe_stats_size(d) * (size_t)K;
    double lsig[256];
    for (int i = 0; i < K; i++) lsig[i] = log(m->sigma[i]) + 0.5 * GMOE_LOG2PI;
    int nck = em_chunks(n);
    int nth = (threads == 1 || n < 20000) ? 1 : omp_get_max_threads();
    memset(Sthr, 0, (size_t)nck * per * sizeof(double));
    int np = gmoe_gate_nparams(m, fix);
    size_t acc_n = gmoe_gate_acc_size(np), wn = gmoe_gate_work_size(K, np);
    if (pre) memset(gacc, 0, (size_t)nck * (acc_n + wn) * sizeof(double));
    int fast = gmoe_fast_ok(m);
    double llc[EM_CHUNKS], qoc[EM_CHUNKS];
    #pragma omp parallel for schedule(dynamic, 1) num_threads(nth)
    for (int c = 0; c < nck; c++) {
        int64_t lo = n * c / nck, hi = n * (c + 1) / nck;
        double *St = Sthr + (size_t)c * per, ll = 0, qo = 0;
        if (fast) {
            ll += gmoe_fast_estep(m, fix, X, Y, n, lo, hi, R, St, pre ? gacc + (size_t)c * (acc_n + wn) : NULL, Rold,
                                  &qo);
            lo = hi; /* skips the per-point loop */
        }
        for (int64_t t = lo; t < hi; t++) {
            double *l = R + t * K, g[256], lg[256], gp[256];
            const double *x = X + t * d;
            gmoe_logits(m, x, l);
            gmoe_gate_both(m, l, g);
            if (pre) for (int i = 0; i < K; i++) { lg[i] = l[i]; gp[i] = g[i]; }
            /* linear domain (one exp per expert); the log domain when every density underflows */
            double s = 0, mx = -INFINITY, lt;
            for (int i = 0; i < K; i++) {
                double mu = m->b[i];
                for (int j = 0; j < d; j++) mu += m->a[i * d + j] * x[j];
                double z = (Y[t] - mu) / m->sigma[i], e = -lsig[i] - 0.5 * z * z;
                l[i] += e;
                mx = l[i] > mx ? l[i] : mx;
                g[i] *= exp(e);
                s += g[i];
            }
            if (s > 1e-280) {
                lt = log(s);
                double inv = 1.0 / s;
                for (int i = 0; i < K; i++) l[i] = g[i] * inv;
            } else {
                s = 0;
                for (int i = 0; i < K; i++) s += exp(l[i] - mx);
                lt = mx + log(s);
                for (int i = 0; i < K; i++) l[i] = exp(l[i] - lt);
            }
            for (int i = 0; i < K; i++)
                if (l[i] > 0) gmoe_stats_add(St + (size_t)i * gmoe_stats_size(d), d, x, Y[t], l[i]);
            if (pre) {
                double *a = gacc + (size_t)c * (acc_n + wn);
                gmoe_gate_point(m, fix, np, x, l, lg, gp, a + acc_n, a, 1, 1);
            }
            ll += lt;
        }
        llc[c] = ll;
        qoc[c] = qo;
    }
    double ll = 0, qo = 0;
    for (int c = 0; c < nck; c++) { ll += llc[c]; qo += qoc[c]; }
    if (pre) {
        /* the accumulators are strided by acc_n + wn: gather them for the reduction */
        for (int c = 1; c < nck; c++)
            memmove(gacc + (size_t)c * acc_n, gacc + (size_t)c * (acc_n + wn), acc_n * sizeof(double));
        pre[0] = gmoe_gate_reduce(gacc, nck, np, pre + 1, pre + 1 + np);
    }
    if (qold) *qold = fast ? qo : NAN;
    memcpy(S, Sthr, per * sizeof(double));
    for (int c = 1; c < nck; c++) for (size_t j = 0; j < per; j++) S[j] += Sthr[(size_t)c * per + j];
    return ll;
}

int ml_gmoe_fit_em(ml_gmoe *m, const double *X, const double *Y, int64_t n, const ml_gmoe_em_opts *o,
                   const ml_progress *p, ml_gmoe_em_result *res) {
    int rc = ml_gmoe_check(m);
    if (rc) return rc;
    if (n < 1) return ml_fail(ML_EINVAL, "no data points");
    if (isnan(o->tol) || o->maxit < 0) return ml_fail(ML_EINVAL, "tol must be a number and maxit >= 0");
    double my = 0, vy = 0;
    for (int64_t t = 0; t < n; t++) my += Y[t];
    my /= (double)n;
    for (int64_t t = 0; t < n; t++) vy += (Y[t] - my) * (Y[t] - my);
    double sdy = sqrt(vy / (double)n), smin = o->sigma_floor * sdy;
    if (!(sdy > 0)) return ml_fail(ML_EINVAL, "Y is constant");
    double *R = malloc((size_t)n * m->K * sizeof(double));
    size_t per = gmoe_stats_size(m->d) * (size_t)m->K;
    double *S = malloc(per * (size_t)(em_chunks(n) + 1) * sizeof(double));
    int fix = o->fix_last && ml_gmoe_translation_invariant(m);
    int qn = m->gate == ML_GMOE_TEMPERATURE || m->gate == ML_GMOE_ACTIVATION;
    int npg = gmoe_gate_nparams(m, fix);
    size_t gsz = (size_t)(em_chunks(n) + 1) * (gmoe_gate_acc_size(npg) + gmoe_gate_work_size(m->K, npg));
    double *gacc = qn ? NULL : malloc(gsz * sizeof(double));
    double *pre = qn ? NULL : malloc(gmoe_gate_acc_size(npg) * sizeof(double));
    /* softmax-type gates on the blocked path with one Newton step per iteration test that step in the E-step */
    int defer = !qn && gmoe_fast_ok(m) && o->gate_steps == 1;
    double *R2 = defer ? malloc((size_t)n * m->K * sizeof(double)) : NULL;
    double *keep = defer ? malloc((gmoe_gate_acc_size(npg) + (size_t)npg + 1) * sizeof(double)) : NULL;
    double *pre_old = keep, *th_old = keep ? keep + gmoe_gate_acc_size(npg) : NULL;
    if (!R || !S || (!qn && (!gacc || !pre)) || (defer && (!R2 || !keep))) {
        free(R); free(S); free(gacc); free(pre); free(R2); free(keep);
        return ml_fail(ML_ENOMEM, "fit_em: out of memory for [n,K] posteriors");
    }
    res->iterations = 0;
    res->converged = 0;
    res->reason = 1;
    res->sigma_floored = 0;
    double ll = estep(m, X, Y, n, R, o->threads, S, S + per, fix, gacc, pre, NULL, NULL);
    if (!isfinite(ll)) { free(R); free(S); free(gacc); free(pre); free(R2); free(keep); return ml_fail(ML_ENUMERIC, "the start model gives a non-finite log-likelihood"); }
    if (res->trace) res->trace[0] = ll;
    double last_tick = 0;
    for (int it = 1; it <= o->maxit; it++) {
        if ((rc = gmoe_experts_from_stats(m, S, n, smin, &res->sigma_floored))) break;
        double nl = NAN;
        if (R2) {
            /* one Newton step, its line-search test done by the next E-step pass (into R2, reading R) */
            memcpy(pre_old, pre, gmoe_gate_acc_size(npg) * sizeof(double));
            double slope = gmoe_gate_newton_try(m, fix, pre, th_old), q1 = NAN;
            nl = estep(m, X, Y, n, R2, o->threads, S, S + per, fix, gacc, pre, slope > 0 ? R : NULL, &q1);
            if (slope > 0 && !(isfinite(q1) && q1 >= pre_old[0] + 1e-4 * slope && q1 >= pre_old[0])) {
                /* the full step did not raise Q: back to the backtracking line search from the old gate */
                gmoe_gate_unpack(m, fix, th_old);
                memcpy(pre, pre_old, gmoe_gate_acc_size(npg) * sizeof(double));
                if ((rc = gmoe_gate_newton(m, fix, X, R, n, 1, o->threads, pre))) break;
                nl = estep(m, X, Y, n, R, o->threads, S, S + per, fix, gacc, pre, NULL, NULL);
            } else {
                double *sw = R; R = R2; R2 = sw;
            }
        } else {
            if (qn) rc = gmoe_gate_qn(m, fix, X, R, n, o->gate_steps, o->threads);
            else rc = gmoe_gate_newton(m, fix, X, R, n, o->gate_steps, o->threads, pre);
            if (rc) break;
            nl = estep(m, X, Y, n, R, o->threads, S, S + per, fix, gacc, pre, NULL, NULL);
        }
        res->iterations = it;
        if (res->trace) res->trace[it] = nl;
        double gain = nl - ll;
        ll = nl;
        if (!isfinite(nl)) { rc = ml_fail(ML_ENUMERIC, "log-likelihood became non-finite at iteration %d", it); break; }
        if (gain <= o->tol * fabs(ll)) { res->converged = 1; res->reason = gain < 0 ? 2 : 0; break; }
        if (ml_interrupted()) { res->reason = 3; break; }
        if (p && (double)it - last_tick >= 10) {
            last_tick = it;
            if (ml_progress_tick(p, it, o->maxit) != ML_OK) { res->reason = 3; break; }
        }
    }
    res->loglik = ll;
    free(R); free(S); free(gacc); free(pre); free(R2); free(keep);
    return rc;
}
