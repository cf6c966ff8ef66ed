/* moonlab moe — the EM passes for gates without top-K masking (softmax, temperature, activation; top-K with k >= K)
 * in blocks of points laid out by expert, so that the loops over points vectorise: E-step posteriors with the
 * log-likelihood, the experts' sufficient statistics and the gate's Q with gradient and Hessian (Nguyen et al.
 * 2023, Sec. 5), and Q alone for the Newton line search. exp and log are branch-free polynomials (relative
 * error ~1e-16; exp from the core's vectorised kernel) so that they run in AVX2/AVX-512 lanes (CLONES picks the
 * copy per CPU). a*b+c contracts to one fused multiply-add (the file is built with fp-contract=fast), so the
 * polynomials and the accumulations take half the instructions on AVX2/AVX-512. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif
#include <stdlib.h>
#include "gmoe_internal.h"
#include "core/clones.h"
#include "core/exp_le0.h"
#include "moe_internal.h"

#define FB 128 /* points per block */

/* log(s) for s >= 1 finite: s = m 2^e with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh((m-1)/(m+1)). */
static inline __attribute__((always_inline)) double vlog1p_ge1(double s) {
    int64_t b;
    memcpy(&b, &s, 8);
    int64_t e = (b >> 52) - 1023;
    int64_t mb = (b & 0x000FFFFFFFFFFFFFLL) | 0x3FF0000000000000LL;
    double m;
    memcpy(&m, &mb, 8);
    int big = m > 1.4142135623730950488;
    m = big ? 0.5 * m : m;
    double fe = (double)(e + big);
    double f = (m - 1.0) / (m + 1.0), f2 = f * f;
    double q = 1.0 / 21.0;
    q = q * f2 + 1.0 / 19.0;
    q = q * f2 + 1.0 / 17.0;
    q = q * f2 + 1.0 / 15.0;
    q = q * f2 + 1.0 / 13.0;
    q = q * f2 + 1.0 / 11.0;
    q = q * f2 + 1.0 / 9.0;
    q = q * f2 + 1.0 / 7.0;
    q = q * f2 + 1.0 / 5.0;
    q = q * f2 + 1.0 / 3.0;
    q = q * f2 + 1.0;
    return fe * 0.69314718055994530942 + 2.0 * f * q;
}

int gmoe_fast_ok(const ml_gmoe *m) {
    return (m->gate != ML_GMOE_TOPK || m->k >= m->K) && m->K <= GMOE_FAST_K && m->d <= GMOE_FAST_D;
}

/* Block scratch: x~ [p][FB] (p = d+1, last row ones), logits / log gate L [K][FB], gate G [K][FB]. */
typedef struct {
    double xt[GMOE_FAST_D + 1][FB];
    double L[GMOE_FAST_K][FB], G[GMOE_FAST_K][FB], W[GMOE_FAST_K][FB];
    double A[GMOE_FAST_K][FB], D[GMOE_FAST_K][FB]; /* activation gate: act(v) and act'(v) */
    double y[FB], a[FB], b[FB];
} fblock;

