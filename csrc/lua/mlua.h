/* moonlab — helpers shared by the Lua bindings (csrc/lua/). */
#ifndef MOONLAB_MLUA_H
#define MOONLAB_MLUA_H

#include <stdarg.h>
#include <lua.h>
#include <lauxlib.h>
#include "moonlab/tensor.h"
#include "moonlab/runtime.h"

#define MLL_TENSOR_MT "moonlab.Tensor"

/* The ml_tensor inside userdata at idx, or a Lua error naming fname/argname.
 * Its data is always contiguous row-major: for a strided view (t:transpose(),
 * t[{{}, 2}], ...) this returns a contiguous copy kept alive by the view and
 * refreshed on each call, so C cores never see strides. Writes into that copy
 * do not reach the view: pass contiguous tensors as outputs. Empty tensors
 * (a size-0 dim) are refused here. */
ml_tensor *mlL_checktensor(lua_State *L, int idx, const char *fname, const char *argname);
/* The tensor at idx (contiguous, as for mlL_checktensor), or NULL when it is not a tensor. */
ml_tensor *mlL_testtensor(lua_State *L, int idx);
/* t (the tensor userdata at idx) itself when contiguous, else its refreshed contiguous copy. */
ml_tensor *mlL_contiguous_arg(lua_State *L, int idx, ml_tensor *t, const char *fname);
/* Pushes a new zeroed tensor userdata. A failure raises "<public name>: <reason>" with the
 * name of the function the user called (see mlL_public_name). */
ml_tensor *mlL_newtensor(lua_State *L, ml_dtype dt, int ndim, const int64_t *shape);
/* As mlL_newtensor, without zeroing: for outputs the C call writes in full before Lua can see them. */
ml_tensor *mlL_newtensor_uninit(lua_State *L, ml_dtype dt, int ndim, const int64_t *shape);
/* Tells the collector about t's storage (large tensors advance the GC by their size). */
void mlL_account(lua_State *L, const ml_tensor *t);
/* Pushes a tensor userdata that takes over *t (t is emptied). */
ml_tensor *mlL_pushtensor(lua_State *L, ml_tensor *t);

/* Raises a printf-formatted message (unlike luaL_error, %lld and %g work; any length; a NaN
 * prints as "nan", never "-nan"). */
int mlL_error(lua_State *L, const char *fmt, ...);
/* Pushes the formatted text, formatted like mlL_error. */
void mlL_pushvfstring(lua_State *L, const char *fmt, va_list ap);
/* Raises "fname: bad argument #arg 'argname': <formatted text>". */
int mlL_argerror(lua_State *L, int arg, const char *fname, const char *argname,
                 const char *fmt, ...);
/* Argument checks that name the public function (instead of luaL_check*, whose messages name the
 * internal C function: "bad argument #1 to 'laplace_stehfest_weights'"). Each raises
 * "fname: bad argument #arg 'argname': expected an integer, got 2.5" (a number as given, "nan"
 * for NaN, else the type name). The opt variants return def for none/nil. mlL_checkinteger
 * also takes a range [lo, hi] ("expected an integer in 1..64, got 65"). */
lua_Integer mlL_checkinteger(lua_State *L, int arg, const char *fname, const char *argname,
                             lua_Integer lo, lua_Integer hi);
lua_Integer mlL_optinteger(lua_State *L, int arg, const char *fname, const char *argname,
                           lua_Integer lo, lua_Integer hi, lua_Integer def);
/* A number; finite_only rejects NaN and ±inf. */
double mlL_checknumber(lua_State *L, int arg, const char *fname, const char *argname, int finite_only);
double mlL_optnumber(lua_State *L, int arg, const char *fname, const char *argname, int finite_only,
                     double def);
const char *mlL_checkstring(lua_State *L, int arg, const char *fname, const char *argname);
/* Userdata with metatable tname ("moonlab.LaplaceFn"), else "expected a <what>, got <type>". */
void *mlL_checkudata(lua_State *L, int arg, const char *tname, const char *fname, const char *argname,
                     const char *what);
/* Pushes "2.5" / "nan" / "-inf" for a number at idx, else its type name ("table"). */
const char *mlL_pushgot(lua_State *L, int idx);

/* Raises "fname: <ml_errmsg()>" after a failed C call (for ML_ECALLBACK the full text kept
 * by mlL_callback_error). */
int mlL_raise(lua_State *L, const char *fname);

/* Shared option-table reader. Kinds and the type of dst:
 *   MLL_BOOL int*, MLL_INT int64_t*, MLL_NUMBER double*, MLL_STRING const char**,
 *   MLL_ENUM int* (index into the NULL-terminated `choices`), MLL_TENSOR ml_tensor**
 *   (NULL when absent), MLL_SKIP (key accepted, read by the binding itself; dst unused).
 * Absent keys leave dst untouched (the default). A wrong type or an unknown key raises
 * "unknown option 'casual' to attn.sdpa (did you mean 'causal'?)". idx may be absent or nil.
 * Flags OR-ed into the kind ({"heads", MLL_INT | MLL_REQUIRED, &h, NULL}) add checks with
 * uniform messages:
 *   MLL_REQUIRED  "fname: missing required option 'heads'" when absent (never "got 0");
 *   MLL_FINITE    MLL_NUMBER must be finite ("... must be a finite number, got nan");
 *   MLL_POSITIVE  MLL_INT / MLL_NUMBER must be > 0;
 *   MLL_INT32     MLL_INT must fit a C int (no silent truncation: {M = 2^32 + 8} is refused).
 * Lifetime (the reader's safety rule): every declared key, MLL_SKIP ones included, is fetched
 * exactly once (through __index when the table has one) into a fresh plain table that REPLACES
 * the table at idx. Strings and tensors read stay referenced by that copy for the rest of the
 * C call, whatever a metamethod, __gc or a callback does to the user's table; the binding reads
 * MLL_SKIP keys from the copy (lua_getfield(L, idx, ...) after the call, no metamethods run).
 * Pointers stay valid while slot idx is untouched (until the binding returns). */
