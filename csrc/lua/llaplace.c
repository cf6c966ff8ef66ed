/* Lua bindings of the Laplace-inversion core (moonlab.laplace); the chromatography
 * column (moonlab.chrom) is bound in lchrom.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llaplace.h"
#include "moonlab/chrom.h"

lfn_ud *mlL_lfn_push(lua_State *L, ml_laplace_fn fn, void *owned, void (*fr)(void *),
                     const char *label) {
    lfn_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->fn = fn;
    u->owned = owned;
    u->free_owned = fr;
    snprintf(u->label, sizeof u->label, "%s", label);
    luaL_setmetatable(L, LFN_MT);
    return u;
}

static int lfn_gc(lua_State *L) {
    lfn_ud *u = luaL_checkudata(L, 1, LFN_MT);
    if (u->owned && u->free_owned) u->free_owned(u->owned);
    u->owned = NULL;
    u->fn.eval = NULL;
    return 0;
}

static int lfn_tostring(lua_State *L) {
    lfn_ud *u = luaL_checkudata(L, 1, LFN_MT);
    lua_pushfstring(L, "LaplaceFn(%s)%s", u->label, u->fn.eval ? "" : " (closed)");
    return 1;
}

/* F(s_re, s_im) -> re, im : evaluates a C transform from Lua. */
static int lfn_call(lua_State *L) {
    lfn_ud *u = luaL_checkudata(L, 1, LFN_MT);
    if (lua_type(L, 2) != LUA_TNUMBER)
        return mlL_argerror(L, 1, "LaplaceFn", "s_re", "expected a number, got %s", luaL_typename(L, 2));
    if (!lua_isnoneornil(L, 3) && lua_type(L, 3) != LUA_TNUMBER)
        return mlL_argerror(L, 2, "LaplaceFn", "s_im", "expected a number, got %s", luaL_typename(L, 3));
    double re = lua_tonumber(L, 2), im = lua_isnoneornil(L, 3) ? 0 : lua_tonumber(L, 3);
    if (!u->fn.eval) return mlL_error(L, "LaplaceFn: transform was closed");
    double complex s = re + I * im, out;
    if (u->fn.eval(u->fn.params, 1, &s, &out) != ML_OK) return mlL_raise(L, "LaplaceFn");
    lua_pushnumber(L, creal(out));
    lua_pushnumber(L, cimag(out));
    return 2;
}

/* The LaplaceFn at argument 1 of method `name`, or an error naming it. */
static lfn_ud *check_lfn(lua_State *L, const char *name) {
    lfn_ud *u = luaL_testudata(L, 1, LFN_MT);
    if (!u) mlL_argerror(L, 1, name, "self", "expected a LaplaceFn (call it as F:%s()), got %s",
                         strchr(name, ':') + 1, luaL_typename(L, 1));
    return u;
}

static int lfn_abscissa(lua_State *L) {
    lfn_ud *u = check_lfn(L, "LaplaceFn:abscissa");
    lua_pushnumber(L, u->fn.abscissa);
    return 1;
}

/* F:has_quad() -> true when the transform also evaluates in quad precision. */
static int lfn_has_quad(lua_State *L) {
    lfn_ud *u = check_lfn(L, "LaplaceFn:has_quad");
    lua_pushboolean(L, ML_LAPLACE_HAVE_QUAD && u->fn.evalq != NULL);
    return 1;
}

/* ---- Lua-function transforms: called only from this thread, errors caught by
 * lua_pcall and kept in full (error objects through their __tostring) in the registry,
 * then raised after the C method has freed its scratch. ---- */
typedef struct {
    lua_State *L;
    int fidx;
    int errref; /* registry reference of the full error text, or LUA_NOREF */
} luafn_ctx;

/* tostring(v) honouring __tostring; run under lua_pcall. */
static int tostring_any(lua_State *L) {
    luaL_tolstring(L, 1, NULL);
    return 1;
}

