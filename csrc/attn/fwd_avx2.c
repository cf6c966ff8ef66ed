/* moonlab attn — f32 forward for AVX2+FMA (chosen at run time by forward.c).
 *
 * Same online-softmax recurrence as fwd_tmpl.h, restructured for the register file and the 32 KiB L1
 * of a Zen3/Haswell core: for each query block (ATTN_FWD_BQ rows) the key blocks (ATTN_FWD_BK keys,
 * K packed transposed and zero-padded) are the outer loop, and strips of 6 query rows the inner one.
 * Per strip the 6×16 score tiles (12 accumulators) go to a 6×BK buffer in L1, the row max, the
 * rescale factors and exp run on that buffer, and the 6×16 tiles of O = α·O + P·V fuse the rescale
 * into the accumulator load. Key tiles outside every row of a strip are skipped, so causal diagonal
 * blocks cost little more than their visible part. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "attn_internal.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>

#ifndef ATTN_FWD_BQ
#define ATTN_FWD_BQ 64 /* query rows per task */
#endif
#ifndef ATTN_FWD_BK
#define ATTN_FWD_BK 32 /* keys per block (multiple of 16) */
#endif
#define FR 6 /* query rows per register strip */

#if ATTN_FWD_BK % 16 != 0
#error "ATTN_FWD_BK must be a multiple of 16"
#endif

#define AVX2 __attribute__((target("avx2,fma")))
#define INL inline __attribute__((always_inline))

/* 2^t for 8 floats with t <= 1/2 (or NaN, which propagates): 2^n·2^f, f in [-1/2, 1/2], degree-5
 * minimax polynomial (relative error 2.4e-7 in fp32 evaluation). t below -126.5 (including -inf)
 * gives exactly 0: n = -127 yields the scale bits 0. */
AVX2 static INL __m256 exp2n(__m256 t) {
    const __m256 magic = _mm256_set1_ps(12582912.0f + 127.0f); /* 1.5·2^23 + bias */
    t = _mm256_max_ps(_mm256_set1_ps(-127.0f), t);             /* max(lo, NaN) = NaN */
    __m256 r = _mm256_add_ps(t, magic);                         /* low mantissa bits: round(t) + 127 */
    __m256 f = _mm256_sub_ps(t, _mm256_sub_ps(r, magic));
    __m256 p = _mm256_set1_ps(1.327647129073739e-3f);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.675540961325169e-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.550713092088699e-2f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4022120237350464e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.931469440460205e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0000001192092896f));
    __m256 sc = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(r), 23));
    return _mm256_mul_ps(p, sc);
}

/* Lane r of the result = max over the 8 lanes of v[r] (a transposing reduction; NaN may or may not
 * survive, the exp pass propagates it anyway). */
AVX2 static INL __m256 rowmax8(const __m256 *v) {
    __m256 m01 = _mm256_max_ps(_mm256_unpacklo_ps(v[0], v[1]), _mm256_unpackhi_ps(v[0], v[1]));
    __m256 m23 = _mm256_max_ps(_mm256_unpacklo_ps(v[2], v[3]), _mm256_unpackhi_ps(v[2], v[3]));
    __m256 m45 = _mm256_max_ps(_mm256_unpacklo_ps(v[4], v[5]), _mm256_unpackhi_ps(v[4], v[5]));
    __m256 m67 = _mm256_max_ps(_mm256_unpacklo_ps(v[6], v[7]), _mm256_unpackhi_ps(v[6], v[7]));
    __m256 a = _mm256_max_ps(_mm256_shuffle_ps(m01, m23, 0x44), _mm256_shuffle_ps(m01, m23, 0xEE));
    __m256 b = _mm256_max_ps(_mm256_shuffle_ps(m45, m67, 0x44), _mm256_shuffle_ps(m45, m67, 0xEE));
    return _mm256_max_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
}

AVX2 static INL float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Scores of R query rows (qs, ld ldq, already scaled) against 16 packed keys kt (E rows, ld BK):
 * sb[r][0..16) (ld BK). */
AVX2 static INL void qk_tile(const int R, int E, const float *qs, int ldq, const float *kt,
                             float *sb) {
    __m256 a0[FR], a1[FR];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) a0[r] = a1[r] = _mm256_setzero_ps();
    for (int e = 0; e < E; e++) {
        __m256 b0 = _mm256_load_ps(kt + e * ATTN_FWD_BK), b1 = _mm256_load_ps(kt + e * ATTN_FWD_BK + 8);
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            __m256 a = _mm256_broadcast_ss(qs + r * ldq + e);
            a0[r] = _mm256_fmadd_ps(a, b0, a0[r]);
            a1[r] = _mm256_fmadd_ps(a, b1, a1[r]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        _mm256_store_ps(sb + r * ATTN_FWD_BK, a0[r]);
        _mm256_store_ps(sb + r * ATTN_FWD_BK + 8, a1[r]);
    }
}

