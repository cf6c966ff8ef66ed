/* moonlab attn — f32 forward kernel body, written once over a vector type of FVL floats and
 * instantiated for AVX2+FMA (fwd_avx2.c, 8 lanes) and AVX-512F (fwd_avx512.c, 16 lanes); forward.c
 * picks one with ml_cpu_isa(). Not a public header.
 *
 * Same online-softmax recurrence as fwd_tmpl.h, restructured for the register file and the 32 KiB L1
 * of a Zen3/Haswell core: for each query block (ATTN_FWD_BQ rows) the key blocks (ATTN_FWD_BK keys,
 * K packed transposed and zero-padded) are the outer loop, and strips of 6 query rows the inner one.
 * Per strip the 6×(2·FVL) score tiles (12 accumulators) go to a 6×BK buffer in L1, the row max, the
 * rescale factors and exp run on that buffer, and the 6×(2·FVL) tiles of O = α·O + P·V fuse the rescale
 * into the accumulator load. Key tiles outside every row of a strip are skipped, so causal diagonal
 * blocks cost little more than their visible part.
 * Expects: FV (vector), FVL (lanes), FTGT (attributes), FSFX(name), FMASK and F_MASK_N(n) (first n
 * lanes), F_LOAD/F_STORE (aligned), F_LOADU/F_STOREU, F_BCAST(p), F_SET1, F_ZERO, F_FMA, F_MUL, F_ADD,
 * F_SUB, F_MAX, F_MASKLOAD(p, m), F_MAXNAN(a, b) (max, NaN if either is), F_NINF_TO_ZERO(v), F_EXP2N(t)
 * (2^t for t <= 1/2, 0 below -126.5, NaN propagates), F_HSUM(v), F_HMAX(v). */

#ifndef ATTN_FWD_BQ
#define ATTN_FWD_BQ 64 /* query rows per task */
#endif
#ifndef ATTN_FWD_BK
#define ATTN_FWD_BK 32 /* keys per block (multiple of 2·FVL) */
#endif
#define FR 6 /* query rows per register strip */

#if ATTN_FWD_BK % (2 * FVL) != 0
#error "ATTN_FWD_BK must be a multiple of two vectors"
#endif

/* Scores of R query rows (qs, ld ldq, already scaled) against TW = 2·FVL packed keys kt (E rows,
 * ld BK): sb[r][0..TW) (ld BK). */
FTGT static inline __attribute__((always_inline)) void FSFX(qk_tile)(const int R, int E,
                                                                     const float *qs, int ldq,
                                                                     const float *kt, float *sb) {
    FV a0[FR], a1[FR];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) a0[r] = a1[r] = F_ZERO();
    for (int e = 0; e < E; e++) {
        FV b0 = F_LOAD(kt + e * ATTN_FWD_BK), b1 = F_LOAD(kt + e * ATTN_FWD_BK + FVL);
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            FV a = F_BCAST(qs + r * ldq + e);
            a0[r] = F_FMA(a, b0, a0[r]);
            a1[r] = F_FMA(a, b1, a1[r]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        F_STORE(sb + r * ATTN_FWD_BK, a0[r]);
        F_STORE(sb + r * ATTN_FWD_BK + FVL, a1[r]);
    }
}

/* o[r][0..W·FVL) = α_r·o[r] + Σ_{k0<=kk<k1} p[r][kk]·v[kk][0..W·FVL) for R rows (o ld ldo, p ld BK,
 * v ld ldv). W = 2 or 1; with W = 1 the last lanes masked by msk when masked. */
FTGT static inline __attribute__((always_inline)) void FSFX(pv_tile)(const int R, const int W, const int masked, FMASK msk, const float *p,
                             int k0, int k1, const float *v, int ldv, float *o, int ldo,
                             const float *alpha, int rescale) {
    FV a0[FR], a1[FR];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        a0[r] = F_LOAD(o + r * ldo);
        a1[r] = W == 2 ? F_LOAD(o + r * ldo + FVL) : F_ZERO();
        if (rescale) {
            FV al = F_BCAST(alpha + r);
            a0[r] = F_MUL(a0[r], al);
            if (W == 2) a1[r] = F_MUL(a1[r], al);
        }
    }
    for (int kk = k0; kk < k1; kk++) {
        const float *vr = v + (int64_t)kk * ldv;
        FV b0 = masked ? F_MASKLOAD(vr, msk) : F_LOADU(vr);
        FV b1 = W == 2 ? F_LOADU(vr + FVL) : F_ZERO();
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            FV a = F_BCAST(p + r * ATTN_FWD_BK + kk);
            a0[r] = F_FMA(a, b0, a0[r]);
            if (W == 2) a1[r] = F_FMA(a, b1, a1[r]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        F_STORE(o + r * ldo, a0[r]);
        if (W == 2) F_STORE(o + r * ldo + FVL, a1[r]);
    }
}


