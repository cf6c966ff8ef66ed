/* Lua bindings of the GP core (core.gp_*; wrapped by lua/moonlab/gp.lua): registration and the
 * helpers the lgp_*.c files share. */
#include <string.h>
#include "lgp.h"

const double *lgp_tensor(lua_State *L, int idx, const char *fname, const char *argname, int ndim,
                         int64_t *rows, int64_t *cols, int64_t want_cols)
{
    idx = lua_absindex(L, idx);
    ml_tensor *t = mlL_testtensor(L, idx);
    if (!t)
        mlL_argerror(L, idx, fname, argname, "expected a %s tensor, got %s", ndim == 2 ? "[n,D]" : "[D]",
                     luaL_typename(L, idx));
    if (!t->data) mlL_argerror(L, idx, fname, argname, "tensor was closed");
    char sh[96];
    if (t->ndim != ndim)
        mlL_argerror(L, idx, fname, argname, "expected %s, got %s", ndim == 2 ? "[n,D]" : "[D]",
                     ml_shape_str(t, sh, sizeof sh));
    *rows = ndim == 2 ? t->shape[0] : 1;
    *cols = t->shape[ndim - 1];
    if (*rows < 1 || *cols < 1)
        mlL_argerror(L, idx, fname, argname, "expected a non-empty tensor, got %s", ml_shape_str(t, sh, sizeof sh));
    if (want_cols > 0 && *cols != want_cols)
        mlL_argerror(L, idx, fname, argname, "expected %lld columns (coordinates), got %s", (long long)want_cols,
                     ml_shape_str(t, sh, sizeof sh));
    if (t->dtype == ML_F64) return ml_f64(t);
    ml_tensor *c = mlL_newtensor(L, ML_F64, t->ndim, t->shape);
    ml_tensor_copy(c, t);
    return ml_f64(c);
}

void mlL_open_gp(lua_State *L)
{
    lgp_open_kernel(L);
    lgp_open_model(L);
    lgp_open_pot(L);
    lgp_open_search(L);
}