/* Keeps "F raised an error at s = ...: <error>" for the error value on top (popped). */
static int keep_error(lua_State *L, luafn_ctx *c, double complex s) {
    lua_pushcfunction(L, tostring_any);
    lua_insert(L, -2);
    const char *m = lua_pcall(L, 1, 1, 0) == LUA_OK ? lua_tostring(L, -1) : NULL;
    char head[96];
    snprintf(head, sizeof head, "F raised an error at s = %g%+gi: ", creal(s), cimag(s));
    lua_pushfstring(L, "%s%s", head, m ? m : "(error object whose __tostring failed)");
    const char *full = lua_tostring(L, -1);
    int rc = ml_fail(ML_ECALLBACK, "%.300s", full);
    if (c->errref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, c->errref);
    c->errref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops the full text */
    lua_pop(L, 1);
    return rc;
}

static int luafn_eval(void *params, size_t n, const double complex *s, double complex *out) {
    luafn_ctx *c = params;
    lua_State *L = c->L;
    if (!lua_checkstack(L, 8)) return ml_fail(ML_ECALLBACK, "Lua stack overflow");
    for (size_t i = 0; i < n; i++) {
        lua_pushvalue(L, c->fidx);
        lua_pushnumber(L, creal(s[i]));
        lua_pushnumber(L, cimag(s[i]));
        if (lua_pcall(L, 2, 2, 0) != LUA_OK) return keep_error(L, c, s[i]);
        if (lua_type(L, -2) != LUA_TNUMBER || lua_type(L, -1) != LUA_TNUMBER) {
            int rc = ml_fail(ML_ECALLBACK, "F(%g, %g) must return two numbers (re, im), got %s and %s",
                             creal(s[i]), cimag(s[i]), luaL_typename(L, -2), luaL_typename(L, -1));
            lua_pop(L, 2);
            return rc;
        }
        out[i] = lua_tonumber(L, -2) + I * lua_tonumber(L, -1);
        lua_pop(L, 2);
    }
    return ML_OK;
}

/* Raises the error of a failed call: the Lua F's own error in full when it raised one,
 * the library's message otherwise. */
static int raise_failure(lua_State *L, const char *fname, luafn_ctx *ctx) {
    if (ctx->errref != LUA_NOREF && ml_errcode() == ML_ECALLBACK) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, ctx->errref);
        luaL_unref(L, LUA_REGISTRYINDEX, ctx->errref);
        ctx->errref = LUA_NOREF;
        lua_pushfstring(L, "%s: %s", fname, lua_tostring(L, -1));
        return lua_error(L);
    }
    if (ctx->errref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, ctx->errref);
    ctx->errref = LUA_NOREF;
    return mlL_raise(L, fname);
}

static const char *const method_choices[] = {"talbot", "euler", "stehfest", "dehoog",
                                             "weeks", "fourier", NULL};
static const char *const precision_choices[] = {"auto", "double", "quad", NULL};

static void check_F(lua_State *L, int idx, const char *fname, ml_laplace_fn *fn, luafn_ctx *ctx) {
    ctx->errref = LUA_NOREF;
    lfn_ud *u = luaL_testudata(L, idx, LFN_MT);
    if (u) {
        if (!u->fn.eval) mlL_argerror(L, idx, fname, "F", "transform was closed");
        *fn = u->fn;
        return;
    }
    if (lua_type(L, idx) != LUA_TFUNCTION)
        mlL_argerror(L, idx, fname, "F",
                     "expected a function F(s_re, s_im) -> re, im or a C transform, got %s",
                     luaL_typename(L, idx));
    ctx->L = L;
    ctx->fidx = lua_absindex(L, idx);
    ctx->errref = LUA_NOREF;
    fn->eval = luafn_eval;
    fn->params = ctx;
    fn->abscissa = 0;
    fn->threadsafe = 0;
    fn->evalq = NULL;
}

