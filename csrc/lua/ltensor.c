/* Lua binding of the tensor: argument helpers, constructors, element access,
 * conversions and registration. Views/indexing live in ltensor_view.c,
 * operations in ltensor_ops.c, files and printing in ltensor_io.c, linear
 * algebra in ltensor_linalg.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "ltensor.h"

/* ---- tensors on the stack ---- */

ml_tensor *lt_test(lua_State *L, int idx) { return (ml_tensor *)luaL_testudata(L, idx, MLL_TENSOR_MT); }

ml_tensor *lt_check(lua_State *L, int idx, const char *fname, const char *argname)
{
    ml_tensor *t = lt_test(L, idx);
    if (!t) mlL_argerror(L, idx, fname, argname, "expected a tensor, got %s", luaL_typename(L, idx));
    if (!t->data) mlL_argerror(L, idx, fname, argname, "tensor was closed");
    return t;
}

static ml_tensor *newud(lua_State *L)
{
    ml_tensor *t = lua_newuserdatauv(L, sizeof *t, 1);
    memset(t, 0, sizeof *t);
    luaL_setmetatable(L, MLL_TENSOR_MT);
    return t;
}

ml_tensor *lt_newout(lua_State *L, const char *fname, ml_dtype dt, int nd, const int64_t *shape)
{
    ml_tensor *t = newud(L);
    if (ml_tensor_init_uninit(t, dt, nd, shape) != ML_OK) mlL_raise(L, fname);
    mlL_account(L, t);
    return t;
}

/* A new tensor whose size the user chose: a failed allocation names the size argument. */
static ml_tensor *newsized(lua_State *L, const char *fname, int arg, const char *argname, ml_dtype dt, int nd,
                           const int64_t *shape)
{
    ml_tensor *t = newud(L);
    if (ml_tensor_init0(t, dt, nd, shape) != ML_OK) mlL_argerror(L, arg, fname, argname, "%s", ml_errmsg());
    mlL_account(L, t);
    return t;
}

ml_tensor *lt_pushview(lua_State *L, ml_tensor *v)
{
    ml_tensor *t = newud(L);
    *t = *v;
    memset(v, 0, sizeof *v);
    return t;
}

ml_tensor *lt_pushview_rc(lua_State *L, int rc, ml_tensor *v, const char *fname)
{
    if (rc) mlL_raise(L, fname);
    return lt_pushview(L, v);
}

/* The contiguous copy handed to C cores for a non-contiguous view: kept in the
 * view's user value (so it lives as long as the view) and refreshed on every call. */
ml_tensor *mlL_contiguous_arg(lua_State *L, int idx, ml_tensor *t, const char *fname)
{
    if (!t->data || ml_tensor_is_contiguous(t)) return t;
    idx = lua_absindex(L, idx);
    ml_tensor *c = NULL;
    if (lua_getiuservalue(L, idx, 1) != LUA_TNONE) {
        c = lt_test(L, -1);
        if (c && (!c->data || c->dtype != t->dtype || !ml_tensor_same_shape(c, t))) c = NULL;
    }
    lua_pop(L, 1);
    if (!c) {
        c = lt_newout(L, fname, t->dtype, t->ndim, t->shape);
        if (!lua_setiuservalue(L, idx, 1)) {
            lua_pop(L, 1);
            mlL_error(L, "tensor: cannot attach a contiguous copy to this view");
        }
    }
    ml_tensor_copy(c, t);
    return c;
}

/* ---- argument helpers ---- */

lua_Integer lt_checkint(lua_State *L, int idx, const char *fname, const char *argname)
{
    int isint;
    lua_Integer v = lua_tointegerx(L, idx, &isint);
    if (!isint || lua_type(L, idx) != LUA_TNUMBER)
        mlL_argerror(L, idx, fname, argname, "expected an integer, got %s",
                     lua_type(L, idx) == LUA_TNUMBER ? lua_tostring(L, idx) : luaL_typename(L, idx));
    return v;
}

double lt_checknum(lua_State *L, int idx, const char *fname, const char *argname)
{
    if (lua_type(L, idx) != LUA_TNUMBER)
        mlL_argerror(L, idx, fname, argname, "expected a number, got %s", luaL_typename(L, idx));
    return lua_tonumber(L, idx);
}

static double check_finite(lua_State *L, int idx, const char *fname, const char *name)
{
    double v = lt_checknum(L, idx, fname, name);
    if (!isfinite(v)) mlL_argerror(L, idx, fname, name, "expected a finite number, got %g", v);
    return v;
}

