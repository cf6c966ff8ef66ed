/* nn — autoregressive sampling with a KV cache: each new position runs the blocks on one token,
 * appending its (RoPE-rotated) keys and values to per-layer caches [Hk, context, Dh]; the single query
 * attends to the cached keys 0..t (softmax(q·k/√Dh) weighted values, then the G1 gate act(h W_θ)). */

/* One decoding step at position t; writes the next-token logits [V]. */
static int S(decode)(ml_nn_model *m, R *kc, R *vc, R *w, double *sc, int64_t tok, int64_t t, R *logits) {
    int64_t D = m->c.d_model, F = m->c.d_ff, H = m->c.heads, Hk = m->c.kv_heads, Dh = m->dh, G = m->gcols;
    int64_t C = m->c.context, rep = H / Hk;
    R *P = (R *)m->p;
    R *x = w, *h = x + D, *q = h + D, *k = q + H * Dh, *v = k + Hk * Dh, *z = v + Hk * Dh, *y = z + H * Dh;
    R *u = y + H * Dh, *g = u + F, *s = g + F, *r = s + F;
    S(embed_fwd)(&tok, 1, D, P + m->wte, x);
    for (int64_t l = 0; l < m->c.layers; l++) {
        const nn_layer_params *lp = &m->lp[l];
        R *kl = kc + l * Hk * C * Dh, *vl = vc + l * Hk * C * Dh;
        S(rmsnorm_fwd)(x, P + lp->ln1, 1, D, m->c.norm_eps, h, r);
        S(gemm)(0, 0, 1, H * Dh, D, h, P + lp->wq, 0, q);
        S(gemm)(0, 0, 1, Hk * Dh, D, h, P + lp->wk, 0, k);
        S(gemm)(0, 0, 1, Hk * Dh, D, h, P + lp->wv, 0, v);
        if (G) S(gemm)(0, 0, 1, H * G, D, h, P + lp->wg, 0, z);
        S(rope)(q, H, 1, Dh, t, m->rope_cos, m->rope_sin, 1);
        S(rope)(k, Hk, 1, Dh, t, m->rope_cos, m->rope_sin, 1);
        for (int64_t j = 0; j < Hk; j++) {
            memcpy(kl + (j * C + t) * Dh, k + j * Dh, sizeof(R) * Dh);
            memcpy(vl + (j * C + t) * Dh, v + j * Dh, sizeof(R) * Dh);
        }
        double scale = 1.0 / sqrt((double)Dh);
        for (int64_t hh = 0; hh < H; hh++) {
            const R *qh = q + hh * Dh, *kh = kl + (hh / rep) * C * Dh, *vh = vl + (hh / rep) * C * Dh;
            double mx = -INFINITY, den = 0;
            for (int64_t j = 0; j <= t; j++) {
                double d = 0;
                for (int64_t e = 0; e < Dh; e++) d += (double)qh[e] * kh[j * Dh + e];
                sc[j] = d * scale;
                mx = sc[j] > mx ? sc[j] : mx;
            }
            for (int64_t j = 0; j <= t; j++) den += (sc[j] = exp(sc[j] - mx));
            for (int64_t e = 0; e < Dh; e++) {
                double acc = 0;
                for (int64_t j = 0; j <= t; j++) acc += sc[j] * vh[j * Dh + e];
                acc /= den;
                if (G) acc *= ml_attn_gate_value(m->c.gate_act, (double)z[hh * G + (G == 1 ? 0 : e)]);
                y[hh * Dh + e] = (R)acc;
            }
        }
        S(gemm)(0, 0, 1, D, H * Dh, y, P + lp->wo, 1, x);
        S(rmsnorm_fwd)(x, P + lp->ln2, 1, D, m->c.norm_eps, h, r);
        if (m->c.ffn == ML_NN_FFN_MOE) { /* y (H*Dh = D values) is free again: it takes the MoE output */
            int rc = nn_moe_forward(m, l, m->mc1, h, y, 1);
            if (rc) return rc;
            for (int64_t i = 0; i < D; i++) x[i] += y[i];
            continue;
        }
        S(gemm)(0, 0, 1, F, D, h, P + lp->w1, 0, u);
        S(gemm)(0, 0, 1, F, D, h, P + lp->w3, 0, g);
        S(swiglu_fwd)(u, g, F, s);
        S(gemm)(0, 0, 1, D, F, s, P + lp->w2, 1, x);
    }
    S(rmsnorm_fwd)(x, P + m->lnf, 1, D, m->c.norm_eps, h, r);
    S(gemm)(0, m->head < 0, 1, m->c.vocab, D, h, S(head_w)(m, P), 0, logits);
    return ML_OK;
}

