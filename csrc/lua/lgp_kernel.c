/* GP kernels as userdata (moonlab.GPKernel): constructors, parameters, matrices, `+` and `*`. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lgp.h"

typedef struct { ml_gp_kernel *k; } kernel_ud;

ml_gp_kernel *lgp_checkkernel(lua_State *L, int idx, const char *fname)
{
    kernel_ud *u = luaL_testudata(L, idx, LGP_KERNEL_MT);
    if (!u) mlL_argerror(L, idx, fname, "kernel", "expected a gp kernel, got %s", luaL_typename(L, idx));
    if (!u->k) mlL_argerror(L, idx, fname, "kernel", "kernel was closed");
    return u->k;
}

void lgp_pushkernel(lua_State *L, ml_gp_kernel *k, const char *fname)
{
    if (!k) mlL_raise(L, fname);
    kernel_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->k = k;
    luaL_setmetatable(L, LGP_KERNEL_MT);
}

/* Reads a number or an array of numbers at idx into a GC-owned buffer (pushed). */
static double *numbers(lua_State *L, int idx, const char *fname, const char *arg, int *n, int positive)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TNUMBER) {
        double *b = lua_newuserdatauv(L, sizeof *b, 0);
        b[0] = lua_tonumber(L, idx);
        *n = 1;
    } else if (lua_type(L, idx) == LUA_TTABLE) {
        lua_Integer len = luaL_len(L, idx);
        if (len < 1 || len > 10000000)
            mlL_argerror(L, idx, fname, arg, "expected a non-empty list of numbers");
        double *b = lua_newuserdatauv(L, (size_t)len * sizeof *b, 0);
        for (lua_Integer i = 1; i <= len; i++) {
            if (lua_geti(L, idx, i) != LUA_TNUMBER)
                mlL_argerror(L, idx, fname, arg, "element %d is %s, expected a number", (int)i, luaL_typename(L, -1));
            b[i - 1] = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
        *n = (int)len;
    } else {
        mlL_argerror(L, idx, fname, arg, "expected a number or a list of numbers, got %s", luaL_typename(L, idx));
    }
    double *b = lua_touserdata(L, -1);
    for (int i = 0; i < *n; i++)
        if (!isfinite(b[i]) || (positive && !(b[i] > 0)))
            mlL_argerror(L, idx, fname, arg, "element %d = %g, expected a finite number%s", i + 1, b[i],
                         positive ? " > 0" : "");
    return b;
}

static const char *const STAT[] = {"se", "matern15", "matern25", "rq", NULL};

/* core.gp_kernel_stationary(kind, variance, lengthscales, alpha, fname) */
static int l_stationary(lua_State *L)
{
    const char *fname = luaL_optstring(L, 5, "gp.kernel");
    int type = luaL_checkoption(L, 1, NULL, STAT);
    double var = luaL_checknumber(L, 2);
    if (!(var > 0) || !isfinite(var)) return mlL_argerror(L, 1, fname, "variance", "expected a finite number > 0, got %g", var);
    int nl;
    double *ls = numbers(L, 3, fname, "lengthscales", &nl, 1);
    double alpha = luaL_optnumber(L, 4, 1.0);
    if (!(alpha > 0) || !isfinite(alpha)) return mlL_argerror(L, 1, fname, "alpha", "expected a finite number > 0, got %g", alpha);
    lgp_pushkernel(L, ml_gpk_stationary(type, var, nl, ls, alpha), fname);
    return 1;
}

