/* Stable sorts of one line on order-preserving unsigned keys: insertion sort for short lines, else LSD radix.
 * 8-byte dtypes carry (64-bit key, 32-bit position) in two arrays; narrower dtypes one u64 per element,
 * key << 32 | position. The histograms of every pass come from one read of the source (for a split into
 * chunks, later passes recount their chunk); the first pass computes the keys from the source instead of
 * reading a key array; the last pass writes the outputs directly, values rebuilt from the keys, or (both
 * outputs contiguous) into the outputs' memory, which a final sweep converts in place. Scatters into work
 * arrays go through one cache-line buffer per bucket (software write-combining). */
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include "sort_line.h"

#define RB 11
#define RN (1 << RB)
#define MAXP 6       /* ceil(64 / RB) */
#define MAXCHUNK 64
#define INLINE static inline __attribute__((always_inline))

typedef uint32_t hist_t[MAXP][RN];

/* The order-preserving key of the element at p (floats: -0 ties with +0, every NaN is the largest key). */
INLINE uint64_t key_of(ml_dtype dt, const char *p)
{
    switch (dt) {
    case ML_F32: {
        uint32_t b;
        memcpy(&b, p, 4);
        if ((b & 0x7fffffffu) > 0x7f800000u) return 0xffffffffu;
        if (!(b & 0x7fffffffu)) b = 0;
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
        uint32_t b;
        memcpy(&b, p, 4);
        return b ^ 0x80000000u;
    }
    case ML_I64: {
        uint64_t b;
        memcpy(&b, p, 8);
        return b ^ 0x8000000000000000ull;
    }
    default: return *(const uint8_t *)p;
    }
}

/* Writes the element whose key is k (not inverted) and source position i to dst: the inverse of key_of,
 * except for the keys of zeros and NaNs, which several bit patterns share (those are copied from the source). */
INLINE void put_val(ml_dtype dt, char *dst, uint64_t k, const ml_sort_line *ln, uint32_t i)
{
    switch (dt) {
    case ML_F64: {
        uint64_t b;
        if (k == 0x8000000000000000ull || k == ~0ull) memcpy(&b, ln->src + (int64_t)i * ln->ss, 8);
        else b = k >> 63 ? k ^ 0x8000000000000000ull : ~k;
        memcpy(dst, &b, 8);
        break;
    }
    case ML_I64: {
        uint64_t b = k ^ 0x8000000000000000ull;
        memcpy(dst, &b, 8);
        break;
    }
    case ML_F32: {
        uint32_t kk = (uint32_t)k, b;
        if (kk == 0x80000000u || kk == 0xffffffffu) memcpy(&b, ln->src + (int64_t)i * ln->ss, 4);
        else b = kk >> 31 ? kk ^ 0x80000000u : ~kk;
        memcpy(dst, &b, 4);
        break;
    }
    case ML_I32: {
        uint32_t b = (uint32_t)k ^ 0x80000000u;
        memcpy(dst, &b, 4);
        break;
    }
    default: *(uint8_t *)dst = (uint8_t)k;
    }
}

INLINE int nbits(ml_dtype dt) { return (int)ml_dtype_size(dt) * 8; }
INLINE uint64_t key_mask(ml_dtype dt) { return nbits(dt) == 64 ? ~0ull : (1ull << nbits(dt)) - 1; }

/* Histograms of every digit of the keys of source elements [j0, j1). */
INLINE void hist_src_t(ml_dtype dt, const ml_sort_line *ln, int64_t j0, int64_t j1, hist_t h, uint64_t flip)
{
    const int np = (nbits(dt) + RB - 1) / RB;
    for (int64_t j = j0; j < j1; j++) {
        uint64_t k = key_of(dt, ln->src + j * ln->ss) ^ flip;
        for (int p = 0; p < np; p++) h[p][(k >> (p * RB)) & (RN - 1)]++;
    }
}

/* Software write-combining for the scatter of the wide layout: each bucket collects one cache line of keys
 * (8) and of positions (16) before writing it whole with non-temporal stores (no read of the destination
 * line first); lines a bucket shares with its neighbours are written element by element. */
typedef struct {
    uint64_t k[8];
    uint32_t i[16];
} wc_line;

