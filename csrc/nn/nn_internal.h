/* moonlab nn — the model struct and the activation layout shared by the files of the core. */
#ifndef MOONLAB_NN_INTERNAL_H
#define MOONLAB_NN_INTERNAL_H

#include "moonlab/nn.h"
#include "moonlab/moe.h"

/* Offsets (in elements) of one layer's parameters in the flat buffer. */
/* MoE feed-forward (ffn = moe): wr [D,E] is the router, w1/w3 [E,D,F] and w2 [E,F,D] the experts. */
typedef struct { int64_t ln1, wq, wk, wv, wg, wo, ln2, wr, w1, w3, w2; } nn_layer_params;

/* Per-layer activations kept for backward (element offsets into the activation arena). Layouts:
 * "NT" rows are tokens (b,t); "BHTD" is the attention core's [B,H,T,Dh]. */
enum { A_XIN, A_H, A_R1, A_Q, A_K, A_V, A_Z, A_Y, A_O, A_LSE, A_AO, A_XMID, A_H2, A_R2, A_U, A_G, A_S,
       A_COUNT };

/* Scratch for backward (offsets into the same arena, shared by all layers). */
enum { S_DX, S_DH, S_DQ, S_DK, S_DV, S_DZ, S_DO, S_DAO, S_T1, S_T2, S_DU, S_DG, S_DS, S_DLOGITS,
       S_COUNT };

struct ml_nn_model {
    ml_nn_config c;
    int64_t dh, gcols;          /* head dim; gate scores per head (0, 1 or dh) */
    int64_t nparams;
    int64_t wte, lnf, head;     /* head = -1 when tied */
    nn_layer_params *lp;
    unsigned char *decay;       /* per parameter: 1 when weight decay applies (matrices) */
    void *p, *g, *m1, *m2;      /* params, grads, AdamW moments: dtype c.dtype, nparams each */
    int64_t step;
    double *rope_cos, *rope_sin; /* [context, dh/2] */
    /* activations of the last forward */
    void *arena;
    int64_t cap_n;              /* capacity in tokens */
    int64_t (*la)[A_COUNT];     /* per-layer offsets */
    int64_t sa[S_COUNT];
    int64_t xf, hf, rf, logits; /* final norm input/output/inverse rms, logits */
    int64_t B, T, *tok, *tgt;
    int have_targets;
    double loss;
    /* MoE feed-forward (moeffn.c): per-layer caches for mc_T tokens, a one-token cache for decoding,
     * scratch gradients of one layer's MoE parameters, the router losses of the last forward */
    ml_moe_layer_cache **mc, *mc1;
    int64_t mc_T;
    void *mgrad;
    double aux;
};

int nn_arena_reserve(ml_nn_model *m, int64_t B, int64_t T);

/* MoE feed-forward glue (moeffn.c). nn_moe_reserve sizes the per-layer caches for N tokens (and the
 * one-token cache); nn_moe_forward writes y [N,D] = MoE(h) of layer l with cache c and adds the router
 * losses to m->aux; nn_moe_backward writes dh [N,D] from dy and accumulates the layer's parameter
 * gradients (router losses with weight 1, their coefficients being part of the loss). */
int nn_moe_reserve(ml_nn_model *m, int64_t N);
void nn_moe_free(ml_nn_model *m);
int nn_moe_forward(ml_nn_model *m, int64_t l, ml_moe_layer_cache *c, const void *h, void *y, int64_t N);
int nn_moe_backward(ml_nn_model *m, int64_t l, const void *h, const void *dy, void *dh, int64_t N);

/* Typed bodies (nn_f32.c / nn_f64.c). */
int nn_forward_f32(ml_nn_model *m, float *logits_out);
int nn_forward_f64(ml_nn_model *m, double *logits_out);
int nn_backward_f32(ml_nn_model *m);
int nn_backward_f64(ml_nn_model *m);
int nn_generate_f32(ml_nn_model *m, const int64_t *prompt, int64_t P, int64_t n, double temperature,
                    int64_t top_k, uint64_t seed, int64_t *out);
int nn_generate_f64(ml_nn_model *m, const int64_t *prompt, int64_t P, int64_t n, double temperature,
                    int64_t top_k, uint64_t seed, int64_t *out);
int nn_stats_f32(ml_nn_model *m, double *f_attn, double *m_act, double *gmean, double *gsparse, double *fheads);
int nn_stats_f64(ml_nn_model *m, double *f_attn, double *m_act, double *gmean, double *gsparse, double *fheads);
int nn_adamw_f32(ml_nn_model *m, const ml_nn_adamw *o, double lr, double *gnorm);
int nn_adamw_f64(ml_nn_model *m, const ml_nn_adamw *o, double lr, double *gnorm);

/* Single layers in f64 (nn_f64.c), for the finite-difference specs through the binding. */
void nn_layer_rmsnorm_f64(const double *x, const double *w, int64_t N, int64_t D, double eps, double *y,
                          double *r, const double *dy, double *dx, double *dw);
void nn_layer_rope_f64(double *x, int64_t BH, int64_t T, int64_t Dh, const double *cs, const double *sn, int sign);
void nn_layer_swiglu_f64(const double *u, const double *g, int64_t n, double *s, const double *ds, double *du,
                         double *dg);
double nn_layer_xent_f64(const double *z, const int64_t *y, int64_t N, int64_t V, double *dz);
void nn_layer_embed_f64(const int64_t *tok, int64_t N, int64_t D, const double *wte, double *x, const double *dx,
                        double *dwte);

#endif
