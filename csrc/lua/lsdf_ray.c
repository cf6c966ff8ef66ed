/* Lua bindings of the SDF core, part 2: rays (sampling, sphere tracing, reference opacity) and rendering. */
#include <math.h>
#include <string.h>
#include "lsdf.h"

static const char *const METHODS[] = {"error_bound", "uniform", "hierarchical", NULL};

/* origins [R,3] at oi and directions [R,3] at ui: copied, directions normalised; pushes two buffers. */
static int64_t read_rays(lua_State *L, int oi, int ui, const char *fn, double **o, double **u)
{
    int64_t R, R2;
    *o = lsdf_points(L, oi, fn, "origins", &R);
    *u = lsdf_points(L, ui, fn, "dirs", &R2);
    if (R2 != R) mlL_argerror(L, ui, fn, "dirs", "expected [%lld,3] like origins, got [%lld,3]", (long long)R, (long long)R2);
    for (int64_t r = 0; r < R; r++) {
        double *d = *u + 3 * r, l = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
        if (!(l > 0)) mlL_argerror(L, ui, fn, "dirs", "direction %lld is the zero vector", (long long)r + 1);
        d[0] /= l; d[1] /= l; d[2] /= l;
    }
    return R;
}

/* Reads the sampling options at idx into *o; *keep = keep_eval, *quiet = quiet. */
static void read_sample_opts(lua_State *L, int idx, const char *fn, ml_sdf_sample_opts *o, int *keep, int *quiet,
                             ml_sdf_render_opts *ro)
{
    *o = ml_sdf_sample_defaults();
    int64_t n_eval = o->n_eval, n_final = o->n_final, n_extra = o->n_extra, bi = o->beta_iters, mi = o->max_iters,
            seed = 0;
    double far = NAN, light[3] = {0}, bg[3] = {0};
    *keep = 0; *quiet = 0;
    int st = 0;
    mlL_opt list[24] = {
        {"method", MLL_ENUM, &o->method, METHODS}, {"beta", MLL_NUMBER, &o->beta, NULL},
        {"eps", MLL_NUMBER, &o->eps, NULL}, {"n_eval", MLL_INT, &n_eval, NULL}, {"n_final", MLL_INT, &n_final, NULL},
        {"n_extra", MLL_INT, &n_extra, NULL}, {"beta_iters", MLL_INT, &bi, NULL}, {"max_iters", MLL_INT, &mi, NULL},
        {"radius", MLL_NUMBER, &o->radius, NULL}, {"near", MLL_NUMBER, &o->near, NULL},
        {"far", MLL_NUMBER, &far, NULL}, {"stratified", MLL_BOOL, &o->stratified, NULL},
        {"seed", MLL_INT, &seed, NULL}, {"quiet", MLL_BOOL, quiet, NULL}};
    int k = 14;
    if (ro) {
        list[k++] = (mlL_opt){"outputs", MLL_SKIP, NULL, NULL};
        list[k++] = (mlL_opt){"sphere_trace", MLL_BOOL, &st, NULL};
        list[k++] = (mlL_opt){"ambient", MLL_NUMBER, &ro->ambient, NULL};
        list[k++] = (mlL_opt){"light", MLL_SKIP, NULL, NULL};
        list[k++] = (mlL_opt){"background", MLL_SKIP, NULL, NULL};
        list[k++] = (mlL_opt){"chunk", MLL_SKIP, NULL, NULL};
    } else {
        list[k++] = (mlL_opt){"last_delta", MLL_NUMBER, &o->last_delta, NULL};
        list[k++] = (mlL_opt){"keep_eval", MLL_BOOL, keep, NULL};
    }
    list[k] = (mlL_opt){0};
    mlL_opts(L, idx, fn, list);
    o->n_eval = lsdf_int(L, n_eval, 2, 4096, fn, "n_eval");
    o->n_final = lsdf_int(L, n_final, 1, 4096, fn, "n_final");
    o->n_extra = lsdf_int(L, n_extra, 0, 4096, fn, "n_extra");
    o->beta_iters = lsdf_int(L, bi, 0, 100, fn, "beta_iters");
    o->max_iters = lsdf_int(L, mi, 1, 64, fn, "max_iters");
    o->seed = (uint64_t)seed;
    if (!isnan(far) && !(far > o->near && isfinite(far)))
        mlL_error(L, "%s: far must be finite and > near (%g), got %g", fn, o->near, far);
    o->far = isnan(far) ? 2 * o->radius : far;
    if (ro) {
        ro->sphere_trace = st;
        if (lua_istable(L, idx)) {
            const char *names[2] = {"light", "background"};
            double *dst[2] = {light, bg};
            for (int k = 0; k < 2; k++) {
                lua_getfield(L, idx, names[k]);
                if (!lua_isnil(L, -1)) {
                    if (!lua_istable(L, -1) || luaL_len(L, -1) != 3)
                        mlL_error(L, "%s: option '%s' must be a list of 3 numbers", fn, names[k]);
                    for (int a = 0; a < 3; a++) {
                        lua_geti(L, -1, a + 1);
                        if (!lua_isnumber(L, -1)) mlL_error(L, "%s: option '%s' must be a list of 3 numbers", fn, names[k]);
                        dst[k][a] = lua_tonumber(L, -1);
                        lua_pop(L, 1);
                    }
                    memcpy(k ? ro->background : ro->light, dst[k], sizeof light);
                }
                lua_pop(L, 1);
            }
            lua_getfield(L, idx, "chunk");
            if (!lua_isnil(L, -1)) ro->chunk = lsdf_int(L, luaL_checkinteger(L, -1), 1, 1 << 20, fn, "chunk");
            lua_pop(L, 1);
        }
    }
}

