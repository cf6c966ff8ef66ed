/* moonlab attn — backward kernel body, instantiated for float and double by backward.c.
 * Expects REAL, SFX(name), GEMM, GEMM_TN, EXPSUM, GATE_BWD. Not a public header. */

#include "mask_tmpl.h"

/* Per-thread scratch of the backward. */
typedef struct SFX(bwd_scratch) {
    REAL *buf, *Qs, *P, *dS, *dY, *dQa, *D, *Lr;
} SFX(bwd_scratch);

static int SFX(bwd_scratch_init)(SFX(bwd_scratch) *w, int64_t E, int64_t Ev) {
    const size_t BQ = ATTN_BQ, BK = ATTN_BK;
    size_t need = BQ * E + 2 * BQ * BK + BQ * Ev + BQ * E + 2 * BQ;
    w->buf = malloc(need * sizeof(REAL));
    if (!w->buf) return 0;
    w->Qs = w->buf; w->P = w->Qs + BQ * E; w->dS = w->P + BQ * BK;
    w->dY = w->dS + BQ * BK; w->dQa = w->dY + BQ * Ev; w->D = w->dQa + BQ * E; w->Lr = w->D + BQ;
    return 1;
}

/* K and V transposed once per call, per key block and zero-padded: pk[(b,hk)][kb] is E × BK and
 * pv[(b,hk)][kb] Ev × BK (ld BK). */
static void SFX(bwd_pack)(const attn_geom *g, const REAL *k, const REAL *v, REAL *pk, REAL *pv) {
    const int64_t E = g->E, Ev = g->Ev, S = g->S, nkb = (S + ATTN_BK - 1) / ATTN_BK;
#pragma omp parallel for schedule(static) if (attn_parallel(g))
    for (int64_t t = 0; t < g->B * g->Hkv * nkb; t++) {
        int64_t bh = t / nkb, j0 = (t % nkb) * ATTN_BK;
        int nk = (int)(S - j0 < ATTN_BK ? S - j0 : ATTN_BK);
        const REAL *kr = k + (bh * S + j0) * E, *vr = v + (bh * S + j0) * Ev;
        REAL *dk = pk + t * ATTN_BK * E, *dv = pv + t * ATTN_BK * Ev;
        for (int64_t e = 0; e < E; e++)
            for (int j = 0; j < ATTN_BK; j++) dk[e * ATTN_BK + j] = j < nk ? kr[j * E + e] : 0;
        for (int64_t e = 0; e < Ev; e++)
            for (int j = 0; j < ATTN_BK; j++) dv[e * ATTN_BK + j] = j < nk ? vr[j * Ev + e] : 0;
    }
}

/* Gradients from query block qb of head (b,h): writes its dq rows and dgate rows, and adds its
 * contributions to dK/dV of the KV head into dkp/dvp ([S,E] and [S,Ev]). */
