/* Test bindings for the shared binding helpers (spec/mlua_spec.lua builds and runs this under
 * ASan+UBSan): pins, callback errors, options with flags, public names. Not part of the library. */
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "mlua.h"

int luaopen_moonlab_core(lua_State *L);

/* pinned_sum(t, cb): pins t, calls cb() (which may close t and collect garbage), then sums the
 * pinned data. Without the pin this reads freed memory. */
static int pinned_sum(lua_State *L)
{
    const ml_tensor *p = mlL_pin(L, 1, "test.pinned_sum", "t");
    const double *d = ml_f64(p); /* what a core holds while it runs callbacks */
    int64_t n = p->numel;
    lua_pushvalue(L, 2);
    lua_call(L, 0, 0);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += d[i];
    lua_pushnumber(L, s);
    return 1;
}

/* pinned_error(t, cb): pins t, then cb raises: the pin is released while the error unwinds. */
static int pinned_error(lua_State *L)
{
    mlL_pin(L, 1, "test.pinned_error", "t");
    lua_pushvalue(L, 2);
    lua_call(L, 0, 0);
    return 0;
}

/* callback(cb, x): calls cb(x) protected like a core would, returns its number or raises
 * "test.callback: F raised an error at s = <x>: <text>" through mlL_callback_error + mlL_raise. */
static int callback(lua_State *L)
{
    double x = luaL_checknumber(L, 2);
    lua_pushvalue(L, 1);
    lua_pushnumber(L, x);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        int rc = mlL_callback_error(L, "F raised an error at s = %g", x);
        /* a core passes rc up after cleanup; the binding then raises */
        if (rc != ML_ECALLBACK) return luaL_error(L, "unexpected code");
        return mlL_raise(L, "test.callback");
    }
    return 1;
}

/* opts(tbl) -> n, x, s, e: reads options with flags. */
static int opts(lua_State *L)
{
    static const char *const ch[] = {"one", "two", NULL};
    int64_t n = -1;
    double x = -1;
    const char *s = "none";
    int e = -1;
    mlL_opts(L, 1, "test.opts", (mlL_opt[]){{"n", MLL_INT | MLL_REQUIRED | MLL_INT32, &n, NULL},
                                             {"x", MLL_NUMBER | MLL_FINITE, &x, NULL},
                                             {"pos", MLL_NUMBER | MLL_POSITIVE, &x, NULL},
                                             {"s", MLL_STRING, &s, NULL},
                                             {"e", MLL_ENUM, &e, ch},
                                             {"raw", MLL_SKIP, NULL, NULL},
                                             {0}});
    lua_gc(L, LUA_GCCOLLECT); /* s must survive: the copy holds it */
    lua_pushinteger(L, n);
    lua_pushnumber(L, x);
    lua_pushstring(L, s);
    lua_pushinteger(L, e);
    lua_getfield(L, 1, "raw"); /* read from the copy that replaced the table */
    return 5;
}

/* alloc(n): a tensor of n doubles through mlL_newtensor (fails for huge n). */
static int alloc(lua_State *L)
{
    int64_t n = luaL_checkinteger(L, 1);
    mlL_newtensor(L, ML_F64, 1, &n);
    return 1;
}

/* where() -> the public name of the calling function, or nil */
static int where(lua_State *L)
{
    const char *n = mlL_public_name(L);
    if (n) lua_pushstring(L, n);
    else lua_pushnil(L);
    return 1;
}

/* errfmt(x) raises mlL_error with %g of x: NaN prints as "nan". */
static int errfmt(lua_State *L) { return mlL_error(L, "test.errfmt: got %g and %s", luaL_checknumber(L, 1), luaL_optstring(L, 2, "")); }

/* checks(n, x, s, [m]) with the mlL_check* helpers */
static int checks(lua_State *L)
{
    lua_Integer n = mlL_checkinteger(L, 1, "test.checks", "n", 1, 64);
    double x = mlL_checknumber(L, 2, "test.checks", "x", 1);
    const char *s = mlL_checkstring(L, 3, "test.checks", "s");
    lua_Integer m = mlL_optinteger(L, 4, "test.checks", "m", LUA_MININTEGER, LUA_MAXINTEGER, -7);
    lua_pushfstring(L, "%I %f %s %I", (LUAI_UACINT)n, x, s, (LUAI_UACINT)m);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: mlua_test script.lua\n");
        return 2;
    }
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "moonlab.core", luaopen_moonlab_core, 0);
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {{"pinned_sum", pinned_sum}, {"pinned_error", pinned_error},
                                   {"callback", callback},     {"opts", opts},
                                   {"alloc", alloc},           {"where", where},
                                   {"errfmt", errfmt},         {"checks", checks},
                                   {NULL, NULL}};
    luaL_newlib(L, fns);
    lua_setglobal(L, "test");
    int rc = luaL_dofile(L, argv[1]);
    if (rc != LUA_OK) fprintf(stderr, "FAIL %s\n", lua_tostring(L, -1));
    lua_close(L);
    return rc == LUA_OK ? 0 : 1;
}
