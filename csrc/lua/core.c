/* luaopen_moonlab_core: the C side of `require "moonlab.core"`. */
#include "mlua.h"

/* Cores are referenced weakly so that the module links while a core is absent. */
#pragma weak mlL_open_attn
#pragma weak mlL_open_laplace
#pragma weak mlL_open_moe
#pragma weak mlL_open_gp
#pragma weak mlL_open_proc
#pragma weak mlL_open_sdf
#pragma weak mlL_open_nn

int luaopen_moonlab_core(lua_State *L)
{
    lua_newtable(L);
    mlL_open_tensor(L);
    mlL_open_runtime(L);
    mlL_open_progress(L);
    mlL_open_names(L);
    if (mlL_open_attn) mlL_open_attn(L);
    if (mlL_open_laplace) mlL_open_laplace(L);
    if (mlL_open_moe) mlL_open_moe(L);
    if (mlL_open_gp) mlL_open_gp(L);
    if (mlL_open_proc) mlL_open_proc(L);
    if (mlL_open_sdf) mlL_open_sdf(L);
    if (mlL_open_nn) mlL_open_nn(L);
    return 1;
}
