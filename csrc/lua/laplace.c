/* Lua bindings of the Laplace-inversion core (moonlab.laplace) and of the
 * chromatography column (moonlab.chrom). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlua.h"
#include "moonlab/laplace.h"

#define LFN_MT "moonlab.LaplaceFn"

/* A C transform owned by Lua: the function, and parameters freed by __gc. */
typedef struct {
    ml_laplace_fn fn;
    void *owned;
    void (*free_owned)(void *);
    char label[96];
} lfn_ud;

static lfn_ud *push_lfn(lua_State *L, ml_laplace_fn fn, void *owned, void (*fr)(void *),
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
    double re = luaL_checknumber(L, 2), im = luaL_optnumber(L, 3, 0);
    if (!u->fn.eval) return luaL_error(L, "LaplaceFn: transform was closed");
    double complex s = re + I * im, out;
    if (u->fn.eval(u->fn.params, 1, &s, &out) != ML_OK) return mlL_raise(L, "LaplaceFn");
    lua_pushnumber(L, creal(out));
    lua_pushnumber(L, cimag(out));
    return 2;
}

static int lfn_abscissa(lua_State *L) {
    lfn_ud *u = luaL_checkudata(L, 1, LFN_MT);
    lua_pushnumber(L, u->fn.abscissa);
    return 1;
}

/* ---- Lua-function transforms: called only from this thread, errors caught by
 * lua_pcall and reported after the C method has freed its scratch. ---- */
typedef struct {
    lua_State *L;
    int fidx;
    char msg[400];
} luafn_ctx;

static int luafn_eval(void *params, size_t n, const double complex *s, double complex *out) {
    luafn_ctx *c = params;
    lua_State *L = c->L;
    if (!lua_checkstack(L, 8)) {
        snprintf(c->msg, sizeof c->msg, "Lua stack overflow");
        return ml_fail(ML_ECALLBACK, "%s", c->msg);
    }
    for (size_t i = 0; i < n; i++) {
        lua_pushvalue(L, c->fidx);
        lua_pushnumber(L, creal(s[i]));
        lua_pushnumber(L, cimag(s[i]));
        if (lua_pcall(L, 2, 2, 0) != LUA_OK) {
            const char *m = lua_tostring(L, -1);
            snprintf(c->msg, sizeof c->msg, "F raised an error at s = %g%+gi: %s", creal(s[i]),
                     cimag(s[i]), m ? m : "(non-string error)");
            lua_pop(L, 1);
            return ml_fail(ML_ECALLBACK, "%s", c->msg);
        }
        int isr, isi;
        double re = lua_tonumberx(L, -2, &isr), im = lua_tonumberx(L, -1, &isi);
        if (!isr || !isi || lua_type(L, -2) != LUA_TNUMBER || lua_type(L, -1) != LUA_TNUMBER) {
            snprintf(c->msg, sizeof c->msg,
                     "F(%g, %g) must return two numbers (re, im), got %s and %s", creal(s[i]),
                     cimag(s[i]), luaL_typename(L, -2), luaL_typename(L, -1));
            lua_pop(L, 2);
            return ml_fail(ML_ECALLBACK, "%s", c->msg);
        }
        lua_pop(L, 2);
        out[i] = re + I * im;
    }
    return ML_OK;
}

static const char *const method_choices[] = {"talbot", "euler", "stehfest", "dehoog",
                                             "weeks", "fourier", NULL};

/* Reads F at idx into *fn (C transform or Lua function wrapped with ctx). */
static void check_F(lua_State *L, int idx, const char *fname, ml_laplace_fn *fn, luafn_ctx *ctx) {
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
    ctx->msg[0] = 0;
    fn->eval = luafn_eval;
    fn->params = ctx;
    fn->abscissa = 0;
    fn->threadsafe = 0;
}

