/* nn — model construction (flat parameter layout, initialisation), argument checks, and the dispatch to
 * the f32 / f64 bodies. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "moonlab/error.h"
#include "nn/nn_internal.h"

ml_nn_config ml_nn_defaults(void) {
    ml_nn_config c = {0};
    c.vocab = 256; c.context = 128; c.layers = 2; c.d_model = 64; c.heads = 4; c.kv_heads = 4; c.d_ff = 176;
    c.gate = ML_NN_GATE_NONE; c.gate_act = 0; c.tied = 0; c.dtype = ML_F32;
    c.rope_base = 10000; c.norm_eps = 1e-5; c.init_std = 0.02; c.seed = 1;
    c.ffn = ML_NN_FFN_SWIGLU; c.experts = 8; c.top_k = 2; c.moe_aux = 0.01; c.moe_z = 0;
    return c;
}

static int check_config(const ml_nn_config *c) {
#define NEED(cond, ...) do { if (!(cond)) return ml_fail(ML_EINVAL, __VA_ARGS__); } while (0)
    const int64_t big = (int64_t)1 << 24;
    NEED(c->vocab >= 2 && c->vocab <= big, "vocab: expected 2..%lld, got %lld", (long long)big, (long long)c->vocab);
    NEED(c->context >= 1 && c->context <= big, "context: expected 1..%lld, got %lld", (long long)big,
         (long long)c->context);
    NEED(c->layers >= 1 && c->layers <= 4096, "layers: expected 1..4096, got %lld", (long long)c->layers);
    NEED(c->heads >= 1 && c->heads <= 4096, "heads: expected 1..4096, got %lld", (long long)c->heads);
    NEED(c->d_model >= 2 && c->d_model <= big && c->d_model % c->heads == 0 && (c->d_model / c->heads) % 2 == 0,
         "d_model: expected a multiple of heads (%lld) with an even head size, got %lld", (long long)c->heads,
         (long long)c->d_model);
    NEED(c->kv_heads >= 1 && c->heads % c->kv_heads == 0, "kv_heads: expected a divisor of heads (%lld), got %lld",
         (long long)c->heads, (long long)c->kv_heads);
    NEED(c->d_ff >= 1 && c->d_ff <= big, "d_ff: expected 1..%lld, got %lld", (long long)big, (long long)c->d_ff);
    NEED(c->gate >= 0 && c->gate <= 2, "gate: expected none/headwise/elementwise, got %d", c->gate);
    NEED(c->gate_act >= 0 && c->gate_act <= 2, "gate act: expected sigmoid/silu, got %d", c->gate_act);
    NEED(c->dtype == ML_F32 || c->dtype == ML_F64, "dtype: expected f32 or f64");
    NEED(isfinite(c->rope_base) && c->rope_base > 1, "rope_base: expected a finite number > 1, got %g", c->rope_base);
    NEED(isfinite(c->norm_eps) && c->norm_eps > 0, "norm_eps: expected a finite number > 0, got %g", c->norm_eps);
    NEED(isfinite(c->init_std) && c->init_std >= 0, "init_std: expected a finite number >= 0, got %g", c->init_std);
    NEED(c->ffn == ML_NN_FFN_SWIGLU || c->ffn == ML_NN_FFN_MOE, "ffn: expected swiglu or moe, got %d", c->ffn);
    double Ef = 1;
    if (c->ffn == ML_NN_FFN_MOE) {
        NEED(c->experts >= 1 && c->experts <= 4096, "moe.experts: expected 1..4096, got %lld", (long long)c->experts);
        NEED(c->top_k >= 1 && c->top_k <= c->experts, "moe.k: expected 1..experts (%lld), got %lld",
             (long long)c->experts, (long long)c->top_k);
        NEED(isfinite(c->moe_aux) && c->moe_aux >= 0, "moe.aux: expected a finite number >= 0, got %g", c->moe_aux);
        NEED(isfinite(c->moe_z) && c->moe_z >= 0, "moe.z: expected a finite number >= 0, got %g", c->moe_z);
        Ef = (double)c->experts;
    }
    double D = (double)c->d_model, L = (double)c->layers;
    double np = (double)c->vocab * D * 2 + L * (8 * D * D + 3 * D * (double)c->d_ff * Ef + D * Ef + 2 * D) + D;
    NEED(np < 4e9, "the model would have %.3g parameters (limit 4e9)", np);
    return ML_OK;
#undef NEED
}

void ml_nn_free(ml_nn_model *m) {
    if (!m) return;
    free(m->lp); free(m->decay); free(m->p); free(m->g); free(m->m1); free(m->m2);
    free(m->rope_cos); free(m->rope_sin); free(m->arena); free(m->la); free(m->tok); free(m->tgt);
    nn_moe_free(m);
    free(m);
}

/* Reserves n elements at *off for a parameter tensor; decay marks matrices. */
static int64_t take(int64_t *off, int64_t n) {
    int64_t o = *off;
    *off += n;
    return o;
}

