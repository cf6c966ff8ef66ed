/* Saddle searches and helpers on potentials: dimer, GPR-dimer, Hessian, minimisation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lgp.h"

void lgp_read_prior(lua_State *L, int idx, const char *fname, ml_gp_prior *pr);

typedef struct {
    int D;
    int64_t n, cap;
    double *xs, *es;
    int oom;
} path_buf;

static void path_add(void *ud, const double *x, double E)
{
    path_buf *p = ud;
    if (p->oom) return;
    if (p->n == p->cap) {
        int64_t nc = p->cap ? 2 * p->cap : 64;
        double *a = realloc(p->xs, (size_t)(nc * p->D) * sizeof *a), *b;
        if (!a) { p->oom = 1; return; }
        p->xs = a;
        b = realloc(p->es, (size_t)nc * sizeof *b);
        if (!b) { p->oom = 1; return; }
        p->es = b;
        p->cap = nc;
    }
    memcpy(p->xs + p->n * p->D, x, (size_t)p->D * sizeof *x);
    p->es[p->n++] = E;
}

/* Pushes path as {x = [k,D], energy = [k]} and frees it. */
static void push_path(lua_State *L, path_buf *p)
{
    int64_t k = p->n ? p->n : 0;
    lua_createtable(L, 0, 2);
    if (k) {
        ml_tensor *x = mlL_newtensor(L, ML_F64, 2, (int64_t[]){k, p->D});
        memcpy(ml_f64(x), p->xs, (size_t)(k * p->D) * sizeof(double));
        lua_setfield(L, -2, "x");
        ml_tensor *e = mlL_newtensor(L, ML_F64, 1, &k);
        memcpy(ml_f64(e), p->es, (size_t)k * sizeof(double));
        lua_setfield(L, -2, "energy");
    }
}

/* opts.quiet (the progress bar), read without popping anything the caller keeps. */
static int quiet_of(lua_State *L, int idx)
{
    if (!lua_istable(L, idx)) return 0;
    lua_getfield(L, idx, "quiet");
    int q = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return q;
}

static void read_dimer_opts(lua_State *L, int idx, const char *fname, ml_gp_dimer_opts *o, const lgp_pot *u,
                            const mlL_opt *extra, int nextra)
{
    int rigid = -1;
    int64_t max_rot = o->max_rot, memory = o->memory, maxit = o->maxit, max_calls = o->max_calls;
    mlL_opt base[] = {{"delta", MLL_NUMBER, &o->delta, NULL}, {"gtol", MLL_NUMBER, &o->gtol, NULL},
                      {"max_rot", MLL_INT, &max_rot, NULL}, {"rot_tol", MLL_NUMBER, &o->rot_tol, NULL},
                      {"memory", MLL_INT, &memory, NULL}, {"max_step", MLL_NUMBER, &o->max_step, NULL},
                      {"convex_step", MLL_NUMBER, &o->convex_step, NULL},
                      {"lbfgs_init", MLL_NUMBER, &o->lbfgs_init, NULL}, {"maxit", MLL_INT, &maxit, NULL},
                      {"max_calls", MLL_INT, &max_calls, NULL}, {"rigid", MLL_BOOL, &rigid, NULL},
                      {"quiet", MLL_SKIP, NULL, NULL}};
    int nb = (int)(sizeof base / sizeof base[0]);
    mlL_opt all[48];
    memcpy(all, base, sizeof base);
    for (int i = 0; i < nextra; i++) all[nb + i] = extra[i];
    memset(&all[nb + nextra], 0, sizeof all[0]);
    mlL_opts(L, idx, fname, all);
    if (max_rot < 1 || max_rot > 1000) mlL_argerror(L, idx, fname, "max_rot", "expected 1..1000, got %lld", (long long)max_rot);
    if (memory < 1 || memory > 1000) mlL_argerror(L, idx, fname, "memory", "expected 1..1000, got %lld", (long long)memory);
    if (maxit < 1 || maxit > 100000000) mlL_argerror(L, idx, fname, "maxit", "expected >= 1, got %lld", (long long)maxit);
    if (max_calls < 0 || max_calls > 100000000) mlL_argerror(L, idx, fname, "max_calls", "expected >= 0, got %lld", (long long)max_calls);
    const struct { const char *n; double v; } pos[] = {{"delta", o->delta}, {"gtol", o->gtol}, {"rot_tol", o->rot_tol},
        {"max_step", o->max_step}, {"convex_step", o->convex_step}, {"lbfgs_init", o->lbfgs_init}};
    for (int i = 0; i < 6; i++)
        if (!(pos[i].v > 0) || !isfinite(pos[i].v))
            mlL_argerror(L, idx, fname, pos[i].n, "expected a finite number > 0, got %g", pos[i].v);
    o->max_rot = (int)max_rot, o->memory = (int)memory, o->maxit = (int)maxit, o->max_calls = (int)max_calls;
    o->rigid = rigid < 0 ? u->p.rigid : rigid;
    if (o->rigid && !u->p.natoms) mlL_argerror(L, idx, fname, "rigid", "needs a potential with atoms");
}

