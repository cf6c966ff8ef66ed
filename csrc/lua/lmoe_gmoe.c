/* Lua bindings of the Gaussian-MoE statistics (core.gmoe_*; wrapped by moe.gaussian_moe / moe.fit_em /
 * moe.voronoi_loss in lua/moonlab/moe.lua). A model crosses as a table of f64 tensors. */
#include <math.h>
#include <string.h>
#include "lmoe.h"

static const char *const GATES[] = {"softmax", "topk", "temperature", "activation", NULL};
static const char *const ACTS[] = {"none", "tanh", "sigmoid", "relu", "gelu", NULL};
static const char *const PLACES[] = {"outside", "inside", NULL};

/* Tensor field `name` of the model table at idx as doubles (numel must be n). */
static void read_field(lua_State *L, int idx, const char *fn, int arg, const char *argname, const char *name,
                       int64_t n, double *dst) {
    lua_getfield(L, idx, name);
    ml_tensor *t = mlL_testtensor(L, -1);
    if (!t || t->numel != n || !ml_tensor_is_contiguous(t))
        mlL_argerror(L, arg, fn, argname, "expected field '%s' with %lld numbers, got %s", name, (long long)n,
                     t ? "a tensor of another size" : luaL_typename(L, -1));
    for (int64_t i = 0; i < n; i++) {
        dst[i] = ml_tensor_getd(t, i);
        if (!isfinite(dst[i]))
            mlL_argerror(L, arg, fn, argname, "field '%s' element %lld is not finite", name, (long long)(i + 1));
    }
    lua_pop(L, 1);
}

/* Reads the model table at idx into *m; pushes the userdata that owns the arrays. */
static void read_model(lua_State *L, int idx, const char *fn, int arg, const char *argname, ml_gmoe *m) {
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx)) mlL_argerror(L, arg, fn, argname, "expected a Gaussian MoE, got %s", luaL_typename(L, idx));
    lua_getfield(L, idx, "beta1");
    ml_tensor *b1 = mlL_testtensor(L, -1);
    if (!b1 || b1->ndim != 2) mlL_argerror(L, arg, fn, argname, "expected field 'beta1' as a [K,d] tensor");
    int64_t K = b1->shape[0], d = b1->shape[1];
    lua_pop(L, 1);
    if (K < 1 || K > 256 || d < 1 || d > 4096)
        mlL_argerror(L, arg, fn, argname, "expected 1..256 experts and 1..4096 features, got K = %lld, d = %lld",
                     (long long)K, (long long)d);
    memset(m, 0, sizeof *m);
    double *buf = lua_newuserdatauv(L, (size_t)(3 * K + 2 * K * d) * sizeof(double), 0);
    m->K = (int)K; m->d = (int)d;
    m->beta0 = buf; m->beta1 = buf + K; m->a = buf + K + K * d; m->b = buf + K + 2 * K * d;
    m->sigma = buf + 2 * K + 2 * K * d;
    read_field(L, idx, fn, arg, argname, "beta0", K, m->beta0);
    read_field(L, idx, fn, arg, argname, "beta1", K * d, m->beta1);
    read_field(L, idx, fn, arg, argname, "a", K * d, m->a);
    read_field(L, idx, fn, arg, argname, "b", K, m->b);
    read_field(L, idx, fn, arg, argname, "sigma", K, m->sigma);
    for (int i = 0; i < K; i++)
        if (!(m->sigma[i] > 0))
            mlL_argerror(L, arg, fn, argname, "sigma[%d] = %g must be > 0", i + 1, m->sigma[i]);
    int gate = 0, act = 1, place = 0;
    int64_t k = K;
    double tau = 1;
    lua_getfield(L, idx, "gate");
    const char *g = lua_tostring(L, -1);
    if (g) {
        for (gate = 0; GATES[gate] && strcmp(GATES[gate], g); gate++) {}
        if (!GATES[gate]) mlL_argerror(L, arg, fn, argname, "unknown gate '%s'", g);
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "k");
    if (!lua_isnil(L, -1)) k = lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, idx, "tau");
    if (!lua_isnil(L, -1)) tau = lua_tonumber(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, idx, "act");
    const char *a = lua_tostring(L, -1);
    if (a) {
        for (act = 0; ACTS[act] && strcmp(ACTS[act], a); act++) {}
        if (!ACTS[act]) mlL_argerror(L, arg, fn, argname, "unknown act '%s'", a);
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "bias_placement");
    const char *pl = lua_tostring(L, -1);
    if (pl) {
        for (place = 0; PLACES[place] && strcmp(PLACES[place], pl); place++) {}
        if (!PLACES[place]) mlL_argerror(L, arg, fn, argname, "unknown bias_placement '%s'", pl);
    }
    lua_pop(L, 1);
    if (gate == ML_GMOE_TOPK && (k < 1 || k > K))
        mlL_argerror(L, arg, fn, argname, "k = %lld must lie in [1, K = %lld]", (long long)k, (long long)K);
    if (!(tau > 0) || !isfinite(tau)) mlL_argerror(L, arg, fn, argname, "tau = %g must be finite and > 0", tau);
    m->gate = gate; m->k = (int)k; m->tau = tau; m->act = act; m->bias_place = place;
}

