/* Lua bindings of the MoE routers (core.moe_*; wrapped by lua/moonlab/moe.lua). Gaussian-MoE statistics are
 * in lmoe_gmoe.c, the MoE layer in lmoe_layer.c; helpers shared by the three in lmoe.h. */
#include <float.h>
#include <math.h>
#include <string.h>
#include "lmoe.h"

/* ---------------------------------------------------------------- index tensors */

int64_t *lmoe_new_index(lua_State *L, int ndim, const int64_t *shape) {
    ml_tensor *t = mlL_newtensor(L, LMOE_IDX_DTYPE, ndim, shape);
    return (int64_t *)t->data;
}

void lmoe_finish_index(lua_State *L, int idx) {
#if LMOE_IDX_AS_F64
    ml_tensor *t = mlL_testtensor(L, idx);
    int64_t *p = (int64_t *)t->data;
    double *q = (double *)t->data;
    for (int64_t i = 0; i < t->numel; i++) { int64_t v = p[i]; q[i] = (double)v; }
#else
    (void)L; (void)idx;
#endif
}

const int64_t *lmoe_check_index(lua_State *L, int idx, const char *fname, int arg, const char *argname,
                                int64_t numel) {
    ml_tensor *t = mlL_testtensor(L, idx);
    if (!t) mlL_argerror(L, arg, fname, argname, "expected an index tensor, got %s", luaL_typename(L, idx));
    if (t->numel != numel)
        mlL_argerror(L, arg, fname, argname, "expected %lld indices, got %lld", (long long)numel, (long long)t->numel);
    if ((int)t->dtype == LMOE_I64 && ml_tensor_is_contiguous(t)) return (const int64_t *)t->data;
    if (!ml_tensor_is_contiguous(t)) mlL_argerror(L, arg, fname, argname, "expected a contiguous tensor (use :clone())");
    int64_t *out = lua_newuserdatauv(L, (size_t)(numel > 0 ? numel : 1) * sizeof(int64_t), 0);
    lua_replace(L, idx); /* anchored where the tensor was: the caller has read everything else it needs */
    for (int64_t i = 0; i < numel; i++) {
        double v = ml_tensor_getd(t, i);
        if (v != floor(v) || fabs(v) > 9e15)
            mlL_argerror(L, arg, fname, argname, "element %lld = %g is not an integer index", (long long)(i + 1), v);
        out[i] = (int64_t)v;
    }
    return out;
}

/* ---------------------------------------------------------------- options */

static const char *const SCORES[] = {"softmax", "sigmoid", NULL};
static const char *const ORDERS[] = {"softmax_then_topk", "topk_then_softmax", NULL};
static const char *const ACTS[] = {"none", "tanh", "sigmoid", "relu", "gelu", NULL};
static const char *const DROPS[] = {"probs", "position", NULL};

