/* moonlab — Lua binding of the transformer trainer (csrc/nn): thin checks and calls. The Lua module
 * lua/moonlab/nn.lua wraps the model userdata in an object with methods. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "moonlab/nn.h"
#include "moonlab/attn.h"
#include "mlua.h"

#define NN_MT "moonlab.NNModel"

typedef struct { ml_nn_model *m; } nn_ud;

static ml_nn_model *checkmodel(lua_State *L, int idx, const char *fname) {
    nn_ud *u = mlL_checkudata(L, idx, NN_MT, fname, "model", "moonlab.nn model");
    if (!u->m) mlL_error(L, "%s: the model was freed", fname);
    return u->m;
}

static void pushmodel(lua_State *L, ml_nn_model *m) {
    nn_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->m = m;
    luaL_setmetatable(L, NN_MT);
}

static int nn_gc(lua_State *L) {
    nn_ud *u = luaL_checkudata(L, 1, NN_MT);
    ml_nn_free(u->m);
    u->m = NULL;
    return 0;
}

/* Token ids of the tensor at idx ([T] or [B,T], any dtype holding integers) as a scratch int64 array
 * (a userdata pushed on the stack). */
static int64_t *checktokens(lua_State *L, int idx, const char *fname, const char *argname, int64_t *B,
                            int64_t *T) {
    ml_tensor *t = mlL_checktensor(L, idx, fname, argname);
    char s[64];
    if (t->ndim != 1 && t->ndim != 2)
        mlL_argerror(L, idx, fname, argname, "expected token ids [T] or [B,T], got %s", ml_shape_str(t, s, sizeof s));
    *B = t->ndim == 2 ? t->shape[0] : 1;
    *T = t->shape[t->ndim - 1];
    int64_t *out = lua_newuserdatauv(L, sizeof(int64_t) * (size_t)t->numel, 0);
    size_t es = ml_dtype_size(t->dtype);
    for (int64_t i = 0; i < t->numel; i++) {
        const char *p = (const char *)t->data + i * es;
        if (ml_dtype_is_float(t->dtype)) {
            double v = ml_load_d(t->dtype, p);
            if (!(v == floor(v)) || fabs(v) > 9e15)
                mlL_argerror(L, idx, fname, argname, "expected integer token ids, got %g at position %lld", v,
                             (long long)(i + 1));
            out[i] = (int64_t)v;
        } else {
            out[i] = ml_load_i(t->dtype, p);
        }
    }
    return out;
}

static int l_nn_new(lua_State *L) {
    const char *fn = "nn.gpt";
    ml_nn_config c = ml_nn_defaults();
    int64_t seed = 1;
    int gate = 0, act = 0, dt = 0, ffn = 0;
    static const char *const ffns[] = {"swiglu", "moe", NULL};
    static const char *const gates[] = {"none", "headwise", "elementwise", NULL};
    static const char *const acts[] = {"sigmoid", "silu", NULL};
    static const char *const dts[] = {"f32", "f64", NULL};
    mlL_opt o[] = {{"vocab", MLL_INT | MLL_POSITIVE, &c.vocab, NULL},
                   {"context", MLL_INT | MLL_POSITIVE, &c.context, NULL},
                   {"layers", MLL_INT | MLL_POSITIVE, &c.layers, NULL},
                   {"d_model", MLL_INT | MLL_POSITIVE, &c.d_model, NULL},
                   {"heads", MLL_INT | MLL_POSITIVE, &c.heads, NULL},
                   {"kv_heads", MLL_INT | MLL_POSITIVE, &c.kv_heads, NULL},
                   {"d_ff", MLL_INT | MLL_POSITIVE, &c.d_ff, NULL},
                   {"gate", MLL_ENUM, &gate, gates},
                   {"gate_act", MLL_ENUM, &act, acts},
                   {"tied", MLL_BOOL, &c.tied, NULL},
                   {"dtype", MLL_ENUM, &dt, dts},
                   {"rope_base", MLL_NUMBER | MLL_FINITE, &c.rope_base, NULL},
                   {"norm_eps", MLL_NUMBER | MLL_FINITE, &c.norm_eps, NULL},
                   {"init_std", MLL_NUMBER | MLL_FINITE, &c.init_std, NULL},
                   {"seed", MLL_INT, &seed, NULL},
                   {"ffn", MLL_ENUM, &ffn, ffns},
                   {"experts", MLL_INT, &c.experts, NULL},
                   {"top_k", MLL_INT, &c.top_k, NULL},
                   {"moe_aux", MLL_NUMBER | MLL_FINITE, &c.moe_aux, NULL},
                   {"moe_z", MLL_NUMBER | MLL_FINITE, &c.moe_z, NULL},
                   {NULL, MLL_END, NULL, NULL}};
    mlL_opts(L, 1, fn, o);
    c.ffn = ffn;
    c.gate = gate;
    c.gate_act = act;
    c.dtype = dt ? ML_F64 : ML_F32;
    c.seed = (uint64_t)seed;
    ml_nn_model *m = ml_nn_new(&c);
    if (!m) return mlL_raise(L, fn);
    pushmodel(L, m);
    return 1;
}

