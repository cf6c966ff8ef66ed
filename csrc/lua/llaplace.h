/* moonlab — what the Laplace binding (llaplace.c) shares with the chromatography
 * binding (lchrom.c): the LaplaceFn userdata that carries a C transform. */
#ifndef MOONLAB_LLAPLACE_H
#define MOONLAB_LLAPLACE_H

#include "mlua.h"
#include "moonlab/laplace.h"

#define LFN_MT "moonlab.LaplaceFn"

/* A C transform owned by Lua: the function, and parameters freed by __gc. */
typedef struct {
    ml_laplace_fn fn;
    void *owned;
    void (*free_owned)(void *);
    char label[96];
} lfn_ud;

/* Pushes a LaplaceFn userdata (owned may be NULL; fr frees it on __gc). */
lfn_ud *mlL_lfn_push(lua_State *L, ml_laplace_fn fn, void *owned, void (*fr)(void *),
                     const char *label);
/* Registers the chrom_* functions into the table on top of the stack. */
void mlL_chrom_funcs(lua_State *L);

#endif
