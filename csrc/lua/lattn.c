/* Lua bindings of the gated-attention core (core.attn_*; wrapped by lua/moonlab/attn.lua). */
#include <math.h>
#include <string.h>
#include "mlua.h"
#include "moonlab/attn.h"

static const char *const ALIGN[] = {"top_left", "bottom_right", NULL};
static const char *const MASKMODE[] = {"add", "keep", NULL};
static const char *const ACTS[] = {"sigmoid", "silu", "ns_sigmoid", NULL};
static const char *const GOPS[] = {"mul", "add", NULL};

typedef struct sdpa_args {
    ml_attn_opts o;
    ml_tensor *mask, *gate;
    int return_probs;
} sdpa_args;

/* Reads the shared sdpa options at idx (argument number argn for messages). */
static void read_sdpa_opts(lua_State *L, int idx, int argn, const char *fname, sdpa_args *a) {
    a->o = ml_attn_defaults();
    a->mask = a->gate = NULL;
    a->return_probs = 0;
    int64_t window = INT64_MIN;
    mlL_opts(L, idx, fname, (mlL_opt[]){
        {"scale", MLL_SKIP, NULL, NULL}, {"causal", MLL_BOOL, &a->o.causal, NULL},
        {"causal_align", MLL_ENUM, &a->o.causal_align, ALIGN}, {"window", MLL_INT, &window, NULL},
        {"mask", MLL_TENSOR, &a->mask, NULL}, {"mask_mode", MLL_ENUM, &a->o.mask_mode, MASKMODE},
        {"gate", MLL_TENSOR, &a->gate, NULL}, {"gate_act", MLL_ENUM, &a->o.gate_act, ACTS},
        {"gate_op", MLL_ENUM, &a->o.gate_op, GOPS}, {"return_probs", MLL_BOOL, &a->return_probs, NULL},
        {0}});
    if (window != INT64_MIN) {
        if (window <= 0)
            mlL_argerror(L, argn, fname, "window", "expected a positive integer, got %lld", (long long)window);
        a->o.window = window;
    }
    if (lua_istable(L, idx)) {
        lua_getfield(L, idx, "scale");
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TNUMBER)
                mlL_argerror(L, argn, fname, "scale", "expected a finite number, got %s", luaL_typename(L, -1));
            double s = lua_tonumber(L, -1);
            if (!isfinite(s)) mlL_argerror(L, argn, fname, "scale", "expected a finite number, got %g", s);
            a->o.scale = s;
        }
        lua_pop(L, 1);
    }
}

/* Raises the argument error for a failed ml_attn_check. */
static int check_or_raise(lua_State *L, const char *fname, const sdpa_args *a, const ml_tensor *q,
                          const ml_tensor *k, const ml_tensor *v, int qarg, int optarg) {
    int bad;
    if (ml_attn_check(&a->o, q, k, v, a->mask, a->gate, &bad) == ML_OK) return 0;
    const char *name;
    int arg;
    switch (bad) {
    case ML_ATTN_ARG_Q: arg = qarg; name = "q"; break;
    case ML_ATTN_ARG_K: arg = qarg + 1; name = "k"; break;
    case ML_ATTN_ARG_V: arg = qarg + 2; name = "v"; break;
    case ML_ATTN_ARG_MASK: arg = optarg; name = "mask"; break;
    case ML_ATTN_ARG_GATE: arg = optarg; name = "gate"; break;
    case ML_ATTN_ARG_SCALE: arg = optarg; name = "scale"; break;
    case ML_ATTN_ARG_WINDOW: arg = optarg; name = "window"; break;
    default: arg = optarg; name = "opts"; break;
    }
    return mlL_argerror(L, arg, fname, name, "%s", ml_errmsg());
}

