/* moonlab — the dense n-d tensor shared by every core. */
#ifndef MOONLAB_TENSOR_H
#define MOONLAB_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include "moonlab/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ML_MAXDIM 8

/* Element types. ML_BOOL is stored as one byte holding 0 or 1. */
typedef enum { ML_F32 = 0, ML_F64 = 1, ML_I32 = 2, ML_I64 = 3, ML_U8 = 4, ML_BOOL = 5 } ml_dtype;
#define ML_NDTYPES 6

typedef struct ml_storage ml_storage; /* reference-counted buffer */

/* An n-d array: a (possibly strided) view of a reference-counted storage.
 * `storage` owns the buffer (NULL when the data is borrowed through
 * ml_tensor_wrap). `data` points at the view's first element; element
 * (i1..in) (0-based) is at data + sum(ik * strides[k]) elements. Tensors made
 * by ml_tensor_init/alias/wrap are contiguous row-major (strides set to match);
 * views made by the ml_tensor_* view functions may not be. Aliases and views
 * share one storage, so a view never outlives its data. */
typedef struct ml_tensor {
    ml_dtype dtype;
    int ndim;                  /* 0..ML_MAXDIM; 0 is a scalar with numel 1 */
    int64_t shape[ML_MAXDIM];
    int64_t numel;             /* may be 0 only for tensors made by ml_tensor_init0 or views */
    void *data;
    ml_storage *storage;
    int64_t strides[ML_MAXDIM]; /* in elements; 0 for a broadcast (expanded) dim */
    int64_t offset;             /* elements from the storage's start to data */
} ml_tensor;

size_t ml_dtype_size(ml_dtype dt);
const char *ml_dtype_name(ml_dtype dt);
/* Parses "f32"/"float32"/"f64"/"float64"/"i32"/"int32"/"i64"/"int64"/"u8"/
 * "uint8"/"bool"; returns -1 when unknown. */
int ml_dtype_parse(const char *name);
int ml_dtype_is_float(ml_dtype dt);
/* Result dtype of a binary arithmetic op on a and b (docs/tensor.md, "Promotion"):
 * order bool < u8 < i32 < i64 < f32 < f64, except that i32/i64 with f32 gives f64. */
ml_dtype ml_dtype_promote(ml_dtype a, ml_dtype b);

/* Checks ndim/shape and computes numel with overflow detection. */
int ml_shape_numel(int ndim, const int64_t *shape, int64_t *numel);

/* Initialises *t with fresh zeroed storage. On failure *t is left empty. */
int ml_tensor_init(ml_tensor *t, ml_dtype dt, int ndim, const int64_t *shape);
/* Like ml_tensor_init but sizes may be 0 (an empty tensor, numel 0). */
int ml_tensor_init0(ml_tensor *t, ml_dtype dt, int ndim, const int64_t *shape);
/* Like ml_shape_numel but sizes may be 0. */
int ml_shape_numel0(int ndim, const int64_t *shape, int64_t *numel);
/* Sets t->strides to the row-major strides of t->shape. */
void ml_tensor_set_contiguous_strides(ml_tensor *t);
/* 1 when t's elements are laid out row-major without gaps from t->data. */
int ml_tensor_is_contiguous(const ml_tensor *t);
/* Makes *dst a view of src (same shape/strides, shared storage, one more reference). */
void ml_tensor_share(ml_tensor *dst, const ml_tensor *src);
/* Makes *dst an alias of src's storage with another shape of equal numel. */
int ml_tensor_alias(ml_tensor *dst, const ml_tensor *src, int ndim, const int64_t *shape);
/* Points *t at caller-owned memory (no copy, no ownership). */
int ml_tensor_wrap(ml_tensor *t, ml_dtype dt, int ndim, const int64_t *shape, void *data);
/* Drops *t's reference to its storage and empties it. Safe on an empty tensor. */
void ml_tensor_release(ml_tensor *t);

/* Heap-allocated variants for C users; NULL on failure (message set). */
ml_tensor *ml_tensor_new(ml_dtype dt, int ndim, const int64_t *shape);
void ml_tensor_free(ml_tensor *t);

