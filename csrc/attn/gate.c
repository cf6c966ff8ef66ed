/* moonlab attn — the G1 output gate (Qiu et al. 2025, §2.2): activations and the gate projection. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include "attn_internal.h"

static double sigmoid(double z) {
    if (z >= 0) return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

double attn_gate_fn(int act, double z) {
    double s = sigmoid(z);
    switch (act) {
    case ML_GATE_SILU: return z * s;
    case ML_GATE_NS_SIGMOID: return 0.5 + 0.5 * s;
    default: return s;
    }
}

double attn_gate_dfn(int act, double z) {
    double s = sigmoid(z);
    switch (act) {
    case ML_GATE_SILU: return s + z * s * (1.0 - s);
    case ML_GATE_NS_SIGMOID: return 0.5 * s * (1.0 - s);
    default: return s * (1.0 - s);
    }
}

/* g = act(z): sigmoid (the paper's choice), SiLU, or NS-sigmoid 0.5 + 0.5·sigmoid (§3.2 controls). */
double ml_attn_gate_value(int act, double z) { return attn_gate_fn(act, z); }
/* d act / dz, used by the backward: dZ = dg ⊙ act'(Z) (REFERENCE §1). */
double ml_attn_gate_deriv(int act, double z) { return attn_gate_dfn(act, z); }

/* Gate projection Z = X W_θ (§2.2, eq. 4-5) for the three weight layouts of attn.h. */
int ml_attn_gate_scores(int layout, int shared, int64_t hq, int64_t hkv, int64_t dh,
                        const ml_tensor *x, const ml_tensor *w, ml_tensor *z, ml_tensor *qout) {
    char s1[64], s2[64];
    if (!x || x->ndim != 3) return ml_fail(ML_EINVAL, "x: expected [B,L,D], got %s", x ? ml_shape_str(x, s1, sizeof s1) : "nothing");
    if (!w || w->ndim != 2 || w->shape[0] != x->shape[2])
        return ml_fail(ML_EINVAL, "w_gate: expected [D=%lld,N], got %s", (long long)x->shape[2],
                       w ? ml_shape_str(w, s1, sizeof s1) : "nothing");
    if (w->dtype != x->dtype) return ml_fail(ML_EINVAL, "w_gate: expected dtype %s like x, got %s", ml_dtype_name(x->dtype), ml_dtype_name(w->dtype));
    if (!z || z->ndim != 4 || z->shape[0] != x->shape[0] || z->shape[1] != hq || z->shape[2] != x->shape[1] || z->dtype != x->dtype)
        return ml_fail(ML_EINVAL, "z: expected [B,Hq,L,G], got %s", z ? ml_shape_str(z, s1, sizeof s1) : "nothing");
    if (hq <= 0 || hkv <= 0 || hq % hkv != 0 || dh <= 0)
        return ml_fail(ML_EINVAL, "heads: expected Hq %% Hkv == 0 and head_dim > 0, got Hq=%lld Hkv=%lld Dh=%lld", (long long)hq, (long long)hkv, (long long)dh);
    const int64_t B = x->shape[0], L = x->shape[1], D = x->shape[2], G = z->shape[3], N = w->shape[1];
    const int64_t R = hq / hkv;
    int64_t expect, qd_, zd_, sum_;
    /* Column count of W for the layout (hq·dh + hq·G for the fused ones), overflow-checked. */
    if (__builtin_mul_overflow(hq, dh, &qd_) || __builtin_mul_overflow(hq, G, &zd_) ||
        __builtin_add_overflow(qd_, zd_, &sum_) || B > INT32_MAX || L > INT32_MAX || D > INT32_MAX ||
        N > INT32_MAX || B * L > INT32_MAX)
        return ml_fail(ML_EINVAL, "heads: expected sizes below 2^31, got Hq=%lld head_dim=%lld G=%lld for x %s",
                       (long long)hq, (long long)dh, (long long)G, ml_shape_str(x, s1, sizeof s1));
    if (layout == ML_GATE_LAYOUT_SEPARATE) expect = shared ? G : zd_;
    else if (layout == ML_GATE_LAYOUT_PER_HEAD || layout == ML_GATE_LAYOUT_KV_GROUP) expect = sum_;
    else return ml_fail(ML_EINVAL, "layout: unknown (%d)", layout);
    if (N != expect)
        return ml_fail(ML_EINVAL, "w_gate: expected [%lld,%lld] for this layout (Hq=%lld, Hkv=%lld, head_dim=%lld, G=%lld), got %s",
                       (long long)D, (long long)expect, (long long)hq, (long long)hkv, (long long)dh, (long long)G,
                       ml_shape_str(w, s2, sizeof s2));
    if (qout && layout != ML_GATE_LAYOUT_SEPARATE &&
        (qout->ndim != 4 || qout->shape[0] != B || qout->shape[1] != hq || qout->shape[2] != L ||
         qout->shape[3] != dh || qout->dtype != x->dtype))
        return ml_fail(ML_EINVAL, "q: expected [B,Hq,L,Dh], got %s", ml_shape_str(qout, s1, sizeof s1));
    size_t es = ml_dtype_size(x->dtype);
    void *p = malloc((size_t)(B * L) * (size_t)N * es);
    if (!p) return ml_fail(ML_ENOMEM, "gate_scores: out of memory for [%lld,%lld]", (long long)(B * L), (long long)N);
    if (x->dtype == ML_F32)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(B * L), (int)N, (int)D, 1.0f,
                    ml_f32(x), (int)D, ml_f32(w), (int)N, 0.0f, p, (int)N);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(B * L), (int)N, (int)D, 1.0,
                    ml_f64(x), (int)D, ml_f64(w), (int)N, 0.0, p, (int)N);
    /* Scatter the product rows [B*L, N] into z [B,Hq,L,G] (and q [B,Hq,L,Dh]). */
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < L; t++) {
            const char *row = (const char *)p + (size_t)((b * L + t) * N) * es;
            for (int64_t h = 0; h < hq; h++) {
                int64_t zoff, qoff = -1;
                if (layout == ML_GATE_LAYOUT_SEPARATE) zoff = shared ? 0 : h * G;
                else if (layout == ML_GATE_LAYOUT_PER_HEAD) { qoff = h * (dh + G); zoff = qoff + dh; }
                else {
                    int64_t grp = h / R, r = h % R, base = grp * (R * dh + R * G);
                    qoff = base + r * dh;
                    zoff = base + R * dh + r * G;
                }
                char *zd = (char *)z->data + (size_t)(((b * hq + h) * L + t) * G) * es;
                memcpy(zd, row + (size_t)zoff * es, (size_t)G * es);
                if (qout && qoff >= 0) {
                    char *qd = (char *)qout->data + (size_t)(((b * hq + h) * L + t) * dh) * es;
                    memcpy(qd, row + (size_t)qoff * es, (size_t)dh * es);
                }
            }
        }
    free(p);
    return ML_OK;
}