void lmoe_route_opts(lua_State *L, int idx, int arg, const char *fn, int64_t E, ml_moe_route_opts *o,
                     double **bias, int *return_probs) {
    *o = ml_moe_route_defaults();
    o->index_base = 1;
    int64_t k = o->k, groups = 0, gtop = 0, cap = 0, pad = 1;
    ml_tensor *bt = NULL;
    int rp = 0;
    mlL_opts(L, idx, fn, (mlL_opt[]){
        {"k", MLL_INT, &k, NULL}, {"score", MLL_ENUM, &o->score, SCORES}, {"order", MLL_ENUM, &o->order, ORDERS},
        {"renormalize", MLL_BOOL, &o->renormalize, NULL}, {"temperature", MLL_NUMBER, &o->temperature, NULL},
        {"activation", MLL_ENUM, &o->activation, ACTS}, {"bias", MLL_TENSOR, &bt, NULL},
        {"groups", MLL_INT, &groups, NULL}, {"group_topk", MLL_INT, &gtop, NULL},
        {"route_scale", MLL_NUMBER, &o->route_scale, NULL}, {"noise", MLL_SKIP, NULL, NULL},
        {"expert_choice", MLL_BOOL, &o->expert_choice, NULL}, {"capacity", MLL_INT, &cap, NULL},
        {"capacity_factor", MLL_NUMBER, &o->capacity_factor, NULL}, {"drop", MLL_ENUM, &o->drop, DROPS},
        {"pad_to", MLL_INT, &pad, NULL}, {"aux_coef", MLL_NUMBER, &o->aux_coef, NULL},
        {"z_coef", MLL_NUMBER, &o->z_coef, NULL}, {"return_probs", MLL_BOOL, &rp, NULL}, {0}});
    if (return_probs) *return_probs = rp;
    if (k < 1 || k > E) mlL_argerror(L, arg, fn, "k", "expected an integer in [1, E = %lld], got %lld", (long long)E, (long long)k);
    o->k = (int)k;
    if (!(o->temperature > 0) || !isfinite(o->temperature))
        mlL_argerror(L, arg, fn, "temperature", "expected a finite number > 0, got %g", o->temperature);
    if (!isfinite(o->route_scale)) mlL_argerror(L, arg, fn, "route_scale", "expected a finite number");
    if (groups < 0 || groups > 1024) mlL_argerror(L, arg, fn, "groups", "expected an integer in [1, 1024], got %lld", (long long)groups);
    if (groups > 1 && E % groups) mlL_argerror(L, arg, fn, "groups", "expected a divisor of E = %lld, got %lld", (long long)E, (long long)groups);
    if (groups > 1 && (gtop < 1 || gtop > groups))
        mlL_argerror(L, arg, fn, "group_topk", "expected an integer in [1, groups = %lld], got %lld", (long long)groups, (long long)gtop);
    if (groups > 1 && !o->expert_choice && k > gtop * (E / groups))
        mlL_argerror(L, arg, fn, "k", "k = %lld exceeds the %lld experts in group_topk = %lld groups", (long long)k,
                     (long long)(gtop * (E / groups)), (long long)gtop);
    o->groups = (int)groups;
    o->group_topk = (int)gtop;
    if (o->expert_choice && cap < 1)
        mlL_argerror(L, arg, fn, "capacity", "expert_choice needs a capacity (tokens per expert) >= 1, got %lld", (long long)cap);
    if (cap < 0) mlL_argerror(L, arg, fn, "capacity", "expected an integer >= 1, got %lld", (long long)cap);
    o->capacity = cap;
    if (!(o->capacity_factor >= 0) || !isfinite(o->capacity_factor))
        mlL_argerror(L, arg, fn, "capacity_factor", "expected a finite number > 0, got %g", o->capacity_factor);
    if (lua_istable(L, idx)) {
        lua_getfield(L, idx, "capacity_factor");
        if (!lua_isnil(L, -1) && !(o->capacity_factor > 0))
            mlL_argerror(L, arg, fn, "capacity_factor", "expected a finite number > 0, got %g", o->capacity_factor);
        lua_pop(L, 1);
    }
    if (pad < 1) mlL_argerror(L, arg, fn, "pad_to", "expected an integer >= 1, got %lld", (long long)pad);
    o->pad_to = pad;
    if (o->score == ML_MOE_SIGMOID && o->order == ML_MOE_TOPK_THEN_SOFTMAX)
        mlL_argerror(L, arg, fn, "order", "'topk_then_softmax' needs score 'softmax'");
    if (o->score == ML_MOE_SIGMOID && o->expert_choice)
        mlL_argerror(L, arg, fn, "score", "expert_choice uses softmax scores");
    *bias = NULL;
    if (bt) {
        if (bt->numel != E || bt->ndim != 1)
            mlL_argerror(L, arg, fn, "bias", "expected a [E] = [%lld] tensor, got %lld elements", (long long)E, (long long)bt->numel);
        double *b = lua_newuserdatauv(L, (size_t)E * sizeof(double), 0);
        for (int64_t e = 0; e < E; e++) {
            b[e] = ml_tensor_getd(bt, e);
            if (!isfinite(b[e])) mlL_argerror(L, arg, fn, "bias", "element %lld is not finite", (long long)(e + 1));
        }
        *bias = b; /* stays on the stack (the one value this function pushes) */
    } else lua_pushnil(L);
    int top = lua_gettop(L);
    o->bias = NULL;
    if (lua_istable(L, idx)) {
        lua_getfield(L, idx, "noise");
        if (!lua_isnil(L, -1)) {
            if (!lua_istable(L, -1)) mlL_argerror(L, arg, fn, "noise", "expected a table {std = s, seed = n}, got %s", luaL_typename(L, -1));
            int t = lua_gettop(L);
            double std = 0;
            int64_t seed = 0;
            mlL_opts(L, t, fn, (mlL_opt[]){{"std", MLL_NUMBER, &std, NULL}, {"seed", MLL_INT, &seed, NULL}, {0}});
            if (!(std >= 0) || !isfinite(std)) mlL_argerror(L, arg, fn, "noise", "expected std >= 0, got %g", std);
            o->noise_std = std;
            o->noise_seed = (uint64_t)seed;
        }
        lua_pop(L, 1);
    }
    lua_settop(L, top);
}

