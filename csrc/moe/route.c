/* moonlab moe — the router dispatcher: options, validation, token or expert choice, bookkeeping, losses. */
#include <float.h>
#include <stdlib.h>
#include "moe_internal.h"

ml_moe_route_opts ml_moe_route_defaults(void) {
    ml_moe_route_opts o;
    memset(&o, 0, sizeof o);
    o.k = 2;
    o.score = ML_MOE_SOFTMAX;
    o.order = ML_MOE_SOFTMAX_THEN_TOPK;
    o.renormalize = 1;
    o.temperature = 1.0;
    o.route_scale = 1.0;
    o.drop = ML_MOE_DROP_PROBS;
    o.pad_to = 1;
    o.aux_coef = 1e-2;
    o.z_coef = 1e-3;
    return o;
}

/* Validates options against E (T for expert choice). */
static int check_opts(const ml_moe_route_opts *o, int64_t T, int64_t E) {
    if (E < 1) return ml_fail(ML_EINVAL, "logits need at least one expert column, got E = %lld", (long long)E);
    if (!o->expert_choice && (o->k < 1 || o->k > E))
        return ml_fail(ML_EINVAL, "k = %d must lie in [1, E = %lld]", o->k, (long long)E);
    if (o->k > 1024) return ml_fail(ML_EINVAL, "k = %d exceeds 1024", o->k);
    if (!(o->temperature > 0) || !isfinite(o->temperature))
        return ml_fail(ML_EINVAL, "temperature must be a finite number > 0, got %g", o->temperature);
    if (!isfinite(o->route_scale)) return ml_fail(ML_EINVAL, "route_scale must be finite");
    if (!(o->noise_std >= 0) || !isfinite(o->noise_std))
        return ml_fail(ML_EINVAL, "noise std must be finite and >= 0, got %g", o->noise_std);
    if (o->score == ML_MOE_SIGMOID && o->order == ML_MOE_TOPK_THEN_SOFTMAX)
        return ml_fail(ML_EINVAL, "order 'topk_then_softmax' needs score 'softmax'");
    if (o->groups > 1) {
        if (o->groups > 1024 || E % o->groups)
            return ml_fail(ML_EINVAL, "groups = %d must divide E = %lld (at most 1024)", o->groups, (long long)E);
        if (o->group_topk < 1 || o->group_topk > o->groups)
            return ml_fail(ML_EINVAL, "group_topk = %d must lie in [1, groups = %d]", o->group_topk, o->groups);
        if (!o->expert_choice && (int64_t)o->k > (int64_t)o->group_topk * (E / o->groups))
            return ml_fail(ML_EINVAL, "k = %d exceeds the %lld experts of group_topk = %d groups", o->k,
                           (long long)o->group_topk * (E / o->groups), o->group_topk);
    } else if (o->groups < 0) return ml_fail(ML_EINVAL, "groups must be >= 1, got %d", o->groups);
    if (o->expert_choice && o->capacity < 1)
        return ml_fail(ML_EINVAL, "expert_choice needs capacity >= 1, got %lld", (long long)o->capacity);
    if (!(o->capacity_factor >= 0) || !isfinite(o->capacity_factor))
        return ml_fail(ML_EINVAL, "capacity_factor must be finite and >= 0, got %g", o->capacity_factor);
    if (o->pad_to < 1) return ml_fail(ML_EINVAL, "pad_to must be >= 1, got %lld", (long long)o->pad_to);
    if (o->bias)
        for (int64_t e = 0; e < E; e++)
            if (!isfinite(o->bias[e])) return ml_fail(ML_EINVAL, "bias[%lld] is not finite", (long long)(e + 1));
    (void)T;
    return ML_OK;
}

/* Token-choice capacity: ceil(T*k/E*cf), 0 = unlimited. */
static int64_t token_capacity(const ml_moe_route_opts *o, int64_t T, int64_t E) {
    if (o->expert_choice || o->capacity_factor <= 0) return 0;
    double c = ceil((double)T * o->k / (double)E * o->capacity_factor);
    return c < 1 ? 1 : (int64_t)c;
}

int ml_moe_route_bounds(const ml_moe_route_opts *o, int64_t T, int64_t E, int64_t *K, int64_t *cap_order,
                        int64_t *cap_dropped) {
    int rc = check_opts(o, T, E);
    if (rc) return rc;
    if (T < 0) return ml_fail(ML_EINVAL, "T must be >= 0");
    int64_t kk = o->expert_choice ? E : o->k, n, pad = o->pad_to > 1 ? o->pad_to - 1 : 0;
    if (__builtin_mul_overflow(T, kk, &n) || n > INT64_MAX / 4 || (pad && E > (INT64_MAX / 4 - n) / pad))
        return ml_fail(ML_ENOMEM, "routing of %lld tokens over %lld experts overflows", (long long)T, (long long)E);
    *K = kk;
    *cap_order = n + pad * E;
    /* token choice drops only under a capacity limit (1 row otherwise, so that callers can allocate it) */
    *cap_dropped = o->expert_choice ? T : token_capacity(o, T, E) > 0 ? n : 1;
    return ML_OK;
}

