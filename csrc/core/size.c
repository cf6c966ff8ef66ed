/* Overflow-checked size arithmetic and array allocation (see moonlab/size.h). */
#include <stdlib.h>
#include "moonlab/size.h"

int ml_size_mul(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return ml_fail(ML_ENOMEM, "size overflow: %zu x %zu does not fit in %zu bits", a, b,
                       sizeof(size_t) * 8);
    *out = r;
    return ML_OK;
}

int ml_size_add(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_add_overflow(a, b, &r))
        return ml_fail(ML_ENOMEM, "size overflow: %zu + %zu does not fit in %zu bits", a, b,
                       sizeof(size_t) * 8);
    *out = r;
    return ML_OK;
}

int ml_size_mul3(size_t a, size_t b, size_t c, size_t *out)
{
    size_t ab;
    int rc = ml_size_mul(a, b, &ab);
    if (rc) return rc;
    if (__builtin_mul_overflow(ab, c, &ab))
        return ml_fail(ML_ENOMEM, "size overflow: %zu x %zu x %zu does not fit in %zu bits", a, b, c,
                       sizeof(size_t) * 8);
    *out = ab;
    return ML_OK;
}

int ml_size_from_i64(int64_t v, size_t lo, size_t hi, const char *what, size_t *out)
{
    if (v < 0 || (uint64_t)v < lo || (uint64_t)v > hi)
        return ml_fail(ML_EINVAL, "%s = %lld, expected %zu..%zu", what ? what : "size", (long long)v, lo,
                       hi);
    *out = (size_t)v;
    return ML_OK;
}

static void *alloc(size_t n, size_t size, const char *what, int zero)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes) || bytes > ML_MAX_ALLOC) {
        ml_fail(ML_ENOMEM, "cannot allocate %zu x %zu bytes for %s (more than %zu bytes)", n, size,
                what ? what : "an array", (size_t)ML_MAX_ALLOC);
        return NULL;
    }
    if (bytes == 0) bytes = 1;
    void *p = zero ? calloc(bytes, 1) : malloc(bytes);
    if (!p) ml_fail(ML_ENOMEM, "out of memory allocating %zu x %zu bytes for %s", n, size, what ? what : "an array");
    return p;
}

void *ml_alloc_array(size_t n, size_t size, const char *what) { return alloc(n, size, what, 0); }

void *ml_calloc_array(size_t n, size_t size, const char *what) { return alloc(n, size, what, 1); }
