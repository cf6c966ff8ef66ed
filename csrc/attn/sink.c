/* moonlab attn — attention-sink statistics and massive activations (Qiu et al. 2025, §4.3). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "attn_internal.h"

static double elem(const ml_tensor *t, int64_t i) {
    return t->dtype == ML_F64 ? ml_f64(t)[i] : (double)ml_f32(t)[i];
}

/* F-Attn inputs: the weight each query puts on key 1 and the row entropy, from one score row at a
 * time (O(S) scratch per thread, never L×S), accumulated in double. */
int ml_attn_sink_stats(const ml_attn_opts *o, const ml_tensor *q, const ml_tensor *k,
                       const ml_tensor *mask, ml_tensor *first_token, ml_tensor *per_query,
                       ml_tensor *entropy) {
    int bad, rc = ml_attn_check(o, q, k, k, mask, NULL, &bad);
    if (rc) return rc;
    attn_geom g;
    attn_geom_init(&g, o, q, k, k, mask, NULL);
    char s[96];
    if (!per_query || per_query->ndim != 3 || per_query->shape[0] != g.B ||
        per_query->shape[1] != g.Hq || per_query->shape[2] != g.L || per_query->dtype != q->dtype)
        return ml_fail(ML_EINVAL, "per_query: expected [B,Hq,L], got %s",
                       per_query ? ml_shape_str(per_query, s, sizeof s) : "nothing");
    if (!first_token || first_token->numel != g.Hq || first_token->dtype != q->dtype ||
        !entropy || entropy->numel != g.Hq || entropy->dtype != q->dtype)
        return ml_fail(ML_EINVAL, "first_token/entropy: expected [Hq] = [%lld]", (long long)g.Hq);
    const int64_t rows = g.B * g.Hq * g.L, E = g.E, S = g.S, L = g.L;
    double *ent = malloc(sizeof(double) * (size_t)rows);
    if (!ent) return ml_fail(ML_ENOMEM, "sink_stats: out of memory");
    int fail = 0;
#pragma omp parallel if (attn_parallel(&g))
    {
        double *sc = malloc(sizeof(double) * (size_t)S);
        if (!sc) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(static)
        for (int64_t t = 0; t < rows; t++) {
            if (!sc) continue;
            int64_t bh = t / L, i = t % L, b = bh / g.Hq, h = bh % g.Hq, hk = h / g.rep;
            int64_t kbase = (b * g.Hkv + hk) * S * E, lo, hi;
            attn_key_range(&g, i, &lo, &hi);
            double mx = -INFINITY;
            for (int64_t j = 0; j < S; j++) {
                double v = -INFINITY;
                if (j >= lo && j < hi) {
                    double d = 0;
                    for (int64_t e = 0; e < E; e++) d += elem(q, t * E + e) * elem(k, kbase + j * E + e);
                    v = g.scale * d;
                    if (g.mask) v += attn_mask_add(&g, b, h, i, j);
                }
                sc[j] = v;
                if (v > mx) mx = v;
            }
            double p0 = 0, H = NAN;
            if (mx > -INFINITY) {
                double l = 0, ws = 0;
                for (int64_t j = 0; j < S; j++)
                    if (sc[j] > -INFINITY) {
                        double e = exp(sc[j] - mx);
                        l += e;
                        ws += e * (sc[j] - mx);
                    }
                double lse = mx + log(l);
                p0 = sc[0] > -INFINITY ? exp(sc[0] - lse) : 0.0;
                H = log(l) - ws / l; /* -Σ P log P with log P = s - lse */
            }
            ml_tensor_setd(per_query, t, p0);
            ent[t] = H;
        }
        free(sc);
    }
    if (fail) { free(ent); return ml_fail(ML_ENOMEM, "sink_stats: out of memory"); }
    for (int64_t h = 0; h < g.Hq; h++) {
        double sp = 0, se = 0;
        int64_t n = 0;
        for (int64_t b = 0; b < g.B; b++)
            for (int64_t i = 0; i < L; i++) {
                int64_t t = (b * g.Hq + h) * L + i;
                if (isnan(ent[t])) continue;
                sp += ml_tensor_getd(per_query, t);
                se += ent[t];
                n++;
            }
        ml_tensor_setd(first_token, h, n ? sp / (double)n : 0.0);
        ml_tensor_setd(entropy, h, n ? se / (double)n : 0.0);
    }
    free(ent);
    return ML_OK;
}

/* max |x| (one layer's value of the paper's M-Act, §4.3); NaN propagates. */
double ml_attn_max_abs(const ml_tensor *x) {
    double m = 0;
    for (int64_t i = 0; i < x->numel; i++) {
        double a = fabs(elem(x, i));
        if (a > m || isnan(a)) m = a;
        if (isnan(m)) break;
    }
    return m;
}