/* Loads x~ and the log gate L = l - lse(l), G = softmax(l) for points [t0, t0+nb). */
static inline __attribute__((always_inline)) void block_gate(const ml_gmoe *m, const double *X, int64_t t0, int nb, fblock *B) {
    int K = m->K, d = m->d;
    for (int j = 0; j < d; j++)
        for (int t = 0; t < nb; t++) B->xt[j][t] = X[(t0 + t) * d + j];
    for (int t = 0; t < nb; t++) B->xt[d][t] = 1.0;
    int act = m->gate == ML_GMOE_ACTIVATION, inside = act && m->bias_place == ML_GMOE_BIAS_INSIDE;
    double it = m->gate == ML_GMOE_TEMPERATURE ? 1.0 / m->tau : 1.0; /* (beta1 x + beta0) / tau */
    for (int i = 0; i < K; i++) {
        double *l = B->L[i], b0 = act && !inside ? 0.0 : m->beta0[i] * it;
        #pragma omp simd
        for (int t = 0; t < nb; t++) l[t] = b0;
        for (int j = 0; j < d; j++) {
            double w = m->beta1[i * d + j] * it;
            const double *x = B->xt[j];
            #pragma omp simd
            for (int t = 0; t < nb; t++) l[t] += w * x[t];
        }
        if (act) { /* v = beta1 x (+ beta0 inside); l = act(v)/tau (+ beta0 outside) */
            double ia = 1.0 / m->tau, ob = inside ? 0.0 : m->beta0[i];
            for (int t = 0; t < nb; t++) {
                double a = moe_act(m->act, l[t]);
                B->D[i][t] = moe_act_grad(m->act, l[t]);
                B->A[i][t] = a;
                l[t] = a * ia + ob;
            }
        }
    }
    double *mx = B->a, *s = B->b;
    #pragma omp simd
    for (int t = 0; t < nb; t++) { mx[t] = B->L[0][t]; s[t] = 0; }
    for (int i = 1; i < K; i++)
        #pragma omp simd
        for (int t = 0; t < nb; t++) mx[t] = B->L[i][t] > mx[t] ? B->L[i][t] : mx[t];
    for (int i = 0; i < K; i++) {
        double *g = B->G[i];
        const double *l = B->L[i];
        #pragma omp simd
        for (int t = 0; t < nb; t++) { g[t] = ml_exp_le0(l[t] - mx[t]); s[t] += g[t]; }
    }
    #pragma omp simd
    for (int t = 0; t < nb; t++) { mx[t] += vlog1p_ge1(s[t]); s[t] = 1.0 / s[t]; }
    for (int i = 0; i < K; i++)
        #pragma omp simd
        for (int t = 0; t < nb; t++) { B->L[i][t] -= mx[t]; B->G[i][t] *= s[t]; }
}

/* Adds the gate's Q, gradient (grad) and Hessian (hess; softmax only) in the layout of gmoe_gate_point for
 * posteriors W [K][FB]. The temperature gate's logits are l/tau: its beta derivatives carry 1/tau and
 * d l_i / d log tau = -l_i, where the log gate L_i may stand for l_i since sum_i c_i = 0. */
