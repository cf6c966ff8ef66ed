/* nn — the attention sub-layer of a block: h [N,D] -> q = h Wq, k = h Wk, v = h Wv (RoPE on q, k),
 * gate scores Z = h W_θ (§2.2, G1: elementwise [.., Dh] or headwise [.., 1] per head), gated SDPA through
 * the attention core (ml_attn_forward / ml_attn_backward, causal, GQA when kv_heads < heads), output
 * projection a = Y' Wo. */

static ml_attn_opts S(attn_opts)(const ml_nn_model *m) {
    ml_attn_opts o = ml_attn_defaults();
    o.causal = 1;
    o.gate_act = m->c.gate_act;
    return o;
}

static int S(wrap4)(ml_tensor *t, R *p, int64_t B, int64_t H, int64_t T, int64_t E) {
    int64_t sh[4] = {B, H, T, E};
    return ml_tensor_wrap(t, MLDT, 4, sh, p);
}

/* Adds the attention output to x (the residual stream). */
static int S(attn_fwd)(ml_nn_model *m, const nn_layer_params *lp, R *P, R *A, const int64_t *la, R *x) {
    int64_t B = m->B, T = m->T, N = B * T, D = m->c.d_model, H = m->c.heads, Hk = m->c.kv_heads, Dh = m->dh;
    int64_t G = m->gcols;
    R *t1 = A + m->sa[S_T1];
    S(gemm)(0, 0, N, H * Dh, D, A + la[A_H], P + lp->wq, 0, t1);
    S(to_bhtd)(t1, A + la[A_Q], B, T, H, Dh);
    S(gemm)(0, 0, N, Hk * Dh, D, A + la[A_H], P + lp->wk, 0, t1);
    S(to_bhtd)(t1, A + la[A_K], B, T, Hk, Dh);
    S(gemm)(0, 0, N, Hk * Dh, D, A + la[A_H], P + lp->wv, 0, t1);
    S(to_bhtd)(t1, A + la[A_V], B, T, Hk, Dh);
    S(rope)(A + la[A_Q], B * H, T, Dh, 0, m->rope_cos, m->rope_sin, 1);
    S(rope)(A + la[A_K], B * Hk, T, Dh, 0, m->rope_cos, m->rope_sin, 1);
    ml_tensor q, k, v, z, o, lse, y;
    S(wrap4)(&q, A + la[A_Q], B, H, T, Dh);
    S(wrap4)(&k, A + la[A_K], B, Hk, T, Dh);
    S(wrap4)(&v, A + la[A_V], B, Hk, T, Dh);
    S(wrap4)(&o, A + la[A_O], B, H, T, Dh);
    S(wrap4)(&y, A + la[A_Y], B, H, T, Dh);
    int64_t ls[3] = {B, H, T};
    ml_tensor_wrap(&lse, MLDT, 3, ls, A + la[A_LSE]);
    if (G) {
        S(gemm)(0, 0, N, H * G, D, A + la[A_H], P + lp->wg, 0, t1);
        S(to_bhtd)(t1, A + la[A_Z], B, T, H, G);
        S(wrap4)(&z, A + la[A_Z], B, H, T, G);
    }
    ml_attn_opts ao = S(attn_opts)(m);
    int rc = ml_attn_forward(&ao, &q, &k, &v, NULL, G ? &z : NULL, &o, &lse, G ? &y : NULL, NULL);
    if (rc) return rc;
    S(from_bhtd)(A + la[A_O], A + la[A_AO], B, T, H, Dh);
    S(gemm)(0, 0, N, D, H * Dh, A + la[A_AO], P + lp->wo, 1, x);
    return ML_OK;
}

/* da [N,D]: gradient at the sub-layer output. Writes dh [N,D] (= d loss / d h) into S_DH. */
static int S(attn_bwd)(ml_nn_model *m, const nn_layer_params *lp, R *P, R *Gr, R *A, const int64_t *la,
                       const R *da) {
    int64_t B = m->B, T = m->T, N = B * T, D = m->c.d_model, H = m->c.heads, Hk = m->c.kv_heads, Dh = m->dh;
    int64_t G = m->gcols;
    R *dao = A + m->sa[S_DAO], *t1 = A + m->sa[S_T1], *dh = A + m->sa[S_DH];
    S(gemm)(1, 0, H * Dh, D, N, A + la[A_AO], da, 1, Gr + lp->wo);
    S(gemm)(0, 1, N, H * Dh, D, da, P + lp->wo, 0, dao);
    S(to_bhtd)(dao, A + m->sa[S_DO], B, T, H, Dh);
    ml_tensor q, k, v, z, o, lse, y, dout, dq, dk, dv, dz;
    S(wrap4)(&q, A + la[A_Q], B, H, T, Dh);
    S(wrap4)(&k, A + la[A_K], B, Hk, T, Dh);
    S(wrap4)(&v, A + la[A_V], B, Hk, T, Dh);
    S(wrap4)(&o, A + la[A_O], B, H, T, Dh);
    S(wrap4)(&y, A + la[A_Y], B, H, T, Dh);
    S(wrap4)(&dout, A + m->sa[S_DO], B, H, T, Dh);
    S(wrap4)(&dq, A + m->sa[S_DQ], B, H, T, Dh);
    S(wrap4)(&dk, A + m->sa[S_DK], B, Hk, T, Dh);
    S(wrap4)(&dv, A + m->sa[S_DV], B, Hk, T, Dh);
    int64_t ls[3] = {B, H, T};
    ml_tensor_wrap(&lse, MLDT, 3, ls, A + la[A_LSE]);
    if (G) {
        S(wrap4)(&z, A + la[A_Z], B, H, T, G);
        S(wrap4)(&dz, A + m->sa[S_DZ], B, H, T, G);
    }
    ml_attn_opts ao = S(attn_opts)(m);
    int rc = ml_attn_backward(&ao, &dout, &q, &k, &v, NULL, G ? &z : NULL, &o, &lse, G ? &y : NULL, &dq, &dk,
                              &dv, G ? &dz : NULL);
    if (rc) return rc;
    S(rope)(A + m->sa[S_DQ], B * H, T, Dh, 0, m->rope_cos, m->rope_sin, -1);
    S(rope)(A + m->sa[S_DK], B * Hk, T, Dh, 0, m->rope_cos, m->rope_sin, -1);
    const R *h = A + la[A_H];
    S(from_bhtd)(A + m->sa[S_DQ], t1, B, T, H, Dh);
    S(gemm)(1, 0, D, H * Dh, N, h, t1, 1, Gr + lp->wq);
    S(gemm)(0, 1, N, D, H * Dh, t1, P + lp->wq, 0, dh);
    S(from_bhtd)(A + m->sa[S_DK], t1, B, T, Hk, Dh);
    S(gemm)(1, 0, D, Hk * Dh, N, h, t1, 1, Gr + lp->wk);
    S(gemm)(0, 1, N, D, Hk * Dh, t1, P + lp->wk, 1, dh);
    S(from_bhtd)(A + m->sa[S_DV], t1, B, T, Hk, Dh);
    S(gemm)(1, 0, D, Hk * Dh, N, h, t1, 1, Gr + lp->wv);
    S(gemm)(0, 1, N, D, Hk * Dh, t1, P + lp->wv, 1, dh);
    if (G) {
        S(from_bhtd)(A + m->sa[S_DZ], t1, B, T, H, G);
        S(gemm)(1, 0, D, H * G, N, h, t1, 1, Gr + lp->wg);
        S(gemm)(0, 1, N, D, H * G, t1, P + lp->wg, 1, dh);
    }
    return ML_OK;
}