/* Reads the inversion options at idx; *err_est receives opts.error_estimate. */
static void read_invert_opts(lua_State *L, int idx, const char *fname, ml_laplace_opts *o,
                             int method, int *err_est, int *quiet) {
    int64_t M = 0;
    int ee = 0, q = 0;
    mlL_opts(L, idx, fname,
             (mlL_opt[]){{"method", MLL_ENUM, &method, method_choices},
                         {"M", MLL_INT, &M, NULL},
                         {"abscissa", MLL_NUMBER, &o->abscissa, NULL},
                         {"sigma", MLL_NUMBER, &o->sigma, NULL},
                         {"b", MLL_NUMBER, &o->b, NULL},
                         {"tol", MLL_NUMBER, &o->tol, NULL},
                         {"T", MLL_NUMBER, &o->T, NULL},
                         {"precision", MLL_ENUM, &o->precision, precision_choices},
                         {"error_estimate", MLL_BOOL, &ee, NULL},
                         {"quiet", MLL_BOOL, &q, NULL},
                         {0}});
    if (quiet) *quiet = q;
    o->method = method;
    if (err_est) *err_est = ee;
    else if (ee) mlL_error(L, "%s: option 'error_estimate' is not available here", fname);
    int lo, hi;
    ml_laplace_order_range(method, &lo, &hi);
    if (M != 0 && (M < lo || M > hi || (method == ML_LAPLACE_STEHFEST && M % 2)))
        mlL_error(L, "%s: option 'M' = %lld out of range for method '%s': expected %s in [%d, %d]",
                  fname, (long long)M, method_choices[method],
                  method == ML_LAPLACE_STEHFEST ? "an even integer" : "an integer", lo, hi);
    o->M = (int)M;
    if (!isnan(o->abscissa) && !isfinite(o->abscissa))
        mlL_error(L, "%s: option 'abscissa' = %g, expected a finite number", fname, o->abscissa);
    if (!isnan(o->tol) && !(o->tol > 0 && o->tol < 1))
        mlL_error(L, "%s: option 'tol' = %g, expected 0 < tol < 1", fname, o->tol);
    if (!isnan(o->T) && !(o->T > 0 && isfinite(o->T)))
        mlL_error(L, "%s: option 'T' = %g, expected a finite T > 0", fname, o->T);
    if (!isnan(o->sigma) && !isfinite(o->sigma))
        mlL_error(L, "%s: option 'sigma' = %g, expected a finite number", fname, o->sigma);
    if (!isnan(o->b) && !(o->b > 0 && isfinite(o->b)))
        mlL_error(L, "%s: option 'b' = %g, expected a finite b > 0", fname, o->b);
}

/* The lower order used by the error estimate: about 3/4 of the order in use. */
static int lower_order(const ml_laplace_opts *o, const ml_laplace_fn *fn) {
    int M = o->M ? o->M
                 : (ml_laplace_uses_quad(o, fn) ? ml_laplace_default_order_quad(o->method)
                                                 : ml_laplace_default_order(o->method));
    int lo, hi, m = (3 * M) / 4;
    ml_laplace_order_range(o->method, &lo, &hi);
    if (o->method == ML_LAPLACE_STEHFEST) m -= m % 2;
    if (m < lo) m = lo;
    if (m == M) m = M + (o->method == ML_LAPLACE_STEHFEST ? 2 : 1);
    return m;
}

/* core.laplace_invert(F, t, opts, many) -> number | tensor, nevals, err (err only with
 * opts.error_estimate: |f_M - f_M'| at a lower order M' ~ 3M/4). The times are always
 * copied into a tensor of our own that stays on the stack: a Lua F may close or collect
 * the caller's tensor while the inversion runs. */
