/* moonlab attn — options, input validation and call geometry. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include "attn_internal.h"

ml_attn_opts ml_attn_defaults(void) {
    ml_attn_opts o;
    o.scale = NAN;
    o.causal = 0;
    o.causal_align = ML_ATTN_TOP_LEFT;
    o.window = 0;
    o.mask_mode = ML_ATTN_MASK_ADD;
    o.gate_act = ML_GATE_SIGMOID;
    o.gate_op = ML_GATE_MUL;
    return o;
}

static int bad_arg(int *bad, int which) {
    if (bad) *bad = which;
    return ML_EINVAL;
}

/* Validates the shapes and options of a forward call (see attn.h). */
int ml_attn_check(const ml_attn_opts *o, const ml_tensor *q, const ml_tensor *k, const ml_tensor *v,
                  const ml_tensor *mask, const ml_tensor *gate, int *bad) {
    char s[96];
    if (bad) *bad = 0;
    if (!q || q->ndim != 4 || q->numel == 0) {
        ml_fail(ML_EINVAL, "expected [B,Hq,L,E] (4 dims, non-empty), got %s",
                q ? ml_shape_str(q, s, sizeof s) : "nothing");
        return bad_arg(bad, ML_ATTN_ARG_Q);
    }
    if (!k || k->ndim != 4 || k->numel == 0 || k->shape[0] != q->shape[0] ||
        k->shape[3] != q->shape[3] || k->shape[1] <= 0 || q->shape[1] % k->shape[1] != 0) {
        ml_fail(ML_EINVAL,
                "expected [B,Hkv,S,E] = [%lld,Hkv,S,%lld] with Hq %% Hkv == 0 (Hq = %lld), got %s",
                (long long)q->shape[0], (long long)q->shape[3], (long long)q->shape[1],
                k ? ml_shape_str(k, s, sizeof s) : "nothing");
        return bad_arg(bad, ML_ATTN_ARG_K);
    }
    if (!ml_dtype_is_float(q->dtype)) {
        ml_fail(ML_EINVAL, "expected dtype f32 or f64, got %s", ml_dtype_name(q->dtype));
        return bad_arg(bad, ML_ATTN_ARG_Q);
    }
    if (k->dtype != q->dtype) {
        ml_fail(ML_EINVAL, "expected dtype %s like q, got %s", ml_dtype_name(q->dtype),
                ml_dtype_name(k->dtype));
        return bad_arg(bad, ML_ATTN_ARG_K);
    }
    if (!v || v->ndim != 4 || v->numel == 0 || v->shape[0] != k->shape[0] ||
        v->shape[1] != k->shape[1] || v->shape[2] != k->shape[2]) {
        ml_fail(ML_EINVAL, "expected [B,Hkv,S,Ev] = [%lld,%lld,%lld,Ev], got %s",
                (long long)k->shape[0], (long long)k->shape[1], (long long)k->shape[2],
                v ? ml_shape_str(v, s, sizeof s) : "nothing");
        return bad_arg(bad, ML_ATTN_ARG_V);
    }
    if (v->dtype != q->dtype) {
        ml_fail(ML_EINVAL, "expected dtype %s like q, got %s", ml_dtype_name(q->dtype),
                ml_dtype_name(v->dtype));
        return bad_arg(bad, ML_ATTN_ARG_V);
    }
    if (q->shape[2] > INT32_MAX || k->shape[2] > INT32_MAX || q->shape[3] > 65536 ||
        v->shape[3] > 65536) {
        ml_fail(ML_EINVAL, "expected L, S < 2^31 and E, Ev <= 65536, got q %s",
                ml_shape_str(q, s, sizeof s));
        return bad_arg(bad, ML_ATTN_ARG_Q);
    }
    if (!isnan(o->scale) && (!isfinite(o->scale))) {
        ml_fail(ML_EINVAL, "expected a finite number, got %g", o->scale);
        return bad_arg(bad, ML_ATTN_ARG_SCALE);
    }
    if (q->dtype == ML_F32 && fabs(o->scale) > FLT_MAX) { /* as f32 it is inf: every score inf or NaN */
        ml_fail(ML_EINVAL, "expected |scale| <= %g for f32, got %g", FLT_MAX, o->scale);
        return bad_arg(bad, ML_ATTN_ARG_SCALE);
    }
    if (o->window < 0) {
        ml_fail(ML_EINVAL, "expected a positive integer, got %lld", (long long)o->window);
        return bad_arg(bad, ML_ATTN_ARG_WINDOW);
    }
    if (o->causal_align != ML_ATTN_TOP_LEFT && o->causal_align != ML_ATTN_BOTTOM_RIGHT) {
        ml_fail(ML_EINVAL, "expected causal_align top_left or bottom_right, got %d", o->causal_align);
        return bad_arg(bad, ML_ATTN_ARG_OTHER);
    }
    if (o->gate_act < 0 || o->gate_act > 2 || o->gate_op < 0 || o->gate_op > 1) {
        ml_fail(ML_EINVAL, "expected gate_act 0..2 and gate_op 0..1, got %d, %d", o->gate_act, o->gate_op);
        return bad_arg(bad, ML_ATTN_ARG_OTHER);
    }
    if (mask && !ml_dtype_is_float(mask->dtype)) {
        ml_fail(ML_EINVAL, "expected an f32 or f64 mask (the Lua module turns bool and integer masks into "
                "keep-masks), got %s", ml_dtype_name(mask->dtype));
        return bad_arg(bad, ML_ATTN_ARG_MASK);
    }
    if (mask) {
        const int64_t full[4] = {q->shape[0], q->shape[1], q->shape[2], k->shape[2]};
        int ok = mask->ndim >= 1 && mask->ndim <= 4;
        for (int d = 0; ok && d < mask->ndim; d++) {
            int64_t m = mask->shape[mask->ndim - 1 - d], f = full[3 - d];
            if (m != 1 && m != f) ok = 0;
        }
        if (!ok) {
            ml_fail(ML_EINVAL, "expected a mask broadcastable to [B,Hq,L,S] = [%lld,%lld,%lld,%lld], got %s",
                    (long long)full[0], (long long)full[1], (long long)full[2], (long long)full[3],
                    ml_shape_str(mask, s, sizeof s));
            return bad_arg(bad, ML_ATTN_ARG_MASK);
        }
    }
    if (gate) {
        int ok = gate->ndim == 4 && gate->shape[0] == q->shape[0] && gate->shape[1] == q->shape[1] &&
                 gate->shape[2] == q->shape[2] && (gate->shape[3] == 1 || gate->shape[3] == v->shape[3]);
        if (!ok) {
            ml_fail(ML_EINVAL, "expected [B,Hq,L,Ev] = [%lld,%lld,%lld,%lld] (elementwise) or [%lld,%lld,%lld,1] (headwise), got %s",
                    (long long)q->shape[0], (long long)q->shape[1], (long long)q->shape[2],
                    (long long)v->shape[3], (long long)q->shape[0], (long long)q->shape[1],
                    (long long)q->shape[2], ml_shape_str(gate, s, sizeof s));
            return bad_arg(bad, ML_ATTN_ARG_GATE);
        }
        if (gate->dtype != q->dtype) {
            ml_fail(ML_EINVAL, "expected dtype %s like q, got %s", ml_dtype_name(q->dtype),
                    ml_dtype_name(gate->dtype));
            return bad_arg(bad, ML_ATTN_ARG_GATE);
        }
    }
    return ML_OK;
}