/* core.sdf_sample(field, origins, dirs, opts) -> t, weights, beta_plus, bound, iters, evals[, t_eval, d_eval] */
static int l_sample(lua_State *L)
{
    const char *fn = "sdf.sample";
    lsdf_field lf;
    lsdf_checkfield(L, 1, fn, &lf);
    double *o, *u;
    int64_t R = read_rays(L, 2, 3, fn, &o, &u);
    ml_sdf_sample_opts op;
    int keep, quiet;
    read_sample_opts(L, 4, fn, &op, &keep, &quiet, NULL);
    int N = ml_sdf_sample_count(&op), M = ml_sdf_sample_max_evals(&op);
    ml_sdf_samples s;
    memset(&s, 0, sizeof s);
    ml_tensor *t = mlL_newtensor(L, ML_F64, 2, (int64_t[]){R, N});
    ml_tensor *w = mlL_newtensor(L, ML_F64, 2, (int64_t[]){R, N});
    ml_tensor *bp = mlL_newtensor(L, ML_F64, 1, (int64_t[]){R});
    ml_tensor *bd = mlL_newtensor(L, ML_F64, 1, (int64_t[]){R});
    ml_tensor *it = mlL_newtensor(L, ML_I64, 1, (int64_t[]){R});
    ml_tensor *ev = mlL_newtensor(L, ML_I64, 1, (int64_t[]){R});
    int64_t *iti = it->data, *evi = ev->data;
    ml_tensor *te = NULL, *de = NULL;
    if (keep) {
        te = mlL_newtensor(L, ML_F64, 2, (int64_t[]){R, M});
        de = mlL_newtensor(L, ML_F64, 2, (int64_t[]){R, M});
    }
    s.t = t->data; s.weights = w->data; s.beta_plus = bp->data; s.bound = bd->data; s.iters = iti; s.evals = evi;
    s.t_eval = te ? te->data : NULL; s.d_eval = de ? de->data : NULL;
    if (R > 0) {
        op.progress = mlL_long_begin(L, fn, quiet);
        int rc = ml_sdf_sample(&lf.f, o, u, R, &op, &s);
        mlL_long_end(L, (ml_progress *)op.progress);
        lua_pop(L, 1); /* the guard */
        if (rc != ML_OK) return lsdf_raise(L, fn, &lf);
    } else if (ml_sdf_sample(&lf.f, o, u, 0, &op, &s) != ML_OK) {
        return lsdf_raise(L, fn, &lf);
    }
    return keep ? 8 : 6;
}