static void SFX(bwd_block)(const attn_geom *g, SFX(bwd_scratch) *w, int64_t b, int64_t h,
                           int64_t qb, const REAL *dout, const REAL *q, const REAL *k,
                           const REAL *pk, const REAL *pv, const REAL *z, const REAL *y,
                           const REAL *lse, REAL *dq, REAL *dz, REAL *dkp, REAL *dvp) {
    const int64_t E = g->E, Ev = g->Ev, L = g->L, S = g->S, hk = h / g->rep;
    const int64_t nkb = (S + ATTN_BK - 1) / ATTN_BK;
    const REAL scale = (REAL)g->scale;
    REAL *Qs = w->Qs, *P = w->P, *dS = w->dS, *dY = w->dY, *dQa = w->dQa, *D = w->D, *Lr = w->Lr;
    const REAL *kp = k + (b * g->Hkv + hk) * S * E;
    const REAL *pkh = pk + (b * g->Hkv + hk) * nkb * ATTN_BK * E;
    const REAL *pvh = pv + (b * g->Hkv + hk) * nkb * ATTN_BK * Ev;
    int64_t i0 = qb * ATTN_BQ;
    int mq = (int)(L - i0 < ATTN_BQ ? L - i0 : ATTN_BQ);
    int64_t row0 = (b * g->Hq + h) * L + i0;
    const REAL *qp = q + row0 * E;
    for (int64_t x = 0; x < (int64_t)mq * E; x++) Qs[x] = qp[x] * scale;
    /* Gate backward: dY = dY' ⊙ g (mul), dg = dY' ⊙ Y, dZ = dg ⊙ act'(Z). */
    for (int r = 0; r < mq; r++) {
        int64_t idx = row0 + r;
        const REAL *dor = dout + idx * Ev, *yr = y + idx * Ev;
        REAL *dyr = dY + (int64_t)r * Ev;
        if (g->gdim > 1) {
            GATE_BWD(g->gate_act, g->gate_op, z + idx * Ev, dor, yr, dyr, dz + idx * Ev, Ev);
        } else if (g->gdim) {
            const REAL *zr = z + idx * g->gdim;
            double acc = 0, gv = attn_gate_fn(g->gate_act, zr[0]); /* headwise: one gate per row */
            for (int64_t e = 0; e < Ev; e++) {
                double dge;
                if (g->gate_op == ML_GATE_ADD) { dyr[e] = dor[e]; dge = dor[e]; }
                else { dyr[e] = (REAL)(dor[e] * gv); dge = (double)dor[e] * yr[e]; }
                acc += dge;
            }
            dz[idx] = (REAL)(acc * attn_gate_dfn(g->gate_act, zr[0]));
        } else {
            memcpy(dyr, dor, sizeof(REAL) * Ev);
        }
        REAL d = 0;
        for (int64_t e = 0; e < Ev; e++) d += dyr[e] * yr[e];
        D[r] = d;
        Lr[r] = lse[idx];
    }
    memset(dQa, 0, sizeof(REAL) * (size_t)mq * E);
    int64_t lo0, hi0, lo1, hi1;
    attn_key_range(g, i0, &lo0, &hi0);
    attn_key_range(g, i0 + mq - 1, &lo1, &hi1);
    /* Key blocks aligned to ATTN_BK (whole vectors in the block products); keys outside a row's
     * range are masked. */
    for (int64_t j0 = lo0 / ATTN_BK * ATTN_BK; j0 < hi1; j0 += ATTN_BK) {
        int nk = (int)(S - j0 < ATTN_BK ? S - j0 : ATTN_BK);
        const REAL *Kt = pkh + j0 * E, *Vt = pvh + j0 * Ev; /* block j0 / BK, E × BK */
        memset(P, 0, sizeof(REAL) * (size_t)mq * nk);
        GEMM(mq, nk, (int)E, Qs, (int)E, Kt, ATTN_BK, P, nk);
        if (g->mask || j0 < lo1 || j0 + nk > hi0) SFX(apply_mask)(g, b, h, i0, mq, j0, nk, P);
        for (int r = 0; r < mq; r++) {
            REAL *pr = P + (int64_t)r * nk;
            if (Lr[r] == (REAL)-INFINITY) memset(pr, 0, sizeof(REAL) * nk);
            else EXPSUM(pr, nk, Lr[r]);
        }
        memset(dS, 0, sizeof(REAL) * (size_t)mq * nk);
        GEMM(mq, nk, (int)Ev, dY, (int)Ev, Vt, ATTN_BK, dS, nk); /* dP = dY Vᵀ */
        for (int r = 0; r < mq; r++) {
            const REAL *pr = P + (int64_t)r * nk;
            REAL *sr = dS + (int64_t)r * nk, d = D[r];
            for (int j = 0; j < nk; j++) sr[j] = pr[j] * (sr[j] - d);
        }
        GEMM_TN(nk, (int)Ev, mq, P, nk, dY, (int)Ev, dvp + j0 * Ev, (int)Ev); /* dV += Pᵀ dY */
        GEMM_TN(nk, (int)E, mq, dS, nk, Qs, (int)E, dkp + j0 * E, (int)E);  /* dK += dSᵀ Qs */
        GEMM(mq, (int)E, nk, dS, nk, kp + j0 * E, (int)E, dQa, (int)E);  /* dQ += dS K */
    }
    REAL *dqp = dq + row0 * E;
    for (int64_t x = 0; x < (int64_t)mq * E; x++) dqp[x] = dQa[x] * scale;
}

/* Two schedules. With at least as many (batch, KV head) pairs as threads, one task per pair: the
 * thread owns that head's dK/dV, so no reductions. Otherwise (e.g. B = 1 with one KV head) the
 * query blocks of all heads are shared out, each thread accumulating dK/dV into a private copy
 * (B·Hkv·S·(E+Ev) values, fewer pairs than threads) that is summed at the end. */