/* Copies x0 and mode0 into fresh tensors (pushed: the results). */
static void start_vectors(lua_State *L, const char *fname, lgp_pot *u, int xi, int mi, double **x, double **mode)
{
    int64_t r, D = u->p.dim, c;
    const double *x0 = lgp_tensor(L, xi, fname, "x0", 1, &r, &c, D);
    const double *m0 = lgp_tensor(L, mi, fname, "mode0", 1, &r, &c, D);
    double mn = 0;
    for (int i = 0; i < D; i++) {
        if (!isfinite(x0[i])) mlL_argerror(L, xi, fname, "x0", "element %d is not finite", i + 1);
        if (!isfinite(m0[i])) mlL_argerror(L, mi, fname, "mode0", "element %d is not finite", i + 1);
        mn += m0[i] * m0[i];
    }
    if (!(mn > 0)) mlL_argerror(L, mi, fname, "mode0", "expected a non-zero initial mode");
    ml_tensor *tx = mlL_newtensor(L, ML_F64, 1, &D);
    memcpy(ml_f64(tx), x0, (size_t)D * sizeof(double));
    ml_tensor *tm = mlL_newtensor(L, ML_F64, 1, &D);
    memcpy(ml_f64(tm), m0, (size_t)D * sizeof(double));
    *x = ml_f64(tx), *mode = ml_f64(tm);
}

/* The end of a dimer run: raises fname's error for rc != ML_OK or a path that ran out of memory, else pushes the
 * result table (x and mode: the tensors at xi and mi); frees the path either way. */
static void push_dimer_result(lua_State *L, const char *fname, lgp_pot *u, int rc, int xi, int mi,
                              const ml_gp_dimer_result *r, path_buf *pb)
{
    if (rc || pb->oom) {
        free(pb->xs), free(pb->es);
        if (!rc) mlL_error(L, "%s: out of memory for the path", fname);
        lgp_raise(L, fname, u, rc);
    }
    lua_createtable(L, 0, 12);
    lua_pushvalue(L, xi), lua_setfield(L, -2, "x");
    lua_pushvalue(L, mi), lua_setfield(L, -2, "mode");
    lua_pushnumber(L, r->energy), lua_setfield(L, -2, "energy");
    lua_pushnumber(L, r->curvature), lua_setfield(L, -2, "curvature");
    lua_pushinteger(L, r->calls), lua_setfield(L, -2, "calls");
    lua_pushboolean(L, r->converged), lua_setfield(L, -2, "converged");
    lua_pushstring(L, r->reason), lua_setfield(L, -2, "reason");
    lua_pushinteger(L, r->iterations), lua_setfield(L, -2, "iterations");
    push_path(L, pb);
    lua_setfield(L, -2, "path");
    free(pb->xs), free(pb->es);
}