ml_nn_model *ml_nn_new(const ml_nn_config *cfg) {
    if (check_config(cfg)) return NULL;
    ml_nn_model *m = calloc(1, sizeof *m);
    if (!m) { ml_fail(ML_ENOMEM, "out of memory"); return NULL; }
    m->c = *cfg;
    const ml_nn_config *c = &m->c;
    int64_t D = c->d_model, H = c->heads, Hk = c->kv_heads, F = c->d_ff, V = c->vocab;
    m->dh = D / H;
    m->gcols = c->gate == ML_NN_GATE_ELEMENTWISE ? m->dh : c->gate == ML_NN_GATE_HEADWISE ? 1 : 0;
    m->lp = calloc((size_t)c->layers, sizeof *m->lp);
    m->la = calloc((size_t)c->layers, sizeof *m->la);
    if (!m->lp || !m->la) goto oom;
    int64_t off = 0, Dh = m->dh, moe = c->ffn == ML_NN_FFN_MOE, Ef = moe ? c->experts : 1;
    m->wte = take(&off, V * D);
    for (int64_t l = 0; l < c->layers; l++) {
        nn_layer_params *p = &m->lp[l];
        p->ln1 = take(&off, D);
        p->wq = take(&off, D * H * Dh);
        p->wk = take(&off, D * Hk * Dh);
        p->wv = take(&off, D * Hk * Dh);
        p->wg = take(&off, D * H * m->gcols);
        p->wo = take(&off, H * Dh * D);
        p->ln2 = take(&off, D);
        p->wr = take(&off, moe ? D * c->experts : 0); /* wr, w1, w3, w2 stay contiguous (moeffn.c) */
        p->w1 = take(&off, Ef * D * F);
        p->w3 = take(&off, Ef * D * F);
        p->w2 = take(&off, Ef * F * D);
    }
    m->lnf = take(&off, D);
    m->head = c->tied ? -1 : take(&off, D * V);
    m->nparams = off;
    size_t es = ml_dtype_size((ml_dtype)c->dtype), n = (size_t)off;
    m->p = calloc(n, es); m->g = calloc(n, es); m->m1 = calloc(n, es); m->m2 = calloc(n, es);
    m->decay = calloc(n, 1);
    m->rope_cos = calloc((size_t)(c->context * Dh / 2), sizeof(double));
    m->rope_sin = calloc((size_t)(c->context * Dh / 2), sizeof(double));
    if (!m->p || !m->g || !m->m1 || !m->m2 || !m->decay || !m->rope_cos || !m->rope_sin) goto oom;
    /* N(0, std) everywhere, output projections (wo, w2) scaled by 1/sqrt(2 layers) (GPT-2), norms 1. */
    double sd = c->init_std, sdo = sd / sqrt(2.0 * (double)c->layers);
    for (int64_t i = 0; i < off; i++) {
        ml_store_d((ml_dtype)c->dtype, (char *)m->p + i * es, sd * ml_rng_normal(c->seed, (uint64_t)i));
        m->decay[i] = 1;
    }
    for (int64_t l = 0; l <= c->layers; l++) {
        int64_t norms[2] = {l < c->layers ? m->lp[l].ln1 : m->lnf, l < c->layers ? m->lp[l].ln2 : m->lnf};
        for (int k = 0; k < 2; k++)
            for (int64_t d = 0; d < D; d++) {
                ml_store_d((ml_dtype)c->dtype, (char *)m->p + (norms[k] + d) * es, 1.0);
                m->decay[norms[k] + d] = 0;
            }
        if (l == c->layers) break;
        int64_t outs[2][2] = {{m->lp[l].wo, H * Dh * D}, {m->lp[l].w2, Ef * F * D}};
        for (int k = 0; k < 2; k++)
            for (int64_t i = outs[k][0]; i < outs[k][0] + outs[k][1]; i++)
                ml_store_d((ml_dtype)c->dtype, (char *)m->p + i * es, sdo * ml_rng_normal(c->seed, (uint64_t)i));
    }
    for (int64_t t = 0; t < c->context; t++)
        for (int64_t j = 0; j < Dh / 2; j++) {
            double th = (double)t * pow(c->rope_base, -2.0 * (double)j / (double)Dh);
            m->rope_cos[t * (Dh / 2) + j] = cos(th);
            m->rope_sin[t * (Dh / 2) + j] = sin(th);
        }
    return m;
oom:
    ml_nn_free(m);
    ml_fail(ML_ENOMEM, "out of memory for the model");
    return NULL;
}

