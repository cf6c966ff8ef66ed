/* The shared option-table reader of the bindings (mlL_opts, see mlua.h). */
#include <limits.h>
#include <math.h>
#include <string.h>
#include "mlua.h"

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

static const char *kind_name(int kind)
{
    int flags = kind;
    switch (kind & MLL_KINDMASK) {
    case MLL_BOOL: return "a boolean";
    case MLL_INT: return flags & MLL_POSITIVE ? "a positive integer" : "an integer";
    case MLL_NUMBER:
        return flags & MLL_POSITIVE ? "a finite number > 0" : flags & MLL_FINITE ? "a finite number" : "a number";
    case MLL_STRING: return "a string";
    case MLL_ENUM: return "a string";
    case MLL_TENSOR: return "a tensor";
    default: return "a value";
    }
}

static void bad(lua_State *L, const char *fname, const mlL_opt *o)
{
    mlL_error(L, "%s: option '%s' must be %s, got %s", fname, o->name, kind_name(o->kind),
              mlL_pushgot(L, -1));
}

static void read_enum(lua_State *L, const char *fname, const mlL_opt *o)
{
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

/* Reads the value on top of the stack (not nil) into o->dst. */
static void read_opt(lua_State *L, const char *fname, const mlL_opt *o)
{
    int t = lua_type(L, -1);
    switch (o->kind & MLL_KINDMASK) {
    case MLL_BOOL:
        if (t != LUA_TBOOLEAN) bad(L, fname, o);
        *(int *)o->dst = lua_toboolean(L, -1);
        break;
    case MLL_INT: {
        int isnum;
        lua_Integer v = lua_tointegerx(L, -1, &isnum);
        if (t != LUA_TNUMBER || !isnum) bad(L, fname, o);
        if ((o->kind & MLL_POSITIVE) && v <= 0) bad(L, fname, o);
        if ((o->kind & MLL_INT32) && (v > INT_MAX || v < INT_MIN))
            mlL_error(L, "%s: option '%s' = %lld is out of range (at most %d)", fname, o->name, (long long)v,
                      INT_MAX);
        *(int64_t *)o->dst = v;
        break;
    }
    case MLL_NUMBER: {
        if (t != LUA_TNUMBER) bad(L, fname, o);
        double v = lua_tonumber(L, -1);
        if ((o->kind & (MLL_FINITE | MLL_POSITIVE)) && !isfinite(v)) bad(L, fname, o);
        if ((o->kind & MLL_POSITIVE) && !(v > 0)) bad(L, fname, o);
        *(double *)o->dst = v;
        break;
    }
    case MLL_STRING:
        if (t != LUA_TSTRING) bad(L, fname, o);
        *(const char **)o->dst = lua_tostring(L, -1); /* anchored by the copy (see mlL_opts) */
        break;
    case MLL_ENUM:
        if (t != LUA_TSTRING) bad(L, fname, o);
        read_enum(L, fname, o);
        break;
    case MLL_TENSOR: {
        ml_tensor *x = mlL_testtensor(L, -1);
        if (!x) bad(L, fname, o);
        if (!x->data) mlL_error(L, "%s: option '%s': tensor was closed", fname, o->name);
        *(ml_tensor **)o->dst = x;
        break;
    }
    default: break;
    }
}

/* Raises for a key of the table at idx that no option declares. */
static void check_unknown(lua_State *L, int idx, const char *fname, const mlL_opt *opts)
{
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
}

void mlL_opts(lua_State *L, int idx, const char *fname, const mlL_opt *opts)
{
    if (lua_isnoneornil(L, idx)) {
        for (const mlL_opt *o = opts; o->kind != MLL_END; o++)
            if (o->kind & MLL_REQUIRED) mlL_error(L, "%s: missing required option '%s'", fname, o->name);
        return;
    }
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx))
        mlL_error(L, "%s: bad argument #%d 'opts': expected an options table, got %s", fname, idx,
                  luaL_typename(L, idx));
    luaL_checkstack(L, 8, fname);
    /* unknown keys first, so a typo is reported even when other keys are fine */
    check_unknown(L, idx, fname, opts);
    /* Fetch each declared key once (metamethods run here, and only here) into a plain copy that
     * replaces the user's table: every value read below stays referenced for the whole call. */
    int n = 0;
    for (const mlL_opt *o = opts; o->kind != MLL_END; o++) n++;
    lua_createtable(L, 0, n);
    for (const mlL_opt *o = opts; o->kind != MLL_END; o++) {
        lua_getfield(L, idx, o->name);
        lua_setfield(L, -2, o->name); /* the copy has no metatable: a raw set */
    }
    lua_replace(L, idx);
    for (const mlL_opt *o = opts; o->kind != MLL_END; o++) {
        lua_getfield(L, idx, o->name);
        if (!lua_isnil(L, -1)) {
            if ((o->kind & MLL_KINDMASK) != MLL_SKIP) read_opt(L, fname, o);
        } else if (o->kind & MLL_REQUIRED) {
            mlL_error(L, "%s: missing required option '%s'", fname, o->name);
        }
        lua_pop(L, 1);
    }
}
