/* Reductions over all elements or along one dim, and cumulative sums/products.
 * The input is viewed as [outer, len, inner] (contiguous; strided views are
 * copied first). Lines (inner == 1) are reduced by vectorised block kernels;
 * otherwise whole rows of `inner` elements are combined at once. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "iter.h"
#include "reduce_simd.h"
#include "moonlab/size.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math") /* float selects (max/min) if-convert and vectorise */
#endif
#include "clones.h"

ml_dtype ml_reduce_dtype(ml_reduce op, ml_dtype dt)
{
    switch (op) {
    case ML_ARGMAX:
    case ML_ARGMIN: return ML_I64;
    case ML_ANY:
    case ML_ALL: return ML_BOOL;
    case ML_SUM:
    case ML_PROD: return ml_dtype_is_float(dt) ? dt : ML_I64;
    case ML_MEAN: return ml_dtype_is_float(dt) ? dt : ML_F64;
    default: return dt;
    }
}

#define CHUNK 65536  /* elements per task of a threaded line reduction (fixed: results do not depend on threads) */

/* ---- line kernels: n contiguous elements (floats: reduce_simd.c) ---- */

/* Integer sums wrap modulo 2^64, as NumPy's int64 sums do. */
#define SUM_INT(NAME, T)                                                                          \
    static int64_t NAME(const T *x, int64_t n)                                                    \
    {                                                                                             \
        uint64_t acc = 0;                                                                         \
        for (int64_t i = 0; i < n; i++) acc += (uint64_t)(int64_t)x[i];                           \
        return (int64_t)acc;                                                                      \
    }
SUM_INT(sum_i32, int32_t)
SUM_INT(sum_i64, int64_t)
SUM_INT(sum_u8, uint8_t)

/* Integer max (sign = 1) or min (sign = -1); *nan is always 0. */
#define EXTREME(NAME, T)                                                                          \
    CLONES static T NAME(const T *x, int64_t n, int sign, int *nan)                               \
    {                                                                                             \
        T lm[16];                                                                                 \
        unsigned char bad[16] = {0};                                                              \
        for (int j = 0; j < 16; j++) lm[j] = x[0];                                                \
        int64_t i = 0;                                                                            \
        if (sign > 0)                                                                             \
            for (; i + 16 <= n; i += 16)                                                          \
                for (int j = 0; j < 16; j++) {                                                    \
                    T v = x[i + j];                                                               \
                    lm[j] = v > lm[j] ? v : lm[j];                                                \
                    bad[j] |= v != v;                                                             \
                }                                                                                 \
        else                                                                                      \
            for (; i + 16 <= n; i += 16)                                                          \
                for (int j = 0; j < 16; j++) {                                                    \
                    T v = x[i + j];                                                               \
                    lm[j] = v < lm[j] ? v : lm[j];                                                \
                    bad[j] |= v != v;                                                             \
                }                                                                                 \
        T m = lm[0];                                                                              \
        int any = 0;                                                                              \
        for (int j = 0; j < 16; j++) {                                                            \
            m = sign > 0 ? (lm[j] > m ? lm[j] : m) : (lm[j] < m ? lm[j] : m);                     \
            any |= bad[j];                                                                        \
        }                                                                                         \
        for (; i < n; i++) {                                                                      \
            T v = x[i];                                                                           \
            m = sign > 0 ? (v > m ? v : m) : (v < m ? v : m);                                     \
            any |= v != v;                                                                        \
        }                                                                                         \
        *nan = any;                                                                               \
        return m;                                                                                 \
    }
EXTREME(ext_i32, int32_t)
EXTREME(ext_i64, int64_t)
EXTREME(ext_u8, uint8_t)

/* Value of flat element i as double / int64 (contiguous data). */
static double getd(const ml_tensor *t, int64_t i) { return ml_tensor_getd(t, i); }

