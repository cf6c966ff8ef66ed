/* Lua bindings of the chromatography column (moonlab.chrom): transfer functions as
 * C transforms, moments, the finite-volume solver, the fit and the model. The column
 * parameters arrive as a flat table built and validated by lua/moonlab/chrom.lua (never
 * reachable from user code); they are read raw and checked again here. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include "llaplace.h"
#include "moonlab/chrom.h"

static const char *const method_choices[] = {"talbot", "euler", "stehfest", "dehoog",
                                             "weeks", "fourier", NULL};
static const char *const inj_choices[] = {"pulse", "gaussian", "data", NULL};
static const char *const scheme_choices[] = {"upwind", "koren", "kappa3", NULL};
static const char *const kinetics_choices[] = {"auto", "split", "coupled", NULL};

/* Largest injection profile (points) accepted from a data table. */
#define INJ_MAX 10000000

/* Reads list entries 1..n of the table at idx as finite numbers into d. */
static void read_list(lua_State *L, int idx, const char *fname, const char *what, lua_Integer n,
                      double *d) {
    for (lua_Integer i = 1; i <= n; i++) {
        int ok;
        lua_rawgeti(L, idx, i);
        d[i - 1] = lua_tonumberx(L, -1, &ok);
        lua_pop(L, 1);
        if (!ok || !isfinite(d[i - 1]))
            mlL_error(L, "%s: injection %s[%lld] is not a finite number", fname, what, (long long)i);
    }
}

/* Column parameters from the flat table at idx; injection data are copied into a
 * userdata pushed on the stack (freed by the collector on any error) or, with data == NULL
 * allowed, nothing is pushed for the other kinds. Returns the number of values pushed (0/1). */
static int read_column(lua_State *L, int idx, const char *fname, ml_chrom_params *p) {
    idx = lua_absindex(L, idx);
    *p = ml_chrom_defaults();
    if (lua_type(L, idx) != LUA_TTABLE) mlL_argerror(L, 1, fname, "col", "expected a chrom.column");
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
    if (inj != ML_CHROM_DATA) return 0;
    lua_pushliteral(L, "inj_t");
    lua_rawget(L, idx);
    lua_pushliteral(L, "inj_c");
    lua_rawget(L, idx);
    if (lua_type(L, -2) != LUA_TTABLE || lua_type(L, -1) != LUA_TTABLE)
        mlL_error(L, "%s: injection data needs tables t and c", fname);
    lua_Integer n = (lua_Integer)lua_rawlen(L, -2);
    if (n != (lua_Integer)lua_rawlen(L, -1) || n < 2 || n > INJ_MAX)
        mlL_error(L, "%s: injection data t and c must have the same length in [2, %d], got %lld and %lld",
                  fname, INJ_MAX, (long long)n, (long long)lua_rawlen(L, -1));
    double *d = lua_newuserdatauv(L, sizeof(double) * 2 * (size_t)n, 0);
    read_list(L, -3, fname, "t", n, d);
    read_list(L, -2, fname, "c", n, d + n);
    lua_replace(L, -3); /* keep the data userdata, drop the tables */
    lua_pop(L, 1);
    p->inj_t = d;
    p->inj_c = d + n;
    p->inj_n = (size_t)n;
    return 1;
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
    chrom_owned *o = calloc(1, sizeof *o);
    if (!o) return mlL_error(L, "%s: out of memory", fname);
    /* push the userdata first so that __gc frees o on any later error */
    lfn_ud *u = mlL_lfn_push(L, (ml_laplace_fn){0}, o, chrom_owned_free, "chrom column");
    int top = lua_gettop(L);
    ml_chrom_params p;
    read_column(L, 1, fname, &p);
    o->p = p;
    if (p.injection == ML_CHROM_DATA) { /* copy out of the GC-owned scratch */
        o->data = malloc(sizeof(double) * 2 * p.inj_n);
        if (!o->data) return mlL_error(L, "%s: out of memory for %zu injection points", fname, p.inj_n);
        memcpy(o->data, p.inj_t, sizeof(double) * p.inj_n);
        memcpy(o->data + p.inj_n, p.inj_c, sizeof(double) * p.inj_n);
        o->p.inj_t = o->data;
        o->p.inj_c = o->data + p.inj_n;
    }
    lua_settop(L, top);
    o->p.x = x;
    o->p.output = ML_CHROM_G;
    if (ml_chrom_check(&o->p) != ML_OK) return mlL_raise(L, fname);
    u->fn = ml_chrom_transform(&o->p);
    snprintf(u->label, sizeof u->label, "chrom Da=%g kappa=%g x=%g", o->p.Da, o->p.kappa, x);
    return 1;
}

