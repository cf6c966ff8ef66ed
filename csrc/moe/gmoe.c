/* moonlab moe — the Gaussian mixture of experts p(y|x) = sum_i g_i(x) N(y | a_i.x + b_i, sigma_i^2) (Nguyen
 * et al. 2023, eq. 1; 2024, eq. 1): parameters, density, gate probabilities, sampling, perturbation. */
#include <stdlib.h>
#include "gmoe_internal.h"

int ml_gmoe_alloc(ml_gmoe *m, int K, int d) {
    memset(m, 0, sizeof *m);
    if (K < 1 || K > 256 || d < 1 || d > 4096)
        return ml_fail(ML_EINVAL, "Gaussian MoE needs 1 <= K <= 256 experts and 1 <= d <= 4096 features");
    m->K = K; m->d = d; m->k = K; m->tau = 1; m->act = ML_MOE_ACT_TANH;
    m->beta0 = calloc((size_t)K, sizeof(double));
    m->beta1 = calloc((size_t)K * d, sizeof(double));
    m->a = calloc((size_t)K * d, sizeof(double));
    m->b = calloc((size_t)K, sizeof(double));
    m->sigma = calloc((size_t)K, sizeof(double));
    if (!m->beta0 || !m->beta1 || !m->a || !m->b || !m->sigma) {
        ml_gmoe_free(m);
        return ml_fail(ML_ENOMEM, "Gaussian MoE: out of memory");
    }
    for (int i = 0; i < K; i++) m->sigma[i] = 1;
    return ML_OK;
}

void ml_gmoe_free(ml_gmoe *m) {
    free(m->beta0); free(m->beta1); free(m->a); free(m->b); free(m->sigma);
    m->beta0 = m->beta1 = m->a = m->b = m->sigma = NULL;
}

int ml_gmoe_copy(ml_gmoe *dst, const ml_gmoe *src) {
    int rc = ml_gmoe_alloc(dst, src->K, src->d);
    if (rc) return rc;
    double *p[5] = {dst->beta0, dst->beta1, dst->a, dst->b, dst->sigma};
    int K = src->K, d = src->d;
    *dst = *src;
    dst->beta0 = p[0]; dst->beta1 = p[1]; dst->a = p[2]; dst->b = p[3]; dst->sigma = p[4];
    memcpy(dst->beta0, src->beta0, (size_t)K * sizeof(double));
    memcpy(dst->beta1, src->beta1, (size_t)K * d * sizeof(double));
    memcpy(dst->a, src->a, (size_t)K * d * sizeof(double));
    memcpy(dst->b, src->b, (size_t)K * sizeof(double));
    memcpy(dst->sigma, src->sigma, (size_t)K * sizeof(double));
    return ML_OK;
}

int ml_gmoe_check(const ml_gmoe *m) {
    if (m->K < 1 || m->K > 256 || m->d < 1) return ml_fail(ML_EINVAL, "bad sizes K = %d, d = %d", m->K, m->d);
    for (int i = 0; i < m->K; i++) {
        if (!(m->sigma[i] > 0) || !isfinite(m->sigma[i]))
            return ml_fail(ML_EINVAL, "sigma[%d] = %g must be finite and > 0", i + 1, m->sigma[i]);
        if (!isfinite(m->beta0[i]) || !isfinite(m->b[i]))
            return ml_fail(ML_EINVAL, "beta0/b of expert %d not finite", i + 1);
        for (int j = 0; j < m->d; j++)
            if (!isfinite(m->beta1[i * m->d + j]) || !isfinite(m->a[i * m->d + j]))
                return ml_fail(ML_EINVAL, "beta1/a of expert %d not finite", i + 1);
    }
    if ((m->gate == ML_GMOE_TEMPERATURE || m->gate == ML_GMOE_ACTIVATION) && (!(m->tau > 0) || !isfinite(m->tau)))
        return ml_fail(ML_EINVAL, "tau = %g must be finite and > 0", m->tau);
    if (m->gate == ML_GMOE_TOPK && (m->k < 1 || m->k > m->K))
        return ml_fail(ML_EINVAL, "k = %d must lie in [1, K = %d]", m->k, m->K);
    if (m->gate < 0 || m->gate > ML_GMOE_ACTIVATION) return ml_fail(ML_EINVAL, "unknown gate %d", m->gate);
    return ML_OK;
}

