/* nn — the whole model: embedding, `layers` pre-norm blocks (x += Attn(RMSNorm(x)); x += MLP(RMSNorm(x))),
 * final RMSNorm, head (wte^T when tied), cross-entropy. */

static R *S(head_w)(const ml_nn_model *m, R *P) { return P + (m->head >= 0 ? m->head : m->wte); }

int S(nn_forward)(ml_nn_model *m, R *logits_out) {
    int64_t N = m->B * m->T, D = m->c.d_model, F = m->c.d_ff, V = m->c.vocab;
    R *P = (R *)m->p, *A = (R *)m->arena, *x = A + m->sa[S_DX]; /* S_DX doubles as the running stream */
    S(embed_fwd)(m->tok, N, D, P + m->wte, x);
    m->aux = 0;
    for (int64_t l = 0; l < m->c.layers; l++) {
        const nn_layer_params *lp = &m->lp[l];
        const int64_t *la = m->la[l];
        memcpy(A + la[A_XIN], x, sizeof(R) * N * D);
        S(rmsnorm_fwd)(x, P + lp->ln1, N, D, m->c.norm_eps, A + la[A_H], A + la[A_R1]);
        int rc = S(attn_fwd)(m, lp, P, A, la, x);
        if (rc) return rc;
        memcpy(A + la[A_XMID], x, sizeof(R) * N * D);
        S(rmsnorm_fwd)(x, P + lp->ln2, N, D, m->c.norm_eps, A + la[A_H2], A + la[A_R2]);
        if (m->c.ffn == ML_NN_FFN_MOE) { /* S_DH is free during forward: it holds the MoE output */
            R *y = A + m->sa[S_DH];
            rc = nn_moe_forward(m, l, m->mc[l], A + la[A_H2], y, N);
            if (rc) return rc;
            for (int64_t i = 0; i < N * D; i++) x[i] += y[i];
            continue;
        }
        S(gemm)(0, 0, N, F, D, A + la[A_H2], P + lp->w1, 0, A + la[A_U]);
        S(gemm)(0, 0, N, F, D, A + la[A_H2], P + lp->w3, 0, A + la[A_G]);
        S(swiglu_fwd)(A + la[A_U], A + la[A_G], N * F, A + la[A_S]);
        S(gemm)(0, 0, N, D, F, A + la[A_S], P + lp->w2, 1, x);
    }
    memcpy(A + m->xf, x, sizeof(R) * N * D);
    S(rmsnorm_fwd)(x, P + m->lnf, N, D, m->c.norm_eps, A + m->hf, A + m->rf);
    R *z = A + m->logits;
    S(gemm)(0, m->head < 0, N, V, D, A + m->hf, S(head_w)(m, P), 0, z);
    if (logits_out) memcpy(logits_out, z, sizeof(R) * N * V);
    if (m->have_targets) m->loss = S(xent_fwd)(z, m->tgt, N, V) + m->aux; /* + MoE router losses */
    return ML_OK;
}

