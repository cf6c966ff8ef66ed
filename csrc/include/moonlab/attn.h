/* moonlab — gated scaled-dot-product attention (Qiu et al. 2025, arXiv 2505.06708).
 *
 * Shapes (row-major, contiguous): q [B,Hq,L,E], k [B,Hkv,S,E], v [B,Hkv,S,Ev], out [B,Hq,L,Ev],
 * lse [B,Hq,L]; Hq % Hkv == 0 (grouped-query attention). All tensors of one call share a dtype
 * (ML_F32 with fp32 accumulation, or ML_F64), except the mask which may be either dtype. */
#ifndef MOONLAB_ATTN_H
#define MOONLAB_ATTN_H

#include <stdint.h>
#include "moonlab/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { ML_ATTN_TOP_LEFT = 0, ML_ATTN_BOTTOM_RIGHT = 1 } ml_attn_align;
typedef enum { ML_ATTN_MASK_ADD = 0, ML_ATTN_MASK_KEEP = 1 } ml_attn_mask_mode;
typedef enum { ML_GATE_SIGMOID = 0, ML_GATE_SILU = 1, ML_GATE_NS_SIGMOID = 2 } ml_attn_gate_act;
typedef enum { ML_GATE_MUL = 0, ML_GATE_ADD = 1 } ml_attn_gate_op;

typedef struct ml_attn_opts {
    double scale;        /* score scale; NAN (the default) means 1/sqrt(E) */
    int causal;          /* query i sees keys j <= d(i) */
    int causal_align;    /* ml_attn_align: d(i) = i (top-left) or i + S - L (bottom-right) */
    int64_t window;      /* > 0: keys d(i)-window < j <= d(i) (implies causal); 0: none */
    int mask_mode;       /* ml_attn_mask_mode: additive float mask or keep-mask (nonzero = attend) */
    int gate_act;        /* ml_attn_gate_act */
    int gate_op;         /* ml_attn_gate_op: Y' = Y * act(Z) or Y + act(Z) */
} ml_attn_opts;

/* Defaults: scale NAN (1/sqrt(E)), no causal, top-left, no window, additive mask, sigmoid, mul. */
ml_attn_opts ml_attn_defaults(void);

/* Which argument ml_attn_check rejected (for error messages). */
typedef enum { ML_ATTN_ARG_Q = 1, ML_ATTN_ARG_K, ML_ATTN_ARG_V, ML_ATTN_ARG_MASK,
               ML_ATTN_ARG_GATE, ML_ATTN_ARG_SCALE, ML_ATTN_ARG_WINDOW, ML_ATTN_ARG_OTHER } ml_attn_arg;

/* Validates the inputs of a forward call; on ML_EINVAL *bad names the argument and the message
 * reads "expected ..., got ...". mask and gate may be NULL. */
int ml_attn_check(const ml_attn_opts *o, const ml_tensor *q, const ml_tensor *k, const ml_tensor *v,
                  const ml_tensor *mask, const ml_tensor *gate, int *bad);

/* Gated SDPA forward (eq. 5 with the G1 gate of §2.2: Y' = Y ⊙ act(Z)), tiled online softmax.
 * out [B,Hq,L,Ev] (gated), lse [B,Hq,L]; optional: mask broadcastable to [B,Hq,L,S], gate Z
 * [B,Hq,L,Ev] (elementwise) or [B,Hq,L,1] (headwise), y [B,Hq,L,Ev] receives the pre-gate output,
 * probs [B,Hq,L,S] the attention weights. A row with every key masked gives Y = 0, lse = -inf. */
int ml_attn_forward(const ml_attn_opts *o, const ml_tensor *q, const ml_tensor *k,
                    const ml_tensor *v, const ml_tensor *mask, const ml_tensor *gate,
                    ml_tensor *out, ml_tensor *lse, ml_tensor *y, ml_tensor *probs);

/* Exact backward of ml_attn_forward (REFERENCE §1): P is recomputed from lse block by block, so
 * memory is O(L). y is the pre-gate output (when gated; NULL recomputes it, for ungated calls it
 * is `out`). Writes dq, dk, dv (GQA: summed over the heads sharing a KV head) and dgate (when
 * gate != NULL; may be NULL). */
int ml_attn_backward(const ml_attn_opts *o, const ml_tensor *dout, const ml_tensor *q,
                     const ml_tensor *k, const ml_tensor *v, const ml_tensor *mask,
                     const ml_tensor *gate, const ml_tensor *out, const ml_tensor *lse,
                     const ml_tensor *y, ml_tensor *dq, ml_tensor *dk, ml_tensor *dv,
                     ml_tensor *dgate);

/* Gate activation g = act(z) and its derivative (sigmoid, silu, 0.5 + 0.5 sigmoid). */
double ml_attn_gate_value(int act, double z);
double ml_attn_gate_deriv(int act, double z);

/* Layout of the gate projection weights for ml_attn_gate_scores. */
typedef enum {
    ML_GATE_LAYOUT_SEPARATE = 0, /* W [D, Hq*G] (head-specific) or [D, G] (head-shared) */
    ML_GATE_LAYOUT_PER_HEAD = 1, /* W [D, Hq*(Dh+G)]: per head [q_h | z_h] */
    ML_GATE_LAYOUT_KV_GROUP = 2  /* W [D, Hkv*(R*Dh + R*G)], R = Hq/Hkv: per KV group [q.. | z..]
                                    (the paper code's q_proj) */
} ml_attn_gate_layout;

/* Gate scores Z = X W_θ (§2.2) from hidden states x [B,L,D]. G = 1 (headwise) or Dh (elementwise).
 * z [B,Hq,L,G]; for the fused layouts qout [B,Hq,L,Dh] receives the query part (may be NULL).
 * shared: W holds one head's gate columns that every head uses (SEPARATE layout only). */
int ml_attn_gate_scores(int layout, int shared, int64_t hq, int64_t hkv, int64_t dh,
                        const ml_tensor *x, const ml_tensor *w, ml_tensor *z, ml_tensor *qout);

/* Attention-sink statistics (§4.3) in one online pass, never materialising L×S:
 * per_query [B,Hq,L] = weight on key 1, first_token [Hq] and entropy [Hq] (nats) averaged over
 * batch and the queries that see at least one key. Same masking options as the forward. */
int ml_attn_sink_stats(const ml_attn_opts *o, const ml_tensor *q, const ml_tensor *k,
                       const ml_tensor *mask, ml_tensor *first_token, ml_tensor *per_query,
                       ml_tensor *entropy);

/* max |x| over a tensor: one layer's contribution to M-Act (§4.3). NaN if x holds a NaN. */
double ml_attn_max_abs(const ml_tensor *x);

#ifdef __cplusplus
}
#endif
#endif
