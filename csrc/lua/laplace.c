/* Lua bindings of the Laplace-inversion core (moonlab.laplace) and of the
 * chromatography column (moonlab.chrom). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlua.h"
#include "moonlab/laplace.h"
#include "moonlab/chrom.h"
#include <omp.h>

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

/* F:has_quad() -> true when the transform also evaluates in quad precision. */
static int lfn_has_quad(lua_State *L) {
    lfn_ud *u = luaL_checkudata(L, 1, LFN_MT);
    lua_pushboolean(L, ML_LAPLACE_HAVE_QUAD && u->fn.evalq != NULL);
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
static const char *const precision_choices[] = {"auto", "double", "quad", NULL};

/* Reads F at idx into *fn (C transform or Lua function wrapped with ctx). */
/* Raises the error of a failed inversion: the Lua callback's own message when F is a Lua
 * function that failed, the library's message otherwise. */
static int raise_failure(lua_State *L, const char *fname, int rc, const ml_laplace_fn *fn,
                         const luafn_ctx *ctx) {
    if (rc == ML_ECALLBACK && fn->eval == luafn_eval) return mlL_error(L, "%s: %s", fname, ctx->msg);
    return mlL_raise(L, fname);
}

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
    fn->evalq = NULL;
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
                         {"precision", MLL_ENUM, &o->precision, precision_choices},
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
    if (rc != ML_OK) return raise_failure(L, fname, rc, &fn, &ctx);
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
    if (rc != ML_OK) return raise_failure(L, fname, rc, &fn, &ctx);
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
        return raise_failure(L, fname, rc, &fn, &ctx);
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
    long double V[64];
    int lo, hi;
    ml_laplace_order_range(ML_LAPLACE_STEHFEST, &lo, &hi);
    if (N < lo || N > hi || N % 2)
        return mlL_argerror(L, 1, "laplace.stehfest_weights", "N", "expected an even integer in [%d, %d], got %d", lo, hi, (int)N);
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
/* Column parameters from the flat table that moonlab.chrom builds (validated there
 * too); injection data are copied into *data (caller frees). */
static const char *const inj_choices[] = {"pulse", "gaussian", "data", NULL};
static const char *const scheme_choices[] = {"upwind", "koren", "kappa3", NULL};
static const char *const kinetics_choices[] = {"auto", "split", "coupled", NULL};

static void read_column(lua_State *L, int idx, const char *fname, ml_chrom_params *p,
                        double **data) {
    *p = ml_chrom_defaults();
    *data = NULL;
    int inj = ML_CHROM_PULSE;
    mlL_opts(L, idx, fname,
             (mlL_opt[]){{"Da", MLL_NUMBER, &p->Da, NULL},
                         {"kappa", MLL_NUMBER, &p->kappa, NULL},
                         {"Pe", MLL_NUMBER, &p->Pe, NULL},
                         {"P", MLL_NUMBER, &p->P, NULL},
                         {"injection", MLL_ENUM, &inj, inj_choices},
                         {"width", MLL_NUMBER, &p->width, NULL},
                         {"t0", MLL_NUMBER, &p->t0, NULL},
                         {"scale", MLL_NUMBER, &p->scale, NULL},
                         {"inj_t", MLL_SKIP, NULL, NULL},
                         {"inj_c", MLL_SKIP, NULL, NULL},
                         {0}});
    p->injection = inj;
    if (inj == ML_CHROM_DATA) {
        lua_getfield(L, idx, "inj_t");
        lua_getfield(L, idx, "inj_c");
        if (!lua_istable(L, -2) || !lua_istable(L, -1))
            luaL_error(L, "%s: injection data needs tables t and c", fname);
        lua_Integer n = luaL_len(L, -2);
        if (n != luaL_len(L, -1) || n < 2)
            luaL_error(L, "%s: injection data t and c must have the same length >= 2", fname);
        double *d = malloc(sizeof(double) * 2 * n);
        if (!d) luaL_error(L, "%s: out of memory", fname);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -2, i);
            lua_rawgeti(L, -2, i);
            d[i - 1] = lua_tonumber(L, -2);
            d[n + i - 1] = lua_tonumber(L, -1);
            lua_pop(L, 2);
        }
        lua_pop(L, 2);
        p->inj_t = d;
        p->inj_c = d + n;
        p->inj_n = (size_t)n;
        *data = d;
    }
}

typedef struct {
    ml_chrom_params p;
    double *data;
} chrom_owned;

static void chrom_owned_free(void *v) {
    chrom_owned *o = v;
    free(o->data);
    free(o);
}