static inline __attribute__((always_inline)) void block_gate_acc(const ml_gmoe *m, int fix, int np, int nb, fblock *B,
                                                                 double *acc, int grad_on, int hess_on) {
    int K = m->K, p = m->d + 1, Kf = K - (fix ? 1 : 0), temp = m->gate == ML_GMOE_TEMPERATURE;
    int act = m->gate == ML_GMOE_ACTIVATION, inside = act && m->bias_place == ML_GMOE_BIAS_INSIDE;
    double it = temp || act ? 1.0 / m->tau : 1.0;
    double *rs = B->a, q = 0;
    #pragma omp simd
    for (int t = 0; t < nb; t++) rs[t] = 0;
    for (int i = 0; i < K; i++) {
        const double *w = B->W[i], *l = B->L[i];
        #pragma omp simd reduction(+ : q)
        for (int t = 0; t < nb; t++) { rs[t] += w[t]; q += w[t] > 0 ? w[t] * l[t] : 0.0; }
    }
    acc[0] += q;
    if (!grad_on) return;
    double *grad = acc + 1, *h = acc + 1 + np, *c = B->b, gt = 0;
    for (int i = 0; i < K; i++) {
        const double *w = B->W[i], *g = B->G[i], *l = B->L[i];
        #pragma omp simd
        for (int t = 0; t < nb; t++) c[t] = w[t] - g[t] * rs[t];
        if (temp) {
            double s = 0;
            #pragma omp simd reduction(+ : s)
            for (int t = 0; t < nb; t++) s -= c[t] * l[t];
            gt += s;
        }
        if (act) { /* d l / d log tau = -act(v)/tau; the beta derivatives carry act'(v)/tau */
            const double *a = B->A[i], *dv = B->D[i];
            double s = 0;
            #pragma omp simd reduction(+ : s)
            for (int t = 0; t < nb; t++) s -= c[t] * a[t];
            gt += s * it;
            if (i >= Kf) continue;
            double s0 = 0;
            #pragma omp simd reduction(+ : s0)
            for (int t = 0; t < nb; t++) s0 += c[t] * (inside ? dv[t] * it : 1.0);
            grad[i * p] += s0;
            #pragma omp simd
            for (int t = 0; t < nb; t++) c[t] *= dv[t] * it;
            for (int u = 1; u < p; u++) {
                const double *xu = B->xt[u - 1];
                double s1 = 0;
                #pragma omp simd reduction(+ : s1)
                for (int t = 0; t < nb; t++) s1 += c[t] * xu[t];
                grad[i * p + u] += s1;
            }
            continue;
        }
        if (i >= Kf) continue;
        for (int u = 0; u < p; u++) {
            const double *xu = B->xt[u == 0 ? p - 1 : u - 1]; /* parameter order: beta0, beta1_1..d */
            double s = 0;
            #pragma omp simd reduction(+ : s)
            for (int t = 0; t < nb; t++) s += c[t] * xu[t];
            grad[i * p + u] += s * it;
        }
    }
    if (temp || act) grad[np - 1] += gt;
    if (!hess_on || temp || act) return;
    /* h[P,Q] -= sum_t rs g_i (delta_ik - g_k) x~_u x~_v for P = (i,u) >= Q = (k,v) */
    for (int i = 0; i < Kf; i++)
        for (int k = 0; k <= i; k++) {
            const double *gi = B->G[i], *gk = B->G[k];
            #pragma omp simd
            for (int t = 0; t < nb; t++) c[t] = rs[t] * gi[t] * ((i == k ? 1.0 : 0.0) - gk[t]);
            for (int u = 0; u < p; u++) {
                const double *xu = B->xt[u == 0 ? p - 1 : u - 1];
                for (int v = 0; v < p; v++) {
                    int P = i * p + u, Q = k * p + v;
                    if (Q > P) continue;
                    const double *xv = B->xt[v == 0 ? p - 1 : v - 1];
                    double s = 0;
                    #pragma omp simd reduction(+ : s)
                    for (int t = 0; t < nb; t++) s += c[t] * xu[t] * xv[t];
                    h[P * np + Q] -= s;
                }
            }
        }
}