/* Pushes the parameters of m as a table of f64 tensors (plus the scalar fields). */
static void push_model(lua_State *L, const ml_gmoe *m) {
    int64_t K = m->K, d = m->d, kd[2] = {K, d};
    lua_createtable(L, 0, 10);
    struct { const char *name; int nd; double *src; } f[] = {
        {"beta0", 1, m->beta0}, {"beta1", 2, m->beta1}, {"a", 2, m->a}, {"b", 1, m->b}, {"sigma", 1, m->sigma}};
    for (int i = 0; i < 5; i++) {
        ml_tensor *t = mlL_newtensor(L, ML_F64, f[i].nd, f[i].nd == 1 ? &K : kd);
        memcpy(t->data, f[i].src, (size_t)t->numel * sizeof(double));
        lua_setfield(L, -2, f[i].name);
    }
    lua_pushstring(L, GATES[m->gate]); lua_setfield(L, -2, "gate");
    lua_pushinteger(L, m->k); lua_setfield(L, -2, "k");
    lua_pushnumber(L, m->tau); lua_setfield(L, -2, "tau");
    lua_pushstring(L, ACTS[m->act]); lua_setfield(L, -2, "act");
    lua_pushstring(L, PLACES[m->bias_place]); lua_setfield(L, -2, "bias_placement");
}

/* X [n,d] (or [n] when d = 1) as doubles; pushes the converted copy when needed. */
static const double *read_X(lua_State *L, int idx, const char *fn, int d, int64_t *n) {
    ml_tensor *x = mlL_checktensor(L, idx, fn, "X");
    char s[96];
    int ok = (x->ndim == 2 && x->shape[1] == d) || (x->ndim == 1 && d == 1);
    if (!ok || (x->dtype != ML_F32 && x->dtype != ML_F64))
        mlL_argerror(L, idx, fn, "X", "expected [n,%d] f32/f64 (the model's %d features), got %s %s", d, d,
                     ml_dtype_name(x->dtype), ml_shape_str(x, s, sizeof s));
    *n = x->shape[0];
    double *out = x->data;
    if (x->dtype != ML_F64) {
        out = lua_newuserdatauv(L, (size_t)(x->numel > 0 ? x->numel : 1) * sizeof(double), 0);
        for (int64_t i = 0; i < x->numel; i++) out[i] = ml_tensor_getd(x, i);
    }
    for (int64_t i = 0; i < x->numel; i++)
        if (!isfinite(out[i])) mlL_argerror(L, idx, fn, "X", "element %lld is not finite", (long long)(i + 1));
    return out;
}

static const double *read_Y(lua_State *L, int idx, const char *fn, int64_t n) {
    ml_tensor *y = mlL_checktensor(L, idx, fn, "Y");
    char s[96];
    if (y->numel != n || !(y->ndim == 1 || (y->ndim == 2 && y->shape[1] == 1)) ||
        (y->dtype != ML_F32 && y->dtype != ML_F64))
        mlL_argerror(L, idx, fn, "Y", "expected [n] = [%lld] f32/f64 like X, got %s", (long long)n, ml_shape_str(y, s, sizeof s));
    double *out = y->data;
    if (y->dtype != ML_F64) {
        out = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof(double), 0);
        for (int64_t i = 0; i < n; i++) out[i] = ml_tensor_getd(y, i);
    }
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(out[i])) mlL_argerror(L, idx, fn, "Y", "element %lld is not finite", (long long)(i + 1));
    return out;
}

