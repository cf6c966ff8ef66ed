/* moonlab moe — dispatch bookkeeping: stable counting sort of (token, slot) pairs by expert, capacity
 * limits with drop by probability or by position, and per-expert padding. */
#include <stdlib.h>
#include <omp.h>
#include "moe_internal.h"

typedef struct { double w; int64_t pos; } ranked;

static int by_weight_desc(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->w > y->w) return -1;
    if (x->w < y->w) return 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* No capacity limit: the counting sort writes (token, slot) rows straight into order at their padded
 * positions (histograms over the token chunks of moe_token_chunks, a prefix over experts and chunks, a stable
 * scatter; chunks handed to the threads dynamically), then fills the padding rows. The same order on any
 * thread count. */
static int build_order_direct(const ml_moe_route_opts *o, int64_t T, int64_t K, int64_t E, ml_moe_routing *r,
                              int64_t *assigned) {
    int64_t base = o->index_base, pad = o->pad_to > 1 ? o->pad_to : 1;
    int nck = moe_token_chunks(T), nt = omp_get_max_threads();
    if (T * K < 4096) nt = 1;
    if (nt > nck) nt = nck;
    int64_t *hist = calloc((size_t)nck * (size_t)E, sizeof(int64_t));
    if (!hist) return ml_fail(ML_ENOMEM, "moe.route: out of memory for the dispatch order");
    const int64_t *ex = r->experts;
    int64_t total = 0;
    #pragma omp parallel num_threads(nt)
    {
        #pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < nck; c++) {
            int64_t lo, hi, *h = hist + (size_t)c * E;
            moe_chunk(T, nck, c, &lo, &hi);
            for (int64_t i = lo * K; i < hi * K; i++) {
                int64_t e = ex[i] - base;
                if (e >= 0) h[e]++;
            }
        }
        #pragma omp single
        {
            int64_t off = 0;
            for (int64_t e = 0; e < E; e++) {
                int64_t acc = off;
                for (int q = 0; q < nck; q++) { int64_t v = hist[(size_t)q * E + e]; hist[(size_t)q * E + e] = acc; acc += v; }
                assigned[e] = r->counts[e] = acc - off;
                r->offsets[e] = off;
                off += (acc - off + pad - 1) / pad * pad;
            }
            r->offsets[E] = total = off;
        }
        if (total <= r->cap_order) {
            int64_t *ord = r->order;
            #pragma omp for schedule(dynamic, 1)
            for (int c = 0; c < nck; c++) {
                int64_t lo, hi, *h = hist + (size_t)c * E;
                moe_chunk(T, nck, c, &lo, &hi);
                for (int64_t t = lo; t < hi; t++)
                    for (int64_t j = 0; j < K; j++) {
                        int64_t e = ex[t * K + j] - base;
                        if (e < 0) continue;
                        int64_t p = h[e]++;
                        ord[2 * p] = t + base;
                        ord[2 * p + 1] = j + base;
                    }
            }
        }
    }
    free(hist);
    if (total > r->cap_order) return ml_fail(ML_EINVAL, "moe.route: order buffer too small");
    for (int64_t e = 0; e < E; e++)
        for (int64_t p = r->offsets[e] + r->counts[e]; p < r->offsets[e + 1]; p++)
            r->order[2 * p] = r->order[2 * p + 1] = base - 1;
    r->n_order = total;
    r->n_dropped = 0;
    return ML_OK;
}

