/* The GP regression object as userdata (moonlab.GP): fit, add, lml, predict, optimize. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lgp.h"

typedef struct { ml_gp *g; int D; } gp_ud;

static gp_ud *checkgp(lua_State *L, const char *fname)
{
    gp_ud *u = luaL_checkudata(L, 1, LGP_GP_MT);
    if (!u->g) mlL_error(L, "%s: the GP was closed", fname);
    return u;
}

/* core.gp_new(kernel, D, noise, mean) */
static int l_new(lua_State *L)
{
    const char *fname = "gp.GP";
    ml_gp_kernel *k = lgp_checkkernel(L, 1, fname);
    lua_Integer D = luaL_checkinteger(L, 2);
    double noise = luaL_checknumber(L, 3);
    int mean = lua_toboolean(L, 4) ? ML_GP_MEAN_CONSTANT : ML_GP_MEAN_ZERO;
    if (D < 1 || D > 1000000) return mlL_argerror(L, 2, fname, "D", "expected 1..1e6 dimensions, got %lld", (long long)D);
    if (!(noise >= 0) || !isfinite(noise)) return mlL_argerror(L, 1, fname, "noise", "expected a finite number >= 0, got %g", noise);
    gp_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->g = NULL;
    luaL_setmetatable(L, LGP_GP_MT);
    u->g = ml_gp_new(k, (int)D, noise, mean);
    if (!u->g) return mlL_error(L, "%s: %s", fname, ml_errmsg());
    u->D = (int)D;
    return 1;
}

static int g_gc(lua_State *L)
{
    gp_ud *u = luaL_checkudata(L, 1, LGP_GP_MT);
    ml_gp_free(u->g);
    u->g = NULL;
    return 0;
}

static int fit_or_add(lua_State *L, int add)
{
    const char *fname = add ? "gp.GP:add" : "gp.GP:fit";
    gp_ud *u = checkgp(L, fname);
    int64_t n, D, ne, one, ng, Dg;
    const double *X = lgp_tensor(L, 2, fname, "X", 2, &n, &D, u->D);
    ml_tensor *te = mlL_testtensor(L, 3);
    if (!te || te->ndim != 1) return mlL_argerror(L, 3, fname, "E", "expected a [n] tensor of energies");
    const double *E = lgp_tensor(L, 3, fname, "E", 1, &one, &ne, 0);
    if (ne != n) return mlL_argerror(L, 3, fname, "E", "expected %lld energies (one per row of X), got %lld", (long long)n, (long long)ne);
    const double *G = NULL;
    if (!lua_isnoneornil(L, 4)) {
        G = lgp_tensor(L, 4, fname, "G", 2, &ng, &Dg, D);
        if (ng != n) return mlL_argerror(L, 4, fname, "G", "expected [%lld,%lld] gradients, got %lld rows", (long long)n, (long long)D, (long long)ng);
    }
    int rc = add ? ml_gp_add(u->g, n, X, E, G) : ml_gp_fit(u->g, n, X, E, G);
    if (rc) return mlL_raise(L, fname);
    lua_settop(L, 1);
    return 1;
}
static int g_fit(lua_State *L) { return fit_or_add(L, 0); }
static int g_add(lua_State *L) { return fit_or_add(L, 1); }

static int g_lml(lua_State *L)
{
    const char *fname = "gp.GP:lml";
    gp_ud *u = checkgp(L, fname);
    int want = lua_toboolean(L, 2);
    int np = ml_gpk_nparams(ml_gp_kernel_of(u->g));
    double *gr = lua_newuserdatauv(L, (size_t)(np + 1) * sizeof *gr, 0);
    double v;
    if (ml_gp_lml(u->g, &v, want ? gr : NULL)) return mlL_raise(L, fname);
    lua_pushnumber(L, v);
    if (!want) return 1;
    lua_createtable(L, np, 0);
    for (int p = 0; p < np; p++) lua_pushnumber(L, gr[p]), lua_rawseti(L, -2, p + 1);
    return 2;
}

