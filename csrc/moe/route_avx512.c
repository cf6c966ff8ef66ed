/* moonlab moe — the f32 softmax token pass of the routers fused into one pass per row for AVX-512F (16 lanes;
 * chosen at run time by route_tokens.c when ml_cpu_isa() is ML_ISA_AVX512): finite check, max, exp, sum and
 * sum s*z, normalisation, top-k (repeated arg-max, ties to the lowest index; group limit), the weights, and
 * the sums behind aux_loss, z_loss and entropy (logs taken 16 rows at a time). Covers score "softmax" with
 * order "softmax_then_topk" and no activation or noise (temperature, bias, groups, capacity, route_scale
 * all included); other options run the AVX2 / portable template. Compiled with target attributes, so it
 * builds for any x86-64. */
#include "moe_internal.h"
#include "moonlab/cpu.h"
#include "core/exp2_poly.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#define FTGT __attribute__((target("avx512f,avx2,fma")))
#define MOE_AVX512_MAXV 256 /* vectors per row: E <= 4096 */
#define INL FTGT static inline __attribute__((always_inline))

/* exp of 16 floats <= 0 (x < -87 is clamped): 2^n 2^f with n = round(x log2 e), f = x log2 e - n from one
 * fused multiply-subtract, 2^f by a degree-5 minimax polynomial on [-1/2, 1/2] (relative error 2.4e-7; the
 * polynomial of core/exp2_poly.h, shared with the attention kernels), 2^n by scalef. */
INL __m512 exp16(__m512 x) {
    const __m512 l2e = _mm512_set1_ps(1.44269504088896341f);
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, l2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_fmsub_ps(x, l2e, n);
    __m512 p = ML_EXP2_POLY5(_mm512_fmadd_ps, _mm512_set1_ps, f);
    return _mm512_scalef_ps(p, n);
}

/* log of 16 positive finite floats: x = 2^e m with m in [0.75, 1.5), log m = 2 atanh((m-1)/(m+1)) by its
 * series to u^9 (|u| <= 0.2: truncation < 4e-9). */
INL __m512 log16(__m512 x) {
    __m512 e = _mm512_getexp_ps(x);
    __m512 m = _mm512_getmant_ps(x, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_src);
    __m512 one = _mm512_set1_ps(1.0f);
    e = _mm512_mask_add_ps(e, _mm512_cmp_ps_mask(m, one, _CMP_LT_OQ), e, one); /* getexp is for [1, 2) */
    __m512 u = _mm512_div_ps(_mm512_sub_ps(m, one), _mm512_add_ps(m, one)), u2 = _mm512_mul_ps(u, u);
    __m512 p = _mm512_fmadd_ps(u2, _mm512_set1_ps(2.0f / 9), _mm512_set1_ps(2.0f / 7));
    p = _mm512_fmadd_ps(p, u2, _mm512_set1_ps(2.0f / 5));
    p = _mm512_fmadd_ps(p, u2, _mm512_set1_ps(2.0f / 3));
    p = _mm512_fmadd_ps(p, u2, _mm512_set1_ps(2.0f));
    return _mm512_fmadd_ps(e, _mm512_set1_ps(0.693147180559945309f), _mm512_mul_ps(p, u));
}

