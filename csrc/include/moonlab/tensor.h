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
/* Like ml_tensor_init0 but the contents are left unset: for outputs the caller overwrites entirely. */
int ml_tensor_init_uninit(ml_tensor *t, ml_dtype dt, int ndim, const int64_t *shape);
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
/* Bytes of tensor storage allocated and not yet released (all threads; storage kept for reuse not included). */
size_t ml_tensor_live_bytes(void);
/* Bytes of freed storage kept for reuse by later tensors of the same size (see tensor.c). */
size_t ml_tensor_cached_bytes(void);

/* Views sharing src's storage (dims and indices 0-based; *dst gets its own
 * reference, release it with ml_tensor_release). */
int ml_tensor_select(ml_tensor *dst, const ml_tensor *src, int dim, int64_t i);       /* drops dim */
int ml_tensor_narrow(ml_tensor *dst, const ml_tensor *src, int dim, int64_t start, int64_t len);
int ml_tensor_slice(ml_tensor *dst, const ml_tensor *src, int dim, int64_t start, int64_t stop, int64_t step);
int ml_tensor_permute(ml_tensor *dst, const ml_tensor *src, const int *perm);
int ml_tensor_transpose_view(ml_tensor *dst, const ml_tensor *src, int d1, int d2);
int ml_tensor_unsqueeze(ml_tensor *dst, const ml_tensor *src, int dim);
int ml_tensor_squeeze(ml_tensor *dst, const ml_tensor *src, int dim); /* dim < 0: every size-1 dim */
/* The diagonal of dims d1, d2 as the last dim of a view (the two dims removed). */
int ml_tensor_diagonal(ml_tensor *dst, const ml_tensor *src, int d1, int d2);
/* Broadcast view: size-1 dims (and new leading dims) get stride 0. */
int ml_tensor_expand(ml_tensor *dst, const ml_tensor *src, int ndim, const int64_t *shape);
/* Another shape over the same memory; fails when the strides do not allow it. */
int ml_tensor_view(ml_tensor *dst, const ml_tensor *src, int ndim, const int64_t *shape);
/* A contiguous tensor with src's values: src itself (shared) when already contiguous, else a copy. */
int ml_tensor_contiguous(ml_tensor *dst, const ml_tensor *src);

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
/* Binary ops broadcast (NumPy rules) a and b to out's shape; a, b and out must
 * share one dtype (the binding promotes first); integer add/sub/mul wrap. Any
 * operand may be a strided view. */
int ml_tensor_binary(ml_binop op, const ml_tensor *a, const ml_tensor *b, double s, int rev,
                     ml_tensor *out);
/* out (bool, broadcast shape) = a CMP b (or the scalar s; rev: s CMP a); a and b share one dtype. */
typedef enum { ML_EQ, ML_NE, ML_LT, ML_LE, ML_GT, ML_GE } ml_cmpop;
int ml_tensor_compare(ml_cmpop op, const ml_tensor *a, const ml_tensor *b, double s, int rev, ml_tensor *out);
/* out = cond ? a : b, broadcast; cond is bool, a, b and out share one dtype. */
int ml_tensor_where(const ml_tensor *cond, const ml_tensor *a, const ml_tensor *b, ml_tensor *out);
/* The broadcast shape of a and b (NumPy rules); fails naming both shapes. */
int ml_broadcast_shape(const ml_tensor *a, const ml_tensor *b, int *ndim, int64_t *shape);
int ml_tensor_unary(ml_unop op, const ml_tensor *a, ml_tensor *out);

/* Reductions over all elements (dim < 0) or along dim (out has that dim
 * removed; a may be strided). argmax/argmin write 0-based indices (exact in an
 * i64 output; doubles in a float one); NaN wins max/min and their arg forms, as
 * in NumPy. Sums are pairwise: blocks of double-precision lanes combined in a
 * fixed tree, independent of the thread count (1e8 f32 ones sum exactly).
 * out's dtype: sums of integers/bools i64 (wrapping), means f64 for integer
 * input, any/all bool, otherwise a's dtype. */
typedef enum { ML_SUM, ML_MEAN, ML_MAX, ML_MIN, ML_ARGMAX, ML_ARGMIN, ML_PROD, ML_ANY, ML_ALL } ml_reduce;
int ml_tensor_reduce(ml_reduce op, const ml_tensor *a, int dim, ml_tensor *out);
/* The dtype ml_tensor_reduce writes for op over dtype dt. */
ml_dtype ml_reduce_dtype(ml_reduce op, ml_dtype dt);
/* Cumulative sum (prod = 0) or product (prod = 1) along dim; out has a's shape and
 * ml_reduce_dtype(ML_SUM/ML_PROD)'s dtype (floats accumulate in double). */
int ml_tensor_cumulate(int prod, const ml_tensor *a, int dim, ml_tensor *out);