/* core.gp_dimer(pot, x0, mode0, opts) */
static int l_dimer(lua_State *L)
{
    const char *fname = "gp.dimer";
    lgp_pot *u = lgp_checkpot(L, 1, fname);
    ml_gp_dimer_opts o = ml_gp_dimer_defaults();
    read_dimer_opts(L, 4, fname, &o, u, NULL, 0);
    double *x, *mode;
    start_vectors(L, fname, u, 2, 3, &x, &mode);
    int xi = lua_gettop(L) - 1, mi = lua_gettop(L);
    lgp_pot_arm(L, u, 1);
    path_buf pb = {.D = u->p.dim};
    ml_gp_dimer_result r;
    ml_progress *pg = mlL_long_begin(L, fname, quiet_of(L, 4));
    o.progress = pg;
    int rc = ml_gp_dimer(&u->p, x, mode, &o, &r, path_add, &pb);
    mlL_long_end(L, pg);
    push_dimer_result(L, fname, u, rc, xi, mi, &r, &pb);
    return 1;
}

/* core.gp_gpr_dimer(pot, kernel, x0, mode0, opts, prior) */
static int l_gpr_dimer(lua_State *L)
{
    const char *fname = "gp.gpr_dimer";
    lgp_pot *u = lgp_checkpot(L, 1, fname);
    ml_gp_kernel *k = lgp_checkkernel(L, 2, fname);
    ml_gp_gpr_opts o = ml_gp_gpr_defaults();
    int64_t max_outer = o.max_outer, inner = o.inner_maxit, hmax = o.hyper.maxit, restarts = 0, seed = 0,
            hevery = o.hyper_every, hpoints = o.hyper_points, init_rot = o.init_rot;
    int anchor = o.anchor_prior, tadapt = o.trust_adapt, reject = o.reject, hselect = o.hyper_select;
    static const char *const hselects[] = {"latest", "fps", NULL}; /* ML_GP_HYPER_LATEST, ML_GP_HYPER_FPS */
    mlL_opt extra[] = {{"noise", MLL_NUMBER, &o.noise, NULL}, {"max_outer", MLL_INT, &max_outer, NULL},
                       {"trust_radius", MLL_NUMBER, &o.trust_radius, NULL},
                       {"ratio_lo", MLL_NUMBER, &o.ratio_lo, NULL}, {"ratio_hi", MLL_NUMBER, &o.ratio_hi, NULL},
                       {"inner_maxit", MLL_INT, &inner, NULL}, {"hyper_maxit", MLL_INT, &hmax, NULL},
                       {"restarts", MLL_INT, &restarts, NULL}, {"seed", MLL_INT, &seed, NULL},
                       {"hyper_every", MLL_INT, &hevery, NULL}, {"hyper_points", MLL_INT, &hpoints, NULL},
                       {"hyper_select", MLL_ENUM, &hselect, hselects},
                       {"anchor_prior", MLL_BOOL, &anchor, NULL}, {"init_rot", MLL_INT, &init_rot, NULL},
                       {"init_rot_tol", MLL_NUMBER, &o.init_rot_tol, NULL},
                       {"trust_adapt", MLL_BOOL, &tadapt, NULL}, {"reject", MLL_BOOL, &reject, NULL},
                       {"reject_tol", MLL_NUMBER, &o.reject_tol, NULL},
                       {"length_floor", MLL_NUMBER, &o.length_floor, NULL},
                       {"kernel", MLL_SKIP, NULL, NULL}, {"prior", MLL_SKIP, NULL, NULL}};
    read_dimer_opts(L, 5, fname, &o.dimer, u, extra, (int)(sizeof extra / sizeof extra[0]));
    if (max_outer < 1 || max_outer > 1000000) return mlL_argerror(L, 5, fname, "max_outer", "expected >= 1, got %lld", (long long)max_outer);
    if (inner < 1 || inner > 1000000) return mlL_argerror(L, 5, fname, "inner_maxit", "expected >= 1, got %lld", (long long)inner);
    if (hmax < 1 || hmax > 1000000) return mlL_argerror(L, 5, fname, "hyper_maxit", "expected >= 1, got %lld", (long long)hmax);
    if (hevery < 1 || hevery > 1000000) return mlL_argerror(L, 5, fname, "hyper_every", "expected >= 1, got %lld", (long long)hevery);
    if (hpoints < 0 || hpoints > 1000000) return mlL_argerror(L, 5, fname, "hyper_points", "expected >= 0, got %lld", (long long)hpoints);
    if (init_rot < 0 || init_rot > 1000000) return mlL_argerror(L, 5, fname, "init_rot", "expected >= 0, got %lld", (long long)init_rot);
    if (!(o.init_rot_tol > 0) || !isfinite(o.init_rot_tol))
        return mlL_argerror(L, 5, fname, "init_rot_tol", "expected a finite angle > 0 (radians), got %g", o.init_rot_tol);
    if (restarts < 0 || restarts > 100) return mlL_argerror(L, 5, fname, "restarts", "expected 0..100, got %lld", (long long)restarts);
    if (!(o.noise >= 0) || !isfinite(o.noise)) return mlL_argerror(L, 5, fname, "noise", "expected a finite number >= 0");
    if (!(o.trust_radius > 0)) return mlL_argerror(L, 5, fname, "trust_radius", "expected > 0, got %g", o.trust_radius);
    if (!(o.ratio_lo > 0 && o.ratio_lo < 1 && o.ratio_hi > 1))
        return mlL_argerror(L, 5, fname, "ratio_lo", "expected 0 < ratio_lo < 1 < ratio_hi");
    o.max_outer = (int)max_outer, o.inner_maxit = (int)inner, o.hyper.maxit = (int)hmax;
    o.hyper.restarts = (int)restarts, o.hyper.seed = (uint64_t)seed;
    o.hyper_every = (int)hevery, o.hyper_points = (int)hpoints, o.hyper_select = hselect, o.anchor_prior = anchor;
    o.init_rot = (int)init_rot, o.trust_adapt = tadapt, o.reject = reject;
    if (o.length_floor != -1 && (!(o.length_floor >= 0) || !(o.length_floor < 1e6)))
        return mlL_argerror(L, 5, fname, "length_floor", "expected a finite number >= 0, got %g", o.length_floor);
    if (!(o.reject_tol > 0) || !isfinite(o.reject_tol))
        return mlL_argerror(L, 5, fname, "reject_tol", "expected a finite number > 0, got %g", o.reject_tol);
    lgp_read_prior(L, 6, fname, &o.hyper.prior);
    if (ml_gpk_dim(k) && ml_gpk_dim(k) != u->p.dim)
        return mlL_argerror(L, 2, fname, "kernel", "kernel needs %d coordinates, the potential has %d", ml_gpk_dim(k), u->p.dim);
    double *x, *mode;
    start_vectors(L, fname, u, 3, 4, &x, &mode);
    int xi = lua_gettop(L) - 1, mi = lua_gettop(L);
    lgp_pot_arm(L, u, 1);
    path_buf pb = {.D = u->p.dim};
    ml_gp_gpr_result r;
    ml_progress *pg = mlL_long_begin(L, fname, quiet_of(L, 5));
    o.dimer.progress = pg;
    o.hyper.progress = pg;
    int rc = ml_gp_gpr_dimer(&u->p, k, x, mode, &o, &r, path_add, &pb);
    mlL_long_end(L, pg);
    push_dimer_result(L, fname, u, rc, xi, mi, &r.d, &pb);
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, r.t_fit), lua_setfield(L, -2, "fit");
    lua_pushnumber(L, r.t_hyper), lua_setfield(L, -2, "hyper");
    lua_pushnumber(L, r.t_dimer), lua_setfield(L, -2, "dimer");
    lua_setfield(L, -2, "seconds");
    lua_pushinteger(L, r.hyper_failures), lua_setfield(L, -2, "hyper_failures");
    return 1;
}