INL __mmask16 lane_mask(int64_t E, int64_t i) { /* active lanes of the vector starting at i */
    int64_t n = E - i;
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

/* Top-k of sel [E] (finite, E <= 64) held in registers, descending, ties to the lowest index; taken lanes
 * are bits of one 64-bit mask. best0 = max of sel when known, else NAN. */
INL void topk_regs(const float *sel, int64_t E, int64_t nv, int k, float best0, int64_t *idx) {
    __m512 v[4], ninf = _mm512_set1_ps(-INFINITY);
    for (int64_t i = 0; i < nv; i++) v[i] = _mm512_mask_loadu_ps(ninf, lane_mask(E, 16 * i), sel + 16 * i);
    uint64_t taken = 0;
    for (int j = 0; j < k; j++) {
        float b = best0;
        if (j > 0 || b != b) {
            __m512 vm = ninf;
            for (int64_t i = 0; i < nv; i++)
                vm = _mm512_mask_max_ps(vm, (__mmask16)~(taken >> (16 * i)), vm, v[i]);
            b = _mm512_reduce_max_ps(vm);
        }
        __m512 vb = _mm512_set1_ps(b);
        uint64_t q = 0;
        for (int64_t i = 0; i < nv; i++)
            q |= (uint64_t)_mm512_mask_cmp_ps_mask((__mmask16)~(taken >> (16 * i)), v[i], vb, _CMP_EQ_OQ) << (16 * i);
        int at = __builtin_ctzll(q);
        taken |= 1ull << at;
        idx[j] = at;
    }
}

/* Group score = sum of the two best values of the group (the best alone for one-expert groups), as in
 * topk_tmpl.h; vectorised when the group size is a multiple of 16. */
INL float group_score(const float *v, int64_t gs) {
    if (gs % 16 == 0) {
        __m512 vm = _mm512_loadu_ps(v);
        for (int64_t i = 16; i < gs; i += 16) vm = _mm512_max_ps(vm, _mm512_loadu_ps(v + i));
        float b1 = _mm512_reduce_max_ps(vm);
        __m512 vb = _mm512_set1_ps(b1), ninf = _mm512_set1_ps(-INFINITY);
        int cnt = 0;
        __m512 v2 = ninf;
        for (int64_t i = 0; i < gs; i += 16) {
            __m512 x = _mm512_loadu_ps(v + i);
            __mmask16 q = _mm512_cmp_ps_mask(x, vb, _CMP_EQ_OQ);
            cnt += __builtin_popcount((unsigned)q);
            v2 = _mm512_max_ps(v2, _mm512_mask_blend_ps(q, x, ninf));
        }
        float b2 = cnt >= 2 ? b1 : _mm512_reduce_max_ps(v2);
        return b1 + b2;
    }
    float b1 = -INFINITY, b2 = -INFINITY;
    for (int64_t e = 0; e < gs; e++) {
        float x = v[e];
        if (x > b1) { b2 = b1; b1 = x; } else if (x > b2) b2 = x;
    }
    return gs >= 2 ? b1 + b2 : b1;
}

/* Top-k of sel [E] (finite, E <= 16 * MOE_AVX512_MAXV) into idx, descending, ties to the lowest index,
 * over the experts of the group_topk best groups when the group limit is on. Each candidate vector keeps a
 * mask of its live lanes (in range, in an allowed group, not taken yet); vectors without any are skipped.
 * best0 = max of sel when known (no group limit), else NAN. */
INL void topk_live(const float *sel, int64_t E, int64_t nv, int k, int groups, int group_topk, float best0,
                   int64_t *idx) {
    int32_t vi[MOE_AVX512_MAXV];
    __mmask16 live[MOE_AVX512_MAXV];
    live[0] = 0; /* (nl >= 1: k <= the allowed experts) */
    vi[0] = 0;
    int nl = 0;
    int64_t gs = groups > 1 ? E / groups : E;
    unsigned char on[1024];
    if (groups > 1 && group_topk < groups) {
        float gsc[1024];
        for (int g = 0; g < groups; g++) { gsc[g] = group_score(sel + g * gs, gs); on[g] = 0; }
        if (groups <= 16) { /* group g is on when fewer than group_topk groups rank before it (ties: lower g) */
            __mmask16 in = (__mmask16)((1u << groups) - 1u);
            __m512 G = _mm512_maskz_loadu_ps(in, gsc);
            for (int g = 0; g < groups; g++) {
                __m512 vg = _mm512_set1_ps(gsc[g]);
                int before = __builtin_popcount((unsigned)_mm512_mask_cmp_ps_mask(in, G, vg, _CMP_GT_OQ)) +
                             __builtin_popcount((unsigned)_mm512_mask_cmp_ps_mask((__mmask16)((1u << g) - 1u), G, vg,
                                                                                  _CMP_EQ_OQ));
                on[g] = before < group_topk;
            }
        } else
            for (int c = 0; c < group_topk; c++) {
                int b = -1;
                for (int g = 0; g < groups; g++)
                    if (!on[g] && (b < 0 || gsc[g] > gsc[b])) b = g;
                on[b] = 1;
            }
    } else {
        gs = E;
        on[0] = 1;
    }
    if (gs % 16 == 0) { /* whole vectors per group */
        int64_t vpg = gs / 16;
        for (int64_t g = 0, i = 0; i < nv; g++)
            for (int64_t j = 0; j < vpg && i < nv; j++, i++)
                if (on[g]) { vi[nl] = (int32_t)i; live[nl] = lane_mask(E, 16 * i); nl++; }
    } else {
        for (int64_t i = 0, g = 0, ge = gs; i < nv; i++) {
            unsigned q = lane_mask(E, 16 * i);
            for (int l = 0; l < 16 && 16 * i + l < E; l++) {
                if (16 * i + l == ge) { g++; ge += gs; }
                if (!on[g]) q &= ~(1u << l);
            }
            if (q) { vi[nl] = (int32_t)i; live[nl] = (__mmask16)q; nl++; }
        }
    }
    __m512 ninf = _mm512_set1_ps(-INFINITY);
    if (nl > 4 && k <= 16) {
        /* Many candidate vectors: tau = the k-th largest of the lane-wise maxima is a lower bound of the k-th
         * largest value (the maxima are k distinct elements), so the top k are among the values >= tau. Those
         * are compressed (value, index) in index order, then sorted by insertion (ties keep the lower index). */
        __m512 L = ninf;
        for (int p = 0; p < nl; p++) L = _mm512_mask_max_ps(L, live[p], L, _mm512_loadu_ps(sel + 16 * vi[p]));
        float Lf[16], tau = -INFINITY;
        _mm512_storeu_ps(Lf, L);
        for (int l = 0; l < 16; l++) {
            int ge = __builtin_popcount((unsigned)_mm512_cmp_ps_mask(L, _mm512_set1_ps(Lf[l]), _CMP_GE_OQ));
            tau = ge >= k && Lf[l] > tau ? Lf[l] : tau;
        }
        float cv[16 * MOE_AVX512_MAXV + 16];
        int32_t ci[16 * MOE_AVX512_MAXV + 16];
        int n = 0;
        __m512 vt = _mm512_set1_ps(tau);
        __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
        for (int p = 0; p < nl; p++) {
            __m512 v = _mm512_loadu_ps(sel + 16 * vi[p]);
            __mmask16 c = _mm512_mask_cmp_ps_mask(live[p], v, vt, _CMP_GE_OQ);
            _mm512_storeu_ps(cv + n, _mm512_maskz_compress_ps(c, v));
            _mm512_storeu_si512(ci + n, _mm512_maskz_compress_epi32(c, _mm512_add_epi32(iota, _mm512_set1_epi32(16 * vi[p]))));
            n += __builtin_popcount((unsigned)c);
        }
        float vals[16];
        int cnt = 0;
        for (int i = 0; i < n; i++) {
            float v = cv[i];
            if (cnt == k && !(v > vals[k - 1])) continue;
            int pos = cnt < k ? cnt : k - 1;
            while (pos > 0 && v > vals[pos - 1]) { vals[pos] = vals[pos - 1]; idx[pos] = idx[pos - 1]; pos--; }
            vals[pos] = v;
            idx[pos] = ci[i];
            if (cnt < k) cnt++;
        }
        return;
    }
    for (int j = 0; j < k; j++) {
        float b = best0;
        if (j > 0 || b != b) { /* four independent max chains */
            __m512 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
            int p = 0;
            for (; p + 4 <= nl; p += 4) {
                m0 = _mm512_mask_max_ps(m0, live[p], m0, _mm512_loadu_ps(sel + 16 * vi[p]));
                m1 = _mm512_mask_max_ps(m1, live[p + 1], m1, _mm512_loadu_ps(sel + 16 * vi[p + 1]));
                m2 = _mm512_mask_max_ps(m2, live[p + 2], m2, _mm512_loadu_ps(sel + 16 * vi[p + 2]));
                m3 = _mm512_mask_max_ps(m3, live[p + 3], m3, _mm512_loadu_ps(sel + 16 * vi[p + 3]));
            }
            for (; p < nl; p++) m0 = _mm512_mask_max_ps(m0, live[p], m0, _mm512_loadu_ps(sel + 16 * vi[p]));
            b = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3)));
        }
        __m512 vb = _mm512_set1_ps(b);
        int pos = -1;
        for (int g = (nl - 1) / 4 * 4; g >= 0; g -= 4) { /* every word, the lowest non-zero one kept */
            uint64_t q = 0;
            for (int p = g; p < g + 4 && p < nl; p++)
                q |= (uint64_t)_mm512_mask_cmp_ps_mask(live[p], _mm512_loadu_ps(sel + 16 * vi[p]), vb, _CMP_EQ_OQ)
                     << (16 * (p - g));
            pos = q ? 16 * g + __builtin_ctzll(q) : pos;
        }
        int p = pos / 16, l = pos % 16; /* pos >= 0: b is a live value */
        idx[j] = 16 * (int64_t)vi[p] + l;
        live[p] = (__mmask16)(live[p] & ~(1u << l));
    }
}