int moe_build_order(const ml_moe_route_opts *o, int64_t T, int64_t K, int64_t E, int64_t capacity,
                    const double *rank, ml_tensor *weights, ml_moe_routing *r, int64_t *assigned) {
    if (capacity <= 0) return build_order_direct(o, T, K, E, r, assigned);
    int64_t base = o->index_base, TK = T * K;
    int nt = omp_get_max_threads();
    if (TK < 4096) nt = 1;
    int64_t *hist = calloc((size_t)nt * (size_t)E, sizeof(int64_t));
    int64_t *pre = malloc((size_t)(TK > 0 ? TK : 1) * sizeof(int64_t)); /* flat pair ids sorted by expert */
    int64_t *start = malloc((size_t)(E + 1) * sizeof(int64_t));
    if (!hist || !pre || !start) {
        free(hist); free(pre); free(start);
        return ml_fail(ML_ENOMEM, "moe.route: out of memory for the dispatch order");
    }
    const int64_t *ex = r->experts;
    #pragma omp parallel num_threads(nt)
    {
        int c = omp_get_thread_num(), n = omp_get_num_threads();
        int64_t lo, hi;
        moe_chunk(TK, n, c, &lo, &hi);
        int64_t *h = hist + (size_t)c * E;
        for (int64_t i = lo; i < hi; i++) {
            int64_t e = ex[i] - base;
            if (e >= 0) h[e]++;
        }
        #pragma omp barrier
        #pragma omp single
        {
            int64_t acc = 0;
            for (int64_t e = 0; e < E; e++) {
                start[e] = acc;
                for (int q = 0; q < n; q++) { int64_t v = hist[(size_t)q * E + e]; hist[(size_t)q * E + e] = acc; acc += v; }
            }
            start[E] = acc;
        }
        for (int64_t i = lo; i < hi; i++) {
            int64_t e = ex[i] - base;
            if (e >= 0) pre[h[e]++] = i;
        }
    }
    for (int64_t e = 0; e < E; e++) assigned[e] = start[e + 1] - start[e];
    unsigned char *drop = NULL;
    int rc = ML_OK;
    if (capacity > 0) {
        drop = calloc((size_t)(TK > 0 ? TK : 1), 1);
        if (!drop) { rc = ml_fail(ML_ENOMEM, "moe.route: out of memory"); goto done; }
        for (int64_t e = 0; e < E; e++) {
            int64_t n = assigned[e];
            if (n <= capacity) continue;
            int64_t *seg = pre + start[e];
            if (o->drop == ML_MOE_DROP_POSITION) {
                for (int64_t i = capacity; i < n; i++) drop[seg[i]] = 1;
            } else {
                ranked *rk = malloc((size_t)n * sizeof(ranked));
                if (!rk) { rc = ml_fail(ML_ENOMEM, "moe.route: out of memory"); goto done; }
                for (int64_t i = 0; i < n; i++) { rk[i].w = rank ? rank[seg[i]] : ml_tensor_getd(weights, seg[i]); rk[i].pos = seg[i]; }
                qsort(rk, (size_t)n, sizeof(ranked), by_weight_desc);
                for (int64_t i = capacity; i < n; i++) drop[rk[i].pos] = 1;
                free(rk);
            }
        }
    }
    /* counts, padded offsets, order, dropped */
    int64_t pad = o->pad_to > 1 ? o->pad_to : 1, off = 0, nd = 0;
    for (int64_t e = 0; e < E; e++) {
        r->offsets[e] = off;
        int64_t kept = 0;
        for (int64_t i = start[e]; i < start[e + 1]; i++) {
            int64_t p = pre[i];
            if (drop && drop[p]) continue;
            if (off + kept >= r->cap_order) { rc = ml_fail(ML_EINVAL, "moe.route: order buffer too small"); goto done; }
            r->order[2 * (off + kept)] = p / K + base;
            r->order[2 * (off + kept) + 1] = p % K + base;
            kept++;
        }
        r->counts[e] = kept;
        int64_t padded = (kept + pad - 1) / pad * pad;
        if (off + padded > r->cap_order) { rc = ml_fail(ML_EINVAL, "moe.route: order buffer too small"); goto done; }
        for (int64_t i = kept; i < padded; i++) {
            r->order[2 * (off + i)] = base - 1;
            r->order[2 * (off + i) + 1] = base - 1;
        }
        off += padded;
    }
    r->offsets[E] = off;
    r->n_order = off;
    if (drop) {
        for (int64_t p = 0; p < TK; p++) {
            if (!drop[p]) continue;
            if (nd >= r->cap_dropped) { rc = ml_fail(ML_EINVAL, "moe.route: dropped buffer too small"); goto done; }
            r->dropped[2 * nd] = p / K + base;
            r->dropped[2 * nd + 1] = p % K + base;
            ml_tensor_setd(weights, p, 0.0);
            nd++;
        }
    }
    r->n_dropped = nd;
done:
    free(hist); free(pre); free(start); free(drop);
    return rc;
}
