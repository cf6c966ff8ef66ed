/* moonlab attn — forward kernel body, instantiated for float and double by forward.c.
 * Expects REAL, SFX(name), GEMM, EXPSUM, MAXV. Not a public header. */

#include "mask_tmpl.h"

/* Key range [*js, *je) touched by query rows i0..i0+mq-1; *full_lo..*full_hi is the range every
 * row sees entirely (blocks inside it need no masking). */
static void SFX(block_range)(const attn_geom *g, int64_t i0, int mq, int64_t *js, int64_t *je,
                             int64_t *full_lo, int64_t *full_hi) {
    int64_t lo0, hi0, lo1, hi1;
    attn_key_range(g, i0, &lo0, &hi0);
    attn_key_range(g, i0 + mq - 1, &lo1, &hi1);
    *js = lo0; *je = hi1;
    *full_lo = lo1; *full_hi = hi0;
}

static int SFX(forward)(const attn_geom *g, const REAL *q, const REAL *k, const REAL *v,
                        const REAL *z, REAL *out, REAL *lse, REAL *y) {
    const int64_t E = g->E, Ev = g->Ev, L = g->L, S = g->S;
    const int64_t nqb = (L + ATTN_BQ - 1) / ATTN_BQ;
    const int64_t ntask = g->B * g->Hq * nqb;
    const REAL scale = (REAL)g->scale;
    const int64_t nkb = (S + ATTN_BK - 1) / ATTN_BK;
    int fail = 0;
    /* K transposed once per call, block by block: kt[(b,hk)][kb] is E × nk (ld nk). */
    REAL *kt = malloc(sizeof(REAL) * (size_t)(g->B * g->Hkv * S * E));
    if (!kt) return ml_fail(ML_ENOMEM, "attn: out of memory for the packed keys");
#pragma omp parallel for schedule(static) if (attn_parallel(g))
    for (int64_t t = 0; t < g->B * g->Hkv * nkb; t++) {
        int64_t bh = t / nkb, j0 = (t % nkb) * ATTN_BK;
        int nk = (int)(S - j0 < ATTN_BK ? S - j0 : ATTN_BK);
        const REAL *kr = k + (bh * S + j0) * E;
        REAL *dst = kt + (bh * S + j0) * E;
        for (int j = 0; j < nk; j++)
            for (int64_t e = 0; e < E; e++) dst[e * nk + j] = kr[j * E + e];
    }
#pragma omp parallel if (attn_parallel(g))
    {
        size_t need = (size_t)ATTN_BQ * E + (size_t)ATTN_BQ * ATTN_BK +
                      (size_t)ATTN_BQ * Ev + 2 * ATTN_BQ;
        REAL *buf = malloc(need * sizeof(REAL));
        if (!buf) {
#pragma omp atomic write
            fail = 1;
        }
        REAL *Qs = buf, *Sb = Qs + ATTN_BQ * E, *O = Sb + ATTN_BQ * ATTN_BK,
             *m = O + ATTN_BQ * Ev, *l = m + ATTN_BQ;
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < ntask; t++) {
            if (!buf) continue;
            int64_t bh = t / nqb, qb = nqb - 1 - t % nqb;
            int64_t b = bh / g->Hq, h = bh % g->Hq, hk = h / g->rep;
            int64_t i0 = qb * ATTN_BQ;
            int mq = (int)(L - i0 < ATTN_BQ ? L - i0 : ATTN_BQ);
            const REAL *qp = q + ((b * g->Hq + h) * L + i0) * E;
            const REAL *vp = v + (b * g->Hkv + hk) * S * Ev;
            for (int64_t x = 0; x < (int64_t)mq * E; x++) Qs[x] = qp[x] * scale;
            for (int r = 0; r < mq; r++) { m[r] = (REAL)-INFINITY; l[r] = 0; }
            memset(O, 0, sizeof(REAL) * (size_t)mq * Ev);
            int64_t js, je, flo, fhi;
            SFX(block_range)(g, i0, mq, &js, &je, &flo, &fhi);
            for (int64_t j0 = js / ATTN_BK * ATTN_BK; j0 < je; j0 += ATTN_BK) {
                int ldk = (int)(S - j0 < ATTN_BK ? S - j0 : ATTN_BK);
                int nk = (int)(je - j0 < ldk ? je - j0 : ldk);
                const REAL *Kt = kt + ((b * g->Hkv + hk) * S + j0) * E;
                memset(Sb, 0, sizeof(REAL) * (size_t)mq * nk);
                GEMM(mq, nk, (int)E, Qs, (int)E, Kt, ldk, Sb, nk);
                if (g->mask || j0 < flo || j0 + nk > fhi) SFX(apply_mask)(g, b, h, i0, mq, j0, nk, Sb);
                for (int r = 0; r < mq; r++) {
                    REAL *row = Sb + (int64_t)r * nk;
                    REAL mn = MAXV(row, nk);
                    if (m[r] > mn || m[r] != m[r]) mn = m[r];
                    if (mn == (REAL)-INFINITY) { memset(row, 0, sizeof(REAL) * nk); continue; }
                    REAL alpha = m[r] == (REAL)-INFINITY ? 0 : (REAL)EXPF(m[r] - mn);
                    REAL sum = EXPSUM(row, nk, mn);
                    l[r] = l[r] * alpha + sum;
                    if (alpha != 1) {
                        REAL *o = O + (int64_t)r * Ev;
                        for (int64_t e = 0; e < Ev; e++) o[e] *= alpha;
                    }
                    m[r] = mn;
                }
                GEMM(mq, (int)Ev, nk, Sb, nk, vp + j0 * Ev, (int)Ev, O, (int)Ev);
            }
            for (int r = 0; r < mq; r++) {
                int64_t idx = (b * g->Hq + h) * L + i0 + r;
                REAL *o = O + (int64_t)r * Ev;
                if (l[r] != 0) { /* NaN propagates; only rows with no visible key are zeroed */
                    REAL inv = 1 / l[r];
                    for (int64_t e = 0; e < Ev; e++) o[e] *= inv;
                    lse[idx] = m[r] + (REAL)LOGF(l[r]);
                } else {
                    memset(o, 0, sizeof(REAL) * Ev);
                    lse[idx] = (REAL)-INFINITY;
                }
                if (y) memcpy(y + idx * Ev, o, sizeof(REAL) * Ev);
                REAL *dst = out + idx * Ev;
                if (g->gdim) {
                    GATE_APPLY(g->gate_act, g->gate_op, z + idx * g->gdim, g->gdim, o, dst, Ev);
                } else {
                    memcpy(dst, o, sizeof(REAL) * Ev);
                }
            }
        }
        free(buf);
    }
    free(kt);
    if (fail) return ml_fail(ML_ENOMEM, "attn: out of memory for per-thread blocks");
    return ML_OK;
}

