/* moonlab — mixture of experts: production routers, dispatch/combine, a SwiGLU MoE layer, and the
 * Gaussian-MoE statistics of Nguyen et al. (top-K sparse softmax gating, arXiv 2309.13850; dense-to-sparse
 * temperature and activation gates, arXiv 2401.13875): density, sampling, EM, Voronoi losses. */
#ifndef MOONLAB_MOE_H
#define MOONLAB_MOE_H

#include <stdint.h>
#include "moonlab/tensor.h"
#include "moonlab/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ routers */

typedef enum { ML_MOE_SOFTMAX = 0, ML_MOE_SIGMOID = 1 } ml_moe_score;
typedef enum { ML_MOE_SOFTMAX_THEN_TOPK = 0, ML_MOE_TOPK_THEN_SOFTMAX = 1 } ml_moe_order;
typedef enum { ML_MOE_ACT_NONE = 0, ML_MOE_ACT_TANH, ML_MOE_ACT_SIGMOID, ML_MOE_ACT_RELU,
               ML_MOE_ACT_GELU } ml_moe_act;
typedef enum { ML_MOE_DROP_PROBS = 0, ML_MOE_DROP_POSITION = 1 } ml_moe_drop;

typedef struct ml_moe_route_opts {
    int k;                  /* experts per token (token choice) */
    int score;              /* ml_moe_score */
    int order;              /* ml_moe_order (softmax scores only) */
    int renormalize;        /* weights of the kept slots sum to route_scale */
    double temperature;     /* z = act(logits) / temperature (+ noise) */
    int activation;         /* ml_moe_act applied to the logits before the temperature */
    const double *bias;     /* [E] selection-only bias (aux-loss-free balancing), NULL for none */
    int groups, group_topk; /* group-limited routing: only experts of the best group_topk groups */
    double route_scale;     /* routed scaling factor on the weights */
    double noise_std;       /* noisy top-k: z += noise_std * N(0,1) (counter-based, seeded) */
    uint64_t noise_seed;
    int expert_choice;      /* each expert takes its `capacity` best tokens */
    int64_t capacity;       /* expert choice: tokens per expert */
    double capacity_factor; /* token choice: 0 = unlimited, else C = ceil(T*k/E*cf) */
    int drop;               /* ml_moe_drop: which assignments over capacity are dropped */
    int64_t pad_to;         /* per-expert segments of `order` padded to a multiple (1 = none) */
    double aux_coef;        /* Switch load-balancing coefficient alpha */
    double z_coef;          /* router z-loss coefficient */
    int index_base;         /* 0 (C) or 1 (Lua) for experts/order/dropped */
} ml_moe_route_opts;

ml_moe_route_opts ml_moe_route_defaults(void);

/* Output buffers of ml_moe_route, allocated by the caller. K = k (token choice) or E (expert choice).
 * Index arrays are int64 with index_base; an unused slot or a padding row holds index_base - 1. */
typedef struct ml_moe_routing {
    int64_t *experts;   /* [T,K] expert of each slot */
    void *weights;      /* [T,K] in the dtype of the logits; dropped or unused slots weigh 0 */
    void *probs;        /* [T,E] the scores s (softmax or sigmoid of z), optional (NULL) */
    int64_t *counts;    /* [E] kept assignments per expert */
    int64_t *offsets;   /* [E+1] segment starts in `order` (padded to pad_to) */
    int64_t *order;     /* [cap_order,2] (token, slot) sorted stably by expert, then token, slot */
    int64_t cap_order;  /* rows available in order: ml_moe_route_bounds */
    int64_t *dropped;   /* [cap_dropped,2] (token, slot) of dropped assignments */
    int64_t cap_dropped;
    /* results */
    int64_t n_order, n_dropped;
    double aux_loss, z_loss, entropy;
} ml_moe_routing;

/* Slots per token and the row capacities that `order` and `dropped` need for logits [T,E] (dropped: 1 row when
 * nothing can drop, i.e. token choice without a capacity limit). */
int ml_moe_route_bounds(const ml_moe_route_opts *o, int64_t T, int64_t E, int64_t *K, int64_t *cap_order,
                        int64_t *cap_dropped);

/* Routes logits [T,E] (f32/f64): z = act(logits)/temperature (+noise), s = softmax(z) or sigmoid(z), top-k
 * selection on s + bias (or on z + bias with topk_then_softmax), optional group limit, capacity and drops,
 * and the dispatch bookkeeping (counting sort by expert). Ties go to the lowest expert (or token) index.
 * aux_loss = aux_coef * E * sum_i f_i P_i (Switch), z_loss = z_coef * mean_t logsumexp(z_t)^2, entropy =
 * mean token entropy of the normalised scores. A non-finite logit fails naming its row. */
int ml_moe_route(const ml_moe_route_opts *o, const ml_tensor *logits, ml_moe_routing *r);

/* dlogits [T,E] = d(sum dweights*weights + daux*aux_loss + dz*z_loss)/dlogits for the routing of logits
 * with the same options (temperature, activation, noise recomputed from the seed). experts/weights as
 * returned by ml_moe_route (index_base of o). */