/* Sums over a batch of n <= 16 rows: zacc += lse^2, hacc += lse with lse = m + log(sum). */
INL void flush_logs(const float *m, const float *sum, int n, double *zacc, double *hacc) {
    __mmask16 q = (__mmask16)((1u << n) - 1u);
    __m512 ls = log16(_mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), q, sum));
    float l[16];
    _mm512_storeu_ps(l, ls);
    for (int i = 0; i < n; i++) {
        double lse = (double)m[i] + (double)l[i];
        *zacc += lse * lse;
        *hacc += lse;
    }
}

/* R = 1 or 2 rows in lockstep (their dependency chains interleave): z [E] finite-checked (z = x/temperature
 * into zt when scaled); v = exp(z - max z) into s[r] (normalised to softmax(z) when norm); Pf += softmax;
 * hz += sum of v z / sum v (lanes left unreduced); returns 0 on a non-finite value in any of the rows (nothing
 * added then), else 1 with m[r] = max z, sum[r] = sum v, inv[r] = 1 / sum v. nv = ceil(E/16) (a constant in
 * the unrolled copies for E <= 64). */
INL int softmax_rows(int R, const float *const *x, float it, int scaled, int norm, int64_t E, int64_t nv,
                     float *const *s, float *restrict Pf, float *const *zt, float *m, float *sum, float *inv,
                     __m512 *hz) {
    __m512 vm[2], chk[2], vs[2], vz[2], vit = _mm512_set1_ps(it);
    const float *z[2];
    for (int r = 0; r < R; r++) {
        vm[r] = _mm512_set1_ps(-INFINITY);
        chk[r] = vs[r] = vz[r] = _mm512_setzero_ps();
        z[r] = scaled ? zt[r] : x[r];
    }
    for (int64_t i = 0; i < nv; i++) {
        __mmask16 q = lane_mask(E, 16 * i);
        for (int r = 0; r < R; r++) {
            __m512 v = _mm512_maskz_loadu_ps(q, x[r] + 16 * i);
            if (scaled) {
                v = _mm512_mul_ps(v, vit);
                _mm512_mask_storeu_ps(zt[r] + 16 * i, q, v);
            }
            chk[r] = _mm512_add_ps(chk[r], _mm512_sub_ps(v, v)); /* z = x/temperature finite */
            vm[r] = _mm512_mask_max_ps(vm[r], q, vm[r], v);
        }
    }
    __m512 c = chk[0];
    for (int r = 1; r < R; r++) c = _mm512_add_ps(c, chk[r]);
    if (_mm512_cmp_ps_mask(c, _mm512_setzero_ps(), _CMP_NEQ_UQ)) return 0;
    __m512 vmx[2];
    for (int r = 0; r < R; r++) { m[r] = _mm512_reduce_max_ps(vm[r]); vmx[r] = _mm512_set1_ps(m[r]); }
    for (int64_t i = 0; i < nv; i++) {
        __mmask16 q = lane_mask(E, 16 * i);
        for (int r = 0; r < R; r++) {
            __m512 zz = _mm512_maskz_loadu_ps(q, z[r] + 16 * i);
            __m512 v = _mm512_maskz_mov_ps(q, exp16(_mm512_sub_ps(zz, vmx[r])));
            _mm512_mask_storeu_ps(s[r] + 16 * i, q, v);
            vs[r] = _mm512_add_ps(vs[r], v);
            vz[r] = _mm512_fmadd_ps(v, zz, vz[r]);
        }
    }
    __m512 vi[2];
    for (int r = 0; r < R; r++) {
        sum[r] = _mm512_reduce_add_ps(vs[r]);
        inv[r] = 1.0f / sum[r];
        vi[r] = _mm512_set1_ps(inv[r]);
        *hz = _mm512_fmadd_ps(vz[r], vi[r], *hz);
    }
    for (int64_t i = 0; i < nv; i++) {
        __mmask16 q = lane_mask(E, 16 * i);
        __m512 acc = _mm512_loadu_ps(Pf + 16 * i);
        for (int r = 0; r < R; r++) {
            __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(q, s[r] + 16 * i), vi[r]);
            if (norm) _mm512_mask_storeu_ps(s[r] + 16 * i, q, v);
            acc = _mm512_add_ps(acc, v);
        }
        _mm512_storeu_ps(Pf + 16 * i, acc);
    }
    return 1;
}