CLONES double gmoe_fast_estep(const ml_gmoe *m, int fix, const double *X, const double *Y, int64_t n, int64_t lo,
                              int64_t hi, double *R, double *St, double *gacc, const double *Rold, double *qold) {
    int K = m->K, d = m->d, p = d + 1, np = gmoe_gate_nparams(m, fix);
    size_t per = gmoe_stats_size(d);
    fblock *B = malloc(sizeof(fblock));
    if (!B) return NAN;
    double lsig[GMOE_FAST_K], isig[GMOE_FAST_K], ll = 0;
    for (int i = 0; i < K; i++) { lsig[i] = log(m->sigma[i]) + 0.5 * GMOE_LOG2PI; isig[i] = 1.0 / m->sigma[i]; }
    for (int64_t t0 = lo; t0 < hi; t0 += FB) {
        int nb = (int)(hi - t0 < FB ? hi - t0 : FB);
        block_gate(m, X, t0, nb, B);
        if (Rold) /* the line search's Q(new gate; previous posteriors) */
            for (int i = 0; i < K; i++) {
                const double *l = B->L[i], *r = Rold + i * n + t0;
                double q = 0;
                #pragma omp simd reduction(+ : q)
                for (int t = 0; t < nb; t++) q += r[t] > 0 ? r[t] * l[t] : 0.0;
                *qold += q;
            }
        const double *y = Y + t0;
        double *mx = B->y, *s = B->a;
        for (int i = 0; i < K; i++) {
            double *w = B->W[i], bi = m->b[i], ls = lsig[i], is = isig[i];
            const double *l = B->L[i];
            #pragma omp simd
            for (int t = 0; t < nb; t++) w[t] = bi;
            for (int j = 0; j < d; j++) {
                double aw = m->a[i * d + j];
                const double *x = B->xt[j];
                #pragma omp simd
                for (int t = 0; t < nb; t++) w[t] += aw * x[t];
            }
            #pragma omp simd
            for (int t = 0; t < nb; t++) {
                double z = (y[t] - w[t]) * is;
                w[t] = l[t] - ls - 0.5 * z * z;
            }
        }
        #pragma omp simd
        for (int t = 0; t < nb; t++) { mx[t] = B->W[0][t]; s[t] = 0; }
        for (int i = 1; i < K; i++)
            #pragma omp simd
            for (int t = 0; t < nb; t++) mx[t] = B->W[i][t] > mx[t] ? B->W[i][t] : mx[t];
        for (int i = 0; i < K; i++) {
            double *w = B->W[i];
            #pragma omp simd
            for (int t = 0; t < nb; t++) { w[t] = ml_exp_le0(w[t] - mx[t]); s[t] += w[t]; }
        }
        double lb = 0;
        #pragma omp simd reduction(+ : lb)
        for (int t = 0; t < nb; t++) { lb += mx[t] + vlog1p_ge1(s[t]); s[t] = 1.0 / s[t]; }
        ll += lb;
        for (int i = 0; i < K; i++) {
            double *w = B->W[i], *ri = R + i * n + t0;
            #pragma omp simd
            for (int t = 0; t < nb; t++) { w[t] *= s[t]; ri[t] = w[t]; }
            /* sufficient statistics: lower triangle of sum w x~ x~' (x~ = (x, 1)), sum w x~ y, sum w y^2 */
            double *Si = St + (size_t)i * per, *bv = Si + p * p;
            for (int u = 0; u < p; u++) {
                const double *xu = B->xt[u];
                for (int v = 0; v <= u; v++) {
                    const double *xv = B->xt[v];
                    double acc = 0;
                    #pragma omp simd reduction(+ : acc)
                    for (int t = 0; t < nb; t++) acc += w[t] * xu[t] * xv[t];
                    Si[u * p + v] += acc;
                }
                double acc = 0;
                #pragma omp simd reduction(+ : acc)
                for (int t = 0; t < nb; t++) acc += w[t] * xu[t] * y[t];
                bv[u] += acc;
            }
            double acc = 0;
            #pragma omp simd reduction(+ : acc)
            for (int t = 0; t < nb; t++) acc += w[t] * y[t] * y[t];
            bv[p] += acc;
        }
        if (gacc) block_gate_acc(m, fix, np, nb, B, gacc, 1, 1);
    }
    free(B);
    return ll;
}

CLONES void gmoe_fast_gate_q(const ml_gmoe *m, int fix, const double *X, const double *R, int64_t n, int64_t lo,
                            int64_t hi, double *acc, int want_grad, int want_hess) {
    int K = m->K, np = gmoe_gate_nparams(m, fix);
    fblock *B = malloc(sizeof(fblock));
    if (!B) { acc[0] = NAN; return; }
    for (int64_t t0 = lo; t0 < hi; t0 += FB) {
        int nb = (int)(hi - t0 < FB ? hi - t0 : FB);
        block_gate(m, X, t0, nb, B);
        for (int i = 0; i < K; i++) memcpy(B->W[i], R + i * n + t0, (size_t)nb * sizeof(double));
        block_gate_acc(m, fix, np, nb, B, acc, want_grad, want_hess);
    }
    free(B);
}