FTGT static void FSFX(qk_strip)(int R, int E, const float *qs, int ldq, const float *kt, float *sb, int t0,
                          int t1) {
    for (int c = t0; c < t1; c += 2 * FVL) {
#define QK(RR) FSFX(qk_tile)(RR, E, qs, ldq, kt + c, sb + c)
        ATTN_RCASES(QK)
#undef QK
    }
}

FTGT static void FSFX(pv_strip)(int R, int Ev, const float *p, int k0, int k1, const float *v, float *o,
                          int ldo, const float *alpha, int rescale) {
    int c = 0;
    const FMASK none = F_MASK_N(0);
    for (; c + 2 * FVL <= Ev; c += 2 * FVL) {
#define PV(RR) FSFX(pv_tile)(RR, 2, 0, none, p, k0, k1, v + c, Ev, o + c, ldo, alpha, rescale)
        ATTN_RCASES(PV)
#undef PV
    }
    if (c + FVL <= Ev) {
#define PV(RR) FSFX(pv_tile)(RR, 1, 0, none, p, k0, k1, v + c, Ev, o + c, ldo, alpha, rescale)
        ATTN_RCASES(PV)
#undef PV
        c += FVL;
    }
    if (c < Ev) {
        const FMASK msk = F_MASK_N(Ev - c);
#define PV(RR) FSFX(pv_tile)(RR, 1, 1, msk, p, k0, k1, v + c, Ev, o + c, ldo, alpha, rescale)
        ATTN_RCASES(PV)
#undef PV
    }
}

/* Per-thread state of one query block. */
typedef struct FSFX(fwd_ws) {
    float *Qs, *O, *lv, *M, *sb; /* M: running row max in log2 units (ATTN_FWD_BQ + FVL) */
} FSFX(fwd_ws);

