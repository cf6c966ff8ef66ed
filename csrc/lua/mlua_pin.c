/* Anchoring for calls that run Lua callbacks: tensor pins and callback error texts (see mlua.h). */
#include <string.h>
#include "mlua.h"

#define PIN_MT "moonlab.Pin"
#define CBERR_KEY "moonlab.callback_error"   /* full text of the last callback error */
#define CBERR_SHORT "moonlab.callback_short" /* the ml_errmsg() it was recorded with */

static int pin_release(lua_State *L)
{
    ml_tensor *t = lua_touserdata(L, 1);
    if (t) ml_tensor_release(t);
    return 0;
}

const ml_tensor *mlL_pintensor(lua_State *L, const ml_tensor *src, const char *fname)
{
    if (!src || !src->data) mlL_error(L, "%s: tensor was closed", fname);
    ml_tensor *p = lua_newuserdatauv(L, sizeof *p, 0);
    memset(p, 0, sizeof *p);
    if (luaL_newmetatable(L, PIN_MT)) {
        lua_pushcfunction(L, pin_release);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, pin_release);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    int rc = ML_OK;
    if (src->storage) { /* shares the storage (same shape, strides, offset): one more reference, no copy */
        ml_tensor_share(p, src);
    } else { /* borrowed memory (ml_tensor_wrap): a private copy */
        rc = ml_tensor_init(p, src->dtype, src->ndim, src->shape);
        if (rc == ML_OK) rc = ml_tensor_copy(p, src);
    }
    if (rc != ML_OK) mlL_error(L, "%s: %s", fname, ml_errmsg());
    lua_toclose(L, -1);
    return p;
}

const ml_tensor *mlL_pin(lua_State *L, int idx, const char *fname, const char *argname)
{
    return mlL_pintensor(L, mlL_checktensor(L, idx, fname, argname), fname);
}

static int tostring_protected(lua_State *L)
{
    luaL_tolstring(L, 1, NULL);
    return 1;
}

const char *mlL_errtext(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 4, "mlL_errtext");
    int t = lua_type(L, idx);
    if (t == LUA_TSTRING || t == LUA_TNUMBER) {
        lua_pushvalue(L, idx);
        return lua_tostring(L, -1);
    }
    if (luaL_getmetafield(L, idx, "__tostring") != LUA_TNIL) {
        lua_pop(L, 1);
        lua_pushcfunction(L, tostring_protected);
        lua_pushvalue(L, idx);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING) return lua_tostring(L, -1);
        lua_pop(L, 1);
        return lua_pushfstring(L, "(error object is a %s value whose __tostring failed)", luaL_typename(L, idx));
    }
    if (t == LUA_TNIL) return lua_pushliteral(L, "(error object is nil)");
    return lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, idx));
}

int mlL_callback_error(lua_State *L, const char *fmt, ...)
{
    int err = lua_gettop(L);
    va_list ap;
    va_start(ap, fmt);
    mlL_pushvfstring(L, fmt, ap);
    va_end(ap);
    const char *text = mlL_errtext(L, err);
    lua_pushfstring(L, "%s: %s", lua_tostring(L, err + 1), text);
    ml_fail(ML_ECALLBACK, "%s", lua_tostring(L, -1));
    lua_setfield(L, LUA_REGISTRYINDEX, CBERR_KEY);
    lua_pushstring(L, ml_errmsg());
    lua_setfield(L, LUA_REGISTRYINDEX, CBERR_SHORT);
    lua_settop(L, err - 1);
    return ML_ECALLBACK;
}

int mlL_pushcallbackerror(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, CBERR_SHORT);
    int match = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), ml_errmsg()) == 0;
    lua_pop(L, 1);
    if (match) lua_getfield(L, LUA_REGISTRYINDEX, CBERR_KEY);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, CBERR_SHORT);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, CBERR_KEY);
    return match;
}