ml_dtype lt_checkdtype(lua_State *L, int idx, const char *fname, int def)
{
    if (lua_isnoneornil(L, idx) && def >= 0) return (ml_dtype)def;
    int dt = lua_type(L, idx) == LUA_TSTRING ? ml_dtype_parse(lua_tostring(L, idx)) : -1;
    if (dt < 0) {
        int s = lua_type(L, idx) == LUA_TSTRING;
        mlL_argerror(L, idx, fname, "dtype", "expected one of 'f32', 'f64', 'i32', 'i64', 'u8', 'bool', got %s%s%s",
                     s ? "'" : "", s ? lua_tostring(L, idx) : lua_isnoneornil(L, idx) ? "no value" : luaL_typename(L, idx),
                     s ? "'" : "");
    }
    return (ml_dtype)dt;
}

static int64_t check_size(lua_State *L, int idx, int argidx, const char *fname, const char *what, int k, int allow_m1)
{
    int isint;
    lua_Integer v = lua_tointegerx(L, idx, &isint);
    if (!isint || lua_type(L, idx) != LUA_TNUMBER)
        mlL_argerror(L, argidx, fname, what, "size %d must be an integer, got %s", k,
                     lua_type(L, idx) == LUA_TNUMBER ? lua_tostring(L, idx) : luaL_typename(L, idx));
    if (v < 0 && !(allow_m1 && v == -1))
        mlL_argerror(L, argidx, fname, what, "size %d must be %s, got %lld", k, allow_m1 ? "positive, 0 or -1" : "positive or 0",
                     (long long)v);
    return v;
}

int lt_checkshape(lua_State *L, int idx, const char *fname, const char *argname, int64_t *shape, int64_t numel)
{
    int n, table = lua_istable(L, idx);
    if (table) {
        n = (int)luaL_len(L, idx);
    } else {
        if (lua_type(L, idx) != LUA_TNUMBER)
            mlL_argerror(L, idx, fname, argname, "expected a table of sizes, got %s", luaL_typename(L, idx));
        n = 0;
        while (lua_type(L, idx + n) == LUA_TNUMBER) n++;
    }
    if (n > ML_MAXDIM || n < 0) mlL_argerror(L, idx, fname, argname, "at most %d dims, got %d", ML_MAXDIM, n);
    int infer = -1;
    for (int i = 0; i < n; i++) {
        if (table) lua_geti(L, idx, i + 1);
        shape[i] = check_size(L, table ? -1 : idx + i, table ? idx : idx + i, fname, argname, i + 1, numel >= 0);
        if (table) lua_pop(L, 1);
        if (shape[i] == -1) {
            if (infer >= 0) mlL_argerror(L, idx, fname, argname, "only one size may be -1");
            infer = i;
        }
    }
    if (infer >= 0) {
        int64_t rest = 1;
        for (int i = 0; i < n; i++)
            if (i != infer) rest = rest && shape[i] > INT64_MAX / rest ? INT64_MAX : rest * shape[i];
        if (rest == 0 || numel % rest)
            mlL_argerror(L, idx, fname, argname, "cannot infer the size -1: %lld elements do not split into %lld",
                         (long long)numel, (long long)rest);
        shape[infer] = numel / rest;
    }
    int64_t total;
    if (ml_shape_numel0(n, shape, &total)) mlL_argerror(L, idx, fname, argname, "%s", ml_errmsg());
    return n;
}

int lt_checkdim(lua_State *L, int idx, int nd, const char *fname, int extra)
{
    int isint;
    lua_Integer d = lua_tointegerx(L, idx, &isint);
    int top = nd + extra;
    if (!isint || lua_type(L, idx) != LUA_TNUMBER || d == 0 || d > top || d < -top)
        mlL_argerror(L, idx, fname, "dim", "expected a dim in 1..%d (or -%d..-1 from the end), got %s", top, top,
                     lua_type(L, idx) == LUA_TNUMBER ? lua_tostring(L, idx) : luaL_typename(L, idx));
    return (int)(d > 0 ? d - 1 : top + d);
}

/* ---- single elements ---- */

const char *lt_value_fits(ml_dtype dt, lua_State *L, int idx)
{
    if (lua_isboolean(L, idx) || ml_dtype_is_float(dt) || dt == ML_BOOL) return NULL;
    double lo = dt == ML_U8 ? 0 : dt == ML_I32 ? -2147483648.0 : -0x1p63;
    double hi = dt == ML_U8 ? 255 : dt == ML_I32 ? 2147483647.0 : 0x1p63;
    if (lua_isinteger(L, idx)) {
        lua_Integer v = lua_tointeger(L, idx);
        return dt == ML_I64 || (v >= (lua_Integer)lo && v <= (lua_Integer)hi) ? NULL : "out of range";
    }
    double v = lua_tonumber(L, idx);
    if (isnan(v)) return "nan";
    return v > lo - 1 && (dt == ML_I64 ? v < hi : v < hi + 1) ? NULL : "out of range";
}