/* core.gmoe_logpdf(model, X, Y, fname) -> [n] */
static int l_logpdf(lua_State *L) {
    const char *fn = luaL_optstring(L, 4, "moe.logpdf");
    ml_gmoe m;
    read_model(L, 1, fn, 1, "model", &m);
    int64_t n;
    const double *X = read_X(L, 2, fn, m.d, &n);
    const double *Y = read_Y(L, 3, fn, n);
    ml_tensor *out = mlL_newtensor(L, ML_F64, 1, &n);
    if (ml_gmoe_logpdf(&m, X, Y, n, out->data) != ML_OK) return mlL_raise(L, fn);
    return 1;
}

/* core.gmoe_gate_probs(model, X) -> [n,K] */
static int l_gate_probs(lua_State *L) {
    const char *fn = "moe.gate_probs";
    ml_gmoe m;
    read_model(L, 1, fn, 1, "model", &m);
    int64_t n;
    const double *X = read_X(L, 2, fn, m.d, &n);
    int64_t sh[2] = {n, m.K};
    ml_tensor *g = mlL_newtensor(L, ML_F64, 2, sh);
    if (ml_gmoe_gate_probs(&m, X, n, g->data) != ML_OK) return mlL_raise(L, fn);
    return 1;
}

/* core.gmoe_sample(model, n, seed, X|nil) -> X [n,d], Y [n] */
static int l_sample(lua_State *L) {
    const char *fn = "moe.sample";
    ml_gmoe m;
    read_model(L, 1, fn, 1, "model", &m);
    lua_Integer n = mlL_checkinteger(L, 2, fn, "n", 1, (lua_Integer)1 << 40);
    lua_Integer seed = mlL_checkinteger(L, 3, fn, "seed", LUA_MININTEGER, LUA_MAXINTEGER);
    int64_t sh[2] = {n, m.d};
    ml_tensor *X = mlL_newtensor(L, ML_F64, 2, sh);
    int xi = lua_gettop(L), given = 0;
    if (!lua_isnoneornil(L, 4)) {
        int64_t nx;
        const double *xs = read_X(L, 4, fn, m.d, &nx);
        if (nx != n) return mlL_argerror(L, 4, fn, "x", "expected %lld rows, got %lld", (long long)n, (long long)nx);
        memcpy(X->data, xs, (size_t)(n * m.d) * sizeof(double));
        given = 1;
    }
    int64_t nn = n;
    ml_tensor *Y = mlL_newtensor(L, ML_F64, 1, &nn);
    if (ml_gmoe_sample(&m, n, (uint64_t)seed, given, X->data, Y->data) != ML_OK) return mlL_raise(L, fn);
    lua_pushvalue(L, xi);
    lua_pushvalue(L, -2);
    return 2;
}

static const char *const REASONS[] = {"tolerance", "max_iters", "stalled", "interrupted"};