/* core.gp_hessian(pot, x, h, rigid) -> H, evals, vecs */
static int l_hessian(lua_State *L)
{
    const char *fname = "gp.hessian";
    lgp_pot *u = lgp_checkpot(L, 1, fname);
    int64_t r, D = u->p.dim, c;
    const double *x = lgp_tensor(L, 2, fname, "x", 1, &r, &c, D);
    double h = luaL_optnumber(L, 3, 1e-4);
    if (!(h > 0) || !isfinite(h)) return mlL_argerror(L, 3, fname, "h", "expected a finite step > 0, got %g", h);
    int rigid = lua_isnil(L, 4) ? u->p.rigid : lua_toboolean(L, 4);
    if (rigid && !u->p.natoms) return mlL_argerror(L, 4, fname, "rigid", "needs a potential with atoms");
    ml_tensor *H = mlL_newtensor(L, ML_F64, 2, (int64_t[]){D, D});
    ml_tensor *ev = mlL_newtensor(L, ML_F64, 1, &D);
    ml_tensor *vec = mlL_newtensor(L, ML_F64, 2, (int64_t[]){D, D});
    int top = lua_gettop(L);
    lgp_pot_arm(L, u, 1);
    int nev;
    int rc = ml_gp_hessian(&u->p, x, h, rigid, ml_f64(H), ml_f64(ev), ml_f64(vec), &nev);
    if (rc) return lgp_raise(L, fname, u, rc);
    lua_settop(L, top);
    lua_pushinteger(L, nev);
    return 4;
}