static void check_fits(lua_State *L, const char *fname, ml_dtype dt, int idx)
{
    if (lua_type(L, idx) != LUA_TNUMBER && lua_type(L, idx) != LUA_TBOOLEAN)
        mlL_error(L, "%s: expected a number or boolean value, got %s", fname, luaL_typename(L, idx));
    const char *why = lt_value_fits(dt, L, idx);
    if (why)
        mlL_error(L, "%s: value %s does not fit dtype %s (%s)", fname, luaL_tolstring(L, idx, NULL), ml_dtype_name(dt),
                  why);
}

void lt_storeelem(lua_State *L, const char *fname, ml_dtype dt, void *p, int idx)
{
    check_fits(L, fname, dt, idx);
    if (lua_isboolean(L, idx)) ml_store_i(dt, p, lua_toboolean(L, idx));
    else if (lua_isinteger(L, idx)) ml_store_i(dt, p, lua_tointeger(L, idx));
    else ml_store_d(dt, p, lua_tonumber(L, idx));
}

void lt_fillvalue(lua_State *L, const char *fname, ml_tensor *t, int idx)
{
    check_fits(L, fname, t->dtype, idx);
    if (lua_isboolean(L, idx)) ml_tensor_fill(t, lua_toboolean(L, idx));
    else if (lua_isinteger(L, idx) && !ml_dtype_is_float(t->dtype)) ml_tensor_fill_i(t, lua_tointeger(L, idx));
    else ml_tensor_fill(t, lua_tonumber(L, idx));
}

void lt_pushelem(lua_State *L, ml_dtype dt, const void *p)
{
    switch (dt) {
    case ML_F32:
    case ML_F64: lua_pushnumber(L, ml_load_d(dt, p)); break;
    case ML_BOOL: lua_pushboolean(L, *(const uint8_t *)p != 0); break;
    default: lua_pushinteger(L, ml_load_i(dt, p)); break;
    }
}

/* ---- conversions ---- */

ml_tensor *lt_as(lua_State *L, ml_tensor *t, ml_dtype dt, const char *fname)
{
    if (t->dtype == dt) return t;
    ml_tensor *o = lt_newout(L, fname, dt, t->ndim, t->shape);
    if (ml_tensor_copy(o, t)) mlL_raise(L, fname);
    return o;
}

ml_tensor *lt_contig(lua_State *L, ml_tensor *t, const char *fname)
{
    if (ml_tensor_is_contiguous(t)) return t;
    ml_tensor *o = lt_newout(L, fname, t->dtype, t->ndim, t->shape);
    ml_tensor_copy(o, t);
    return o;
}

ml_dtype lt_scalar_dtype(lua_State *L, int idx, ml_dtype dt)
{
    if (lua_isboolean(L, idx)) return dt;
    if (lua_isinteger(L, idx)) return dt == ML_BOOL ? ML_I64 : dt;
    return ml_dtype_is_float(dt) ? dt : ML_F64;
}

ml_tensor *lt_operand(lua_State *L, int idx, ml_dtype dt, const char *fname, const char *argname)
{
    ml_tensor *t = lt_test(L, idx);
    if (t) {
        if (!t->data) mlL_argerror(L, idx, fname, argname, "tensor was closed");
        return lt_as(L, t, dt, fname);
    }
    if (lua_type(L, idx) != LUA_TNUMBER && lua_type(L, idx) != LUA_TBOOLEAN)
        mlL_argerror(L, idx, fname, argname, "expected a tensor or a number, got %s", luaL_typename(L, idx));
    ml_tensor *o = lt_newout(L, fname, dt, 0, NULL);
    lt_fillvalue(L, fname, o, idx);
    return o;
}

/* ---- constructors ---- */

