/* Token-choice routing pass, instantiated for REAL = float / double by route_tokens.c. */

/* z = act(x)/temperature + noise for one row; returns 0 when a logit is not finite. */
static int MOE_CAT(row_z_, SUFFIX)(const ml_moe_route_opts *o, const REAL *x, int64_t t, int64_t E, REAL *z) {
    int ok = 1;
    for (int64_t e = 0; e < E; e++) ok &= isfinite(x[e]) ? 1 : 0;
    if (!ok) return 0;
    if (o->activation == ML_MOE_ACT_NONE && o->temperature == 1.0) {
        memcpy(z, x, (size_t)E * sizeof(REAL));
    } else {
        REAL it = (REAL)(1.0 / o->temperature);
        for (int64_t e = 0; e < E; e++) z[e] = (REAL)moe_act(o->activation, (double)x[e]) * it;
    }
    if (o->noise_std > 0)
        for (int64_t e = 0; e < E; e++)
            z[e] += (REAL)(o->noise_std * ml_rng_normal(o->noise_seed, (uint64_t)(t * E + e)));
    return 1;
}

/* Scores of one row: s = softmax(z) or sigmoid(z) into s; returns lse(z); *H = entropy of s / sum(s). */
static double MOE_CAT(row_scores_, SUFFIX)(const ml_moe_route_opts *o, const REAL *z, int64_t E, REAL *s,
                                          double *H) {
    REAL m = z[0];
    for (int64_t e = 1; e < E; e++) m = z[e] > m ? z[e] : m;
    REAL sum = 0, sz = 0;
    for (int64_t e = 0; e < E; e++) {
        REAL v = MOE_EXP(z[e] - m);
        s[e] = v;
        sum += v;
        sz += v * z[e];
    }
    double lse = (double)m + log((double)sum);
    if (o->score == ML_MOE_SOFTMAX) {
        REAL inv = 1 / sum;
        for (int64_t e = 0; e < E; e++) s[e] *= inv;
        *H = lse - (double)(sz * inv);
    } else {
        double ss = 0, sl = 0;
        for (int64_t e = 0; e < E; e++) {
            double v = 1.0 / (1.0 + exp(-(double)z[e]));
            s[e] = (REAL)v;
            ss += v;
            sl += v > 0 ? v * log(v) : 0.0;
        }
        *H = log(ss) - sl / ss;
    }
    return lse;
}

/* Worker for tokens [t0,t1). */
static void MOE_CAT(route_block_, SUFFIX)(const ml_moe_route_opts *o, const REAL *X, int64_t E, int64_t t0,
                                         int64_t t1, int64_t *experts, REAL *W, REAL *probs, double *P,
                                         double *zs, double *hs, int64_t *bad, REAL *buf, double *rank) {
    int k = o->k;
    int64_t base = o->index_base;
    REAL *z = buf, *s = buf + E, *sel = buf + 2 * E, *scr = buf + 3 * E;
    int64_t idx[1024];
    int sel_on_z = o->order == ML_MOE_TOPK_THEN_SOFTMAX ||
                   (o->score == ML_MOE_SOFTMAX && !o->bias && (o->groups <= 1 || o->group_topk >= o->groups));
    /* (softmax is monotone: the same order as s, unless group scores add values) */
    double zacc = 0, hacc = 0;
    for (int64_t t = t0; t < t1; t++) {
        const REAL *x = X + t * E;
        if (!MOE_CAT(row_z_, SUFFIX)(o, x, t, E, z)) { *bad = t; return; }
        double H;
        double lse = MOE_CAT(row_scores_, SUFFIX)(o, z, E, s, &H);
        zacc += lse * lse;
        hacc += H;
        for (int64_t e = 0; e < E; e++) P[e] += (double)s[e];
        if (probs) memcpy(probs + t * E, s, (size_t)E * sizeof(REAL));
        if (k == 0) continue;
        const REAL *sv = sel_on_z ? z : s;
        if (o->bias) {
            for (int64_t e = 0; e < E; e++) sel[e] = sv[e] + (REAL)o->bias[e];
            sv = sel;
        }
        MOE_CAT(moe_topk_, SUFFIX)(sv, E, k, o->groups, o->group_topk, idx, scr);
        REAL *w = W + t * k;
        int64_t *ex = experts + t * k;
        if (o->order == ML_MOE_TOPK_THEN_SOFTMAX) {
            REAL m = z[idx[0]];
            for (int j = 1; j < k; j++) m = z[idx[j]] > m ? z[idx[j]] : m;
            REAL sum = 0;
            for (int j = 0; j < k; j++) { w[j] = (REAL)exp((double)(z[idx[j]] - m)); sum += w[j]; }
            REAL c = (REAL)o->route_scale / sum;
            for (int j = 0; j < k; j++) w[j] *= c;
        } else {
            REAL sum = 0;
            for (int j = 0; j < k; j++) { w[j] = s[idx[j]]; sum += w[j]; }
            REAL c = (REAL)o->route_scale;
            if (o->renormalize) c = sum > 0 ? c / sum : 0;
            for (int j = 0; j < k; j++) w[j] *= c;
        }
        for (int j = 0; j < k; j++) ex[j] = idx[j] + base;
        if (rank)
            for (int j = 0; j < k; j++) rank[t * k + j] = (double)s[idx[j]];
    }
    *zs += zacc;
    *hs += hacc;
}