/* Token t's outputs: its k weights s[idx[j]] * sc (rescaled to sum to route_scale rs when renormalising), its
 * expert ids and, for drops by probability, the ranks. */
INL void token_out(const ml_moe_route_opts *o, int64_t t, int k, const float *s, const int64_t *idx, float sc,
                   float rs, float *W, int64_t *experts, double *rank) {
    float *w = W + t * k, sum = 0;
    int64_t *ex = experts + t * k;
    for (int j = 0; j < k; j++) { w[j] = s[idx[j]] * sc; sum += w[j]; }
    float c = rs;
    if (o->renormalize) c = sum > 0 ? c / sum : 0;
    for (int j = 0; j < k; j++) { w[j] *= c; ex[j] = idx[j] + o->index_base; }
    if (rank)
        for (int j = 0; j < k; j++) rank[t * k + j] = (double)(s[idx[j]] * sc);
}

/* Adds the f32 partial sums Pf [E] of the probabilities to P in f64 and clears them (every 64 rows). */
INL void flush_p(double *P, float *Pf, int64_t E) {
    for (int64_t e = 0; e < E; e++) { P[e] += (double)Pf[e]; Pf[e] = 0; }
}

/* Lane r of the result = the max (OP = max) or sum (OP = add) of the 16 lanes of row r, for 16 rows at once by
 * a shuffle tree (15 OPs instead of 16 horizontal reductions): row r must be given as v[ROW_SLOT(r)]. */
