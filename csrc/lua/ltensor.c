/* Lua binding of the tensor: constructors, methods, metamethods, printing. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "mlua.h"

/* ---- arguments from Lua (errors name the public function and the argument) ---- */

static const char *check_str(lua_State *L, int idx, const char *fname, const char *argname)
{
    if (lua_type(L, idx) != LUA_TSTRING)
        mlL_argerror(L, idx, fname, argname, "expected a string, got %s", luaL_typename(L, idx));
    return lua_tostring(L, idx);
}

static lua_Integer check_int(lua_State *L, int idx, const char *fname, const char *argname)
{
    int isint;
    lua_Integer v = lua_tointegerx(L, idx, &isint);
    if (!isint || lua_type(L, idx) != LUA_TNUMBER)
        mlL_argerror(L, idx, fname, argname, "expected an integer, got %s",
                     lua_type(L, idx) == LUA_TNUMBER ? lua_tostring(L, idx) : luaL_typename(L, idx));
    return v;
}

static ml_dtype check_dtype(lua_State *L, int idx, const char *fname)
{
    if (lua_isnoneornil(L, idx)) return ML_F64;
    const char *s = lua_tostring(L, idx);
    int dt = lua_type(L, idx) == LUA_TSTRING ? ml_dtype_parse(s) : -1;
    if (dt < 0)
        mlL_argerror(L, idx, fname, "dtype", "expected one of 'f32', 'f64', 'i32', 'i64', 'u8', 'bool', got %s%s%s",
                     lua_type(L, idx) == LUA_TSTRING ? "'" : "",
                     lua_type(L, idx) == LUA_TSTRING ? s : luaL_typename(L, idx),
                     lua_type(L, idx) == LUA_TSTRING ? "'" : "");
    return (ml_dtype)dt;
}

static int64_t check_size(lua_State *L, int idx, int argidx, const char *fname, const char *what, int k)
{
    int isint;
    lua_Integer v = lua_tointegerx(L, idx, &isint);
    if (!isint)
        mlL_argerror(L, argidx, fname, what, "size %d must be an integer, got %s", k,
                     lua_type(L, idx) == LUA_TNUMBER ? lua_tostring(L, idx) : luaL_typename(L, idx));
    if (v <= 0) mlL_argerror(L, argidx, fname, what, "size %d must be positive, got %lld", k, (long long)v);
    return v;
}

/* Reads a shape table {d1, ..., dn} at idx into shape[]; returns ndim. */
static int check_shape(lua_State *L, int idx, const char *fname, int64_t *shape)
{
    if (!lua_istable(L, idx))
        mlL_argerror(L, idx, fname, "shape", "expected a table of sizes, got %s", luaL_typename(L, idx));
    int n = (int)luaL_len(L, idx);
    if (n > ML_MAXDIM) mlL_argerror(L, idx, fname, "shape", "at most %d dims, got %d", ML_MAXDIM, n);
    for (int i = 0; i < n; i++) {
        lua_geti(L, idx, i + 1);
        shape[i] = check_size(L, -1, idx, fname, "shape", i + 1);
        lua_pop(L, 1);
    }
    int64_t numel;
    if (ml_shape_numel(n, shape, &numel)) mlL_argerror(L, idx, fname, "shape", "%s", ml_errmsg());
    return n;
}

/* A new tensor whose size the user chose: a failed allocation names fname and the shape argument. */
static ml_tensor *newsized_arg(lua_State *L, const char *fname, int arg, const char *argname, ml_dtype dt, int nd,
                               const int64_t *shape)
{
    ml_tensor *t = lua_newuserdatauv(L, sizeof *t, 0);
    memset(t, 0, sizeof *t);
    luaL_setmetatable(L, MLL_TENSOR_MT);
    if (ml_tensor_init0(t, dt, nd, shape) != ML_OK) mlL_argerror(L, arg, fname, argname, "%s", ml_errmsg());
    mlL_account(L, t);
    return t;
}

static ml_tensor *newsized(lua_State *L, const char *fname, int arg, ml_dtype dt, int nd, const int64_t *shape)
{
    return newsized_arg(L, fname, arg, "shape", dt, nd, shape);
}