/* Attention weights probs [B,Hq,L,S] = exp(score - lse), recomputed row by row (small problems). */
static void SFX(probs)(const attn_geom *g, const REAL *q, const REAL *k, const REAL *lse,
                       REAL *probs) {
    const int64_t E = g->E, L = g->L, S = g->S, rows = g->B * g->Hq * L;
#pragma omp parallel for schedule(static) if (attn_parallel(g))
    for (int64_t t = 0; t < rows; t++) {
        int64_t bh = t / L, i = t % L, b = bh / g->Hq, h = bh % g->Hq, hk = h / g->rep;
        const REAL *qr = q + t * E;
        const REAL *kp = k + (b * g->Hkv + hk) * S * E;
        REAL *pr = probs + t * S;
        int64_t lo, hi;
        attn_key_range(g, i, &lo, &hi);
        for (int64_t j = 0; j < S; j++) {
            if (j < lo || j >= hi || lse[t] == (REAL)-INFINITY) { pr[j] = 0; continue; }
            REAL s = 0;
            for (int64_t e = 0; e < E; e++) s += (qr[e] * (REAL)g->scale) * kp[j * E + e];
            if (g->mask) s += (REAL)attn_mask_add(g, b, h, i, j);
            pr[j] = (REAL)EXPF(s - lse[t]);
        }
    }
}
