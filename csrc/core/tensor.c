/* Tensor storage: allocation, aliasing, element access, conversion. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "moonlab/tensor.h"

struct ml_storage {
    atomic_int refs;
    size_t nbytes;
    void *data;
};

/* Refuse single tensors above 2^40 bytes (1 TiB) before asking malloc. */
#define ML_MAX_BYTES ((int64_t)1 << 40)

static int shape_numel(int ndim, const int64_t *shape, int64_t *numel, int allow0)
{
    if (ndim < 0 || ndim > ML_MAXDIM)
        return ml_fail(ML_EINVAL, "tensor has %d dims, expected 0..%d", ndim, ML_MAXDIM);
    /* With a zero dim the count is 0, but the product of the other dims is still checked: the contiguous strides
     * are products of the dims (a zero dim counted as 1), so they must stay below 2^63 too. */
    int64_t n = 1;
    int zero = 0;
    for (int i = 0; i < ndim; i++) {
        if (allow0 && shape[i] == 0) {
            zero = 1;
            continue;
        }
        if (shape[i] <= 0)
            return ml_fail(ML_EINVAL, zero ? "size %lld of dim %d is negative" : "size %lld of dim %d is not positive",
                           (long long)shape[i], i + 1);
        if (n > INT64_MAX / shape[i])
            return ml_fail(ML_ENOMEM, "tensor of that shape has more than 2^63 elements%s",
                           zero ? " (not counting its zero dims)" : "");
        n *= shape[i];
    }
    *numel = zero ? 0 : n;
    return ML_OK;
}

int ml_shape_numel(int ndim, const int64_t *shape, int64_t *numel) { return shape_numel(ndim, shape, numel, 0); }
int ml_shape_numel0(int ndim, const int64_t *shape, int64_t *numel) { return shape_numel(ndim, shape, numel, 1); }

void ml_tensor_set_contiguous_strides(ml_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        t->strides[i] = s;
        s *= t->shape[i] ? t->shape[i] : 1;
    }
}

int ml_tensor_is_contiguous(const ml_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] == 0) return 1;
        if (t->shape[i] != 1 && t->strides[i] != s) return 0;
        s *= t->shape[i];
    }
    return 1;
}

void ml_tensor_share(ml_tensor *dst, const ml_tensor *src)
{
    ml_tensor tmp = *src;
    if (tmp.storage) atomic_fetch_add(&tmp.storage->refs, 1);
    *dst = tmp;
}

static void set_shape(ml_tensor *t, ml_dtype dt, int ndim, const int64_t *shape, int64_t numel)
{
    memset(t, 0, sizeof *t);
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->numel = numel;
    ml_tensor_set_contiguous_strides(t);
}

#define HUGE_ALIGN ((size_t)2 << 20)
#define LARGE_MIN (8 * HUGE_ALIGN) /* from 16 MiB: 2 MiB aligned, huge pages */
#define MEDIUM_MIN ((size_t)256 << 10) /* from 256 KiB: cached too */
#define PAGE ((size_t)4096)

/* A few freed buffers of 256 KiB and more are kept for reuse (their pages are already faulted in and often
 * still in cache), as PyTorch's caching allocator does: repeated ops then skip the kernel's page clearing,
 * and the next write to a reused buffer does not fetch lines from memory. Two classes, each with its own
 * slots and byte limit: large (>= 16 MiB, 4 slots, 1 GiB) and medium (>= 256 KiB, 32 slots, 128 MiB); a buffer
 * is reused for a request of the same rounded size. Off under AddressSanitizer so that use-after-free stays
 * detectable. */
#if defined(__SANITIZE_ADDRESS__)
#define CACHE_ON 0
#else
#define CACHE_ON 1
#endif
typedef struct {
    void *p;
    size_t bytes;
} cache_slot;
typedef struct {
    cache_slot *slot;
    int nslots;
    size_t max, total;
} cache_class;
static cache_slot large_slots[4], medium_slots[32];
static cache_class large_cache = {large_slots, 4, (size_t)1 << 30, 0};
static cache_class medium_cache = {medium_slots, 32, (size_t)128 << 20, 0};
static atomic_size_t live_bytes; /* tensor storage handed out and not yet freed */