static int SFX(backward_packed)(const attn_geom *g, const REAL *dout, const REAL *q,
                                const REAL *k, const REAL *pk, const REAL *pv, const REAL *z,
                                const REAL *y, const REAL *lse, REAL *dq, REAL *dk, REAL *dv,
                                REAL *dz) {
    const int64_t E = g->E, Ev = g->Ev, S = g->S;
    const int64_t nqb = (g->L + ATTN_BQ - 1) / ATTN_BQ;
    const int64_t npair = g->B * g->Hkv;
    const int64_t nk_el = npair * S * E, nv_el = npair * S * Ev;
    int nthr = omp_get_max_threads();
    int fail = 0;
    if (npair >= nthr || nthr == 1 || !attn_parallel(g)) {
#pragma omp parallel if (attn_parallel(g))
        {
            SFX(bwd_scratch) w;
            int ok = SFX(bwd_scratch_init)(&w, E, Ev);
            if (!ok) {
#pragma omp atomic write
                fail = 1;
            }
#pragma omp for schedule(dynamic, 1)
            for (int64_t t = 0; t < npair; t++) {
                if (!ok) continue;
                int64_t b = t / g->Hkv, hk = t % g->Hkv;
                REAL *dkp = dk + t * S * E, *dvp = dv + t * S * Ev;
                memset(dkp, 0, sizeof(REAL) * (size_t)(S * E));
                memset(dvp, 0, sizeof(REAL) * (size_t)(S * Ev));
                for (int64_t h = hk * g->rep; h < (hk + 1) * g->rep; h++)
                    for (int64_t qb = 0; qb < nqb; qb++)
                        SFX(bwd_block)(g, &w, b, h, qb, dout, q, k, pk, pv, z, y, lse, dq, dz, dkp, dvp);
            }
            free(w.buf);
        }
        if (fail) return ml_fail(ML_ENOMEM, "attn: out of memory for per-thread blocks");
        return ML_OK;
    }
    REAL **acc = calloc((size_t)nthr, sizeof(REAL *));
    if (!acc) return ml_fail(ML_ENOMEM, "attn: out of memory");
    const int64_t nunit = g->B * g->Hq * nqb;
#pragma omp parallel num_threads(nthr) if (attn_parallel(g))
    {
        int tid = omp_get_thread_num();
        SFX(bwd_scratch) w;
        int ok = SFX(bwd_scratch_init)(&w, E, Ev);
        REAL *mine = ok ? calloc((size_t)(nk_el + nv_el), sizeof(REAL)) : NULL;
        acc[tid] = mine;
        if (!mine) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t u = 0; u < nunit; u++) {
            if (!mine) continue;
            int64_t bh = u / nqb, qb = nqb - 1 - u % nqb, b = bh / g->Hq, h = bh % g->Hq;
            int64_t pair = b * g->Hkv + h / g->rep;
            SFX(bwd_block)(g, &w, b, h, qb, dout, q, k, pk, pv, z, y, lse, dq, dz,
                           mine + pair * S * E, mine + nk_el + pair * S * Ev);
        }
        free(w.buf);
    }
    if (!fail) {
        int nt = nthr;
#pragma omp parallel for schedule(static) if (attn_parallel(g))
        for (int64_t i = 0; i < nk_el + nv_el; i++) {
            REAL s = 0;
            for (int t = 0; t < nt; t++)
                if (acc[t]) s += acc[t][i];
            if (i < nk_el) dk[i] = s; else dv[i - nk_el] = s;
        }
    }
    for (int t = 0; t < nthr; t++) free(acc[t]);
    free(acc);
    if (fail) return ml_fail(ML_ENOMEM, "attn: out of memory for the per-thread dK/dV");
    return ML_OK;
}

static int SFX(backward)(const attn_geom *g, const REAL *dout, const REAL *q, const REAL *k,
                         const REAL *v, const REAL *z, const REAL *y, const REAL *lse, REAL *dq,
                         REAL *dk, REAL *dv, REAL *dz) {
    const int64_t nkb = (g->S + ATTN_BK - 1) / ATTN_BK, nblk = g->B * g->Hkv * nkb;
    REAL *pk = malloc(sizeof(REAL) * (size_t)(nblk * ATTN_BK * g->E));
    REAL *pv = malloc(sizeof(REAL) * (size_t)(nblk * ATTN_BK * g->Ev));
    int rc;
    if (!pk || !pv) rc = ml_fail(ML_ENOMEM, "attn: out of memory for the packed keys and values");
    else {
        SFX(bwd_pack)(g, k, v, pk, pv);
        rc = SFX(backward_packed)(g, dout, q, k, pk, pv, z, y, lse, dq, dk, dv, dz);
    }
    free(pk);
    free(pv);
    return rc;
}
