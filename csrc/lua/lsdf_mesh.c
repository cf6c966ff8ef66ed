/* Lua bindings of the SDF core, part 3: mesh extraction and the PLY / OBJ / PNG writers. */
#include <math.h>
#include <string.h>
#include "lsdf.h"

/* core.sdf_marching_cubes(field, opts{bounds = {lo, hi}, resolution, quiet}) -> vertices [V,3], faces [F,3] */
static int l_mc(lua_State *L)
{
    const char *fn = "sdf.marching_cubes";
    lsdf_field lf;
    lsdf_checkfield(L, 1, fn, &lf);
    int64_t res = 64;
    int quiet = 0;
    mlL_opts(L, 2, fn, (mlL_opt[]){{"bounds", MLL_SKIP, NULL, NULL}, {"resolution", MLL_INT, &res, NULL},
                                  {"quiet", MLL_BOOL, &quiet, NULL}, {0}});
    double lo[3] = {-1.5, -1.5, -1.5}, hi[3] = {1.5, 1.5, 1.5};
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "bounds");
        if (!lua_isnil(L, -1)) {
            int ok = lua_istable(L, -1) && luaL_len(L, -1) == 2;
            for (int s = 0; ok && s < 2; s++) {
                lua_geti(L, -1, s + 1);
                ok = lua_istable(L, -1) && luaL_len(L, -1) == 3;
                for (int a = 0; ok && a < 3; a++) {
                    lua_geti(L, -1, a + 1);
                    ok = lua_type(L, -1) == LUA_TNUMBER;
                    (s ? hi : lo)[a] = lua_tonumber(L, -1);
                    lua_pop(L, 1);
                }
                lua_pop(L, 1);
            }
            if (!ok) return mlL_argerror(L, 2, fn, "bounds", "expected {{xmin,ymin,zmin},{xmax,ymax,zmax}}");
            for (int a = 0; a < 3; a++)
                if (!(hi[a] > lo[a]) || !isfinite(lo[a]) || !isfinite(hi[a]))
                    return mlL_argerror(L, 2, fn, "bounds", "expected finite lo < hi on every axis");
        }
        lua_pop(L, 1);
    }
    if (res < 2 || res > 1024) return mlL_argerror(L, 2, fn, "resolution", "expected an integer in [2, 1024], got %lld", (long long)res);
    ml_sdf_mesh m;
    ml_progress *p = mlL_long_begin(L, fn, quiet);
    int rc = ml_sdf_marching_cubes(&lf.f, lo, hi, (int)res, p, &m);
    mlL_long_end(L, p);
    lua_pop(L, 1);
    if (rc != ML_OK) return lsdf_raise(L, fn, &lf);
    /* the mesh buffers are malloc'ed: copied into tensors made without raising, then freed */
    ml_tensor tv, tf;
    int64_t sv[2] = {m.nv, 3}, sf[2] = {m.nf, 3};
    if (ml_tensor_init(&tv, ML_F64, 2, sv) != ML_OK || ml_tensor_init(&tf, ML_I64, 2, sf) != ML_OK) {
        ml_tensor_release(&tv);
        ml_sdf_mesh_free(&m);
        return mlL_raise(L, fn);
    }
    if (m.nv > 0) memcpy(tv.data, m.v, sizeof(double) * 3 * (size_t)m.nv);
    for (int64_t i = 0; i < 3 * m.nf; i++) ((int64_t *)tf.data)[i] = m.f[i] + 1;
    ml_sdf_mesh_free(&m);
    mlL_pushtensor(L, &tv);
    mlL_pushtensor(L, &tf);
    return 2;
}

/* Vertices [V,3] at vi and 1-based faces [F,3] at fi into GC-owned buffers. */
static void read_mesh(lua_State *L, int vi, int fi, const char *fn, double **v, int64_t *nv, int64_t **f, int64_t *nf)
{
    *v = lsdf_points(L, vi, fn, "vertices", nv);
    ml_tensor *F = mlL_checktensor(L, fi, fn, "faces");
    char b[64];
    if (F->ndim != 2 || F->shape[1] != 3) mlL_argerror(L, fi, fn, "faces", "expected [F,3], got %s", ml_shape_str(F, b, sizeof b));
    *nf = F->shape[0];
    *f = lua_newuserdatauv(L, sizeof(int64_t) * (size_t)(F->numel > 0 ? F->numel : 1), 0);
    for (int64_t i = 0; i < F->numel; i++) {
        double x = ml_tensor_getd(F, i);
        if (!(x >= 1 && x <= (double)*nv && x == floor(x)))
            mlL_argerror(L, fi, fn, "faces", "entry %lld is %g, expected a 1-based vertex index in [1, %lld]",
                         (long long)i + 1, x, (long long)*nv);
        (*f)[i] = (int64_t)x - 1;
    }
}

/* The path argument at idx, or an error naming fn. */
static const char *check_path(lua_State *L, int idx, const char *fn)
{
    if (lua_type(L, idx) != LUA_TSTRING)
        mlL_argerror(L, idx, fn, "path", "expected a file name (string), got %s", luaL_typename(L, idx));
    return lua_tostring(L, idx);
}

static int save_mesh(lua_State *L, int obj)
{
    const char *fn = obj ? "sdf.save_obj" : "sdf.save_ply";
    const char *path = check_path(L, 1, fn);
    double *v;
    int64_t nv, nf, *f;
    read_mesh(L, 2, 3, fn, &v, &nv, &f, &nf);
    int rc = obj ? ml_sdf_save_obj(path, v, nv, f, nf) : ml_sdf_save_ply(path, v, nv, f, nf);
    if (rc != ML_OK) return mlL_raise(L, fn);
    return 0;
}
static int l_ply(lua_State *L) { return save_mesh(L, 0); }
static int l_obj(lua_State *L) { return save_mesh(L, 1); }

/* core.sdf_save_png(path, image [H,W] | [H,W,C]) */
static int l_png(lua_State *L)
{
    const char *fn = "sdf.save_png";
    const char *path = check_path(L, 1, fn);
    ml_tensor *t = mlL_checktensor(L, 2, fn, "image");
    char b[64];
    int c = t->ndim == 2 ? 1 : (t->ndim == 3 ? (int)t->shape[2] : 0);
    if (c != 1 && c != 3 && c != 4)
        return mlL_argerror(L, 2, fn, "image", "expected [H,W] or [H,W,C] with C = 1, 3 or 4, got %s", ml_shape_str(t, b, sizeof b));
    if (t->shape[0] < 1 || t->shape[1] < 1 || t->shape[0] > 65536 || t->shape[1] > 65536)
        return mlL_argerror(L, 2, fn, "image", "expected 1..65536 rows and columns, got %s", ml_shape_str(t, b, sizeof b));
    double *img = lua_newuserdatauv(L, sizeof(double) * (size_t)t->numel, 0);
    for (int64_t i = 0; i < t->numel; i++) img[i] = ml_tensor_getd(t, i);
    if (ml_sdf_save_png(path, img, (int)t->shape[0], (int)t->shape[1], c) != ML_OK) return mlL_raise(L, fn);
    return 0;
}

static const luaL_Reg FUNCS[] = {{"sdf_marching_cubes", l_mc}, {"sdf_save_ply", l_ply}, {"sdf_save_obj", l_obj},
                                 {"sdf_save_png", l_png}, {NULL, NULL}};

void mlL_open_sdf_mesh(lua_State *L) { luaL_setfuncs(L, FUNCS, 0); }
