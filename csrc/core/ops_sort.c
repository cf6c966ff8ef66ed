/* Sorting along a dim: every line is turned into unsigned keys whose order is
 * the value order (floats: sign-flipped bits, NaN as the largest key), then
 * sorted stably by LSD radix sort (11-bit digits, passes whose digit is the
 * same for every key skipped) or, for short lines, by insertion sort. */
#include <stdlib.h>
#include <string.h>
#include "moonlab/tensor.h"

static uint64_t key_of(ml_dtype dt, const char *p)
{
    switch (dt) {
    case ML_F32: {
        uint32_t b;
        memcpy(&b, p, 4);
        if ((b & 0x7fffffffu) > 0x7f800000u) return 0xffffffffu; /* NaN */
        if (!(b & 0x7fffffffu)) b = 0;                            /* -0 ties with +0, as NumPy compares */
        return b & 0x80000000u ? ~b : b | 0x80000000u;
    }
    case ML_F64: {
        uint64_t b;
        memcpy(&b, p, 8);
        if ((b & 0x7fffffffffffffffull) > 0x7ff0000000000000ull) return ~0ull;
        if (!(b & 0x7fffffffffffffffull)) b = 0;
        return b & 0x8000000000000000ull ? ~b : b | 0x8000000000000000ull;
    }
    case ML_I32: {
        int32_t v;
        memcpy(&v, p, 4);
        return (uint32_t)v ^ 0x80000000u;
    }
    case ML_I64: {
        int64_t v;
        memcpy(&v, p, 8);
        return (uint64_t)v ^ 0x8000000000000000ull;
    }
    default: return *(const uint8_t *)p;
    }
}

#define DIGIT 11
#define NB (1 << DIGIT)

static void insertion(uint64_t *k, int64_t *ix, int64_t n)
{
    for (int64_t i = 1; i < n; i++) {
        uint64_t kk = k[i];
        int64_t xx = ix[i], j = i - 1;
        while (j >= 0 && k[j] > kk) {
            k[j + 1] = k[j];
            ix[j + 1] = ix[j];
            j--;
        }
        k[j + 1] = kk;
        ix[j + 1] = xx;
    }
}

/* Sorts one line; the sorted order ends in ix (k is clobbered). */
static void sort_line(uint64_t *k, int64_t *ix, uint64_t *tk, int64_t *tix, int64_t n, int bits)
{
    if (n <= 64) {
        insertion(k, ix, n);
        return;
    }
    /* radix alternates buffers: copy back when the result landed in the scratch arrays */
    int64_t *hist = calloc((size_t)((bits + DIGIT - 1) / DIGIT) * NB, sizeof *hist);
    if (!hist) {
        insertion(k, ix, n);
        return;
    }
    int np = (bits + DIGIT - 1) / DIGIT;
    for (int64_t i = 0; i < n; i++)
        for (int p = 0; p < np; p++) hist[p * NB + ((k[i] >> (p * DIGIT)) & (NB - 1))]++;
    uint64_t *ka = k, *kb = tk;
    int64_t *ia = ix, *ib = tix;
    for (int p = 0; p < np; p++) {
        int64_t *h = hist + p * NB;
        int skip = 0;
        for (int b = 0; b < NB && !skip; b++) skip = h[b] == n;
        if (skip) continue;
        int64_t sum = 0;
        for (int b = 0; b < NB; b++) {
            int64_t c = h[b];
            h[b] = sum;
            sum += c;
        }
        for (int64_t i = 0; i < n; i++) {
            int64_t d = h[(ka[i] >> (p * DIGIT)) & (NB - 1)]++;
            kb[d] = ka[i];
            ib[d] = ia[i];
        }
        uint64_t *t1 = ka;
        ka = kb;
        kb = t1;
        int64_t *t2 = ia;
        ia = ib;
        ib = t2;
    }
    free(hist);
    if (ia != ix) memcpy(ix, ia, (size_t)n * sizeof *ix);
}

/* Lines of 4-byte keys: key << 32 | position packed in one u64 and sorted on the upper 32 bits by
 * four 8-bit passes (one 8-byte stream per pass instead of a key and an index stream). */