#define ROW_SLOT(r) (((r) % 4) * 4 + (r) / 4)
#define HRED16(NAME, OP)                                                                                      \
    INL __m512 NAME(const __m512 *v) {                                                                        \
        __m512 a[8], b[4], c[2];                                                                              \
        for (int i = 0; i < 8; i++)                                                                           \
            a[i] = OP(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44),                                     \
                      _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xEE));                                    \
        for (int i = 0; i < 4; i++)                                                                           \
            b[i] = OP(_mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0x88),                                     \
                      _mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0xDD));                                    \
        for (int i = 0; i < 2; i++)                                                                           \
            c[i] = OP(_mm512_shuffle_ps(b[2 * i], b[2 * i + 1], 0x44), _mm512_shuffle_ps(b[2 * i], b[2 * i + 1], 0xEE)); \
        return OP(_mm512_shuffle_ps(c[0], c[1], 0x88), _mm512_shuffle_ps(c[0], c[1], 0xDD));                  \
    }
HRED16(hmax16, _mm512_max_ps)
HRED16(hadd16, _mm512_add_ps)

/* Shared state of a worker's pass over its tokens (see block). */
typedef struct {
    const ml_moe_route_opts *o;
    const float *X, *bf; /* logits; the bias as f32 (or NULL) */
    int64_t *experts;
    float *W, *probs, *Pf;
    double *P, *rank;
    float it, rs;
    int scaled, sel_on_z, norm;
} pass16;

/* Rows t..t+15 when E <= 64 and no group limit: the steps of softmax_rows, topk_regs and the weights of block,
 * with every per-row horizontal reduction (max, sum, the top-k maxima) done for the 16 rows at once (hmax16,
 * hadd16) so that the rows' dependency chains no longer serialise. Returns 0 (nothing written) when the rows
 * hold a non-finite value: the caller then takes them one by one to name the row. */
