/* moonlab moe — the token pass of the routers: transformed logits, scores, top-k, weights, statistics. */
#include <stdlib.h>
#include <omp.h>
#include "moe_internal.h"

#define MOE_CAT2(a, b) a##b
#define MOE_CAT(a, b) MOE_CAT2(a, b)

#define REAL double
#define SUFFIX f64
#define MOE_EXP(x) exp(x)
#include "route_tmpl.h"
#undef REAL
#undef SUFFIX
#undef MOE_EXP

#define REAL float
#define SUFFIX f32
#define MOE_EXP(x) moe_expf(x)
#include "route_tmpl.h"
#undef REAL
#undef SUFFIX
#undef MOE_EXP

/* Runs the block worker over token chunks (moe_token_chunks) and reduces P, zsum, hsum in chunk order. probs
 * may be NULL. */
static int run_pass(const ml_moe_route_opts *o, const ml_tensor *logits, int64_t *experts, ml_tensor *weights,
                    void *probs, int f64probs, double *P, double *zsum, double *hsum, double *rank) {
    int64_t T = logits->shape[0], E = logits->shape[1];
    int nck = moe_token_chunks(T), nt = omp_get_max_threads();
    if (T < 256) nt = 1;
    if (nt > nck) nt = nck;
    size_t es = ml_dtype_size(logits->dtype);
    double *Pt = calloc((size_t)nck * (size_t)E, sizeof(double));
    double *acc = calloc((size_t)nck * 2, sizeof(double));
    int64_t *bad = malloc((size_t)nck * sizeof(int64_t));
    char *buf = malloc((size_t)nt * (size_t)(8 * E + 128) * es);
    if (!Pt || !acc || !bad || !buf) {
        free(Pt); free(acc); free(bad); free(buf);
        return ml_fail(ML_ENOMEM, "moe.route: out of memory for %d thread buffers", nt);
    }
    /* expert choice (no weights tensor) only needs scores: k = 0 selects nothing */
    ml_moe_route_opts oo = *o;
    if (!weights) { oo.k = 0; oo.order = ML_MOE_SOFTMAX_THEN_TOPK; }
    float *tmp32 = NULL;
    if (!weights && logits->dtype == ML_F32) {
        tmp32 = malloc((size_t)T * (size_t)E * sizeof(float));
        if (!tmp32) { free(Pt); free(acc); free(bad); free(buf); return ml_fail(ML_ENOMEM, "moe.route: out of memory"); }
    }
    int avx2 = moe_route_have_avx2(), avx512 = moe_route_avx512_covers(&oo, E);
    #pragma omp parallel num_threads(nt)
    {
        char *b = buf + (size_t)omp_get_thread_num() * (size_t)(8 * E + 128) * es;
        #pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < nck; c++) {
            int64_t lo, hi;
            moe_chunk(T, nck, c, &lo, &hi);
            bad[c] = -1;
            double *Pc = Pt + (size_t)c * E, *zc = acc + 2 * c, *hc = acc + 2 * c + 1;
            if (logits->dtype == ML_F64)
                route_block_f64(&oo, ml_f64(logits), E, lo, hi, experts, weights ? ml_f64(weights) : NULL,
                                (double *)probs, Pc, zc, hc, bad + c, (double *)b, rank);
            else if (avx512)
                moe_route_block_f32_avx512(&oo, ml_f32(logits), E, lo, hi, experts, weights ? ml_f32(weights) : NULL,
                                           tmp32 ? tmp32 : (float *)probs, Pc, zc, hc, bad + c, (float *)b, rank);
            else if (avx2)
                moe_route_block_f32_avx2(&oo, ml_f32(logits), E, lo, hi, experts, weights ? ml_f32(weights) : NULL,
                                         tmp32 ? tmp32 : (float *)probs, Pc, zc, hc, bad + c, (float *)b, rank);
            else
                route_block_f32(&oo, ml_f32(logits), E, lo, hi, experts, weights ? ml_f32(weights) : NULL,
                                tmp32 ? tmp32 : (float *)probs, Pc, zc, hc, bad + c, (float *)b, rank);
            if (hi == lo) bad[c] = -1;
        }
    }
    int64_t badrow = -1;
    for (int c = 0; c < nck; c++)
        if (bad[c] >= 0 && (badrow < 0 || bad[c] < badrow)) badrow = bad[c];
    int rc = ML_OK;
    if (badrow >= 0) {
        int raw_finite = 1; /* else the transform overflowed: z = act(x)/temperature + noise */
        for (int64_t e = 0; e < E; e++) raw_finite &= isfinite(ml_tensor_getd(logits, badrow * E + e));
        if (raw_finite)
            rc = ml_fail(ML_EINVAL, "row %lld: act(x)/temperature + noise is not finite (temperature = %g, noise std = %g)",
                         (long long)(badrow + 1), o->temperature, o->noise_std);
        else rc = ml_fail(ML_EINVAL, "row %lld holds a non-finite value", (long long)(badrow + 1)); /* rows count from 1 */
    } else {
        for (int64_t e = 0; e < E; e++) {
            double v = 0;
            for (int c = 0; c < nck; c++) v += Pt[(size_t)c * E + e];
            P[e] = v;
        }
        *zsum = *hsum = 0;
        for (int c = 0; c < nck; c++) { *zsum += acc[2 * c]; *hsum += acc[2 * c + 1]; }
        if (tmp32 && f64probs)
            for (int64_t i = 0; i < T * E; i++) ((double *)probs)[i] = tmp32[i];
    }
    free(Pt); free(acc); free(bad); free(buf); free(tmp32);
    return rc;
}

int moe_route_tokens(const ml_moe_route_opts *o, const ml_tensor *logits, int64_t *experts,
                     ml_tensor *weights, void *probs, double *P, double *zsum, double *hsum, double *rank) {
    return run_pass(o, logits, experts, weights, probs, 0, P, zsum, hsum, rank);
}

int moe_route_scores(const ml_moe_route_opts *o, const ml_tensor *logits, double *s, double *P, double *zsum,
                     double *hsum) {
    return run_pass(o, logits, NULL, NULL, s, 1, P, zsum, hsum, NULL);
}