/* ---------------------------------------------------------------- routers */

static ml_tensor *check_logits(lua_State *L, int idx, const char *fn, const char *name) {
    ml_tensor *t = mlL_checktensor(L, idx, fn, name);
    char s[96];
    if (t->ndim != 2 || (t->dtype != ML_F32 && t->dtype != ML_F64) || t->shape[1] < 1)
        mlL_argerror(L, idx, fn, name, "expected [T,E] f32/f64, got %s %s", ml_dtype_name(t->dtype),
                     ml_shape_str(t, s, sizeof s));
    return t;
}

/* Makes the [cap,2] index tensor at idx hold its first n rows only (the storage stays). */
static void shrink_rows(lua_State *L, int idx, int64_t n) {
    ml_tensor *t = mlL_testtensor(L, idx);
    t->shape[0] = n;
    t->numel = n * t->shape[1];
}

/* core.moe_route(logits, opts) -> r table */
static int l_route(lua_State *L) {
    const char *fn = "moe.route";
    ml_tensor *lg = check_logits(L, 1, fn, "logits");
    int64_t T = lg->shape[0], E = lg->shape[1], K, co, cd;
    ml_moe_route_opts o;
    double *bias;
    int rp = 0;
    lua_settop(L, 2);
    lmoe_route_opts(L, 2, 2, fn, E, &o, &bias, &rp); /* slot 3: bias */
    o.bias = bias;
    if (lg->dtype == ML_F32 && !(fabs(o.route_scale) <= FLT_MAX))
        return mlL_argerror(L, 2, fn, "route_scale", "expected |route_scale| <= %g for f32 logits, got %g", FLT_MAX,
                            o.route_scale);
    if (ml_moe_route_bounds(&o, T, E, &K, &co, &cd) != ML_OK) return mlL_raise(L, fn);
    ml_moe_routing r;
    memset(&r, 0, sizeof r);
    lua_createtable(L, 0, 12); /* 4 */
    int64_t sh[2] = {T, K};
    /* experts, weights and order are written in full by ml_moe_route: no zeroing */
    r.experts = mlL_newtensor_uninit(L, LMOE_IDX_DTYPE, 2, sh)->data;     /* 5 */
    r.weights = mlL_newtensor_uninit(L, lg->dtype, 2, sh)->data;          /* 6 */
    r.counts = lmoe_new_index(L, 1, &E);                                  /* 7 */
    int64_t e1 = E + 1;
    r.offsets = lmoe_new_index(L, 1, &e1);                                /* 8 */
    int64_t osh[2] = {co, 2}, dsh[2] = {cd, 2};
    r.order = mlL_newtensor_uninit(L, LMOE_IDX_DTYPE, 2, osh)->data;      /* 9 */
    r.cap_order = co;
    r.dropped = lmoe_new_index(L, 2, dsh);                                /* 10 */
    r.cap_dropped = cd;
    int64_t psh[2] = {T, E};
    if (rp) r.probs = mlL_newtensor(L, lg->dtype, 2, psh)->data; else lua_pushnil(L); /* 11 */
    if (ml_moe_route(&o, lg, &r) != ML_OK) {
        if (ml_errcode() == ML_EINVAL) return mlL_argerror(L, 1, fn, "logits", "%s", ml_errmsg());
        return mlL_raise(L, fn);
    }
    shrink_rows(L, 9, r.n_order);
    shrink_rows(L, 10, r.n_dropped);
    for (int i = 5; i <= 10; i++) if (i != 6) lmoe_finish_index(L, i);
    lua_pushvalue(L, 5); lua_setfield(L, 4, "experts");
    lua_pushvalue(L, 6); lua_setfield(L, 4, "weights");
    lua_pushvalue(L, 7); lua_setfield(L, 4, "counts");
    lua_pushvalue(L, 8); lua_setfield(L, 4, "offsets");
    lua_pushvalue(L, 9); lua_setfield(L, 4, "order");
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, r.n_dropped); lua_setfield(L, -2, "count");
    lua_pushvalue(L, 10); lua_setfield(L, -2, "which");
    lua_setfield(L, 4, "dropped");
    lua_pushvalue(L, 11); lua_setfield(L, 4, "probs");
    lua_pushnumber(L, r.aux_loss); lua_setfield(L, 4, "aux_loss");
    lua_pushnumber(L, r.z_loss); lua_setfield(L, 4, "z_loss");
    lua_pushnumber(L, r.entropy); lua_setfield(L, 4, "entropy");
    lua_pushinteger(L, K); lua_setfield(L, 4, "slots");
    lua_pushvalue(L, 4);
    return 1;
}

