/* moonlab — single-layer hooks of the nn core in f64 (core._nn_layer), for spec/nn_layers_spec.lua's
 * finite-difference checks of each layer's backward. Not public API. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "mlua.h"
#include "nn/nn_internal.h"

static const char *FN = "nn._layer";

static ml_tensor *f64arg(lua_State *L, int idx, const char *name, int ndim) {
    ml_tensor *t = mlL_checktensor(L, idx, FN, name);
    if (t->dtype != ML_F64 || t->ndim != ndim) mlL_argerror(L, idx, FN, name, "expected a %d-d f64 tensor", ndim);
    return t;
}

static ml_tensor *like(lua_State *L, const ml_tensor *t) { return mlL_newtensor(L, ML_F64, t->ndim, t->shape); }

/* core._nn_layer(name, ...) -> outputs (see spec/nn_layers_spec.lua) */
static int l_nn_layer(lua_State *L) {
    const char *name = mlL_checkstring(L, 1, FN, "name");
    if (!strcmp(name, "rmsnorm")) { /* x [N,D], w [D], dy [N,D] -> y, dx, dw */
        ml_tensor *x = f64arg(L, 2, "x", 2), *w = f64arg(L, 3, "w", 1), *dy = f64arg(L, 4, "dy", 2);
        int64_t N = x->shape[0], D = x->shape[1];
        if (w->numel != D || dy->numel != x->numel) return mlL_error(L, "%s: shapes", FN);
        ml_tensor *y = like(L, x), *dx = like(L, x), *dw = like(L, w);
        double *r = malloc(sizeof(double) * (size_t)N);
        nn_layer_rmsnorm_f64(x->data, w->data, N, D, 1e-5, y->data, r, dy->data, dx->data, dw->data);
        free(r);
        return 3;
    }
    if (!strcmp(name, "rope")) { /* x [BH,T,Dh], sign -> rotated copy */
        ml_tensor *x = f64arg(L, 2, "x", 3);
        int sign = (int)mlL_checkinteger(L, 3, FN, "sign", -1, 1);
        int64_t T = x->shape[1], Dh = x->shape[2];
        if (Dh % 2) return mlL_error(L, "%s: odd head size", FN);
        double *cs = malloc(sizeof(double) * (size_t)(T * Dh / 2)), *sn = malloc(sizeof(double) * (size_t)(T * Dh / 2));
        for (int64_t t = 0; t < T; t++)
            for (int64_t j = 0; j < Dh / 2; j++) {
                double th = (double)t * pow(10000.0, -2.0 * (double)j / (double)Dh);
                cs[t * (Dh / 2) + j] = cos(th);
                sn[t * (Dh / 2) + j] = sin(th);
            }
        ml_tensor *y = like(L, x);
        memcpy(y->data, x->data, sizeof(double) * (size_t)x->numel);
        nn_layer_rope_f64(y->data, x->shape[0], T, Dh, cs, sn, sign);
        free(cs); free(sn);
        return 1;
    }
    if (!strcmp(name, "swiglu")) { /* u, g, ds (same shape) -> s, du, dg */
        ml_tensor *u = f64arg(L, 2, "u", 2), *g = f64arg(L, 3, "g", 2), *ds = f64arg(L, 4, "ds", 2);
        if (g->numel != u->numel || ds->numel != u->numel) return mlL_error(L, "%s: shapes", FN);
        ml_tensor *s = like(L, u), *du = like(L, u), *dg = like(L, u);
        nn_layer_swiglu_f64(u->data, g->data, u->numel, s->data, ds->data, du->data, dg->data);
        return 3;
    }
    if (!strcmp(name, "xent")) { /* z [N,V], y i64 [N] -> loss, dz */
        ml_tensor *z = f64arg(L, 2, "z", 2), *y = mlL_checktensor(L, 3, FN, "y");
        if (y->dtype != ML_I64 || y->numel != z->shape[0]) return mlL_error(L, "%s: y", FN);
        for (int64_t i = 0; i < y->numel; i++)
            if (((int64_t *)y->data)[i] < 0 || ((int64_t *)y->data)[i] >= z->shape[1]) return mlL_error(L, "%s: y", FN);
        ml_tensor *dz = like(L, z);
        lua_pushnumber(L, nn_layer_xent_f64(z->data, y->data, z->shape[0], z->shape[1], dz->data));
        lua_insert(L, -2);
        return 2;
    }
    if (!strcmp(name, "embed")) { /* tok i64 [N], wte [V,D], dx [N,D] -> x, dwte */
        ml_tensor *tok = mlL_checktensor(L, 2, FN, "tok"), *wte = f64arg(L, 3, "wte", 2), *dx = f64arg(L, 4, "dx", 2);
        int64_t N = tok->numel, D = wte->shape[1];
        if (tok->dtype != ML_I64 || dx->shape[0] != N || dx->shape[1] != D) return mlL_error(L, "%s: shapes", FN);
        for (int64_t i = 0; i < N; i++)
            if (((int64_t *)tok->data)[i] < 0 || ((int64_t *)tok->data)[i] >= wte->shape[0]) return mlL_error(L, "%s: tok", FN);
        ml_tensor *x = like(L, dx), *dw = like(L, wte);
        nn_layer_embed_f64(tok->data, N, D, wte->data, x->data, dx->data, dw->data);
        return 2;
    }
    return mlL_error(L, "%s: unknown layer '%s'", FN, name);
}

void mlL_open_nn_layers(lua_State *L) {
    lua_pushcfunction(L, l_nn_layer);
    lua_setfield(L, -2, "_nn_layer");
}