/* nn_forward(model, tokens, targets|nil) -> logits [B,T,V], loss|nil */
static int l_nn_forward(lua_State *L) {
    int has_t = !lua_isnoneornil(L, 3);
    const char *fn = has_t ? "nn.model:loss" : "nn.model:forward";
    lua_settop(L, 3);
    ml_nn_model *m = checkmodel(L, 1, fn);
    int64_t B, T, B2, T2;
    int64_t *tok = checktokens(L, 2, fn, "tokens", &B, &T), *tgt = NULL;
    if (has_t) {
        tgt = checktokens(L, 3, fn, "targets", &B2, &T2);
        if (B2 != B || T2 != T)
            return mlL_argerror(L, 3, fn, "targets", "expected the shape of tokens [%lld,%lld], got [%lld,%lld]",
                                (long long)B, (long long)T, (long long)B2, (long long)T2);
    }
    const ml_nn_config *c = ml_nn_get_config(m);
    int64_t sh[3] = {B, T, c->vocab};
    ml_tensor *lg = mlL_newtensor(L, (ml_dtype)c->dtype, 3, sh);
    double loss = NAN;
    if (ml_nn_forward(m, tok, tgt, B, T, lg->data, tgt ? &loss : NULL)) {
        if (ml_errcode() == ML_ENUMERIC)
            return mlL_error(L, "%s: %s at step %lld (diverged: lower the learning rate)", fn, ml_errmsg(),
                             (long long)(ml_nn_step_count(m) + 1));
        return mlL_raise(L, fn);
    }
    if (tgt) lua_pushnumber(L, loss);
    else lua_pushnil(L);
    return 2;
}

static int l_nn_backward(lua_State *L) {
    ml_nn_model *m = checkmodel(L, 1, "nn.model:backward");
    if (ml_nn_backward(m)) return mlL_raise(L, "nn.model:backward");
    return 0;
}

static int l_nn_zero_grad(lua_State *L) {
    ml_nn_zero_grad(checkmodel(L, 1, "nn.model:zero_grad"));
    return 0;
}

/* nn_step(model, {lr, beta1, beta2, eps, weight_decay, grad_clip, warmup, total_steps, min_lr}) -> gnorm, lr */
static int l_nn_step(lua_State *L) {
    const char *fn = "nn.model:step";
    ml_nn_model *m = checkmodel(L, 1, fn);
    ml_nn_adamw a = {3e-4, 0.9, 0.95, 1e-8, 0.1, 1.0, 0, 0, 0.0};
    mlL_opt o[] = {{"lr", MLL_NUMBER | MLL_FINITE, &a.lr, NULL},
                   {"beta1", MLL_NUMBER | MLL_FINITE, &a.beta1, NULL},
                   {"beta2", MLL_NUMBER | MLL_FINITE, &a.beta2, NULL},
                   {"eps", MLL_NUMBER | MLL_FINITE, &a.eps, NULL},
                   {"weight_decay", MLL_NUMBER | MLL_FINITE, &a.weight_decay, NULL},
                   {"grad_clip", MLL_NUMBER | MLL_FINITE, &a.grad_clip, NULL},
                   {"warmup", MLL_INT, &a.warmup, NULL},
                   {"total_steps", MLL_INT, &a.total_steps, NULL},
                   {"min_lr", MLL_NUMBER | MLL_FINITE, &a.min_lr, NULL},
                   {NULL, MLL_END, NULL, NULL}};
    mlL_opts(L, 2, fn, o);
    double gn = 0, lr = 0;
    if (ml_nn_step(m, &a, &gn, &lr)) return mlL_raise(L, fn);
    lua_pushnumber(L, gn);
    lua_pushnumber(L, lr);
    return 2;
}