/* Reduces the contiguous line a[base .. base+len) for op; float results in *d, integer ones in *q. */
static void reduce_line(ml_reduce op, const ml_tensor *a, int64_t base, int64_t len, double *d, int64_t *q)
{
    ml_dtype dt = a->dtype;
    const char *p = (const char *)a->data + base * (int64_t)ml_dtype_size(dt);
    switch (op) {
    case ML_SUM:
    case ML_MEAN:
        switch (dt) {
        case ML_F32: *d = ml_rsum_f32((const float *)p, len); break;
        case ML_F64: *d = ml_rsum_f64((const double *)p, len); break;
        case ML_I32: *q = sum_i32((const int32_t *)p, len); *d = (double)*q; break;
        case ML_I64: *q = sum_i64((const int64_t *)p, len); *d = (double)*q; break;
        default: *q = sum_u8((const uint8_t *)p, len); *d = (double)*q; break;
        }
        if (op == ML_MEAN) *d = ml_dtype_is_float(dt) ? *d / (double)len : (double)*q / (double)len;
        return;
    case ML_MAX:
    case ML_MIN:
    case ML_ARGMAX:
    case ML_ARGMIN: {
        int sign = op == ML_MAX || op == ML_ARGMAX ? 1 : -1, nan = 0;
        int arg = op == ML_ARGMAX || op == ML_ARGMIN;
        if (arg && dt == ML_F32) {
            *q = ml_rarg_f32((const float *)p, len, sign);
            *d = (double)*q;
            return;
        }
        if (arg && dt == ML_F64) {
            *q = ml_rarg_f64((const double *)p, len, sign);
            *d = (double)*q;
            return;
        }
        double m;
        int64_t mi = 0;
        switch (dt) {
        case ML_F32: m = ml_rext_f32((const float *)p, len, sign, &nan); break;
        case ML_F64: m = ml_rext_f64((const double *)p, len, sign, &nan); break;
        case ML_I32: mi = ext_i32((const int32_t *)p, len, sign, &nan); m = (double)mi; break;
        case ML_I64: mi = ext_i64((const int64_t *)p, len, sign, &nan); m = (double)mi; break;
        default: mi = ext_u8((const uint8_t *)p, len, sign, &nan); m = (double)mi; break;
        }
        if (!arg) {
            *d = nan ? NAN : m;
            *q = mi;
            return;
        }
        int64_t j = 0; /* integers: the first element equal to the extreme */
        switch (dt) {
        case ML_I32: while (j < len && ((const int32_t *)p)[j] != mi) j++; break;
        case ML_I64: while (j < len && ((const int64_t *)p)[j] != mi) j++; break;
        default: while (j < len && ((const uint8_t *)p)[j] != mi) j++; break;
        }
        *q = j;
        *d = (double)j;
        return;
    }
    case ML_PROD: {
        if (ml_dtype_is_float(dt)) {
            double r = 1;
            for (int64_t j = 0; j < len; j++) r *= getd(a, base + j);
            *d = r;
        } else {
            uint64_t r = 1;
            for (int64_t j = 0; j < len; j++) r *= (uint64_t)ml_tensor_geti(a, base + j);
            *q = (int64_t)r;
            *d = (double)*q;
        }
        return;
    }
    case ML_ANY:
    case ML_ALL: {
        int any = 0, all = 1;
        for (int64_t j = 0; j < len; j++) {
            int nz = getd(a, base + j) != 0; /* NaN counts as true, as in NumPy */
            any |= nz;
            all &= nz;
        }
        *q = op == ML_ANY ? any : all;
        *d = (double)*q;
        return;
    }
    }
}

static void store(ml_tensor *out, int64_t k, double d, int64_t q)
{
    if (ml_dtype_is_float(out->dtype)) ml_tensor_setd(out, k, d);
    else ml_tensor_seti(out, k, q);
}

/* The partials of a line of len elements cut into CHUNK-sized pieces: *nc of them, a double and an integer each. */
static int chunk_partials(int64_t len, int64_t *nc, double **pd, int64_t **pq)
{
    *nc = (len + CHUNK - 1) / CHUNK;
    *pd = malloc((size_t)*nc * sizeof **pd);
    *pq = malloc((size_t)*nc * sizeof **pq);
    if (*pd && *pq) return ML_OK;
    free(*pd);
    free(*pq);
    return ml_fail(ML_ENOMEM, "out of memory in a reduction");
}

