/* moonlab attn — backward of gated SDPA with P recomputed from the stored log-sum-exp. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include "attn_internal.h"

#define REAL float
#define SFX(n) n##_f32
#define GEMM attn_gemm_f32
#define GEMM_TN attn_gemm_tn_f32
#define EXPSUM attn_expsum_f32
#define GATE_BWD attn_gate_bwd_f32
#include "bwd_tmpl.h"
#undef REAL
#undef SFX
#undef GEMM
#undef GEMM_TN
#undef EXPSUM
#undef GATE_BWD

#define REAL double
#define SFX(n) n##_f64
#define GEMM attn_gemm_f64
#define GEMM_TN attn_gemm_tn_f64
#define EXPSUM attn_expsum_f64
#define GATE_BWD attn_gate_bwd_f64
#include "bwd_tmpl.h"

static int same(const ml_tensor *t, const ml_tensor *ref, int nd, const char *name) {
    char s[96], r[96];
    int ok = t && t->dtype == ref->dtype && t->ndim == nd;
    for (int d = 0; ok && d < nd; d++) ok = t->shape[d] == ref->shape[d];
    if (!ok)
        return ml_fail(ML_EINVAL, "%s: expected %s %s, got %s %s", name, ml_dtype_name(ref->dtype),
                       ml_shape_str(ref, r, sizeof r), t ? ml_dtype_name(t->dtype) : "",
                       t ? ml_shape_str(t, s, sizeof s) : "nothing");
    return ML_OK;
}

/* Backward of gated SDPA (REFERENCE §1): gate first (dg = dY' ⊙ Y, dZ = dg ⊙ act'(Z),
 * dY = dY' ⊙ g), then D_i = Σ_e dY_ie Y_ie, dV = Pᵀ dY, dS = P ⊙ (dY Vᵀ − D), dQ = scale·dS K,
 * dK = scale·dSᵀ Q, with P = exp(scale·QKᵀ + mask − lse) rebuilt per 64×64 block. */
int ml_attn_backward(const ml_attn_opts *o, const ml_tensor *dout, const ml_tensor *q,
                     const ml_tensor *k, const ml_tensor *v, const ml_tensor *mask,
                     const ml_tensor *gate, const ml_tensor *out, const ml_tensor *lse,
                     const ml_tensor *y, ml_tensor *dq, ml_tensor *dk, ml_tensor *dv,
                     ml_tensor *dgate) {
    int bad, rc = ml_attn_check(o, q, k, v, mask, gate, &bad);
    if (rc) return rc;
    attn_geom g;
    attn_geom_init(&g, o, q, k, v, mask, gate);
    if ((rc = same(out, dout, 4, "out"))) return rc;
    if (dout->ndim != 4 || dout->shape[0] != g.B || dout->shape[1] != g.Hq || dout->shape[2] != g.L ||
        dout->shape[3] != g.Ev || dout->dtype != q->dtype) {
        char s[96];
        return ml_fail(ML_EINVAL, "dout: expected [B,Hq,L,Ev] = [%lld,%lld,%lld,%lld] of dtype %s, got %s",
                       (long long)g.B, (long long)g.Hq, (long long)g.L, (long long)g.Ev,
                       ml_dtype_name(q->dtype), ml_shape_str(dout, s, sizeof s));
    }
    if (!lse || lse->ndim != 3 || lse->shape[0] != g.B || lse->shape[1] != g.Hq ||
        lse->shape[2] != g.L || lse->dtype != q->dtype)
        return ml_fail(ML_EINVAL, "lse: expected [B,Hq,L] = [%lld,%lld,%lld] of dtype %s",
                       (long long)g.B, (long long)g.Hq, (long long)g.L, ml_dtype_name(q->dtype));
    if ((rc = same(dq, q, 4, "dq")) || (rc = same(dk, k, 4, "dk")) || (rc = same(dv, v, 4, "dv")))
        return rc;
    if (gate && dgate && (rc = same(dgate, gate, 4, "dgate"))) return rc;
    if (y && (rc = same(y, dout, 4, "y"))) return rc;

    ml_tensor ytmp = {0}, ltmp = {0}, dztmp = {0};
    const ml_tensor *yy = gate ? y : out;
    if (!yy) { /* recompute the pre-gate output */
        if ((rc = ml_tensor_init(&ytmp, q->dtype, 4, dout->shape))) return rc;
        if ((rc = ml_tensor_init(&ltmp, q->dtype, 3, dout->shape))) { ml_tensor_release(&ytmp); return rc; }
        rc = ml_attn_forward(o, q, k, v, mask, NULL, &ytmp, &ltmp, NULL, NULL);
        ml_tensor_release(&ltmp);
        if (rc) { ml_tensor_release(&ytmp); return rc; }
        yy = &ytmp;
    }
    ml_tensor *dz = dgate;
    if (gate && !dz) {
        if ((rc = ml_tensor_init(&dztmp, q->dtype, 4, gate->shape))) { ml_tensor_release(&ytmp); return rc; }
        dz = &dztmp;
    }
    if (q->dtype == ML_F32)
        rc = backward_f32(&g, ml_f32(dout), ml_f32(q), ml_f32(k), ml_f32(v),
                          gate ? ml_f32(gate) : NULL, ml_f32(yy), ml_f32(lse), ml_f32(dq),
                          ml_f32(dk), ml_f32(dv), gate ? ml_f32(dz) : NULL);
    else
        rc = backward_f64(&g, ml_f64(dout), ml_f64(q), ml_f64(k), ml_f64(v),
                          gate ? ml_f64(gate) : NULL, ml_f64(yy), ml_f64(lse), ml_f64(dq),
                          ml_f64(dk), ml_f64(dv), gate ? ml_f64(dz) : NULL);
    ml_tensor_release(&ytmp);
    ml_tensor_release(&dztmp);
    return rc;
}