int ml_moe_route_backward(const ml_moe_route_opts *o, const ml_tensor *logits, const int64_t *experts,
                          const ml_tensor *weights, const ml_tensor *dweights, double daux, double dz,
                          ml_tensor *dlogits);

/* aux-loss-free balancing: bias_e += rate * sign(mean(counts) - counts_e). */
void ml_moe_update_bias(double *bias, const int64_t *counts, int64_t E, double rate);

/* x_sorted[i] = x[token(order[i])] (zeros for padding rows). x [T,D], x_sorted [N,D]. */
int ml_moe_dispatch(const ml_tensor *x, const int64_t *order, int64_t n_order, int base, ml_tensor *x_sorted);
/* y[t] = sum over rows i with order[i] = (t,j) of weights[t,j] * y_sorted[i] (weights [T,K]; NULL = all 1),
 * gathered per token (deterministic). Slots whose row is absent (dropped) contribute 0. */
int ml_moe_combine(const ml_tensor *y_sorted, const int64_t *order, int64_t n_order, int base, int64_t K,
                   const ml_tensor *weights, ml_tensor *y);

/* ------------------------------------------------------------------ MoE layer */

/* y = sum_j w_j(x) FFN_{e_j}(x), FFN_e(x) = (silu(x W1_e) * (x W3_e)) W2_e, router logits = x Wr.
 * Parameters (same dtype): wr [D,E], w1 [E,D,F], w3 [E,D,F], w2 [E,F,D]. */
typedef struct ml_moe_layer {
    int64_t d_model, d_ff, experts;
    ml_moe_route_opts route;
    const ml_tensor *wr, *w1, *w3, *w2;
} ml_moe_layer;

/* Activations kept between forward and backward; ml_moe_layer_cache_new sizes it for T tokens. */
typedef struct ml_moe_layer_cache ml_moe_layer_cache;
ml_moe_layer_cache *ml_moe_layer_cache_new(const ml_moe_layer *m, ml_dtype dt, int64_t T);
void ml_moe_layer_cache_free(ml_moe_layer_cache *c);
/* Read-only views into the cache after a forward: logits [T,E], experts [T,K] (0-based), weights [T,K],
 * counts [E], aux/z losses. */
const ml_tensor *ml_moe_layer_cache_logits(const ml_moe_layer_cache *c);
const ml_tensor *ml_moe_layer_cache_weights(const ml_moe_layer_cache *c);
const int64_t *ml_moe_layer_cache_experts(const ml_moe_layer_cache *c);
const int64_t *ml_moe_layer_cache_counts(const ml_moe_layer_cache *c);
double ml_moe_layer_cache_aux(const ml_moe_layer_cache *c, double *z_loss);

/* Forward of x [T,D] into y [T,D], keeping activations in c. */
int ml_moe_layer_forward(const ml_moe_layer *m, const ml_tensor *x, ml_moe_layer_cache *c, ml_tensor *y);
/* Backward: dx [T,D] and parameter gradients (same shapes as the parameters), daux/dz scale the router
 * losses in the gradient. */
int ml_moe_layer_backward(const ml_moe_layer *m, const ml_tensor *x, const ml_tensor *dy,
                          const ml_moe_layer_cache *c, double daux, double dz, ml_tensor *dx, ml_tensor *dwr,
                          ml_tensor *dw1, ml_tensor *dw3, ml_tensor *dw2);

/* ------------------------------------------------------------------ Gaussian MoE */

typedef enum { ML_GMOE_SOFTMAX = 0, ML_GMOE_TOPK, ML_GMOE_TEMPERATURE, ML_GMOE_ACTIVATION } ml_gmoe_gate;
typedef enum { ML_GMOE_BIAS_OUTSIDE = 0, ML_GMOE_BIAS_INSIDE = 1 } ml_gmoe_bias;

/* p(y|x) = sum_i g_i(x) N(y | a_i.x + b_i, sigma_i^2), gate logits
 *   softmax/topk:  l_i = beta1_i.x + beta0_i (topk: softmax over the k largest, others 0)
 *   temperature:   l_i = (beta1_i.x + beta0_i) / tau
 *   activation:    l_i = act(beta1_i.x)/tau + beta0_i  (outside)  or  act(beta1_i.x + beta0_i)/tau  (inside)
 * Arrays: beta0 [K], beta1 [K*d], a [K*d], b [K], sigma [K]. */
typedef struct ml_gmoe {
    int K, d;
    int gate;         /* ml_gmoe_gate */
    int k;            /* top-k (topk gate) */
    double tau;
    int act;          /* ml_moe_act (activation gate) */
    int bias_place;   /* ml_gmoe_bias */
    double *beta0, *beta1, *a, *b, *sigma;
} ml_gmoe;