static int sort_packed(uint64_t *p, uint64_t *tmp, int64_t n)
{
    int64_t hist[4][256];
    memset(hist, 0, sizeof hist);
    for (int64_t i = 0; i < n; i++) {
        uint32_t k = (uint32_t)(p[i] >> 32);
        hist[0][k & 255]++;
        hist[1][(k >> 8) & 255]++;
        hist[2][(k >> 16) & 255]++;
        hist[3][k >> 24]++;
    }
    uint64_t *a = p, *b = tmp;
    for (int pass = 0; pass < 4; pass++) {
        int64_t *h = hist[pass];
        int skip = 0;
        for (int d = 0; d < 256 && !skip; d++) skip = h[d] == n;
        if (skip) continue;
        int64_t sum = 0;
        for (int d = 0; d < 256; d++) {
            int64_t c = h[d];
            h[d] = sum;
            sum += c;
        }
        int sh = 32 + 8 * pass;
        for (int64_t i = 0; i < n; i++) b[h[(a[i] >> sh) & 255]++] = a[i];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    return a != p; /* 1 when the result is in tmp */
}

int ml_tensor_sort(const ml_tensor *a, int dim, int descending, ml_tensor *vals, ml_tensor *idx)
{
    if (dim < 0 || dim >= a->ndim) return ml_fail(ML_EINVAL, "sort: dim %d out of range", dim + 1);
    int64_t len = a->shape[dim], lines = len ? a->numel / len : 0;
    if (len == 0 || lines == 0) return ML_OK;
    size_t es = ml_dtype_size(a->dtype);
    int bits = (int)es * 8;
    int64_t sa = a->strides[dim] * (int64_t)es;
    int bad = 0;
#pragma omp parallel if (lines > 1 && a->numel > 65536)
    {
        uint64_t *k = malloc((size_t)len * 2 * sizeof *k);
        int64_t *ix = malloc((size_t)len * 2 * sizeof *ix);
        if (!k || !ix) {
#pragma omp atomic write
            bad = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t l = 0; l < lines; l++) {
            if (!k || !ix) continue;
            /* base offsets of line l in a, vals, idx: walk the other dims */
            int64_t rem = l, oa = 0, ov = 0, oi = 0;
            for (int d = a->ndim - 1; d >= 0; d--) {
                if (d == dim) continue;
                int64_t i = rem % a->shape[d];
                rem /= a->shape[d];
                oa += i * a->strides[d];
                if (vals) ov += i * vals->strides[d];
                if (idx) oi += i * idx->strides[d];
            }
            const char *pa = (const char *)a->data + oa * (int64_t)es;
            if (es == 4 && len > 64 && len < ((int64_t)1 << 32)) {
                for (int64_t j = 0; j < len; j++) {
                    uint64_t key = key_of(a->dtype, pa + j * sa) & 0xffffffffu;
                    if (descending) key = ~key & 0xffffffffu;
                    k[j] = key << 32 | (uint64_t)j;
                }
                uint64_t *res = sort_packed(k, k + len, len) ? k + len : k;
                if (vals) {
                    char *pv = (char *)vals->data + ov * (int64_t)es;
                    int64_t sv = vals->strides[dim] * (int64_t)es;
                    for (int64_t j = 0; j < len; j++) memcpy(pv + j * sv, pa + (int64_t)(res[j] & 0xffffffffu) * sa, es);
                }
                if (idx) {
                    int64_t *pi = (int64_t *)idx->data + oi;
                    for (int64_t j = 0; j < len; j++) pi[j * idx->strides[dim]] = (int64_t)(res[j] & 0xffffffffu);
                }
                continue;
            }
            for (int64_t j = 0; j < len; j++) {
                uint64_t key = key_of(a->dtype, pa + j * sa);
                k[j] = descending ? ~key : key;
                ix[j] = j;
            }
            if (descending && bits < 64)
                for (int64_t j = 0; j < len; j++) k[j] &= (bits == 32 ? 0xffffffffull : 0xffull);
            sort_line(k, ix, k + len, ix + len, len, bits);
            if (vals) {
                char *pv = (char *)vals->data + ov * (int64_t)es;
                int64_t sv = vals->strides[dim] * (int64_t)es;
                for (int64_t j = 0; j < len; j++) memcpy(pv + j * sv, pa + ix[j] * sa, es);
            }
            if (idx) {
                int64_t *pi = (int64_t *)idx->data + oi;
                for (int64_t j = 0; j < len; j++) pi[j * idx->strides[dim]] = ix[j];
            }
        }
        free(k);
        free(ix);
    }
    return bad ? ml_fail(ML_ENOMEM, "sort: out of memory for a line of %lld elements", (long long)len) : ML_OK;
}