/* o[r][0..8W) = α_r·o[r] + Σ_{k0<=kk<k1} p[r][kk]·v[kk][0..8W) for R rows (o ld ldo, p ld BK, v ld
 * ldv). W = 2: 16 columns; W = 1: 8 columns, the last lanes masked by msk when masked. */
AVX2 static INL void pv_tile(const int R, const int W, const int masked, __m256i msk, const float *p,
                             int k0, int k1, const float *v, int ldv, float *o, int ldo,
                             const float *alpha, int rescale) {
    __m256 a0[FR], a1[FR];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        a0[r] = _mm256_load_ps(o + r * ldo);
        a1[r] = W == 2 ? _mm256_load_ps(o + r * ldo + 8) : _mm256_setzero_ps();
        if (rescale) {
            __m256 al = _mm256_broadcast_ss(alpha + r);
            a0[r] = _mm256_mul_ps(a0[r], al);
            if (W == 2) a1[r] = _mm256_mul_ps(a1[r], al);
        }
    }
    for (int kk = k0; kk < k1; kk++) {
        const float *vr = v + (int64_t)kk * ldv;
        __m256 b0 = masked ? _mm256_maskload_ps(vr, msk) : _mm256_loadu_ps(vr);
        __m256 b1 = W == 2 ? _mm256_loadu_ps(vr + 8) : _mm256_setzero_ps();
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            __m256 a = _mm256_broadcast_ss(p + r * ATTN_FWD_BK + kk);
            a0[r] = _mm256_fmadd_ps(a, b0, a0[r]);
            if (W == 2) a1[r] = _mm256_fmadd_ps(a, b1, a1[r]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        _mm256_store_ps(o + r * ldo, a0[r]);
        if (W == 2) _mm256_store_ps(o + r * ldo + 8, a1[r]);
    }
}

#define RCASES(CALL) \
    switch (R) {     \
    case 6: CALL(6); break; \
    case 5: CALL(5); break; \
    case 4: CALL(4); break; \
    case 3: CALL(3); break; \
    case 2: CALL(2); break; \
    default: CALL(1); break; \
    }

AVX2 static void qk_strip(int R, int E, const float *qs, int ldq, const float *kt, float *sb, int t0,
                          int t1) {
    for (int c = t0; c < t1; c += 16) {
#define QK(RR) qk_tile(RR, E, qs, ldq, kt + c, sb + c)
        RCASES(QK)
#undef QK
    }
}