INL int rows16(const pass16 *ps, int64_t E, int64_t nv, int64_t t, __m512 *hz, double *zacc, double *hacc,
                int *np) {
    const ml_moe_route_opts *o = ps->o;
    const int k = o->k;
    float Zb[16 * 64], Sb[16 * 64], Bb[16 * 64], m[16], sum[16], inv[16], B[16];
    __m512 V[16], VZ[16], ninf = _mm512_set1_ps(-INFINITY), vit = _mm512_set1_ps(ps->it), chk = _mm512_setzero_ps();
    const float *x[16], *z[16];
    float *s[16];
    for (int r = 0; r < 16; r++) {
        x[r] = ps->X + (t + r) * E;
        z[r] = ps->scaled ? Zb + 64 * r : x[r];
        s[r] = ps->probs ? ps->probs + (t + r) * E : Sb + 64 * r;
        __m512 vm = ninf;
        for (int64_t i = 0; i < nv; i++) {
            __mmask16 q = lane_mask(E, 16 * i);
            __m512 v = _mm512_maskz_loadu_ps(q, x[r] + 16 * i);
            if (ps->scaled) {
                v = _mm512_mul_ps(v, vit);
                _mm512_mask_storeu_ps(Zb + 64 * r + 16 * i, q, v);
            }
            chk = _mm512_add_ps(chk, _mm512_sub_ps(v, v)); /* z = x/temperature finite */
            vm = _mm512_mask_max_ps(vm, q, vm, v);
        }
        V[ROW_SLOT(r)] = vm;
    }
    if (_mm512_cmp_ps_mask(chk, _mm512_setzero_ps(), _CMP_NEQ_UQ)) return 0;
    _mm512_storeu_ps(m, hmax16(V));
    for (int r = 0; r < 16; r++) {
        __m512 vmx = _mm512_set1_ps(m[r]), vs = _mm512_setzero_ps(), vz = _mm512_setzero_ps();
        for (int64_t i = 0; i < nv; i++) {
            __mmask16 q = lane_mask(E, 16 * i);
            __m512 zz = _mm512_maskz_loadu_ps(q, z[r] + 16 * i);
            __m512 v = _mm512_maskz_mov_ps(q, exp16(_mm512_sub_ps(zz, vmx)));
            _mm512_mask_storeu_ps(s[r] + 16 * i, q, v);
            vs = _mm512_add_ps(vs, v);
            vz = _mm512_fmadd_ps(v, zz, vz);
        }
        V[ROW_SLOT(r)] = vs;
        VZ[r] = vz;
    }
    __m512 vsum = hadd16(V);
    _mm512_storeu_ps(sum, vsum);
    _mm512_storeu_ps(inv, _mm512_div_ps(_mm512_set1_ps(1.0f), vsum));
    __m512 acc[4];
    for (int64_t i = 0; i < nv; i++) acc[i] = _mm512_loadu_ps(ps->Pf + 16 * i);
    for (int r = 0; r < 16; r++) {
        __m512 vi = _mm512_set1_ps(inv[r]);
        *hz = _mm512_fmadd_ps(VZ[r], vi, *hz);
        for (int64_t i = 0; i < nv; i++) {
            __mmask16 q = lane_mask(E, 16 * i);
            __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(q, s[r] + 16 * i), vi);
            if (ps->norm) _mm512_mask_storeu_ps(s[r] + 16 * i, q, v);
            acc[i] = _mm512_add_ps(acc[i], v);
        }
    }
    for (int64_t i = 0; i < nv; i++) _mm512_storeu_ps(ps->Pf + 16 * i, acc[i]);
    flush_logs(m, sum, 16, zacc, hacc);
    *hacc -= (double)_mm512_reduce_add_ps(*hz);
    *hz = _mm512_setzero_ps();
    if (k > 0) {
        const float *sv[16];
        uint64_t taken[16];
        int64_t id[16 * 64];
        for (int r = 0; r < 16; r++) {
            taken[r] = 0;
            sv[r] = ps->sel_on_z ? z[r] : s[r];
            if (ps->bf) {
                for (int64_t i = 0; i < nv; i++) {
                    __mmask16 q = lane_mask(E, 16 * i);
                    _mm512_mask_storeu_ps(Bb + 64 * r + 16 * i, q,
                                          _mm512_add_ps(_mm512_maskz_loadu_ps(q, s[r] + 16 * i), _mm512_maskz_loadu_ps(q, ps->bf + 16 * i)));
                }
                sv[r] = Bb + 64 * r;
            }
        }
        for (int j = 0; j < k; j++) {
            if (j == 0 && ps->sel_on_z) memcpy(B, m, sizeof B); /* softmax is monotone: the first is the max */
            else {
                for (int r = 0; r < 16; r++) {
                    __m512 vm = ninf;
                    for (int64_t i = 0; i < nv; i++) {
                        __mmask16 q = (__mmask16)(lane_mask(E, 16 * i) & ~(taken[r] >> (16 * i)));
                        vm = _mm512_mask_max_ps(vm, q, vm, _mm512_maskz_loadu_ps(q, sv[r] + 16 * i));
                    }
                    V[ROW_SLOT(r)] = vm;
                }
                _mm512_storeu_ps(B, hmax16(V));
            }
            for (int r = 0; r < 16; r++) {
                __m512 vb = _mm512_set1_ps(B[r]);
                uint64_t q = 0;
                for (int64_t i = 0; i < nv; i++) {
                    __mmask16 live = (__mmask16)(lane_mask(E, 16 * i) & ~(taken[r] >> (16 * i)));
                    q |= (uint64_t)_mm512_mask_cmp_ps_mask(live, _mm512_maskz_loadu_ps(live, sv[r] + 16 * i), vb, _CMP_EQ_OQ)
                         << (16 * i);
                }
                int at = __builtin_ctzll(q); /* q != 0: B[r] is a live value of the row */
                taken[r] |= 1ull << at;
                id[r * k + j] = at;
            }
        }
        for (int r = 0; r < 16; r++)
            token_out(o, t + r, k, s[r], id + r * k, ps->norm ? 1.0f : inv[r], ps->rs, ps->W, ps->experts, ps->rank);
    }
    if ((*np += 16) == 64) {
        flush_p(ps->P, ps->Pf, E);
        *np = 0;
    }
    return 1;
}

