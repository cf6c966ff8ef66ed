/* nn — the MoE feed-forward option: each block's SwiGLU MLP replaced by moonlab's MoE layer
 * (ml_moe_layer_forward/backward: router x Wr, top-k softmax routing, per-expert SwiGLU, weighted combine;
 * Switch load-balancing loss, Fedus et al. 2021 eq. 4, and router z-loss added to the training loss). */
#include <stdlib.h>
#include "moonlab/error.h"
#include "nn/nn_internal.h"

/* Wraps layer l's MoE parameters of the flat buffer P (params or grads) as tensors t[4] and fills ly. */
static void wrap_layer(const ml_nn_model *m, int64_t l, void *P, ml_tensor t[4], ml_moe_layer *ly) {
    const ml_nn_config *c = &m->c;
    ml_dtype dt = (ml_dtype)c->dtype;
    size_t es = ml_dtype_size(dt);
    int64_t D = c->d_model, F = c->d_ff, E = c->experts;
    const nn_layer_params *lp = &m->lp[l];
    int64_t sr[2] = {D, E}, s1[3] = {E, D, F}, s2[3] = {E, F, D};
    ml_tensor_wrap(&t[0], dt, 2, sr, (char *)P + (size_t)lp->wr * es);
    ml_tensor_wrap(&t[1], dt, 3, s1, (char *)P + (size_t)lp->w1 * es);
    ml_tensor_wrap(&t[2], dt, 3, s1, (char *)P + (size_t)lp->w3 * es);
    ml_tensor_wrap(&t[3], dt, 3, s2, (char *)P + (size_t)lp->w2 * es);
    ly->d_model = D; ly->d_ff = F; ly->experts = E;
    ly->route = ml_moe_route_defaults();
    ly->route.k = (int)c->top_k;
    ly->route.aux_coef = c->moe_aux;
    ly->route.z_coef = c->moe_z;
    ly->wr = &t[0]; ly->w1 = &t[1]; ly->w3 = &t[2]; ly->w2 = &t[3];
}

void nn_moe_free(ml_nn_model *m) {
    if (m->mc)
        for (int64_t l = 0; l < m->c.layers; l++) ml_moe_layer_cache_free(m->mc[l]);
    free(m->mc);
    ml_moe_layer_cache_free(m->mc1);
    free(m->mgrad);
    m->mc = NULL; m->mc1 = NULL; m->mgrad = NULL; m->mc_T = 0;
}

int nn_moe_reserve(ml_nn_model *m, int64_t N) {
    const ml_nn_config *c = &m->c;
    ml_tensor t[4];
    ml_moe_layer ly;
    wrap_layer(m, 0, m->p, t, &ly);
    ml_dtype dt = (ml_dtype)c->dtype;
    if (!m->mgrad) {
        int64_t n = c->d_model * c->experts * (1 + 3 * c->d_ff);
        m->mgrad = calloc((size_t)n, ml_dtype_size(dt));
        m->mc = calloc((size_t)c->layers, sizeof *m->mc);
        m->mc1 = ml_moe_layer_cache_new(&ly, dt, 1);
        if (!m->mgrad || !m->mc || !m->mc1) { nn_moe_free(m); return ml_fail(ML_ENOMEM, "out of memory for the MoE layers"); }
    }
    if (m->mc_T == N) return ML_OK;
    for (int64_t l = 0; l < c->layers; l++) {
        ml_moe_layer_cache_free(m->mc[l]);
        m->mc[l] = ml_moe_layer_cache_new(&ly, dt, N);
        if (!m->mc[l]) {
            int rc = ml_errcode();
            for (int64_t k = 0; k < l; k++) { ml_moe_layer_cache_free(m->mc[k]); m->mc[k] = NULL; }
            m->mc_T = 0;
            return rc ? rc : ML_ENOMEM;
        }
    }
    m->mc_T = N;
    return ML_OK;
}

int nn_moe_forward(ml_nn_model *m, int64_t l, ml_moe_layer_cache *c, const void *h, void *y, int64_t N) {
    ml_tensor t[4], x, yt;
    ml_moe_layer ly;
    wrap_layer(m, l, m->p, t, &ly);
    int64_t sh[2] = {N, m->c.d_model};
    ml_tensor_wrap(&x, (ml_dtype)m->c.dtype, 2, sh, (void *)h);
    ml_tensor_wrap(&yt, (ml_dtype)m->c.dtype, 2, sh, y);
    int rc = ml_moe_layer_forward(&ly, &x, c, &yt);
    if (rc) return rc;
    double z, aux = ml_moe_layer_cache_aux(c, &z);
    m->aux += aux + z;
    return ML_OK;
}

int nn_moe_backward(ml_nn_model *m, int64_t l, const void *h, const void *dy, void *dh, int64_t N) {
    ml_tensor t[4], g[4], x, dyt, dht;
    ml_moe_layer ly, gl;
    wrap_layer(m, l, m->p, t, &ly);
    ml_dtype dt = (ml_dtype)m->c.dtype;
    int64_t D = m->c.d_model, E = m->c.experts, F = m->c.d_ff, sh[2] = {N, D};
    /* scratch gradients laid out like the parameters: wr, w1, w3, w2 back to back */
    nn_layer_params save = m->lp[l], tmp = {0};
    tmp.wr = 0; tmp.w1 = D * E; tmp.w3 = tmp.w1 + E * D * F; tmp.w2 = tmp.w3 + E * D * F;
    m->lp[l] = tmp;
    wrap_layer(m, l, m->mgrad, g, &gl);
    m->lp[l] = save;
    ml_tensor_wrap(&x, dt, 2, sh, (void *)h);
    ml_tensor_wrap(&dyt, dt, 2, sh, (void *)dy);
    ml_tensor_wrap(&dht, dt, 2, sh, dh);
    int rc = ml_moe_layer_backward(&ly, &x, &dyt, m->mc[l], 1.0, 1.0, &dht, &g[0], &g[1], &g[2], &g[3]);
    if (rc) return rc;
    /* accumulate into the model's gradient buffer (wr, w1, w3, w2 are contiguous there too) */
    int64_t n = D * E * (1 + 3 * F), o = save.wr;
    if (dt == ML_F32) {
        float *G = (float *)m->g + o;
        const float *s = m->mgrad;
        for (int64_t i = 0; i < n; i++) G[i] += s[i];
    } else {
        double *G = (double *)m->g + o;
        const double *s = m->mgrad;
        for (int64_t i = 0; i < n; i++) G[i] += s[i];
    }
    return ML_OK;
}
