/* moonlab — a small decoder-only transformer trainer (llm.c style): token embedding, pre-norm RMSNorm,
 * rotary position embeddings, gated multi-head attention (Qiu et al. 2025, arXiv 2505.06708, §2.2 G1:
 * Y' = SDPA(Q,K,V) ⊙ act(X W_θ)), SwiGLU MLP, tied or untied head, cross-entropy, AdamW.
 * Parameters live in one flat buffer (f32, or f64 for gradient checks); activations of the last
 * forward are kept for backward. */
#ifndef MOONLAB_NN_H
#define MOONLAB_NN_H

#include <stdint.h>
#include "moonlab/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { ML_NN_GATE_NONE = 0, ML_NN_GATE_HEADWISE = 1, ML_NN_GATE_ELEMENTWISE = 2 } ml_nn_gate;

typedef struct ml_nn_config {
    int64_t vocab, context, layers, d_model, heads, kv_heads, d_ff;
    int gate;          /* ml_nn_gate */
    int gate_act;      /* ml_attn_gate_act (sigmoid / silu) */
    int tied;          /* output head = embedding^T */
    int dtype;         /* ML_F32 or ML_F64 */
    double rope_base;  /* 10000 */
    double norm_eps;   /* 1e-5 */
    double init_std;   /* 0.02 */
    uint64_t seed;
    int ffn;           /* ML_NN_FFN_SWIGLU or ML_NN_FFN_MOE (moonlab/moe.h layer per block) */
    int64_t experts, top_k; /* MoE: experts per layer (each a SwiGLU of width d_ff), experts per token */
    double moe_aux, moe_z;  /* MoE: Switch load-balancing and router z-loss coefficients (added to the loss) */
} ml_nn_config;

typedef enum { ML_NN_FFN_SWIGLU = 0, ML_NN_FFN_MOE = 1 } ml_nn_ffn;

typedef struct ml_nn_model ml_nn_model;

/* Defaults: vocab 256, context 128, 2 layers, d_model 64, 4 heads (= kv_heads), d_ff 4/3·2·d (rounded to
 * a multiple of 8... set by the caller), no gate, sigmoid, untied, f32, RoPE base 10000, eps 1e-5. */
ml_nn_config ml_nn_defaults(void);

/* Validates cfg and allocates a model with N(0, init_std) weights (output projections scaled by
 * 1/sqrt(2·layers)), norm weights 1. NULL on failure (message set). */
ml_nn_model *ml_nn_new(const ml_nn_config *cfg);
void ml_nn_free(ml_nn_model *m);
const ml_nn_config *ml_nn_get_config(const ml_nn_model *m);
/* The flat parameter / gradient buffers (dtype cfg.dtype) and their length. */
void *ml_nn_params(ml_nn_model *m);
void *ml_nn_grads(ml_nn_model *m);
int64_t ml_nn_num_params(const ml_nn_model *m);

/* Forward over tokens [B*T] (T <= context). logits (may be NULL) receives [B*T, vocab] of the model's
 * dtype. With targets (may be NULL) *loss = mean cross-entropy. Keeps activations for ml_nn_backward. */
int ml_nn_forward(ml_nn_model *m, const int64_t *tokens, const int64_t *targets, int64_t B, int64_t T,
                  void *logits, double *loss);
/* Backward of the last forward with targets: accumulates d loss / d params into the gradient buffer. */
int ml_nn_backward(ml_nn_model *m);
void ml_nn_zero_grad(ml_nn_model *m);

typedef struct ml_nn_adamw {
    double lr, beta1, beta2, eps, weight_decay, grad_clip; /* grad_clip <= 0: none */
    int64_t warmup, total_steps;                          /* linear warm-up, cosine decay to min_lr */
    double min_lr;
} ml_nn_adamw;

/* One AdamW step (Loshchilov & Hutter 2019) on the accumulated gradients with the learning rate of
 * step t (1-based) of the warm-up + cosine schedule; clips the global gradient norm first. Decay
 * applies to matrices only. *gnorm (may be NULL) gets the pre-clip gradient norm, *lr_used the rate. */
int ml_nn_step(ml_nn_model *m, const ml_nn_adamw *o, double *gnorm, double *lr_used);
int64_t ml_nn_step_count(const ml_nn_model *m);

/* Learning rate of step t (1-based) under the schedule of o. */
double ml_nn_lr_at(const ml_nn_adamw *o, int64_t t);

/* Autoregressive sampling with a KV cache: prompt [P] (1 <= P), writes n new tokens into out.
 * temperature 0 = greedy; top_k 0 = all. Stops with an error if P + n exceeds the context. */
int ml_nn_generate(ml_nn_model *m, const int64_t *prompt, int64_t P, int64_t n, double temperature,
                   int64_t top_k, uint64_t seed, int64_t *out);

/* Per-layer statistics of a forward over tokens [B*T]: f_attn [layers] = mean attention weight on the
 * first key (§4.3, averaged over heads, batch and queries), m_act [layers] = max |hidden state| after
 * the layer (M-Act), gate_mean / gate_sparsity [layers] = mean gate value act(Z) and the share of gate
 * values below 0.1 (NaN when ungated); f_attn_heads [layers, heads] (may be NULL) = the same first-key
 * weight per head (averaged over batch and queries). */
int ml_nn_stats(ml_nn_model *m, const int64_t *tokens, int64_t B, int64_t T, double *f_attn,
                double *m_act, double *gate_mean, double *gate_sparsity, double *f_attn_heads);

/* Router load of the last forward of an MoE model: load [layers, experts] = tokens routed to each expert
 * (kept assignments, summing to B*T*top_k per layer). Fails for a SwiGLU model or before a forward. */
int ml_nn_router_load(const ml_nn_model *m, int64_t *load);

/* One self-describing file: magic "MOONLAB-NN\n", version, config, step, parameters and AdamW moments.
 * Load fails with ML_EFORMAT on a foreign, truncated or inconsistent file. */
int ml_nn_save(const ml_nn_model *m, const char *path);
ml_nn_model *ml_nn_load(const char *path);

#ifdef __cplusplus
}
#endif
#endif