static int l_invert(lua_State *L) {
    int many = lua_toboolean(L, 4);
    const char *fname = many ? "laplace.invert_many" : "laplace.invert";
    ml_laplace_fn fn;
    luafn_ctx ctx;
    check_F(L, 1, fname, &fn, &ctx);
    ml_laplace_opts o = ml_laplace_defaults();
    int err_est = 0;
    int quiet = 0;
    read_invert_opts(L, 3, fname, &o, ML_LAPLACE_DEHOOG, &err_est, &quiet);
    double tnum, fnum, enum_ = 0, *t, *f, *e = NULL;
    size_t nt;
    int out_idx = 0, err_idx = 0;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        tnum = lua_tonumber(L, 2);
        if (!(tnum > 0) || !isfinite(tnum))
            return mlL_argerror(L, 2, fname, "t", "expected a finite time > 0, got %g", tnum);
        t = &tnum;
        f = &fnum;
        e = &enum_;
        nt = 1;
    } else {
        ml_tensor *tt = mlL_testtensor(L, 2);
        if (!tt)
            return mlL_argerror(L, 2, fname, "t", "expected a number or a tensor of times, got %s",
                                luaL_typename(L, 2));
        if (!tt->data) return mlL_argerror(L, 2, fname, "t", "tensor was closed");
        nt = (size_t)tt->numel;
        ml_tensor *tc = mlL_newtensor(L, ML_F64, tt->ndim, tt->shape); /* our copy */
        ml_tensor_copy(tc, tt);
        t = ml_f64(tc);
        ml_tensor *out = mlL_newtensor(L, ML_F64, tt->ndim, tt->shape); /* result, GC-owned */
        out_idx = lua_gettop(L);
        f = ml_f64(out);
        if (err_est) {
            ml_tensor *et = mlL_newtensor(L, ML_F64, tt->ndim, tt->shape);
            err_idx = lua_gettop(L);
            e = ml_f64(et);
        }
        for (size_t i = 0; i < nt; i++)
            if (!(t[i] > 0) || !isfinite(t[i]))
                return mlL_argerror(L, 2, fname, "t", "expected finite times > 0, got t[%zu] = %g",
                                    i + 1, t[i]);
    }
    size_t nev = 0, nev2 = 0;
    ml_progress *pg = mlL_long_begin(L, fname, quiet);
    o.progress = pg;
    int rc = many ? ml_laplace_invert_many(&o, &fn, nt, t, f, &nev)
                  : ml_laplace_invert(&o, &fn, nt, t, f);
    if (rc == ML_OK && err_est) {
        ml_laplace_opts o2 = o;
        o2.M = lower_order(&o, &fn);
        rc = many ? ml_laplace_invert_many(&o2, &fn, nt, t, e, &nev2)
                  : ml_laplace_invert(&o2, &fn, nt, t, e);
        for (size_t i = 0; i < nt && rc == ML_OK; i++) e[i] = fabs(e[i] - f[i]);
    }
    mlL_long_end(L, pg);
    if (rc != ML_OK) return raise_failure(L, fname, &ctx);
    if (!out_idx) lua_pushnumber(L, fnum);
    else lua_pushvalue(L, out_idx);
    lua_pushinteger(L, (lua_Integer)(nev + nev2));
    if (!err_est) return 2;
    if (!err_idx) lua_pushnumber(L, enum_);
    else lua_pushvalue(L, err_idx);
    return 3;
}

/* Reads argument idx as a number, or raises naming it. */
static double arg_number(lua_State *L, int idx, const char *fname, const char *name) {
    if (lua_type(L, idx) != LUA_TNUMBER)
        mlL_argerror(L, idx, fname, name, "expected a number, got %s", luaL_typename(L, idx));
    return lua_tonumber(L, idx);
}

/* Reads argument idx as an integer in [lo, hi], or raises naming it and its value. */
static lua_Integer arg_int(lua_State *L, int idx, const char *fname, const char *name,
                           lua_Integer lo, lua_Integer hi) {
    int isint;
    lua_Integer v = lua_tointegerx(L, idx, &isint);
    if (lua_type(L, idx) != LUA_TNUMBER || !isint)
        mlL_argerror(L, idx, fname, name, "expected an integer in [%lld, %lld], got %s", (long long)lo,
                     (long long)hi, lua_type(L, idx) == LUA_TNUMBER ? "a non-integer" : luaL_typename(L, idx));
    if (v < lo || v > hi)
        mlL_argerror(L, idx, fname, name, "expected an integer in [%lld, %lld], got %lld", (long long)lo,
                     (long long)hi, (long long)v);
    return v;
}

