/* moonlab moe — a SwiGLU mixture-of-experts feed-forward layer built from route/dispatch/combine: router
 * logits x Wr, top-k routing, per-expert FFN_e(x) = (silu(x W1_e) * (x W3_e)) W2_e on the expert's block of
 * dispatched rows (one cblas GEMM per expert and matrix), weighted combine; forward and exact backward. */
#include <stdlib.h>
#include <cblas.h>
#include <omp.h>
#include "moe_internal.h"

struct ml_moe_layer_cache {
    ml_dtype dt;
    int64_t T, K, E, D, F, cap;
    ml_tensor logits, weights;
    int64_t *experts, *counts, *offsets, *order, *dropped, n_order;
    void *xs, *h1, *h3, *act, *ys; /* [cap,D] [cap,F] [cap,F] [cap,F] [cap,D] */
    double aux, z;
};

static void gemm(ml_dtype dt, int ta, int tb, int64_t M, int64_t N, int64_t K, const void *A, int64_t lda,
                 const void *B, int64_t ldb, double beta, void *C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    if (dt == ML_F32)
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N,
                    (int)K, 1.0f, A, (int)lda, B, (int)ldb, (float)beta, C, (int)ldc);
    else
        cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N,
                    (int)K, 1.0, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

static void *off(ml_dtype dt, void *p, int64_t i) { return (char *)p + (size_t)i * ml_dtype_size(dt); }

void ml_moe_layer_cache_free(ml_moe_layer_cache *c) {
    if (!c) return;
    ml_tensor_release(&c->logits);
    ml_tensor_release(&c->weights);
    free(c->experts); free(c->counts); free(c->offsets); free(c->order); free(c->dropped);
    free(c->xs); free(c->h1); free(c->h3); free(c->act); free(c->ys);
    free(c);
}

static int check_layer(const ml_moe_layer *m, ml_dtype dt) {
    int64_t D = m->d_model, F = m->d_ff, E = m->experts;
    if (D < 1 || F < 1 || E < 1) return ml_fail(ML_EINVAL, "d_model, d_ff and experts must be >= 1");
    const ml_tensor *p[4] = {m->wr, m->w1, m->w3, m->w2};
    int64_t shp[4][3] = {{D, E, 0}, {E, D, F}, {E, D, F}, {E, F, D}};
    const char *nm[4] = {"wr", "w1", "w3", "w2"};
    for (int i = 0; i < 4; i++) {
        int nd = i == 0 ? 2 : 3;
        if (!p[i] || p[i]->dtype != dt || p[i]->ndim != nd)
            return ml_fail(ML_EINVAL, "parameter %s must be a %s tensor of %d dims", nm[i], ml_dtype_name(dt), nd);
        for (int j = 0; j < nd; j++)
            if (p[i]->shape[j] != shp[i][j]) return ml_fail(ML_EINVAL, "parameter %s has the wrong shape", nm[i]);
    }
    return ML_OK;
}

ml_moe_layer_cache *ml_moe_layer_cache_new(const ml_moe_layer *m, ml_dtype dt, int64_t T) {
    ml_moe_route_opts o = m->route;
    o.index_base = 0;
    int64_t K, co, cd, D = m->d_model, F = m->d_ff, E = m->experts;
    if (check_layer(m, dt) || ml_moe_route_bounds(&o, T, E, &K, &co, &cd)) return NULL;
    int64_t big;
    if (__builtin_mul_overflow(co, (D > F ? D : F), &big) || big > ((int64_t)1 << 40)) {
        ml_fail(ML_ENOMEM, "MoE layer cache for %lld tokens overflows", (long long)T);
        return NULL;
    }
    ml_moe_layer_cache *c = calloc(1, sizeof *c);
    if (!c) { ml_fail(ML_ENOMEM, "out of memory"); return NULL; }
    c->dt = dt; c->T = T; c->K = K; c->E = E; c->D = D; c->F = F; c->cap = co;
    size_t es = ml_dtype_size(dt), n1 = (size_t)(co > 0 ? co : 1);
    int64_t ls[2] = {T, E}, ws[2] = {T, K};
    int rc = ml_tensor_init(&c->logits, dt, 2, ls);
    if (!rc) rc = ml_tensor_init(&c->weights, dt, 2, ws);
    c->experts = malloc((size_t)(T * K + 1) * sizeof(int64_t));
    c->counts = malloc((size_t)E * sizeof(int64_t));
    c->offsets = malloc((size_t)(E + 1) * sizeof(int64_t));
    c->order = malloc(n1 * 2 * sizeof(int64_t));
    c->dropped = malloc((size_t)(cd + 1) * 2 * sizeof(int64_t));
    c->xs = malloc(n1 * D * es); c->ys = malloc(n1 * D * es);
    c->h1 = malloc(n1 * F * es); c->h3 = malloc(n1 * F * es); c->act = malloc(n1 * F * es);
    if (rc || !c->experts || !c->counts || !c->offsets || !c->order || !c->dropped || !c->xs || !c->ys || !c->h1 ||
        !c->h3 || !c->act) {
        ml_moe_layer_cache_free(c);
        ml_fail(ML_ENOMEM, "out of memory for the MoE layer cache of %lld tokens", (long long)T);
        return NULL;
    }
    return c;
}

