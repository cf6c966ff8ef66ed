/* moonlab moe — gradient of the routing weights and of the aux/z losses with respect to the logits
 * (softmax and sigmoid scores, both orders, renormalisation, route_scale, temperature, activation). */
#include <stdlib.h>
#include <omp.h>
#include "moe_internal.h"

int ml_moe_route_backward(const ml_moe_route_opts *o, const ml_tensor *logits, const int64_t *experts,
                          const ml_tensor *weights, const ml_tensor *dweights, double daux, double dz,
                          ml_tensor *dlogits) {
    if (!logits || logits->ndim != 2) return ml_fail(ML_EINVAL, "logits must be [T,E]");
    int64_t T = logits->shape[0], E = logits->shape[1];
    int64_t K = o->expert_choice ? E : o->k, base = o->index_base;
    if (weights->ndim != 2 || weights->shape[0] != T || weights->shape[1] != K)
        return ml_fail(ML_EINVAL, "weights must be [T,K] = [%lld,%lld]", (long long)T, (long long)K);
    if (!ml_tensor_same_shape(weights, dweights))
        return ml_fail(ML_EINVAL, "dweights must have the shape of weights [%lld,%lld]", (long long)T, (long long)K);
    if (dlogits->ndim != 2 || dlogits->shape[0] != T || dlogits->shape[1] != E)
        return ml_fail(ML_EINVAL, "dlogits must be [T,E]");
    for (int64_t i = 0; i < T * K; i++) {
        int64_t e = experts[i] - base;
        if (e < -1 || e >= E || (e == -1 && !o->expert_choice))
            return ml_fail(ML_EINVAL, "experts[%lld] = %lld is not an expert index", (long long)(i + base),
                           (long long)experts[i]);
    }
    /* pre-drop assignment shares f_e (aux loss) */
    double *f = calloc((size_t)E, sizeof(double));
    if (!f) return ml_fail(ML_ENOMEM, "moe.route_backward: out of memory");
    int64_t tot = 0;
    for (int64_t i = 0; i < T * K; i++) if (experts[i] - base >= 0) { f[experts[i] - base] += 1; tot++; }
    for (int64_t e = 0; e < E; e++) f[e] = tot > 0 ? f[e] / (double)tot : 0;
    double aux_c = daux * o->aux_coef * (double)E / (double)(T > 0 ? T : 1);
    double z_c = dz * o->z_coef * 2.0 / (double)(T > 0 ? T : 1);
    int bad = 0;
    int64_t badrow = T; /* first row whose logits or z = act(x)/temperature + noise are not finite */
    #pragma omp parallel if (T * E > 16384)
    {
        double *buf = malloc((size_t)(5 * E + 2 * K + 2) * sizeof(double));
        if (!buf) {
            #pragma omp atomic write
            bad = 1;
        }
        #pragma omp for schedule(static)
        for (int64_t t = 0; t < T; t++) {
            if (!buf) continue;
            double *x = buf, *z = buf + E, *s = buf + 2 * E, *p = buf + 3 * E, *ds = buf + 4 * E;
            double *g = buf + 5 * E, *u = g + K;
            double chk = 0;
            for (int64_t e = 0; e < E; e++) {
                x[e] = ml_tensor_getd(logits, t * E + e);
                z[e] = moe_act(o->activation, x[e]) / o->temperature;
                if (o->noise_std > 0) z[e] += o->noise_std * ml_rng_normal(o->noise_seed, (uint64_t)(t * E + e));
                chk += z[e] * 0;
            }
            if (chk != 0) { /* NaN gradients otherwise (r.logits or r.opts changed since moe.route) */
                #pragma omp critical(moe_route_backward_bad)
                if (t < badrow) badrow = t;
                continue;
            }
            double m = z[0];
            for (int64_t e = 1; e < E; e++) m = z[e] > m ? z[e] : m;
            double sum = 0;
            for (int64_t e = 0; e < E; e++) { p[e] = exp(z[e] - m); sum += p[e]; }
            for (int64_t e = 0; e < E; e++) p[e] /= sum;
            double lse = m + log(sum);
            for (int64_t e = 0; e < E; e++) {
                s[e] = o->score == ML_MOE_SOFTMAX ? p[e] : 1.0 / (1.0 + exp(-z[e]));
                ds[e] = aux_c * f[e];
            }
            /* slots: gradient of the kept weights (weight 0 = dropped/unused: no gradient of its own) */
            for (int64_t j = 0; j < K; j++) {
                int64_t e = experts[t * K + j] - base;
                double w = ml_tensor_getd(weights, t * K + j);
                g[j] = (e >= 0 && w != 0.0) ? ml_tensor_getd(dweights, t * K + j) : 0.0;
                u[j] = e >= 0 ? s[e] : 0.0;
            }
            double c = o->route_scale;
            double *dzt = x; /* reuse: dz accumulated here */
            for (int64_t e = 0; e < E; e++) dzt[e] = 0;
            if (o->order == ML_MOE_TOPK_THEN_SOFTMAX && !o->expert_choice) {
                double mm = -INFINITY, qs = 0, gq = 0;
                for (int64_t j = 0; j < K; j++) mm = fmax(mm, z[experts[t * K + j] - base]);
                for (int64_t j = 0; j < K; j++) { u[j] = exp(z[experts[t * K + j] - base] - mm); qs += u[j]; }
                for (int64_t j = 0; j < K; j++) { u[j] /= qs; gq += u[j] * c * g[j]; }
                for (int64_t j = 0; j < K; j++) dzt[experts[t * K + j] - base] += u[j] * (c * g[j] - gq);
            } else {
                double S = 0, gu = 0;
                for (int64_t j = 0; j < K; j++) { S += u[j]; gu += g[j] * u[j]; }
                for (int64_t j = 0; j < K; j++) {
                    int64_t e = experts[t * K + j] - base;
                    if (e < 0) continue;
                    ds[e] += o->renormalize ? (S > 0 ? c / S * (g[j] - gu / S) : 0.0) : c * g[j];
                }
            }
            /* score backward */
            if (o->score == ML_MOE_SOFTMAX) {
                double sd = 0;
                for (int64_t e = 0; e < E; e++) sd += s[e] * ds[e];
                for (int64_t e = 0; e < E; e++) dzt[e] += s[e] * (ds[e] - sd);
            } else {
                for (int64_t e = 0; e < E; e++) dzt[e] += ds[e] * s[e] * (1.0 - s[e]);
            }
            for (int64_t e = 0; e < E; e++) {
                dzt[e] += z_c * lse * p[e];
                double xe = ml_tensor_getd(logits, t * E + e);
                ml_tensor_setd(dlogits, t * E + e, dzt[e] / o->temperature * moe_act_grad(o->activation, xe));
            }
        }
        free(buf);
    }
    free(f);
    if (bad) return ml_fail(ML_ENOMEM, "moe.route_backward: out of memory");
    if (badrow < T)
        return ml_fail(ML_EINVAL, "row %lld: the logits or act(x)/temperature + noise are not finite (temperature = %g)",
                       (long long)(badrow + 1), o->temperature); /* rows count from 1 */
    return ML_OK;
}