/* core.gp_kernel_invdist(atoms, dim, frozen|nil, types|nil, pair_types|nil, lengthscales, variance, constant) */
static int l_invdist(lua_State *L)
{
    const char *fname = "gp.kernel.inverse_distance";
    int natoms = (int)mlL_checkinteger(L, 1, fname, "atoms", 1, 1 << 24), adim = (int)mlL_checkinteger(L, 2, fname, "dim", 2, 3);
    int64_t nf = 0, fc = 0;
    const double *frozen = NULL;
    if (!lua_isnil(L, 3)) frozen = lgp_tensor(L, 3, fname, "frozen", 2, &nf, &fc, adim);
    int ntypes = 0, *types = NULL, *ptype = NULL;
    if (!lua_isnil(L, 4) || !lua_isnil(L, 5)) {
        if (lua_type(L, 4) != LUA_TTABLE)
            return mlL_argerror(L, 1, fname, "types", "expected a list of atom types (1-based) with pair_types, got %s",
                                luaL_typename(L, 4));
        if (lua_type(L, 5) != LUA_TTABLE)
            return mlL_argerror(L, 1, fname, "pair_types", "expected a symmetric table pair_types[ti][tj] of "
                                "length-scale indices, got %s", luaL_typename(L, 5));
        lua_Integer nt = luaL_len(L, 4);
        if (nt != natoms + nf)
            return mlL_argerror(L, 1, fname, "types", "expected %d entries (atoms + frozen), got %d",
                                (int)(natoms + nf), (int)nt);
        types = lua_newuserdatauv(L, (size_t)nt * sizeof *types, 0);
        for (lua_Integer i = 1; i <= nt; i++) {
            lua_geti(L, 4, i);
            if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > 1024)
                return mlL_argerror(L, 1, fname, "types", "entry %d is not an integer in 1..1024", (int)i);
            types[i - 1] = (int)lua_tointeger(L, -1) - 1;
            if (types[i - 1] + 1 > ntypes) ntypes = types[i - 1] + 1;
            lua_pop(L, 1);
        }
        lua_Integer np = luaL_len(L, 5);
        if (np < ntypes)
            return mlL_argerror(L, 1, fname, "pair_types", "expected a %dx%d table (one row per atom type), got %d rows",
                                ntypes, ntypes, (int)np);
        ptype = lua_newuserdatauv(L, (size_t)ntypes * ntypes * sizeof *ptype, 0);
        for (int i = 0; i < ntypes; i++) {
            if (lua_geti(L, 5, i + 1) != LUA_TTABLE || luaL_len(L, -1) < ntypes)
                return mlL_argerror(L, 1, fname, "pair_types", "row %d must list %d length-scale indices", i + 1, ntypes);
            for (int j = 0; j < ntypes; j++) {
                lua_geti(L, -1, j + 1);
                if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < INT_MIN / 2 || lua_tointeger(L, -1) > INT_MAX / 2)
                    return mlL_argerror(L, 1, fname, "pair_types", "[%d][%d] is not an integer", i + 1, j + 1);
                ptype[i * ntypes + j] = (int)lua_tointeger(L, -1) - 1;
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
    }
    int nl;
    double *ls = numbers(L, 6, fname, "lengthscales", &nl, 1);
    double var = luaL_checknumber(L, 7), c = luaL_checknumber(L, 8);
    ml_gp_kernel *k = ml_gpk_invdist(natoms, adim, (int)nf, frozen, ntypes, types, ptype, nl, ls, var, c);
    if (!k) return mlL_error(L, "%s: %s", fname, ml_errmsg());
    lgp_pushkernel(L, k, fname);
    return 1;
}

static int l_simple(lua_State *L)
{
    int white = lua_toboolean(L, 2);
    const char *fname = white ? "gp.kernel.white" : "gp.kernel.constant";
    double v = luaL_checknumber(L, 1);
    if (!(v > 0) || !isfinite(v)) return mlL_argerror(L, 1, fname, "value", "expected a finite number > 0, got %g", v);
    lgp_pushkernel(L, white ? ml_gpk_white(v) : ml_gpk_constant(v), fname);
    return 1;
}