/* core.attn_sdpa(q, k, v, opts) -> out, lse, y|nil, probs|nil */
static int l_sdpa(lua_State *L) {
    const char *fn = "attn.sdpa";
    ml_tensor *q = mlL_checktensor(L, 1, fn, "q"), *k = mlL_checktensor(L, 2, fn, "k"),
              *v = mlL_checktensor(L, 3, fn, "v");
    sdpa_args a;
    read_sdpa_opts(L, 4, 4, fn, &a);
    check_or_raise(L, fn, &a, q, k, v, 1, 4);
    int64_t os[4] = {q->shape[0], q->shape[1], q->shape[2], v->shape[3]};
    int64_t ps[4] = {q->shape[0], q->shape[1], q->shape[2], k->shape[2]};
    ml_tensor *out = mlL_newtensor(L, q->dtype, 4, os);
    ml_tensor *lse = mlL_newtensor(L, q->dtype, 3, os);
    ml_tensor *y = NULL, *probs = NULL;
    if (a.gate) y = mlL_newtensor(L, q->dtype, 4, os); else lua_pushnil(L);
    if (a.return_probs) {
        int64_t n;
        if (ml_shape_numel(4, ps, &n) != ML_OK || n > ((int64_t)1 << 31))
            return mlL_error(L, "%s: return_probs would materialise %lld weights; use it for small problems",
                              fn, (long long)(ps[0] * ps[1] * ps[2] * ps[3]));
        probs = mlL_newtensor(L, q->dtype, 4, ps);
    } else lua_pushnil(L);
    if (ml_attn_forward(&a.o, q, k, v, a.mask, a.gate, out, lse, y, probs) != ML_OK)
        return mlL_raise(L, fn);
    return 4;
}

/* core.attn_sdpa_backward(dout, q, k, v, out, extras, opts) -> dq, dk, dv, dgate|nil */
static int l_sdpa_backward(lua_State *L) {
    const char *fn = "attn.sdpa_backward";
    ml_tensor *dout = mlL_checktensor(L, 1, fn, "dout"), *q = mlL_checktensor(L, 2, fn, "q"),
              *k = mlL_checktensor(L, 3, fn, "k"), *v = mlL_checktensor(L, 4, fn, "v"),
              *out = mlL_checktensor(L, 5, fn, "out");
    if (!lua_istable(L, 6))
        return mlL_argerror(L, 6, fn, "extras", "expected the extras table of attn.sdpa, got %s",
                            luaL_typename(L, 6));
    lua_getfield(L, 6, "lse");
    ml_tensor *lse = mlL_testtensor(L, -1);
    if (!lse) return mlL_argerror(L, 6, fn, "extras", "expected a tensor field 'lse', got %s", luaL_typename(L, -1));
    lua_getfield(L, 6, "y");
    ml_tensor *y = mlL_testtensor(L, -1);
    sdpa_args a;
    read_sdpa_opts(L, 7, 7, fn, &a);
    if (a.return_probs) return mlL_argerror(L, 7, fn, "return_probs", "expected no return_probs in backward");
    check_or_raise(L, fn, &a, q, k, v, 2, 7);
    char s1[96], s2[96];
    if (dout->ndim != 4 || dout->shape[0] != q->shape[0] || dout->shape[1] != q->shape[1] ||
        dout->shape[2] != q->shape[2] || dout->shape[3] != v->shape[3] || dout->dtype != q->dtype)
        return mlL_argerror(L, 1, fn, "dout", "expected %s [B,Hq,L,Ev] = [%lld,%lld,%lld,%lld], got %s %s",
                            ml_dtype_name(q->dtype), (long long)q->shape[0], (long long)q->shape[1],
                            (long long)q->shape[2], (long long)v->shape[3], ml_dtype_name(dout->dtype),
                            ml_shape_str(dout, s1, sizeof s1));
    if (!ml_tensor_same_shape(out, dout) || out->dtype != dout->dtype)
        return mlL_argerror(L, 5, fn, "out", "expected the forward output %s, got %s",
                            ml_shape_str(dout, s1, sizeof s1), ml_shape_str(out, s2, sizeof s2));
    if (lse->ndim != 3 || lse->shape[0] != q->shape[0] || lse->shape[1] != q->shape[1] ||
        lse->shape[2] != q->shape[2] || lse->dtype != q->dtype)
        return mlL_argerror(L, 6, fn, "extras", "expected extras.lse [B,Hq,L] of dtype %s, got %s",
                            ml_dtype_name(q->dtype), ml_shape_str(lse, s1, sizeof s1));
    if (y && (!ml_tensor_same_shape(y, dout) || y->dtype != dout->dtype))
        return mlL_argerror(L, 6, fn, "extras", "expected extras.y like out, got %s", ml_shape_str(y, s1, sizeof s1));
    ml_tensor *dq = mlL_newtensor(L, q->dtype, 4, q->shape);
    ml_tensor *dk = mlL_newtensor(L, q->dtype, 4, k->shape);
    ml_tensor *dv = mlL_newtensor(L, q->dtype, 4, v->shape);
    ml_tensor *dg = NULL;
    if (a.gate) dg = mlL_newtensor(L, q->dtype, 4, a.gate->shape); else lua_pushnil(L);
    if (ml_attn_backward(&a.o, dout, q, k, v, a.mask, a.gate, out, lse, a.gate ? y : NULL, dq, dk,
                         dv, dg) != ML_OK)
        return mlL_raise(L, fn);
    return 4;
}

