/* Token-choice routing pass, instantiated for REAL = float / double (and an AVX2 copy of the f32 one) by
 * route_tokens.c and route_avx2.c. Loops over the E experts of a token are written for `omp simd`. */

/* z = act(x)/temperature + noise for one row into buf (or x itself when the transform is the identity);
 * returns NULL when a logit or a transformed logit is not finite (x/temperature overflows for a tiny
 * temperature, 0/temperature is NaN when 1/temperature overflows). */
static const REAL *MOE_CAT(row_z_, SUFFIX)(const ml_moe_route_opts *o, const REAL *x, int64_t t, int64_t E,
                                          REAL *buf) {
    REAL chk = 0;
    #pragma omp simd reduction(+ : chk)
    for (int64_t e = 0; e < E; e++) chk += x[e] * 0; /* NaN when a logit is inf or NaN */
    if (chk != 0) return NULL;
    if (o->activation == ML_MOE_ACT_NONE && o->temperature == 1.0 && !(o->noise_std > 0)) return x;
    REAL it = (REAL)(1.0 / o->temperature);
    for (int64_t e = 0; e < E; e++) buf[e] = (REAL)moe_act(o->activation, (double)x[e]) * it;
    if (o->noise_std > 0)
        for (int64_t e = 0; e < E; e++)
            buf[e] += (REAL)(o->noise_std * ml_rng_normal(o->noise_seed, (uint64_t)(t * E + e)));
    #pragma omp simd reduction(+ : chk)
    for (int64_t e = 0; e < E; e++) chk += buf[e] * 0;
    return chk == 0 ? buf : NULL;
}

/* Scores of one row into s: softmax(z) or sigmoid(z); adds s to P; returns lse(z); *H = entropy of s/sum(s). */
static double MOE_CAT(row_scores_, SUFFIX)(const ml_moe_route_opts *o, const REAL *z, int64_t E, REAL *s,
                                          double *P, double *H) {
#ifdef MOE_SOFTMAX_KERNEL
    REAL m, sum, sz;
    MOE_SOFTMAX_KERNEL(z, E, s, &m, &sum, &sz);
#else
    REAL m = z[0];
    #pragma omp simd reduction(max : m)
    for (int64_t e = 0; e < E; e++) m = z[e] > m ? z[e] : m;
    REAL sum = 0, sz = 0;
    for (int64_t e = 0; e < E; e++) {
        REAL v = MOE_EXP(z[e] - m);
        s[e] = v;
        sum += v;
        sz += v * z[e];
    }
#endif
    double lse = (double)m + log((double)sum);
    if (o->score == ML_MOE_SOFTMAX) {
        REAL inv = 1 / sum;
        #pragma omp simd
        for (int64_t e = 0; e < E; e++) {
            s[e] *= inv;
            P[e] += (double)s[e];
        }
        *H = lse - (double)(sz * inv);
    } else {
        double ss = 0, sl = 0;
        for (int64_t e = 0; e < E; e++) {
            double v = 1.0 / (1.0 + exp(-(double)z[e]));
            s[e] = (REAL)v;
            P[e] += v;
            ss += v;
            sl += v > 0 ? v * log(v) : 0.0;
        }
        *H = log(ss) - sl / ss;
    }
    return lse;
}

/* k repeated arg-max passes (ties to the lowest index): fast for small k without groups. Both the max and the
 * lowest index holding it are vector reductions (the values are finite, so each pass finds a fresh index). */
static void MOE_CAT(topk_small_, SUFFIX)(const REAL *sel, int64_t E, int k, int64_t *idx, REAL *tmp) {
    memcpy(tmp, sel, (size_t)E * sizeof(REAL));
    for (int j = 0; j < k; j++) {
        REAL best = -INFINITY;
        #pragma omp simd reduction(max : best)
        for (int64_t e = 0; e < E; e++) best = tmp[e] > best ? tmp[e] : best;
        int at = (int)E - 1;
        #pragma omp simd reduction(min : at)
        for (int e = 0; e < (int)E; e++) at = tmp[e] == best && e < at ? e : at;
        idx[j] = at;
        tmp[at] = -INFINITY;
    }
}

/* Worker for tokens [t0,t1). */
static void MOE_CAT(route_block_, SUFFIX)(const ml_moe_route_opts *o, const REAL *X, int64_t E, int64_t t0,
                                         int64_t t1, int64_t *experts, REAL *W, REAL *probs, double *P,
                                         double *zs, double *hs, int64_t *bad, REAL *buf, double *rank) {
    int k = o->k;
    int64_t base = o->index_base;
    REAL *zb = buf, *s = buf + E, *sel = buf + 2 * E, *scr = buf + 3 * E;
    int64_t idx[1024];
    int sel_on_z = o->order == ML_MOE_TOPK_THEN_SOFTMAX ||
                   (o->score == ML_MOE_SOFTMAX && !o->bias && (o->groups <= 1 || o->group_topk >= o->groups));
    /* (softmax is monotone: the same order as s, unless group scores add values) */
    int small = k <= 4 && (o->groups <= 1 || o->group_topk >= o->groups);
    double zacc = 0, hacc = 0;
    for (int64_t t = t0; t < t1; t++) {
        const REAL *z = MOE_CAT(row_z_, SUFFIX)(o, X + t * E, t, E, zb);
        if (!z) { *bad = t; return; }
        double H;
        double lse = MOE_CAT(row_scores_, SUFFIX)(o, z, E, s, P, &H);
        zacc += lse * lse;
        hacc += H;
        if (probs) memcpy(probs + t * E, s, (size_t)E * sizeof(REAL));
        if (k == 0) continue;
        const REAL *sv = sel_on_z ? z : s;
        if (o->bias) {
            for (int64_t e = 0; e < E; e++) sel[e] = sv[e] + (REAL)o->bias[e];
            sv = sel;
        }
        if (small) MOE_CAT(topk_small_, SUFFIX)(sv, E, k, idx, scr);
        else MOE_CAT(moe_topk_, SUFFIX)(sv, E, k, o->groups, o->group_topk, idx, scr);
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
