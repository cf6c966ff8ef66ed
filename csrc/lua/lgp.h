/* Shared pieces of the GP bindings (lgp*.c). */
#ifndef MOONLAB_LGP_H
#define MOONLAB_LGP_H

#include "mlua.h"
#include "moonlab/gp.h"

#define LGP_KERNEL_MT "moonlab.GPKernel"
#define LGP_GP_MT "moonlab.GP"
#define LGP_POT_MT "moonlab.GPPotential"

/* f64 data of a tensor argument with ndim 1 or 2 (f32 is converted into a tensor left on the
 * stack); *rows and *cols receive the shape ([n] counts as n rows of 1 column when want2 = 0).
 * want_cols > 0 checks the column count. */
const double *lgp_tensor(lua_State *L, int idx, const char *fname, const char *argname, int ndim,
                         int64_t *rows, int64_t *cols, int64_t want_cols);
ml_gp_kernel *lgp_checkkernel(lua_State *L, int idx, const char *fname);
/* Pushes a kernel userdata owning k (raises with fname when k is NULL). */
void lgp_pushkernel(lua_State *L, ml_gp_kernel *k, const char *fname);
void lgp_open_kernel(lua_State *L);
void lgp_open_model(lua_State *L);
void lgp_open_pot(lua_State *L);
void lgp_open_search(lua_State *L);

/* A potential userdata: the C potential, owned parameters, and for Lua functions the state. */
typedef struct {
    ml_gp_potential p;
    ml_gp_lj_params lj;
    ml_gp_morse_params morse;
    double *frozen;
    int kind;            /* 0 builtin, 1 Lua function */
    lua_State *L;        /* Lua function: the state of the running call */
    int fidx;            /* stack index of the function during a call */
    char msg[512];
} lgp_pot;
lgp_pot *lgp_checkpot(lua_State *L, int idx, const char *fname);
/* Arms a potential for a C call from this binding: the function is pushed (anchored). */
void lgp_pot_arm(lua_State *L, lgp_pot *u, int idx);
/* Raises after a failed C call, with the Lua callback's own message when it failed. */
int lgp_raise(lua_State *L, const char *fname, lgp_pot *u, int rc);

#endif
