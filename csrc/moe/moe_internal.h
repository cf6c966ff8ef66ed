/* moonlab moe — internals shared by the router files: activations, the fast f32 exp, the order builder. */
#ifndef MOONLAB_MOE_INTERNAL_H
#define MOONLAB_MOE_INTERNAL_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include "moonlab/moe.h"

/* act(x) and act'(x) for ml_moe_act (NONE is the identity). gelu is the exact erf form. */
static inline double moe_act(int act, double x) {
    switch (act) {
    case ML_MOE_ACT_TANH: return tanh(x);
    case ML_MOE_ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case ML_MOE_ACT_RELU: return x > 0 ? x : 0.0;
    case ML_MOE_ACT_GELU: return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440));
    default: return x;
    }
}
static inline double moe_act_grad(int act, double x) {
    switch (act) {
    case ML_MOE_ACT_TANH: { double t = tanh(x); return 1.0 - t * t; }
    case ML_MOE_ACT_SIGMOID: { double s = 1.0 / (1.0 + exp(-x)); return s * (1.0 - s); }
    case ML_MOE_ACT_RELU: return x > 0 ? 1.0 : 0.0;
    case ML_MOE_ACT_GELU:
        return 0.5 * (1.0 + erf(x * 0.70710678118654752440)) + x * exp(-0.5 * x * x) * 0.39894228040143267794;
    default: return 1.0;
    }
}

/* exp(x) for x <= 0 in f32 (relative error < 2e-7), branch-free so that loops over it vectorise. */
static inline float moe_expf(float x) {
    x = x < -87.0f ? -87.0f : x;
    float t = x * 1.44269504088896341f + 12582912.0f; /* round(x / ln2) in the low mantissa bits */
    int32_t n;
    memcpy(&n, &t, 4);
    n -= 0x4B400000;
    float fn = (float)n;
    float r = x - fn * 0.693145751953125f - fn * 1.428606765330187e-06f;
    float y = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
               1.6666665459e-1f) * r + 5.0000001201e-1f;
    float p = y * r * r + r + 1.0f;
    int32_t bits = (n + 127) << 23;
    float sc;
    memcpy(&sc, &bits, 4);
    return p * sc;
}

/* Chunks of tokens for the router's passes: fixed by T alone (>= 256 tokens each, at most 64), handed to the
 * threads dynamically and reduced in chunk order, so the sums are the same on any thread count. */
static inline int moe_token_chunks(int64_t T) {
    int64_t c = T / 256;
    return c < 1 ? 1 : c > 64 ? 64 : (int)c;
}

/* Number of worker chunks and the bounds of chunk c of n items. */
static inline void moe_chunk(int64_t n, int nc, int c, int64_t *lo, int64_t *hi) {
    *lo = n * c / nc;
    *hi = n * (c + 1) / nc;
}

/* Builds counts/offsets/order/dropped from experts [T,K] (index base b; b-1 = unused slot): a stable
 * counting sort by expert, then the capacity limit (token choice, capacity > 0) by drop policy (probs: the
 * highest rank [T,K] first, ties to the earlier token/slot), dropped weights set to 0, and per-expert
 * padding to pad_to. Also returns the pre-drop assignment counts. */
int moe_build_order(const ml_moe_route_opts *o, int64_t T, int64_t K, int64_t E, int64_t capacity,
                    const double *rank, ml_tensor *weights, ml_moe_routing *r, int64_t *assigned);

/* Top-k selection, ties to the lowest index, over experts allowed by the group limit (groups <= 1: all).
 * sel [E]; writes k indices in descending order of sel. scratch: E + groups doubles. */
void moe_topk_f64(const double *sel, int64_t E, int k, int groups, int group_topk, int64_t *idx,
                  double *scratch);
void moe_topk_f32(const float *sel, int64_t E, int k, int groups, int group_topk, int64_t *idx,
                  float *scratch);

/* Token-choice pass over logits (validated): experts/weights/probs, per-expert score sums P [E], sums of
 * lse^2 and entropies, and (rank != NULL) the score s of each selected slot [T,k]. Fails with the first
 * non-finite row. */
int moe_route_tokens(const ml_moe_route_opts *o, const ml_tensor *logits, int64_t *experts,
                     ml_tensor *weights, void *probs, double *P, double *zsum, double *hsum, double *rank);
/* The f32 token-pass worker compiled for AVX2+FMA (route_avx2.c) and whether this CPU can run it. */
void moe_route_block_f32_avx2(const ml_moe_route_opts *o, const float *X, int64_t E, int64_t t0, int64_t t1,
                              int64_t *experts, float *W, float *probs, double *P, double *zs, double *hs,
                              int64_t *bad, float *buf, double *rank);
int moe_route_have_avx2(void);
/* The fused f32 softmax pass for AVX-512F (route_avx512.c; buf: 8E + 128 floats; E <= 4096) and whether it covers
 * these options on this CPU (ml_cpu_isa(), so MOONLAB_ISA=avx2 or scalar turns it off). */
void moe_route_block_f32_avx512(const ml_moe_route_opts *o, const float *X, int64_t E, int64_t t0, int64_t t1,
                                int64_t *experts, float *W, float *probs, double *P, double *zs, double *hs,
                                int64_t *bad, float *buf, double *rank);
int moe_route_avx512_covers(const ml_moe_route_opts *o, int64_t E);

/* Scores s [T,E] (f64) of every token plus P, zsum and hsum, for expert choice. */
int moe_route_scores(const ml_moe_route_opts *o, const ml_tensor *logits, double *s, double *P,
                     double *zsum, double *hsum);
/* Expert choice: each expert takes its C best tokens by s; fills experts/weights [T,E] slots. */
int moe_expert_choice(const ml_moe_route_opts *o, int64_t T, int64_t E, int64_t C, const double *s,
                      int64_t *experts, ml_tensor *weights);

#endif