size_t ml_tensor_live_bytes(void) { return atomic_load_explicit(&live_bytes, memory_order_relaxed); }
static atomic_flag cache_lock = ATOMIC_FLAG_INIT;

static void lock(void) { while (atomic_flag_test_and_set_explicit(&cache_lock, memory_order_acquire)) {} }
static void unlock(void) { atomic_flag_clear_explicit(&cache_lock, memory_order_release); }

/* The class of a buffer of `bytes` (NULL: not cached) and its rounded size. */
static cache_class *cache_class_of(size_t bytes, size_t *rounded)
{
    if (bytes >= LARGE_MIN) {
        *rounded = (bytes + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
        return &large_cache;
    }
    *rounded = (bytes + PAGE - 1) & ~(PAGE - 1);
    return bytes >= MEDIUM_MIN ? &medium_cache : NULL;
}

static void *cache_take(cache_class *c, size_t rounded)
{
    void *p = NULL;
    lock();
    for (int i = 0; i < c->nslots && !p; i++)
        if (c->slot[i].p && c->slot[i].bytes == rounded) {
            p = c->slot[i].p;
            c->slot[i].p = NULL;
            c->total -= rounded;
        }
    unlock();
    return p;
}

size_t ml_tensor_cached_bytes(void)
{
    lock();
    size_t n = large_cache.total + medium_cache.total;
    unlock();
    return n;
}

/* Frees a buffer of `bytes` from zalloc, or keeps it in the cache. */
static void zfree(void *p, size_t bytes)
{
    if (p) atomic_fetch_sub_explicit(&live_bytes, bytes, memory_order_relaxed);
    size_t rounded;
    cache_class *c = cache_class_of(bytes, &rounded);
    if (!CACHE_ON || !p || !c) {
        free(p);
        return;
    }
    lock();
    for (int i = 0; i < c->nslots && p; i++)
        if (!c->slot[i].p && c->total + rounded <= c->max) {
            c->slot[i].p = p;
            c->slot[i].bytes = rounded;
            c->total += rounded;
            p = NULL;
        }
    unlock();
    free(p);
}

/* Zeroed memory. Large buffers are 2 MiB aligned and ask for transparent huge pages, which cuts the page
 * faults of a fresh output tensor by 512x. */
static void *zalloc(size_t bytes, int zero)
{
    size_t rounded;
    cache_class *c = cache_class_of(bytes, &rounded);
    if (!c) return zero ? calloc(bytes, 1) : malloc(bytes);
    void *p = CACHE_ON ? cache_take(c, rounded) : NULL;
    if (!p && c == &medium_cache) return zero ? calloc(rounded, 1) : malloc(rounded);
    if (!p) {
        if (posix_memalign(&p, HUGE_ALIGN, rounded)) return NULL;
#ifdef MADV_HUGEPAGE
        madvise(p, rounded, MADV_HUGEPAGE);
#endif
    }
    if (!zero) return p; /* the caller writes every element (the pages fault in on first write) */
    char *d = p;
    size_t step = c == &large_cache ? HUGE_ALIGN : rounded;
#pragma omp parallel for schedule(static) if (rounded >= LARGE_MIN)
    for (size_t off = 0; off < rounded; off += step) memset(d + off, 0, step);
    return p;
}

static int init(ml_tensor *t, ml_dtype dt, int ndim, const int64_t *shape, int allow0, int zero)
{
    memset(t, 0, sizeof *t);
    if ((unsigned)dt >= ML_NDTYPES) return ml_fail(ML_EINVAL, "unknown dtype code %d", (int)dt);
    int64_t n = 0;
    int rc = shape_numel(ndim, shape, &n, allow0);
    if (rc) return rc;
    size_t es = ml_dtype_size(dt);
    if (n > ML_MAX_BYTES / (int64_t)es)
        return ml_fail(ML_ENOMEM, "cannot allocate %lld elements of %s (%.3g bytes)", (long long)n,
                       ml_dtype_name(dt), (double)n * (double)es);
    ml_storage *s = malloc(sizeof *s);
    void *d = zalloc(n ? (size_t)n * es : 1, zero);
    if (!s || !d) {
        free(s);
        free(d);
        return ml_fail(ML_ENOMEM, "out of memory allocating %lld elements of %s", (long long)n,
                       ml_dtype_name(dt));
    }
    atomic_init(&s->refs, 1);
    s->nbytes = (size_t)n * es;
    s->data = d;
    atomic_fetch_add_explicit(&live_bytes, s->nbytes, memory_order_relaxed);
    set_shape(t, dt, ndim, shape, n);
    t->data = d;
    t->storage = s;
    return ML_OK;
}

int ml_tensor_init(ml_tensor *t, ml_dtype dt, int ndim, const int64_t *shape) { return init(t, dt, ndim, shape, 0, 1); }
int ml_tensor_init0(ml_tensor *t, ml_dtype dt, int ndim, const int64_t *shape) { return init(t, dt, ndim, shape, 1, 1); }
int ml_tensor_init_uninit(ml_tensor *t, ml_dtype dt, int ndim, const int64_t *shape)
{
    return init(t, dt, ndim, shape, 1, 0);
}

int ml_tensor_alias(ml_tensor *dst, const ml_tensor *src, int ndim, const int64_t *shape)
{
    int64_t n;
    int rc = shape_numel(ndim, shape, &n, src->numel == 0);
    if (rc) return rc;
    if (!ml_tensor_is_contiguous(src))
        return ml_fail(ML_EINVAL, "cannot alias a non-contiguous view (make it contiguous first)");
    if (n != src->numel)
        return ml_fail(ML_EINVAL, "cannot view %lld elements as a shape of %lld elements",
                       (long long)src->numel, (long long)n);
    ml_storage *s = src->storage;
    void *d = src->data;
    ml_dtype dt = src->dtype;
    int64_t off = src->offset;
    if (s) atomic_fetch_add(&s->refs, 1);
    set_shape(dst, dt, ndim, shape, n);
    dst->data = d;
    dst->storage = s;
    dst->offset = off;
    return ML_OK;
}

int ml_tensor_wrap(ml_tensor *t, ml_dtype dt, int ndim, const int64_t *shape, void *data)
{
    int64_t n;
    int rc = ml_shape_numel(ndim, shape, &n);
    if (rc) return rc;
    if (!data) return ml_fail(ML_EINVAL, "wrap: data is NULL");
    set_shape(t, dt, ndim, shape, n);
    t->data = data;
    return ML_OK;
}

void ml_tensor_release(ml_tensor *t)
{
    if (!t) return;
    ml_storage *s = t->storage;
    if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
        zfree(s->data, s->nbytes);
        free(s);
    }
    memset(t, 0, sizeof *t);
}

ml_tensor *ml_tensor_new(ml_dtype dt, int ndim, const int64_t *shape)
{
    ml_tensor *t = malloc(sizeof *t);
    if (!t) {
        ml_fail(ML_ENOMEM, "out of memory");
        return NULL;
    }
    if (ml_tensor_init(t, dt, ndim, shape)) {
        free(t);
        return NULL;
    }
    return t;
}

void ml_tensor_free(ml_tensor *t)
{
    if (!t) return;
    ml_tensor_release(t);
    free(t);
}

int ml_tensor_same_shape(const ml_tensor *a, const ml_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

const char *ml_shape_str(const ml_tensor *t, char *buf, size_t n)
{
    size_t k = 0;
    if (n == 0) return buf;
    buf[0] = '\0';
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < t->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ",%lld" : "%lld", (long long)t->shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

