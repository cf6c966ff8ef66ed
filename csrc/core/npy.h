/* Internal: .npy header parsing and writing shared by npy.c and npz.c. */
#ifndef MOONLAB_CORE_NPY_H
#define MOONLAB_CORE_NPY_H

#include <stddef.h>
#include "moonlab/tensor.h"

/* 1 when s is a valid descr of a moonlab dtype, -1 when valid but unsupported, 0 when malformed. */
int ml_npy_parse_descr(const char *s, ml_dtype *dt, int *swap);
/* Parses the header dict h[len]; fails (message names path) on anything NumPy refuses. */
int ml_npy_parse_header(const char *path, const char *h, size_t len, ml_dtype *dt, int *swap, int *fortran,
                        int *ndim, int64_t *shape);
/* Byte-swaps, validates bools and reorders Fortran-order data of a freshly read tensor. */
int ml_npy_finish(const char *path, ml_tensor *t, int swap, int fortran);
/* Reads a whole .npy image from memory (for .npz members). */
int ml_npy_parse_buffer(const char *path, const unsigned char *buf, size_t len, ml_tensor *out);
/* Writes the v1.0 preamble and header of t into buf; returns its length (0 when cap is too small). */
size_t ml_npy_header(const ml_tensor *t, unsigned char *buf, size_t cap);

#endif
