/* Shared binding helpers: tensor userdata, argument errors, option tables. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "mlua.h"

ml_tensor *mlL_testtensor(lua_State *L, int idx)
{
    ml_tensor *t = (ml_tensor *)luaL_testudata(L, idx, MLL_TENSOR_MT);
    return t ? mlL_contiguous_arg(L, idx, t, "moonlab") : NULL;
}

int mlL_error(lua_State *L, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lua_pushstring(L, msg);
    return lua_error(L);
}

int mlL_argerror(lua_State *L, int arg, const char *fname, const char *argname, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (argname) return mlL_error(L, "%s: bad argument #%d '%s': %s", fname, arg, argname, msg);
    return mlL_error(L, "%s: bad argument #%d: %s", fname, arg, msg);
}

ml_tensor *mlL_checktensor(lua_State *L, int idx, const char *fname, const char *argname)
{
    ml_tensor *t = (ml_tensor *)luaL_testudata(L, idx, MLL_TENSOR_MT);
    if (!t) mlL_argerror(L, idx, fname, argname, "expected a tensor, got %s", luaL_typename(L, idx));
    if (!t->data) mlL_argerror(L, idx, fname, argname, "tensor was closed");
    t = mlL_contiguous_arg(L, idx, t, fname);
    if (t->numel == 0) {
        char s[96];
        mlL_argerror(L, idx, fname, argname, "tensor is empty (shape %s)", ml_shape_str(t, s, sizeof s));
    }
    return t;
}

/* The collector sees only the small userdata, not the storage behind it: report
 * large allocations as a GC step of their size so garbage tensors are freed in time. */
void mlL_account(lua_State *L, const ml_tensor *t)
{
    size_t kib = (size_t)t->numel * ml_dtype_size(t->dtype) / 1024;
    if (kib >= 64) lua_gc(L, LUA_GCSTEP, (int)(kib > (1u << 30) ? (1u << 30) : kib));
}

ml_tensor *mlL_newtensor(lua_State *L, ml_dtype dt, int ndim, const int64_t *shape)
{
    ml_tensor *t = lua_newuserdatauv(L, sizeof *t, 0);
    memset(t, 0, sizeof *t);
    luaL_setmetatable(L, MLL_TENSOR_MT);
    if (ml_tensor_init(t, dt, ndim, shape) != ML_OK) mlL_error(L, "%s", ml_errmsg());
    mlL_account(L, t);
    return t;
}

ml_tensor *mlL_pushtensor(lua_State *L, ml_tensor *src)
{
    ml_tensor *t = lua_newuserdatauv(L, sizeof *t, 0);
    *t = *src;
    memset(src, 0, sizeof *src);
    luaL_setmetatable(L, MLL_TENSOR_MT);
    mlL_account(L, t);
    return t;
}

int mlL_raise(lua_State *L, const char *fname)
{
    return mlL_error(L, "%s: %s", fname, ml_errmsg());
}

/* Edit distance, for "did you mean" suggestions on option-name typos. */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    int row[64];
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int prev = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cur = row[j];
            int sub = prev + (a[i - 1] != b[j - 1]);
            int best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            prev = cur;
        }
    }
    return row[lb];
}

static const char *kind_name(mlL_kind k)
{
    switch (k) {
    case MLL_BOOL: return "a boolean";
    case MLL_INT: return "an integer";
    case MLL_NUMBER: return "a number";
    case MLL_STRING: return "a string";
    case MLL_ENUM: return "a string";
    case MLL_TENSOR: return "a tensor";
    default: return "a value";
    }
}

static void read_opt(lua_State *L, const char *fname, const mlL_opt *o)
{
    int t = lua_type(L, -1);
    int ok = 1;
    switch (o->kind) {
    case MLL_BOOL:
        if ((ok = t == LUA_TBOOLEAN)) *(int *)o->dst = lua_toboolean(L, -1);
        break;
    case MLL_INT:
        if ((ok = t == LUA_TNUMBER)) {
            int isnum;
            lua_Integer v = lua_tointegerx(L, -1, &isnum);
            if (!isnum)
                mlL_error(L, "%s: option '%s' must be an integer, got %s", fname, o->name,
                           lua_tostring(L, -1));
            *(int64_t *)o->dst = v;
        }
        break;
    case MLL_NUMBER:
        if ((ok = t == LUA_TNUMBER)) *(double *)o->dst = lua_tonumber(L, -1);
        break;
    case MLL_STRING:
        if ((ok = t == LUA_TSTRING)) *(const char **)o->dst = lua_tostring(L, -1);
        break;
    case MLL_ENUM:
        if ((ok = t == LUA_TSTRING)) {
            const char *s = lua_tostring(L, -1);
            for (int i = 0; o->choices[i]; i++)
                if (!strcmp(s, o->choices[i])) {
                    *(int *)o->dst = i;
                    return;
                }
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (int i = 0; o->choices[i]; i++) {
                luaL_addstring(&b, i ? ", '" : "'");
                luaL_addstring(&b, o->choices[i]);
                luaL_addchar(&b, '\'');
            }
            luaL_pushresult(&b);
            mlL_error(L, "%s: option '%s' = '%s' is not one of %s", fname, o->name, s, lua_tostring(L, -1));
        }
        break;
    case MLL_TENSOR:
        if ((ok = mlL_testtensor(L, -1) != NULL)) *(ml_tensor **)o->dst = mlL_testtensor(L, -1);
        break;
    default: break;
    }
    if (!ok)
        mlL_error(L, "%s: option '%s' must be %s, got %s", fname, o->name, kind_name(o->kind),
                   luaL_typename(L, -1));
}

void mlL_opts(lua_State *L, int idx, const char *fname, const mlL_opt *opts)
{
    if (lua_isnoneornil(L, idx)) return;
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx))
        mlL_error(L, "%s: bad argument #%d 'opts': expected an options table, got %s", fname, idx,
                   luaL_typename(L, idx));
    /* unknown keys first, so a typo is reported even when other keys are fine */
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            mlL_error(L, "%s: option keys must be strings, got %s", fname, luaL_typename(L, -1));
        const char *k = lua_tostring(L, -1);
        const char *best = NULL;
        int bestd = 99, found = 0;
        for (const mlL_opt *o = opts; o->kind != MLL_END; o++) {
            if (!strcmp(k, o->name)) {
                found = 1;
                break;
            }
            int d = edit_distance(k, o->name);
            if (d < bestd) bestd = d, best = o->name;
        }
        if (!found) {
            if (best && bestd <= 2)
                mlL_error(L, "unknown option '%s' to %s (did you mean '%s'?)", k, fname, best);
            mlL_error(L, "unknown option '%s' to %s", k, fname);
        }
    }
    for (const mlL_opt *o = opts; o->kind != MLL_END; o++) {
        if (o->kind == MLL_SKIP) continue;
        lua_getfield(L, idx, o->name);
        if (!lua_isnil(L, -1)) read_opt(L, fname, o);
        lua_pop(L, 1);
    }
}
