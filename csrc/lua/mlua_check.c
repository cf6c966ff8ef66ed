/* Argument checks whose messages name the public function (see mlua.h). */
#include <math.h>
#include "mlua.h"

const char *mlL_pushgot(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TNUMBER) {
        if (lua_isinteger(L, idx)) return lua_pushfstring(L, "%I", (LUAI_UACINT)lua_tointeger(L, idx));
        double v = lua_tonumber(L, idx);
        if (isnan(v)) return lua_pushliteral(L, "nan");
        return lua_pushfstring(L, "%f", v);
    }
    if (lua_type(L, idx) == LUA_TNONE) return lua_pushliteral(L, "no value");
    return lua_pushstring(L, luaL_typename(L, idx));
}

lua_Integer mlL_checkinteger(lua_State *L, int arg, const char *fname, const char *argname, lua_Integer lo,
                             lua_Integer hi)
{
    int isint;
    lua_Integer v = lua_tointegerx(L, arg, &isint);
    if (lua_type(L, arg) != LUA_TNUMBER || !isint || v < lo || v > hi) {
        const char *got = mlL_pushgot(L, arg);
        if (lo == LUA_MININTEGER && hi == LUA_MAXINTEGER)
            mlL_argerror(L, arg, fname, argname, "expected an integer, got %s", got);
        mlL_argerror(L, arg, fname, argname, "expected an integer in %lld..%lld, got %s", (long long)lo,
                     (long long)hi, got);
    }
    return v;
}

lua_Integer mlL_optinteger(lua_State *L, int arg, const char *fname, const char *argname, lua_Integer lo,
                           lua_Integer hi, lua_Integer def)
{
    return lua_isnoneornil(L, arg) ? def : mlL_checkinteger(L, arg, fname, argname, lo, hi);
}

double mlL_checknumber(lua_State *L, int arg, const char *fname, const char *argname, int finite_only)
{
    double v = lua_tonumber(L, arg);
    if (lua_type(L, arg) != LUA_TNUMBER || (finite_only && !isfinite(v)))
        mlL_argerror(L, arg, fname, argname, "expected a %snumber, got %s", finite_only ? "finite " : "",
                     mlL_pushgot(L, arg));
    return v;
}

double mlL_optnumber(lua_State *L, int arg, const char *fname, const char *argname, int finite_only, double def)
{
    return lua_isnoneornil(L, arg) ? def : mlL_checknumber(L, arg, fname, argname, finite_only);
}

const char *mlL_checkstring(lua_State *L, int arg, const char *fname, const char *argname)
{
    if (lua_type(L, arg) != LUA_TSTRING)
        mlL_argerror(L, arg, fname, argname, "expected a string, got %s", mlL_pushgot(L, arg));
    return lua_tostring(L, arg);
}

void *mlL_checkudata(lua_State *L, int arg, const char *tname, const char *fname, const char *argname,
                     const char *what)
{
    void *p = luaL_testudata(L, arg, tname);
    if (!p) mlL_argerror(L, arg, fname, argname, "expected a %s, got %s", what, mlL_pushgot(L, arg));
    return p;
}