INLINE void put_line(void *dst, const void *src)
{
#ifdef __SSE2__
    __m128i *d = dst;
    const __m128i *s = src;
    _mm_stream_si128(d, _mm_load_si128(s));
    _mm_stream_si128(d + 1, _mm_load_si128(s + 1));
    _mm_stream_si128(d + 2, _mm_load_si128(s + 2));
    _mm_stream_si128(d + 3, _mm_load_si128(s + 3));
#else
    memcpy(dst, src, 64);
#endif
}

/* Element d of a bucket whose elements in this pass start at st: into its line buffer, the line written out
 * when full (whole with non-temporal stores, or element by element when it starts before st). a is the
 * destination's offset in elements within a cache line. */
#define WC_PUT(name, T, L)                                                          \
    INLINE void name(T *dst, T *line, uint32_t d, uint32_t st, unsigned a, T v)   \
    {                                                                             \
        unsigned slot = (d + a) & (L - 1);                                        \
        line[slot] = v;                                                           \
        if (slot != L - 1) return;                                                \
        if (d >= L - 1 && d - (L - 1) >= st) put_line(dst + d - (L - 1), line);   \
        else                                                                      \
            for (uint32_t e = st; e <= d; e++) dst[e] = line[(e + a) & (L - 1)]; \
    }
WC_PUT(wc_put64, uint64_t, 8)
WC_PUT(wc_put32, uint32_t, 16)
#undef WC_PUT

/* After a pass: writes the elements [st, end) still in the open line buffers of every bucket. */
static void wc_close(uint64_t *kd, uint32_t *id, const wc_line *wc, const uint32_t *st, const uint32_t *o,
                     unsigned ak, unsigned ai)
{
    for (int b = 0; b < RN; b++) {
        uint32_t end = o[b];
        if (end == st[b]) continue;
        int64_t lk = (int64_t)end - ((end + ak) & 7), li = (int64_t)end - ((end + ai) & 15); /* open lines' starts */
        for (int64_t e = lk > st[b] ? lk : st[b]; e < end; e++) kd[e] = wc[b].k[(e + ak) & 7];
        if (id)
            for (int64_t e = li > st[b] ? li : st[b]; e < end; e++) id[e] = wc[b].i[(e + ai) & 15];
    }
#ifdef __SSE2__
    _mm_sfence();
#endif
}

/* One pass over elements [j0, j1): from the source (keys computed, positions j) or from the arrays (ks, is),
 * into the arrays (kd, id) through the buffers wc or, on the last pass, into the outputs. Wide layout: keys
 * and positions apart. */
INLINE void pass_wide_t(ml_dtype dt, const ml_sort_line *ln, int from_src, int to_out, int p, int64_t j0,
                        int64_t j1, const uint64_t *ks, const uint32_t *is, uint64_t *kd, uint32_t *id,
                        uint32_t *o, uint64_t flip, wc_line *wc)
{
    const int sh = p * RB;
    if (to_out) {
        for (int64_t j = j0; j < j1; j++) {
            uint64_t k = from_src ? key_of(dt, ln->src + j * ln->ss) ^ flip : ks[j];
            uint32_t i = from_src ? (uint32_t)j : is[j];
            uint32_t d = o[(k >> sh) & (RN - 1)]++;
            if (ln->vals) put_val(dt, ln->vals + (int64_t)d * ln->vs, k ^ flip, ln, i);
            if (ln->idx) ln->idx[(int64_t)d * ln->is] = (int64_t)i + ln->base;
        }
        return;
    }
    uint32_t st[RN];
    memcpy(st, o, sizeof st);
    const unsigned ak = (unsigned)((uintptr_t)kd / 8) & 7, ai = (unsigned)((uintptr_t)id / 4) & 15;
    for (int64_t j = j0; j < j1; j++) {
        uint64_t k = from_src ? key_of(dt, ln->src + j * ln->ss) ^ flip : ks[j];
        uint32_t i = from_src ? (uint32_t)j : is[j];
        unsigned b = (unsigned)(k >> sh) & (RN - 1);
        uint32_t d = o[b]++;
        wc_put64(kd, wc[b].k, d, st[b], ak, k);
        wc_put32(id, wc[b].i, d, st[b], ai, i);
    }
    wc_close(kd, id, wc, st, o, ak, ai);
}

