/* Copies between (possibly strided) tensors of any dtype; fill, arange, linspace. */
#include <math.h>
#include <string.h>
#include "iter.h"

typedef struct {
    const ml_tensor *src;
    ml_tensor *dst;
    int bad; /* a float that does not fit the integer dtype was met */
} copy_ctx;

#define ROW_CAST(TS, TD, EXPR)                                                                   \
    do {                                                                                       \
        const TS *s = (const TS *)c->src->data + off[1];                                        \
        TD *d = (TD *)c->dst->data + off[0];                                                    \
        int64_t sd = st[0], ss = st[1];                                                         \
        if (sd == 1 && ss == 1)                                                                 \
            for (int64_t i = 0; i < n; i++) { TS x = s[i]; d[i] = (TD)(EXPR); }                 \
        else                                                                                    \
            for (int64_t i = 0; i < n; i++) { TS x = s[i * ss]; d[i * sd] = (TD)(EXPR); }       \
    } while (0)

/* Float to integer: NaN, inf and values outside the target range are refused. */
static int fits(ml_dtype dt, double v)
{
    switch (dt) {
    case ML_I32: return v > -2147483649.0 && v < 2147483648.0;
    case ML_I64: return v >= -0x1p63 && v < 0x1p63;
    case ML_U8: return v > -1.0 && v < 256.0;
    default: return 1;
    }
}

static void copy_row(void *ctx, int64_t n, const int64_t *off, const int64_t *st)
{
    copy_ctx *c = ctx;
    ml_dtype sd = c->src->dtype, dd = c->dst->dtype;
    size_t es = ml_dtype_size(dd);
    if (sd == dd) {
        if (st[0] == 1 && st[1] == 1) {
            memmove((char *)c->dst->data + off[0] * (int64_t)es, (const char *)c->src->data + off[1] * (int64_t)es,
                    (size_t)n * es);
            return;
        }
        switch (es) {
        case 1: ROW_CAST(uint8_t, uint8_t, x); return;
        case 4: ROW_CAST(uint32_t, uint32_t, x); return;
        default: ROW_CAST(uint64_t, uint64_t, x); return;
        }
    }
    if (sd == ML_F64 && dd == ML_F32) { ROW_CAST(double, float, x); return; }
    if (sd == ML_F32 && dd == ML_F64) { ROW_CAST(float, double, x); return; }
    if (sd == ML_I64 && dd == ML_F64) { ROW_CAST(int64_t, double, (double)x); return; }
    if (sd == ML_I32 && dd == ML_F64) { ROW_CAST(int32_t, double, x); return; }
    if (sd == ML_I32 && dd == ML_F32) { ROW_CAST(int32_t, float, (float)x); return; }
    if (sd == ML_U8 && dd == ML_F32) { ROW_CAST(uint8_t, float, x); return; }
    if (dd == ML_BOOL && sd == ML_F32) { ROW_CAST(float, uint8_t, x != 0); return; }
    if (dd == ML_BOOL && sd == ML_F64) { ROW_CAST(double, uint8_t, x != 0); return; }
    size_t ss = ml_dtype_size(sd);
    const char *s = (const char *)c->src->data + off[1] * (int64_t)ss;
    char *d = (char *)c->dst->data + off[0] * (int64_t)es;
    int64_t bs = st[1] * (int64_t)ss, bd = st[0] * (int64_t)es;
    if (ml_dtype_is_float(sd) && !ml_dtype_is_float(dd) && dd != ML_BOOL) {
        for (int64_t i = 0; i < n; i++) {
            double v = ml_load_d(sd, s + i * bs);
            if (!fits(dd, v)) {
                c->bad = 1;
                v = 0;
            }
            ml_store_i(dd, d + i * bd, (int64_t)v);
        }
    } else if (ml_dtype_is_float(sd) || ml_dtype_is_float(dd)) {
        for (int64_t i = 0; i < n; i++) ml_store_d(dd, d + i * bd, ml_load_d(sd, s + i * bs));
    } else {
        for (int64_t i = 0; i < n; i++) ml_store_i(dd, d + i * bd, ml_load_i(sd, s + i * bs));
    }
}

/* Same-dtype copy whose last two (merged) dims are transposed between src and dst: 32x32 tiles keep
 * both sides in cache (a plain strided walk misses on every element of one side). */
#define TILE 32
#define TILED(T)                                                                                   \
    do {                                                                                           \
        const T *sp = (const T *)src->data;                                                        \
        T *dp = (T *)dst->data;                                                                    \
        _Pragma("omp parallel for collapse(2) if (it->numel > ML_PAR_N) schedule(static)")          \
        for (int64_t b = 0; b < batch; b++)                                                         \
            for (int64_t tile = 0; tile < nti * ntj; tile++) {                                      \
                int64_t i0 = tile / ntj * TILE, j0 = tile % ntj * TILE;                             \
                int64_t i1 = i0 + TILE < R ? i0 + TILE : R, j1 = j0 + TILE < C ? j0 + TILE : C;     \
                int64_t ob = 0, os = 0, rem = b;                                                    \
                for (int d = nd - 3; d >= 0; d--) {                                                 \
                    int64_t k = rem % it->shape[d];                                                 \
                    rem /= it->shape[d];                                                            \
                    ob += k * it->st[0][d];                                                         \
                    os += k * it->st[1][d];                                                         \
                }                                                                                   \
                for (int64_t i = i0; i < i1; i++)                                                   \
                    for (int64_t j = j0; j < j1; j++)                                               \
                        dp[ob + i * it->st[0][nd - 2] + j * it->st[0][nd - 1]] =                    \
                            sp[os + i * it->st[1][nd - 2] + j * it->st[1][nd - 1]];                 \
            }                                                                                       \
    } while (0)