/* A full sum/mean of a long line: fixed CHUNK-sized tasks in parallel, partials combined pairwise. */
static int long_sum(ml_reduce op, const ml_tensor *a, int64_t len, ml_tensor *out)
{
    int64_t nc;
    double *pd;
    int64_t *pq;
    int rc = chunk_partials(len, &nc, &pd, &pq);
    if (rc) return rc;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < nc; c++) {
        int64_t s = c * CHUNK, n = len - s < CHUNK ? len - s : CHUNK;
        pd[c] = 0;
        pq[c] = 0;
        reduce_line(ML_SUM, a, s, n, &pd[c], &pq[c]);
    }
    for (int64_t w = 1; w < nc; w *= 2) /* pairwise tree over the partials */
        for (int64_t c = 0; c + w < nc; c += 2 * w) {
            pd[c] += pd[c + w];
            pq[c] = (int64_t)((uint64_t)pq[c] + (uint64_t)pq[c + w]);
        }
    double d = pd[0];
    int64_t q = pq[0];
    free(pd);
    free(pq);
    if (op == ML_MEAN) d = ml_dtype_is_float(a->dtype) ? d / (double)len : (double)q / (double)len;
    store(out, 0, d, q);
    return ML_OK;
}

/* acc[i] += x[i] summed over `rows` rows of f32 / f64 `stride` elements apart (sums along an outer
 * dim): eight rows per pass are added pairwise in double before they reach the accumulator (one load
 * and store of acc per eight rows), then four, then single rows for the rest. */
#define ROWACC(NAME, T)                                                                           \
    CLONES static void NAME(double *acc, const T *x, int64_t rows, int64_t stride, int64_t n)     \
    {                                                                                             \
        int64_t j = 0;                                                                            \
        for (; j + 8 <= rows; j += 8) {                                                           \
            const T *a = x + j * stride, *b = a + stride, *c = b + stride, *d = c + stride;       \
            const T *e = d + stride, *f = e + stride, *g = f + stride, *h = g + stride;           \
            for (int64_t i = 0; i < n; i++)                                                       \
                acc[i] += (((double)a[i] + (double)b[i]) + ((double)c[i] + (double)d[i])) +       \
                          (((double)e[i] + (double)f[i]) + ((double)g[i] + (double)h[i]));        \
        }                                                                                         \
        for (; j + 4 <= rows; j += 4) {                                                           \
            const T *a = x + j * stride, *b = a + stride, *c = b + stride, *d = c + stride;       \
            for (int64_t i = 0; i < n; i++)                                                       \
                acc[i] += ((double)a[i] + (double)b[i]) + ((double)c[i] + (double)d[i]);          \
        }                                                                                         \
        for (; j < rows; j++)                                                                     \
            for (int64_t i = 0; i < n; i++) acc[i] += (double)x[j * stride + i];                  \
    }
ROWACC(rowacc_f32, float)
ROWACC(rowacc_f64, double)

/* One step of a row reduction for element k at position j along the dim. */
static inline void row_step(ml_reduce op, const ml_tensor *a, int is_float, int64_t k, int64_t j, double *dv,
                            int64_t *iv, int64_t *ix)
{
    if (is_float) {
        double x = getd(a, k);
        switch (op) {
        case ML_SUM:
        case ML_MEAN: *dv += x; break;
        case ML_PROD: *dv *= x; break;
        case ML_ANY: *iv |= x != 0; break;
        case ML_ALL: *iv &= x != 0; break;
        case ML_MAX:
        case ML_ARGMAX:
            if (x > *dv || (x != x && *dv == *dv)) *dv = x, *ix = j;
            break;
        case ML_MIN:
        case ML_ARGMIN:
            if (x < *dv || (x != x && *dv == *dv)) *dv = x, *ix = j;
            break;
        }
        return;
    }
    int64_t x = ml_tensor_geti(a, k);
    switch (op) {
    case ML_SUM:
    case ML_MEAN: *iv = (int64_t)((uint64_t)*iv + (uint64_t)x); break;
    case ML_PROD: *iv = (int64_t)((uint64_t)*iv * (uint64_t)x); break;
    case ML_ANY: *ix |= x != 0; break;
    case ML_ALL: *ix &= x != 0; break;
    case ML_MAX:
    case ML_ARGMAX:
        if (x > *iv) *iv = x, *ix = j;
        break;
    case ML_MIN:
    case ML_ARGMIN:
        if (x < *iv) *iv = x, *ix = j;
        break;
    }
}