/* Walks t[1][1]... to find the shape of a nested table. */
static int nested_shape(lua_State *L, int idx, int64_t *shape)
{
    int nd = 0;
    lua_pushvalue(L, idx);
    while (lua_istable(L, -1)) {
        if (nd == ML_MAXDIM) mlL_error(L, "tensor.new: bad argument #1: nesting deeper than %d", ML_MAXDIM);
        shape[nd++] = (int64_t)lua_rawlen(L, -1);
        lua_geti(L, -1, 1);
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
    return nd;
}

static void fill_nested(lua_State *L, int idx, int d, const int64_t *shape, int nd, ml_tensor *t, int64_t *pos,
                        char *path, size_t plen)
{
    if (d == nd) {
        if (lua_type(L, idx) != LUA_TNUMBER && !lua_isboolean(L, idx))
            mlL_error(L, "tensor.new: bad argument #1: element %s is a %s, expected a number", path,
                      lua_istable(L, idx) ? "table (ragged nesting)" : luaL_typename(L, idx));
        lt_storeelem(L, "tensor.new", t->dtype, (char *)t->data + (*pos)++ * (int64_t)ml_dtype_size(t->dtype), idx);
        return;
    }
    if (!lua_istable(L, idx))
        mlL_error(L, "tensor.new: bad argument #1: element %s is a %s, expected a table of %lld", path,
                  luaL_typename(L, idx), (long long)shape[d]);
    if ((int64_t)lua_rawlen(L, idx) != shape[d])
        mlL_error(L, "tensor.new: bad argument #1: ragged table: %s has %lld entries, expected %lld",
                  path[0] ? path : "the table", (long long)lua_rawlen(L, idx), (long long)shape[d]);
    for (int64_t i = 1; i <= shape[d]; i++) {
        size_t k = strlen(path);
        snprintf(path + k, plen - k, "[%lld]", (long long)i);
        lua_geti(L, idx, i);
        fill_nested(L, lua_gettop(L), d + 1, shape, nd, t, pos, path, plen);
        lua_pop(L, 1);
        path[k] = '\0';
    }
}

/* new(nested_table, dtype) or new(d1, d2, ..., [dtype]) */
static int l_new(lua_State *L)
{
    int64_t shape[ML_MAXDIM];
    if (lua_type(L, 1) == LUA_TNUMBER) {
        ml_dtype dt = ML_F64;
        if (lua_type(L, lua_gettop(L)) == LUA_TSTRING) {
            dt = lt_checkdtype(L, lua_gettop(L), "tensor.new", -1);
            lua_pop(L, 1);
        }
        int nd = lt_checkshape(L, 1, "tensor.new", "shape", shape, -1);
        newsized(L, "tensor.new", 1, "shape", dt, nd, shape);
        return 1;
    }
    if (!lua_istable(L, 1))
        return mlL_argerror(L, 1, "tensor.new", "data", "expected a (nested) table of numbers or sizes, got %s",
                            luaL_typename(L, 1));
    ml_dtype dt = lt_checkdtype(L, 2, "tensor.new", ML_F64);
    int nd = nested_shape(L, 1, shape);
    if (nd == 1 && shape[0] == 0)
        return mlL_error(L, "tensor.new: bad argument #1: empty table (use tensor.zeros{0} for an empty tensor)");
    ml_tensor *t = newsized(L, "tensor.new", 1, "shape", dt, nd, shape);
    int64_t pos = 0;
    char path[128] = "";
    fill_nested(L, 1, 0, shape, nd, t, &pos, path, sizeof path);
    return 1;
}

/* from_table(flat, [shape], [dtype]): a flat sequence of numbers, one pass. */
static int l_from_table(lua_State *L)
{
    const char *fname = "tensor.from_table";
    if (!lua_istable(L, 1))
        return mlL_argerror(L, 1, fname, "data", "expected a flat table of numbers, got %s", luaL_typename(L, 1));
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1); /* plain tables: a __len may lie */
    int64_t shape[ML_MAXDIM] = {n};
    int nd = 1;
    int dtarg = 2;
    if (lua_istable(L, 2)) {
        nd = lt_checkshape(L, 2, fname, "shape", shape, n);
        dtarg = 3;
    }
    ml_dtype dt = lt_checkdtype(L, dtarg, fname, ML_F64);
    int64_t numel;
    ml_shape_numel0(nd, shape, &numel);
    if (numel != n)
        return mlL_argerror(L, 2, fname, "shape", "has %lld elements, the table %lld", (long long)numel, (long long)n);
    ml_tensor *t = newsized(L, fname, 1, "data", dt, nd, shape);
    if (dt == ML_F64) { /* the common case without per-element dispatch */
        double *d = t->data;
        for (lua_Integer i = 1; i <= n; i++) {
            int isnum;
            lua_rawgeti(L, 1, i);
            d[i - 1] = lua_tonumberx(L, -1, &isnum);
            if (!isnum || lua_type(L, -1) != LUA_TNUMBER)
                mlL_error(L, "%s: bad argument #1 'data': element [%lld] is a %s, expected a number", fname, (long long)i,
                          luaL_typename(L, -1));
            lua_pop(L, 1);
        }
        return 1;
    }
    size_t es = ml_dtype_size(dt);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        if (lua_type(L, -1) != LUA_TNUMBER && !lua_isboolean(L, -1))
            mlL_error(L, "%s: bad argument #1 'data': element [%lld] is a %s, expected a number", fname, (long long)i,
                      luaL_typename(L, -1));
        lt_storeelem(L, fname, dt, (char *)t->data + (i - 1) * (int64_t)es, -1);
        lua_pop(L, 1);
    }
    return 1;
}

