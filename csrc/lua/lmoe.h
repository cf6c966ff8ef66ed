/* Helpers shared by the MoE binding files (lmoe.c, lmoe_gmoe.c, lmoe_layer.c). */
#ifndef MOONLAB_LMOE_H
#define MOONLAB_LMOE_H

#include "mlua.h"
#include "moonlab/moe.h"

/* Index outputs are i64 tensors (1-based). */
#define LMOE_I64 ML_I64
#define LMOE_IDX_AS_F64 0
#define LMOE_IDX_DTYPE ML_I64

/* Pushes a new index tensor and returns its int64 storage; call lmoe_finish_index on it when filled. */
int64_t *lmoe_new_index(lua_State *L, int ndim, const int64_t *shape);
void lmoe_finish_index(lua_State *L, int idx);
/* int64 view of the index tensor at idx with numel elements (other dtypes are converted, replacing the
 * stack slot idx with the converted copy). */
const int64_t *lmoe_check_index(lua_State *L, int idx, const char *fname, int arg, const char *argname,
                                int64_t numel);
/* Reads router options at idx for logits with E experts; pushes one value (the bias copy or nil) that must
 * stay on the stack while o is used. return_probs NULL: the option is rejected. */
void lmoe_route_opts(lua_State *L, int idx, int arg, const char *fn, int64_t E, ml_moe_route_opts *o,
                     double **bias, int *return_probs);

void lmoe_open_gmoe(lua_State *L);
void lmoe_open_layer(lua_State *L);

#endif