/* core.gmoe_fit_em(start, X, Y, opts) -> params, trace, iterations, converged, reason, sigma_floored */
static int l_fit_em(lua_State *L) {
    const char *fn = "moe.fit_em";
    ml_gmoe m0;
    read_model(L, 1, fn, 3, "init", &m0);
    int64_t n;
    const double *X = read_X(L, 2, fn, m0.d, &n);
    const double *Y = read_Y(L, 3, fn, n);
    if (n < 2) return mlL_argerror(L, 2, fn, "X", "expected at least 2 data points, got %lld", (long long)n);
    double y0 = Y[0];
    int64_t i;
    for (i = 1; i < n && Y[i] == y0; i++) {}
    if (i == n) return mlL_argerror(L, 3, fn, "Y", "expected non-constant data, got %lld copies of %g", (long long)n, y0);
    for (int j = 0; j < m0.d; j++) {
        int64_t t;
        for (t = 1; t < n && X[t * m0.d + j] == X[j]; t++) {}
        if (t == n) return mlL_argerror(L, 2, fn, "X", "column %d is constant (%g): the experts' slopes are not identifiable", j + 1, X[j]);
    }
    ml_gmoe_em_opts o = ml_gmoe_em_defaults();
    int64_t maxit = o.maxit, gsteps = o.gate_steps;
    int quiet = 0;
    mlL_opts(L, 4, fn, (mlL_opt[]){
        {"tol", MLL_NUMBER, &o.tol, NULL}, {"maxit", MLL_INT, &maxit, NULL}, {"gate_steps", MLL_INT, &gsteps, NULL},
        {"fix_last", MLL_BOOL, &o.fix_last, NULL}, {"sigma_floor", MLL_NUMBER, &o.sigma_floor, NULL},
        {"quiet", MLL_BOOL, &quiet, NULL}, {0}});
    if (!isfinite(o.tol)) return mlL_argerror(L, 4, fn, "tol", "expected a finite number (< 0: run all maxit iterations), got %g", o.tol);
    if (maxit < 0 || maxit > 10000000) return mlL_argerror(L, 4, fn, "maxit", "expected an integer in [0, 1e7], got %lld", (long long)maxit);
    if (gsteps < 1 || gsteps > 1000) return mlL_argerror(L, 4, fn, "gate_steps", "expected an integer in [1, 1000], got %lld", (long long)gsteps);
    if (!(o.sigma_floor >= 0) || !(o.sigma_floor < 1)) return mlL_argerror(L, 4, fn, "sigma_floor", "expected a number in [0, 1), got %g", o.sigma_floor);
    o.maxit = (int)maxit;
    o.gate_steps = (int)gsteps;
    int64_t tn = maxit + 1;
    ml_tensor *trace = mlL_newtensor(L, ML_F64, 1, &tn);
    int ti = lua_gettop(L);
    ml_gmoe m;
    if (ml_gmoe_copy(&m, &m0) != ML_OK) return mlL_raise(L, fn);
    ml_gmoe_em_result res = {0};
    res.trace = trace->data;
    ml_progress *p = mlL_long_begin(L, fn, quiet);
    int rc = ml_gmoe_fit_em(&m, X, Y, n, &o, p, &res);
    mlL_long_end(L, p);
    if (rc != ML_OK) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", ml_errmsg());
        ml_gmoe_free(&m);
        return mlL_error(L, "%s: %s", fn, msg);
    }
    trace->shape[0] = res.iterations + 1;
    trace->numel = res.iterations + 1;
    push_model(L, &m);
    ml_gmoe_free(&m);
    lua_pushvalue(L, ti);
    lua_pushinteger(L, res.iterations);
    lua_pushboolean(L, res.converged);
    lua_pushstring(L, REASONS[res.reason]);
    lua_pushboolean(L, res.sigma_floored);
    return 6;
}

/* core.gmoe_voronoi(fit, truth, d2, normalize) -> loss, cells (i64, 1-based), terms */
static int l_voronoi(lua_State *L) {
    const char *fn = "moe.voronoi_loss";
    ml_gmoe f, t;
    read_model(L, 1, fn, 1, "fitted", &f);
    read_model(L, 2, fn, 2, "truth", &t);
    if (f.d != t.d)
        return mlL_argerror(L, 1, fn, "fitted", "expected %d features like the truth, got %d", t.d, f.d);
    int d2 = lua_toboolean(L, 3), norm = lua_toboolean(L, 4);
    int64_t Kf = f.K, Kt = t.K;
    int64_t *cell = lmoe_new_index(L, 1, &Kf);
    int ci = lua_gettop(L);
    ml_tensor *terms = mlL_newtensor(L, ML_F64, 1, &Kt);
    double loss;
    if (ml_gmoe_voronoi(&f, &t, d2, norm, &loss, cell, terms->data) != ML_OK) return mlL_raise(L, fn);
    for (int64_t i = 0; i < Kf; i++) cell[i] += 1;
    lmoe_finish_index(L, ci);
    lua_pushnumber(L, loss);
    lua_pushvalue(L, ci);
    lua_pushvalue(L, ci + 1);
    return 3;
}

/* core.gmoe_replicate(truth, start, perturb, n, reps, seed, d2, emopts, quiet) -> loss [reps], iters, converged,
 * and (d2) the D2 losses [reps] after the D1 ones */
