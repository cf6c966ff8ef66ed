/* moonlab moe — Gaussian-MoE gates (softmax, top-K, temperature, activation; Nguyen et al. 2023 eq. 1,
 * 2024 eqs. 1 and 4): logits, log gate probabilities, and the derivatives of the logits. */
#include "gmoe_internal.h"
#include "moe_internal.h"

static double lin(const ml_gmoe *m, int i, const double *x) {
    double v = 0;
    for (int j = 0; j < m->d; j++) v += m->beta1[i * m->d + j] * x[j];
    return v;
}

void gmoe_logits(const ml_gmoe *m, const double *x, double *l) {
    for (int i = 0; i < m->K; i++) {
        double u = lin(m, i, x);
        switch (m->gate) {
        case ML_GMOE_TEMPERATURE: l[i] = (u + m->beta0[i]) / m->tau; break;
        case ML_GMOE_ACTIVATION:
            l[i] = m->bias_place == ML_GMOE_BIAS_INSIDE ? moe_act(m->act, u + m->beta0[i]) / m->tau
                                                        : moe_act(m->act, u) / m->tau + m->beta0[i];
            break;
        default: l[i] = u + m->beta0[i];
        }
    }
}

void gmoe_log_gate(const ml_gmoe *m, double *l) {
    double g[256];
    gmoe_gate_both(m, l, g);
}

void gmoe_gate_both(const ml_gmoe *m, double *l, double *g) {
    int K = m->K;
    if (m->gate == ML_GMOE_TOPK && m->k < K) {
        /* keep the k largest (ties to the lowest index), others -inf */
        unsigned char keep[256];
        for (int i = 0; i < K; i++) keep[i] = 0;
        for (int c = 0; c < m->k; c++) {
            int best = -1;
            for (int i = 0; i < K; i++)
                if (!keep[i] && (best < 0 || l[i] > l[best])) best = i;
            keep[best] = 1;
        }
        for (int i = 0; i < K; i++) if (!keep[i]) l[i] = -INFINITY;
    }
    double mx = -INFINITY;
    for (int i = 0; i < K; i++) mx = l[i] > mx ? l[i] : mx;
    double s = 0;
    for (int i = 0; i < K; i++) { g[i] = exp(l[i] - mx); s += g[i]; }
    double ls = log(s), inv = 1.0 / s;
    for (int i = 0; i < K; i++) { l[i] -= mx + ls; g[i] *= inv; }
}

static int has_tau(const ml_gmoe *m) { return m->gate == ML_GMOE_TEMPERATURE || m->gate == ML_GMOE_ACTIVATION; }

int gmoe_gate_nparams(const ml_gmoe *m, int fix_last) {
    return (m->K - (fix_last ? 1 : 0)) * (m->d + 1) + (has_tau(m) ? 1 : 0);
}

void gmoe_gate_pack(const ml_gmoe *m, int fix_last, double *th) {
    int q = 0, Kf = m->K - (fix_last ? 1 : 0);
    for (int i = 0; i < Kf; i++) {
        th[q++] = m->beta0[i];
        for (int j = 0; j < m->d; j++) th[q++] = m->beta1[i * m->d + j];
    }
    if (has_tau(m)) th[q++] = log(m->tau);
}

void gmoe_gate_unpack(ml_gmoe *m, int fix_last, const double *th) {
    int q = 0, Kf = m->K - (fix_last ? 1 : 0);
    for (int i = 0; i < Kf; i++) {
        m->beta0[i] = th[q++];
        for (int j = 0; j < m->d; j++) m->beta1[i * m->d + j] = th[q++];
    }
    if (has_tau(m)) m->tau = exp(th[q++]);
}

void gmoe_logit_jacobian(const ml_gmoe *m, int fix_last, const double *x, double *J) {
    int K = m->K, d = m->d, np = gmoe_gate_nparams(m, fix_last), Kf = K - (fix_last ? 1 : 0);
    for (int i = 0; i < K * np; i++) J[i] = 0;
    for (int i = 0; i < K; i++) {
        double u = lin(m, i, x), c0 = 1, c1 = 1, ct = 0;
        switch (m->gate) {
        case ML_GMOE_TEMPERATURE: c0 = c1 = 1 / m->tau; ct = -(u + m->beta0[i]) / m->tau; break;
        case ML_GMOE_ACTIVATION:
            if (m->bias_place == ML_GMOE_BIAS_INSIDE) {
                double a = moe_act_grad(m->act, u + m->beta0[i]) / m->tau;
                c0 = c1 = a;
                ct = -moe_act(m->act, u + m->beta0[i]) / m->tau;
            } else {
                c0 = 1;
                c1 = moe_act_grad(m->act, u) / m->tau;
                ct = -moe_act(m->act, u) / m->tau;
            }
            break;
        default: break;
        }
        double *row = J + (size_t)i * np;
        if (i < Kf) {
            row[i * (d + 1)] = c0;
            for (int j = 0; j < d; j++) row[i * (d + 1) + 1 + j] = c1 * x[j];
        }
        if (has_tau(m)) row[np - 1] = ct;
    }
}