/* A new result tensor of an operation: a failed allocation names the operation. */
static ml_tensor *newout(lua_State *L, const char *fname, ml_dtype dt, int nd, const int64_t *shape)
{
    ml_tensor *t = lua_newuserdatauv(L, sizeof *t, 1);
    memset(t, 0, sizeof *t);
    luaL_setmetatable(L, MLL_TENSOR_MT);
    if (ml_tensor_init0(t, dt, nd, shape) != ML_OK) mlL_raise(L, fname);
    mlL_account(L, t);
    return t;
}

/* NULL when the Lua number/boolean at idx can be stored in dtype dt, else why not.
 * Integer dtypes refuse NaN, infinities and values outside their range (floats
 * inside it truncate toward zero, as NumPy's constructor does). */
static const char *value_fits(ml_dtype dt, lua_State *L, int idx)
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

/* Stores the Lua number or boolean at idx into flat element i (integers exactly). */
static void store_value(lua_State *L, const char *fname, ml_tensor *t, int64_t i, int idx)
{
    const char *why = value_fits(t->dtype, L, idx);
    if (why) mlL_error(L, "%s: value %s does not fit dtype %s (%s)", fname, luaL_tolstring(L, idx, NULL),
                       ml_dtype_name(t->dtype), why);
    if (lua_isboolean(L, idx)) ml_tensor_seti(t, i, lua_toboolean(L, idx));
    else if (lua_isinteger(L, idx)) ml_tensor_seti(t, i, lua_tointeger(L, idx));
    else ml_tensor_setd(t, i, lua_tonumber(L, idx));
}

/* Fills t with the Lua number or boolean at idx (checked like store_value). */
static void fill_value(lua_State *L, const char *fname, ml_tensor *t, int idx)
{
    const char *why = value_fits(t->dtype, L, idx);
    if (why) mlL_error(L, "%s: value %s does not fit dtype %s (%s)", fname, luaL_tolstring(L, idx, NULL),
                       ml_dtype_name(t->dtype), why);
    if (lua_isboolean(L, idx)) ml_tensor_fill(t, lua_toboolean(L, idx));
    else if (lua_isinteger(L, idx) && !ml_dtype_is_float(t->dtype)) ml_tensor_fill_i(t, lua_tointeger(L, idx));
    else ml_tensor_fill(t, lua_tonumber(L, idx));
}

/* Pushes flat element i as a Lua value: float, integer or boolean by dtype. */
static void push_value(lua_State *L, const ml_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case ML_F32:
    case ML_F64: lua_pushnumber(L, ml_tensor_getd(t, i)); break;
    case ML_BOOL: lua_pushboolean(L, ml_tensor_geti(t, i) != 0); break;
    default: lua_pushinteger(L, ml_tensor_geti(t, i)); break;
    }
}

/* ---- constructors ---- */

/* Walks t[1][1]... to find the shape of a nested table. */
static int nested_shape(lua_State *L, int idx, int64_t *shape)
{
    int nd = 0;
    lua_pushvalue(L, idx);
    while (lua_istable(L, -1)) {
        if (nd == ML_MAXDIM) mlL_error(L, "tensor.new: bad argument #1: nesting deeper than %d", ML_MAXDIM);
        int64_t n = (int64_t)luaL_len(L, -1);
        if (n == 0) mlL_error(L, "tensor.new: bad argument #1: empty table at depth %d (sizes must be positive)", nd + 1);
        shape[nd++] = n;
        lua_geti(L, -1, 1);
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
    return nd;
}

static void fill_nested(lua_State *L, int idx, int d, const int64_t *shape, int nd, ml_tensor *t,
                        int64_t *pos, char *path, size_t plen)
{
    if (d == nd) {
        if (lua_isboolean(L, idx)) {
            ml_tensor_seti(t, (*pos)++, lua_toboolean(L, idx));
            return;
        }
        if (lua_type(L, idx) != LUA_TNUMBER)
            mlL_error(L, "tensor.new: bad argument #1: element %s is a %s, expected a number", path,
                       lua_istable(L, idx) ? "table (ragged nesting)" : luaL_typename(L, idx));
        store_value(L, "tensor.new", t, (*pos)++, idx);
        return;
    }
    if (!lua_istable(L, idx))
        mlL_error(L, "tensor.new: bad argument #1: element %s is a %s, expected a table of %lld", path,
                   luaL_typename(L, idx), (long long)shape[d]);
    if ((int64_t)luaL_len(L, idx) != shape[d])
        mlL_error(L, "tensor.new: bad argument #1: ragged table: %s has %lld entries, expected %lld",
                   path[0] ? path : "the table", (long long)luaL_len(L, idx), (long long)shape[d]);
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
        int top = lua_gettop(L), nd = 0;
        ml_dtype dt = lua_type(L, top) == LUA_TSTRING ? check_dtype(L, top, "tensor.new") : ML_F64;
        int last = lua_type(L, top) == LUA_TSTRING ? top - 1 : top;
        if (last > ML_MAXDIM) mlL_argerror(L, 1, "tensor.new", "shape", "at most %d dims", ML_MAXDIM);
        for (int i = 1; i <= last; i++) shape[nd++] = check_size(L, i, i, "tensor.new", "shape", i);
        newsized(L, "tensor.new", 1, dt, nd, shape);
        return 1;
    }
    if (!lua_istable(L, 1))
        return mlL_argerror(L, 1, "tensor.new", "data", "expected a (nested) table of numbers or sizes, got %s",
                            luaL_typename(L, 1));
    ml_dtype dt = check_dtype(L, 2, "tensor.new");
    int nd = nested_shape(L, 1, shape);
    ml_tensor *t = newsized(L, "tensor.new", 1, dt, nd, shape);
    int64_t pos = 0;
    char path[128] = "";
    fill_nested(L, 1, 0, shape, nd, t, &pos, path, sizeof path);
    return 1;
}