/* One query block: rows i0..i0+mq-1 of head (b, h). */
FTGT static void FSFX(fwd_block)(const attn_geom *g, FSFX(fwd_ws) *w, const float *q, const float *kt,
                           const float *v, const float *z, float *out, float *lse, float *y,
                           int64_t b, int64_t h, int64_t i0, int mq, int64_t Evp) {
    const int64_t E = g->E, Ev = g->Ev, L = g->L, S = g->S, hk = h / g->rep;
    const int64_t nkb = (S + ATTN_FWD_BK - 1) / ATTN_FWD_BK;
    const float scale = (float)g->scale;
    float *Qs = w->Qs, *O = w->O, *lv = w->lv, *M = w->M, *sb = w->sb;
    const float *qp = q + ((b * g->Hq + h) * L + i0) * E;
    for (int64_t x = 0; x < (int64_t)mq * E; x++) Qs[x] = qp[x] * scale;
    memset(O, 0, sizeof(float) * (size_t)(mq * Evp));
    for (int r = 0; r < mq; r++) F_STORE(lv + FVL * r, F_ZERO());
    for (int r = 0; r < ATTN_FWD_BQ + FVL; r++) M[r] = -INFINITY;
    int64_t js, je, dummy;
    attn_key_range(g, i0, &js, &dummy);
    attn_key_range(g, i0 + mq - 1, &dummy, &je);
    const float *ktp = kt + (b * g->Hkv + hk) * nkb * ATTN_FWD_BK * E;
    const float *vp = v + (b * g->Hkv + hk) * S * Ev;
    for (int64_t kb = js / ATTN_FWD_BK; kb * ATTN_FWD_BK < je; kb++) {
        const int64_t j0 = kb * ATTN_FWD_BK;
        const int nvalid = (int)(S - j0 < ATTN_FWD_BK ? S - j0 : ATTN_FWD_BK);
        const float *Kb = ktp + kb * ATTN_FWD_BK * E;
        const float *Vb = vp + j0 * Ev;
        /* Prefetch the next key block's packed K and V rows, spread over the strips. */
        const int64_t kb_next = kb + 1 < nkb && (kb + 1) * ATTN_FWD_BK < je ? kb + 1 : -1;
        const char *pk = kb_next >= 0 ? (const char *)(Kb + ATTN_FWD_BK * E) : NULL;
        const char *pv = kb_next >= 0 ? (const char *)(Vb + ATTN_FWD_BK * Ev) : NULL;
        const int64_t kbytes = ATTN_FWD_BK * E * 4;
        const int64_t vbytes = (int64_t)(S - (j0 + ATTN_FWD_BK) < ATTN_FWD_BK ? S - (j0 + ATTN_FWD_BK) : ATTN_FWD_BK) * Ev * 4;
        const int nstrip = (mq + FR - 1) / FR;
        const int64_t kstep = (kbytes / nstrip + 63) / 64 * 64, vstep = (vbytes / nstrip + 63) / 64 * 64;
        for (int r0 = 0; r0 < mq; r0 += FR) {
            const int R = mq - r0 < FR ? mq - r0 : FR;
            if (pk) {
                const int64_t si = r0 / FR;
                for (int64_t x = si * kstep; x < (si + 1) * kstep && x < kbytes; x += 64)
                    _mm_prefetch(pk + x, _MM_HINT_T0);
                for (int64_t x = si * vstep; x < (si + 1) * vstep && x < vbytes; x += 64)
                    _mm_prefetch(pv + x, _MM_HINT_T0);
            }
            int64_t lo, hi, lo_all, hi_all;
            attn_key_range(g, i0 + r0, &lo, &hi_all);
            attn_key_range(g, i0 + r0 + R - 1, &lo_all, &hi);
            int64_t cs64 = (lo > j0 ? lo : j0) - j0, ce64 = (hi < j0 + nvalid ? hi : j0 + nvalid) - j0;
            if (ce64 <= cs64) continue; /* no visible key of this block for the strip */
            const int cs = (int)cs64, ce = (int)ce64;
            const int t0 = cs / (2 * FVL) * (2 * FVL), t1 = (ce + 2 * FVL - 1) / (2 * FVL) * (2 * FVL);
            FSFX(qk_strip)(R, (int)E, Qs + r0 * E, (int)E, Kb, sb, t0, t1);
            if (g->mask || j0 + t0 < lo_all || j0 + t1 > hi_all) {
                for (int r = 0; r < R; r++) {
                    int64_t rl, rh;
                    attn_key_range(g, i0 + r0 + r, &rl, &rh);
                    float *row = sb + r * ATTN_FWD_BK;
                    for (int c = t0; c < t1; c++) {
                        int64_t jj = j0 + c;
                        if (jj < rl || jj >= rh) row[c] = -INFINITY;
                        else if (g->mask) row[c] += (float)attn_mask_add(g, b, h, i0 + r0 + r, jj);
                    }
                }
            }
            /* Online softmax in log2 units: M_new = max(M, c·row max), α = 2^(M - M_new),
             * P = 2^(c·s - M_new) with c = log2(e); M is a float shift shared by α and P, so its
             * rounding cancels in the normalisation. */
            float cands[FVL] __attribute__((aligned(64)));
            for (int r = 0; r < FVL; r++) cands[r] = -INFINITY;
            for (int r = 0; r < R; r++) {
                const float *row = sb + r * ATTN_FWD_BK;
                FV mx = F_LOAD(row + t0);
                for (int c = t0 + FVL; c < t1; c += FVL) mx = F_MAX(mx, F_LOAD(row + c));
                cands[r] = F_HMAX(mx);
            }
            const FV c2 = F_SET1(1.44269504088896341f);
            FV Mold = F_LOADU(M + r0), cand = F_MUL(F_LOAD(cands), c2);
            FV Mnew = F_MAXNAN(Mold, cand);
            FV Mu = F_NINF_TO_ZERO(Mnew); /* -inf: use 0 */
            float mu[FVL], al[FVL];
            F_STOREU(M + r0, Mnew); /* lanes >= R keep their value (max with -inf) */
            F_STOREU(mu, Mu);
            F_STOREU(al, F_EXP2N(F_SUB(Mold, Mu)));
            int rescale = 0;
            for (int r = 0; r < R; r++) {
                float *row = sb + r * ATTN_FWD_BK;
                const FV nm = F_SET1(-mu[r]);
                FV s = F_ZERO();
                for (int c = t0; c < t1; c += FVL) {
                    FV e = F_EXP2N(F_FMA(F_LOAD(row + c), c2, nm));
                    F_STORE(row + c, e);
                    s = F_ADD(s, e);
                }
                FV l = F_LOAD(lv + FVL * (r0 + r));
                F_STORE(lv + FVL * (r0 + r), F_FMA(l, F_SET1(al[r]), s));
                rescale |= al[r] != 1.0f;
            }
            FSFX(pv_strip)(R, (int)Ev, sb, cs, ce, Vb, O + r0 * Evp, (int)Evp, al, rescale);
        }
    }
    for (int r = 0; r < mq; r++) {
        int64_t idx = (b * g->Hq + h) * L + i0 + r;
        float *o = O + r * Evp;
        float l = F_HSUM(F_LOAD(lv + FVL * r));
        if (l != 0) { /* NaN propagates; only rows with no visible key are zeroed */
            float inv = 1 / l;
            for (int64_t e = 0; e < Ev; e++) o[e] *= inv;
            lse[idx] = (float)(((double)M[r] + log2((double)l)) * 0.69314718055994531);
        } else {
            memset(o, 0, sizeof(float) * Ev);
            lse[idx] = -INFINITY;
        }
        if (y) memcpy(y + idx * Ev, o, sizeof(float) * Ev);
        float *dst = out + idx * Ev;
        if (g->gdim) attn_gate_apply_f32(g->gate_act, g->gate_op, z + idx * g->gdim, g->gdim, o, dst, Ev);
        else memcpy(dst, o, sizeof(float) * Ev);
    }
}