/* core.sdf_sphere_trace(field, origins, dirs, opts) -> t [R] (inf on a miss), steps [R] */
static int l_trace(lua_State *L)
{
    const char *fn = "sdf.sphere_trace";
    lsdf_field lf;
    lsdf_checkfield(L, 1, fn, &lf);
    double *o, *u;
    int64_t R = read_rays(L, 2, 3, fn, &o, &u);
    double near = 0, far = 6, tol = 1e-7;
    int64_t ms = 512;
    mlL_opts(L, 4, fn, (mlL_opt[]){{"near", MLL_NUMBER, &near, NULL}, {"far", MLL_NUMBER, &far, NULL},
                                  {"tol", MLL_NUMBER, &tol, NULL}, {"max_steps", MLL_INT, &ms, NULL}, {0}});
    int steps_max = lsdf_int(L, ms, 1, 1 << 24, fn, "max_steps");
    ml_tensor *t = mlL_newtensor(L, ML_F64, 1, (int64_t[]){R});
    ml_tensor *st = mlL_newtensor(L, ML_I64, 1, (int64_t[]){R});
    ml_progress *pg = mlL_long_begin(L, fn, 1);
    int rc = ml_sdf_sphere_trace(&lf.f, o, u, R, near, far, tol, steps_max, t->data, st->data);
    mlL_long_end(L, pg);
    lua_pop(L, 1);
    if (rc != ML_OK) return lsdf_raise(L, fn, &lf);
    return 2;
}

/* core.sdf_opacity_reference(field, origins, dirs, t [R,M] (NaN-padded), beta, nq) -> O [R,M] */
static int l_opref(lua_State *L)
{
    const char *fn = "sdf.opacity_reference";
    lsdf_field lf;
    lsdf_checkfield(L, 1, fn, &lf);
    double *o, *u;
    int64_t R = read_rays(L, 2, 3, fn, &o, &u);
    ml_tensor *t = mlL_checktensor(L, 4, fn, "t");
    if (t->ndim != 2 || t->shape[0] != R) return mlL_argerror(L, 4, fn, "t", "expected [R,M] with R = #origins");
    ml_tensor *bt = mlL_testtensor(L, 5);
    double beta = bt ? 1.0 : luaL_checknumber(L, 5);
    if (bt && bt->numel != R) return mlL_argerror(L, 5, fn, "beta", "expected a number or a tensor of R = %lld values", (long long)R);
    for (int64_t r = 0; r < (bt ? R : 1); r++) {
        double b = bt ? ml_tensor_getd(bt, r) : beta;
        if (!(b > 0) || !isfinite(b)) return mlL_argerror(L, 5, fn, "beta", "expected finite values > 0, got %g", b);
    }
    int64_t nq = (int64_t)luaL_optinteger(L, 6, 100000);
    if (nq < 2 || nq > 100000000) return mlL_argerror(L, 6, fn, "nq", "expected in [2, 1e8]");
    int64_t M = t->shape[1];
    ml_tensor *O = mlL_newtensor(L, ML_F64, 2, t->shape);
    double *row = lua_newuserdatauv(L, sizeof(double) * (size_t)(M > 0 ? M : 1), 0);
    for (int64_t r = 0; r < R; r++) {
        int n = 0;
        for (int64_t j = 0; j < M; j++) {
            double v = ml_tensor_getd(t, r * M + j);
            if (isnan(v)) break;
            if (n > 0 && v < row[n - 1]) return mlL_argerror(L, 4, fn, "t", "row %lld is not sorted", (long long)r + 1);
            row[n++] = v;
        }
        for (int64_t j = n; j < M; j++) ml_f64(O)[r * M + j] = NAN;
        double b = bt ? ml_tensor_getd(bt, r) : beta;
        if (ml_sdf_opacity_reference(&lf.f, o + 3 * r, u + 3 * r, row, n, b, nq, ml_f64(O) + r * M) != ML_OK)
            return lsdf_raise(L, fn, &lf);
    }
    lua_pop(L, 1);
    return 1;
}

static double camnum(lua_State *L, int idx, const char *k, double def, const char *fn)
{
    lua_getfield(L, idx, k);
    double v = def;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER) mlL_argerror(L, idx, fn, "camera", "field '%s' must be a number", k);
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