static int l_zeros(lua_State *L)
{
    int64_t shape[ML_MAXDIM];
    int nd = check_shape(L, 1, "tensor.zeros", shape);
    newsized(L, "tensor.zeros", 1, check_dtype(L, 2, "tensor.zeros"), nd, shape);
    return 1;
}

static int l_full(lua_State *L)
{
    int64_t shape[ML_MAXDIM];
    int nd = check_shape(L, 1, "tensor.full", shape);
    if (lua_type(L, 2) != LUA_TNUMBER && lua_type(L, 2) != LUA_TBOOLEAN)
        return mlL_argerror(L, 2, "tensor.full", "value", "expected a number or boolean, got %s", luaL_typename(L, 2));
    ml_tensor *t = newsized(L, "tensor.full", 1, check_dtype(L, 3, "tensor.full"), nd, shape);
    fill_value(L, "tensor.full", t, 2);
    return 1;
}

static double check_finite(lua_State *L, int idx, const char *fname, const char *name)
{
    if (lua_type(L, idx) != LUA_TNUMBER)
        mlL_argerror(L, idx, fname, name, "expected a number, got %s", luaL_typename(L, idx));
    double v = lua_tonumber(L, idx);
    if (!isfinite(v)) mlL_argerror(L, idx, fname, name, "expected a finite number, got %g", v);
    return v;
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
    int64_t shape[1] = {(int64_t)n};
    ml_tensor *t = newsized_arg(L, "tensor.arange", 2, "stop", check_dtype(L, 4, "tensor.arange"), 1, shape);
    ml_tensor_arange(t, a, step);
    return 1;
}

static int l_linspace(lua_State *L)
{
    double a = check_finite(L, 1, "tensor.linspace", "start"), b = check_finite(L, 2, "tensor.linspace", "stop");
    int64_t shape[1] = {check_size(L, 3, 3, "tensor.linspace", "n", 1)};
    ml_tensor *t = newsized_arg(L, "tensor.linspace", 3, "n", check_dtype(L, 4, "tensor.linspace"), 1, shape);
    ml_tensor_linspace(t, a, b);
    return 1;
}