static int l_zeros(lua_State *L)
{
    int64_t shape[ML_MAXDIM];
    int nd = lt_checkshape(L, 1, "tensor.zeros", "shape", shape, -1);
    newsized(L, "tensor.zeros", 1, "shape", lt_checkdtype(L, nd && !lua_istable(L, 1) ? nd + 1 : 2, "tensor.zeros", ML_F64),
             nd, shape);
    return 1;
}

static int full(lua_State *L, const char *fn)
{
    int64_t shape[ML_MAXDIM];
    if (!lua_istable(L, 1))
        return mlL_argerror(L, 1, fn, "shape", "expected a table of sizes, got %s", luaL_typename(L, 1));
    int nd = lt_checkshape(L, 1, fn, "shape", shape, -1);
    if (lua_type(L, 2) != LUA_TNUMBER && lua_type(L, 2) != LUA_TBOOLEAN)
        return mlL_argerror(L, 2, fn, "value", "expected a number or boolean, got %s", luaL_typename(L, 2));
    ml_dtype dt = lt_checkdtype(L, 3, fn, lua_isboolean(L, 2) ? ML_BOOL : ML_F64);
    ml_tensor *t = newsized(L, fn, 1, "shape", dt, nd, shape);
    lt_fillvalue(L, fn, t, 2);
    return 1;
}
static int l_full(lua_State *L) { return full(L, "tensor.full"); }

/* ones(shape, [dtype]) */
static int l_ones(lua_State *L)
{
    lua_settop(L, 2);
    lua_pushinteger(L, 1);
    lua_insert(L, 2);
    return full(L, "tensor.ones");
}

/* arange(start, stop, [step], [dtype]): start, start+step, ... < stop (NumPy semantics). */
static int l_arange(lua_State *L)
{
    double a = check_finite(L, 1, "tensor.arange", "start"), b = check_finite(L, 2, "tensor.arange", "stop");
    double step = lua_isnoneornil(L, 3) ? 1.0 : check_finite(L, 3, "tensor.arange", "step");
    if (step == 0) mlL_argerror(L, 3, "tensor.arange", "step", "must not be 0");
    double n = ceil((b - a) / step);
    if (!(n >= 1)) mlL_argerror(L, 2, "tensor.arange", "stop", "empty range [%g, %g) with step %g", a, b, step);
    if (n > 1e15) mlL_argerror(L, 3, "tensor.arange", "step", "range has %.3g elements", n);
    int all_int = lua_isinteger(L, 1) && lua_isinteger(L, 2) && (lua_isnoneornil(L, 3) || lua_isinteger(L, 3));
    int64_t shape[1] = {(int64_t)n};
    ml_tensor *t = newsized(L, "tensor.arange", 2, "stop", lt_checkdtype(L, 4, "tensor.arange", ML_F64), 1, shape);
    if (all_int && !ml_dtype_is_float(t->dtype)) {
        lua_Integer s0 = lua_tointeger(L, 1), st = lua_isnoneornil(L, 3) ? 1 : lua_tointeger(L, 3);
        for (int64_t i = 0; i < shape[0]; i++) ml_tensor_seti(t, i, s0 + i * st);
    } else {
        ml_tensor_arange(t, a, step);
    }
    return 1;
}

static int l_linspace(lua_State *L)
{
    double a = check_finite(L, 1, "tensor.linspace", "start"), b = check_finite(L, 2, "tensor.linspace", "stop");
    lua_Integer n = lt_checkint(L, 3, "tensor.linspace", "n");
    if (n < 1) mlL_argerror(L, 3, "tensor.linspace", "n", "expected a positive count, got %lld", (long long)n);
    int64_t shape[1] = {n};
    ml_dtype dt = lt_checkdtype(L, 4, "tensor.linspace", ML_F64);
    if (!ml_dtype_is_float(dt)) mlL_argerror(L, 4, "tensor.linspace", "dtype", "expected 'f32' or 'f64', got '%s'", ml_dtype_name(dt));
    ml_tensor *t = newsized(L, "tensor.linspace", 3, "n", dt, 1, shape);
    ml_tensor_linspace(t, a, b);
    return 1;
}