typedef enum { MLL_END = 0, MLL_BOOL, MLL_INT, MLL_NUMBER, MLL_STRING, MLL_ENUM,
               MLL_TENSOR, MLL_SKIP } mlL_kind;
enum { MLL_REQUIRED = 0x100, MLL_FINITE = 0x200, MLL_POSITIVE = 0x400, MLL_INT32 = 0x800,
       MLL_KINDMASK = 0xff };
typedef struct mlL_opt {
    const char *name;
    int kind;                   /* an mlL_kind, optionally | flags */
    void *dst;
    const char *const *choices; /* MLL_ENUM only */
} mlL_opt;
void mlL_opts(lua_State *L, int idx, const char *fname, const mlL_opt *opts);

/* ---- Anchoring: what C reads must outlive every Lua callback of the call ----
 * A tensor a binding reads while a Lua callback can run (a user F(s), an SDF or a potential
 * written in Lua, a progress hook) must survive `t:close()` and collectgarbage() inside that
 * callback. mlL_pin takes a reference on the tensor's refcounted storage into a private
 * ml_tensor and pushes a to-be-closed guard that drops it when the binding returns or raises;
 * read the returned tensor, never the user's userdata:
 *     const ml_tensor *t = mlL_pin(L, 2, "laplace.invert", "t");  // pushes the guard
 *     ... ml_laplace_invert(..., t->data, ...)  // callbacks may close the user's tensor
 * The pin has the same dtype, shape and data pointer (a borrowed tensor is copied). After a
 * pin, do not lua_remove/lua_insert/lua_replace slots below it (lua_settop/lua_pop are fine),
 * as for any to-be-closed slot. mlL_pintensor pins a tensor already checked (e.g. read
 * from an option with MLL_TENSOR). Raises "fname: bad argument ..." like mlL_checktensor. */
const ml_tensor *mlL_pin(lua_State *L, int idx, const char *fname, const char *argname);
const ml_tensor *mlL_pintensor(lua_State *L, const ml_tensor *t, const char *fname);

/* ---- Lua callbacks called from C ----
 * mlL_callback_error turns the error value on top of the stack (popped) into text — a string,
 * a number, an object with __tostring (called protected), or "(error object is a table value)"
 * — prefixes it with the formatted context ("F raised an error at s = 1+2i"), keeps the full
 * text (any length: nested callback errors are never cut) in the registry, records a short
 * copy with ml_fail(ML_ECALLBACK, ...) and returns ML_ECALLBACK for the C core to pass up.
 * mlL_raise(L, fname) later raises "fname: <full text>" for it. Call it on the binding's
 * thread only (where the callback ran). mlL_errtext converts the value at idx the same way
 * and returns it (the string is pushed; pop it when done). */
int mlL_callback_error(lua_State *L, const char *fmt, ...);
/* Used by mlL_raise: pushes the kept full text when it belongs to the current ml_errmsg() and
 * returns 1 (else pushes nothing and returns 0); forgets it either way. */
int mlL_pushcallbackerror(lua_State *L);
const char *mlL_errtext(lua_State *L, int idx);

/* ---- Public names ----
 * The public name of the moonlab function the user called ("tensor.zeros", "tensor:clone",
 * "chrom.fit"), found from the call stack: the outermost frame, before user code, whose function
 * is a field of a loaded moonlab module (or a Tensor method); NULL when none is (e.g. a
 * tail call from a wrapper). Pushes nothing. mlL_newtensor and other shared helpers that take
 * no fname prefix their errors with it, so "out of memory allocating ..." always says which
 * function the user called. The returned string lives in the registry until the next call. */
const char *mlL_public_name(lua_State *L);
/* Raises the error value on top of the stack. When a moonlab Lua function (tensor:clamp, nn.model:forward)
 * called the public function that raises, a string message that does not already name that outer function
 * gets it as a prefix ("tensor:clamp: tensor:maximum: bad argument #2 ..."), so the message names the function
 * the user called. mlL_error, mlL_argerror and mlL_raise raise through it. */
int mlL_throw(lua_State *L);
/* Registers core.public_methods(prefix, methods) (the method table of a Lua object type, e.g. "nn.model": its
 * functions are then found by mlL_public_name as "nn.model:forward"). */
void mlL_open_names(lua_State *L);
/* Raises "<public name>: <formatted text>" (the name from mlL_public_name, else "moonlab"). */
int mlL_errorhere(lua_State *L, const char *fmt, ...);

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
void mlL_open_moe(lua_State *L);
void mlL_open_gp(lua_State *L);
void mlL_open_proc(lua_State *L);
void mlL_open_sdf(lua_State *L);
void mlL_open_nn(lua_State *L);

#endif