/* core.chrom_moments(col, x) -> mass, mean, var */
static int l_chrom_moments(lua_State *L) {
    const char *fname = "chrom.moments";
    ml_chrom_params p;
    read_column(L, 1, fname, &p);
    p.x = luaL_optnumber(L, 2, 1.0);
    double mass, mean, var;
    if (ml_chrom_moments(&p, &mass, &mean, &var) != ML_OK) return mlL_raise(L, fname);
    lua_pushnumber(L, mass);
    lua_pushnumber(L, mean);
    lua_pushnumber(L, var);
    return 3;
}

static void read_fd_opts(lua_State *L, int idx, const char *fname, ml_chrom_fd_opts *o,
                         int *quiet) {
    int64_t nx = o->nx;
    mlL_opts(L, idx, fname,
             (mlL_opt[]){{"nx", MLL_INT, &nx, NULL},
                         {"dt", MLL_NUMBER, &o->dt, NULL},
                         {"cfl", MLL_NUMBER, &o->cfl, NULL},
                         {"scheme", MLL_ENUM, &o->scheme, scheme_choices},
                         {"kinetics", MLL_ENUM, &o->kinetics, kinetics_choices},
                         {"max_work", MLL_NUMBER, &o->max_work, NULL},
                         {"quiet", MLL_BOOL, quiet, NULL},
                         {0}});
    if (nx < 4 || nx > 10000000)
        mlL_error(L, "%s: option 'nx' = %lld, expected 4..1e7", fname, (long long)nx);
    o->nx = (int)nx;
}

/* core.chrom_fd(col, t, opts) -> c_out tensor, profile tensor, seconds */
static int l_chrom_fd(lua_State *L) {
    const char *fname = "chrom.solve_fd";
    ml_tensor *t = mlL_checktensor(L, 2, fname, "t");
    ml_chrom_fd_opts o = ml_chrom_fd_defaults();
    int quiet = 0;
    read_fd_opts(L, 3, fname, &o, &quiet);
    ml_tensor *out = mlL_newtensor(L, ML_F64, t->ndim, t->shape);
    int out_idx = lua_gettop(L);
    ml_tensor *prof = mlL_newtensor(L, ML_F64, 1, (int64_t[]){o.nx});
    ml_tensor *tt = mlL_newtensor(L, ML_F64, t->ndim, t->shape);
    ml_tensor_copy(tt, t);
    ml_chrom_params p;
    read_column(L, 1, fname, &p);
    ml_progress *pg = mlL_long_begin(L, fname, quiet);
    o.progress = pg;
    double t0 = omp_get_wtime();
    int rc = ml_chrom_fd(&p, &o, (size_t)t->numel, ml_f64(tt), ml_f64(out), ml_f64(prof));
    double el = omp_get_wtime() - t0;
    mlL_long_end(L, pg);
    if (rc != ML_OK) return mlL_raise(L, fname);
    lua_pushvalue(L, out_idx);
    lua_pushvalue(L, out_idx + 1);
    lua_pushnumber(L, el);
    return 3;
}

/* core.chrom_outlet(col, t) -> tensor: the default outlet (series on uniform grids with a
 * Gaussian injection; else the closed-form impulse response without dispersion, de Hoog with it). */
static int l_chrom_outlet(lua_State *L) {
    const char *fname = "chrom.outlet";
    ml_tensor *t = mlL_checktensor(L, 2, fname, "t");
    double x = luaL_optnumber(L, 3, 1.0);
    ml_tensor *tt = mlL_newtensor(L, ML_F64, t->ndim, t->shape); /* our copy */
    ml_tensor_copy(tt, t);
    ml_tensor *out = mlL_newtensor(L, ML_F64, t->ndim, t->shape);
    int out_idx = lua_gettop(L);
    ml_chrom_params p;
    read_column(L, 1, fname, &p);
    p.x = x;
    if (ml_chrom_outlet(&p, (size_t)t->numel, ml_f64(tt), ml_f64(out)) != ML_OK) return mlL_raise(L, fname);
    lua_pushvalue(L, out_idx);
    return 1;
}

/* core.chrom_noise(y) -> sigma */
static int l_chrom_noise(lua_State *L) {
    ml_tensor *y = mlL_checktensor(L, 1, "chrom.fit", "signal");
    ml_tensor *yy = mlL_newtensor(L, ML_F64, y->ndim, y->shape);
    ml_tensor_copy(yy, y);
    double sg;
    if (ml_chrom_noise((size_t)yy->numel, ml_f64(yy), &sg) != ML_OK) return mlL_raise(L, "chrom.fit");
    lua_pushnumber(L, sg);
    return 1;
}

