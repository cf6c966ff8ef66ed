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

size_t ml_dtype_size(ml_dtype dt) { return dt == ML_F32 ? sizeof(float) : sizeof(double); }

const char *ml_dtype_name(ml_dtype dt) { return dt == ML_F32 ? "f32" : dt == ML_F64 ? "f64" : "?"; }

int ml_dtype_parse(const char *name)
{
    if (!name) return -1;
    if (!strcmp(name, "f32") || !strcmp(name, "float32") || !strcmp(name, "float")) return ML_F32;
    if (!strcmp(name, "f64") || !strcmp(name, "float64") || !strcmp(name, "double")) return ML_F64;
    return -1;
}

int ml_shape_numel(int ndim, const int64_t *shape, int64_t *numel)
{
    if (ndim < 0 || ndim > ML_MAXDIM)
        return ml_fail(ML_EINVAL, "tensor has %d dims, expected 0..%d", ndim, ML_MAXDIM);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0)
            return ml_fail(ML_EINVAL, "size %lld of dim %d is not positive", (long long)shape[i], i + 1);
        if (n > INT64_MAX / shape[i])
            return ml_fail(ML_ENOMEM, "tensor of that shape has more than 2^63 elements");
        n *= shape[i];
    }
    *numel = n;
    return ML_OK;
}

static void set_shape(ml_tensor *t, ml_dtype dt, int ndim, const int64_t *shape, int64_t numel)
{
    memset(t, 0, sizeof *t);
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->numel = numel;
}

#define HUGE_ALIGN ((size_t)2 << 20)

/* Zeroed memory. Large buffers are 2 MiB aligned and ask for transparent huge
 * pages, which cuts the page faults of a fresh output tensor by 512x. */
static void *zalloc(size_t bytes)
{
    if (bytes < 8 * HUGE_ALIGN) return calloc(bytes, 1);
    void *p = NULL;
    size_t rounded = (bytes + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
    if (posix_memalign(&p, HUGE_ALIGN, rounded)) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, rounded, MADV_HUGEPAGE);
#endif
    char *c = p;
#pragma omp parallel for schedule(static)
    for (size_t off = 0; off < rounded; off += HUGE_ALIGN) memset(c + off, 0, HUGE_ALIGN);
    return p;
}

int ml_tensor_init(ml_tensor *t, ml_dtype dt, int ndim, const int64_t *shape)
{
    memset(t, 0, sizeof *t);
    if (dt != ML_F32 && dt != ML_F64) return ml_fail(ML_EINVAL, "unknown dtype code %d", (int)dt);
    int64_t n;
    int rc = ml_shape_numel(ndim, shape, &n);
    if (rc) return rc;
    size_t es = ml_dtype_size(dt);
    if (n > ML_MAX_BYTES / (int64_t)es)
        return ml_fail(ML_ENOMEM, "cannot allocate %lld elements of %s (%.3g bytes)", (long long)n,
                       ml_dtype_name(dt), (double)n * (double)es);
    ml_storage *s = malloc(sizeof *s);
    void *d = zalloc((size_t)n * es);
    if (!s || !d) {
        free(s);
        free(d);
        return ml_fail(ML_ENOMEM, "out of memory allocating %lld elements of %s", (long long)n,
                       ml_dtype_name(dt));
    }
    atomic_init(&s->refs, 1);
    s->nbytes = (size_t)n * es;
    s->data = d;
    set_shape(t, dt, ndim, shape, n);
    t->data = d;
    t->storage = s;
    return ML_OK;
}

int ml_tensor_alias(ml_tensor *dst, const ml_tensor *src, int ndim, const int64_t *shape)
{
    int64_t n;
    int rc = ml_shape_numel(ndim, shape, &n);
    if (rc) return rc;
    if (n != src->numel)
        return ml_fail(ML_EINVAL, "cannot view %lld elements as a shape of %lld elements",
                       (long long)src->numel, (long long)n);
    ml_storage *s = src->storage;
    void *d = src->data;
    ml_dtype dt = src->dtype;
    if (s) atomic_fetch_add(&s->refs, 1);
    set_shape(dst, dt, ndim, shape, n);
    dst->data = d;
    dst->storage = s;
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
        free(s->data);
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

double ml_tensor_getd(const ml_tensor *t, int64_t i)
{
    return t->dtype == ML_F32 ? (double)ml_f32(t)[i] : ml_f64(t)[i];
}

void ml_tensor_setd(ml_tensor *t, int64_t i, double v)
{
    if (t->dtype == ML_F32) ml_f32(t)[i] = (float)v;
    else ml_f64(t)[i] = v;
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

int ml_tensor_copy(ml_tensor *dst, const ml_tensor *src)
{
    if (dst->numel != src->numel)
        return ml_fail(ML_EINVAL, "copy: %lld elements into %lld", (long long)src->numel,
                       (long long)dst->numel);
    int64_t n = src->numel;
    if (dst->dtype == src->dtype) {
        if (dst->data != src->data) memmove(dst->data, src->data, (size_t)n * ml_dtype_size(src->dtype));
    } else if (dst->dtype == ML_F32) {
        float *d = ml_f32(dst);
        const double *s = ml_f64(src);
#pragma omp parallel for if (n > 65536) schedule(static)
        for (int64_t i = 0; i < n; i++) d[i] = (float)s[i];
    } else {
        double *d = ml_f64(dst);
        const float *s = ml_f32(src);
#pragma omp parallel for if (n > 65536) schedule(static)
        for (int64_t i = 0; i < n; i++) d[i] = s[i];
    }
    return ML_OK;
}

int ml_tensor_fill(ml_tensor *t, double v)
{
    int64_t n = t->numel;
    if (t->dtype == ML_F32) {
        float *d = ml_f32(t), f = (float)v;
        for (int64_t i = 0; i < n; i++) d[i] = f;
    } else {
        double *d = ml_f64(t);
        for (int64_t i = 0; i < n; i++) d[i] = v;
    }
    return ML_OK;
}

int ml_tensor_arange(ml_tensor *t, double start, double step)
{
    for (int64_t i = 0; i < t->numel; i++) ml_tensor_setd(t, i, start + (double)i * step);
    return ML_OK;
}

int ml_tensor_linspace(ml_tensor *t, double a, double b)
{
    int64_t n = t->numel;
    if (n == 1) {
        ml_tensor_setd(t, 0, a);
        return ML_OK;
    }
    double h = (b - a) / (double)(n - 1);
    for (int64_t i = 0; i < n; i++) ml_tensor_setd(t, i, i == n - 1 ? b : a + (double)i * h);
    return ML_OK;
}
