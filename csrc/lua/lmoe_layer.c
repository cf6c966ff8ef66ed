/* Lua bindings of the MoE layer (core.moe_layer_*; wrapped by moe.layer in lua/moonlab/moe.lua). The
 * activations of a forward live in a userdata `moonlab.MoELayerCache` passed back to the backward. */
#include <string.h>
#include "lmoe.h"

#define CACHE_MT "moonlab.MoELayerCache"

typedef struct { ml_moe_layer_cache *c; } cache_ud;

static int cache_gc(lua_State *L) {
    cache_ud *u = luaL_checkudata(L, 1, CACHE_MT);
    ml_moe_layer_cache_free(u->c);
    u->c = NULL;
    return 0;
}

static int cache_tostring(lua_State *L) {
    cache_ud *u = luaL_checkudata(L, 1, CACHE_MT);
    lua_pushstring(L, u->c ? "MoELayerCache" : "MoELayerCache (freed)");
    return 1;
}

/* Reads params at idx..idx+3 and the sizes into *m (route options read separately). */
static void read_layer(lua_State *L, int idx, const char *fn, ml_moe_layer *m, ml_dtype dt) {
    static const char *names[4] = {"wr", "w1", "w3", "w2"};
    const ml_tensor *p[4];
    for (int i = 0; i < 4; i++) {
        p[i] = mlL_checktensor(L, idx + i, fn, names[i]);
        if (p[i]->dtype != dt) mlL_argerror(L, idx + i, fn, names[i], "expected dtype %s like x, got %s",
                                            ml_dtype_name(dt), ml_dtype_name(p[i]->dtype));
    }
    if (p[0]->ndim != 2 || p[1]->ndim != 3)
        mlL_argerror(L, idx, fn, "wr", "expected wr [D,E] and w1 [E,D,F]");
    memset(m, 0, sizeof *m);
    m->d_model = p[0]->shape[0]; m->experts = p[0]->shape[1]; m->d_ff = p[1]->shape[2];
    m->wr = p[0]; m->w1 = p[1]; m->w3 = p[2]; m->w2 = p[3];
}

/* core.moe_layer_forward(x, wr, w1, w3, w2, route_opts) -> y, cache, aux_loss, z_loss, counts */
static int l_forward(lua_State *L) {
    const char *fn = "moe.layer:forward";
    ml_tensor *x = mlL_checktensor(L, 1, fn, "x");
    char s[96];
    if (x->ndim != 2 || (x->dtype != ML_F32 && x->dtype != ML_F64))
        return mlL_argerror(L, 1, fn, "x", "expected [T,d_model] f32/f64, got %s", ml_shape_str(x, s, sizeof s));
    ml_moe_layer m;
    read_layer(L, 2, fn, &m, x->dtype);
    if (x->shape[1] != m.d_model)
        return mlL_argerror(L, 1, fn, "x", "expected [T,%lld], got %s", (long long)m.d_model, ml_shape_str(x, s, sizeof s));
    lua_settop(L, 6);
    double *bias;
    lmoe_route_opts(L, 6, 6, fn, m.experts, &m.route, &bias, NULL); /* 7 */
    m.route.bias = bias;
    cache_ud *u = lua_newuserdatauv(L, sizeof *u, 0); /* 8 */
    u->c = NULL;
    luaL_setmetatable(L, CACHE_MT);
    u->c = ml_moe_layer_cache_new(&m, x->dtype, x->shape[0]);
    if (!u->c) return mlL_raise(L, fn);
    ml_tensor *y = mlL_newtensor(L, x->dtype, 2, x->shape); /* 9 */
    if (ml_moe_layer_forward(&m, x, u->c, y) != ML_OK) return mlL_raise(L, fn);
    double z, aux = ml_moe_layer_cache_aux(u->c, &z);
    lua_pushvalue(L, 9);
    lua_pushvalue(L, 8);
    lua_pushnumber(L, aux);
    lua_pushnumber(L, z);
    int64_t E = m.experts;
    int64_t *cnt = lmoe_new_index(L, 1, &E);
    memcpy(cnt, ml_moe_layer_cache_counts(u->c), (size_t)E * sizeof(int64_t));
    lmoe_finish_index(L, lua_gettop(L));
    return 5;
}

/* core.moe_layer_backward(dy, x, wr, w1, w3, w2, cache, route_opts, daux, dz) -> dx, dwr, dw1, dw3, dw2 */
static int l_backward(lua_State *L) {
    const char *fn = "moe.layer:backward";
    ml_tensor *dy = mlL_checktensor(L, 1, fn, "dy");
    ml_tensor *x = mlL_checktensor(L, 2, fn, "x");
    ml_moe_layer m;
    read_layer(L, 3, fn, &m, x->dtype);
    cache_ud *u = luaL_testudata(L, 7, CACHE_MT);
    if (!u || !u->c) return mlL_argerror(L, 7, fn, "cache", "expected the cache of a forward call");
    double daux = luaL_optnumber(L, 9, 0), dz = luaL_optnumber(L, 10, 0);
    char s1[96], s2[96];
    if (!ml_tensor_same_shape(dy, x) || dy->dtype != x->dtype)
        return mlL_argerror(L, 1, fn, "dy", "expected %s %s like x, got %s %s", ml_dtype_name(x->dtype),
                            ml_shape_str(x, s1, sizeof s1), ml_dtype_name(dy->dtype), ml_shape_str(dy, s2, sizeof s2));
    lua_settop(L, 10);
    double *bias;
    lmoe_route_opts(L, 8, 8, fn, m.experts, &m.route, &bias, NULL);
    m.route.bias = bias;
    ml_tensor *dx = mlL_newtensor(L, x->dtype, 2, x->shape);
    ml_tensor *g[4];
    for (int i = 0; i < 4; i++) {
        const ml_tensor *p = i == 0 ? m.wr : i == 1 ? m.w1 : i == 2 ? m.w3 : m.w2;
        g[i] = mlL_newtensor(L, x->dtype, p->ndim, p->shape);
    }
    if (ml_moe_layer_backward(&m, x, dy, u->c, daux, dz, dx, g[0], g[1], g[2], g[3]) != ML_OK) return mlL_raise(L, fn);
    return 5;
}

static const luaL_Reg FUNCS[] = {{"moe_layer_forward", l_forward}, {"moe_layer_backward", l_backward}, {NULL, NULL}};

void lmoe_open_layer(lua_State *L) {
    if (luaL_newmetatable(L, CACHE_MT)) {
        lua_pushcfunction(L, cache_gc); lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, cache_gc); lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, cache_tostring); lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, FUNCS, 0);
}