int ml_moe_route(const ml_moe_route_opts *o, const ml_tensor *logits, ml_moe_routing *r) {
    if (!logits || logits->ndim != 2 || (logits->dtype != ML_F32 && logits->dtype != ML_F64))
        return ml_fail(ML_EINVAL, "logits must be a [T,E] f32/f64 tensor");
    int64_t T = logits->shape[0], E = logits->shape[1], K, co, cd;
    int rc = ml_moe_route_bounds(o, T, E, &K, &co, &cd);
    if (rc) return rc;
    if (logits->dtype == ML_F32 && !(fabs(o->route_scale) <= FLT_MAX)) /* the weights would be inf or NaN */
        return ml_fail(ML_EINVAL, "route_scale = %g is beyond the f32 range of the weights", o->route_scale);
    if (r->cap_order < co || r->cap_dropped < cd)
        return ml_fail(ML_EINVAL, "order/dropped buffers need %lld/%lld rows", (long long)co, (long long)cd);
    ml_tensor W;
    int64_t wsh[2] = {T, K};
    if ((rc = ml_tensor_wrap(&W, logits->dtype, 2, wsh, r->weights))) return rc;
    double *P = calloc((size_t)E, sizeof(double));
    int64_t *assigned = calloc((size_t)E, sizeof(int64_t));
    double *s = NULL, *rank = NULL;
    double zsum = 0, hsum = 0;
    if (!P || !assigned) { rc = ml_fail(ML_ENOMEM, "moe.route: out of memory"); goto done; }
    if (!o->expert_choice) {
        if (token_capacity(o, T, E) > 0 && o->drop == ML_MOE_DROP_PROBS) {
            rank = malloc((size_t)(T * K > 0 ? T * K : 1) * sizeof(double));
            if (!rank) { rc = ml_fail(ML_ENOMEM, "moe.route: out of memory"); goto done; }
        }
        if ((rc = moe_route_tokens(o, logits, r->experts, &W, r->probs, P, &zsum, &hsum, rank))) goto done;
    } else {
        s = malloc((size_t)(T * E > 0 ? T * E : 1) * sizeof(double));
        if (!s) { rc = ml_fail(ML_ENOMEM, "moe.route: out of memory for [T,E] scores"); goto done; }
        if ((rc = moe_route_scores(o, logits, s, P, &zsum, &hsum))) goto done;
        if ((rc = moe_expert_choice(o, T, E, o->capacity, s, r->experts, &W))) goto done;
        if (r->probs) {
            ml_tensor Pt;
            int64_t psh[2] = {T, E};
            ml_tensor_wrap(&Pt, logits->dtype, 2, psh, r->probs);
            for (int64_t i = 0; i < T * E; i++) ml_tensor_setd(&Pt, i, s[i]);
        }
    }
    if (!isfinite(zsum)) { /* f64 logits beyond ~1e154: sum of lse^2 overflows */
        rc = ml_fail(ML_EINVAL, "the z-loss sum over rows of logsumexp^2 overflows (logsumexp of magnitude near or "
                     "above %.3g)", sqrt(DBL_MAX / (double)(T > 0 ? T : 1)));
        goto done;
    }
    if ((rc = moe_build_order(o, T, K, E, token_capacity(o, T, E), rank, &W, r, assigned))) goto done;
    if (o->expert_choice) { /* dropped = tokens that no expert took */
        int64_t nd = 0;
        for (int64_t t = 0; t < T; t++)
            if (r->experts[t * K] == o->index_base - 1) {
                r->dropped[2 * nd] = t + o->index_base;
                r->dropped[2 * nd + 1] = o->index_base - 1;
                nd++;
            }
        r->n_dropped = nd;
    }
    int64_t tot = 0;
    for (int64_t e = 0; e < E; e++) tot += assigned[e];
    double fp = 0;
    for (int64_t e = 0; e < E; e++) fp += (tot > 0 ? (double)assigned[e] / (double)tot : 0.0) * P[e];
    r->aux_loss = T > 0 ? o->aux_coef * (double)E * fp / (double)T : 0.0;
    r->z_loss = T > 0 ? o->z_coef * zsum / (double)T : 0.0;
    r->entropy = T > 0 ? hsum / (double)T : 0.0;
done:
    free(P); free(assigned); free(s); free(rank);
    return rc;
}