/* rand(shape, {seed=, dtype=, lo=0, hi=1}) and randn(shape, {seed=, dtype=, mean=0, std=1}) */
static int random_tensor(lua_State *L, int normal)
{
    const char *fname = normal ? "tensor.randn" : "tensor.rand";
    int64_t shape[ML_MAXDIM];
    if (!lua_istable(L, 1))
        return mlL_argerror(L, 1, fname, "shape", "expected a table of sizes, got %s", luaL_typename(L, 1));
    int nd = lt_checkshape(L, 1, fname, "shape", shape, -1);
    int64_t seed = -1;
    double p1 = 0.0, p2 = 1.0;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        seed = lt_checkint(L, 2, fname, "seed");
    } else {
        mlL_opts(L, 2, fname, (mlL_opt[]){{"seed", MLL_INT, &seed, NULL},
                                           {"dtype", MLL_SKIP, NULL, NULL},
                                           {normal ? "mean" : "lo", MLL_NUMBER, &p1, NULL},
                                           {normal ? "std" : "hi", MLL_NUMBER, &p2, NULL},
                                           {0}});
    }
    if (seed < 0)
        return mlL_argerror(L, 2, fname, "opts", "an explicit non-negative integer seed is required ({seed = 1})");
    int dt = ML_F64;
    if (lua_istable(L, 2)) { /* parse while the string is on the stack */
        lua_getfield(L, 2, "dtype");
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TSTRING)
                return mlL_error(L, "%s: option 'dtype' must be a string, got %s", fname, luaL_typename(L, -1));
            dt = ml_dtype_parse(lua_tostring(L, -1));
            if (dt != ML_F32 && dt != ML_F64)
                return mlL_argerror(L, 2, fname, "dtype", "expected 'f32' or 'f64', got '%s'", lua_tostring(L, -1));
        }
        lua_pop(L, 1);
    }
    if (!isfinite(p1) || !isfinite(p2) || (normal && p2 < 0) || (!normal && !(p2 > p1)))
        return mlL_argerror(L, 2, fname, "opts", normal ? "mean and std must be finite, std >= 0"
                                                         : "lo and hi must be finite with lo < hi");
    ml_tensor *t = newsized(L, fname, 1, "shape", (ml_dtype)dt, nd, shape);
    if (normal) ml_tensor_randn(t, (uint64_t)seed, p1, p2);
    else ml_tensor_rand(t, (uint64_t)seed, p1, p2);
    return 1;
}
static int l_rand(lua_State *L) { return random_tensor(L, 0); }
static int l_randn(lua_State *L) { return random_tensor(L, 1); }

/* ---- basic methods ---- */