/* Worker for tokens [t0,t1) with nv = ceil(E/16) (NV > 0: that constant). buf: 8E + 128 floats. */
INL void block(const ml_moe_route_opts *o, const float *X, int64_t E, int64_t nv, int64_t t0, int64_t t1,
               int64_t *experts, float *W, float *probs, double *P, double *zs, double *hs, int64_t *bad,
               float *buf, double *rank) {
    int k = o->k;
    int64_t nv16 = 16 * nv;
    float *zt0 = buf, *zt1 = zt0 + nv16, *sb0 = zt1 + nv16, *sb1 = sb0 + nv16, *sel = sb1 + nv16, *Pf = sel + nv16,
          *bf = Pf + nv16;
    float bm[16], bsum[16];
    int64_t idx[1024];
    int scaled = o->temperature != 1.0;
    float it = (float)(1.0 / o->temperature), rs = (float)o->route_scale;
    int use_groups = o->groups > 1 && o->group_topk < o->groups;
    int sel_on_z = !o->bias && !use_groups; /* softmax is monotone: the order of s is that of z */
    int norm = probs || !sel_on_z;         /* s normalised in place; else the kept v are scaled by 1/sum v */
    __m512 hz = _mm512_setzero_ps();       /* sum over rows of sum s z (entropy = lse - sum s z) */
    for (int64_t i = 0; i < nv16; i++) Pf[i] = 0;
    if (o->bias)
        for (int64_t e = 0; e < E; e++) bf[e] = (float)o->bias[e];
    double zacc = 0, hacc = 0;
    int nb = 0, np = 0;
    int64_t t = t0;
    if (nv <= 4 && !use_groups) {
        pass16 ps = {o, X, o->bias ? bf : NULL, experts, W, probs, Pf, P, rank, it, rs, scaled, sel_on_z, norm};
        while (t + 16 <= t1 && rows16(&ps, E, nv, t, &hz, &zacc, &hacc, &np)) t += 16;
    }
    while (t < t1) {
        int R = t + 1 < t1 ? 2 : 1;
        const float *xr[2] = {X + t * E, X + (t + R - 1) * E};
        float *sr[2] = {probs ? probs + t * E : sb0, probs ? probs + (t + R - 1) * E : sb1};
        float *zr[2] = {zt0, zt1}, mr[2], sumr[2], invr[2];
        if (!(R == 2 && softmax_rows(2, xr, it, scaled, norm, E, nv, sr, Pf, zr, mr, sumr, invr, &hz))) {
            R = 1; /* the last row, or a non-finite value in one of the pair */
            if (!softmax_rows(1, xr, it, scaled, norm, E, nv, sr, Pf, zr, mr, sumr, invr, &hz)) { *bad = t; return; }
        }
        for (int r = 0; r < R; r++, t++) {
            const float *s = sr[r];
            bm[nb] = mr[r]; bsum[nb] = sumr[r];
            if (++nb == 16) {
                flush_logs(bm, bsum, nb, &zacc, &hacc);
                hacc -= (double)_mm512_reduce_add_ps(hz);
                hz = _mm512_setzero_ps();
                nb = 0;
            }
            if (k > 0) {
                const float *sv = sel_on_z ? (scaled ? zr[r] : xr[r]) : s;
                if (o->bias) {
                    for (int64_t i = 0; i < nv; i++) {
                        __mmask16 q = lane_mask(E, 16 * i);
                        _mm512_mask_storeu_ps(sel + 16 * i, q, _mm512_add_ps(_mm512_maskz_loadu_ps(q, s + 16 * i),
                                                                           _mm512_maskz_loadu_ps(q, bf + 16 * i)));
                    }
                    sv = sel;
                }
                float b0 = sel_on_z ? mr[r] : NAN;
                if (nv <= 4 && !use_groups) topk_regs(sv, E, nv, k, b0, idx);
                else topk_live(sv, E, nv, k, o->groups, o->group_topk, b0, idx);
                token_out(o, t, k, s, idx, norm ? 1.0f : invr[r], rs, W, experts, rank);
            }
            if (++np == 64) {
                flush_p(P, Pf, E);
                np = 0;
            }
        }
    }
    if (nb) flush_logs(bm, bsum, nb, &zacc, &hacc);
    hacc -= (double)_mm512_reduce_add_ps(hz);
    for (int64_t e = 0; e < E; e++) P[e] += (double)Pf[e];
    *zs += zacc;
    *hs += hacc;
}

