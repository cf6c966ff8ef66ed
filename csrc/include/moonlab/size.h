/* moonlab — overflow-checked size arithmetic and array allocation.
 * Every size computed from user input (element counts, byte counts, workspace sizes) goes through
 * these helpers, so a huge or wrapped request fails with ML_ENOMEM and a message instead of
 * allocating a short buffer and writing past it. */
#ifndef MOONLAB_SIZE_H
#define MOONLAB_SIZE_H

#include <stddef.h>
#include <stdint.h>
#include "moonlab/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest single allocation moonlab asks for: 2^40 bytes (1 TiB). Larger requests fail with
 * ML_ENOMEM before malloc is called (tensors use the same cap). */
#define ML_MAX_ALLOC ((size_t)1 << 40)

/* *out = a * b. ML_OK, or ML_ENOMEM ("size overflow: a x b") when the product does not fit size_t;
 * *out is left unchanged on failure. */
int ml_size_mul(size_t a, size_t b, size_t *out);
/* *out = a + b, checked like ml_size_mul. */
int ml_size_add(size_t a, size_t b, size_t *out);
/* *out = a * b * c, checked. */
int ml_size_mul3(size_t a, size_t b, size_t c, size_t *out);
/* A signed count from user input (a Lua integer, an option) as a size_t in [lo, hi]:
 * ML_EINVAL "<what> = v, expected lo..hi" otherwise. */
int ml_size_from_i64(int64_t v, size_t lo, size_t hi, const char *what, size_t *out);

/* malloc(n * size) with the product checked and capped at ML_MAX_ALLOC. NULL with ML_ENOMEM
 * ("cannot allocate n x size bytes for <what>") on overflow, above the cap or when malloc fails.
 * n == 0 returns a valid pointer to at least one byte. Free with free(). */
void *ml_alloc_array(size_t n, size_t size, const char *what);
/* Like ml_alloc_array, zero-filled. */
void *ml_calloc_array(size_t n, size_t size, const char *what);

#ifdef __cplusplus
}
#endif
#endif