static const char *const LAYOUTS[] = {"separate", "per_head", "kv_group", NULL};
static const char *const GRAN[] = {"elementwise", "headwise", NULL};

/* core.attn_gate_scores(x, w, opts) -> z, q|nil */
static int l_gate_scores(lua_State *L) {
    const char *fn = "attn.gate_scores";
    ml_tensor *x = mlL_checktensor(L, 1, fn, "x"), *w = mlL_checktensor(L, 2, fn, "w_gate");
    int layout = 0, gran = 0, shared = 0;
    int64_t heads = 0, kv = 0, dh = 0;
    mlL_opts(L, 3, fn, (mlL_opt[]){
        {"layout", MLL_ENUM, &layout, LAYOUTS}, {"granularity", MLL_ENUM, &gran, GRAN},
        {"shared", MLL_BOOL, &shared, NULL}, {"heads", MLL_INT, &heads, NULL},
        {"kv_heads", MLL_INT, &kv, NULL}, {"head_dim", MLL_INT, &dh, NULL}, {0}});
    char s[96];
    if (x->ndim != 3) return mlL_argerror(L, 1, fn, "x", "expected [B,L,D], got %s", ml_shape_str(x, s, sizeof s));
    if (heads <= 0) return mlL_argerror(L, 3, fn, "heads", "expected a positive integer (Hq), got %lld", (long long)heads);
    if (dh <= 0) return mlL_argerror(L, 3, fn, "head_dim", "expected a positive integer, got %lld", (long long)dh);
    if (kv == 0) kv = heads;
    if (kv < 0 || heads % kv != 0)
        return mlL_argerror(L, 3, fn, "kv_heads", "expected a divisor of heads = %lld, got %lld", (long long)heads, (long long)kv);
    if (shared && layout != ML_GATE_LAYOUT_SEPARATE)
        return mlL_argerror(L, 3, fn, "shared", "expected layout 'separate' for a head-shared gate");
    if (w->ndim != 2 || w->shape[0] != x->shape[2])
        return mlL_argerror(L, 2, fn, "w_gate", "expected [D=%lld,N], got %s", (long long)x->shape[2], ml_shape_str(w, s, sizeof s));
    if (w->dtype != x->dtype)
        return mlL_argerror(L, 2, fn, "w_gate", "expected dtype %s like x, got %s", ml_dtype_name(x->dtype), ml_dtype_name(w->dtype));
    int64_t G = gran == 1 ? 1 : dh;
    int64_t zs[4] = {x->shape[0], heads, x->shape[1], G}, qs[4] = {x->shape[0], heads, x->shape[1], dh};
    int64_t nz, nq;
    if (ml_shape_numel(4, zs, &nz) != ML_OK || ml_shape_numel(4, qs, &nq) != ML_OK)
        return mlL_argerror(L, 3, fn, "heads", "expected B·heads·L·head_dim below 2^63, got heads = %lld, head_dim = %lld",
                            (long long)heads, (long long)dh);
    ml_tensor *z = mlL_newtensor(L, x->dtype, 4, zs);
    ml_tensor *qo = NULL;
    if (layout != ML_GATE_LAYOUT_SEPARATE) qo = mlL_newtensor(L, x->dtype, 4, qs); else lua_pushnil(L);
    if (ml_attn_gate_scores(layout, shared, heads, kv, dh, x, w, z, qo) != ML_OK) {
        if (strncmp(ml_errmsg(), "w_gate: ", 8) == 0)
            return mlL_argerror(L, 2, fn, "w_gate", "%s", ml_errmsg() + 8);
        return mlL_raise(L, fn);
    }
    return 2;
}