/* Allocates the parameter arrays of *m (zeroed, sigma = 1). ml_gmoe_free releases them. */
int ml_gmoe_alloc(ml_gmoe *m, int K, int d);
void ml_gmoe_free(ml_gmoe *m);
int ml_gmoe_copy(ml_gmoe *dst, const ml_gmoe *src);
/* Checks sizes and ranges (sigma > 0, tau > 0, 1 <= k <= K, finite values). */
int ml_gmoe_check(const ml_gmoe *m);
/* Whether adding a constant to every logit leaves the gate unchanged (all but activation-inside). */
int ml_gmoe_translation_invariant(const ml_gmoe *m);

/* Gate probabilities g [n,K] at X [n,d] (row-major doubles). */
int ml_gmoe_gate_probs(const ml_gmoe *m, const double *X, int64_t n, double *g);
/* log p(y_t|x_t) for n points. */
int ml_gmoe_logpdf(const ml_gmoe *m, const double *X, const double *Y, int64_t n, double *out);
/* Draws n samples: X uniform on [0,1]^d (or given when X_given), Y | X from the mixture. Counter-based
 * randomness: the same seed gives the same sample on any thread count. */
int ml_gmoe_sample(const ml_gmoe *m, int64_t n, uint64_t seed, int x_given, double *X, double *Y);

typedef struct ml_gmoe_em_opts {
    double tol;          /* stop when the log-likelihood gain <= tol * |loglik| */
    int maxit;
    int gate_steps;      /* Newton / quasi-Newton iterations of the gate step per EM iteration */
    int fix_last;        /* keep the last expert's gate parameters at their start (translation) */
    double sigma_floor;  /* relative floor of sigma (to the sd of Y) */
    int threads;         /* 0 = default OpenMP threads, 1 = serial (used inside parallel replications) */
} ml_gmoe_em_opts;

ml_gmoe_em_opts ml_gmoe_em_defaults(void);

typedef struct ml_gmoe_em_result {
    double *trace;       /* [maxit+1] log-likelihood (sum over points) after each iteration (caller buffer) */
    int iterations;
    int converged;
    int reason;          /* 0 tolerance, 1 max_iters, 2 stalled (no further increase possible), 3 interrupted */
    double loglik;
    int sigma_floored;   /* a sigma hit the floor */
} ml_gmoe_em_result;

/* EM from the start model m (updated in place): E-step posteriors, exact weighted least squares for the
 * experts, the gate step by Newton/IRLS with a backtracking line search (softmax, top-K) or L-BFGS (NLopt;
 * temperature, activation) on the expected complete log-likelihood; each step never lowers it, so the
 * log-likelihood never decreases. */
int ml_gmoe_fit_em(ml_gmoe *m, const double *X, const double *Y, int64_t n, const ml_gmoe_em_opts *o,
                   const ml_progress *p, ml_gmoe_em_result *res);

/* Voronoi loss between fitted and true atoms (beta1, a, b, sigma): cells A_j of true atoms, then
 * D1 = sum_j |sum_{A_j} e^{beta0_i} - e^{beta0*_j}| + sum_j sum_{A_j} e^{beta0_i}(|dbeta1| + |da| + |db| + |dsigma|)
 * and D2 raising differences in cells with |A_j| > 1 to rbar(|A_j|) (beta1, b) and rbar/2 (a, sigma),
 * rbar(2) = 4, rbar(3) = 6 (larger cells fail: their exponents are not given). With normalize and a
 * translation-invariant gate the fitted gate is first shifted (beta0 + c0, beta1 + c1; the gate is invariant)
 * so that its total mass sum_i e^{beta0_i} and mass-weighted mean beta1 equal the truth's. cell [K_fit] (base-0 true atom), terms [K_true]. */
int ml_gmoe_voronoi(const ml_gmoe *fit, const ml_gmoe *truth, int d2, int normalize, double *loss,
                    int64_t *cell, double *terms);

/* Many replications of "sample n points from truth, fit by EM from a near-truth start, Voronoi losses" in
 * parallel (replication r uses seed + r). start: the near-truth start before perturbation (K_fit experts);
 * perturb: sd of the start's perturbation. Writes loss_d1[reps], loss_d2[reps] (NULL: not computed),
 * iters[reps], converged[reps]. */
int ml_gmoe_replicate(const ml_gmoe *truth, const ml_gmoe *start, double perturb, int64_t n, int reps,
                      uint64_t seed, const ml_gmoe_em_opts *o, const ml_progress *p, double *loss_d1,
                      double *loss_d2, int *iters, int *converged);

/* k-means start: Lloyd on standardised (x, y) from a seeded k-means++ seeding, experts by least squares on the
 * clusters, gate beta0 from the cluster shares, beta1 = 0. Gate kind and options of m are kept. */
int ml_gmoe_init_kmeans(ml_gmoe *m, const double *X, const double *Y, int64_t n, uint64_t seed);

/* Perturbs the free parameters of m: beta, a, b by perturb*N(0,1), sigma by exp(perturb*N(0,1)) (the last
 * expert's gate parameters stay when fix_last), tau likewise for temperature/activation gates. */
void ml_gmoe_perturb(ml_gmoe *m, double perturb, uint64_t seed, int fix_last);

#ifdef __cplusplus
}
#endif
#endif
