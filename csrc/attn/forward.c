/* moonlab attn — tiled online-softmax ("flash") forward of gated SDPA. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "attn_internal.h"
#include "moonlab/cpu.h"

#define REAL float
#define SFX(n) n##_f32
#define GEMM attn_gemm_f32
#define EXPSUM attn_expsum_f32
#define MAXV attn_max_f32
#define EXPF expf
#define LOGF logf
#define GATE_APPLY attn_gate_apply_f32
#include "fwd_tmpl.h"
#undef REAL
#undef SFX
#undef GEMM
#undef EXPSUM
#undef MAXV
#undef EXPF
#undef LOGF
#undef GATE_APPLY

#define REAL double
#define SFX(n) n##_f64
#define GEMM attn_gemm_f64
#define EXPSUM attn_expsum_f64
#define MAXV attn_max_f64
#define EXPF exp
#define LOGF log
#define GATE_APPLY attn_gate_apply_f64
#include "fwd_tmpl.h"

static int check_out(const ml_tensor *t, const char *name, ml_dtype dt, int nd, const int64_t *shape) {
    char s[96];
    int ok = t && t->dtype == dt && t->ndim == nd;
    for (int d = 0; ok && d < nd; d++) ok = t->shape[d] == shape[d];
    if (!ok)
        return ml_fail(ML_EINVAL, "%s: expected %s tensor of %d dims matching the inputs, got %s", name,
                       ml_dtype_name(dt), nd, t ? ml_shape_str(t, s, sizeof s) : "nothing");
    return ML_OK;
}

/* 1 when every element of t is finite. */
static int all_finite(const ml_tensor *t) {
    if (!t || (t->dtype != ML_F32 && t->dtype != ML_F64)) return 1;
    for (int64_t i = 0; i < t->numel; i++)
        if (!isfinite(t->dtype == ML_F32 ? (double)ml_f32(t)[i] : ml_f64(t)[i])) return 0;
    return 1;
}

/* 1 when q, k and mask are all finite; scanned once per call, *fin caches the answer (-1: not yet known). */
static int inputs_finite(int *fin, const ml_tensor *q, const ml_tensor *k, const ml_tensor *mask) {
    if (*fin < 0) *fin = all_finite(q) && all_finite(k) && all_finite(mask);
    return *fin;
}

/* Finite q, k (and mask) whose scores overflow the dtype (|q.k| * scale beyond its range) leave NaN or +inf in a
 * row's log-sum-exp: an error naming the first such row instead of a NaN output. A fully masked row has -inf,
 * and non-finite inputs propagate to the rows they touch (documented), so neither raises. */
static int check_lse(const attn_geom *g, const ml_tensor *lse, int *fin, const ml_tensor *q, const ml_tensor *k,
                     const ml_tensor *mask) {
    int64_t n = g->B * g->Hq * g->L;
    for (int64_t i = 0; i < n; i++) {
        double v = lse->dtype == ML_F32 ? (double)ml_f32(lse)[i] : ml_f64(lse)[i];
        if (v < HUGE_VAL) continue;
        if (!inputs_finite(fin, q, k, mask)) return ML_OK;
        return ml_fail(ML_ENUMERIC, "the attention scores of row (%lld, %lld, %lld) overflow %s (log-sum-exp "
                       "%g): |q.k| * scale must stay below %g", (long long)(i / (g->Hq * g->L) + 1),
                       (long long)(i / g->L % g->Hq + 1), (long long)(i % g->L + 1),
                       lse->dtype == ML_F32 ? "f32" : "f64", v,
                       lse->dtype == ML_F32 ? 3.4028234663852886e38 : 1.7976931348623157e308);
    }
    return ML_OK;
}

/* 1 when a row's log-sum-exp says the SIMD kernels' float shift (the row max in log2 units, shared by all of a
 * row's exponents) is too coarse: |lse| >= 2^21 gives it an ulp of at least 1/4, and +inf, or NaN from finite
 * inputs, shows an exponent out of range; -inf (every key masked) is fine, and NaN inputs propagate. The
 * portable kernel subtracts the max exactly. */