/* Float sums along an outer dim ([outer, len, inner], inner > 1): tasks of up to SUM_TILE whole columns
 * by SUM_ROWS rows, each accumulating in double; the row blocks' partial sums are then combined
 * pairwise. The blocking depends on the shape only, so results do not depend on the thread count. */
#define SUM_TILE 8192
#define SUM_ROWS 256
static int rows_sum(ml_reduce op, const ml_tensor *a, int64_t outer, int64_t len, int64_t inner, ml_tensor *out)
{
    int64_t ntile = (inner + SUM_TILE - 1) / SUM_TILE;
    int64_t rb = outer * ntile >= 16 ? len : SUM_ROWS, nrb = (len + rb - 1) / rb, tasks = outer * ntile * nrb;
    size_t cells;
    if (ml_size_mul3((size_t)outer, (size_t)nrb, (size_t)inner, &cells) || cells > SIZE_MAX / sizeof(double))
        return ml_fail(ML_ENOMEM, "reduction scratch too large");
    double *part = calloc(cells ? cells : 1, sizeof *part);
    if (!part) return ml_fail(ML_ENOMEM, "out of memory in a reduction");
    int f32 = a->dtype == ML_F32;
#pragma omp parallel for if (a->numel > ML_PAR_N) schedule(static)
    for (int64_t task = 0; task < tasks; task++) {
        int64_t r = task % nrb, t = (task / nrb) % ntile, o = task / (nrb * ntile);
        int64_t c0 = t * SUM_TILE, tn = inner - c0 < SUM_TILE ? inner - c0 : SUM_TILE;
        int64_t j0 = r * rb, rows = len - j0 < rb ? len - j0 : rb, base = (o * len + j0) * inner + c0;
        double *acc = part + (o * nrb + r) * inner + c0;
        if (f32) rowacc_f32(acc, (const float *)a->data + base, rows, inner, tn);
        else rowacc_f64(acc, (const double *)a->data + base, rows, inner, tn);
    }
    int64_t m = outer * inner;
#pragma omp parallel for if (m * nrb > ML_PAR_N) schedule(static)
    for (int64_t k = 0; k < m; k++) {
        int64_t o = k / inner, c = k % inner;
        double *p = part + o * nrb * inner + c;
        for (int64_t w = 1; w < nrb; w *= 2)
            for (int64_t r = 0; r + w < nrb; r += 2 * w) p[r * inner] += p[(r + w) * inner];
        double d = op == ML_MEAN ? p[0] / (double)len : p[0];
        if (out->dtype == ML_F32) ((float *)out->data)[k] = (float)d;
        else if (out->dtype == ML_F64) ((double *)out->data)[k] = d;
        else ml_tensor_setd(out, k, d);
    }
    free(part);
    return ML_OK;
}