/* rand(shape, {seed=, dtype=, lo=0, hi=1}) and randn(shape, {seed=, dtype=, mean=0, std=1}) */
static int random_tensor(lua_State *L, int normal)
{
    const char *fname = normal ? "tensor.randn" : "tensor.rand";
    int64_t shape[ML_MAXDIM];
    int nd = check_shape(L, 1, fname, shape);
    int64_t seed = -1;
    double p1 = normal ? 0.0 : 0.0, p2 = 1.0;
    const char *dts = "f64";
    if (lua_type(L, 2) == LUA_TNUMBER) {
        seed = check_int(L, 2, fname, "seed");
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
    if (lua_istable(L, 2)) { /* read and parse while the string is on the stack */
        lua_getfield(L, 2, "dtype");
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TSTRING)
                return mlL_error(L, "%s: option 'dtype' must be a string, got %s", fname, luaL_typename(L, -1));
            dts = lua_tostring(L, -1);
            dt = ml_dtype_parse(dts);
        }
    }
    if (dt != ML_F32 && dt != ML_F64) return mlL_argerror(L, 2, fname, "dtype", "expected 'f32' or 'f64', got '%s'", dts);
    if (!isfinite(p1) || !isfinite(p2) || (normal && p2 < 0) || (!normal && !(p2 > p1)))
        return mlL_argerror(L, 2, fname, "opts", normal ? "mean and std must be finite, std >= 0"
                                                         : "lo and hi must be finite with lo < hi");
    if (lua_istable(L, 2)) lua_pop(L, 1);
    ml_tensor *t = newsized(L, fname, 1, (ml_dtype)dt, nd, shape);
    if (normal) ml_tensor_randn(t, (uint64_t)seed, p1, p2);
    else ml_tensor_rand(t, (uint64_t)seed, p1, p2);
    return 1;
}
static int l_rand(lua_State *L) { return random_tensor(L, 0); }
static int l_randn(lua_State *L) { return random_tensor(L, 1); }

static int l_load(lua_State *L)
{
    const char *path = check_str(L, 1, "tensor.load", "path");
    ml_tensor tmp;
    if (ml_npy_load(path, &tmp)) return mlL_raise(L, "tensor.load");
    mlL_pushtensor(L, &tmp);
    return 1;
}

/* ---- methods ---- */

#define SELF(fname) mlL_checktensor(L, 1, fname, "self")

static int l_save(lua_State *L)
{
    ml_tensor *t = SELF("tensor:save");
    const char *path = check_str(L, 2, "tensor:save", "path");
    if (ml_npy_save(path, t)) return mlL_raise(L, "tensor:save");
    lua_settop(L, 1);
    return 1;
}

