/* Shared by the SDF bindings (lsdf.c, lsdf_ray.c, lsdf_mesh.c). */
#ifndef MOONLAB_LSDF_H
#define MOONLAB_LSDF_H

#include "mlua.h"
#include "moonlab/sdf.h"

#define SDF_SCENE_MT "moonlab.SdfScene"

/* A field argument: a compiled scene userdata or a table {fn, exact = bool} (a Lua SDF, the slow path). */
typedef struct lsdf_field {
    ml_sdf_field f;
    lua_State *L;
    int fn_idx;       /* absolute stack index of the Lua function (0 for a scene) */
    char err[400];    /* message of a failed callback */
} lsdf_field;

/* Reads the field at idx into *lf (which must stay alive for the call). */
void lsdf_checkfield(lua_State *L, int idx, const char *fname, lsdf_field *lf);
/* Raises "fname: <message>" after a failed C call, naming a failed Lua callback's own error. */
int lsdf_raise(lua_State *L, const char *fname, const lsdf_field *lf);
/* Copies a [n,3] tensor at idx into a GC-owned buffer pushed on the stack (finite values checked). */
double *lsdf_points(lua_State *L, int idx, const char *fname, const char *argname, int64_t *n);
/* Reads an int64 option value into an int within [lo, hi]. */
int lsdf_int(lua_State *L, int64_t v, int lo, int hi, const char *fname, const char *name);

/* 1 and the grid's field in *f when idx holds a grid SDF userdata (lsdf_fit.c). */
int lsdf_testgrid(lua_State *L, int idx, ml_sdf_field *f);
/* Reads a camera table {eye, target, up, fov, width, height} (lsdf_ray.c). */
void lsdf_read_camera(lua_State *L, int idx, const char *fn, ml_sdf_camera *c);

void mlL_open_sdf_ray(lua_State *L);
void mlL_open_sdf_fit(lua_State *L);
void mlL_open_sdf_mesh(lua_State *L);

#endif