static const char *const stop_names[] = {"tolerance", "max_iters", "stalled"};

/* core.chrom_fit(base, K, t, y, p, opts) -> p, se, resid, info
 * core.chrom_model(base, K, t, nil, p, opts) -> model
 * Called by chrom.lua only, with validated arguments; checked again here. */
static int l_chrom_fit_or_model(lua_State *L, int model_only) {
    const char *fname = model_only ? "chrom.model" : "chrom.fit";
    int isint;
    lua_Integer K = lua_tointegerx(L, 2, &isint);
    if (!isint || K < 1 || K > ML_CHROM_FIT_KMAX)
        return mlL_argerror(L, 3, fname, "analytes", "expected 1..%d analytes", ML_CHROM_FIT_KMAX);
    ml_tensor *t = mlL_checktensor(L, 3, fname, "t");
    ml_tensor *y = model_only ? NULL : mlL_checktensor(L, 4, fname, "signal");
    if (lua_type(L, 5) != LUA_TTABLE) return mlL_argerror(L, 3, fname, "opts", "internal parameter list missing");
    ml_chrom_fit_problem pr;
    memset(&pr, 0, sizeof pr);
    pr.K = (int)K;
    pr.t_hold = 1;
    pr.fd = ml_chrom_fd_defaults();
    pr.inv = ml_laplace_defaults();
    int64_t maxit = 100, M = 0, nx = pr.fd.nx;
    int method = -1, quiet = 0;
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
                         {"quiet", MLL_BOOL, &quiet, NULL},
                         {0}});
    if (maxit < 1 || maxit > 100000)
        return mlL_error(L, "%s: option 'max_iter' = %lld, expected 1..100000", fname, (long long)maxit);
    if (nx < 4 || nx > 10000000)
        return mlL_error(L, "%s: option 'nx' = %lld, expected 4..1e7", fname, (long long)nx);
    int lo, hi;
    ml_laplace_order_range(method < 0 ? ML_LAPLACE_DEHOOG : method, &lo, &hi);
    if (M != 0 && (M < lo || M > hi))
        return mlL_error(L, "%s: option 'M' = %lld, expected %d..%d", fname, (long long)M, lo, hi);
    pr.max_iter = (int)maxit;
    pr.series = method < 0; /* automatic: Fourier series on uniform grids, else de Hoog */
    pr.inv.method = method < 0 ? ML_LAPLACE_DEHOOG : method;
    pr.inv.M = (int)M;
    pr.fd.nx = (int)nx;
    if (!(pr.t_hold > 0) || !isfinite(pr.t_hold))
        return mlL_error(L, "%s: option 't_hold' = %g, expected a finite number > 0", fname, pr.t_hold);
    if (!(pr.tol >= 0 && pr.tol < 1))
        return mlL_error(L, "%s: option 'tol' = %g, expected 0 <= tol < 1", fname, pr.tol);
    int np = (int)K * (2 + (pr.fit_scale != 0)) + (pr.fit_hold != 0);
    if ((lua_Integer)lua_rawlen(L, 5) != np)
        return mlL_argerror(L, 3, fname, "analytes", "expected %d initial parameters, got %lld", np,
                            (long long)lua_rawlen(L, 5));
    size_t n = (size_t)t->numel;
    if (y && (size_t)y->numel != n)
        return mlL_argerror(L, 2, fname, "signal", "expected %zu values like t, got %lld", n, (long long)y->numel);
    /* our own copies: nothing the caller holds is read during the call */
    ml_tensor *tt = mlL_newtensor(L, ML_F64, 1, (int64_t[]){(int64_t)n});
    ml_tensor_copy(tt, t);
    ml_tensor *yy = mlL_newtensor(L, ML_F64, 1, (int64_t[]){(int64_t)n});
    if (y) ml_tensor_copy(yy, y);
    ml_tensor *res = mlL_newtensor(L, ML_F64, 1, (int64_t[]){(int64_t)n});
    int res_idx = lua_gettop(L);
    double pv[ML_CHROM_FIT_KMAX * 3 + 1], se[ML_CHROM_FIT_KMAX * 3 + 1], A[ML_CHROM_FIT_KMAX];
    for (int i = 0; i < np; i++) {
        int ok;
        lua_rawgeti(L, 5, i + 1);
        pv[i] = lua_tonumberx(L, -1, &ok);
        lua_pop(L, 1);
        if (!ok || !isfinite(pv[i]))
            return mlL_argerror(L, 3, fname, "analytes", "initial parameter %d is not a finite number", i + 1);
    }
    for (int k = 0; k < K; k++) A[k] = 1;
    if (lua_type(L, 6) == LUA_TTABLE) {
        lua_pushliteral(L, "A");
        lua_rawget(L, 6);
        if (lua_type(L, -1) == LUA_TTABLE)
            for (int k = 0; k < K; k++) {
                int ok;
                lua_rawgeti(L, -1, k + 1);
                double a = lua_tonumberx(L, -1, &ok);
                if (ok) A[k] = a;
                lua_pop(L, 1);
                if (!ok || !isfinite(A[k]))
                    return mlL_argerror(L, 3, fname, "analytes", "analyte %d: 'A' is not a finite number", k + 1);
            }
        lua_pop(L, 1);
    }
    read_column(L, 1, fname, &pr.base);
    pr.base.x = 1;
    ml_progress *pg = mlL_long_begin(L, fname, quiet);
    pr.progress = pg;
    double t0 = omp_get_wtime();
    ml_chrom_fit_info info;
    memset(&info, 0, sizeof info);
    int rc;
    if (model_only) rc = ml_chrom_model(&pr, A, pv, n, ml_f64(tt), ml_f64(res));
    else rc = ml_chrom_fit(&pr, A, n, ml_f64(tt), ml_f64(yy), pv, se, ml_f64(res), &info);
    double el = omp_get_wtime() - t0;
    mlL_long_end(L, pg);
    if (rc != ML_OK) return mlL_raise(L, fname);
    lua_pushvalue(L, res_idx);
    if (model_only) return 1; /* res holds the model */
    lua_createtable(L, np, 0);
    for (int i = 0; i < np; i++) { lua_pushnumber(L, pv[i]); lua_rawseti(L, -2, i + 1); }
    lua_createtable(L, np, 0);
    for (int i = 0; i < np; i++) { lua_pushnumber(L, se[i]); lua_rawseti(L, -2, i + 1); }
    lua_pushvalue(L, res_idx);
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, info.iterations);
    lua_setfield(L, -2, "iterations");
    lua_pushnumber(L, info.ssr);
    lua_setfield(L, -2, "ssr");
    lua_pushboolean(L, info.converged);
    lua_setfield(L, -2, "converged");
    lua_pushstring(L, stop_names[info.reason]);
    lua_setfield(L, -2, "reason");
    lua_pushstring(L, info.series ? "series" : (pr.use_fd ? "fd" : ml_laplace_method_name(pr.inv.method)));
    lua_setfield(L, -2, "model_method");
    lua_pushnumber(L, el);
    lua_setfield(L, -2, "seconds");
    return 4;
}
static int l_chrom_fit(lua_State *L) { return l_chrom_fit_or_model(L, 0); }
static int l_chrom_model(lua_State *L) { return l_chrom_fit_or_model(L, 1); }