const ml_tensor *ml_moe_layer_cache_logits(const ml_moe_layer_cache *c) { return &c->logits; }
const ml_tensor *ml_moe_layer_cache_weights(const ml_moe_layer_cache *c) { return &c->weights; }
const int64_t *ml_moe_layer_cache_experts(const ml_moe_layer_cache *c) { return c->experts; }
const int64_t *ml_moe_layer_cache_counts(const ml_moe_layer_cache *c) { return c->counts; }
double ml_moe_layer_cache_aux(const ml_moe_layer_cache *c, double *z_loss) {
    if (z_loss) *z_loss = c->z;
    return c->aux;
}

/* The SwiGLU elementwise parts for one float type TY (EXP its exp), over n elements:
 * swiglu_SFX: act = silu(h1) * h3;
 * swiglu_back_SFX: from da: dh1 = da * h3 * silu'(h1) (into da's buffer d1), dh3 = da * silu(h1) (into d3). */
#define SWIGLU(SFX, TY, EXP)                                                                                   \
    static void swiglu_##SFX(const TY *a, const TY *b, TY *o, int64_t n) {                                     \
        _Pragma("omp parallel for schedule(static) if (n > 65536)")                                            \
        for (int64_t i = 0; i < n; i++) o[i] = a[i] / ((TY)1 + EXP(-a[i])) * b[i];                             \
    }                                                                                                          \
    static void swiglu_back_##SFX(const TY *a, const TY *b, TY *g, TY *g3, int64_t n) {                        \
        _Pragma("omp parallel for schedule(static) if (n > 65536)")                                            \
        for (int64_t i = 0; i < n; i++) {                                                                      \
            TY s = (TY)1 / ((TY)1 + EXP(-a[i])), da = g[i];                                                    \
            g3[i] = da * a[i] * s;                                                                             \
            g[i] = da * b[i] * s * ((TY)1 + a[i] * ((TY)1 - s));                                               \
        }                                                                                                      \
    }
SWIGLU(f32, float, expf)
SWIGLU(f64, double, exp)

static void swiglu(ml_dtype dt, const void *h1, const void *h3, void *act, int64_t n) {
    if (dt == ML_F32) swiglu_f32(h1, h3, act, n);
    else swiglu_f64(h1, h3, act, n);
}

static void swiglu_back(ml_dtype dt, const void *h1, const void *h3, void *d1, void *d3, int64_t n) {
    if (dt == ML_F32) swiglu_back_f32(h1, h3, d1, d3, n);
    else swiglu_back_f64(h1, h3, d1, d3, n);
}

