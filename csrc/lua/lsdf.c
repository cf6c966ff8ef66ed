/* Lua bindings of the SDF core, part 1: scene compilation, evaluation, density and weights
 * (core.sdf_*; wrapped by lua/moonlab/sdf.lua). */
#include <float.h>
#include <math.h>
#include <string.h>
#include "lsdf.h"

typedef struct { ml_sdf_scene *s; } scene_ud;

static const char *const KINDS[] = {"sphere", "box", "torus", "capsule", "plane", "cylinder", NULL};
static const char *const OPS[] = {"prim", "min", "max", "sub", "smin", NULL};

int lsdf_int(lua_State *L, int64_t v, int lo, int hi, const char *fname, const char *name)
{
    if (v < lo || v > hi) return mlL_error(L, "%s: option '%s' must be in [%d, %d], got %lld", fname, name, lo, hi, (long long)v);
    return (int)v;
}

double *lsdf_points(lua_State *L, int idx, const char *fname, const char *argname, int64_t *n)
{
    ml_tensor *t = mlL_checktensor(L, idx, fname, argname);
    char b[64];
    if (t->ndim != 2 || t->shape[1] != 3)
        mlL_argerror(L, idx, fname, argname, "expected [N,3], got %s", ml_shape_str(t, b, sizeof b));
    *n = t->shape[0];
    double *p = lua_newuserdatauv(L, sizeof(double) * (size_t)(t->numel > 0 ? t->numel : 1), 0);
    if (t->dtype == ML_F64) { if (t->numel > 0) memcpy(p, t->data, sizeof(double) * (size_t)t->numel); }
    else
        for (int64_t i = 0; i < t->numel; i++) p[i] = ml_tensor_getd(t, i);
    for (int64_t i = 0; i < t->numel; i++) {
        if (!isfinite(p[i]))
            mlL_argerror(L, idx, fname, argname, "point %lld is not finite", (long long)(i / 3 + 1));
    }
    return p;
}

/* ---- the Lua SDF slow path ---- */

typedef struct cb_args { lsdf_field *lf; const double *p; int64_t n; double *d; } cb_args;

static int cb_protected(lua_State *L)
{
    cb_args *a = lua_touserdata(L, 2);
    lua_pushvalue(L, 1);
    ml_tensor *pt = mlL_newtensor(L, ML_F64, 2, (int64_t[]){a->n, 3});
    memcpy(pt->data, a->p, sizeof(double) * 3 * (size_t)a->n);
    lua_call(L, 1, 1);
    ml_tensor *r = mlL_testtensor(L, -1);
    if (r) {
        if (r->numel != a->n)
            return luaL_error(L, "returned a tensor of %d values for %d points", (int)r->numel, (int)a->n);
        for (int64_t i = 0; i < a->n; i++) a->d[i] = ml_tensor_getd(r, i);
    } else if (lua_istable(L, -1) && (int64_t)luaL_len(L, -1) == a->n) {
        for (int64_t i = 0; i < a->n; i++) {
            if (lua_geti(L, -1, (lua_Integer)i + 1) != LUA_TNUMBER)
                return luaL_error(L, "returned a table holding a %s at [%d]", luaL_typename(L, -1), (int)i + 1);
            a->d[i] = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
    } else if (a->n == 1 && lua_type(L, -1) == LUA_TNUMBER) {
        a->d[0] = lua_tonumber(L, -1);
    } else {
        return luaL_error(L, "expected a tensor or table of %d numbers, got %s", (int)a->n, luaL_typename(L, -1));
    }
    for (int64_t i = 0; i < a->n; i++)
        if (!isfinite(a->d[i])) return luaL_error(L, "returned a non-finite distance at point %d", (int)i + 1);
    return 0;
}

static int lua_field_eval(void *ud, const double *p, int64_t n, double *d)
{
    lsdf_field *lf = ud;
    lua_State *L = lf->L;
    if (n <= 0) return ML_OK;
    cb_args a = {lf, p, n, d};
    lua_pushcfunction(L, cb_protected);
    lua_pushvalue(L, lf->fn_idx);
    lua_pushlightuserdata(L, &a);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        snprintf(lf->err, sizeof lf->err, "the Lua SDF failed: %s", m ? m : "(error object is not a string)");
        lua_pop(L, 1);
        return ml_fail(ML_ECALLBACK, "%s", lf->err);
    }
    return ML_OK;
}

void lsdf_checkfield(lua_State *L, int idx, const char *fname, lsdf_field *lf)
{
    memset(lf, 0, sizeof *lf);
    idx = lua_absindex(L, idx);
    if (lsdf_testgrid(L, idx, &lf->f)) return;
    scene_ud *u = luaL_testudata(L, idx, SDF_SCENE_MT);
    if (u) {
        if (!u->s) mlL_argerror(L, idx, fname, "scene", "the scene was freed");
        lf->f = ml_sdf_scene_field(u->s);
        return;
    }
    if (lua_istable(L, idx) && lua_geti(L, idx, 1) == LUA_TFUNCTION) {
        lf->L = L;
        lf->fn_idx = lua_gettop(L); /* the function stays on the stack (anchored) for the whole call */
        lua_getfield(L, idx, "exact");
        int exact = lua_toboolean(L, -1);
        lua_pop(L, 1);
        lf->f.eval = lua_field_eval;
        lf->f.eval_full = NULL;
        lf->f.ud = lf;
        lf->f.exact = exact;
        lf->f.serial = 1;
        return;
    }
    mlL_argerror(L, idx, fname, "scene", "expected an sdf scene (sdf.sphere{...}, ..., or sdf.fn(f)), got %s",
                 luaL_typename(L, idx));
}