/* core.laplace_fourier_grid(F, T, n, opts) -> t, f tensors */
static int l_fourier_grid(lua_State *L) {
    const char *fname = "laplace.fourier_grid";
    ml_laplace_fn fn;
    luafn_ctx ctx;
    check_F(L, 1, fname, &fn, &ctx);
    double T = arg_number(L, 2, fname, "T");
    if (!(T > 0) || !isfinite(T)) return mlL_argerror(L, 2, fname, "T", "expected a finite T > 0, got %g", T);
    ml_laplace_opts o = ml_laplace_defaults();
    read_invert_opts(L, 4, fname, &o, ML_LAPLACE_FOURIER, NULL, NULL);
    if (o.method != ML_LAPLACE_FOURIER)
        return mlL_error(L, "%s: option 'method' must be 'fourier', got '%s'", fname, method_choices[o.method]);
    int N = o.M ? o.M : ml_laplace_default_order(ML_LAPLACE_FOURIER);
    lua_Integer n = arg_int(L, 3, fname, "n", 1, N);
    int64_t sh[1] = {n};
    ml_tensor *tt = mlL_newtensor(L, ML_F64, 1, sh);
    ml_tensor *ff = mlL_newtensor(L, ML_F64, 1, sh);
    int rc = ml_laplace_fourier_grid(&o, &fn, T, (size_t)n, ml_f64(tt), ml_f64(ff));
    if (rc != ML_OK) return raise_failure(L, fname, &ctx);
    return 2;
}

