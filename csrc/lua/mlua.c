/* Shared binding helpers: tensor userdata and error messages (options: mlua_opts.c, pins and
 * callback errors: mlua_pin.c, public names: mlua_name.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include "mlua.h"
#include "core/fmt.h"

ml_tensor *mlL_testtensor(lua_State *L, int idx)
{
    ml_tensor *t = (ml_tensor *)luaL_testudata(L, idx, MLL_TENSOR_MT);
    return t ? mlL_contiguous_arg(L, idx, t, "moonlab") : NULL;
}

/* Pushes the formatted text (any length; "-nan" printed as "nan"). */
void mlL_pushvfstring(lua_State *L, const char *fmt, va_list ap)
{
    char small[512];
    va_list ap2;
    va_copy(ap2, ap);
    int n = ml_vformat(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        lua_pushstring(L, fmt);
        return;
    }
    if ((size_t)n < sizeof small) {
        lua_pushstring(L, small);
        return;
    }
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, (size_t)n + 1);
    ml_vformat(p, (size_t)n + 1, fmt, ap);
    luaL_pushresultsize(&b, (size_t)n);
}

int mlL_error(lua_State *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mlL_pushvfstring(L, fmt, ap);
    va_end(ap);
    return mlL_throw(L);
}

int mlL_argerror(lua_State *L, int arg, const char *fname, const char *argname, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mlL_pushvfstring(L, fmt, ap);
    va_end(ap);
    const char *msg = lua_tostring(L, -1);
    if (argname) lua_pushfstring(L, "%s: bad argument #%d '%s': %s", fname, arg, argname, msg);
    else lua_pushfstring(L, "%s: bad argument #%d: %s", fname, arg, msg);
    return mlL_throw(L);
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

/* Tensor bytes allocated since the last full collection forced here, and the bytes live after it. */
static atomic_size_t since_full, live_after_full;

/* The collector sees only the small userdata, not the storage behind it. Large allocations are reported as a GC
 * step of their size; and since incremental steps were seen to leave garbage tensors uncollected for hundreds of
 * iterations (Lua 5.4.4: a loop making a table of two 1 MiB tensors per iteration freed none until a full
 * collection; a router loop piled up 600 MiB), a full collection also runs once the tensor bytes allocated since
 * the last one exceed the largest of 16 MiB, the tensor bytes live after it and 8 times the Lua heap (so that
 * its cost stays a small fraction of the allocations'). Neither while the user has stopped the collector. */
void mlL_account(lua_State *L, const ml_tensor *t)
{
    size_t bytes = (size_t)t->numel * ml_dtype_size(t->dtype), kib = bytes / 1024;
    if (kib < 64 || !lua_gc(L, LUA_GCISRUNNING)) return;
    lua_gc(L, LUA_GCSTEP, (int)(kib > (1u << 30) ? (1u << 30) : kib));
    size_t since = atomic_fetch_add(&since_full, bytes) + bytes;
    size_t lim = (size_t)16 << 20, live = atomic_load(&live_after_full);
    size_t heap = (size_t)lua_gc(L, LUA_GCCOUNT) * 1024 * 8;
    if (live > lim) lim = live;
    if (heap > lim) lim = heap;
    if (since > lim) {
        atomic_store(&since_full, 0);
        lua_gc(L, LUA_GCCOLLECT);
        atomic_store(&live_after_full, ml_tensor_live_bytes());
    }
}

static ml_tensor *newtensor(lua_State *L, ml_dtype dt, int ndim, const int64_t *shape, int zero)
{
    ml_tensor *t = lua_newuserdatauv(L, sizeof *t, 0);
    memset(t, 0, sizeof *t);
    luaL_setmetatable(L, MLL_TENSOR_MT);
    if ((zero ? ml_tensor_init(t, dt, ndim, shape) : ml_tensor_init_uninit(t, dt, ndim, shape)) != ML_OK)
        mlL_errorhere(L, "%s", ml_errmsg());
    mlL_account(L, t);
    return t;
}

ml_tensor *mlL_newtensor(lua_State *L, ml_dtype dt, int ndim, const int64_t *shape)
{
    return newtensor(L, dt, ndim, shape, 1);
}

ml_tensor *mlL_newtensor_uninit(lua_State *L, ml_dtype dt, int ndim, const int64_t *shape)
{
    return newtensor(L, dt, ndim, shape, 0);
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
    if (ml_errcode() == ML_ECALLBACK && mlL_pushcallbackerror(L)) {
        lua_pushfstring(L, "%s: %s", fname, lua_tostring(L, -1));
        return mlL_throw(L);
    }
    return mlL_error(L, "%s: %s", fname, ml_errmsg());
}