int lsdf_raise(lua_State *L, const char *fname, const lsdf_field *lf)
{
    (void)lf;
    return mlL_raise(L, fname);
}

/* ---- scenes ---- */

static double numfield(lua_State *L, int t, const char *k, double def)
{
    lua_getfield(L, t, k);
    double v = lua_isnil(L, -1) ? def : lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

static void numlist(lua_State *L, int t, const char *k, double *dst, int n)
{
    lua_getfield(L, t, k);
    if (lua_istable(L, -1))
        for (int i = 0; i < n; i++) {
            lua_geti(L, -1, i + 1);
            dst[i] = lua_isnil(L, -1) ? 0.0 : (lua_isnumber(L, -1) ? lua_tonumber(L, -1) : NAN);
            lua_pop(L, 1);
        }
    lua_pop(L, 1);
}

/* core.sdf_compile(code, prims) -> scene; code = {{op, arg, k}, ...}, prims = {{kind, param, rot, trans, scale,
 * color}, ...} (built by lua/moonlab/sdf.lua). */
static int l_compile(lua_State *L)
{
    const char *fn = "sdf.compile";
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    int nc = (int)luaL_len(L, 1), np = (int)luaL_len(L, 2);
    if (nc < 1 || np < 1 || nc > 1 << 20 || np > 1 << 20) return mlL_error(L, "%s: empty or too large scene", fn);
    ml_sdf_instr *code = lua_newuserdatauv(L, sizeof *code * (size_t)nc, 0);
    ml_sdf_prim *prims = lua_newuserdatauv(L, sizeof *prims * (size_t)np, 0);
    for (int i = 0; i < nc; i++) {
        lua_geti(L, 1, i + 1);
        int t = lua_gettop(L);
        lua_getfield(L, t, "op");
        code[i].op = luaL_checkoption(L, -1, NULL, OPS);
        lua_pop(L, 1);
        code[i].arg = (int)numfield(L, t, "arg", 0);
        code[i].k = numfield(L, t, "k", 0);
        lua_pop(L, 1);
    }
    for (int i = 0; i < np; i++) {
        lua_geti(L, 2, i + 1);
        int t = lua_gettop(L);
        ml_sdf_prim *p = &prims[i];
        memset(p, 0, sizeof *p);
        lua_getfield(L, t, "kind");
        p->kind = luaL_checkoption(L, -1, NULL, KINDS);
        lua_pop(L, 1);
        numlist(L, t, "param", p->param, 7);
        numlist(L, t, "rot", p->rot, 9);
        numlist(L, t, "trans", p->trans, 3);
        numlist(L, t, "color", p->color, 3);
        p->scale = numfield(L, t, "scale", 1);
        lua_pop(L, 1);
    }
    scene_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->s = NULL;
    luaL_setmetatable(L, SDF_SCENE_MT);
    u->s = ml_sdf_scene_new(code, nc, prims, np);
    if (!u->s) return mlL_raise(L, fn);
    return 1;
}

static int scene_gc(lua_State *L)
{
    scene_ud *u = luaL_checkudata(L, 1, SDF_SCENE_MT);
    ml_sdf_scene_free(u->s);
    u->s = NULL;
    return 0;
}

static int scene_tostring(lua_State *L)
{
    scene_ud *u = luaL_checkudata(L, 1, SDF_SCENE_MT);
    if (!u->s) lua_pushstring(L, "SdfScene (freed)");
    else lua_pushfstring(L, "SdfScene (%s)", ml_sdf_scene_exact(u->s) ? "exact SDF" : "1-Lipschitz bound");
    return 1;
}

/* core.sdf_eval(scene, points [N,3], what) -> d [N] | grad [N,3] | color [N,3] */
static int l_eval(lua_State *L)
{
    static const char *const WHAT[] = {"eval", "grad", "color", NULL};
    int what = luaL_checkoption(L, 3, "eval", WHAT);
    const char *fn = what == 0 ? "sdf.eval" : (what == 1 ? "sdf.grad" : "sdf.color");
    lsdf_field lf;
    lsdf_checkfield(L, 1, fn, &lf);
    int64_t n;
    double *p = lsdf_points(L, 2, fn, "points", &n);
    if (what != 0 && !lf.f.eval_full)
        return mlL_error(L, "%s: a Lua SDF has no analytic %s", fn, what == 1 ? "gradient" : "colour");
    ml_tensor *out = what == 0 ? mlL_newtensor(L, ML_F64, 1, (int64_t[]){n})
                               : mlL_newtensor(L, ML_F64, 2, (int64_t[]){n, 3});
    int rc = n == 0 ? ML_OK
                    : (what == 0 ? lf.f.eval(lf.f.ud, p, n, out->data)
                                 : lf.f.eval_full(lf.f.ud, p, n, NULL, what == 1 ? out->data : NULL,
                                                  what == 2 ? out->data : NULL));
    if (rc != ML_OK) return lsdf_raise(L, fn, &lf);
    return 1;
}

/* core.sdf_density(d, beta) -> sigma (same shape, f64) */
static int l_density(lua_State *L)
{
    const char *fn = "sdf.density";
    ml_tensor *d = mlL_checktensor(L, 1, fn, "d");
    double beta = mlL_checknumber(L, 2, fn, "beta", 0);
    if (!(beta >= DBL_MIN) || !isfinite(beta))
        return mlL_argerror(L, 2, fn, "beta", "expected a finite number > 0 and >= %g (1/beta finite), got %g", DBL_MIN, beta);
    ml_tensor *s = mlL_newtensor(L, ML_F64, d->ndim, d->shape);
    for (int64_t i = 0; i < d->numel; i++) ml_f64(s)[i] = ml_sdf_density1(ml_tensor_getd(d, i), beta);
    return 1;
}

/* core.sdf_weights(t [R,N], sigma [R,N], last_delta) -> delta, alpha, trans, w (each [R,N]), opacity [R] */
static int l_weights(lua_State *L)
{
    const char *fn = "sdf.render_weights";
    ml_tensor *t = mlL_checktensor(L, 1, fn, "t"), *s = mlL_checktensor(L, 2, fn, "sigma");
    double last = mlL_optnumber(L, 3, fn, "last_delta", 0, 1e10);
    char b[64];
    if (t->ndim != 2 || t->shape[1] < 1) return mlL_argerror(L, 1, fn, "t", "expected [R,N], got %s", ml_shape_str(t, b, sizeof b));
    if (!ml_tensor_same_shape(t, s))
        return mlL_argerror(L, 2, fn, "sigma", "expected the shape of t, got %s", ml_shape_str(s, b, sizeof b));
    if (!(last >= 0)) return mlL_argerror(L, 3, fn, "last_delta", "expected a number >= 0, got %g", last);
    int64_t R = t->shape[0], N = t->shape[1];
    if (N > (1 << 24)) return mlL_argerror(L, 1, fn, "t", "too many samples per ray");
    double *tt = lua_newuserdatauv(L, sizeof(double) * 2 * (size_t)N, 0), *ss = tt + N;
    ml_tensor *o[4];
    for (int k = 0; k < 4; k++) o[k] = mlL_newtensor(L, ML_F64, 2, t->shape);
    ml_tensor *op = mlL_newtensor(L, ML_F64, 1, (int64_t[]){R});
    for (int64_t r = 0; r < R; r++) {
        for (int64_t j = 0; j < N; j++) {
            tt[j] = ml_tensor_getd(t, r * N + j);
            ss[j] = ml_tensor_getd(s, r * N + j);
            if (!isfinite(tt[j]) || !(ss[j] >= 0) || !isfinite(ss[j]))
                return mlL_argerror(L, isfinite(tt[j]) ? 2 : 1, fn, isfinite(tt[j]) ? "sigma" : "t",
                                    "ray %lld sample %lld: expected finite t and sigma >= 0", (long long)r + 1, (long long)j + 1);
            if (j > 0 && tt[j] < tt[j - 1])
                return mlL_argerror(L, 1, fn, "t", "ray %lld is not sorted", (long long)r + 1);
        }
        ml_sdf_weights(tt, ss, (int)N, last, ml_f64(o[0]) + r * N, ml_f64(o[1]) + r * N, ml_f64(o[2]) + r * N,
                       ml_f64(o[3]) + r * N, ml_f64(op) + r);
    }
    return 5;
}

/* core.sdf_bench_ref(points [N,3]) -> d [N]: the hand-written reference scene of bench/sdf.lua */
static int l_bench_ref(lua_State *L)
{
    int64_t n;
    double *p = lsdf_points(L, 1, "sdf.bench_ref", "points", &n);
    ml_tensor *d = mlL_newtensor(L, ML_F64, 1, (int64_t[]){n});
    ml_sdf_bench_scene_ref(p, n, d->data);
    return 1;
}

static const luaL_Reg FUNCS[] = {
    {"sdf_bench_ref", l_bench_ref},
    {"sdf_compile", l_compile}, {"sdf_eval", l_eval}, {"sdf_density", l_density}, {"sdf_weights", l_weights},
    {NULL, NULL}};

void mlL_open_sdf(lua_State *L)
{
    if (luaL_newmetatable(L, SDF_SCENE_MT)) {
        lua_pushcfunction(L, scene_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, scene_gc);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, scene_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, FUNCS, 0);
    mlL_open_sdf_ray(L);
    mlL_open_sdf_mesh(L);
    mlL_open_sdf_fit(L);
}