const ml_nn_config *ml_nn_get_config(const ml_nn_model *m) { return &m->c; }
void *ml_nn_params(ml_nn_model *m) { return m->p; }
void *ml_nn_grads(ml_nn_model *m) { return m->g; }
int64_t ml_nn_num_params(const ml_nn_model *m) { return m->nparams; }
int64_t ml_nn_step_count(const ml_nn_model *m) { return m->step; }

void ml_nn_zero_grad(ml_nn_model *m) {
    memset(m->g, 0, (size_t)m->nparams * ml_dtype_size((ml_dtype)m->c.dtype));
}

/* Lays out the activations for B*T tokens (see nn_internal.h) and grows the arena when needed. */
int nn_arena_reserve(ml_nn_model *m, int64_t B, int64_t T) {
    int64_t N = B * T, D = m->c.d_model, H = m->c.heads, Hk = m->c.kv_heads, Dh = m->dh, F = m->c.d_ff;
    int64_t V = m->c.vocab, G = m->gcols;
    if (m->c.ffn == ML_NN_FFN_MOE) F = 0; /* the MoE layer keeps its own activations */
    int64_t lsz[A_COUNT] = {N * D, N * D, N, N * H * Dh, N * Hk * Dh, N * Hk * Dh, N * H * G, N * H * Dh,
                            N * H * Dh, N * H, N * H * Dh, N * D, N * D, N, N * F, N * F, N * F};
    int64_t ssz[S_COUNT] = {N * D, N * D, N * H * Dh, N * Hk * Dh, N * Hk * Dh, N * H * G, N * H * Dh,
                            N * H * Dh, N * H * Dh, 0, N * F, N * F, N * F, N * V};
    int64_t off = 0;
    for (int64_t l = 0; l < m->c.layers; l++)
        for (int k = 0; k < A_COUNT; k++) m->la[l][k] = take(&off, lsz[k]);
    for (int k = 0; k < S_COUNT; k++) m->sa[k] = take(&off, ssz[k]);
    m->xf = take(&off, N * D);
    m->hf = take(&off, N * D);
    m->rf = take(&off, N);
    m->logits = take(&off, N * V);
    if (N > m->cap_n || !m->arena) {
        size_t es = ml_dtype_size((ml_dtype)m->c.dtype);
        if ((double)off * (double)es > 64e9) return ml_fail(ML_ENOMEM, "activations of %lld tokens need %.3g GB",
                                                              (long long)N, (double)off * (double)es / 1e9);
        void *a = calloc((size_t)off, es);
        int64_t *tk = malloc(sizeof(int64_t) * (size_t)N), *tg = malloc(sizeof(int64_t) * (size_t)N);
        if (!a || !tk || !tg) { free(a); free(tk); free(tg); return ml_fail(ML_ENOMEM, "out of memory for activations"); }
        free(m->arena); free(m->tok); free(m->tgt);
        m->arena = a; m->tok = tk; m->tgt = tg; m->cap_n = N;
    }
    m->B = B;
    m->T = T;
    return m->c.ffn == ML_NN_FFN_MOE ? nn_moe_reserve(m, N) : ML_OK;
}

static int check_tokens(const ml_nn_model *m, const int64_t *t, int64_t n, const char *what) {
    for (int64_t i = 0; i < n; i++)
        if (t[i] < 0 || t[i] >= m->c.vocab)
            return ml_fail(ML_EINVAL, "%s: expected token ids in 0..%lld, got %lld at position %lld", what,
                           (long long)(m->c.vocab - 1), (long long)t[i], (long long)i);
    return ML_OK;
}

static int prepare(ml_nn_model *m, const int64_t *tokens, const int64_t *targets, int64_t B, int64_t T) {
    if (B < 1 || T < 1) return ml_fail(ML_EINVAL, "tokens: expected a non-empty [B,T] batch");
    if (T > m->c.context)
        return ml_fail(ML_EINVAL, "tokens: expected at most context = %lld positions, got %lld",
                       (long long)m->c.context, (long long)T);
    int rc = check_tokens(m, tokens, B * T, "tokens");
    if (!rc && targets) rc = check_tokens(m, targets, B * T, "targets");
    if (!rc) rc = nn_arena_reserve(m, B, T);
    if (rc) return rc;
    memcpy(m->tok, tokens, sizeof(int64_t) * (size_t)(B * T));
    if (targets) memcpy(m->tgt, targets, sizeof(int64_t) * (size_t)(B * T));
    m->have_targets = targets != NULL;
    return ML_OK;
}

