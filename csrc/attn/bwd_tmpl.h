/* moonlab attn — backward kernel body, instantiated for float and double by backward.c.
 * Expects REAL, SFX(name), GEMM, EXPSUM. Not a public header. */

#include "mask_tmpl.h"

/* Per-thread scratch of the backward. */
typedef struct SFX(bwd_scratch) {
    REAL *buf, *Qs, *Kt, *Vt, *P, *dS, *Pt, *dSt, *dY, *dQa, *D, *Lr;
} SFX(bwd_scratch);

static int SFX(bwd_scratch_init)(SFX(bwd_scratch) *w, int64_t E, int64_t Ev) {
    const size_t BQ = ATTN_BQ, BK = ATTN_BK;
    size_t need = BQ * E + E * BK + Ev * BK + 2 * BQ * BK + 2 * BK * BQ + BQ * Ev + BQ * E + 2 * BQ;
    w->buf = malloc(need * sizeof(REAL));
    if (!w->buf) return 0;
    w->Qs = w->buf; w->Kt = w->Qs + BQ * E; w->Vt = w->Kt + E * BK; w->P = w->Vt + Ev * BK;
    w->dS = w->P + BQ * BK; w->Pt = w->dS + BQ * BK; w->dSt = w->Pt + BK * BQ;
    w->dY = w->dSt + BK * BQ; w->dQa = w->dY + BQ * Ev; w->D = w->dQa + BQ * E; w->Lr = w->D + BQ;
    return 1;
}

/* Gradients from query block qb of head (b,h): writes its dq rows and dgate rows, and adds its
 * contributions to dK/dV of the KV head into dkp/dvp ([S,E] and [S,Ev]). */