/* inner > 1: rows of `inner` elements combined along the dim (other than float sums). */
static int rows_reduce(ml_reduce op, const ml_tensor *a, int64_t outer, int64_t len, int64_t inner, ml_tensor *out)
{
    int64_t m = outer * inner;
    int bad = 0;
    const int64_t tile = 2048;
    int64_t ntile = (inner + tile - 1) / tile, tasks = outer * ntile;
    int is_float = ml_dtype_is_float(a->dtype);
#pragma omp parallel for if (m * len > ML_PAR_N) schedule(static)
    for (int64_t task = 0; task < tasks; task++) {
        int64_t o = task / ntile, t0 = (task % ntile) * tile, tn = inner - t0 < tile ? inner - t0 : tile;
        double *dv = malloc((size_t)tn * sizeof *dv);
        int64_t *iv = malloc((size_t)tn * sizeof *iv), *ix = malloc((size_t)tn * sizeof *ix);
        if (!dv || !iv || !ix) {
            free(dv);
            free(iv);
            free(ix);
#pragma omp atomic write
            bad = 1;
            continue;
        }
        int64_t base = o * len * inner + t0;
        int first = op == ML_MAX || op == ML_MIN || op == ML_ARGMAX || op == ML_ARGMIN;
        for (int64_t i = 0; i < tn; i++) {
            dv[i] = first ? getd(a, base + i) : op == ML_PROD ? 1 : 0;
            iv[i] = first ? ml_tensor_geti(a, base + i) : op == ML_PROD || op == ML_ALL ? 1 : 0;
            ix[i] = op == ML_ALL ? 1 : 0;
        }
        for (int64_t j = first; j < len; j++)
            for (int64_t i = 0; i < tn; i++) row_step(op, a, is_float, base + j * inner + i, j, &dv[i], &iv[i], &ix[i]);
        for (int64_t i = 0; i < tn; i++) {
            int64_t k = o * inner + t0 + i;
            double d = dv[i];
            int64_t q = iv[i];
            switch (op) {
            case ML_MEAN: d = is_float ? d / (double)len : (double)q / (double)len; break;
            case ML_ARGMAX:
            case ML_ARGMIN: q = ix[i]; d = (double)q; break;
            case ML_ANY:
            case ML_ALL: q = is_float ? iv[i] : ix[i]; d = (double)q; break;
            default:
                if (!is_float) d = (double)q;
                break;
            }
            store(out, k, d, q);
        }
        free(dv);
        free(iv);
        free(ix);
    }
    return bad ? ml_fail(ML_ENOMEM, "out of memory in a reduction") : ML_OK;
}

typedef int (*dim_fn)(ml_reduce op, const ml_tensor *a, int dim, ml_tensor *out);

/* fn(op, a, dim, out) on a, or on a contiguous copy of a strided a. */
static int on_contiguous(dim_fn fn, ml_reduce op, const ml_tensor *a, int dim, ml_tensor *out)
{
    if (ml_tensor_is_contiguous(a)) return fn(op, a, dim, out);
    ml_tensor c = {0};
    int rc = ml_tensor_contiguous(&c, a);
    if (!rc) rc = fn(op, &c, dim, out);
    ml_tensor_release(&c);
    return rc;
}

static int reduce_contiguous(ml_reduce op, const ml_tensor *a, int dim, ml_tensor *out)
{
    int64_t outer = 1, inner = 1, len;
    if (dim < 0) {
        len = a->numel;
        if (out->numel != 1) return ml_fail(ML_EINVAL, "full reduction needs a 1-element output");
    } else {
        if (dim >= a->ndim) return ml_fail(ML_EINVAL, "dim %d out of range for a %d-dim tensor", dim + 1, a->ndim);
        len = a->shape[dim];
        for (int i = 0; i < dim; i++) outer *= a->shape[i];
        for (int i = dim + 1; i < a->ndim; i++) inner *= a->shape[i];
        if (out->numel != outer * inner) return ml_fail(ML_EINVAL, "reduction output has the wrong size");
    }
    if (len == 0) {
        if (op != ML_SUM && op != ML_PROD && op != ML_ANY && op != ML_ALL)
            return ml_fail(ML_EINVAL, "reduction over an empty dim has no identity");
        double v = op == ML_PROD || op == ML_ALL ? 1 : 0;
        return ml_tensor_fill(out, v);
    }
    if (inner > 1 && (op == ML_SUM || op == ML_MEAN) && (a->dtype == ML_F32 || a->dtype == ML_F64))
        return rows_sum(op, a, outer, len, inner, out);
    if (inner > 1) return rows_reduce(op, a, outer, len, inner, out);
    if (outer == 1 && (op == ML_SUM || op == ML_MEAN) && len > 2 * CHUNK) return long_sum(op, a, len, out);
    if (outer == 1 && len > 2 * CHUNK && (op == ML_MAX || op == ML_MIN || op == ML_ARGMAX || op == ML_ARGMIN)) {
        /* parallel over fixed chunks, first winner kept in chunk order */
        int64_t nc;
        double *pd;
        int64_t *pq;
        int rc = chunk_partials(len, &nc, &pd, &pq);
        if (rc) return rc;
        ml_reduce lop = op == ML_MAX || op == ML_ARGMAX ? ML_ARGMAX : ML_ARGMIN;
        int arg = op == ML_ARGMAX || op == ML_ARGMIN;
        if (!arg && ml_dtype_is_float(a->dtype)) { /* values only: chunk extremes, NaN wins */
#pragma omp parallel for schedule(static)
            for (int64_t c = 0; c < nc; c++) {
                int64_t s = c * CHUNK, n = len - s < CHUNK ? len - s : CHUNK;
                int64_t q = 0;
                reduce_line(op, a, s, n, &pd[c], &q);
            }
            double m = pd[0];
            for (int64_t c = 1; c < nc; c++) {
                double x = pd[c];
                if (m != m) break;
                if (x != x || (op == ML_MAX ? x > m : x < m)) m = x;
            }
            free(pd);
            free(pq);
            store(out, 0, m, 0);
            return ML_OK;
        }
#pragma omp parallel for schedule(static)
        for (int64_t c = 0; c < nc; c++) {
            int64_t s = c * CHUNK, n = len - s < CHUNK ? len - s : CHUNK;
            double d;
            int64_t q;
            reduce_line(lop, a, s, n, &d, &q);
            pq[c] = s + q;
            pd[c] = getd(a, s + q);
        }
        int64_t best = 0;
        for (int64_t c = 1; c < nc; c++) {
            double x = pd[c], b = pd[best];
            if (b != b) break;
            int win = x != x || (lop == ML_ARGMAX ? x > b : x < b);
            if (!ml_dtype_is_float(a->dtype)) {
                int64_t xi = ml_tensor_geti(a, pq[c]), bi = ml_tensor_geti(a, pq[best]);
                win = lop == ML_ARGMAX ? xi > bi : xi < bi;
            }
            if (win) best = c;
        }
        int64_t idx = pq[best];
        free(pd);
        free(pq);
        if (op == ML_ARGMAX || op == ML_ARGMIN) store(out, 0, (double)idx, idx);
        else store(out, 0, getd(a, idx), ml_tensor_geti(a, idx));
        return ML_OK;
    }
#pragma omp parallel for if (outer * len > ML_PAR_N && outer > 1) schedule(static)
    for (int64_t o = 0; o < outer; o++) {
        double d = 0;
        int64_t q = 0;
        reduce_line(op, a, o * len, len, &d, &q);
        store(out, o, d, q);
    }
    return ML_OK;
}

