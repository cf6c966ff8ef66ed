/* Lua bindings of the SDF core, part 4: the grid SDF, its differentiable renderer and the multi-view fit
 * (core.sdf_grid_*, core.sdf_render_rays, core.sdf_fit; wrapped by lua/moonlab/sdf.lua). */
#include <math.h>
#include <string.h>
#include "lsdf.h"
#include "moonlab/sdf_fit.h"

#define SDF_GRID_MT "moonlab.SdfGrid"

typedef struct { ml_sdf_grid *g; } grid_ud;

static ml_sdf_grid *checkgrid(lua_State *L, int idx, const char *fn)
{
    grid_ud *u = luaL_testudata(L, idx, SDF_GRID_MT);
    if (!u) mlL_argerror(L, idx, fn, "grid", "expected a grid SDF (sdf.grid{...}), got %s", luaL_typename(L, idx));
    if (!u->g) mlL_argerror(L, idx, fn, "grid", "the grid was freed");
    return u->g;
}

int lsdf_testgrid(lua_State *L, int idx, ml_sdf_field *f)
{
    grid_ud *u = luaL_testudata(L, idx, SDF_GRID_MT);
    if (!u || !u->g) return 0;
    *f = ml_sdf_grid_field(u->g);
    return 1;
}

static void vec3(lua_State *L, int t, int arg, const char *fn, const char *name, double *dst)
{
    lua_geti(L, t, arg);
    int ok = lua_istable(L, -1) && luaL_len(L, -1) == 3;
    for (int a = 0; ok && a < 3; a++) {
        lua_geti(L, -1, a + 1);
        ok = lua_type(L, -1) == LUA_TNUMBER && isfinite(lua_tonumber(L, -1));
        dst[a] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    if (!ok) mlL_error(L, "%s: bad argument '%s': expected a list of 3 finite numbers", fn, name);
    lua_pop(L, 1);
}

/* Copies tensor idx (numel = n·k, finite) into dst; raises naming argname otherwise. */
static void fill(lua_State *L, int idx, const char *fn, const char *argname, int64_t n, int k, double *dst)
{
    ml_tensor *t = mlL_checktensor(L, idx, fn, argname);
    char b[64];
    if (t->numel != n * k || (k == 3 && t->shape[t->ndim - 1] != 3))
        mlL_argerror(L, idx, fn, argname, "expected %lld values%s, got %s", (long long)(n * k),
                     k == 3 ? " ([res,res,res,3])" : " ([res,res,res])", ml_shape_str(t, b, sizeof b));
    for (int64_t i = 0; i < n * k; i++) {
        dst[i] = ml_tensor_getd(t, i);
        if (!isfinite(dst[i])) mlL_argerror(L, idx, fn, argname, "value %lld is not finite", (long long)i + 1);
    }
}

/* core.sdf_grid_new(res, {lo, hi}, values|nil, colors|nil) -> grid (values 0, colours 0.8 when absent) */
static int l_grid_new(lua_State *L)
{
    const char *fn = "sdf.grid";
    lua_Integer res = luaL_checkinteger(L, 1);
    if (res < 2 || res > ML_SDF_GRID_MAX)
        return mlL_argerror(L, 1, fn, "res", "expected an integer in [2, %d], got %lld", ML_SDF_GRID_MAX, (long long)res);
    luaL_checktype(L, 2, LUA_TTABLE);
    double lo[3], hi[3];
    vec3(L, 2, 1, fn, "bounds", lo);
    vec3(L, 2, 2, fn, "bounds", hi);
    for (int a = 0; a < 3; a++)
        if (!(hi[a] > lo[a])) return mlL_argerror(L, 2, fn, "bounds", "expected lo < hi on every axis");
    grid_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->g = NULL;
    luaL_setmetatable(L, SDF_GRID_MT);
    u->g = ml_sdf_grid_new((int)res, lo, hi);
    if (!u->g) return mlL_raise(L, fn);
    int64_t n = res * res * res;
    if (!lua_isnoneornil(L, 3)) fill(L, 3, fn, "values", n, 1, u->g->d);
    if (!lua_isnoneornil(L, 4)) fill(L, 4, fn, "colors", n, 3, u->g->c);
    else for (int64_t i = 0; i < 3 * n; i++) u->g->c[i] = 0.8;
    return 1;
}

/* core.sdf_grid_info(grid) -> values [res,res,res], colors [res,res,res,3], res, lo {3}, hi {3}, lipschitz */
static int l_grid_info(lua_State *L)
{
    ml_sdf_grid *g = checkgrid(L, 1, "sdf.grid_info");
    int64_t r = g->res, n = r * r * r;
    ml_tensor *v = mlL_newtensor(L, ML_F64, 3, (int64_t[]){r, r, r});
    ml_tensor *c = mlL_newtensor(L, ML_F64, 4, (int64_t[]){r, r, r, 3});
    memcpy(v->data, g->d, sizeof(double) * (size_t)n);
    memcpy(c->data, g->c, sizeof(double) * 3 * (size_t)n);
    lua_pushinteger(L, r);
    for (int s = 0; s < 2; s++) {
        lua_createtable(L, 3, 0);
        for (int a = 0; a < 3; a++) {
            lua_pushnumber(L, s ? g->hi[a] : g->lo[a]);
            lua_rawseti(L, -2, a + 1);
        }
    }
    lua_pushnumber(L, ml_sdf_grid_lipschitz(g));
    return 6;
}

/* light / ambient / background of the radiance from the options table at idx (already copied by mlL_opts). */
static void shade_opts(lua_State *L, int idx, const char *fn, ml_sdf_render_opts *ro)
{
    if (!lua_istable(L, idx)) return;
    const char *names[2] = {"light", "background"};
    for (int k = 0; k < 2; k++) {
        lua_getfield(L, idx, names[k]);
        if (!lua_isnil(L, -1)) {
            lua_pushnil(L);
            lua_insert(L, -2);
            lua_createtable(L, 1, 0);
            lua_insert(L, -2);
            lua_rawseti(L, -2, 1);
            vec3(L, lua_gettop(L), 1, fn, names[k], k ? ro->background : ro->light);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    if (!(ro->ambient >= 0 && ro->ambient <= 1)) mlL_error(L, "%s: option 'ambient' must be in [0, 1], got %g", fn, ro->ambient);
}

/* core.sdf_render_rays(grid, origins, dirs, t [R,N], opts{beta, light, ambient, background, last_delta}, gC|nil)
 * -> rgb [R,3][, grad_values, grad_colors, grad_beta] */
static int l_render_rays(lua_State *L)
{
    const char *fn = "sdf.render_rays";
    ml_sdf_grid *g = checkgrid(L, 1, fn);
    int64_t R, R2;
    double *o = lsdf_points(L, 2, fn, "origins", &R), *u = lsdf_points(L, 3, fn, "dirs", &R2);
    if (R2 != R) return mlL_argerror(L, 3, fn, "dirs", "expected [%lld,3] like origins", (long long)R);
    for (int64_t r = 0; r < R; r++) {
        double *d = u + 3 * r, l = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
        if (!(l > 0)) return mlL_argerror(L, 3, fn, "dirs", "direction %lld is the zero vector", (long long)r + 1);
        for (int a = 0; a < 3; a++) d[a] /= l;
    }
    ml_tensor *t = mlL_checktensor(L, 4, fn, "t");
    if (t->ndim != 2 || t->shape[0] != R || t->shape[1] < 1 || t->shape[1] > 65536)
        return mlL_argerror(L, 4, fn, "t", "expected [R,N] with R = %lld rows and 1 <= N <= 65536", (long long)R);
    int N = (int)t->shape[1];
    double *tt = lua_newuserdatauv(L, sizeof(double) * (size_t)(R * N > 0 ? R * N : 1), 0);
    for (int64_t i = 0; i < R * N; i++) {
        tt[i] = ml_tensor_getd(t, i);
        if (!isfinite(tt[i]) || (i % N > 0 && tt[i] < tt[i - 1]))
            return mlL_argerror(L, 4, fn, "t", "row %lld must be finite and sorted", (long long)(i / N) + 1);
    }
    ml_sdf_render_opts ro = ml_sdf_render_defaults();
    double beta = 0.1, last = 0;
    mlL_opts(L, 5, fn, (mlL_opt[]){{"beta", MLL_NUMBER | MLL_POSITIVE, &beta, NULL},
                                  {"last_delta", MLL_NUMBER | MLL_FINITE, &last, NULL},
                                  {"ambient", MLL_NUMBER, &ro.ambient, NULL}, {"light", MLL_SKIP, NULL, NULL},
                                  {"background", MLL_SKIP, NULL, NULL}, {0}});
    if (last < 0) return mlL_error(L, "%s: option 'last_delta' must be >= 0, got %g", fn, last);
    shade_opts(L, 5, fn, &ro);
    ml_tensor *gC = lua_isnoneornil(L, 6) ? NULL : mlL_checktensor(L, 6, fn, "grad_rgb");
    double *gcb = NULL;
    if (gC) {
        if (gC->numel != 3 * R) return mlL_argerror(L, 6, fn, "grad_rgb", "expected [R,3] with R = %lld", (long long)R);
        gcb = lua_newuserdatauv(L, sizeof(double) * (size_t)(3 * R > 0 ? 3 * R : 1), 0);
        for (int64_t i = 0; i < 3 * R; i++) gcb[i] = ml_tensor_getd(gC, i);
    }
    int top = lua_gettop(L);
    ml_tensor *rgb = mlL_newtensor(L, ML_F64, 2, (int64_t[]){R, 3});
    int64_t r3 = g->res;
    ml_tensor *gv = NULL, *gcol = NULL;
    ml_sdf_grid_grad gr = {NULL, NULL, 0};
    if (gC) {
        gv = mlL_newtensor(L, ML_F64, 3, (int64_t[]){r3, r3, r3});
        gcol = mlL_newtensor(L, ML_F64, 4, (int64_t[]){r3, r3, r3, 3});
        memset(gv->data, 0, sizeof(double) * (size_t)gv->numel);
        memset(gcol->data, 0, sizeof(double) * (size_t)gcol->numel);
        gr.d = gv->data;
        gr.c = gcol->data;
    }
    if (ml_sdf_grid_render_rays(g, beta, o, u, tt, R, N, last, &ro, rgb->data, NULL, gcb, NULL, gC ? &gr : NULL) != ML_OK)
        return mlL_raise(L, fn);
    if (!gC) return 1;
    lua_pushnumber(L, gr.beta);
    return lua_gettop(L) - top;
}

static const char *const METHODS[] = {"error_bound", "uniform", "hierarchical", NULL};

/* core.sdf_fit(grid, images [V,H,W,3], cameras {..}, beta_param, opts) -> loss [iters], steps, beta_param, status */
static int l_fit(lua_State *L)
{
    const char *fn = "sdf.fit_views";
    ml_sdf_grid *g = checkgrid(L, 1, fn);
    ml_tensor *im = mlL_checktensor(L, 2, fn, "images");
    luaL_checktype(L, 3, LUA_TTABLE);
    double bp = luaL_checknumber(L, 4);
    int V = (int)luaL_len(L, 3);
    char b[64];
    if (im->ndim != 4 || im->shape[0] != V || im->shape[3] != 3)
        return mlL_argerror(L, 2, fn, "images", "expected [V,H,W,3] with V = %d cameras, got %s", V, ml_shape_str(im, b, sizeof b));
    ml_sdf_fit_opts o = ml_sdf_fit_defaults();
    int64_t iters = o.iters, batch = o.batch, n_eik = 0, levels = 1, seed = 0, ne = o.sample.n_eval,
            nf = o.sample.n_final, nx = o.sample.n_extra, mi = o.sample.max_iters, bi = o.sample.beta_iters;
    int quiet = 0;
    mlL_opts(L, 5, fn, (mlL_opt[]){
        {"iters", MLL_INT, &iters, NULL}, {"batch", MLL_INT | MLL_POSITIVE, &batch, NULL},
        {"lr", MLL_NUMBER | MLL_POSITIVE, &o.lr, NULL}, {"lr_color", MLL_NUMBER | MLL_POSITIVE, &o.lr_color, NULL},
        {"lr_beta", MLL_NUMBER | MLL_POSITIVE, &o.lr_beta, NULL}, {"b1", MLL_NUMBER, &o.b1, NULL},
        {"b2", MLL_NUMBER, &o.b2, NULL}, {"beta_min", MLL_NUMBER | MLL_POSITIVE, &o.beta_min, NULL},
        {"lambda_eikonal", MLL_NUMBER | MLL_FINITE, &o.lambda_eik, NULL},
        {"lambda_tv", MLL_NUMBER | MLL_FINITE, &o.lambda_tv, NULL}, {"n_eikonal", MLL_INT, &n_eik, NULL},
        {"levels", MLL_INT, &levels, NULL}, {"seed", MLL_INT, &seed, NULL}, {"quiet", MLL_BOOL, &quiet, NULL},
        {"method", MLL_ENUM, &o.sample.method, METHODS}, {"eps", MLL_NUMBER | MLL_POSITIVE, &o.sample.eps, NULL},
        {"n_eval", MLL_INT, &ne, NULL}, {"n_final", MLL_INT, &nf, NULL}, {"n_extra", MLL_INT, &nx, NULL},
        {"max_iters", MLL_INT, &mi, NULL}, {"beta_iters", MLL_INT, &bi, NULL},
        {"radius", MLL_NUMBER | MLL_POSITIVE, &o.sample.radius, NULL}, {"near", MLL_NUMBER | MLL_FINITE, &o.sample.near, NULL},
        {"far", MLL_NUMBER | MLL_FINITE, &o.sample.far, NULL}, {"ambient", MLL_NUMBER, &o.shade.ambient, NULL},
        {"light", MLL_SKIP, NULL, NULL}, {"background", MLL_SKIP, NULL, NULL}, {0}});
    shade_opts(L, 5, fn, &o.shade);
    o.iters = lsdf_int(L, iters, 0, 10000000, fn, "iters");
    o.batch = lsdf_int(L, batch, 1, 1 << 20, fn, "batch");
    o.n_eik = lsdf_int(L, n_eik, 0, 1 << 20, fn, "n_eikonal");
    o.levels = lsdf_int(L, levels, 1, 6, fn, "levels");
    o.sample.n_eval = lsdf_int(L, ne, 2, 4096, fn, "n_eval");
    o.sample.n_final = lsdf_int(L, nf, 1, 4096, fn, "n_final");
    o.sample.n_extra = lsdf_int(L, nx, 0, 4096, fn, "n_extra");
    o.sample.max_iters = lsdf_int(L, mi, 1, 64, fn, "max_iters");
    o.sample.beta_iters = lsdf_int(L, bi, 0, 100, fn, "beta_iters");
    o.seed = (uint64_t)seed;
    if (o.lambda_eik < 0 || o.lambda_tv < 0) return mlL_error(L, "%s: lambda_eikonal and lambda_tv must be >= 0", fn);
    ml_sdf_camera *cams = lua_newuserdatauv(L, sizeof *cams * (size_t)(V > 0 ? V : 1), 0);
    for (int v = 0; v < V; v++) {
        lua_geti(L, 3, v + 1);
        lsdf_read_camera(L, lua_gettop(L), fn, &cams[v]);
        lua_pop(L, 1);
        if (cams[v].height != im->shape[1] || cams[v].width != im->shape[2])
            return mlL_argerror(L, 3, fn, "cameras", "camera %d is %dx%d but the images are %lldx%lld (W x H)", v + 1,
                                cams[v].width, cams[v].height, (long long)im->shape[2], (long long)im->shape[1]);
    }
    int64_t np = im->numel;
    double *px = lua_newuserdatauv(L, sizeof(double) * (size_t)(np > 0 ? np : 1), 0);
    for (int64_t i = 0; i < np; i++) {
        px[i] = ml_tensor_getd(im, i);
        if (!isfinite(px[i])) return mlL_argerror(L, 2, fn, "images", "pixel value %lld is not finite", (long long)i + 1);
    }
    ml_tensor *loss = mlL_newtensor(L, ML_F64, 1, (int64_t[]){o.iters});
    int done = 0;
    o.progress = mlL_long_begin(L, fn, quiet);
    int rc = ml_sdf_fit(&o, cams, V, px, g, &bp, ml_f64(loss), &done);
    mlL_long_end(L, (ml_progress *)o.progress);
    lua_pop(L, 1);
    if (rc != ML_OK && rc != ML_EINTR) return mlL_raise(L, fn);
    lua_pushinteger(L, done);
    lua_pushnumber(L, bp);
    lua_pushboolean(L, rc == ML_EINTR);
    return 4;
}

/* core.sdf_fit_step(grid, origins, dirs, target [R,3], opts{beta, near, far, n_eval, n_final, n_extra, seed})
 * -> loss, samples per ray: one training step's gradient (sample + render + backward; for bench/sdf_fit.lua) */
static int l_fit_step(lua_State *L)
{
    const char *fn = "sdf.fit_step";
    ml_sdf_grid *g = checkgrid(L, 1, fn);
    int64_t R, R2, R3;
    double *o = lsdf_points(L, 2, fn, "origins", &R), *u = lsdf_points(L, 3, fn, "dirs", &R2);
    double *tg = lsdf_points(L, 4, fn, "target", &R3);
    if (R2 != R || R3 != R) return mlL_error(L, "%s: origins, dirs and target must all be [R,3]", fn);
    ml_sdf_fit_opts fo = ml_sdf_fit_defaults();
    ml_sdf_sample_opts so = fo.sample;
    double beta = 0.05;
    int64_t ne = so.n_eval, nf = so.n_final, nx = so.n_extra, seed = 0;
    mlL_opts(L, 5, fn, (mlL_opt[]){{"beta", MLL_NUMBER | MLL_POSITIVE, &beta, NULL},
                                  {"near", MLL_NUMBER | MLL_FINITE, &so.near, NULL}, {"far", MLL_NUMBER | MLL_FINITE, &so.far, NULL},
                                  {"n_eval", MLL_INT, &ne, NULL}, {"n_final", MLL_INT, &nf, NULL},
                                  {"n_extra", MLL_INT, &nx, NULL}, {"seed", MLL_INT, &seed, NULL}, {0}});
    so.n_eval = lsdf_int(L, ne, 2, 4096, fn, "n_eval");
    so.n_final = lsdf_int(L, nf, 1, 4096, fn, "n_final");
    so.n_extra = lsdf_int(L, nx, 0, 4096, fn, "n_extra");
    so.seed = (uint64_t)seed;
    so.stratified = 1;
    int N = ml_sdf_sample_count(&so);
    int64_t n = (int64_t)g->res * g->res * g->res;
    /* the gradient and depth buffers persist between calls (as in a training loop), only zeroed */
    size_t need = sizeof(double) * (size_t)(4 * n + R * N + 1);
    double *buf = NULL;
    if (lua_getfield(L, LUA_REGISTRYINDEX, "moonlab.sdf_fit_step") == LUA_TUSERDATA && lua_rawlen(L, -1) >= need)
        buf = lua_touserdata(L, -1);
    else {
        buf = lua_newuserdatauv(L, need, 0);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, "moonlab.sdf_fit_step");
    }
    memset(buf, 0, sizeof(double) * (size_t)(4 * n));
    ml_sdf_grid_grad gr = {buf, buf + n, 0};
    double loss = 0;
    for (int64_t r = 0; r < R; r++) {
        double *d = u + 3 * r, l = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
        if (!(l > 0)) return mlL_argerror(L, 3, fn, "dirs", "direction %lld is the zero vector", (long long)r + 1);
        for (int a = 0; a < 3; a++) d[a] /= l;
    }
    if (ml_sdf_fit_step(g, beta, o, u, tg, R, &so, &fo.shade, buf + 4 * n, &loss, &gr) != ML_OK) return mlL_raise(L, fn);
    lua_pushnumber(L, loss);
    lua_pushinteger(L, N);
    return 2;
}

static int grid_gc(lua_State *L)
{
    grid_ud *u = luaL_checkudata(L, 1, SDF_GRID_MT);
    ml_sdf_grid_free(u->g);
    u->g = NULL;
    return 0;
}

static int grid_tostring(lua_State *L)
{
    grid_ud *u = luaL_checkudata(L, 1, SDF_GRID_MT);
    if (!u->g) lua_pushstring(L, "SdfGrid (freed)");
    else lua_pushfstring(L, "SdfGrid (%d^3 nodes)", u->g->res);
    return 1;
}

static const luaL_Reg FUNCS[] = {{"sdf_grid_new", l_grid_new}, {"sdf_grid_info", l_grid_info},
                                 {"sdf_render_rays", l_render_rays}, {"sdf_fit", l_fit},
                                 {"sdf_fit_step", l_fit_step}, {NULL, NULL}};

void mlL_open_sdf_fit(lua_State *L)
{
    if (luaL_newmetatable(L, SDF_GRID_MT)) {
        lua_pushcfunction(L, grid_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, grid_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, FUNCS, 0);
}