static void camvec(lua_State *L, int idx, const char *k, double *dst, const double *def, const char *fn)
{
    lua_getfield(L, idx, k);
    if (lua_isnil(L, -1) && def) memcpy(dst, def, 3 * sizeof(double));
    else {
        if (!lua_istable(L, -1) || luaL_len(L, -1) != 3)
            mlL_argerror(L, idx, fn, "camera", "field '%s' must be a list of 3 numbers", k);
        for (int a = 0; a < 3; a++) {
            lua_geti(L, -1, a + 1);
            if (lua_type(L, -1) != LUA_TNUMBER) mlL_argerror(L, idx, fn, "camera", "field '%s' must be a list of 3 numbers", k);
            dst[a] = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

static void read_camera(lua_State *L, int idx, const char *fn, ml_sdf_camera *c);

/* core.sdf_camera_rays(camera) -> origins [H·W,3], dirs [H·W,3] (row-major from the top-left pixel) */
static int l_camera_rays(lua_State *L)
{
    const char *fn = "sdf.camera_rays";
    ml_sdf_camera c;
    read_camera(L, 1, fn, &c);
    int64_t sh[2] = {(int64_t)c.width * c.height, 3};
    ml_tensor *o = mlL_newtensor(L, ML_F64, 2, sh), *u = mlL_newtensor(L, ML_F64, 2, sh);
    if (ml_sdf_camera_rays(&c, o->data, u->data) != ML_OK) return mlL_raise(L, fn);
    return 2;
}

/* core.sdf_render(field, camera, opts) -> rgb [H,W,3], depth [H,W], normal [H,W,3], opacity [H,W] */
static int l_render(lua_State *L)
{
    const char *fn = "sdf.render";
    lsdf_field lf;
    lsdf_checkfield(L, 1, fn, &lf);
    ml_sdf_camera c;
    read_camera(L, 2, fn, &c);
    ml_sdf_render_opts ro = ml_sdf_render_defaults();
    int keep, quiet;
    read_sample_opts(L, 3, fn, &ro.sample, &keep, &quiet, &ro);
    int64_t sh[3] = {c.height, c.width, 3};
    ml_tensor *rgb = mlL_newtensor(L, ML_F64, 3, sh), *dep = mlL_newtensor(L, ML_F64, 2, sh);
    ml_tensor *nrm = mlL_newtensor(L, ML_F64, 3, sh), *opa = mlL_newtensor(L, ML_F64, 2, sh);
    ro.sample.progress = mlL_long_begin(L, fn, quiet);
    int rc = ml_sdf_render(&lf.f, &c, &ro, rgb->data, dep->data, nrm->data, opa->data);
    mlL_long_end(L, (ml_progress *)ro.sample.progress);
    lua_pop(L, 1);
    if (rc != ML_OK) return lsdf_raise(L, fn, &lf);
    return 4;
}

static void read_camera(lua_State *L, int idx, const char *fn, ml_sdf_camera *c)
{
    if (!lua_istable(L, idx)) mlL_argerror(L, idx, fn, "camera", "expected a table {eye, target, up, fov, width, height}");
    static const double up[3] = {0, 1, 0}, tg[3] = {0, 0, 0};
    camvec(L, idx, "eye", c->eye, NULL, fn);
    camvec(L, idx, "target", c->target, tg, fn);
    camvec(L, idx, "up", c->up, up, fn);
    c->fov = camnum(L, idx, "fov", 45, fn);
    double w = camnum(L, idx, "width", 256, fn), h = camnum(L, idx, "height", 256, fn);
    if (!(w >= 1 && w <= 16384 && w == floor(w)) || !(h >= 1 && h <= 16384 && h == floor(h)) || w * h > 67108864.0)
        mlL_argerror(L, idx, fn, "camera", "width and height must be integers in [1, 16384] with at most 2^26 pixels, got %g x %g", w, h);
    if (!(c->fov > 0 && c->fov < 180)) mlL_argerror(L, idx, fn, "camera", "fov must be in (0, 180) degrees, got %g", c->fov);
    c->width = (int)w; c->height = (int)h;
}

void lsdf_read_camera(lua_State *L, int idx, const char *fn, ml_sdf_camera *c) { read_camera(L, idx, fn, c); }

static const luaL_Reg FUNCS[] = {{"sdf_sample", l_sample}, {"sdf_camera_rays", l_camera_rays}, {"sdf_sphere_trace", l_trace},
                                 {"sdf_opacity_reference", l_opref}, {"sdf_render", l_render}, {NULL, NULL}};

void mlL_open_sdf_ray(lua_State *L) { luaL_setfuncs(L, FUNCS, 0); }