/* gp:predict_raw(Xs, var, grad) -> E, Evar|nil, G|nil, Gvar|nil */
static int g_predict(lua_State *L)
{
    const char *fname = "gp.GP:predict";
    gp_ud *u = checkgp(L, fname);
    int64_t m, D;
    const double *Xs = lgp_tensor(L, 2, fname, "Xs", 2, &m, &D, u->D);
    int var = lua_toboolean(L, 3), grad = lua_toboolean(L, 4);
    int top = lua_gettop(L);
    ml_tensor *E = mlL_newtensor(L, ML_F64, 1, (int64_t[]){m});
    ml_tensor *Ev = var ? mlL_newtensor(L, ML_F64, 1, (int64_t[]){m}) : NULL;
    ml_tensor *G = grad ? mlL_newtensor(L, ML_F64, 2, (int64_t[]){m, D}) : NULL;
    ml_tensor *Gv = (grad && var) ? mlL_newtensor(L, ML_F64, 2, (int64_t[]){m, D}) : NULL;
    if (ml_gp_predict(u->g, m, Xs, ml_f64(E), Ev ? ml_f64(Ev) : NULL, G ? ml_f64(G) : NULL, Gv ? ml_f64(Gv) : NULL))
        return mlL_raise(L, fname);
    int k = top + 1;
    lua_pushvalue(L, k++);
    if (Ev) lua_pushvalue(L, k++); else lua_pushnil(L);
    if (G) lua_pushvalue(L, k++); else lua_pushnil(L);
    if (Gv) lua_pushvalue(L, k++); else lua_pushnil(L);
    return 4;
}

void lgp_read_prior(lua_State *L, int idx, const char *fname, ml_gp_prior *pr);
void lgp_read_prior(lua_State *L, int idx, const char *fname, ml_gp_prior *pr)
{
    mlL_opts(L, idx, fname, (mlL_opt[]){{"use", MLL_BOOL, &pr->use, NULL}, {"mag_nu", MLL_NUMBER, &pr->mag_nu, NULL},
                                        {"mag_mu", MLL_NUMBER, &pr->mag_mu, NULL},
                                        {"mag_scale", MLL_NUMBER, &pr->mag_scale, NULL},
                                        {"len_mu", MLL_NUMBER, &pr->len_mu, NULL},
                                        {"len_scale", MLL_NUMBER, &pr->len_scale, NULL}, {0}});
}

static void push_opt_result(lua_State *L, const ml_gp_opt_result *r)
{
    lua_createtable(L, 0, 6);
    lua_pushnumber(L, r->objective), lua_setfield(L, -2, "objective");
    lua_pushnumber(L, r->lml), lua_setfield(L, -2, "lml");
    lua_pushinteger(L, r->iterations), lua_setfield(L, -2, "iterations");
    lua_pushboolean(L, r->converged), lua_setfield(L, -2, "converged");
    lua_pushstring(L, r->reason), lua_setfield(L, -2, "reason");
}

/* gp:optimize_raw({maxit, restarts, seed, xtol, bound}, prior) -> result */
static int g_optimize(lua_State *L)
{
    const char *fname = "gp.GP:optimize";
    gp_ud *u = checkgp(L, fname);
    ml_gp_opt_opts o = ml_gp_opt_defaults();
    int64_t maxit = o.maxit, restarts = 0, seed = 0;
    mlL_opts(L, 2, fname, (mlL_opt[]){{"maxit", MLL_INT, &maxit, NULL}, {"restarts", MLL_INT, &restarts, NULL},
                                      {"seed", MLL_INT, &seed, NULL}, {"xtol", MLL_NUMBER, &o.xtol, NULL},
                                      {"bound", MLL_NUMBER, &o.bound, NULL}, {0}});
    if (maxit < 1 || maxit > 1000000) return mlL_argerror(L, 2, fname, "maxit", "expected 1..1e6, got %lld", (long long)maxit);
    if (restarts < 0 || restarts > 1000) return mlL_argerror(L, 2, fname, "restarts", "expected 0..1000, got %lld", (long long)restarts);
    if (!(o.bound > 0)) return mlL_argerror(L, 2, fname, "bound", "expected > 0, got %g", o.bound);
    lgp_read_prior(L, 3, fname, &o.prior);
    o.maxit = (int)maxit, o.restarts = (int)restarts, o.seed = (uint64_t)seed;
    ml_gp_opt_result r;
    ml_progress *pg = mlL_long_begin(L, fname, lua_toboolean(L, 4));
    o.progress = pg;
    int rc = ml_gp_optimize(u->g, &o, &r);
    mlL_long_end(L, pg);
    if (rc) return mlL_raise(L, fname);
    push_opt_result(L, &r);
    return 1;
}