/* nn_generate(model, prompt, n, temperature, top_k, seed) -> i64 tensor [n] */
static int l_nn_generate(lua_State *L) {
    const char *fn = "nn.model:generate";
    ml_nn_model *m = checkmodel(L, 1, fn);
    int64_t B, P;
    int64_t *pr = checktokens(L, 2, fn, "prompt", &B, &P);
    if (B != 1) return mlL_argerror(L, 2, fn, "prompt", "expected one sequence [T], got a batch of %lld", (long long)B);
    int64_t n = mlL_checkinteger(L, 3, fn, "max_tokens", 1, (lua_Integer)1 << 40);
    double temp = mlL_checknumber(L, 4, fn, "temperature", 1);
    int64_t k = mlL_checkinteger(L, 5, fn, "top_k", 0, (lua_Integer)1 << 40);
    int64_t seed = mlL_checkinteger(L, 6, fn, "seed", LUA_MININTEGER, LUA_MAXINTEGER);
    if (P + n - 1 > ml_nn_get_config(m)->context)
        return mlL_error(L, "%s: prompt (%lld tokens) + max_tokens (%lld) exceeds the context (%lld) + 1", fn,
                         (long long)P, (long long)n, (long long)ml_nn_get_config(m)->context);
    int64_t sh[1] = {n};
    ml_tensor *out = mlL_newtensor(L, ML_I64, 1, sh);
    ml_progress *pg = mlL_long_begin(L, fn, 1);
    int rc = ml_nn_generate(m, pr, P, n, temp, k, (uint64_t)seed, (int64_t *)out->data);
    mlL_long_end(L, pg);
    if (rc) return mlL_raise(L, fn);
    lua_pushvalue(L, -2); /* the tensor below the guard */
    return 1;
}