/* Shape operations (0-based dims; inputs may be strided; out is a fresh tensor of the right shape). */
/* out = the n tensors (one dtype, equal shapes but along dim) joined along dim. */
int ml_tensor_cat(const ml_tensor *const *ts, int n, int dim, ml_tensor *out);
/* out = a reversed along dim. */
int ml_tensor_flip(const ml_tensor *a, int dim, ml_tensor *out);
/* out = a rolled by shift positions along dim (element i moves to i + shift, wrapping). */
int ml_tensor_roll(const ml_tensor *a, int64_t shift, int dim, ml_tensor *out);
/* out = a's slices at the 0-based positions idx (i64, 1-D) along dim; out's dim has idx's length. */
int ml_tensor_index_select(const ml_tensor *a, int dim, const ml_tensor *idx, ml_tensor *out);
/* a's slices at positions idx along dim = src (broadcast to the indexed shape, a's dtype). */
int ml_tensor_index_put(ml_tensor *a, int dim, const ml_tensor *idx, const ml_tensor *src);
/* out (1-D, length = number of true elements of mask) = a's elements where mask (bool, a's shape). */
int ml_tensor_masked_select(const ml_tensor *a, const ml_tensor *mask, ml_tensor *out);
/* a's elements where mask (bool, a's shape) is true = the elements of src in order (src has that many). */
int ml_tensor_masked_scatter(ml_tensor *a, const ml_tensor *mask, const ml_tensor *src);
/* Number of true elements of a bool tensor. */
int64_t ml_tensor_count(const ml_tensor *mask);
/* Sorts every line along dim (stable; NaN last; descending reverses the order of
 * keys, NaN first). vals (a's dtype) and/or idx (i64, 0-based) may be NULL. */
int ml_tensor_sort(const ml_tensor *a, int dim, int descending, ml_tensor *vals, ml_tensor *idx);
/* ml_tensor_sort with base added to the positions written to idx (1 for Lua's 1-based indices). */
int ml_tensor_sort_base(const ml_tensor *a, int dim, int descending, ml_tensor *vals, ml_tensor *idx, int64_t base);

/* out = a @ b via cblas: [M,K]x[K,N] or batched [B,M,K]x[B,K,N]. */
int ml_tensor_matmul(const ml_tensor *a, const ml_tensor *b, ml_tensor *out);
/* out = a with its last two dims swapped. */
int ml_tensor_transpose(const ml_tensor *a, ml_tensor *out);

/* Dense linear algebra through LAPACK (OpenBLAS), on 2-D f32/f64 tensors
 * (computed in double, returned in the input's dtype). Outputs must be
 * contiguous tensors of the documented shapes and the input's dtype. */
/* x = A^-1 b for A [n,n], b [n] or [n,k] (dgesv); a singular A fails. */
int ml_linalg_solve(const ml_tensor *a, const ml_tensor *b, ml_tensor *x);
/* Lower-triangular L with A = L L^T (dpotrf); fails when A is not positive definite. */
int ml_linalg_cholesky(const ml_tensor *a, ml_tensor *l);
/* A^-1 (dgesv against the identity). */
int ml_linalg_inv(const ml_tensor *a, ml_tensor *out);
/* det(A) through the LU factorisation (dgetrf). */
int ml_linalg_det(const ml_tensor *a, double *det);
/* Eigenvalues w [n] (ascending) and eigenvectors V [n,n] (columns) of a symmetric A; reads its lower triangle (dsyevd). */
int ml_linalg_eigh(const ml_tensor *a, ml_tensor *w, ml_tensor *v);
/* A [m,n] = U diag(S) Vt with k = min(m,n): U [m,k] (or [m,m] when full), S [k], Vt [k,n] (or [n,n]) (dgesdd). */
int ml_linalg_svd(const ml_tensor *a, int full, ml_tensor *u, ml_tensor *s, ml_tensor *vt);
/* Least-squares x [n] or [n,k] minimising |A x - b| for A [m,n] (dgelsd, SVD-based; rcond < 0: machine precision);
 * rank and the singular values sv [min(m,n)] (may be NULL) are returned too. */
int ml_linalg_lstsq(const ml_tensor *a, const ml_tensor *b, double rcond, ml_tensor *x, int64_t *rank, ml_tensor *sv);

/* .npy I/O: v1.0/2.0/3.0 headers, little-endian <f4/<f8, C order. */
int ml_npy_load(const char *path, ml_tensor *out);
int ml_npy_save(const char *path, const ml_tensor *t);

/* .npz archives (NumPy's savez / savez_compressed): a ZIP of name.npy members,
 * stored or deflated with zlib. Loading returns a malloc'ed array of items
 * (release each tensor, then free the array). Archives above 4 GiB (ZIP64) are refused. */
typedef struct ml_npz_item {
    char name[256]; /* member name without ".npy" */
    ml_tensor t;
} ml_npz_item;
int ml_npz_load(const char *path, ml_npz_item **items, int *n);
int ml_npz_save(const char *path, const ml_npz_item *items, int n, int compress);

/* CSV of a 2-D tensor: the first line is a header when `header` is set (its
 * fields are returned as a malloc'ed array of malloc'ed strings: free both);
 * empty fields read as NaN; a non-number is an error naming row and column. */
int ml_csv_read(const char *path, char delim, int header, ml_dtype dt, ml_tensor *out, char ***names, int *ncols);
/* Writes t (2-D, any dtype) with an optional header line of ncols names. */
int ml_csv_write(const char *path, const ml_tensor *t, char delim, const char *const *names);

#ifdef __cplusplus
}
#endif
#endif