/* core.chrom_transfer(col, x, output) -> LaplaceFn */
static int l_chrom_transfer(lua_State *L) {
    const char *fname = "chrom.column";
    double x = luaL_optnumber(L, 2, 1.0);
    lua_Integer out = luaL_optinteger(L, 3, 0);
    chrom_owned *o = malloc(sizeof *o);
    if (!o) return luaL_error(L, "%s: out of memory", fname);
    o->data = NULL;
    /* push the userdata first so that __gc frees o on any later error */
    lfn_ud *u = push_lfn(L, (ml_laplace_fn){0}, o, chrom_owned_free, "chrom column");
    read_column(L, 1, fname, &o->p, &o->data);
    o->p.x = x;
    o->p.output = (int)out;
    if (ml_chrom_check(&o->p) != ML_OK) return mlL_raise(L, fname);
    u->fn = ml_chrom_transform(&o->p);
    snprintf(u->label, sizeof u->label, "chrom Da=%g kappa=%g x=%g", o->p.Da, o->p.kappa, x);
    return 1;
}

/* core.chrom_moments(col, x) -> mass, mean, var */
static int l_chrom_moments(lua_State *L) {
    const char *fname = "chrom.moments";
    ml_chrom_params p;
    double *data, mass, mean, var;
    read_column(L, 1, fname, &p, &data);
    p.x = luaL_optnumber(L, 2, 1.0);
    int rc = ml_chrom_moments(&p, &mass, &mean, &var);
    free(data);
    if (rc != ML_OK) return mlL_raise(L, fname);
    lua_pushnumber(L, mass);
    lua_pushnumber(L, mean);
    lua_pushnumber(L, var);
    return 3;
}

static void read_fd_opts(lua_State *L, int idx, const char *fname, ml_chrom_fd_opts *o) {
    int64_t nx = o->nx;
    mlL_opts(L, idx, fname,
             (mlL_opt[]){{"nx", MLL_INT, &nx, NULL},
                         {"dt", MLL_NUMBER, &o->dt, NULL},
                         {"cfl", MLL_NUMBER, &o->cfl, NULL},
                         {"scheme", MLL_ENUM, &o->scheme, scheme_choices},
                         {"kinetics", MLL_ENUM, &o->kinetics, kinetics_choices},
                         {0}});
    if (nx < 4 || nx > 10000000) luaL_error(L, "%s: option 'nx' = %d, expected 4..1e7", fname, (int)nx);
    o->nx = (int)nx;
}

/* core.chrom_fd(col, t, opts) -> c_out tensor, profile tensor, seconds */
static int l_chrom_fd(lua_State *L) {
    const char *fname = "chrom.solve_fd";
    ml_tensor *t = mlL_checktensor(L, 2, fname, "t");
    ml_chrom_fd_opts o = ml_chrom_fd_defaults();
    read_fd_opts(L, 3, fname, &o);
    int64_t sh[1] = {o.nx};
    ml_tensor *out = mlL_newtensor(L, ML_F64, t->ndim, t->shape);
    int out_idx = lua_gettop(L);
    ml_tensor *prof = mlL_newtensor(L, ML_F64, 1, sh);
    ml_tensor *tt = mlL_newtensor(L, ML_F64, t->ndim, t->shape);
    ml_tensor_copy(tt, t);
    ml_chrom_params p;
    double *data;
    read_column(L, 1, fname, &p, &data);
    double t0 = omp_get_wtime();
    int rc = ml_chrom_fd(&p, &o, (size_t)t->numel, ml_f64(tt), ml_f64(out), ml_f64(prof));
    double el = omp_get_wtime() - t0;
    free(data);
    if (rc != ML_OK) return mlL_raise(L, fname);
    lua_pushvalue(L, out_idx);
    lua_pushvalue(L, out_idx + 1);
    lua_pushnumber(L, el);
    return 3;
}