static int lse_needs_portable(const attn_geom *g, const float *lse, int *fin, const ml_tensor *q,
                              const ml_tensor *k, const ml_tensor *mask) {
    int64_t n = g->B * g->Hq * g->L;
    int nan = 0;
    for (int64_t i = 0; i < n; i++) {
        if (lse[i] != lse[i]) nan = 1;
        else if (!(fabsf(lse[i]) < 2097152.0f) && lse[i] != -INFINITY) return 1;
    }
    return nan && inputs_finite(fin, q, k, mask);
}

/* Gated SDPA forward (Qiu et al. 2025, eq. 5; G1 gate Y' = Y ⊙ act(Z), §2.2). Queries are tiled in
 * blocks of 64 rows against 64-key blocks with an online softmax (Dao et al. FlashAttention
 * recurrence); causal/window blocks outside every row's range are never visited. */
int ml_attn_forward(const ml_attn_opts *o, const ml_tensor *q, const ml_tensor *k,
                    const ml_tensor *v, const ml_tensor *mask, const ml_tensor *gate,
                    ml_tensor *out, ml_tensor *lse, ml_tensor *y, ml_tensor *probs) {
    int bad, rc = ml_attn_check(o, q, k, v, mask, gate, &bad);
    if (rc) return rc;
    attn_geom g;
    attn_geom_init(&g, o, q, k, v, mask, gate);
    const int64_t oshape[4] = {g.B, g.Hq, g.L, g.Ev}, pshape[4] = {g.B, g.Hq, g.L, g.S};
    if ((rc = check_out(out, "out", q->dtype, 4, oshape))) return rc;
    if ((rc = check_out(lse, "lse", q->dtype, 3, oshape))) return rc;
    if (y && (rc = check_out(y, "y", q->dtype, 4, oshape))) return rc;
    if (probs && (rc = check_out(probs, "probs", q->dtype, 4, pshape))) return rc;
    int fin = -1; /* inputs_finite's cache */
    if (q->dtype == ML_F32) {
        int simd = ml_cpu_isa() == ML_ISA_AVX512 || attn_have_avx2();
        if (ml_cpu_isa() == ML_ISA_AVX512)
            rc = attn_forward_f32_avx512(&g, ml_f32(q), ml_f32(k), ml_f32(v), gate ? ml_f32(gate) : NULL,
                                         ml_f32(out), ml_f32(lse), y ? ml_f32(y) : NULL);
        else if (simd)
            rc = attn_forward_f32_avx2(&g, ml_f32(q), ml_f32(k), ml_f32(v), gate ? ml_f32(gate) : NULL,
                                       ml_f32(out), ml_f32(lse), y ? ml_f32(y) : NULL);
        if (!rc && (!simd || lse_needs_portable(&g, ml_f32(lse), &fin, q, k, mask)))
            rc = forward_f32(&g, ml_f32(q), ml_f32(k), ml_f32(v), gate ? ml_f32(gate) : NULL,
                             ml_f32(out), ml_f32(lse), y ? ml_f32(y) : NULL);
        if (!rc) rc = check_lse(&g, lse, &fin, q, k, mask);
        if (!rc && probs) probs_f32(&g, ml_f32(q), ml_f32(k), ml_f32(lse), ml_f32(probs));
    } else {
        rc = forward_f64(&g, ml_f64(q), ml_f64(k), ml_f64(v), gate ? ml_f64(gate) : NULL,
                         ml_f64(out), ml_f64(lse), y ? ml_f64(y) : NULL);
        if (!rc) rc = check_lse(&g, lse, &fin, q, k, mask);
        if (!rc && probs) probs_f64(&g, ml_f64(q), ml_f64(k), ml_f64(lse), ml_f64(probs));
    }
    return rc;
}