int ml_tensor_reduce(ml_reduce op, const ml_tensor *a, int dim, ml_tensor *out)
{
    return on_contiguous(reduce_contiguous, op, a, dim, out);
}

/* op is ML_SUM or ML_PROD. */
static int cumulate_contiguous(ml_reduce op, const ml_tensor *a, int dim, ml_tensor *out)
{
    int prod = op == ML_PROD;
    if (dim < 0 || dim >= a->ndim) return ml_fail(ML_EINVAL, "cumulate: dim %d out of range", dim + 1);
    if (!ml_tensor_same_shape(a, out) || !ml_tensor_is_contiguous(out))
        return ml_fail(ML_EINVAL, "cumulate: output must be contiguous of the input's shape");
    int64_t outer = 1, inner = 1, len = a->shape[dim];
    for (int i = 0; i < dim; i++) outer *= a->shape[i];
    for (int i = dim + 1; i < a->ndim; i++) inner *= a->shape[i];
    int is_float = ml_dtype_is_float(a->dtype);
#pragma omp parallel for if (a->numel > ML_PAR_N) schedule(static)
    for (int64_t k = 0; k < outer * inner; k++) {
        int64_t o = k / inner, i = k % inner, base = o * len * inner + i;
        double acc = prod;
        uint64_t iacc = (uint64_t)prod;
        for (int64_t j = 0; j < len; j++) {
            int64_t e = base + j * inner;
            if (is_float) {
                double x = getd(a, e);
                acc = prod ? acc * x : acc + x;
                ml_tensor_setd(out, e, acc);
            } else {
                uint64_t x = (uint64_t)ml_tensor_geti(a, e);
                iacc = prod ? iacc * x : iacc + x;
                ml_tensor_seti(out, e, (int64_t)iacc);
            }
        }
    }
    return ML_OK;
}

int ml_tensor_cumulate(int prod, const ml_tensor *a, int dim, ml_tensor *out)
{
    return on_contiguous(cumulate_contiguous, prod ? ML_PROD : ML_SUM, a, dim, out);
}