/* The same for the packed layout: one u64 per element, key << 32 | position. */
INLINE void pass_packed_t(ml_dtype dt, const ml_sort_line *ln, int from_src, int to_out, int p, int64_t j0,
                          int64_t j1, const uint64_t *s, uint64_t *dd, uint32_t *o, uint64_t flip, wc_line *wc)
{
    const int sh = 32 + p * RB;
    if (to_out) {
        for (int64_t j = j0; j < j1; j++) {
            uint64_t it = from_src ? (key_of(dt, ln->src + j * ln->ss) ^ flip) << 32 | (uint64_t)j : s[j];
            uint32_t d = o[(it >> sh) & (RN - 1)]++, i = (uint32_t)it;
            if (ln->vals) put_val(dt, ln->vals + (int64_t)d * ln->vs, (it >> 32) ^ flip, ln, i);
            if (ln->idx) ln->idx[(int64_t)d * ln->is] = (int64_t)i + ln->base;
        }
        return;
    }
    uint32_t st[RN];
    memcpy(st, o, sizeof st);
    const unsigned a = (unsigned)((uintptr_t)dd / 8) & 7;
    for (int64_t j = j0; j < j1; j++) {
        uint64_t it = from_src ? (key_of(dt, ln->src + j * ln->ss) ^ flip) << 32 | (uint64_t)j : s[j];
        unsigned b = (unsigned)(it >> sh) & (RN - 1);
        wc_put64(dd, wc[b].k, o[b]++, st[b], a, it);
    }
    wc_close(dd, NULL, wc, st, o, a, 0);
}

/* Dispatch on the dtype so that every loop above is compiled for one constant dtype. */
#define BY_DTYPE(dt, CALL)                 \
    switch (dt) {                          \
    case ML_F32: CALL(ML_F32); break;      \
    case ML_F64: CALL(ML_F64); break;      \
    case ML_I32: CALL(ML_I32); break;      \
    case ML_I64: CALL(ML_I64); break;      \
    default: CALL(ML_U8); break;           \
    }

static void hist_src(const ml_sort_line *ln, int64_t j0, int64_t j1, hist_t h, uint64_t flip)
{
#define H(D) hist_src_t(D, ln, j0, j1, h, flip)
    BY_DTYPE(ln->dt, H)
#undef H
}

static void pass_wide(const ml_sort_line *ln, int from_src, int to_out, int p, int64_t j0, int64_t j1,
                      const uint64_t *ks, const uint32_t *is, uint64_t *kd, uint32_t *id, uint32_t *o, uint64_t flip,
                      wc_line *wc)
{
#define W(D)                                                                          \
    do {                                                                              \
        if (from_src && to_out) pass_wide_t(D, ln, 1, 1, p, j0, j1, ks, is, kd, id, o, flip, wc); \
        else if (from_src) pass_wide_t(D, ln, 1, 0, p, j0, j1, ks, is, kd, id, o, flip, wc);      \
        else if (to_out) pass_wide_t(D, ln, 0, 1, p, j0, j1, ks, is, kd, id, o, flip, wc);        \
        else pass_wide_t(D, ln, 0, 0, p, j0, j1, ks, is, kd, id, o, flip, wc);                    \
    } while (0)
    if (ln->dt == ML_F64) W(ML_F64);
    else W(ML_I64);
#undef W
}

static void pass_packed(const ml_sort_line *ln, int from_src, int to_out, int p, int64_t j0, int64_t j1,
                        const uint64_t *s, uint64_t *dd, uint32_t *o, uint64_t flip, wc_line *wc)
{
#define P1(D)                                                                 \
    do {                                                                      \
        if (from_src && to_out) pass_packed_t(D, ln, 1, 1, p, j0, j1, s, dd, o, flip, wc); \
        else if (from_src) pass_packed_t(D, ln, 1, 0, p, j0, j1, s, dd, o, flip, wc);      \
        else if (to_out) pass_packed_t(D, ln, 0, 1, p, j0, j1, s, dd, o, flip, wc);        \
        else pass_packed_t(D, ln, 0, 0, p, j0, j1, s, dd, o, flip, wc);                    \
    } while (0)
    switch (ln->dt) {
    case ML_F32: P1(ML_F32); break;
    case ML_I32: P1(ML_I32); break;
    default: P1(ML_U8); break;
    }
#undef P1
}

/* Recounts digit p over elements [j0, j1) of the arrays of the previous pass. */
static void hist_buf(int wide, int p, int64_t j0, int64_t j1, const uint64_t *k, uint32_t *h)
{
    const int sh = (wide ? 0 : 32) + p * RB;
    memset(h, 0, RN * sizeof *h);
    for (int64_t j = j0; j < j1; j++) h[(k[j] >> sh) & (RN - 1)]++;
}