int S(nn_backward)(ml_nn_model *m) {
    int64_t N = m->B * m->T, D = m->c.d_model, F = m->c.d_ff, V = m->c.vocab;
    R *P = (R *)m->p, *Gr = (R *)m->g, *A = (R *)m->arena;
    R *dz = A + m->sa[S_DLOGITS], *dx = A + m->sa[S_DX], *dh = A + m->sa[S_DH];
    S(xent_bwd)(A + m->logits, m->tgt, N, V, dz);
    if (m->head >= 0) S(gemm)(1, 0, D, V, N, A + m->hf, dz, 1, Gr + m->head);
    else S(gemm)(1, 0, V, D, N, dz, A + m->hf, 1, Gr + m->wte);
    S(gemm)(0, m->head >= 0, N, D, V, dz, S(head_w)(m, P), 0, dh);
    memset(dx, 0, sizeof(R) * N * D);
    S(rmsnorm_bwd)(A + m->xf, P + m->lnf, A + m->rf, dh, N, D, dx, Gr + m->lnf);
    for (int64_t l = m->c.layers - 1; l >= 0; l--) {
        const nn_layer_params *lp = &m->lp[l];
        const int64_t *la = m->la[l];
        R *ds = A + m->sa[S_DS], *du = A + m->sa[S_DU], *dg = A + m->sa[S_DG];
        if (m->c.ffn == ML_NN_FFN_MOE) {
            int rc = nn_moe_backward(m, l, A + la[A_H2], dx, dh, N);
            if (rc) return rc;
        } else {
        S(gemm)(1, 0, F, D, N, A + la[A_S], dx, 1, Gr + lp->w2);
        S(gemm)(0, 1, N, F, D, dx, P + lp->w2, 0, ds);
        S(swiglu_bwd)(A + la[A_U], A + la[A_G], ds, N * F, du, dg);
        S(gemm)(1, 0, D, F, N, A + la[A_H2], du, 1, Gr + lp->w1);
        S(gemm)(1, 0, D, F, N, A + la[A_H2], dg, 1, Gr + lp->w3);
        S(gemm)(0, 1, N, D, F, du, P + lp->w1, 0, dh);
        S(gemm)(0, 1, N, D, F, dg, P + lp->w3, 1, dh);
        }
        S(rmsnorm_bwd)(A + la[A_XMID], P + lp->ln2, A + la[A_R2], dh, N, D, dx, Gr + lp->ln2);
        int rc = S(attn_bwd)(m, lp, P, Gr, A, la, dx);
        if (rc) return rc;
        S(rmsnorm_bwd)(A + la[A_XIN], P + lp->ln1, A + la[A_R1], dh, N, D, dx, Gr + lp->ln1);
    }
    S(embed_bwd)(m->tok, N, D, dx, Gr + m->wte);
    return ML_OK;
}

static double S(max_abs)(const R *x, int64_t n) {
    double mx = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = fabs((double)x[i]);
        if (a != a) return NAN;
        mx = a > mx ? a : mx;
    }
    return mx;
}

int S(nn_stats)(ml_nn_model *m, double *f_attn, double *m_act, double *gmean, double *gsparse, double *fheads) {
    int64_t B = m->B, T = m->T, N = B * T, D = m->c.d_model, H = m->c.heads, Hk = m->c.kv_heads, Dh = m->dh;
    R *A = (R *)m->arena;
    ml_tensor first = {0}, ent = {0}, perq = {0};
    int64_t hs[1] = {H}, ps[3] = {B, H, T};
    int rc = ml_tensor_init(&first, MLDT, 1, hs);
    if (!rc) rc = ml_tensor_init(&ent, MLDT, 1, hs);
    if (!rc) rc = ml_tensor_init(&perq, MLDT, 3, ps);
    if (rc) { ml_tensor_release(&first); ml_tensor_release(&ent); return rc; }
    ml_attn_opts ao = S(attn_opts)(m);
    for (int64_t l = 0; l < m->c.layers; l++) {
        const int64_t *la = m->la[l];
        ml_tensor q, k;
        S(wrap4)(&q, A + la[A_Q], B, H, T, Dh);
        S(wrap4)(&k, A + la[A_K], B, Hk, T, Dh);
        rc = ml_attn_sink_stats(&ao, &q, &k, NULL, &first, &perq, &ent);
        if (rc) break;
        double s = 0;
        for (int64_t h = 0; h < H; h++) {
            double fh = ml_tensor_getd(&first, h);
            if (fheads) fheads[l * H + h] = fh;
            s += fh;
        }
        f_attn[l] = s / (double)H;
        const R *xo = l + 1 < m->c.layers ? A + m->la[l + 1][A_XIN] : A + m->xf;
        m_act[l] = S(max_abs)(xo, N * D);
        if (m->gcols) {
            int64_t nz = N * H * m->gcols, low = 0;
            double sum = 0;
            for (int64_t i = 0; i < nz; i++) {
                double g = ml_attn_gate_value(m->c.gate_act, (double)A[la[A_Z] + i]);
                sum += g;
                low += g < 0.1;
            }
            gmean[l] = sum / (double)nz;
            gsparse[l] = (double)low / (double)nz;
        } else {
            gmean[l] = gsparse[l] = NAN;
        }
    }
    ml_tensor_release(&first);
    ml_tensor_release(&ent);
    ml_tensor_release(&perq);
    return rc;
}