static inline float *ml_f32(const ml_tensor *t) { return (float *)t->data; }
static inline double *ml_f64(const ml_tensor *t) { return (double *)t->data; }

/* Element at flat index i of contiguous data as a double / store a double
 * (converted to dtype: integers truncate toward zero and wrap like a C cast
 * from int64, bool stores v != 0). */
double ml_tensor_getd(const ml_tensor *t, int64_t i);
void ml_tensor_setd(ml_tensor *t, int64_t i, double v);
/* The same for integers (exact for every int64 in i64 tensors). */
int64_t ml_tensor_geti(const ml_tensor *t, int64_t i);
void ml_tensor_seti(ml_tensor *t, int64_t i, int64_t v);
/* Generic element access at byte pointer p of dtype dt. */
double ml_load_d(ml_dtype dt, const void *p);
void ml_store_d(ml_dtype dt, void *p, double v);
int64_t ml_load_i(ml_dtype dt, const void *p);
void ml_store_i(ml_dtype dt, void *p, int64_t v);
int ml_tensor_same_shape(const ml_tensor *a, const ml_tensor *b);
/* Writes "[2,3,4]" into buf (always NUL-terminated). */
const char *ml_shape_str(const ml_tensor *t, char *buf, size_t n);

/* dst = src converted to dst's dtype (same numel; both may be strided views,
 * walked in row-major order). Converting a non-finite or out-of-range float
 * to an integer dtype fails with ML_EINVAL and leaves dst partly written. */
int ml_tensor_copy(ml_tensor *dst, const ml_tensor *src);
int ml_tensor_fill(ml_tensor *t, double v);
int ml_tensor_fill_i(ml_tensor *t, int64_t v); /* exact for every int64 in i64 tensors */
int ml_tensor_arange(ml_tensor *t, double start, double step);
int ml_tensor_linspace(ml_tensor *t, double a, double b);

/* Counter-based random numbers (SplitMix64 of seed and element index):
 * identical for a seed on every machine and thread count. */
uint64_t ml_rng_u64(uint64_t seed, uint64_t counter);
double ml_rng_uniform(uint64_t seed, uint64_t counter);  /* in [0,1) */
double ml_rng_normal(uint64_t seed, uint64_t counter);   /* N(0,1) */
int ml_tensor_rand(ml_tensor *t, uint64_t seed, double lo, double hi);
int ml_tensor_randn(ml_tensor *t, uint64_t seed, double mean, double std);

/* Elementwise ops. Binary: out = a OP b with b a same-shape tensor or, when
 * b is NULL, the scalar s (rev swaps operands: s OP a). out may alias a. */
typedef enum { ML_ADD, ML_SUB, ML_MUL, ML_DIV, ML_POW, ML_MAXIMUM, ML_MINIMUM } ml_binop;
typedef enum { ML_EXP, ML_LOG, ML_SQRT, ML_ABS, ML_TANH, ML_SIGMOID, ML_NEG,
               ML_SIN, ML_COS, ML_SILU } ml_unop;
int ml_tensor_binary(ml_binop op, const ml_tensor *a, const ml_tensor *b, double s, int rev,
                     ml_tensor *out);
int ml_tensor_unary(ml_unop op, const ml_tensor *a, ml_tensor *out);

/* Reductions over all elements (dim < 0) or along dim (out has that dim
 * removed). argmax/argmin write 0-based indices as doubles. */
typedef enum { ML_SUM, ML_MEAN, ML_MAX, ML_MIN, ML_ARGMAX, ML_ARGMIN } ml_reduce;
int ml_tensor_reduce(ml_reduce op, const ml_tensor *a, int dim, ml_tensor *out);

/* out = a @ b via cblas: [M,K]x[K,N] or batched [B,M,K]x[B,K,N]. */
int ml_tensor_matmul(const ml_tensor *a, const ml_tensor *b, ml_tensor *out);
/* out = a with its last two dims swapped. */
int ml_tensor_transpose(const ml_tensor *a, ml_tensor *out);

/* .npy I/O: v1.0/2.0/3.0 headers, little-endian <f4/<f8, C order. */
int ml_npy_load(const char *path, ml_tensor *out);
int ml_npy_save(const char *path, const ml_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