/* core.attn_sink_stats(q, k, opts) -> first_token, per_query, entropy */
static int l_sink_stats(lua_State *L) {
    const char *fn = "attn.sink_stats";
    ml_tensor *q = mlL_checktensor(L, 1, fn, "q"), *k = mlL_checktensor(L, 2, fn, "k");
    sdpa_args a;
    read_sdpa_opts(L, 3, 3, fn, &a);
    if (a.gate || a.return_probs)
        return mlL_argerror(L, 3, fn, a.gate ? "gate" : "return_probs", "expected no gate/return_probs (the gate does not change the weights)");
    check_or_raise(L, fn, &a, q, k, k, 1, 3);
    int64_t hs[1] = {q->shape[1]};
    ml_tensor *ft = mlL_newtensor(L, q->dtype, 1, hs);
    ml_tensor *pq = mlL_newtensor(L, q->dtype, 3, q->shape);
    ml_tensor *en = mlL_newtensor(L, q->dtype, 1, hs);
    if (ml_attn_sink_stats(&a.o, q, k, a.mask, ft, pq, en) != ML_OK) return mlL_raise(L, fn);
    return 3;
}

/* core.attn_max_abs(t) -> number */
static int l_max_abs(lua_State *L) {
    ml_tensor *t = mlL_checktensor(L, 1, "attn.massive_activation", "h");
    lua_pushnumber(L, ml_attn_max_abs(t));
    return 1;
}

/* core.attn_gate_value(z, act) -> act(z), act'(z) (for references and examples; attn.gate_act) */
static int l_gate_value(lua_State *L) {
    const char *fn = "attn.gate_act";
    if (lua_type(L, 1) != LUA_TNUMBER)
        return mlL_argerror(L, 1, fn, "z", "expected a number, got %s", luaL_typename(L, 1));
    double z = lua_tonumber(L, 1);
    static const char *const acts[] = {"sigmoid", "silu", "ns_sigmoid", NULL};
    int act = 0;
    if (!lua_isnoneornil(L, 2)) {
        const char *a = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
        for (act = 0; a && acts[act] && strcmp(acts[act], a) != 0; act++) {}
        if (!a || !acts[act])
            return mlL_argerror(L, 2, fn, "act", "expected 'sigmoid', 'silu' or 'ns_sigmoid', got %s",
                                a ? a : luaL_typename(L, 2));
    }
    lua_pushnumber(L, ml_attn_gate_value(act, z));
    lua_pushnumber(L, ml_attn_gate_deriv(act, z));
    return 2;
}

void mlL_open_attn(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"attn_sdpa", l_sdpa},
        {"attn_sdpa_backward", l_sdpa_backward},
        {"attn_gate_scores", l_gate_scores},
        {"attn_sink_stats", l_sink_stats},
        {"attn_max_abs", l_max_abs},
        {"attn_gate_value", l_gate_value},
        {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
}