static int combine(lua_State *L, int type)
{
    const char *fname = type == ML_GPK_SUM ? "gp.kernel '+'" : "gp.kernel '*'";
    ml_gp_kernel *a = lgp_checkkernel(L, 1, fname), *b = lgp_checkkernel(L, 2, fname);
    ml_gp_kernel *k = ml_gpk_combine(type, a, b);
    if (!k) return mlL_error(L, "%s: %s", fname, ml_errmsg());
    lgp_pushkernel(L, k, fname);
    return 1;
}
static int k_add(lua_State *L) { return combine(L, ML_GPK_SUM); }
static int k_mul(lua_State *L) { return combine(L, ML_GPK_PROD); }

static int k_gc(lua_State *L)
{
    kernel_ud *u = luaL_checkudata(L, 1, LGP_KERNEL_MT);
    ml_gpk_free(u->k);
    u->k = NULL;
    return 0;
}

static void describe(luaL_Buffer *b, const ml_gp_kernel *k, lua_State *L);

static int k_tostring(lua_State *L)
{
    kernel_ud *u = luaL_checkudata(L, 1, LGP_KERNEL_MT);
    if (!u->k) return lua_pushliteral(L, "gp.kernel (closed)"), 1;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "gp.kernel(");
    describe(&b, u->k, L);
    luaL_addstring(&b, ")");
    luaL_pushresult(&b);
    return 1;
}

static void describe(luaL_Buffer *b, const ml_gp_kernel *k, lua_State *L)
{
    int np = ml_gpk_nparams(k);
    double th[64];
    char nm[64];
    if (np > 64) {
        lua_pushfstring(L, "%d parameters", np);
        luaL_addvalue(b);
        return;
    }
    ml_gpk_get_params(k, th);
    for (int p = 0; p < np; p++) {
        int kind, fixed;
        ml_gpk_param_info(k, p, &kind, &fixed, nm, sizeof nm);
        char s[128];
        snprintf(s, sizeof s, "%s%s=%.4g%s", p ? ", " : "", nm, exp(th[p]), fixed ? " (fixed)" : "");
        luaL_addstring(b, s);
    }
}

static int k_nparams(lua_State *L)
{
    lua_pushinteger(L, ml_gpk_nparams(lgp_checkkernel(L, 1, "kernel:nparams")));
    return 1;
}

static int k_dim(lua_State *L)
{
    lua_pushinteger(L, ml_gpk_dim(lgp_checkkernel(L, 1, "kernel:dim")));
    return 1;
}

/* kernel:params() -> {log-parameters}, {names}, {fixed} */
static int k_params(lua_State *L)
{
    ml_gp_kernel *k = lgp_checkkernel(L, 1, "kernel:params");
    int np = ml_gpk_nparams(k);
    double *th = lua_newuserdatauv(L, (size_t)(np + 1) * sizeof *th, 0);
    ml_gpk_get_params(k, th);
    lua_createtable(L, np, 0);
    lua_createtable(L, np, 0);
    lua_createtable(L, np, 0);
    for (int p = 0; p < np; p++) {
        int kind, fixed;
        char nm[64];
        ml_gpk_param_info(k, p, &kind, &fixed, nm, sizeof nm);
        lua_pushnumber(L, th[p]), lua_rawseti(L, -4, p + 1);
        lua_pushstring(L, nm), lua_rawseti(L, -3, p + 1);
        lua_pushboolean(L, fixed), lua_rawseti(L, -2, p + 1);
    }
    return 3;
}

static int k_set_params(lua_State *L)
{
    const char *fname = "kernel:set_params";
    ml_gp_kernel *k = lgp_checkkernel(L, 1, fname);
    int n, np = ml_gpk_nparams(k);
    double *th = numbers(L, 2, fname, "theta", &n, 0);
    if (n != np) return mlL_argerror(L, 2, fname, "theta", "expected %d log-parameters, got %d", np, n);
    if (ml_gpk_set_params(k, th)) return mlL_argerror(L, 2, fname, "theta", "%s", ml_errmsg());
    lua_settop(L, 1);
    return 1;
}

static int k_set_fixed(lua_State *L)
{
    ml_gp_kernel *k = lgp_checkkernel(L, 1, "kernel:set_fixed");
    ml_gpk_set_fixed(k, lua_toboolean(L, 2));
    lua_settop(L, 1);
    return 1;
}