/* core.laplace_weeks_coeffs(F, N, sigma, b) -> table of a_n (real parts) */
static int l_weeks_coeffs(lua_State *L) {
    const char *fname = "laplace.weeks_coeffs";
    ml_laplace_fn fn;
    luafn_ctx ctx;
    check_F(L, 1, fname, &fn, &ctx);
    lua_Integer N = arg_int(L, 2, fname, "N", 1, 1 << 16);
    double sigma = arg_number(L, 3, fname, "sigma"), b = arg_number(L, 4, fname, "b");
    if (!isfinite(sigma)) return mlL_argerror(L, 3, fname, "sigma", "expected a finite number, got %g", sigma);
    if (!(b > 0) || !isfinite(b)) return mlL_argerror(L, 4, fname, "b", "expected a finite b > 0, got %g", b);
    /* scratch as a userdata: freed by the collector if F raises */
    double complex *a = lua_newuserdatauv(L, sizeof(double complex) * (size_t)N, 0);
    int rc = ml_laplace_weeks_coeffs(&fn, (int)N, sigma, b, a);
    if (rc != ML_OK) return raise_failure(L, fname, &ctx);
    lua_createtable(L, (int)N, 0);
    for (lua_Integer i = 0; i < N; i++) {
        lua_pushnumber(L, creal(a[i]));
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int l_stehfest_weights(lua_State *L) {
    long double V[64];
    int lo, hi;
    ml_laplace_order_range(ML_LAPLACE_STEHFEST, &lo, &hi);
    lua_Integer N = arg_int(L, 1, "laplace.stehfest_weights", "N", lo, hi);
    if (N % 2)
        return mlL_argerror(L, 1, "laplace.stehfest_weights", "N", "expected an even integer in [%d, %d], got %lld", lo, hi, (long long)N);
    ml_laplace_stehfest_weights((int)N, V);
    lua_createtable(L, (int)N, 0);
    for (int i = 0; i < N; i++) {
        lua_pushnumber(L, (double)V[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int l_defaults(lua_State *L) {
    lua_newtable(L);
    for (int m = 0; m < ML_LAPLACE_NMETHODS; m++) {
        int lo, hi;
        ml_laplace_order_range(m, &lo, &hi);
        lua_createtable(L, 0, 4);
        lua_pushinteger(L, ml_laplace_default_order(m));
        lua_setfield(L, -2, "M");
        if (ML_LAPLACE_HAVE_QUAD && (m == ML_LAPLACE_TALBOT || m == ML_LAPLACE_EULER ||
                                     m == ML_LAPLACE_STEHFEST)) {
            lua_pushinteger(L, ml_laplace_default_order_quad(m));
            lua_setfield(L, -2, "M_quad");
        }
        lua_pushinteger(L, lo);
        lua_setfield(L, -2, "M_min");
        lua_pushinteger(L, hi);
        lua_setfield(L, -2, "M_max");
        lua_setfield(L, -2, method_choices[m]);
    }
    return 1;
}

/* ---- the test suite ---- */
static int check_suite_index(lua_State *L, int idx, const char *fname) {
    return (int)arg_int(L, idx, fname, "i", 1, ml_lsuite_count()) - 1;
}

static int l_suite_count(lua_State *L) {
    lua_pushinteger(L, ml_lsuite_count());
    return 1;
}

static int l_suite_info(lua_State *L) {
    int i = check_suite_index(L, 1, "laplace.suite");
    const ml_lsuite_entry *e = ml_lsuite_get(i);
    static const char *const kinds[] = {"smooth", "oscillatory", "jump"};
    lua_createtable(L, 0, 6);
    lua_pushstring(L, e->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, e->F_text);
    lua_setfield(L, -2, "F_text");
    lua_pushstring(L, kinds[e->kind]);
    lua_setfield(L, -2, "kind");
    lua_pushnumber(L, e->abscissa);
    lua_setfield(L, -2, "abscissa");
    ml_laplace_fn fn = ml_lsuite_fn(i);
    mlL_lfn_push(L, fn, NULL, NULL, e->F_text);
    lua_setfield(L, -2, "F");
    return 1;
}

static void map_t(lua_State *L, int idx, const char *fname, double (*g)(int, double), int i) {
    if (lua_type(L, idx) == LUA_TNUMBER) {
        lua_pushnumber(L, g(i, lua_tonumber(L, idx)));
        return;
    }
    ml_tensor *t = mlL_checktensor(L, idx, fname, "t");
    ml_tensor *out = mlL_newtensor(L, ML_F64, t->ndim, t->shape);
    for (int64_t k = 0; k < t->numel; k++) ml_f64(out)[k] = g(i, ml_tensor_getd(t, k));
}

static int l_suite_exact(lua_State *L) {
    int i = check_suite_index(L, 1, "laplace.suite_exact");
    map_t(L, 2, "laplace.suite_exact", ml_lsuite_exact, i);
    return 1;
}

static int l_suite_jumpdist(lua_State *L) {
    int i = check_suite_index(L, 1, "laplace.suite_jump_distance");
    map_t(L, 2, "laplace.suite_jump_distance", ml_lsuite_jump_distance, i);
    return 1;
}

static const luaL_Reg funcs[] = {
    {"laplace_invert", l_invert},
    {"laplace_fourier_grid", l_fourier_grid},
    {"laplace_weeks_coeffs", l_weeks_coeffs},
    {"laplace_stehfest_weights", l_stehfest_weights},
    {"laplace_defaults", l_defaults},
    {"laplace_suite_count", l_suite_count},
    {"laplace_suite_info", l_suite_info},
    {"laplace_suite_exact", l_suite_exact},
    {"laplace_suite_jumpdist", l_suite_jumpdist},
    {NULL, NULL}};

void mlL_open_laplace(lua_State *L) {
    if (luaL_newmetatable(L, LFN_MT)) {
        static const luaL_Reg mt[] = {{"__gc", lfn_gc}, {"__close", lfn_gc},
                                      {"__tostring", lfn_tostring}, {"__call", lfn_call},
                                      {NULL, NULL}};
        luaL_setfuncs(L, mt, 0);
        lua_newtable(L);
        lua_pushcfunction(L, lfn_abscissa);
        lua_setfield(L, -2, "abscissa");
        lua_pushcfunction(L, lfn_has_quad);
        lua_setfield(L, -2, "has_quad");
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, funcs, 0);
    mlL_chrom_funcs(L);
}