int ml_gmoe_translation_invariant(const ml_gmoe *m) {
    return !(m->gate == ML_GMOE_ACTIVATION && m->bias_place == ML_GMOE_BIAS_INSIDE);
}

int ml_gmoe_gate_probs(const ml_gmoe *m, const double *X, int64_t n, double *g) {
    int rc = ml_gmoe_check(m);
    if (rc) return rc;
    #pragma omp parallel for schedule(static) if (n > 20000)
    for (int64_t t = 0; t < n; t++) {
        double *l = g + t * m->K;
        gmoe_logits(m, X + t * m->d, l);
        gmoe_log_gate(m, l);
        for (int i = 0; i < m->K; i++) l[i] = exp(l[i]);
    }
    return ML_OK;
}

int ml_gmoe_logpdf(const ml_gmoe *m, const double *X, const double *Y, int64_t n, double *out) {
    int rc = ml_gmoe_check(m);
    if (rc) return rc;
    int K = m->K, d = m->d;
    #pragma omp parallel for schedule(static) if (n > 20000)
    for (int64_t t = 0; t < n; t++) {
        double l[256];
        const double *x = X + t * d;
        gmoe_logits(m, x, l);
        gmoe_log_gate(m, l);
        double mx = -INFINITY;
        for (int i = 0; i < K; i++) {
            double mu = m->b[i];
            for (int j = 0; j < d; j++) mu += m->a[i * d + j] * x[j];
            double z = (Y[t] - mu) / m->sigma[i];
            l[i] += -0.5 * GMOE_LOG2PI - log(m->sigma[i]) - 0.5 * z * z;
            mx = l[i] > mx ? l[i] : mx;
        }
        double s = 0;
        for (int i = 0; i < K; i++) s += exp(l[i] - mx);
        out[t] = mx + log(s);
    }
    return ML_OK;
}

int ml_gmoe_sample(const ml_gmoe *m, int64_t n, uint64_t seed, int x_given, double *X, double *Y) {
    int rc = ml_gmoe_check(m);
    if (rc) return rc;
    int K = m->K, d = m->d;
    uint64_t sx = seed, se = seed ^ 0x5bd1e9955bd1e995ULL, sy = seed ^ 0x2545f4914f6cdd1dULL;
    #pragma omp parallel for schedule(static) if (n > 20000)
    for (int64_t t = 0; t < n; t++) {
        double *x = X + t * d, l[256];
        if (!x_given)
            for (int j = 0; j < d; j++) x[j] = ml_rng_uniform(sx, (uint64_t)(t * d + j));
        gmoe_logits(m, x, l);
        gmoe_log_gate(m, l);
        double u = ml_rng_uniform(se, (uint64_t)t), c = 0;
        int e = K - 1;
        for (int i = 0; i < K; i++) {
            c += exp(l[i]);
            if (u < c) { e = i; break; }
        }
        while (e > 0 && l[e] == -INFINITY) e--; /* rounding at the top of the cdf */
        double mu = m->b[e];
        for (int j = 0; j < d; j++) mu += m->a[e * d + j] * x[j];
        Y[t] = mu + m->sigma[e] * ml_rng_normal(sy, (uint64_t)t);
    }
    return ML_OK;
}

void ml_gmoe_perturb(ml_gmoe *m, double perturb, uint64_t seed, int fix_last) {
    uint64_t c = 0;
    int K = m->K, d = m->d, Kf = K - (fix_last ? 1 : 0);
    for (int i = 0; i < K; i++) {
        if (i < Kf) {
            m->beta0[i] += perturb * ml_rng_normal(seed, c++);
            for (int j = 0; j < d; j++) m->beta1[i * d + j] += perturb * ml_rng_normal(seed, c++);
        }
        for (int j = 0; j < d; j++) m->a[i * d + j] += perturb * ml_rng_normal(seed, c++);
        m->b[i] += perturb * ml_rng_normal(seed, c++);
        m->sigma[i] *= exp(perturb * ml_rng_normal(seed, c++));
    }
    if (m->gate == ML_GMOE_TEMPERATURE || m->gate == ML_GMOE_ACTIVATION) m->tau *= exp(perturb * ml_rng_normal(seed, c++));
}