static int g_kernel(lua_State *L)
{
    gp_ud *u = checkgp(L, "gp.GP:kernel");
    lgp_pushkernel(L, ml_gpk_clone(ml_gp_kernel_of(u->g)), "gp.GP:kernel");
    return 1;
}

/* gp:set_params_raw(theta): new hyperparameters, refactored when fitted. */
static int g_set_params(lua_State *L)
{
    const char *fname = "gp.GP:set_params";
    gp_ud *u = checkgp(L, fname);
    ml_gp_kernel *k = ml_gp_kernel_of(u->g);
    int np = ml_gpk_nparams(k);
    luaL_checktype(L, 2, LUA_TTABLE);
    if (luaL_len(L, 2) != np) return mlL_argerror(L, 2, fname, "theta", "expected %d log-parameters, got %d", np, (int)luaL_len(L, 2));
    double *th = lua_newuserdatauv(L, (size_t)(np + 1) * sizeof *th, 0);
    for (int p = 0; p < np; p++) {
        lua_geti(L, 2, p + 1);
        int ok;
        th[p] = lua_tonumberx(L, -1, &ok);
        if (!ok) return mlL_argerror(L, 2, fname, "theta", "element %d is not a number", p + 1);
        lua_pop(L, 1);
    }
    if (ml_gpk_set_params(k, th)) return mlL_argerror(L, 2, fname, "theta", "%s", ml_errmsg());
    if (ml_gp_refit(u->g)) return mlL_raise(L, fname);
    lua_settop(L, 1);
    return 1;
}

static int g_info(lua_State *L)
{
    gp_ud *u = checkgp(L, "gp.GP:info");
    lua_createtable(L, 0, 10);
    lua_pushinteger(L, ml_gp_npoints(u->g)), lua_setfield(L, -2, "n");
    lua_pushinteger(L, u->D), lua_setfield(L, -2, "D");
    lua_pushnumber(L, ml_gp_jitter(u->g)), lua_setfield(L, -2, "jitter");
    lua_pushboolean(L, ml_gp_has_gradients(u->g)), lua_setfield(L, -2, "gradients");
    lua_pushnumber(L, ml_gp_mean_value(u->g)), lua_setfield(L, -2, "mean");
    double ta, tc;
    ml_gp_timing(u->g, &ta, &tc);
    lua_pushnumber(L, ta), lua_setfield(L, -2, "seconds_assembly");
    lua_pushnumber(L, tc), lua_setfield(L, -2, "seconds_cholesky");
    ml_gp_lml_timing(u->g, &ta, &tc);
    lua_pushnumber(L, ta), lua_setfield(L, -2, "seconds_inverse");
    lua_pushnumber(L, tc), lua_setfield(L, -2, "seconds_contraction");
    lua_pushboolean(L, ml_gp_fast_path(u->g)), lua_setfield(L, -2, "fast_path");
    return 1;
}

/* core.gp_bench_cholesky(n, seed) -> seconds of one dpotrf on a random SPD matrix */
static int l_bench_chol(lua_State *L)
{
    double s;
    if (ml_gp_bench_cholesky(luaL_checkinteger(L, 1), (uint64_t)luaL_optinteger(L, 2, 1), &s))
        return mlL_raise(L, "gp.bench_cholesky");
    lua_pushnumber(L, s);
    return 1;
}

void lgp_open_model(lua_State *L)
{
    static const luaL_Reg meta[] = {{"__gc", g_gc}, {"__close", g_gc}, {NULL, NULL}};
    static const luaL_Reg methods[] = {{"fit", g_fit}, {"add", g_add}, {"lml", g_lml}, {"predict_raw", g_predict},
                                       {"optimize_raw", g_optimize}, {"kernel", g_kernel},
                                       {"set_params_raw", g_set_params}, {"info", g_info}, {NULL, NULL}};
    luaL_newmetatable(L, LGP_GP_MT);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_new);
    lua_setfield(L, -2, "gp_new");
    lua_pushcfunction(L, l_bench_chol);
    lua_setfield(L, -2, "gp_bench_cholesky");
}