FTGT void moe_route_block_f32_avx512(const ml_moe_route_opts *o, const float *X, int64_t E, int64_t t0,
                                     int64_t t1, int64_t *experts, float *W, float *probs, double *P,
                                     double *zs, double *hs, int64_t *bad, float *buf, double *rank) {
    int64_t nv = (E + 15) / 16;
    if (E == 16 * nv && nv <= 4) { /* whole vectors: copies with E a constant too */
        if (nv == 4) block(o, X, 64, 4, t0, t1, experts, W, probs, P, zs, hs, bad, buf, rank);
        else if (nv == 2) block(o, X, 32, 2, t0, t1, experts, W, probs, P, zs, hs, bad, buf, rank);
        else if (nv == 1) block(o, X, 16, 1, t0, t1, experts, W, probs, P, zs, hs, bad, buf, rank);
        else block(o, X, 48, 3, t0, t1, experts, W, probs, P, zs, hs, bad, buf, rank);
        return;
    }
    switch (nv) { /* unrolled copies for E <= 64 */
    case 1: block(o, X, E, 1, t0, t1, experts, W, probs, P, zs, hs, bad, buf, rank); break;
    case 2: block(o, X, E, 2, t0, t1, experts, W, probs, P, zs, hs, bad, buf, rank); break;
    case 3: block(o, X, E, 3, t0, t1, experts, W, probs, P, zs, hs, bad, buf, rank); break;
    case 4: block(o, X, E, 4, t0, t1, experts, W, probs, P, zs, hs, bad, buf, rank); break;
    default: block(o, X, E, nv, t0, t1, experts, W, probs, P, zs, hs, bad, buf, rank); break;
    }
}

int moe_route_avx512_covers(const ml_moe_route_opts *o, int64_t E) {
    return ml_cpu_isa() >= ML_ISA_AVX512 && E <= 16 * MOE_AVX512_MAXV && o->score == ML_MOE_SOFTMAX && o->order == ML_MOE_SOFTMAX_THEN_TOPK &&
           o->activation == ML_MOE_ACT_NONE && !(o->noise_std > 0) && o->k <= 64;
}
#else
void moe_route_block_f32_avx512(const ml_moe_route_opts *o, const float *X, int64_t E, int64_t t0,
                                int64_t t1, int64_t *experts, float *W, float *probs, double *P, double *zs,
                                double *hs, int64_t *bad, float *buf, double *rank) {
    (void)o; (void)X; (void)E; (void)t0; (void)t1; (void)experts; (void)W; (void)probs; (void)P; (void)zs;
    (void)hs; (void)bad; (void)buf; (void)rank;
}
int moe_route_avx512_covers(const ml_moe_route_opts *o, int64_t E) { (void)o; (void)E; return 0; }
#endif