/* Samples from softmax(logits / temperature) restricted to the top_k largest (greedy when
 * temperature == 0); u is a uniform number in [0,1). Returns -1 when a logit is not finite (NaN parameters,
 * overflowing activations): the top-k selection below would never count a NaN and loop forever. */
static int64_t S(sample)(const R *logits, int64_t V, double temperature, int64_t top_k, double u, double *p) {
    R chk = 0;
    for (int64_t i = 0; i < V; i++) chk += logits[i] * 0;
    if (chk != 0) return -1;
    int64_t best = 0;
    for (int64_t i = 1; i < V; i++) best = logits[i] > logits[best] ? i : best;
    if (temperature <= 0) return best;
    double kth = -INFINITY;
    if (top_k > 0 && top_k < V) { /* the k-th largest value by repeated selection of the maximum below */
        double prev = INFINITY;
        int64_t taken = 0;
        while (taken < top_k) {
            double mx = -INFINITY;
            int64_t cnt = 0;
            for (int64_t i = 0; i < V; i++)
                if (logits[i] < prev && logits[i] > mx) mx = logits[i];
            for (int64_t i = 0; i < V; i++) cnt += logits[i] == mx;
            taken += cnt;
            prev = kth = mx;
        }
    }
    double tot = 0, mx = logits[best];
    for (int64_t i = 0; i < V; i++) tot += (p[i] = logits[i] >= kth ? exp((logits[i] - mx) / temperature) : 0);
    double c = u * tot, acc = 0;
    for (int64_t i = 0; i < V; i++) {
        acc += p[i];
        if (c < acc) return i;
    }
    return best;
}

int S(nn_generate)(ml_nn_model *m, const int64_t *prompt, int64_t P, int64_t n, double temperature,
                   int64_t top_k, uint64_t seed, int64_t *out) {
    int64_t D = m->c.d_model, F = m->c.d_ff, H = m->c.heads, Hk = m->c.kv_heads, Dh = m->dh, C = m->c.context;
    int64_t V = m->c.vocab, cache = m->c.layers * Hk * C * Dh;
    int64_t work = 2 * D + 2 * H * Dh + 2 * Hk * Dh + H * Dh + 3 * F + 4; /* see decode() */
    R *kc = calloc((size_t)cache, sizeof(R)), *vc = calloc((size_t)cache, sizeof(R));
    R *w = calloc((size_t)work, sizeof(R)), *logits = calloc((size_t)V, sizeof(R));
    double *sc = calloc((size_t)(C + V), sizeof(double));
    if (!kc || !vc || !w || !logits || !sc) {
        free(kc); free(vc); free(w); free(logits); free(sc);
        return ml_fail(ML_ENOMEM, "cannot allocate the KV cache");
    }
    int64_t t = 0, tok = prompt[0];
    int rc = ML_OK;
    for (int64_t i = 0; i < P + n - 1; i++) {
        if ((rc = S(decode)(m, kc, vc, w, sc, tok, t++, logits))) break;
        if (i + 1 < P) { tok = prompt[i + 1]; continue; }
        tok = S(sample)(logits, V, temperature, top_k, ml_rng_uniform(seed, (uint64_t)(i + 1 - P)), sc + C);
        if (tok < 0) {
            rc = ml_fail(ML_EINVAL, "the logits of generated token %lld are not finite (non-finite parameters?)",
                         (long long)(i + 2 - P));
            break;
        }
        out[i + 1 - P] = tok;
        if (ml_interrupted()) break;
    }
    free(kc); free(vc); free(w); free(logits); free(sc);
    if (rc) return rc;
    return ml_interrupted() ? ml_fail(ML_EINTR, "interrupted") : ML_OK;
}