static int l_replicate(lua_State *L) {
    const char *fn = "moe.replicate";
    ml_gmoe t, s;
    read_model(L, 1, fn, 1, "truth", &t);
    read_model(L, 2, fn, 2, "start", &s);
    if (t.d != s.d) return mlL_argerror(L, 2, fn, "start", "expected %d features like the truth", t.d);
    double perturb = mlL_checknumber(L, 3, fn, "perturb", 1);
    lua_Integer n = mlL_checkinteger(L, 4, fn, "n", LUA_MININTEGER, LUA_MAXINTEGER);
    lua_Integer reps = mlL_checkinteger(L, 5, fn, "reps", LUA_MININTEGER, LUA_MAXINTEGER);
    lua_Integer seed = mlL_checkinteger(L, 6, fn, "seed", LUA_MININTEGER, LUA_MAXINTEGER);
    if (!(perturb >= 0) || !isfinite(perturb)) return mlL_argerror(L, 3, fn, "perturb", "expected a finite number >= 0");
    if (n < 2 || n > ((lua_Integer)1 << 36)) return mlL_argerror(L, 4, fn, "n", "expected an integer >= 2");
    if (reps < 1 || reps > 1000000) return mlL_argerror(L, 5, fn, "reps", "expected an integer >= 1");
    int d2 = lua_toboolean(L, 7);
    ml_gmoe_em_opts o = ml_gmoe_em_defaults();
    int64_t maxit = o.maxit, gsteps = o.gate_steps;
    mlL_opts(L, 8, fn, (mlL_opt[]){
        {"tol", MLL_NUMBER, &o.tol, NULL}, {"maxit", MLL_INT, &maxit, NULL}, {"gate_steps", MLL_INT, &gsteps, NULL},
        {"fix_last", MLL_BOOL, &o.fix_last, NULL}, {"sigma_floor", MLL_NUMBER, &o.sigma_floor, NULL}, {0}});
    if (maxit < 0 || maxit > 10000000) return mlL_argerror(L, 8, fn, "maxit", "expected an integer in [0, 1e7], got %lld", (long long)maxit);
    if (gsteps < 1 || gsteps > 1000) return mlL_argerror(L, 8, fn, "gate_steps", "expected an integer in [1, 1000], got %lld", (long long)gsteps);
    o.maxit = (int)maxit;
    o.gate_steps = (int)gsteps;
    int64_t R = reps;
    ml_tensor *loss = mlL_newtensor(L, ML_F64, 1, &R);
    int li = lua_gettop(L);
    ml_tensor *loss2 = d2 ? mlL_newtensor(L, ML_F64, 1, &R) : NULL;
    if (!d2) lua_pushnil(L);
    int *it = lua_newuserdatauv(L, (size_t)reps * 2 * sizeof(int), 0);
    ml_progress *p = mlL_long_begin(L, fn, lua_toboolean(L, 9));
    int rc = ml_gmoe_replicate(&t, &s, perturb, n, (int)reps, (uint64_t)seed, &o, p, loss->data,
                               loss2 ? loss2->data : NULL, it, it + reps);
    mlL_long_end(L, p);
    if (rc != ML_OK) return mlL_raise(L, fn);
    lua_pushvalue(L, li);
    lua_createtable(L, (int)reps, 0);
    lua_createtable(L, (int)reps, 0);
    for (int r = 0; r < reps; r++) {
        lua_pushinteger(L, it[r]); lua_rawseti(L, -3, r + 1);
        lua_pushboolean(L, it[reps + r]); lua_rawseti(L, -2, r + 1);
    }
    lua_pushvalue(L, li + 1);
    return 4;
}

/* core.gmoe_kmeans(model, X, Y, seed) -> params of the k-means start */
static int l_kmeans(lua_State *L) {
    const char *fn = "moe.fit_em";
    ml_gmoe m;
    read_model(L, 1, fn, 3, "init", &m);
    int64_t n;
    const double *X = read_X(L, 2, fn, m.d, &n);
    const double *Y = read_Y(L, 3, fn, n);
    if (ml_gmoe_init_kmeans(&m, X, Y, n, (uint64_t)luaL_checkinteger(L, 4)) != ML_OK) return mlL_raise(L, fn);
    push_model(L, &m);
    return 1;
}

static const luaL_Reg FUNCS[] = {
    {"gmoe_kmeans", l_kmeans},
    {"gmoe_logpdf", l_logpdf}, {"gmoe_gate_probs", l_gate_probs}, {"gmoe_sample", l_sample},
    {"gmoe_fit_em", l_fit_em}, {"gmoe_voronoi", l_voronoi}, {"gmoe_replicate", l_replicate}, {NULL, NULL}};

void lmoe_open_gmoe(lua_State *L) { luaL_setfuncs(L, FUNCS, 0); }
