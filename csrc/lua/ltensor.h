/* Internal helpers shared by the tensor binding files (ltensor*.c). */
#ifndef MOONLAB_LTENSOR_H
#define MOONLAB_LTENSOR_H

#include "mlua.h"

/* The tensor at idx as stored (possibly a strided view), or NULL. */
ml_tensor *lt_test(lua_State *L, int idx);
/* The same, raising "fname: bad argument #idx 'argname': ..." when absent or closed. */
ml_tensor *lt_check(lua_State *L, int idx, const char *fname, const char *argname);
#define LT_SELF(fname) lt_check(L, 1, fname, "self")

/* Pushes a new result tensor whose elements the caller overwrites entirely (contents unset);
 * a failed allocation raises "fname: ...". */
ml_tensor *lt_newout(lua_State *L, const char *fname, ml_dtype dt, int nd, const int64_t *shape);
/* Pushes a userdata that takes over the view *v (emptied). */
ml_tensor *lt_pushview(lua_State *L, ml_tensor *v);
/* Pushes a view made by rc = ml_tensor_<view>(&v, ...): raises "fname: <message>" when rc fails. */
ml_tensor *lt_pushview_rc(lua_State *L, int rc, ml_tensor *v, const char *fname);

/* dtype argument at idx ("f32", ...); def when absent (def < 0: required). */
ml_dtype lt_checkdtype(lua_State *L, int idx, const char *fname, int def);
/* A shape given as a table at idx or as sizes idx..top; sizes >= 0, with one -1
 * allowed when numel >= 0 (it is inferred so that the shape has numel elements). */
int lt_checkshape(lua_State *L, int idx, const char *fname, const char *argname, int64_t *shape, int64_t numel);
/* A 1-based dim at idx (negative counts from the end) for a tensor of nd dims;
 * returns it 0-based. extra = 1 allows nd + 1 (unsqueeze). */
int lt_checkdim(lua_State *L, int idx, int nd, const char *fname, int extra);
lua_Integer lt_checkint(lua_State *L, int idx, const char *fname, const char *argname);
double lt_checknum(lua_State *L, int idx, const char *fname, const char *argname);

/* Pushes the element at p of dtype dt (number, integer or boolean). */
void lt_pushelem(lua_State *L, ml_dtype dt, const void *p);
/* Stores the number/boolean at idx into the element at p; raises when it does not fit. */
void lt_storeelem(lua_State *L, const char *fname, ml_dtype dt, void *p, int idx);
/* Fills t (any strides) with the number/boolean at idx. */
void lt_fillvalue(lua_State *L, const char *fname, ml_tensor *t, int idx);
/* NULL when the number/boolean at idx fits dtype dt, else why not. */
const char *lt_value_fits(ml_dtype dt, lua_State *L, int idx);

/* t converted to dt: t itself, or a converted copy pushed on the stack (anchored there). */
ml_tensor *lt_as(lua_State *L, ml_tensor *t, ml_dtype dt, const char *fname);
/* t as a contiguous tensor: t itself, or a copy pushed on the stack. */
ml_tensor *lt_contig(lua_State *L, ml_tensor *t, const char *fname);
/* The value at idx (tensor, number or boolean) as a tensor of dtype dt, pushed when converted. */
ml_tensor *lt_operand(lua_State *L, int idx, ml_dtype dt, const char *fname, const char *argname);
/* The dtype a Lua number/boolean at idx takes next to a tensor of dtype dt (NumPy's NEP 50 rules). */
ml_dtype lt_scalar_dtype(lua_State *L, int idx, ml_dtype dt);

/* Method and function tables of the binding files, registered by mlL_open_tensor. */
extern const luaL_Reg lt_view_methods[], lt_view_functions[];
extern const luaL_Reg lt_ops_methods[], lt_ops_functions[];
extern const luaL_Reg lt_io_methods[], lt_io_functions[];
extern const luaL_Reg lt_linalg_methods[], lt_linalg_functions[];
/* __index / __newindex for t[i], t[{...}], t[mask] (ltensor_view.c). */
int lt_index(lua_State *L);
int lt_newindex(lua_State *L);
/* tostring(t) and set_printoptions (ltensor_io.c). */
int lt_tostring(lua_State *L);

#endif