AVX2 static void pv_strip(int R, int Ev, const float *p, int k0, int k1, const float *v, float *o,
                          int ldo, const float *alpha, int rescale) {
    int c = 0;
    const __m256i none = _mm256_setzero_si256();
    for (; c + 16 <= Ev; c += 16) {
#define PV(RR) pv_tile(RR, 2, 0, none, p, k0, k1, v + c, Ev, o + c, ldo, alpha, rescale)
        RCASES(PV)
#undef PV
    }
    if (c + 8 <= Ev) {
#define PV(RR) pv_tile(RR, 1, 0, none, p, k0, k1, v + c, Ev, o + c, ldo, alpha, rescale)
        RCASES(PV)
#undef PV
        c += 8;
    }
    if (c < Ev) {
        const __m256i msk = _mm256_cmpgt_epi32(_mm256_set1_epi32(Ev - c),
                                               _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
#define PV(RR) pv_tile(RR, 1, 1, msk, p, k0, k1, v + c, Ev, o + c, ldo, alpha, rescale)
        RCASES(PV)
#undef PV
    }
}

/* Per-thread state of one query block. */
typedef struct fwd_ws {
    float *Qs, *O, *lv, *M, *sb; /* M: running row max in log2 units (ATTN_FWD_BQ + 8) */
} fwd_ws;

/* One query block: rows i0..i0+mq-1 of head (b, h). */
AVX2 static void fwd_block(const attn_geom *g, fwd_ws *w, const float *q, const float *kt,
                           const float *v, const float *z, float *out, float *lse, float *y,
                           int64_t b, int64_t h, int64_t i0, int mq, int64_t Evp) {
    const int64_t E = g->E, Ev = g->Ev, L = g->L, S = g->S, hk = h / g->rep;
    const int64_t nkb = (S + ATTN_FWD_BK - 1) / ATTN_FWD_BK;
    const float scale = (float)g->scale;
    float *Qs = w->Qs, *O = w->O, *lv = w->lv, *M = w->M, *sb = w->sb;
    const float *qp = q + ((b * g->Hq + h) * L + i0) * E;
    for (int64_t x = 0; x < (int64_t)mq * E; x++) Qs[x] = qp[x] * scale;
    memset(O, 0, sizeof(float) * (size_t)(mq * Evp));
    for (int r = 0; r < mq; r++) _mm256_store_ps(lv + 8 * r, _mm256_setzero_ps());
    for (int r = 0; r < ATTN_FWD_BQ + 8; r++) M[r] = -INFINITY;
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
            const int t0 = cs / 16 * 16, t1 = (ce + 15) / 16 * 16;
            qk_strip(R, (int)E, Qs + r0 * E, (int)E, Kb, sb, t0, t1);
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
            __m256 mxv[8];
            const __m256 ninf = _mm256_set1_ps(-INFINITY);
            for (int r = 0; r < 8; r++) mxv[r] = ninf;
            for (int r = 0; r < R; r++) {
                const float *row = sb + r * ATTN_FWD_BK;
                __m256 mx = _mm256_load_ps(row + t0);
                for (int c = t0 + 8; c < t1; c += 8) mx = _mm256_max_ps(mx, _mm256_load_ps(row + c));
                mxv[r] = mx;
            }
            const __m256 c2 = _mm256_set1_ps(1.44269504088896341f);
            __m256 Mold = _mm256_loadu_ps(M + r0), cand = _mm256_mul_ps(rowmax8(mxv), c2);
            __m256 Mnew = _mm256_or_ps(_mm256_max_ps(Mold, cand), _mm256_cmp_ps(Mold, cand, _CMP_UNORD_Q));
            __m256 Mu = _mm256_andnot_ps(_mm256_cmp_ps(Mnew, ninf, _CMP_EQ_OQ), Mnew); /* -inf: use 0 */
            float mu[8], al[8];
            _mm256_storeu_ps(M + r0, Mnew); /* lanes >= R keep their value (max with -inf) */
            _mm256_storeu_ps(mu, Mu);
            _mm256_storeu_ps(al, exp2n(_mm256_sub_ps(Mold, Mu)));
            int rescale = 0;
            for (int r = 0; r < R; r++) {
                float *row = sb + r * ATTN_FWD_BK;
                const __m256 nm = _mm256_set1_ps(-mu[r]);
                __m256 s = _mm256_setzero_ps();
                for (int c = t0; c < t1; c += 8) {
                    __m256 e = exp2n(_mm256_fmadd_ps(_mm256_load_ps(row + c), c2, nm));
                    _mm256_store_ps(row + c, e);
                    s = _mm256_add_ps(s, e);
                }
                __m256 l = _mm256_load_ps(lv + 8 * (r0 + r));
                _mm256_store_ps(lv + 8 * (r0 + r), _mm256_fmadd_ps(l, _mm256_set1_ps(al[r]), s));
                rescale |= al[r] != 1.0f;
            }
            pv_strip(R, (int)Ev, sb, cs, ce, Vb, O + r0 * Evp, (int)Evp, al, rescale);
        }
    }
    for (int r = 0; r < mq; r++) {
        int64_t idx = (b * g->Hq + h) * L + i0 + r;
        float *o = O + r * Evp;
        float l = hsum8(_mm256_load_ps(lv + 8 * r));
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

static void *alloc64(size_t nfloat) {
    size_t bytes = (nfloat * sizeof(float) + 63) / 64 * 64;
    return aligned_alloc(64, bytes ? bytes : 64);
}

int attn_forward_f32_avx2(const attn_geom *g, const float *q, const float *k, const float *v,
                          const float *z, float *out, float *lse, float *y) {
    const int64_t E = g->E, Ev = g->Ev, L = g->L, S = g->S;
    const int64_t Evp = (Ev + 7) / 8 * 8;
    const int64_t nkb = (S + ATTN_FWD_BK - 1) / ATTN_FWD_BK;
    const int64_t nqb = (L + ATTN_FWD_BQ - 1) / ATTN_FWD_BQ, nbh = g->B * g->Hq;
    int fail = 0;
    /* K packed transposed per key block, zero-padded: kt[(b,hk)][kb] is E × BK (ld BK). */
    float *kt = alloc64((size_t)(g->B * g->Hkv * nkb * ATTN_FWD_BK * E));
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
        fwd_ws w;
        w.Qs = alloc64((size_t)(ATTN_FWD_BQ * E));
        w.O = alloc64((size_t)(ATTN_FWD_BQ * Evp));
        w.lv = alloc64((size_t)ATTN_FWD_BQ * 8);
        w.M = alloc64(ATTN_FWD_BQ + 8);
        w.sb = alloc64((size_t)FR * ATTN_FWD_BK);
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
            fwd_block(g, &w, q, kt, v, z, out, lse, y, bh / g->Hq, bh % g->Hq, i0, mq, Evp);
        }
        free(w.Qs); free(w.O); free(w.lv); free(w.M); free(w.sb);
    }
    free(kt);
    if (fail) return ml_fail(ML_ENOMEM, "attn: out of memory for per-thread blocks");
    return ML_OK;
}

#else
int attn_forward_f32_avx2(const attn_geom *g, const float *q, const float *k, const float *v,
                          const float *z, float *out, float *lse, float *y) {
    (void)g; (void)q; (void)k; (void)v; (void)z; (void)out; (void)lse; (void)y;
    return ml_fail(ML_EINVAL, "attn: AVX2 kernel not built for this target");
}
#endif