static int tiled_copy(ml_tensor *dst, const ml_tensor *src, const ml_iter *it)
{
    int nd = it->ndim;
    if (nd < 2 || dst->dtype != src->dtype) return 0;
    size_t es = ml_dtype_size(src->dtype);
    int64_t d1 = it->st[0][nd - 1], s1 = it->st[1][nd - 1], s0 = it->st[1][nd - 2];
    if (d1 != 1 || s1 == 1 || s0 != 1 || (es != 4 && es != 8)) return 0;
    int64_t R = it->shape[nd - 2], C = it->shape[nd - 1];
    if (R < TILE || C < TILE) return 0; /* also every empty tensor (R or C is 0) */
    int64_t batch = it->numel / (R * C);
    int64_t nti = (R + TILE - 1) / TILE, ntj = (C + TILE - 1) / TILE;
    if (es == 4) TILED(uint32_t);
    else TILED(uint64_t);
    return 1;
}

int ml_tensor_copy(ml_tensor *dst, const ml_tensor *src)
{
    if (dst->numel != src->numel)
        return ml_fail(ML_EINVAL, "copy: %lld elements into %lld", (long long)src->numel,
                       (long long)dst->numel);
    if (dst->data == src->data && dst->dtype == src->dtype && ml_tensor_is_contiguous(dst) &&
        ml_tensor_is_contiguous(src))
        return ML_OK;
    copy_ctx c = {src, dst, 0};
    ml_iter it;
    if (ml_tensor_same_shape(dst, src)) {
        const int64_t *st[2] = {dst->strides, src->strides};
        ml_iter_init(&it, dst->ndim, dst->shape, 2, st);
    } else { /* same numel, other shape: both must be walked flat */
        if (!ml_tensor_is_contiguous(dst) || !ml_tensor_is_contiguous(src))
            return ml_fail(ML_EINVAL, "copy: shapes differ and a side is not contiguous");
        int64_t one = 1, n = src->numel;
        const int64_t *st[2] = {&one, &one};
        ml_iter_init(&it, 1, &n, 2, st);
    }
    if (!tiled_copy(dst, src, &it)) ml_iter_run(&it, copy_row, &c, 1);
    if (c.bad)
        return ml_fail(ML_EINVAL, "cannot convert a non-finite or out-of-range %s value to %s",
                       ml_dtype_name(src->dtype), ml_dtype_name(dst->dtype));
    return ML_OK;
}

typedef struct {
    ml_tensor *t;
    char bytes[8];
} fill_ctx;

static void fill_row(void *ctx, int64_t n, const int64_t *off, const int64_t *st)
{
    fill_ctx *c = ctx;
    size_t es = ml_dtype_size(c->t->dtype);
    char *d = (char *)c->t->data + off[0] * (int64_t)es;
    int64_t bs = st[0] * (int64_t)es;
    if (es == 1) {
        if (st[0] == 1) memset(d, c->bytes[0], (size_t)n);
        else for (int64_t i = 0; i < n; i++) d[i * bs] = c->bytes[0];
    } else if (es == 4) {
        uint32_t v;
        memcpy(&v, c->bytes, 4);
        for (int64_t i = 0; i < n; i++) memcpy(d + i * bs, &v, 4);
    } else {
        uint64_t v;
        memcpy(&v, c->bytes, 8);
        for (int64_t i = 0; i < n; i++) memcpy(d + i * bs, &v, 8);
    }
}

static int fill_bytes(ml_tensor *t, fill_ctx c)
{
    const int64_t *st[1] = {t->strides};
    ml_iter it;
    ml_iter_init(&it, t->ndim, t->shape, 1, st);
    ml_iter_run(&it, fill_row, &c, 1);
    return ML_OK;
}

int ml_tensor_fill(ml_tensor *t, double v)
{
    fill_ctx c = {t, {0}};
    ml_store_d(t->dtype, c.bytes, v);
    return fill_bytes(t, c);
}

int ml_tensor_fill_i(ml_tensor *t, int64_t v)
{
    fill_ctx c = {t, {0}};
    ml_store_i(t->dtype, c.bytes, v);
    return fill_bytes(t, c);
}

int ml_tensor_arange(ml_tensor *t, double start, double step)
{
    for (int64_t i = 0; i < t->numel; i++) ml_tensor_setd(t, i, start + (double)i * step);
    return ML_OK;
}

int ml_tensor_linspace(ml_tensor *t, double a, double b)
{
    int64_t n = t->numel;
    if (n == 0) return ML_OK;
    if (n == 1) {
        ml_tensor_setd(t, 0, a);
        return ML_OK;
    }
    double h = (b - a) / (double)(n - 1);
    if (!isfinite(h)) h = b / (double)(n - 1) - a / (double)(n - 1); /* b - a overflows near DBL_MAX */
    for (int64_t i = 0; i < n; i++) ml_tensor_setd(t, i, i == n - 1 ? b : a + (double)i * h);
    return ML_OK;
}