static void *FSFX(alloc64)(size_t nfloat) {
    size_t bytes = (nfloat * sizeof(float) + 63) / 64 * 64;
    return aligned_alloc(64, bytes ? bytes : 64);
}

int FSFX(attn_forward_f32)(const attn_geom *g, const float *q, const float *k, const float *v,
                          const float *z, float *out, float *lse, float *y) {
    const int64_t E = g->E, Ev = g->Ev, L = g->L, S = g->S;
    const int64_t Evp = (Ev + FVL - 1) / FVL * FVL;
    const int64_t nkb = (S + ATTN_FWD_BK - 1) / ATTN_FWD_BK;
    const int64_t nqb = (L + ATTN_FWD_BQ - 1) / ATTN_FWD_BQ, nbh = g->B * g->Hq;
    int fail = 0;
    /* K packed transposed per key block, zero-padded: kt[(b,hk)][kb] is E × BK (ld BK). */
    float *kt = FSFX(alloc64)((size_t)(g->B * g->Hkv * nkb * ATTN_FWD_BK * E));
    if (!kt) return ml_fail(ML_ENOMEM, "attn: out of memory for the packed keys");
#pragma omp parallel for schedule(static) if (attn_parallel(g))
    for (int64_t t = 0; t < g->B * g->Hkv * nkb; t++) {
        int64_t bh = t / nkb, j0 = (t % nkb) * ATTN_FWD_BK;
        int nk = (int)(S - j0 < ATTN_FWD_BK ? S - j0 : ATTN_FWD_BK);
        const float *kr = k + (bh * S + j0) * E;
        float *dst = kt + t * ATTN_FWD_BK * E;
        for (int64_t e = 0; e < E; e++) {
            for (int j = 0; j < nk; j++) dst[e * ATTN_FWD_BK + j] = kr[j * E + e];
            for (int j = nk; j < ATTN_FWD_BK; j++) dst[e * ATTN_FWD_BK + j] = 0;
        }
    }
#pragma omp parallel if (attn_parallel(g))
    {
        FSFX(fwd_ws) w;
        w.Qs = FSFX(alloc64)((size_t)(ATTN_FWD_BQ * E));
        w.O = FSFX(alloc64)((size_t)(ATTN_FWD_BQ * Evp));
        w.lv = FSFX(alloc64)((size_t)ATTN_FWD_BQ * FVL);
        w.M = FSFX(alloc64)(ATTN_FWD_BQ + FVL);
        w.sb = FSFX(alloc64)((size_t)FR * ATTN_FWD_BK);
        int ok = w.Qs && w.O && w.lv && w.M && w.sb;
        if (!ok) {
#pragma omp atomic write
            fail = 1;
        }
        /* Largest causal blocks (last query blocks) of every head first. */
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < nbh * nqb; t++) {
            if (!ok) continue;
            int64_t qb = nqb - 1 - t / nbh, bh = t % nbh;
            int64_t i0 = qb * ATTN_FWD_BQ;
            int mq = (int)(L - i0 < ATTN_FWD_BQ ? L - i0 : ATTN_FWD_BQ);
            FSFX(fwd_block)(g, &w, q, kt, v, z, out, lse, y, bh / g->Hq, bh % g->Hq, i0, mq, Evp);
        }
        free(w.Qs); free(w.O); free(w.lv); free(w.M); free(w.sb);
    }
    free(kt);
    if (fail) return ml_fail(ML_ENOMEM, "attn: out of memory for per-thread blocks");
    return ML_OK;
}


#undef FR