int ml_moe_layer_forward(const ml_moe_layer *m, const ml_tensor *x, ml_moe_layer_cache *c, ml_tensor *y) {
    ml_dtype dt = x->dtype;
    int rc = check_layer(m, dt);
    if (rc) return rc;
    int64_t D = m->d_model, F = m->d_ff, E = m->experts;
    if (x->ndim != 2 || x->shape[1] != D || x->shape[0] != c->T || c->dt != dt || c->E != E || c->D != D || c->F != F)
        return ml_fail(ML_EINVAL, "x must be [T,d_model] = [%lld,%lld] like the cache", (long long)c->T, (long long)D);
    if (y->ndim != 2 || y->shape[0] != c->T || y->shape[1] != D || y->dtype != dt)
        return ml_fail(ML_EINVAL, "y must be [T,d_model]");
    int64_t T = c->T;
    gemm(dt, 0, 0, T, E, D, x->data, D, m->wr->data, E, 0.0, c->logits.data, E);
    ml_moe_route_opts o = m->route;
    o.index_base = 0;
    ml_moe_routing r = {c->experts, c->weights.data, NULL, c->counts, c->offsets, c->order, c->cap, c->dropped,
                        c->T * c->K + 1, 0, 0, 0, 0, 0};
    if ((rc = ml_moe_route(&o, &c->logits, &r))) return rc;
    c->n_order = r.n_order;
    c->aux = r.aux_loss;
    c->z = r.z_loss;
    ml_tensor xs, ys;
    int64_t xsh[2] = {r.n_order, D};
    ml_tensor_wrap(&xs, dt, 2, xsh, c->xs);
    ml_tensor_wrap(&ys, dt, 2, xsh, c->ys);
    if ((rc = ml_moe_dispatch(x, c->order, r.n_order, 0, &xs))) return rc;
    for (int64_t e = 0; e < E; e++) {
        int64_t r0 = c->offsets[e], n = c->counts[e];
        if (!n) continue;
        const void *w1 = off(dt, m->w1->data, e * D * F), *w3 = off(dt, m->w3->data, e * D * F);
        const void *w2 = off(dt, m->w2->data, e * F * D);
        gemm(dt, 0, 0, n, F, D, off(dt, c->xs, r0 * D), D, w1, F, 0.0, off(dt, c->h1, r0 * F), F);
        gemm(dt, 0, 0, n, F, D, off(dt, c->xs, r0 * D), D, w3, F, 0.0, off(dt, c->h3, r0 * F), F);
        swiglu(dt, off(dt, c->h1, r0 * F), off(dt, c->h3, r0 * F), off(dt, c->act, r0 * F), n * F);
        gemm(dt, 0, 0, n, D, F, off(dt, c->act, r0 * F), F, w2, D, 0.0, off(dt, c->ys, r0 * D), D);
    }
    /* padding rows of ys are never read by combine (their order entries are -1) */
    return ml_moe_combine(&ys, c->order, r.n_order, 0, c->K, &c->weights, y);
}

