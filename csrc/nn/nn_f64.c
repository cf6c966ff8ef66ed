/* nn — the layers and the model instantiated for double (each *_tmpl.h is one layer's forward/backward). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include "moonlab/attn.h"
#include "moonlab/runtime.h"
#include "nn/nn_internal.h"

#define R double
#define S(name) name##_f64
#define MLDT ML_F64
#define CBLAS_GEMM cblas_dgemm

#include "nn/gemm_tmpl.h"
#include "nn/embed_tmpl.h"
#include "nn/rmsnorm_tmpl.h"
#include "nn/rope_tmpl.h"
#include "nn/swiglu_tmpl.h"
#include "nn/xent_tmpl.h"
#include "nn/attnblock_tmpl.h"
#include "nn/model_tmpl.h"
#include "nn/generate_tmpl.h"
#include "nn/adamw_tmpl.h"

/* Single-layer entry points in f64 for the finite-difference specs (spec/nn_layers_spec.lua). */
void nn_layer_rmsnorm_f64(const double *x, const double *w, int64_t N, int64_t D, double eps, double *y,
                          double *r, const double *dy, double *dx, double *dw) {
    rmsnorm_fwd_f64(x, w, N, D, eps, y, r);
    if (dy) rmsnorm_bwd_f64(x, w, r, dy, N, D, dx, dw);
}
void nn_layer_rope_f64(double *x, int64_t BH, int64_t T, int64_t Dh, const double *cs, const double *sn, int sign) {
    rope_f64(x, BH, T, Dh, 0, cs, sn, sign);
}
void nn_layer_swiglu_f64(const double *u, const double *g, int64_t n, double *s, const double *ds, double *du,
                         double *dg) {
    swiglu_fwd_f64(u, g, n, s);
    if (ds) swiglu_bwd_f64(u, g, ds, n, du, dg);
}
double nn_layer_xent_f64(const double *z, const int64_t *y, int64_t N, int64_t V, double *dz) {
    if (dz) xent_bwd_f64(z, y, N, V, dz);
    return xent_fwd_f64(z, y, N, V);
}
void nn_layer_embed_f64(const int64_t *tok, int64_t N, int64_t D, const double *wte, double *x, const double *dx,
                        double *dwte) {
    embed_fwd_f64(tok, N, D, wte, x);
    if (dx) embed_bwd_f64(tok, N, D, dx, dwte);
}
