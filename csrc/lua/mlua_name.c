/* The public name of the moonlab function the user called, found from the call stack (see mlua.h). */
#include <string.h>
#include "mlua.h"

#define NAME_KEY "moonlab.public_name"
#define METHODS_KEY "moonlab.public_methods"

/* Pushes "<prefix><sep><key>" when the table at tidx holds the function at fidx as a string key. */
static int find_in(lua_State *L, int tidx, int fidx, const char *prefix, const char *sep)
{
    lua_pushnil(L);
    while (lua_next(L, tidx)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, fidx)) {
            lua_pushfstring(L, "%s%s%s", prefix, sep, lua_tostring(L, -2));
            lua_replace(L, -3);
            lua_pop(L, 1);
            return 1;
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* Looks up the function at fidx: pushes its public name and returns 2; returns 1 for an internal
 * moonlab function (a moonlab.core entry), 0 for anything else. */
static int lookup(lua_State *L, int fidx)
{
    int found = 0;
    lua_getfield(L, LUA_REGISTRYINDEX, METHODS_KEY); /* method tables of Lua objects: nn.model:forward */
    if (lua_istable(L, -1)) {
        int reg = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, reg)) {
            if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, -1)) {
                lua_pushvalue(L, -2);
                const char *prefix = lua_tostring(L, -1);
                if (find_in(L, lua_gettop(L) - 1, fidx, prefix, ":")) {
                    lua_replace(L, reg); /* name replaces the registry table */
                    lua_settop(L, reg);
                    return 2;
                }
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, MLL_TENSOR_MT); /* tensor methods first: t:clone() */
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "__index");
        if (!lua_istable(L, -1)) { /* __index is a function: the methods live in the metatable's "methods" */
            lua_pop(L, 1);
            lua_getfield(L, -1, "methods");
        }
        if (lua_istable(L, -1) && find_in(L, lua_gettop(L), fidx, "tensor", ":")) {
            lua_replace(L, -3);
            lua_pop(L, 1);
            return 2;
        }
        lua_pop(L, 1);
        if (find_in(L, lua_gettop(L), fidx, "tensor", ":")) { /* metamethods: tensor:__len */
            lua_replace(L, -2);
            return 2;
        }
    }
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    int loaded = lua_gettop(L);
    lua_pushnil(L);
    while (!found && lua_next(L, loaded)) {
        const char *mod = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
        if (lua_istable(L, -1) && (!strcmp(mod, "moonlab") || !strncmp(mod, "moonlab.", 8))) {
            int core = !strcmp(mod, "moonlab.core");
            const char *pub = !strcmp(mod, "moonlab") ? "moonlab" : mod + 8;
            if (find_in(L, lua_gettop(L), fidx, pub, ".")) {
                if (core) lua_pop(L, 1), found = 1; /* internal: keep looking for a public alias */
                else {
                    lua_replace(L, loaded); /* name replaces the loaded table */
                    lua_settop(L, loaded);
                    return 2;
                }
            }
        }
        lua_pop(L, 1);
    }
    if (found) { /* an internal entry; a public module might still list it, so scan again */
        lua_settop(L, loaded);
        lua_pushnil(L);
        while (lua_next(L, loaded)) {
            const char *mod = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
            if (lua_istable(L, -1) && strcmp(mod, "moonlab.core") &&
                (!strcmp(mod, "moonlab") || !strncmp(mod, "moonlab.", 8)) &&
                find_in(L, lua_gettop(L), fidx, !strcmp(mod, "moonlab") ? "moonlab" : mod + 8, ".")) {
                lua_replace(L, loaded);
                lua_settop(L, loaded);
                return 2;
            }
            lua_pop(L, 1);
        }
    }
    lua_settop(L, loaded - 1);
    return found;
}

/* A Lua source file of moonlab's own modules: ".../moonlab/<name>.lua". */
static int moonlab_source(const char *src)
{
    if (!src || (src[0] != '@' && src[0] != '=')) return 0;
    const char *p = NULL;
    for (const char *q = strstr(src, "moonlab/"); q; q = strstr(q + 1, "moonlab/"))
        if (q == src + 1 || q[-1] == '/') p = q;
    if (!p) return 0;
    const char *rest = p + 8;
    size_t n = strlen(rest);
    return !strchr(rest, '/') && n > 4 && !strcmp(rest + n - 4, ".lua");
}

/* The walk of mlL_public_name; *at is the stack level of the name found (-1: none). */
static const char *public_name(lua_State *L, int *at)
{
    lua_Debug ar;
    int top = lua_gettop(L);
    luaL_checkstack(L, 12, "mlL_public_name");
    lua_pushnil(L); /* best name so far, at top + 1 */
    *at = -1;
    for (int level = 0; level < 64 && lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sf", &ar)) break;
        int k = lookup(L, lua_gettop(L));
        if (k == 2) {
            lua_replace(L, top + 1);
            *at = level;
        } else if (k == 0 && !(ar.what[0] != 'C' && moonlab_source(ar.source))) {
            lua_pop(L, 1);
            break; /* user code, or a C function that is not moonlab's (pcall, ...) */
        }
        lua_settop(L, top + 1);
    }
    lua_setfield(L, LUA_REGISTRYINDEX, NAME_KEY);
    lua_getfield(L, LUA_REGISTRYINDEX, NAME_KEY);
    const char *name = lua_tostring(L, -1); /* anchored by the registry */
    lua_settop(L, top);
    return name;
}

const char *mlL_public_name(lua_State *L)
{
    int at;
    return public_name(L, &at);
}

/* Whether msg already names fn: "fn: ..." or "unknown option '...' to fn". */
static int names(const char *msg, const char *fn)
{
    size_t n = strlen(fn);
    if (!strncmp(msg, fn, n) && msg[n] == ':') return 1;
    if (!strncmp(msg, "unknown option '", 16)) {
        const char *q = strstr(msg, "' to ");
        return q && !strncmp(q + 5, fn, n) && (q[5 + n] == '\0' || q[5 + n] == ' ');
    }
    return 0;
}

int mlL_throw(lua_State *L)
{
    if (lua_type(L, -1) == LUA_TSTRING) {
        int at;
        const char *outer = public_name(L, &at);
        const char *msg = lua_tostring(L, -1);
        if (outer && at > 0 && !names(msg, outer)) {
            lua_pushfstring(L, "%s: %s", outer, msg);
            lua_replace(L, -2);
        }
    }
    return lua_error(L);
}

/* core.public_methods(prefix, methods): the functions of the table methods are public as prefix:name. */
static int l_public_methods(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TSTRING);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, LUA_REGISTRYINDEX, METHODS_KEY);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, METHODS_KEY);
    }
    lua_pushvalue(L, 2);
    lua_setfield(L, -2, lua_tostring(L, 1));
    return 0;
}

void mlL_open_names(lua_State *L)
{
    lua_pushcfunction(L, l_public_methods);
    lua_setfield(L, -2, "public_methods");
}

int mlL_errorhere(lua_State *L, const char *fmt, ...)
{
    const char *name = mlL_public_name(L);
    va_list ap;
    va_start(ap, fmt);
    mlL_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_pushfstring(L, "%s: %s", name ? name : "moonlab", lua_tostring(L, -1));
    return lua_error(L);
}