/* core.chrom_fit(base, K, t, y, p, opts) -> p, se, resid, iters, ssr, seconds */
static int l_chrom_fit_or_model(lua_State *L, int model_only) {
    const char *fname = model_only ? "chrom.model" : "chrom.fit";
    lua_Integer K = luaL_checkinteger(L, 2);
    ml_tensor *t = mlL_checktensor(L, 3, fname, "t");
    ml_tensor *y = model_only ? NULL : mlL_checktensor(L, 4, fname, "signal");
    luaL_checktype(L, 5, LUA_TTABLE);
    if (K < 1 || K > 64) return mlL_argerror(L, 2, fname, "K", "expected 1..64 analytes, got %d", (int)K);
    ml_chrom_fit_problem pr;
    memset(&pr, 0, sizeof pr);
    pr.K = (int)K;
    pr.t_hold = 1;
    pr.fd = ml_chrom_fd_defaults();
    pr.inv = ml_laplace_defaults();
    pr.inv.method = ML_LAPLACE_DEHOOG;
    int64_t maxit = 100, M = 0, nx = pr.fd.nx;
    int method = ML_LAPLACE_DEHOOG;
    mlL_opts(L, 6, fname,
             (mlL_opt[]){{"fit_scale", MLL_BOOL, &pr.fit_scale, NULL},
                         {"fit_hold", MLL_BOOL, &pr.fit_hold, NULL},
                         {"t_hold", MLL_NUMBER, &pr.t_hold, NULL},
                         {"use_fd", MLL_BOOL, &pr.use_fd, NULL},
                         {"nx", MLL_INT, &nx, NULL},
                         {"scheme", MLL_ENUM, &pr.fd.scheme, scheme_choices},
                         {"max_iter", MLL_INT, &maxit, NULL},
                         {"tol", MLL_NUMBER, &pr.tol, NULL},
                         {"method", MLL_ENUM, &method, method_choices},
                         {"M", MLL_INT, &M, NULL},
                         {"A", MLL_SKIP, NULL, NULL},
                         {0}});
    pr.max_iter = (int)maxit;
    pr.inv.method = method;
    pr.inv.M = (int)M;
    pr.fd.nx = (int)nx;
    if (!(pr.t_hold > 0)) return luaL_error(L, "%s: option 't_hold' must be > 0", fname);
    int np = (int)K * (2 + (pr.fit_scale != 0)) + (pr.fit_hold != 0);
    if ((int)luaL_len(L, 5) != np)
        return mlL_argerror(L, 5, fname, "p", "expected %d initial parameters, got %d", np, (int)luaL_len(L, 5));
    size_t n = (size_t)t->numel;
    if (y && (size_t)y->numel != n)
        return mlL_argerror(L, 4, fname, "signal", "expected %zu values like t, got %lld", n, (long long)y->numel);
    ml_tensor *tt = mlL_newtensor(L, ML_F64, 1, (int64_t[]){(int64_t)n});
    ml_tensor_copy(tt, t);
    ml_tensor *yy = mlL_newtensor(L, ML_F64, 1, (int64_t[]){(int64_t)n});
    if (y) ml_tensor_copy(yy, y);
    ml_tensor *res = mlL_newtensor(L, ML_F64, 1, (int64_t[]){(int64_t)n});
    double pv[64 * 3 + 1], se[64 * 3 + 1], A[64];
    for (int i = 0; i < np; i++) {
        lua_rawgeti(L, 5, i + 1);
        if (lua_type(L, -1) != LUA_TNUMBER)
            return mlL_argerror(L, 5, fname, "p", "entry %d is %s, expected a number", i + 1, luaL_typename(L, -1));
        pv[i] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    for (int k = 0; k < K; k++) A[k] = 1;
    if (lua_istable(L, 6)) {
        lua_getfield(L, 6, "A");
        if (lua_istable(L, -1))
            for (int k = 0; k < K; k++) {
                lua_rawgeti(L, -1, k + 1);
                A[k] = luaL_optnumber(L, -1, 1.0);
                lua_pop(L, 1);
            }
        lua_pop(L, 1);
    }
    double *data;
    read_column(L, 1, fname, &pr.base, &data);
    pr.base.x = 1;
    double t0 = omp_get_wtime(), ssr = 0;
    int iters = 0, rc;
    if (model_only) rc = ml_chrom_model(&pr, A, pv, n, ml_f64(tt), ml_f64(res));
    else rc = ml_chrom_fit(&pr, A, n, ml_f64(tt), ml_f64(yy), pv, se, ml_f64(res), &iters, &ssr);
    double el = omp_get_wtime() - t0;
    free(data);
    if (rc != ML_OK) return mlL_raise(L, fname);
    if (model_only) return 1; /* res holds the model */
    lua_createtable(L, np, 0);
    for (int i = 0; i < np; i++) { lua_pushnumber(L, pv[i]); lua_rawseti(L, -2, i + 1); }
    lua_createtable(L, np, 0);
    for (int i = 0; i < np; i++) { lua_pushnumber(L, se[i]); lua_rawseti(L, -2, i + 1); }
    lua_pushvalue(L, -3); /* residuals */
    lua_pushinteger(L, iters);
    lua_pushnumber(L, ssr);
    lua_pushnumber(L, el);
    return 6;
}
static int l_chrom_fit(lua_State *L) { return l_chrom_fit_or_model(L, 0); }
static int l_chrom_model(lua_State *L) { return l_chrom_fit_or_model(L, 1); }

static int l_chrom_inlet(lua_State *L) {
    ml_chrom_params p;
    double *data;
    read_column(L, 1, "chrom.inlet", &p, &data);
    double v = ml_chrom_inlet(&p, luaL_checknumber(L, 2));
    free(data);
    lua_pushnumber(L, v);
    return 1;
}

static int l_chrom_tau(lua_State *L) {
    double P = luaL_checknumber(L, 1), x = luaL_checknumber(L, 2);
    lua_pushnumber(L, ml_chrom_tau(P, x));
    lua_pushnumber(L, ml_chrom_velocity(P, x));
    return 2;
}

#define CHROM_FUNCS                                                                     \
    {"chrom_transfer", l_chrom_transfer}, {"chrom_moments", l_chrom_moments},          \
        {"chrom_fd", l_chrom_fd}, {"chrom_fit", l_chrom_fit}, {"chrom_model", l_chrom_model}, \
        {"chrom_inlet", l_chrom_inlet}, {"chrom_tau", l_chrom_tau},

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
        lua_pushcfunction(L, lfn_has_quad);
        lua_setfield(L, -2, "has_quad");
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, funcs, 0);
}