int ml_nn_forward(ml_nn_model *m, const int64_t *tokens, const int64_t *targets, int64_t B, int64_t T,
                  void *logits, double *loss) {
    int rc = prepare(m, tokens, targets, B, T);
    if (rc) return rc;
    rc = m->c.dtype == ML_F32 ? nn_forward_f32(m, logits) : nn_forward_f64(m, logits);
    if (rc) { m->have_targets = 0; return rc; }
    if (targets) {
        if (!isfinite(m->loss)) {
            m->have_targets = 0;
            return ml_fail(ML_ENUMERIC, "loss is %g", m->loss);
        }
        if (loss) *loss = m->loss;
    }
    return ML_OK;
}

int ml_nn_backward(ml_nn_model *m) {
    if (!m->have_targets) return ml_fail(ML_EINVAL, "backward needs a preceding forward with targets (loss)");
    return m->c.dtype == ML_F32 ? nn_backward_f32(m) : nn_backward_f64(m);
}

double ml_nn_lr_at(const ml_nn_adamw *o, int64_t t) {
    if (o->warmup > 0 && t <= o->warmup) return o->lr * (double)t / (double)o->warmup;
    if (o->total_steps <= o->warmup) return o->lr;
    double p = (double)(t - o->warmup) / (double)(o->total_steps - o->warmup);
    p = p > 1 ? 1 : p;
    return o->min_lr + 0.5 * (o->lr - o->min_lr) * (1 + cos(M_PI * p));
}

int ml_nn_step(ml_nn_model *m, const ml_nn_adamw *o, double *gnorm, double *lr_used) {
    if (!(o->lr >= 0 && isfinite(o->lr))) return ml_fail(ML_EINVAL, "lr: expected a finite number >= 0, got %g", o->lr);
    if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1))
        return ml_fail(ML_EINVAL, "betas: expected numbers in [0,1), got %g, %g", o->beta1, o->beta2);
    if (!(o->eps > 0) || !(o->weight_decay >= 0) || !isfinite(o->weight_decay) || !(o->min_lr >= 0))
        return ml_fail(ML_EINVAL, "eps > 0, weight_decay >= 0 and min_lr >= 0 expected");
    double lr = ml_nn_lr_at(o, m->step + 1);
    if (lr_used) *lr_used = lr;
    return m->c.dtype == ML_F32 ? nn_adamw_f32(m, o, lr, gnorm) : nn_adamw_f64(m, o, lr, gnorm);
}

int ml_nn_generate(ml_nn_model *m, const int64_t *prompt, int64_t P, int64_t n, double temperature,
                   int64_t top_k, uint64_t seed, int64_t *out) {
    if (P < 1) return ml_fail(ML_EINVAL, "prompt: expected at least one token");
    if (n < 0 || P + n - 1 > m->c.context)
        return ml_fail(ML_EINVAL, "max_tokens: prompt (%lld) + max_tokens (%lld) exceeds context + 1 = %lld",
                       (long long)P, (long long)n, (long long)(m->c.context + 1));
    if (!(temperature >= 0 && isfinite(temperature)))
        return ml_fail(ML_EINVAL, "temperature: expected a finite number >= 0, got %g", temperature);
    if (top_k < 0) return ml_fail(ML_EINVAL, "top_k: expected >= 0, got %lld", (long long)top_k);
    int rc = check_tokens(m, prompt, P, "prompt");
    if (!rc && m->c.ffn == ML_NN_FFN_MOE) rc = nn_moe_reserve(m, m->mc_T ? m->mc_T : 1);
    if (rc || n == 0) return rc;
    return m->c.dtype == ML_F32 ? nn_generate_f32(m, prompt, P, n, temperature, top_k, seed, out)
                                : nn_generate_f64(m, prompt, P, n, temperature, top_k, seed, out);
}

int ml_nn_stats(ml_nn_model *m, const int64_t *tokens, int64_t B, int64_t T, double *f_attn, double *m_act,
                double *gate_mean, double *gate_sparsity, double *f_attn_heads) {
    int rc = ml_nn_forward(m, tokens, NULL, B, T, NULL, NULL);
    if (rc) return rc;
    return m->c.dtype == ML_F32 ? nn_stats_f32(m, f_attn, m_act, gate_mean, gate_sparsity, f_attn_heads)
                                : nn_stats_f64(m, f_attn, m_act, gate_mean, gate_sparsity, f_attn_heads);
}

int ml_nn_router_load(const ml_nn_model *m, int64_t *load) {
    if (m->c.ffn != ML_NN_FFN_MOE) return ml_fail(ML_EINVAL, "router load: the model has no MoE layers");
    if (!m->mc || !m->mc_T || !m->mc[0]) return ml_fail(ML_EINVAL, "router load: no forward yet");
    for (int64_t l = 0; l < m->c.layers; l++) {
        const int64_t *cnt = ml_moe_layer_cache_counts(m->mc[l]);
        for (int64_t e = 0; e < m->c.experts; e++) load[l * m->c.experts + e] = cnt[e];
    }
    return ML_OK;
}