static int k_clone(lua_State *L)
{
    ml_gp_kernel *k = lgp_checkkernel(L, 1, "kernel:clone");
    lgp_pushkernel(L, ml_gpk_clone(k), "kernel:clone");
    return 1;
}

/* core kernel:matrix_raw(X, X2|nil, deriv) -> tensor [n*m, n2*m] */
static int k_matrix(lua_State *L)
{
    const char *fname = "kernel:matrix";
    ml_gp_kernel *k = lgp_checkkernel(L, 1, fname);
    int64_t n, D, n2, D2;
    const double *X = lgp_tensor(L, 2, fname, "X", 2, &n, &D, ml_gpk_dim(k));
    const double *X2 = X;
    n2 = n;
    if (!lua_isnil(L, 3)) X2 = lgp_tensor(L, 3, fname, "X2", 2, &n2, &D2, D);
    int deriv = lua_toboolean(L, 4);
    int64_t m = deriv ? D + 1 : 1;
    if (n * m > 100000 || n2 * m > 100000)
        return mlL_argerror(L, 2, fname, "X", "matrix of %lld x %lld is too large", (long long)(n * m), (long long)(n2 * m));
    ml_tensor *out = mlL_newtensor(L, ML_F64, 2, (int64_t[]){n * m, n2 * m});
    if (ml_gpk_matrix(k, (int)D, n, X, n2, X2, deriv, ml_f64(out))) return mlL_raise(L, fname);
    return 1;
}

/* kernel:block(x, y, deriv, same) -> B [m,m], dB [np,m,m] */
static int k_block(lua_State *L)
{
    const char *fname = "kernel:block";
    ml_gp_kernel *k = lgp_checkkernel(L, 1, fname);
    int64_t r, D, r2, D2;
    const double *x = lgp_tensor(L, 2, fname, "x", 1, &r, &D, ml_gpk_dim(k));
    const double *y = lgp_tensor(L, 3, fname, "y", 1, &r2, &D2, D);
    int deriv = lua_toboolean(L, 4), same = lua_toboolean(L, 5);
    int64_t m = deriv ? D + 1 : 1, np = ml_gpk_nparams(k);
    ml_tensor *B = mlL_newtensor(L, ML_F64, 2, (int64_t[]){m, m});
    ml_tensor *dB = mlL_newtensor(L, ML_F64, 3, (int64_t[]){np, m, m});
    int64_t ws = ml_gpk_work_size(k, (int)D);
    double *w = lua_newuserdatauv(L, (size_t)ws * sizeof *w, 0);
    ml_gpk_block(k, (int)D, x, y, same, deriv, ml_f64(B), ml_f64(dB), w);
    lua_pop(L, 1);
    return 2;
}

static int l_kernel_methods(lua_State *L)
{
    luaL_getmetatable(L, LGP_KERNEL_MT);
    lua_getfield(L, -1, "__index");
    return 1;
}

void lgp_open_kernel(lua_State *L)
{
    static const luaL_Reg meta[] = {{"__gc", k_gc}, {"__close", k_gc}, {"__tostring", k_tostring},
                                    {"__add", k_add}, {"__mul", k_mul}, {NULL, NULL}};
    static const luaL_Reg methods[] = {{"nparams", k_nparams}, {"dim", k_dim}, {"params_raw", k_params},
                                       {"set_params_raw", k_set_params}, {"set_fixed", k_set_fixed},
                                       {"clone", k_clone}, {"matrix_raw", k_matrix}, {"block", k_block},
                                       {NULL, NULL}};
    luaL_newmetatable(L, LGP_KERNEL_MT);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {{"gp_kernel_stationary", l_stationary}, {"gp_kernel_invdist", l_invdist},
                                   {"gp_kernel_simple", l_simple}, {"gp_kernel_methods", l_kernel_methods},
                                   {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
}