void attn_geom_init(attn_geom *g, const ml_attn_opts *o, const ml_tensor *q, const ml_tensor *k,
                    const ml_tensor *v, const ml_tensor *mask, const ml_tensor *gate) {
    g->B = q->shape[0]; g->Hq = q->shape[1]; g->L = q->shape[2]; g->E = q->shape[3];
    g->Hkv = k->shape[1]; g->S = k->shape[2]; g->Ev = v->shape[3];
    g->rep = g->Hq / g->Hkv;
    g->scale = isnan(o->scale) ? 1.0 / sqrt((double)g->E) : o->scale;
    /* A window longer than L + S restricts nothing (|d(i)| <= L + S); clamping it keeps
     * d - window + 1 in range for window = INT64_MAX (no signed overflow). */
    g->window = o->window > g->L + g->S ? g->L + g->S : o->window;
    g->causal = o->causal || o->window > 0;
    g->off = o->causal_align == ML_ATTN_BOTTOM_RIGHT ? g->S - g->L : 0;
    g->mask = mask ? mask->data : NULL;
    g->mask_f64 = mask && mask->dtype == ML_F64;
    g->mask_keep = o->mask_mode == ML_ATTN_MASK_KEEP;
    for (int d = 0; d < 4; d++) g->ms[d] = 0;
    if (mask) {
        const int64_t full[4] = {g->B, g->Hq, g->L, g->S};
        int64_t stride = 1;
        for (int d = 3; d >= 0; d--) {
            int md = mask->ndim - 4 + d;
            if (md < 0) break;
            int64_t m = mask->shape[md];
            g->ms[d] = (m == 1 && full[d] != 1) ? 0 : stride;
            if (m == 1) g->ms[d] = 0;
            stride *= m;
        }
    }
    g->gate_act = o->gate_act;
    g->gate_op = o->gate_op;
    g->gdim = gate ? gate->shape[3] : 0;
}