/* core.moe_route_backward(dweights, logits, experts, weights, opts, daux, dz) -> dlogits */
static int l_route_backward(lua_State *L) {
    const char *fn = "moe.route_backward";
    ml_tensor *dw = mlL_checktensor(L, 1, fn, "dweights");
    ml_tensor *lg = check_logits(L, 2, fn, "r.logits");
    ml_tensor *w = mlL_checktensor(L, 4, fn, "r.weights");
    double daux = luaL_optnumber(L, 6, 0), dz = luaL_optnumber(L, 7, 0);
    if (!isfinite(daux) || !isfinite(dz)) return mlL_argerror(L, 3, fn, "opts", "aux and z must be finite numbers");
    lua_settop(L, 7);
    ml_moe_route_opts o;
    double *bias;
    lmoe_route_opts(L, 5, 3, fn, lg->shape[1], &o, &bias, NULL); /* slot 8 */
    int64_t T = lg->shape[0], E = lg->shape[1], K = o.expert_choice ? E : o.k;
    char s1[96], s2[96];
    if (w->ndim != 2 || w->shape[0] != T || w->shape[1] != K || w->dtype != lg->dtype)
        return mlL_argerror(L, 2, fn, "r", "weights %s do not match logits [%lld,%lld] with %lld slots",
                            ml_shape_str(w, s1, sizeof s1), (long long)T, (long long)E, (long long)K);
    if (!ml_tensor_same_shape(dw, w) || dw->dtype != w->dtype)
        return mlL_argerror(L, 1, fn, "dweights", "expected %s %s like r.weights, got %s %s", ml_dtype_name(w->dtype),
                            ml_shape_str(w, s1, sizeof s1), ml_dtype_name(dw->dtype), ml_shape_str(dw, s2, sizeof s2));
    for (int64_t i = 0; i < dw->numel; i++)
        if (!isfinite(ml_tensor_getd(dw, i)))
            return mlL_argerror(L, 1, fn, "dweights", "element %lld is not finite", (long long)(i + 1));
    const int64_t *ex = lmoe_check_index(L, 3, fn, 2, "r.experts", T * K);
    ml_tensor *dl = mlL_newtensor(L, lg->dtype, 2, lg->shape);
    if (ml_moe_route_backward(&o, lg, ex, w, dw, daux, dz, dl) != ML_OK) return mlL_raise(L, fn);
    return 1;
}