static int l_shape(lua_State *L)
{
    ml_tensor *t = SELF("tensor:shape");
    lua_createtable(L, t->ndim, 0);
    for (int i = 0; i < t->ndim; i++) {
        lua_pushinteger(L, t->shape[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int l_dtype(lua_State *L)
{
    lua_pushstring(L, ml_dtype_name(SELF("tensor:dtype")->dtype));
    return 1;
}

static int l_numel(lua_State *L)
{
    lua_pushinteger(L, SELF("tensor:numel")->numel);
    return 1;
}

static int l_ndim(lua_State *L)
{
    lua_pushinteger(L, SELF("tensor:ndim")->ndim);
    return 1;
}

/* Flat offset of the 1-based indices at stack positions first..first+ndim-1. */
static int64_t check_index(lua_State *L, ml_tensor *t, int first, const char *fname)
{
    int64_t off = 0;
    for (int d = 0; d < t->ndim; d++) {
        int isint;
        lua_Integer i = lua_tointegerx(L, first + d, &isint);
        if (!isint)
            mlL_argerror(L, first + d, fname, "index", "expected an integer index for dim %d, got %s", d + 1,
                         luaL_typename(L, first + d));
        if (i < 1 || i > t->shape[d])
            mlL_argerror(L, first + d, fname, "index", "index %lld out of range 1..%lld for dim %d",
                         (long long)i, (long long)t->shape[d], d + 1);
        off = off * t->shape[d] + (i - 1);
    }
    return off;
}

static int l_get(lua_State *L)
{
    ml_tensor *t = SELF("tensor:get");
    if (lua_gettop(L) - 1 != t->ndim)
        return mlL_argerror(L, 2, "tensor:get", "index", "expected %d indices for a %d-dim tensor, got %d",
                            t->ndim, t->ndim, lua_gettop(L) - 1);
    push_value(L, t, check_index(L, t, 2, "tensor:get"));
    return 1;
}

static int l_set(lua_State *L)
{
    ml_tensor *t = SELF("tensor:set");
    int top = lua_gettop(L);
    if (top - 2 != t->ndim)
        return mlL_argerror(L, 2, "tensor:set", "index", "expected %d indices and a value, got %d arguments",
                            t->ndim, top - 1);
    int64_t off = check_index(L, t, 2, "tensor:set");
    if (lua_type(L, top) != LUA_TNUMBER && lua_type(L, top) != LUA_TBOOLEAN)
        return mlL_argerror(L, top, "tensor:set", "value", "expected a number, got %s", luaL_typename(L, top));
    store_value(L, "tensor:set", t, off, top);
    lua_settop(L, 1);
    return 1;
}

static void push_nested(lua_State *L, const ml_tensor *t, int d, int64_t *pos)
{
    if (d == t->ndim) {
        push_value(L, t, (*pos)++);
        return;
    }
    lua_createtable(L, (int)t->shape[d], 0);
    for (int64_t i = 1; i <= t->shape[d]; i++) {
        push_nested(L, t, d + 1, pos);
        lua_rawseti(L, -2, i);
    }
}

static int l_totable(lua_State *L)
{
    ml_tensor *t = SELF("tensor:totable");
    if (t->numel > (1 << 26))
        return mlL_error(L, "tensor:totable: %lld elements is too many for a Lua table", (long long)t->numel);
    int64_t pos = 0;
    luaL_checkstack(L, t->ndim + 4, "tensor:totable");
    push_nested(L, t, 0, &pos);
    return 1;
}

static int l_reshape(lua_State *L)
{
    ml_tensor *t = SELF("tensor:reshape");
    int64_t shape[ML_MAXDIM];
    int nd;
    if (lua_istable(L, 2)) {
        nd = check_shape(L, 2, "tensor:reshape", shape);
    } else {
        nd = lua_gettop(L) - 1;
        if (nd > ML_MAXDIM) return mlL_argerror(L, 2, "tensor:reshape", "shape", "at most %d dims", ML_MAXDIM);
        for (int i = 0; i < nd; i++) shape[i] = check_size(L, i + 2, i + 2, "tensor:reshape", "shape", i + 1);
    }
    ml_tensor *v = lua_newuserdatauv(L, sizeof *v, 0);
    memset(v, 0, sizeof *v);
    luaL_setmetatable(L, MLL_TENSOR_MT);
    char buf[96];
    if (ml_tensor_alias(v, t, nd, shape))
        return mlL_argerror(L, 2, "tensor:reshape", "shape", "%s (tensor is %s)", ml_errmsg(),
                            ml_shape_str(t, buf, sizeof buf));
    return 1;
}

static int l_clone(lua_State *L)
{
    ml_tensor *t = SELF("tensor:clone");
    ml_tensor_copy(newout(L, "tensor:clone", t->dtype, t->ndim, t->shape), t);
    return 1;
}

static int l_astype(lua_State *L)
{
    ml_tensor *t = SELF("tensor:astype");
    if (lua_isnoneornil(L, 2))
        return mlL_argerror(L, 2, "tensor:astype", "dtype",
                            "expected one of 'f32', 'f64', 'i32', 'i64', 'u8', 'bool', got no value");
    ml_tensor *o = newout(L, "tensor:astype", check_dtype(L, 2, "tensor:astype"), t->ndim, t->shape);
    if (ml_tensor_copy(o, t)) return mlL_raise(L, "tensor:astype");
    return 1;
}

static int l_fill(lua_State *L)
{
    ml_tensor *t = SELF("tensor:fill");
    if (lua_type(L, 2) != LUA_TNUMBER && lua_type(L, 2) != LUA_TBOOLEAN)
        return mlL_argerror(L, 2, "tensor:fill", "value", "expected a number or boolean, got %s", luaL_typename(L, 2));
    fill_value(L, "tensor:fill", t, 2);
    lua_settop(L, 1);
    return 1;
}

static int l_close(lua_State *L)
{
    ml_tensor *t = mlL_testtensor(L, 1);
    if (t) ml_tensor_release(t);
    return 0;
}

/* ---- arithmetic ---- */

static const char *const binop_names[] = {"tensor:add", "tensor:sub", "tensor:mul", "tensor:div",
                                          "tensor:pow", "tensor:maximum", "tensor:minimum"};

/* a OP b where either side may be a number (metamethods pass numbers first too). */
static int binary(lua_State *L, ml_binop op)
{
    const char *fname = binop_names[op];
    ml_tensor *a = mlL_testtensor(L, 1), *b = mlL_testtensor(L, 2);
    char sa[96], sb[96];
    if (a && b) {
        if (a->dtype != b->dtype)
            return mlL_argerror(L, 2, fname, "other", "dtypes differ: %s and %s (use astype)",
                                ml_dtype_name(a->dtype), ml_dtype_name(b->dtype));
        if (!ml_tensor_same_shape(a, b))
            return mlL_argerror(L, 2, fname, "other", "shapes differ: %s and %s",
                                ml_shape_str(a, sa, sizeof sa), ml_shape_str(b, sb, sizeof sb));
        if (!a->data || !b->data) return mlL_error(L, "%s: tensor was closed", fname);
        if (ml_tensor_binary(op, a, b, 0, 0, newout(L, fname, a->dtype, a->ndim, a->shape)))
            return mlL_raise(L, fname);
        return 1;
    }
    int ti = a ? 1 : 2, ni = a ? 2 : 1;
    ml_tensor *t = a ? a : b;
    if (!t || !t->data) return mlL_argerror(L, 1, fname, "self", "expected a tensor");
    if (lua_type(L, ni) != LUA_TNUMBER)
        return mlL_argerror(L, ni, fname, "other", "expected a tensor or a number, got %s", luaL_typename(L, ni));
    (void)ti;
    if (ml_tensor_binary(op, t, NULL, lua_tonumber(L, ni), !a, newout(L, fname, t->dtype, t->ndim, t->shape)))
        return mlL_raise(L, fname);
    return 1;
}
static int l_add(lua_State *L) { return binary(L, ML_ADD); }
static int l_sub(lua_State *L) { return binary(L, ML_SUB); }
static int l_mul(lua_State *L) { return binary(L, ML_MUL); }
static int l_div(lua_State *L) { return binary(L, ML_DIV); }
static int l_pow(lua_State *L) { return binary(L, ML_POW); }
static int l_maximum(lua_State *L) { return binary(L, ML_MAXIMUM); }
static int l_minimum(lua_State *L) { return binary(L, ML_MINIMUM); }

static int unary(lua_State *L, ml_unop op, const char *fname)
{
    ml_tensor *t = SELF(fname);
    if (ml_tensor_unary(op, t, newout(L, fname, t->dtype, t->ndim, t->shape))) return mlL_raise(L, fname);
    return 1;
}
static int l_exp(lua_State *L) { return unary(L, ML_EXP, "tensor:exp"); }
static int l_log(lua_State *L) { return unary(L, ML_LOG, "tensor:log"); }
static int l_sqrt(lua_State *L) { return unary(L, ML_SQRT, "tensor:sqrt"); }
static int l_abs(lua_State *L) { return unary(L, ML_ABS, "tensor:abs"); }
static int l_tanh(lua_State *L) { return unary(L, ML_TANH, "tensor:tanh"); }
static int l_sigmoid(lua_State *L) { return unary(L, ML_SIGMOID, "tensor:sigmoid"); }
static int l_silu(lua_State *L) { return unary(L, ML_SILU, "tensor:silu"); }
static int l_sin(lua_State *L) { return unary(L, ML_SIN, "tensor:sin"); }
static int l_cos(lua_State *L) { return unary(L, ML_COS, "tensor:cos"); }
static int l_unm(lua_State *L) { return unary(L, ML_NEG, "tensor:neg"); }

/* ---- reductions ---- */

/* Result dtype of a reduction: indices are i64, integer sums i64, integer means f64. */
static ml_dtype reduce_dtype(ml_reduce op, ml_dtype dt)
{
    if (op == ML_ARGMAX || op == ML_ARGMIN) return ML_I64;
    if (ml_dtype_is_float(dt)) return dt;
    if (op == ML_SUM) return ML_I64;
    if (op == ML_MEAN) return ML_F64;
    return dt;
}

static int reduce(lua_State *L, ml_reduce op, const char *fname)
{
    ml_tensor *t = SELF(fname);
    int argres = op == ML_ARGMAX || op == ML_ARGMIN;
    ml_dtype odt = reduce_dtype(op, t->dtype);
    if (lua_isnoneornil(L, 2)) {
        if (t->numel == 0 && op != ML_SUM)
            return mlL_argerror(L, 1, fname, "self", "reduction of an empty tensor has no identity");
        ml_tensor one;
        int64_t shape0[1] = {1};
        union { double d; int64_t i; float f; uint8_t b; } v;
        ml_tensor_wrap(&one, odt, 0, shape0, &v);
        if (ml_tensor_reduce(op, t, -1, &one)) return mlL_raise(L, fname);
        if (argres) lua_pushinteger(L, v.i + 1);
        else push_value(L, &one, 0);
        return 1;
    }
    int isint;
    lua_Integer d = lua_tointegerx(L, 2, &isint);
    if (!isint || d < 1 || d > t->ndim)
        return mlL_argerror(L, 2, fname, "dim", "expected a dim in 1..%d", t->ndim);
    int64_t shape[ML_MAXDIM];
    int nd = 0;
    for (int i = 0; i < t->ndim; i++)
        if (i != d - 1) shape[nd++] = t->shape[i];
    ml_tensor *o = newout(L, fname, odt, nd, shape);
    if (ml_tensor_reduce(op, t, (int)d - 1, o)) return mlL_raise(L, fname);
    if (argres)
        for (int64_t i = 0; i < o->numel; i++) ml_tensor_seti(o, i, ml_tensor_geti(o, i) + 1);
    return 1;
}
static int l_sum(lua_State *L) { return reduce(L, ML_SUM, "tensor:sum"); }
static int l_mean(lua_State *L) { return reduce(L, ML_MEAN, "tensor:mean"); }
static int l_max(lua_State *L) { return reduce(L, ML_MAX, "tensor:max"); }
static int l_min(lua_State *L) { return reduce(L, ML_MIN, "tensor:min"); }
static int l_argmax(lua_State *L) { return reduce(L, ML_ARGMAX, "tensor:argmax"); }
static int l_argmin(lua_State *L) { return reduce(L, ML_ARGMIN, "tensor:argmin"); }

static int l_matmul(lua_State *L)
{
    ml_tensor *a = SELF("tensor:matmul"), *b = mlL_checktensor(L, 2, "tensor:matmul", "other");
    char sa[96], sb[96];
    int nd = a->ndim;
    if (a->dtype != b->dtype)
        return mlL_argerror(L, 2, "tensor:matmul", "other", "dtypes differ: %s and %s", ml_dtype_name(a->dtype),
                            ml_dtype_name(b->dtype));
    if (nd != b->ndim || (nd != 2 && nd != 3) || (nd == 3 && a->shape[0] != b->shape[0]) ||
        a->shape[nd - 1] != b->shape[nd - 2])
        return mlL_argerror(L, 2, "tensor:matmul", "other", "expected [M,K]x[K,N] or [B,M,K]x[B,K,N], got %s x %s",
                            ml_shape_str(a, sa, sizeof sa), ml_shape_str(b, sb, sizeof sb));
    int64_t shape[3] = {a->shape[0], a->shape[nd - 2], b->shape[nd - 1]};
    ml_tensor *o = nd == 3 ? mlL_newtensor(L, a->dtype, 3, shape) : mlL_newtensor(L, a->dtype, 2, shape + 1);
    if (ml_tensor_matmul(a, b, o)) return mlL_raise(L, "tensor:matmul");
    return 1;
}

static int l_transpose(lua_State *L)
{
    ml_tensor *t = SELF("tensor:transpose");
    if (t->ndim < 2) return mlL_argerror(L, 1, "tensor:transpose", "self", "needs at least 2 dims, got %d", t->ndim);
    int64_t shape[ML_MAXDIM];
    memcpy(shape, t->shape, sizeof shape);
    shape[t->ndim - 2] = t->shape[t->ndim - 1];
    shape[t->ndim - 1] = t->shape[t->ndim - 2];
    ml_tensor_transpose(t, mlL_newtensor(L, t->dtype, t->ndim, shape));
    return 1;
}

/* ---- printing ---- */

#define EDGE 3   /* items shown at each end of an elided dim */
#define ELIDE 8  /* dims longer than this are elided */

static void fmt_num(luaL_Buffer *b, const ml_tensor *t, int64_t off)
{
    char s[40];
    switch (t->dtype) {
    case ML_F32:
    case ML_F64: snprintf(s, sizeof s, "%.6g", ml_tensor_getd(t, off)); break;
    case ML_BOOL: snprintf(s, sizeof s, "%s", ml_tensor_geti(t, off) ? "true" : "false"); break;
    default: snprintf(s, sizeof s, "%lld", (long long)ml_tensor_geti(t, off)); break;
    }
    luaL_addstring(b, s);
}

static void print_rec(luaL_Buffer *b, const ml_tensor *t, int d, int64_t off, int indent)
{
    if (d == t->ndim) {
        fmt_num(b, t, off);
        return;
    }
    int64_t n = t->shape[d], stride = 1;
    for (int i = d + 1; i < t->ndim; i++) stride *= t->shape[i];
    luaL_addchar(b, '[');
    for (int64_t i = 0; i < n; i++) {
        if (n > ELIDE && i == EDGE) {
            luaL_addstring(b, "...");
            i = n - EDGE - 1;
            if (d + 1 < t->ndim) {
                luaL_addstring(b, ",\n");
                for (int k = 0; k < indent + 1; k++) luaL_addchar(b, ' ');
            } else {
                luaL_addstring(b, ", ");
            }
            continue;
        }
        print_rec(b, t, d + 1, off + i * stride, indent + 1);
        if (i + 1 < n) {
            if (d + 1 < t->ndim) {
                luaL_addchar(b, ',');
                for (int k = d + 1; k < t->ndim; k++) luaL_addchar(b, '\n');
                for (int k = 0; k < indent + 1; k++) luaL_addchar(b, ' ');
            } else {
                luaL_addstring(b, ", ");
            }
        }
    }
    luaL_addchar(b, ']');
}

static int l_tostring(lua_State *L)
{
    ml_tensor *t = mlL_testtensor(L, 1);
    char shp[96];
    if (!t || !t->data) {
        lua_pushstring(L, "tensor (closed)");
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "tensor %s %s\n", ml_dtype_name(t->dtype), ml_shape_str(t, shp, sizeof shp));
    luaL_addvalue(&b);
    print_rec(&b, t, 0, 0, 0);
    luaL_pushresult(&b);
    return 1;
}

static int l_len(lua_State *L)
{
    ml_tensor *t = SELF("tensor:__len");
    lua_pushinteger(L, t->ndim ? t->shape[0] : 1);
    return 1;
}

static int l_istensor(lua_State *L)
{
    lua_pushboolean(L, mlL_testtensor(L, 1) != NULL);
    return 1;
}

static const luaL_Reg methods[] = {
    {"shape", l_shape},     {"dtype", l_dtype},       {"numel", l_numel},     {"ndim", l_ndim},
    {"get", l_get},         {"set", l_set},           {"totable", l_totable}, {"reshape", l_reshape},
    {"clone", l_clone},     {"astype", l_astype},     {"fill", l_fill},       {"save", l_save},
    {"add", l_add},         {"sub", l_sub},           {"mul", l_mul},         {"div", l_div},
    {"pow", l_pow},         {"maximum", l_maximum},   {"minimum", l_minimum}, {"exp", l_exp},
    {"log", l_log},         {"sqrt", l_sqrt},         {"abs", l_abs},         {"tanh", l_tanh},
    {"sigmoid", l_sigmoid}, {"silu", l_silu},         {"sin", l_sin},         {"cos", l_cos},
    {"neg", l_unm},         {"sum", l_sum},           {"mean", l_mean},       {"max", l_max},
    {"min", l_min},         {"argmax", l_argmax},     {"argmin", l_argmin},   {"matmul", l_matmul},
    {"transpose", l_transpose}, {"close", l_close},   {NULL, NULL}};

static const luaL_Reg metamethods[] = {
    {"__add", l_add}, {"__sub", l_sub}, {"__mul", l_mul},           {"__div", l_div},
    {"__pow", l_pow}, {"__unm", l_unm}, {"__tostring", l_tostring}, {"__len", l_len},
    {"__gc", l_close}, {"__close", l_close}, {NULL, NULL}};

static const luaL_Reg functions[] = {
    {"tensor_new", l_new},       {"tensor_zeros", l_zeros}, {"tensor_full", l_full},
    {"tensor_arange", l_arange}, {"tensor_linspace", l_linspace}, {"tensor_rand", l_rand},
    {"tensor_randn", l_randn},   {"tensor_load", l_load},   {"tensor_is", l_istensor},
    {NULL, NULL}};

void mlL_open_tensor(lua_State *L)
{
    if (luaL_newmetatable(L, MLL_TENSOR_MT)) {
        luaL_setfuncs(L, metamethods, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushstring(L, "moonlab.Tensor");
        lua_setfield(L, -2, "__name");
    }
    lua_setfield(L, -2, "Tensor");
    luaL_setfuncs(L, functions, 0);
}