/* Pushes v [n] as a Lua list of integers. */
static int push_ints(lua_State *L, const int64_t *v, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushinteger(L, v[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int l_shape(lua_State *L)
{
    ml_tensor *t = LT_SELF("tensor:shape");
    return push_ints(L, t->shape, t->ndim);
}

static int l_size(lua_State *L)
{
    ml_tensor *t = LT_SELF("tensor:size");
    if (lua_isnoneornil(L, 2)) return l_shape(L);
    lua_pushinteger(L, t->shape[lt_checkdim(L, 2, t->ndim, "tensor:size", 0)]);
    return 1;
}

static int l_strides(lua_State *L)
{
    ml_tensor *t = LT_SELF("tensor:strides");
    return push_ints(L, t->strides, t->ndim);
}

static int l_dtype(lua_State *L)
{
    lua_pushstring(L, ml_dtype_name(LT_SELF("tensor:dtype")->dtype));
    return 1;
}

static int l_numel(lua_State *L)
{
    lua_pushinteger(L, LT_SELF("tensor:numel")->numel);
    return 1;
}

static int l_ndim(lua_State *L)
{
    lua_pushinteger(L, LT_SELF("tensor:ndim")->ndim);
    return 1;
}

static int l_dim(lua_State *L)
{
    lua_pushinteger(L, LT_SELF("tensor:dim")->ndim);
    return 1;
}

/* Element offset of the 1-based (negative: from the end) indices at first..first+ndim-1. */
static int64_t check_index(lua_State *L, ml_tensor *t, int first, const char *fname)
{
    int64_t off = 0;
    for (int d = 0; d < t->ndim; d++) {
        int isint;
        lua_Integer i = lua_tointegerx(L, first + d, &isint);
        if (!isint || lua_type(L, first + d) != LUA_TNUMBER)
            mlL_argerror(L, first + d, fname, "index", "expected an integer index for dim %d, got %s", d + 1,
                         luaL_typename(L, first + d));
        lua_Integer j = i < 0 ? i + t->shape[d] + 1 : i;
        if (i == 0 || j < 1 || j > t->shape[d])
            mlL_argerror(L, first + d, fname, "index", "index %lld out of range 1..%lld for dim %d", (long long)i,
                         (long long)t->shape[d], d + 1);
        off += (j - 1) * t->strides[d];
    }
    return off;
}

static int l_get(lua_State *L)
{
    ml_tensor *t = LT_SELF("tensor:get");
    if (lua_gettop(L) - 1 != t->ndim)
        return mlL_argerror(L, 2, "tensor:get", "index", "expected %d indices for a %d-dim tensor, got %d", t->ndim,
                            t->ndim, lua_gettop(L) - 1);
    int64_t off = check_index(L, t, 2, "tensor:get");
    lt_pushelem(L, t->dtype, (char *)t->data + off * (int64_t)ml_dtype_size(t->dtype));
    return 1;
}

static int l_set(lua_State *L)
{
    ml_tensor *t = LT_SELF("tensor:set");
    int top = lua_gettop(L);
    if (top - 2 != t->ndim)
        return mlL_argerror(L, 2, "tensor:set", "index", "expected %d indices and a value, got %d arguments", t->ndim,
                            top - 1);
    int64_t off = check_index(L, t, 2, "tensor:set");
    if (lua_type(L, top) != LUA_TNUMBER && lua_type(L, top) != LUA_TBOOLEAN)
        return mlL_argerror(L, top, "tensor:set", "value", "expected a number, got %s", luaL_typename(L, top));
    lt_storeelem(L, "tensor:set", t->dtype, (char *)t->data + off * (int64_t)ml_dtype_size(t->dtype), top);
    lua_settop(L, 1);
    return 1;
}

static void push_nested(lua_State *L, const ml_tensor *t, int d, const char *p)
{
    size_t es = ml_dtype_size(t->dtype);
    if (d == t->ndim) {
        lt_pushelem(L, t->dtype, p);
        return;
    }
    int64_t n = t->shape[d], st = t->strides[d] * (int64_t)es;
    lua_createtable(L, n < INT32_MAX ? (int)n : 0, 0);
    if (d == t->ndim - 1 && t->dtype == ML_F64) {
        for (int64_t i = 0; i < n; i++) {
            lua_pushnumber(L, *(const double *)(p + i * st));
            lua_rawseti(L, -2, i + 1);
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        push_nested(L, t, d + 1, p + i * st);
        lua_rawseti(L, -2, i + 1);
    }
}

static int l_totable(lua_State *L)
{
    ml_tensor *t = LT_SELF("tensor:totable");
    if (t->numel > (1 << 27))
        return mlL_error(L, "tensor:totable: %lld elements is too many for a Lua table", (long long)t->numel);
    luaL_checkstack(L, t->ndim + 4, "tensor:totable");
    if (t->ndim == 0) {
        lt_pushelem(L, t->dtype, t->data);
        return 1;
    }
    push_nested(L, t, 0, t->data);
    return 1;
}

/* item(): the value of a one-element tensor. */
static int l_item(lua_State *L)
{
    ml_tensor *t = LT_SELF("tensor:item");
    if (t->numel != 1)
        return mlL_argerror(L, 1, "tensor:item", "self", "expected one element, got %lld", (long long)t->numel);
    int64_t off = 0;
    lt_pushelem(L, t->dtype, (char *)t->data + off);
    return 1;
}

static int l_clone(lua_State *L)
{
    ml_tensor *t = LT_SELF("tensor:clone");
    ml_tensor_copy(lt_newout(L, "tensor:clone", t->dtype, t->ndim, t->shape), t);
    return 1;
}

static int l_astype(lua_State *L)
{
    ml_tensor *t = LT_SELF("tensor:astype");
    ml_tensor *o = lt_newout(L, "tensor:astype", lt_checkdtype(L, 2, "tensor:astype", -1), t->ndim, t->shape);
    if (ml_tensor_copy(o, t)) return mlL_raise(L, "tensor:astype");
    return 1;
}

static int l_fill(lua_State *L)
{
    ml_tensor *t = LT_SELF("tensor:fill");
    if (lua_type(L, 2) != LUA_TNUMBER && lua_type(L, 2) != LUA_TBOOLEAN)
        return mlL_argerror(L, 2, "tensor:fill", "value", "expected a number or boolean, got %s", luaL_typename(L, 2));
    lt_fillvalue(L, "tensor:fill", t, 2);
    lua_settop(L, 1);
    return 1;
}

static int l_gc(lua_State *L)
{
    ml_tensor *t = lt_test(L, 1);
    if (t) ml_tensor_release(t);
    return 0;
}

/* t:close() and __close. Called from a __gc finalizer (lua_gc answers -1 while the collector runs one, Lua
 * 5.4.4+) it does nothing: the collector also runs inside bindings (every allocation may step it, and
 * mlL_account steps it for large tensors), so a finalizer closing its object's tensors would free a tensor that
 * the interrupted binding is reading (a wrong error, or tensor.cat joining zeroed operands). The tensor's own
 * __gc frees it once unreachable. */
static int l_close(lua_State *L)
{
    if (lua_gc(L, LUA_GCISRUNNING) < 0) return 0;
    return l_gc(L);
}

static int l_len(lua_State *L)
{
    ml_tensor *t = LT_SELF("tensor:__len");
    lua_pushinteger(L, t->ndim ? t->shape[0] : 1);
    return 1;
}

static int l_istensor(lua_State *L)
{
    lua_pushboolean(L, lt_test(L, 1) != NULL);
    return 1;
}

static int l_is_contiguous(lua_State *L)
{
    lua_pushboolean(L, ml_tensor_is_contiguous(LT_SELF("tensor:is_contiguous")));
    return 1;
}

static int l_contiguous(lua_State *L)
{
    ml_tensor *t = LT_SELF("tensor:contiguous");
    if (ml_tensor_is_contiguous(t)) {
        lua_settop(L, 1);
        return 1;
    }
    ml_tensor_copy(lt_newout(L, "tensor:contiguous", t->dtype, t->ndim, t->shape), t);
    return 1;
}

static const luaL_Reg methods[] = {
    {"shape", l_shape},   {"size", l_size},       {"strides", l_strides},
    {"dtype", l_dtype},   {"numel", l_numel},     {"ndim", l_ndim},
    {"dim", l_dim},      {"get", l_get},         {"set", l_set},
    {"totable", l_totable}, {"item", l_item},     {"clone", l_clone},
    {"astype", l_astype}, {"fill", l_fill},       {"close", l_close},
    {"is_contiguous", l_is_contiguous}, {"contiguous", l_contiguous}, {NULL, NULL}};

/* core.tensor_memory() -> {live = bytes, cached = bytes} */
static int l_memory(lua_State *L)
{
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)ml_tensor_live_bytes());
    lua_setfield(L, -2, "live");
    lua_pushinteger(L, (lua_Integer)ml_tensor_cached_bytes());
    lua_setfield(L, -2, "cached");
    return 1;
}

static const luaL_Reg functions[] = {
    {"tensor_new", l_new},       {"tensor_zeros", l_zeros},         {"tensor_full", l_full}, {"tensor_ones", l_ones},
    {"tensor_arange", l_arange}, {"tensor_linspace", l_linspace},   {"tensor_rand", l_rand},
    {"tensor_randn", l_randn},   {"tensor_is", l_istensor},         {"tensor_from_table", l_from_table},
    {"tensor_memory", l_memory}, {NULL, NULL}};

void mlL_open_tensor(lua_State *L)
{
    if (luaL_newmetatable(L, MLL_TENSOR_MT)) {
        lua_newtable(L); /* the methods */
        luaL_setfuncs(L, methods, 0);
        luaL_setfuncs(L, lt_view_methods, 0);
        luaL_setfuncs(L, lt_ops_methods, 0);
        luaL_setfuncs(L, lt_io_methods, 0);
        luaL_setfuncs(L, lt_linalg_methods, 0);
        static const char *const arith[][2] = {{"add", "__add"}, {"sub", "__sub"}, {"mul", "__mul"},
                                               {"div", "__div"}, {"pow", "__pow"}, {"neg", "__unm"}};
        for (size_t i = 0; i < sizeof arith / sizeof arith[0]; i++) {
            lua_getfield(L, -1, arith[i][0]);
            lua_setfield(L, -3, arith[i][1]);
        }
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "methods");
        lua_pushcclosure(L, lt_index, 1); /* __index looks methods up first, then indexes */
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, lt_newindex);
        lua_setfield(L, -2, "__newindex");
        lua_pushcfunction(L, lt_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushcfunction(L, l_len);
        lua_setfield(L, -2, "__len");
        lua_pushcfunction(L, l_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__close");
        lua_pushstring(L, "moonlab.Tensor");
        lua_setfield(L, -2, "__name");
    }
    lua_setfield(L, -2, "Tensor");
    luaL_setfuncs(L, functions, 0);
    luaL_setfuncs(L, lt_view_functions, 0);
    luaL_setfuncs(L, lt_ops_functions, 0);
    luaL_setfuncs(L, lt_io_functions, 0);
    luaL_setfuncs(L, lt_linalg_functions, 0);
}