static void pushvec(lua_State *L, const double *v, int64_t n) {
    lua_createtable(L, (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_pushnumber(L, v[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

/* nn_stats(model, tokens) -> f_attn, m_act, gate_mean, gate_sparsity (tables per layer), f_attn per
 * [layer][head], and for an MoE model router load [layer][expert] */
static int l_nn_stats(lua_State *L) {
    const char *fn = "nn.model:stats";
    ml_nn_model *m = checkmodel(L, 1, fn);
    int64_t B, T, nl = ml_nn_get_config(m)->layers;
    int64_t *tok = checktokens(L, 2, fn, "tokens", &B, &T);
    const ml_nn_config *c = ml_nn_get_config(m);
    int64_t H = c->heads;
    double *v = lua_newuserdatauv(L, sizeof(double) * (4 + (size_t)H) * (size_t)nl, 0);
    if (ml_nn_stats(m, tok, B, T, v, v + nl, v + 2 * nl, v + 3 * nl, v + 4 * nl)) return mlL_raise(L, fn);
    for (int k = 0; k < 4; k++) pushvec(L, v + k * nl, nl);
    lua_createtable(L, (int)nl, 0); /* f_attn [layer][head] */
    for (int64_t l = 0; l < nl; l++) {
        pushvec(L, v + 4 * nl + l * H, H);
        lua_rawseti(L, -2, l + 1);
    }
    if (c->ffn != ML_NN_FFN_MOE) return 5;
    int64_t E = c->experts, *load = lua_newuserdatauv(L, sizeof(int64_t) * (size_t)(nl * E), 0);
    if (ml_nn_router_load(m, load)) return mlL_raise(L, fn);
    lua_createtable(L, (int)nl, 0); /* router load [layer][expert] */
    for (int64_t l = 0; l < nl; l++) {
        lua_createtable(L, (int)E, 0);
        for (int64_t e = 0; e < E; e++) {
            lua_pushinteger(L, (lua_Integer)load[l * E + e]);
            lua_rawseti(L, -2, e + 1);
        }
        lua_rawseti(L, -2, l + 1);
    }
    lua_remove(L, -2); /* the load buffer: the results are the four vectors and the two tables */
    return 6;
}

/* nn_params / nn_grads(model) -> copies as flat tensors; nn_set_params(model, tensor) */
static int push_flat(lua_State *L, const char *fn, int grads) {
    ml_nn_model *m = checkmodel(L, 1, fn);
    int64_t n = ml_nn_num_params(m);
    ml_dtype dt = (ml_dtype)ml_nn_get_config(m)->dtype;
    ml_tensor *t = mlL_newtensor(L, dt, 1, &n);
    memcpy(t->data, grads ? ml_nn_grads(m) : ml_nn_params(m), (size_t)n * ml_dtype_size(dt));
    return 1;
}
static int l_nn_params(lua_State *L) { return push_flat(L, "nn.model:parameters", 0); }
static int l_nn_grads(lua_State *L) { return push_flat(L, "nn.model:gradients", 1); }

static int l_nn_set_params(lua_State *L) {
    const char *fn = "nn.model:set_parameters";
    ml_nn_model *m = checkmodel(L, 1, fn);
    ml_tensor *t = mlL_checktensor(L, 2, fn, "params");
    int64_t n = ml_nn_num_params(m);
    ml_dtype dt = (ml_dtype)ml_nn_get_config(m)->dtype;
    if (t->numel != n || t->dtype != dt)
        return mlL_argerror(L, 2, fn, "params", "expected %lld %s values, got %lld %s", (long long)n,
                            ml_dtype_name(dt), (long long)t->numel, ml_dtype_name(t->dtype));
    memcpy(ml_nn_params(m), t->data, (size_t)n * ml_dtype_size(dt));
    return 0;
}

static int l_nn_info(lua_State *L) {
    ml_nn_model *m = checkmodel(L, 1, "nn.model:config");
    const ml_nn_config *c = ml_nn_get_config(m);
    static const char *const gates[] = {"none", "headwise", "elementwise"};
    static const char *const acts[] = {"sigmoid", "silu", "ns_sigmoid"};
    lua_createtable(L, 0, 16);
#define SETI(k, v) (lua_pushinteger(L, (lua_Integer)(v)), lua_setfield(L, -2, k))
#define SETN(k, v) (lua_pushnumber(L, v), lua_setfield(L, -2, k))
#define SETS(k, v) (lua_pushstring(L, v), lua_setfield(L, -2, k))
    SETI("vocab", c->vocab); SETI("context", c->context); SETI("layers", c->layers);
    SETI("d_model", c->d_model); SETI("heads", c->heads); SETI("kv_heads", c->kv_heads); SETI("d_ff", c->d_ff);
    SETS("gate", gates[c->gate]); SETS("gate_act", acts[c->gate_act]);
    lua_pushboolean(L, c->tied); lua_setfield(L, -2, "tied");
    SETS("dtype", c->dtype == ML_F64 ? "f64" : "f32");
    SETN("rope_base", c->rope_base); SETN("norm_eps", c->norm_eps); SETN("init_std", c->init_std);
    SETI("seed", (int64_t)c->seed); SETI("params", ml_nn_num_params(m)); SETI("step", ml_nn_step_count(m));
    SETS("ffn", c->ffn == ML_NN_FFN_MOE ? "moe" : "swiglu");
    if (c->ffn == ML_NN_FFN_MOE) {
        lua_createtable(L, 0, 4);
        SETI("experts", c->experts); SETI("k", c->top_k); SETN("aux", c->moe_aux); SETN("z", c->moe_z);
        lua_setfield(L, -2, "moe");
    }
#undef SETI
#undef SETN
#undef SETS
    return 1;
}

static int l_nn_save(lua_State *L) {
    ml_nn_model *m = checkmodel(L, 1, "nn.model:save");
    const char *path = mlL_checkstring(L, 2, "nn.model:save", "path");
    if (ml_nn_save(m, path)) return mlL_raise(L, "nn.model:save");
    return 0;
}

static int l_nn_load(lua_State *L) {
    const char *path = mlL_checkstring(L, 1, "nn.load", "path");
    ml_nn_model *m = ml_nn_load(path);
    if (!m) return mlL_raise(L, "nn.load");
    pushmodel(L, m);
    return 1;
}

static int l_nn_free(lua_State *L) { return nn_gc(L); }

/* nn_batch(bytes, lo, hi, B, T, seed, counter[, bos]) -> tokens, targets (i64 [B,T]): windows of bytes
 * [lo, hi) (0-based) starting at offsets drawn from ml_rng_u64(seed, counter·B + b); targets are the
 * tokens shifted by one. With bos (0..255; -1 = none) every row starts with that byte and continues with the
 * window's first T-1 bytes (targets: the window's first T bytes). */
static int l_nn_batch(lua_State *L) {
    const char *fn = "nn.dataset:batch";
    size_t len;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
    int64_t lo = mlL_checkinteger(L, 2, fn, "lo", 0, (lua_Integer)len);
    int64_t hi = mlL_checkinteger(L, 3, fn, "hi", lo, (lua_Integer)len);
    int64_t B = mlL_checkinteger(L, 4, fn, "batch", 1, 1 << 20);
    int64_t T = mlL_checkinteger(L, 5, fn, "context", 1, 1 << 24);
    int64_t seed = mlL_checkinteger(L, 6, fn, "seed", LUA_MININTEGER, LUA_MAXINTEGER);
    int64_t ctr = mlL_checkinteger(L, 7, fn, "counter", 0, LUA_MAXINTEGER);
    int64_t bos = lua_isnoneornil(L, 8) ? -1 : mlL_checkinteger(L, 8, fn, "bos", -1, 255);
    if (hi - lo < T + 1)
        return mlL_error(L, "%s: the split holds %lld bytes, fewer than context + 1 = %lld", fn, (long long)(hi - lo),
                         (long long)(T + 1));
    int64_t sh[2] = {B, T};
    ml_tensor *x = mlL_newtensor(L, ML_I64, 2, sh), *y = mlL_newtensor(L, ML_I64, 2, sh);
    int64_t *xp = x->data, *yp = y->data, span = hi - lo - T, sh1 = bos >= 0 ? 1 : 0;
    for (int64_t b = 0; b < B; b++) {
        int64_t o = lo + (int64_t)(ml_rng_u64((uint64_t)seed, (uint64_t)(ctr * B + b)) % (uint64_t)span);
        if (sh1) xp[b * T] = bos;
        for (int64_t t = sh1; t < T; t++) xp[b * T + t] = s[o + t - sh1];
        for (int64_t t = 0; t < T; t++) yp[b * T + t] = s[o + t + 1 - sh1];
    }
    return 2;
}

void mlL_open_nn_layers(lua_State *L); /* lnn_layers.c */

void mlL_open_nn(lua_State *L) {
    if (luaL_newmetatable(L, NN_MT)) {
        lua_pushcfunction(L, nn_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    static const luaL_Reg f[] = {{"nn_new", l_nn_new}, {"nn_forward", l_nn_forward}, {"nn_backward", l_nn_backward},
                                 {"nn_zero_grad", l_nn_zero_grad}, {"nn_step", l_nn_step},
                                 {"nn_generate", l_nn_generate}, {"nn_stats", l_nn_stats},
                                 {"nn_params", l_nn_params}, {"nn_grads", l_nn_grads},
                                 {"nn_set_params", l_nn_set_params}, {"nn_info", l_nn_info},
                                 {"nn_save", l_nn_save}, {"nn_load", l_nn_load}, {"nn_free", l_nn_free},
                                 {"nn_batch", l_nn_batch},
                                 {NULL, NULL}};
    luaL_setfuncs(L, f, 0);
    mlL_open_nn_layers(L);
}