/* core.moe_update_bias(bias, counts, rate): in place */
static int l_update_bias(lua_State *L) {
    const char *fn = "moe.update_bias";
    ml_tensor *b = mlL_checktensor(L, 1, fn, "bias");
    if (b->ndim != 1) return mlL_argerror(L, 1, fn, "bias", "expected a [E] tensor");
    double rate = mlL_checknumber(L, 3, fn, "rate", 1);
    int64_t E = b->numel;
    const int64_t *c = lmoe_check_index(L, 2, fn, 2, "counts", E);
    double *tmp = lua_newuserdatauv(L, (size_t)(E > 0 ? E : 1) * sizeof(double), 0);
    for (int64_t e = 0; e < E; e++) tmp[e] = ml_tensor_getd(b, e);
    ml_moe_update_bias(tmp, c, E, rate);
    for (int64_t e = 0; e < E; e++) ml_tensor_setd(b, e, tmp[e]);
    lua_pushvalue(L, 1);
    return 1;
}

/* core.moe_dispatch(x, order) -> x_sorted */
static int l_dispatch(lua_State *L) {
    const char *fn = "moe.dispatch";
    ml_tensor *x = mlL_checktensor(L, 1, fn, "x");
    char s[96];
    if (x->ndim != 2 || (x->dtype != ML_F32 && x->dtype != ML_F64))
        return mlL_argerror(L, 1, fn, "x", "expected [T,D] f32/f64, got %s", ml_shape_str(x, s, sizeof s));
    ml_tensor *ot = mlL_testtensor(L, 2);
    if (!ot || ot->ndim != 2 || ot->shape[1] != 2)
        return mlL_argerror(L, 2, fn, "r", "expected r.order [N,2] (the routing of moe.route)");
    int64_t N = ot->shape[0];
    const int64_t *ord = lmoe_check_index(L, 2, fn, 2, "r.order", 2 * N);
    int64_t sh[2] = {N, x->shape[1]};
    ml_tensor *xs = mlL_newtensor(L, x->dtype, 2, sh);
    if (ml_moe_dispatch(x, ord, N, 1, xs) != ML_OK) return mlL_argerror(L, 2, fn, "r", "%s", ml_errmsg());
    return 1;
}

/* core.moe_combine(y_sorted, order, weights) -> y */
static int l_combine(lua_State *L) {
    const char *fn = "moe.combine";
    ml_tensor *ys = mlL_checktensor(L, 1, fn, "y_sorted");
    ml_tensor *ot = mlL_testtensor(L, 2);
    ml_tensor *w = mlL_testtensor(L, 3);
    char s[96];
    if (!ot || ot->ndim != 2 || ot->shape[1] != 2 || !w || w->ndim != 2 || !ml_tensor_is_contiguous(w))
        return mlL_argerror(L, 2, fn, "r", "expected r.order [N,2] and r.weights [T,K] of moe.route");
    int64_t N = ot->shape[0];
    if (ys->ndim != 2 || ys->shape[0] != N || (ys->dtype != ML_F32 && ys->dtype != ML_F64))
        return mlL_argerror(L, 1, fn, "y_sorted", "expected [N,D] f32/f64 with N = %lld rows of r.order, got %s",
                            (long long)N, ml_shape_str(ys, s, sizeof s));
    if (w->dtype != ys->dtype)
        return mlL_argerror(L, 1, fn, "y_sorted", "expected the dtype of r.weights (%s), got %s",
                            ml_dtype_name(w->dtype), ml_dtype_name(ys->dtype));
    const int64_t *ord = lmoe_check_index(L, 2, fn, 2, "r.order", 2 * N);
    int64_t sh[2] = {w->shape[0], ys->shape[1]};
    ml_tensor *y = mlL_newtensor(L, ys->dtype, 2, sh);
    if (ml_moe_combine(ys, ord, N, 1, w->shape[1], w, y) != ML_OK) return mlL_argerror(L, 2, fn, "r", "%s", ml_errmsg());
    return 1;
}

static const luaL_Reg FUNCS[] = {
    {"moe_route", l_route}, {"moe_route_backward", l_route_backward}, {"moe_update_bias", l_update_bias},
    {"moe_dispatch", l_dispatch}, {"moe_combine", l_combine}, {NULL, NULL}};

void mlL_open_moe(lua_State *L) {
    luaL_setfuncs(L, FUNCS, 0);
#pragma weak lmoe_open_gmoe
#pragma weak lmoe_open_layer
    if (lmoe_open_gmoe) lmoe_open_gmoe(L);
    if (lmoe_open_layer) lmoe_open_layer(L);
}