static void read_invert_opts(lua_State *L, int idx, const char *fname, ml_laplace_opts *o,
                             int method) {
    int64_t M = 0;
    mlL_opts(L, idx, fname,
             (mlL_opt[]){{"method", MLL_ENUM, &method, method_choices},
                         {"M", MLL_INT, &M, NULL},
                         {"abscissa", MLL_NUMBER, &o->abscissa, NULL},
                         {"sigma", MLL_NUMBER, &o->sigma, NULL},
                         {"b", MLL_NUMBER, &o->b, NULL},
                         {"tol", MLL_NUMBER, &o->tol, NULL},
                         {"T", MLL_NUMBER, &o->T, NULL},
                         {0}});
    o->method = method;
    int lo, hi;
    ml_laplace_order_range(method, &lo, &hi);
    if (M != 0 && (M < lo || M > hi || (method == ML_LAPLACE_STEHFEST && M % 2)))
        luaL_error(L, "%s: option 'M' = %d out of range for method '%s': expected %s in [%d, %d]",
                   fname, (int)M, method_choices[method],
                   method == ML_LAPLACE_STEHFEST ? "an even integer" : "an integer", lo, hi);
    o->M = (int)M;
    if (!isnan(o->abscissa) && !isfinite(o->abscissa))
        luaL_error(L, "%s: option 'abscissa' must be finite", fname);
}

/* core.laplace_invert(F, t, opts, many) -> number | tensor (, nevals) */
static int l_invert(lua_State *L) {
    int many = lua_toboolean(L, 4);
    const char *fname = many ? "laplace.invert_many" : "laplace.invert";
    ml_laplace_fn fn;
    luafn_ctx ctx;
    check_F(L, 1, fname, &fn, &ctx);
    ml_laplace_opts o = ml_laplace_defaults();
    read_invert_opts(L, 3, fname, &o, ML_LAPLACE_TALBOT);
    double tnum, fnum;
    const double *t;
    double *f;
    size_t nt;
    ml_tensor *tt = NULL, *tmp = NULL;
    int out_idx = 0;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        tnum = lua_tonumber(L, 2);
        if (!(tnum > 0) || !isfinite(tnum))
            return mlL_argerror(L, 2, fname, "t", "expected a finite time > 0, got %g", tnum);
        t = &tnum;
        f = &fnum;
        nt = 1;
    } else {
        tt = mlL_testtensor(L, 2);
        if (!tt)
            return mlL_argerror(L, 2, fname, "t", "expected a number or a tensor of times, got %s",
                                luaL_typename(L, 2));
        if (!tt->data) return mlL_argerror(L, 2, fname, "t", "tensor was closed");
        nt = (size_t)tt->numel;
        ml_tensor *out = mlL_newtensor(L, ML_F64, tt->ndim, tt->shape); /* result, GC-owned */
        out_idx = lua_gettop(L);
        if (tt->dtype == ML_F64) {
            t = ml_f64(tt);
        } else {
            tmp = mlL_newtensor(L, ML_F64, tt->ndim, tt->shape); /* stays on the stack */
            ml_tensor_copy(tmp, tt);
            t = ml_f64(tmp);
        }
        f = ml_f64(out);
        for (size_t i = 0; i < nt; i++)
            if (!(t[i] > 0) || !isfinite(t[i]))
                return mlL_argerror(L, 2, fname, "t", "expected finite times > 0, got t[%zu] = %g",
                                    i + 1, t[i]);
    }
    size_t nev = 0;
    int rc = many ? ml_laplace_invert_many(&o, &fn, nt, t, f, &nev)
                  : ml_laplace_invert(&o, &fn, nt, t, f);
    if (rc != ML_OK) {
        if (rc == ML_ECALLBACK && fn.eval == luafn_eval)
            return luaL_error(L, "%s: %s", fname, ctx.msg);
        return mlL_raise(L, fname);
    }
    if (!tt) lua_pushnumber(L, fnum);
    else lua_pushvalue(L, out_idx);
    lua_pushinteger(L, (lua_Integer)nev);
    return 2;
}

