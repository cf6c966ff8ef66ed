/* moonlab moe — dispatch (gather tokens into expert-sorted rows) and combine (weighted gather back). */
#include <stdlib.h>
#include "moe_internal.h"

int ml_moe_dispatch(const ml_tensor *x, const int64_t *order, int64_t n_order, int base, ml_tensor *xs) {
    if (x->ndim != 2) return ml_fail(ML_EINVAL, "x must be [T,D]");
    int64_t T = x->shape[0], D = x->shape[1];
    if (xs->ndim != 2 || xs->shape[0] != n_order || xs->shape[1] != D || xs->dtype != x->dtype)
        return ml_fail(ML_EINVAL, "x_sorted must be [%lld,%lld]", (long long)n_order, (long long)D);
    for (int64_t i = 0; i < n_order; i++) {
        int64_t t = order[2 * i] - base;
        if (t < -1 || t >= T) return ml_fail(ML_EINVAL, "order row %lld names token %lld outside [%d, %lld]",
                                             (long long)(i + base), (long long)order[2 * i], base,
                                             (long long)(T - 1 + base));
    }
    size_t es = ml_dtype_size(x->dtype), row = (size_t)D * es;
    const char *src = x->data;
    char *dst = xs->data;
    #pragma omp parallel for schedule(static) if (n_order * D > 32768)
    for (int64_t i = 0; i < n_order; i++) {
        int64_t t = order[2 * i] - base;
        if (t < 0) memset(dst + (size_t)i * row, 0, row);
        else memcpy(dst + (size_t)i * row, src + (size_t)t * row, row);
    }
    return ML_OK;
}

/* out [D] = the sum over the K slots j with a row slot[j] >= 0 of w[j] (1 without weights) times that row of ys. */
#define COMBINE_ROW(NAME, TY)                                                                                   \
    static void NAME(TY *out, const TY *ys, const TY *w, const int64_t *slot, int64_t K, int64_t D)            \
    {                                                                                                           \
        for (int64_t d = 0; d < D; d++) out[d] = 0;                                                             \
        for (int64_t j = 0; j < K; j++) {                                                                       \
            int64_t i = slot[j];                                                                                \
            if (i < 0) continue;                                                                                \
            TY c = w ? w[j] : (TY)1;                                                                            \
            const TY *src = ys + i * D;                                                                         \
            for (int64_t d = 0; d < D; d++) out[d] += c * src[d];                                               \
        }                                                                                                       \
    }
COMBINE_ROW(combine_row_f64, double)
COMBINE_ROW(combine_row_f32, float)

int ml_moe_combine(const ml_tensor *ys, const int64_t *order, int64_t n_order, int base, int64_t K,
                   const ml_tensor *weights, ml_tensor *y) {
    if (y->ndim != 2 || ys->ndim != 2 || ys->shape[1] != y->shape[1] || ys->shape[0] != n_order ||
        ys->dtype != y->dtype)
        return ml_fail(ML_EINVAL, "y_sorted must be [N,D] with N = %lld order rows", (long long)n_order);
    int64_t T = y->shape[0], D = y->shape[1], TK;
    if (K < 1 || __builtin_mul_overflow(T, K, &TK)) return ml_fail(ML_EINVAL, "bad slot count K = %lld", (long long)K);
    if (weights && (weights->ndim != 2 || weights->shape[0] != T || weights->shape[1] != K ||
                    weights->dtype != y->dtype))
        return ml_fail(ML_EINVAL, "weights must be [T,K] = [%lld,%lld] of the dtype of y_sorted", (long long)T,
                       (long long)K);
    int64_t *row = malloc((size_t)(TK > 0 ? TK : 1) * sizeof(int64_t));
    if (!row) return ml_fail(ML_ENOMEM, "moe.combine: out of memory");
    for (int64_t i = 0; i < TK; i++) row[i] = -1;
    for (int64_t i = 0; i < n_order; i++) {
        int64_t t = order[2 * i] - base, j = order[2 * i + 1] - base;
        if (t == -1 && j == -1) continue;
        if (t < 0 || t >= T || j < 0 || j >= K || row[t * K + j] >= 0) {
            free(row);
            return ml_fail(ML_EINVAL, "order row %lld = (%lld,%lld) is not a distinct (token, slot) of [%lld,%lld]",
                           (long long)(i + base), (long long)order[2 * i], (long long)order[2 * i + 1],
                           (long long)T, (long long)K);
        }
        row[t * K + j] = i;
    }
    #pragma omp parallel for schedule(static) if (T * D > 32768)
    for (int64_t t = 0; t < T; t++) {
        if (y->dtype == ML_F64)
            combine_row_f64(ml_f64(y) + t * D, ml_f64(ys), weights ? ml_f64(weights) + t * K : NULL, row + t * K, K, D);
        else
            combine_row_f32(ml_f32(y) + t * D, ml_f32(ys), weights ? ml_f32(weights) + t * K : NULL, row + t * K, K, D);
    }
    free(row);
    return ML_OK;
}