static void SFX(bwd_block)(const attn_geom *g, SFX(bwd_scratch) *w, int64_t b, int64_t h,
                           int64_t qb, const REAL *dout, const REAL *q, const REAL *k,
                           const REAL *v, const REAL *z, const REAL *y, const REAL *lse, REAL *dq,
                           REAL *dz, REAL *dkp, REAL *dvp) {
    const int64_t E = g->E, Ev = g->Ev, L = g->L, S = g->S, hk = h / g->rep;
    const REAL scale = (REAL)g->scale;
    REAL *Qs = w->Qs, *Kt = w->Kt, *Vt = w->Vt, *P = w->P, *dS = w->dS, *Pt = w->Pt, *dSt = w->dSt,
         *dY = w->dY, *dQa = w->dQa, *D = w->D, *Lr = w->Lr;
    const REAL *kp = k + (b * g->Hkv + hk) * S * E;
    const REAL *vp = v + (b * g->Hkv + hk) * S * Ev;
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
        if (g->gdim) {
            const REAL *zr = z + idx * g->gdim;
            double acc = 0;
            double gv = attn_gate_fn(g->gate_act, zr[0]);
            for (int64_t e = 0; e < Ev; e++) {
                double ze = g->gdim > 1 ? zr[e] : zr[0];
                if (g->gdim > 1) gv = attn_gate_fn(g->gate_act, ze);
                double dge;
                if (g->gate_op == ML_GATE_ADD) { dyr[e] = dor[e]; dge = dor[e]; }
                else { dyr[e] = (REAL)(dor[e] * gv); dge = (double)dor[e] * yr[e]; }
                if (g->gdim > 1) dz[idx * Ev + e] = (REAL)(dge * attn_gate_dfn(g->gate_act, ze));
                else acc += dge;
            }
            if (g->gdim == 1) dz[idx] = (REAL)(acc * attn_gate_dfn(g->gate_act, zr[0]));
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
    for (int64_t j0 = lo0; j0 < hi1; j0 += ATTN_BK) {
        int nk = (int)(hi1 - j0 < ATTN_BK ? hi1 - j0 : ATTN_BK);
        for (int j = 0; j < nk; j++) {
            const REAL *kr = kp + (j0 + j) * E, *vr = vp + (j0 + j) * Ev;
            for (int64_t e = 0; e < E; e++) Kt[e * nk + j] = kr[e];
            for (int64_t e = 0; e < Ev; e++) Vt[e * nk + j] = vr[e];
        }
        memset(P, 0, sizeof(REAL) * (size_t)mq * nk);
        GEMM(mq, nk, (int)E, Qs, (int)E, Kt, nk, P, nk);
        if (g->mask || j0 < lo1 || j0 + nk > hi0) SFX(apply_mask)(g, b, h, i0, mq, j0, nk, P);
        for (int r = 0; r < mq; r++) {
            REAL *pr = P + (int64_t)r * nk;
            if (Lr[r] == (REAL)-INFINITY) memset(pr, 0, sizeof(REAL) * nk);
            else EXPSUM(pr, nk, Lr[r]);
        }
        memset(dS, 0, sizeof(REAL) * (size_t)mq * nk);
        GEMM(mq, nk, (int)Ev, dY, (int)Ev, Vt, nk, dS, nk); /* dP = dY Vᵀ */
        for (int r = 0; r < mq; r++) {
            REAL *pr = P + (int64_t)r * nk, *sr = dS + (int64_t)r * nk;
            for (int j = 0; j < nk; j++) {
                sr[j] = pr[j] * (sr[j] - D[r]);
                Pt[(int64_t)j * mq + r] = pr[j];
                dSt[(int64_t)j * mq + r] = sr[j];
            }
        }
        GEMM(nk, (int)Ev, mq, Pt, mq, dY, (int)Ev, dvp + j0 * Ev, (int)Ev); /* dV += Pᵀ dY */
        GEMM(nk, (int)E, mq, dSt, mq, Qs, (int)E, dkp + j0 * E, (int)E);  /* dK += dSᵀ Qs */
        GEMM(mq, (int)E, nk, dS, nk, kp + j0 * E, (int)E, dQa, (int)E);  /* dQ += dS K */
    }
    REAL *dqp = dq + row0 * E;
    for (int64_t x = 0; x < (int64_t)mq * E; x++) dqp[x] = dQa[x] * scale;
}

/* Two schedules. With at least as many (batch, KV head) pairs as threads, one task per pair: the
 * thread owns that head's dK/dV, so no reductions. Otherwise (e.g. B = 1 with one KV head) the
 * query blocks of all heads are shared out, each thread accumulating dK/dV into a private copy
 * (B·Hkv·S·(E+Ev) values, fewer pairs than threads) that is summed at the end. */
static int SFX(backward)(const attn_geom *g, const REAL *dout, const REAL *q, const REAL *k,
                         const REAL *v, const REAL *z, const REAL *y, const REAL *lse, REAL *dq,
                         REAL *dk, REAL *dv, REAL *dz) {
    const int64_t E = g->E, Ev = g->Ev, S = g->S;
    const int64_t nqb = (g->L + ATTN_BQ - 1) / ATTN_BQ;
    const int64_t npair = g->B * g->Hkv;
    const int64_t nk_el = npair * S * E, nv_el = npair * S * Ev;
    int nthr = omp_get_max_threads();
    int fail = 0;
    if (npair >= nthr || nthr == 1) {
#pragma omp parallel
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
                        SFX(bwd_block)(g, &w, b, h, qb, dout, q, k, v, z, y, lse, dq, dz, dkp, dvp);
            }
            free(w.buf);
        }
        if (fail) return ml_fail(ML_ENOMEM, "attn: out of memory for per-thread blocks");
        return ML_OK;
    }
    REAL **acc = calloc((size_t)nthr, sizeof(REAL *));
    if (!acc) return ml_fail(ML_ENOMEM, "attn: out of memory");
    const int64_t nunit = g->B * g->Hq * nqb;
#pragma omp parallel num_threads(nthr)
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
            SFX(bwd_block)(g, &w, b, h, qb, dout, q, k, v, z, y, lse, dq, dz,
                           mine + pair * S * E, mine + nk_el + pair * S * Ev);
        }
        free(w.buf);
    }
    if (!fail) {
        int nt = nthr;
#pragma omp parallel for schedule(static)
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