/* In-place mode: both outputs present and contiguous along the line. Then the arrays of every other pass live
 * in the outputs' memory (keys in vals, positions in the first half of idx), the last pass writes there, and
 * a final sweep turns keys into values and 32-bit positions into i64 indices where they lie. */
static int in_place(const ml_sort_line *ln)
{
    return ln->vals && ln->idx && ln->vs == (int64_t)ml_dtype_size(ln->dt) && ln->is == 1;
}

size_t ml_sort_radix_scratch(const ml_sort_line *ln)
{
    size_t n = (size_t)ln->n;
    if (in_place(ln)) return n * 8; /* keys of every other pass (wide: their positions in idx's second half) */
    return ml_dtype_size(ln->dt) == 8 ? n * 24 : n * 16;
}

/* In-place mode, after the last pass: keys to values, then positions (u32, first half of idx) to i64 indices,
 * widened from the top down in halves so that no write lands on a position not yet read. */
static void finish_wide(const ml_sort_line *ln, const int64_t *lo, int C, uint64_t flip)
{
    const uint32_t *pos = (const uint32_t *)ln->idx;
    uint64_t *k = (uint64_t *)ln->vals;
#pragma omp for schedule(static, 1)
    for (int c = 0; c < C; c++) {
        if (ln->dt == ML_F64)
            for (int64_t j = lo[c]; j < lo[c + 1]; j++) put_val(ML_F64, (char *)(k + j), k[j] ^ flip, ln, pos[j]);
        else
            for (int64_t j = lo[c]; j < lo[c + 1]; j++) put_val(ML_I64, (char *)(k + j), k[j] ^ flip, ln, pos[j]);
    }
    for (int64_t hi = ln->n; hi > 0;) {
        int64_t l0 = hi == 1 ? 0 : (hi + 1) / 2; /* idx[l0..hi) covers positions >= 2 * l0 >= hi only */
#pragma omp for schedule(static)
        for (int64_t j = l0; j < hi; j++) {
            uint32_t i = pos[j];
            ln->idx[j] = (int64_t)i + ln->base;
        }
        hi = l0;
    }
}

static void finish_packed(const ml_sort_line *ln, const int64_t *lo, int C, uint64_t flip)
{
    uint64_t *it = (uint64_t *)ln->idx;
#pragma omp for schedule(static, 1)
    for (int c = 0; c < C; c++) {
        const size_t es = ml_dtype_size(ln->dt);
#define F(D)                                                                                   \
    for (int64_t j = lo[c]; j < lo[c + 1]; j++) {                                              \
        uint64_t x = it[j];                                                                    \
        put_val(D, ln->vals + j * (int64_t)es, (x >> 32) ^ flip, ln, (uint32_t)x);            \
        ln->idx[j] = (int64_t)(uint32_t)x + ln->base;                                          \
    }
        switch (ln->dt) {
        case ML_F32: F(ML_F32); break;
        case ML_I32: F(ML_I32); break;
        default: F(ML_U8); break;
        }
#undef F
    }
}