/* core.gp_minimize(pot, x0, gtol, maxit) -> x, E, converged, reason, iterations, calls */
static int l_minimize(lua_State *L)
{
    const char *fname = "gp.minimize";
    lgp_pot *u = lgp_checkpot(L, 1, fname);
    int64_t r, D = u->p.dim, c;
    const double *x0 = lgp_tensor(L, 2, fname, "x0", 1, &r, &c, D);
    double gtol = luaL_checknumber(L, 3);
    lua_Integer maxit = luaL_checkinteger(L, 4);
    if (!(gtol > 0)) return mlL_argerror(L, 3, fname, "gtol", "expected > 0, got %g", gtol);
    if (maxit < 1 || maxit > 100000000) return mlL_argerror(L, 4, fname, "maxit", "expected >= 1");
    ml_tensor *x = mlL_newtensor(L, ML_F64, 1, &D);
    memcpy(ml_f64(x), x0, (size_t)D * sizeof(double));
    int xi = lua_gettop(L);
    lgp_pot_arm(L, u, 1);
    int64_t calls0 = u->p.calls;
    double E;
    ml_gp_iter_result res;
    ml_progress *pg = mlL_long_begin(L, fname, lua_toboolean(L, 5));
    int rc = ml_gp_minimize(&u->p, ml_f64(x), gtol, (int)maxit, &E, &res, pg);
    mlL_long_end(L, pg);
    if (rc) return lgp_raise(L, fname, u, rc);
    lua_pushvalue(L, xi);
    lua_pushnumber(L, E);
    lua_pushboolean(L, res.converged);
    lua_pushstring(L, res.reason);
    lua_pushinteger(L, res.iterations);
    lua_pushinteger(L, u->p.calls - calls0);
    return 6;
}

/* core.gp_rigid_basis(natoms, adim, x) -> [nr, D] */
static int l_rigid(lua_State *L)
{
    const char *fname = "gp.rigid_basis";
    lua_Integer na = luaL_checkinteger(L, 1), ad = luaL_checkinteger(L, 2);
    int64_t r, c;
    if (na < 1 || (ad != 2 && ad != 3)) return mlL_argerror(L, 1, fname, "atoms", "expected atoms >= 1 in 2 or 3 dims");
    const double *x = lgp_tensor(L, 3, fname, "x", 1, &r, &c, na * ad);
    double *b = lua_newuserdatauv(L, (size_t)(6 * na * ad) * sizeof *b, 0);
    int nr;
    if (ml_gp_rigid_basis((int)na, (int)ad, x, b, &nr)) return mlL_raise(L, fname);
    ml_tensor *t = mlL_newtensor(L, ML_F64, 2, (int64_t[]){nr, na * ad});
    memcpy(ml_f64(t), b, (size_t)(nr * na * ad) * sizeof *b);
    return 1;
}

void lgp_open_search(lua_State *L)
{
    static const luaL_Reg fns[] = {{"gp_dimer", l_dimer}, {"gp_gpr_dimer", l_gpr_dimer}, {"gp_hessian", l_hessian},
                                   {"gp_minimize", l_minimize}, {"gp_rigid_basis", l_rigid}, {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
}