static int l_chrom_inlet(lua_State *L) {
    ml_chrom_params p;
    read_column(L, 1, "chrom.inlet", &p);
    if (lua_type(L, 2) != LUA_TNUMBER)
        return mlL_argerror(L, 1, "chrom.inlet", "t", "expected a number, got %s", luaL_typename(L, 2));
    lua_pushnumber(L, ml_chrom_inlet(&p, lua_tonumber(L, 2)));
    return 1;
}

/* core.chrom_i1e(x) -> e^{-|x|} I1(x) (internal: the specs check it against SciPy and identities) */
static int l_chrom_i1e(lua_State *L) {
    if (lua_type(L, 1) != LUA_TNUMBER)
        return mlL_argerror(L, 1, "chrom.i1e", "x", "expected a number, got %s", luaL_typename(L, 1));
    lua_pushnumber(L, ml_chrom_i1e(lua_tonumber(L, 1)));
    return 1;
}

void mlL_chrom_funcs(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"chrom_transfer", l_chrom_transfer}, {"chrom_moments", l_chrom_moments},
        {"chrom_fd", l_chrom_fd},             {"chrom_fit", l_chrom_fit},
        {"chrom_model", l_chrom_model},       {"chrom_inlet", l_chrom_inlet},
        {"chrom_outlet", l_chrom_outlet},     {"chrom_noise", l_chrom_noise},
        {"chrom_i1e", l_chrom_i1e},
        {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
}