int ml_sort_radix(const ml_sort_line *ln, void *scratch, int nthreads)
{
    const int64_t n = ln->n;
    const int wide = ml_dtype_size(ln->dt) == 8, np = (nbits(ln->dt) + RB - 1) / RB, inpl = in_place(ln);
    const uint64_t flip = ln->descending ? key_mask(ln->dt) : 0;
    int C = nthreads < 1 ? 1 : nthreads > MAXCHUNK ? MAXCHUNK : nthreads;
    if (n < (int64_t)C * RN) C = 1;
    hist_t *h = calloc((size_t)C, sizeof *h);
    uint32_t(*off)[RN] = malloc((size_t)C * sizeof *off);
    wc_line *wc = aligned_alloc(64, (size_t)C * RN * sizeof *wc);
    if (!h || !off || !wc) {
        free(h);
        free(off);
        free(wc);
        return ML_ENOMEM;
    }
    int64_t lo[MAXCHUNK + 1];
    for (int c = 0; c <= C; c++) lo[c] = n * c / C;
    /* Two sets of arrays, pass q writing set (na - 1 - q) & 1, so that the last pass writes set 0 (in-place mode)
     * or the outputs (then set 0 is the one the pass before the last did not write). */
    uint64_t *kbuf[2];
    uint32_t *ibuf[2] = {NULL, NULL};
    if (inpl) {
        kbuf[0] = wide ? (uint64_t *)ln->vals : (uint64_t *)ln->idx;
        kbuf[1] = scratch;
        if (wide) {
            ibuf[0] = (uint32_t *)ln->idx;
            ibuf[1] = (uint32_t *)ln->idx + n;
        }
    } else {
        kbuf[0] = scratch;
        kbuf[1] = (uint64_t *)scratch + n;
        if (wide) {
            ibuf[0] = (uint32_t *)((uint64_t *)scratch + 2 * n);
            ibuf[1] = ibuf[0] + n;
        }
    }
    int act[MAXP], na = 0;

#pragma omp parallel num_threads(C) if (C > 1)
    {
#pragma omp for schedule(static, 1)
        for (int c = 0; c < C; c++) hist_src(ln, lo[c], lo[c + 1], h[c], flip);
#pragma omp single
        for (int p = 0; p < np; p++) { /* skip the passes whose digit is the same for every key */
            int trivial = 0;
            for (int b = 0; b < RN && !trivial; b++) {
                int64_t tot = 0;
                for (int c = 0; c < C; c++) tot += h[c][p][b];
                trivial = tot == n;
            }
            if (!trivial) act[na++] = p;
        }
        for (int q = 0; q < na; q++) {
            int p = act[q], first = q == 0, last = q == na - 1, w = (na - 1 - q) & 1;
            const uint64_t *ks = kbuf[!w];
            const uint32_t *is = ibuf[!w];
            if (!first && C > 1) {
#pragma omp for schedule(static, 1)
                for (int c = 0; c < C; c++) hist_buf(wide, p, lo[c], lo[c + 1], ks, h[c][p]);
            }
#pragma omp single
            { /* chunk c's elements of bucket b follow those of chunks before it: stable */
                uint32_t run = 0;
                for (int b = 0; b < RN; b++)
                    for (int c = 0; c < C; c++) {
                        off[c][b] = run;
                        run += h[c][p][b];
                    }
            }
            int out = last && !inpl;
#pragma omp for schedule(static, 1)
            for (int c = 0; c < C; c++) {
                if (wide)
                    pass_wide(ln, first, out, p, lo[c], lo[c + 1], ks, is, kbuf[w], ibuf[w], off[c], flip,
                              wc + (size_t)c * RN);
                else pass_packed(ln, first, out, p, lo[c], lo[c + 1], ks, kbuf[w], off[c], flip, wc + (size_t)c * RN);
            }
        }
        if (na == 0) { /* every key equal: the order stays */
            size_t es = ml_dtype_size(ln->dt);
#pragma omp for schedule(static, 1)
            for (int c = 0; c < C; c++)
                for (int64_t j = lo[c]; j < lo[c + 1]; j++) {
                    if (ln->vals) memcpy(ln->vals + j * ln->vs, ln->src + j * ln->ss, es);
                    if (ln->idx) ln->idx[j * ln->is] = j + ln->base;
                }
        } else if (inpl) {
            if (wide) finish_wide(ln, lo, C, flip);
            else finish_packed(ln, lo, C, flip);
        }
    }
    free(h);
    free(off);
    free(wc);
    return ML_OK;
}

void ml_sort_small(const ml_sort_line *ln)
{
    uint64_t k[ML_SORT_SMALL];
    uint32_t ix[ML_SORT_SMALL];
    const uint64_t flip = ln->descending ? key_mask(ln->dt) : 0;
    int n = (int)ln->n;
    for (int j = 0; j < n; j++) {
        uint64_t kk = key_of(ln->dt, ln->src + j * ln->ss) ^ flip;
        int i = j - 1;
        while (i >= 0 && k[i] > kk) {
            k[i + 1] = k[i];
            ix[i + 1] = ix[i];
            i--;
        }
        k[i + 1] = kk;
        ix[i + 1] = (uint32_t)j;
    }
    for (int d = 0; d < n; d++) {
        if (ln->vals) put_val(ln->dt, ln->vals + d * ln->vs, k[d] ^ flip, ln, ix[d]);
        if (ln->idx) ln->idx[d * ln->is] = (int64_t)ix[d] + ln->base;
    }
}