int ml_moe_layer_backward(const ml_moe_layer *m, const ml_tensor *x, const ml_tensor *dy,
                          const ml_moe_layer_cache *c, double daux, double dz, ml_tensor *dx, ml_tensor *dwr,
                          ml_tensor *dw1, ml_tensor *dw3, ml_tensor *dw2) {
    ml_dtype dt = x->dtype;
    int rc = check_layer(m, dt);
    if (rc) return rc;
    int64_t D = m->d_model, F = m->d_ff, E = m->experts, T = c->T, K = c->K, N = c->n_order;
    if (!ml_tensor_same_shape(x, dy) || dy->dtype != dt || !ml_tensor_same_shape(x, dx) || dx->dtype != dt ||
        x->shape[0] != T)
        return ml_fail(ML_EINVAL, "x, dy and dx must be [T,d_model] like the forward");
    if (!ml_tensor_same_shape(dwr, m->wr) || !ml_tensor_same_shape(dw1, m->w1) || !ml_tensor_same_shape(dw3, m->w3) ||
        !ml_tensor_same_shape(dw2, m->w2) || dwr->dtype != dt || dw1->dtype != dt || dw3->dtype != dt || dw2->dtype != dt)
        return ml_fail(ML_EINVAL, "parameter gradients must have the shapes and dtype of the parameters");
    size_t es = ml_dtype_size(dt), n1 = (size_t)(N > 0 ? N : 1);
    void *dys = malloc(n1 * D * es), *dxs = malloc(n1 * D * es), *d1 = malloc(n1 * F * es), *d3 = malloc(n1 * F * es);
    ml_tensor dwt = {0}, dlg = {0};
    int64_t ws[2] = {T, K}, ls[2] = {T, E};
    if (!dys || !dxs || !d1 || !d3 || ml_tensor_init(&dwt, dt, 2, ws) || ml_tensor_init(&dlg, dt, 2, ls)) {
        rc = ml_fail(ML_ENOMEM, "out of memory for the MoE layer backward");
        goto done;
    }
    /* dys[i] = w[t,j] dy[t]; dweights[t,j] = dy[t] . ys[i] */
    #pragma omp parallel for schedule(static) if (N * D > 32768)
    for (int64_t i = 0; i < N; i++) {
        int64_t t = c->order[2 * i], j = c->order[2 * i + 1];
        if (t < 0) continue;
        if (dt == ML_F32) {
            const float *g = ml_f32(dy) + t * D, *yr = (const float *)c->ys + i * D;
            float w = ml_f32(&c->weights)[t * K + j], *o = (float *)dys + i * D, s = 0;
            for (int64_t d = 0; d < D; d++) { o[d] = w * g[d]; s += g[d] * yr[d]; }
            ml_f32(&dwt)[t * K + j] = s;
        } else {
            const double *g = ml_f64(dy) + t * D, *yr = (const double *)c->ys + i * D;
            double w = ml_f64(&c->weights)[t * K + j], *o = (double *)dys + i * D, s = 0;
            for (int64_t d = 0; d < D; d++) { o[d] = w * g[d]; s += g[d] * yr[d]; }
            ml_f64(&dwt)[t * K + j] = s;
        }
    }
    ml_tensor_fill(dw1, 0); ml_tensor_fill(dw3, 0); ml_tensor_fill(dw2, 0);
    for (int64_t e = 0; e < E; e++) {
        int64_t r0 = c->offsets[e], n = c->counts[e];
        if (!n) continue;
        const void *w1 = off(dt, m->w1->data, e * D * F), *w3 = off(dt, m->w3->data, e * D * F);
        const void *w2 = off(dt, m->w2->data, e * F * D);
        void *g = off(dt, dys, r0 * D), *xe = off(dt, c->xs, r0 * D);
        gemm(dt, 1, 0, F, D, n, off(dt, c->act, r0 * F), F, g, D, 0.0, off(dt, dw2->data, e * F * D), D);
        gemm(dt, 0, 1, n, F, D, g, D, w2, D, 0.0, off(dt, d1, r0 * F), F);
        swiglu_back(dt, off(dt, c->h1, r0 * F), off(dt, c->h3, r0 * F), off(dt, d1, r0 * F), off(dt, d3, r0 * F), n * F);
        gemm(dt, 1, 0, D, F, n, xe, D, off(dt, d1, r0 * F), F, 0.0, off(dt, dw1->data, e * D * F), F);
        gemm(dt, 1, 0, D, F, n, xe, D, off(dt, d3, r0 * F), F, 0.0, off(dt, dw3->data, e * D * F), F);
        gemm(dt, 0, 1, n, D, F, off(dt, d1, r0 * F), F, w1, F, 0.0, off(dt, dxs, r0 * D), D);
        gemm(dt, 0, 1, n, D, F, off(dt, d3, r0 * F), F, w3, F, 1.0, off(dt, dxs, r0 * D), D);
    }
    ml_tensor dxt;
    int64_t xsh[2] = {N, D};
    ml_tensor_wrap(&dxt, dt, 2, xsh, dxs);
    if ((rc = ml_moe_combine(&dxt, c->order, N, 0, K, NULL, dx))) goto done;
    ml_moe_route_opts o = m->route;
    o.index_base = 0;
    if ((rc = ml_moe_route_backward(&o, &c->logits, c->experts, &c->weights, &dwt, daux, dz, &dlg))) goto done;
    gemm(dt, 1, 0, D, E, T, x->data, D, dlg.data, E, 0.0, dwr->data, E);
    gemm(dt, 0, 1, T, D, E, dlg.data, E, m->wr->data, E, 1.0, dx->data, D);
done:
    free(dys); free(dxs); free(d1); free(d3);
    ml_tensor_release(&dwt); ml_tensor_release(&dlg);
    return rc;
}
