/* moonlab — helpers shared by the Lua bindings (csrc/lua/). */
#ifndef MOONLAB_MLUA_H
#define MOONLAB_MLUA_H

#include <lua.h>
#include <lauxlib.h>
#include "moonlab/tensor.h"
#include "moonlab/runtime.h"

#define MLL_TENSOR_MT "moonlab.Tensor"

/* The ml_tensor inside userdata at idx, or a Lua error naming fname/argname. */
ml_tensor *mlL_checktensor(lua_State *L, int idx, const char *fname, const char *argname);
/* The tensor at idx, or NULL when it is not a tensor. */
ml_tensor *mlL_testtensor(lua_State *L, int idx);
/* Pushes a new zeroed tensor userdata (raises a Lua error on failure). */
ml_tensor *mlL_newtensor(lua_State *L, ml_dtype dt, int ndim, const int64_t *shape);
/* Tells the collector about t's storage (large tensors advance the GC by their size). */
void mlL_account(lua_State *L, const ml_tensor *t);
/* Pushes a tensor userdata that takes over *t (t is emptied). */
ml_tensor *mlL_pushtensor(lua_State *L, ml_tensor *t);

/* Raises a printf-formatted message (unlike luaL_error, %lld and %g work). */
int mlL_error(lua_State *L, const char *fmt, ...);
/* Raises "fname: bad argument #arg 'argname': <formatted text>". */
int mlL_argerror(lua_State *L, int arg, const char *fname, const char *argname,
                 const char *fmt, ...);
/* Raises "fname: <ml_errmsg()>" after a failed C call. */
int mlL_raise(lua_State *L, const char *fname);

/* Shared option-table reader. Kinds and the type of dst:
 *   MLL_BOOL int*, MLL_INT int64_t*, MLL_NUMBER double*, MLL_STRING const char**
 *   (valid while the table is on the stack), MLL_ENUM int* (index into the
 *   NULL-terminated `choices`), MLL_TENSOR ml_tensor** (NULL when absent),
 *   MLL_SKIP (key accepted, read by the binding itself; dst unused).
 * Absent keys leave dst untouched (the default). A wrong type or an unknown
 * key raises "unknown option 'casual' to attn.sdpa (did you mean 'causal'?)".
 * idx may be absent or nil (all defaults). */
typedef enum { MLL_END = 0, MLL_BOOL, MLL_INT, MLL_NUMBER, MLL_STRING, MLL_ENUM,
               MLL_TENSOR, MLL_SKIP } mlL_kind;
typedef struct mlL_opt {
    const char *name;
    mlL_kind kind;
    void *dst;
    const char *const *choices; /* MLL_ENUM only */
} mlL_opt;
void mlL_opts(lua_State *L, int idx, const char *fname, const mlL_opt *opts);

/* Long C calls: arms Ctrl-C (SIGINT sets the flag that ml_progress_tick reports as ML_EINTR) and draws a
 * progress bar on stderr (a terminal: after 1 s, rewritten in place; otherwise a plain line every 10 s after
 * 5 s; nothing when quiet or MOONLAB_QUIET=1). Pushes a to-be-closed guard, so an error raised before
 * mlL_long_end also disarms it. Pass the returned pointer into the C core, then call mlL_long_end before
 * raising or pushing results:
 *     ml_progress *p = mlL_long_begin(L, "chrom.solve_fd", quiet);
 *     int rc = ml_chrom_solve_fd(..., p);
 *     mlL_long_end(L, p);
 *     if (rc != ML_OK) return mlL_raise(L, "chrom.solve_fd");      // "chrom.solve_fd: interrupted"
 * Calls nest (end the inner one first). */
ml_progress *mlL_long_begin(lua_State *L, const char *label, int quiet);
void mlL_long_end(lua_State *L, ml_progress *p);

/* Registers the functions of each core into the table on top of the stack. */
void mlL_open_tensor(lua_State *L);
void mlL_open_runtime(lua_State *L);
void mlL_open_progress(lua_State *L);
void mlL_open_attn(lua_State *L);
void mlL_open_laplace(lua_State *L);
void mlL_open_gp(lua_State *L);

#endif