/* core.laplace_fourier_grid(F, T, n, opts) -> t, f tensors */
static int l_fourier_grid(lua_State *L) {
    const char *fname = "laplace.fourier_grid";
    ml_laplace_fn fn;
    luafn_ctx ctx;
    check_F(L, 1, fname, &fn, &ctx);
    double T = luaL_checknumber(L, 2);
    lua_Integer n = luaL_checkinteger(L, 3);
    ml_laplace_opts o = ml_laplace_defaults();
    read_invert_opts(L, 4, fname, &o, ML_LAPLACE_FOURIER);
    o.method = ML_LAPLACE_FOURIER;
    if (!(T > 0) || !isfinite(T)) return mlL_argerror(L, 2, fname, "T", "expected T > 0, got %g", T);
    int N = o.M ? o.M : ml_laplace_default_order(ML_LAPLACE_FOURIER);
    if (n < 1 || n > N)
        return mlL_argerror(L, 3, fname, "n", "expected 1 <= n <= M = %d, got %d", N, (int)n);
    int64_t sh[1] = {n};
    ml_tensor *tt = mlL_newtensor(L, ML_F64, 1, sh);
    ml_tensor *ff = mlL_newtensor(L, ML_F64, 1, sh);
    int rc = ml_laplace_fourier_grid(&o, &fn, T, (size_t)n, ml_f64(tt), ml_f64(ff));
    if (rc != ML_OK) {
        if (rc == ML_ECALLBACK && fn.eval == luafn_eval) return luaL_error(L, "%s: %s", fname, ctx.msg);
        return mlL_raise(L, fname);
    }
    return 2;
}

/* core.laplace_weeks_coeffs(F, N, sigma, b) -> table of a_n (real parts) */
static int l_weeks_coeffs(lua_State *L) {
    const char *fname = "laplace.weeks_coeffs";
    ml_laplace_fn fn;
    luafn_ctx ctx;
    check_F(L, 1, fname, &fn, &ctx);
    lua_Integer N = luaL_checkinteger(L, 2);
    double sigma = luaL_checknumber(L, 3), b = luaL_checknumber(L, 4);
    if (N < 1 || N > (1 << 16)) return mlL_argerror(L, 2, fname, "N", "expected 1..65536, got %d", (int)N);
    double complex *a = malloc(sizeof(double complex) * N);
    if (!a) return luaL_error(L, "%s: out of memory", fname);
    int rc = ml_laplace_weeks_coeffs(&fn, (int)N, sigma, b, a);
    if (rc != ML_OK) {
        free(a);
        if (rc == ML_ECALLBACK && fn.eval == luafn_eval) return luaL_error(L, "%s: %s", fname, ctx.msg);
        return mlL_raise(L, fname);
    }
    lua_createtable(L, (int)N, 0);
    for (lua_Integer i = 0; i < N; i++) {
        lua_pushnumber(L, creal(a[i]));
        lua_rawseti(L, -2, i + 1);
    }
    free(a);
    return 1;
}

static int l_stehfest_weights(lua_State *L) {
    lua_Integer N = luaL_checkinteger(L, 1);
    long double V[40];
    if (N < 2 || N > 40 || N % 2)
        return mlL_argerror(L, 1, "laplace.stehfest_weights", "N", "expected an even integer in [2, 40], got %d", (int)N);
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
        lua_createtable(L, 0, 3);
        lua_pushinteger(L, ml_laplace_default_order(m));
        lua_setfield(L, -2, "M");
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
    lua_Integer i = luaL_checkinteger(L, idx);
    if (i < 1 || i > ml_lsuite_count())
        mlL_argerror(L, idx, fname, "i", "expected 1..%d, got %d", ml_lsuite_count(), (int)i);
    return (int)i - 1;
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
    push_lfn(L, fn, NULL, NULL, e->F_text);
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

/* ---- chromatography ---- */
#define CHROM_FUNCS

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
    CHROM_FUNCS
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
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, funcs, 0);
}
