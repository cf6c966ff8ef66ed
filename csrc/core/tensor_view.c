/* Strided views sharing storage: select, narrow, slice, permute, transpose,
 * unsqueeze, squeeze, expand, view; and contiguous copies. Dims and indices
 * are 0-based here (the Lua binding converts from 1-based). */
#include <string.h>
#include "moonlab/tensor.h"

static char *elem(const ml_tensor *t, int64_t k) { return (char *)t->data + k * (int64_t)ml_dtype_size(t->dtype); }

static void recount(ml_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    t->numel = n;
}

static int check_dim(const ml_tensor *t, int dim)
{
    if (dim < 0 || dim >= t->ndim) return ml_fail(ML_EINVAL, "dim %d out of range 1..%d", dim + 1, t->ndim);
    return ML_OK;
}

int ml_tensor_select(ml_tensor *dst, const ml_tensor *src, int dim, int64_t i)
{
    if (check_dim(src, dim)) return ML_EINVAL;
    if (i < 0 || i >= src->shape[dim])
        return ml_fail(ML_EINVAL, "index %lld out of range 1..%lld for dim %d", (long long)i + 1,
                       (long long)src->shape[dim], dim + 1);
    ml_tensor v = {0};
    ml_tensor_share(&v, src);
    v.data = elem(src, i * src->strides[dim]);
    v.offset += i * src->strides[dim];
    for (int k = dim; k < src->ndim - 1; k++) {
        v.shape[k] = src->shape[k + 1];
        v.strides[k] = src->strides[k + 1];
    }
    v.ndim--;
    recount(&v);
    *dst = v;
    return ML_OK;
}

int ml_tensor_slice(ml_tensor *dst, const ml_tensor *src, int dim, int64_t start, int64_t stop, int64_t step)
{
    if (check_dim(src, dim)) return ML_EINVAL;
    if (step <= 0) return ml_fail(ML_EINVAL, "step %lld must be positive", (long long)step);
    if (start < 0 || stop > src->shape[dim] || start > stop)
        return ml_fail(ML_EINVAL, "range %lld..%lld out of 1..%lld for dim %d", (long long)start + 1,
                       (long long)stop, (long long)src->shape[dim], dim + 1);
    ml_tensor v = {0};
    ml_tensor_share(&v, src);
    if (stop > start) { /* an empty slice keeps data at the start */
        v.data = elem(src, start * src->strides[dim]);
        v.offset += start * src->strides[dim];
    }
    v.shape[dim] = (stop - start + step - 1) / step;
    v.strides[dim] = src->strides[dim] * step;
    recount(&v);
    *dst = v;
    return ML_OK;
}

int ml_tensor_narrow(ml_tensor *dst, const ml_tensor *src, int dim, int64_t start, int64_t len)
{
    if (len < 0) return ml_fail(ML_EINVAL, "length %lld is negative", (long long)len);
    if (start < 0 || (dim >= 0 && dim < src->ndim && len > src->shape[dim] - start))
        return ml_fail(ML_EINVAL, "start %lld, length %lld out of 1..%lld for dim %d", (long long)start + 1,
                       (long long)len, (long long)(dim >= 0 && dim < src->ndim ? src->shape[dim] : 0), dim + 1);
    return ml_tensor_slice(dst, src, dim, start, start + len, 1);
}

int ml_tensor_permute(ml_tensor *dst, const ml_tensor *src, const int *perm)
{
    int seen[ML_MAXDIM] = {0};
    for (int i = 0; i < src->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= src->ndim || seen[perm[i]]++)
            return ml_fail(ML_EINVAL, "not a permutation of 1..%d", src->ndim);
    }
    ml_tensor v = {0};
    ml_tensor_share(&v, src);
    for (int i = 0; i < src->ndim; i++) {
        v.shape[i] = src->shape[perm[i]];
        v.strides[i] = src->strides[perm[i]];
    }
    *dst = v;
    return ML_OK;
}

int ml_tensor_transpose_view(ml_tensor *dst, const ml_tensor *src, int d1, int d2)
{
    if (check_dim(src, d1) || check_dim(src, d2)) return ML_EINVAL;
    int perm[ML_MAXDIM];
    for (int i = 0; i < src->ndim; i++) perm[i] = i;
    perm[d1] = d2;
    perm[d2] = d1;
    return ml_tensor_permute(dst, src, perm);
}

int ml_tensor_unsqueeze(ml_tensor *dst, const ml_tensor *src, int dim)
{
    if (src->ndim >= ML_MAXDIM) return ml_fail(ML_EINVAL, "already %d dims", ML_MAXDIM);
    if (dim < 0 || dim > src->ndim)
        return ml_fail(ML_EINVAL, "dim %d out of range 1..%d", dim + 1, src->ndim + 1);
    ml_tensor v = {0};
    ml_tensor_share(&v, src);
    for (int k = src->ndim; k > dim; k--) {
        v.shape[k] = src->shape[k - 1];
        v.strides[k] = src->strides[k - 1];
    }
    v.shape[dim] = 1;
    v.strides[dim] = dim + 1 < v.ndim + 1 && dim < src->ndim ? src->strides[dim] * src->shape[dim] : 1;
    v.ndim++;
    *dst = v;
    return ML_OK;
}

int ml_tensor_squeeze(ml_tensor *dst, const ml_tensor *src, int dim)
{
    if (dim >= 0) {
        if (check_dim(src, dim)) return ML_EINVAL;
        if (src->shape[dim] != 1)
            return ml_fail(ML_EINVAL, "dim %d has size %lld, not 1", dim + 1, (long long)src->shape[dim]);
    }
    ml_tensor v = {0};
    ml_tensor_share(&v, src);
    int nd = 0;
    for (int k = 0; k < src->ndim; k++) {
        if (src->shape[k] == 1 && (dim < 0 || k == dim)) continue;
        v.shape[nd] = src->shape[k];
        v.strides[nd] = src->strides[k];
        nd++;
    }
    v.ndim = nd;
    *dst = v;
    return ML_OK;
}

int ml_tensor_expand(ml_tensor *dst, const ml_tensor *src, int ndim, const int64_t *shape)
{
    if (ndim < src->ndim || ndim > ML_MAXDIM)
        return ml_fail(ML_EINVAL, "cannot expand %d dims to %d", src->ndim, ndim);
    ml_tensor v = {0};
    ml_tensor_share(&v, src);
    int lead = ndim - src->ndim;
    for (int d = 0; d < ndim; d++) {
        int sd = d - lead;
        if (shape[d] < 0) {
            ml_tensor_release(&v);
            return ml_fail(ML_EINVAL, "size %lld of dim %d is negative", (long long)shape[d], d + 1);
        }
        if (sd >= 0 && src->shape[sd] == shape[d]) {
            v.shape[d] = shape[d];
            v.strides[d] = src->strides[sd];
        } else if (sd < 0 || src->shape[sd] == 1) {
            v.shape[d] = shape[d];
            v.strides[d] = 0;
        } else {
            ml_tensor_release(&v);
            return ml_fail(ML_EINVAL, "dim %d has size %lld, which cannot expand to %lld (only size 1 can)",
                           sd + 1, (long long)src->shape[sd], (long long)shape[d]);
        }
    }
    v.ndim = ndim;
    /* the element count is overflow-checked (expanding to 2^63 - 1 rows must not wrap); a huge view without
     * memory behind it is legal, its copies are refused by the tensor allocator */
    int64_t n;
    if (ml_shape_numel0(ndim, v.shape, &n) != ML_OK) {
        ml_tensor_release(&v);
        return ml_fail(ML_ENOMEM, "an expanded view of that shape has more than 2^63 elements");
    }
    v.numel = n;
    *dst = v;
    return ML_OK;
}

int ml_tensor_diagonal(ml_tensor *dst, const ml_tensor *src, int d1, int d2)
{
    if (check_dim(src, d1) || check_dim(src, d2)) return ML_EINVAL;
    if (d1 == d2) return ml_fail(ML_EINVAL, "the two dims must differ");
    ml_tensor v = {0};
    ml_tensor_share(&v, src);
    int nd = 0;
    for (int k = 0; k < src->ndim; k++) {
        if (k == d1 || k == d2) continue;
        v.shape[nd] = src->shape[k];
        v.strides[nd] = src->strides[k];
        nd++;
    }
    v.shape[nd] = src->shape[d1] < src->shape[d2] ? src->shape[d1] : src->shape[d2];
    v.strides[nd] = src->strides[d1] + src->strides[d2];
    v.ndim = nd + 1;
    recount(&v);
    *dst = v;
    return ML_OK;
}

/* PyTorch's computeStride: strides for `shape` over src's memory when no copy is needed, else fail. */
int ml_tensor_view(ml_tensor *dst, const ml_tensor *src, int ndim, const int64_t *shape)
{
    int64_t n;
    int rc = ml_shape_numel0(ndim, shape, &n);
    if (rc) return rc;
    if (n != src->numel)
        return ml_fail(ML_EINVAL, "cannot view %lld elements as a shape of %lld elements", (long long)src->numel,
                       (long long)n);
    int64_t st[ML_MAXDIM];
    if (n == 0 || ml_tensor_is_contiguous(src)) {
        int64_t s = 1;
        for (int i = ndim - 1; i >= 0; i--) {
            st[i] = s;
            s *= shape[i] ? shape[i] : 1;
        }
    } else {
        /* chunks of src dims that are contiguous among themselves, each with its innermost stride */
        int view_d = ndim - 1;
        int64_t base = src->strides[src->ndim - 1], tensor_numel = 1, view_numel = 1;
        for (int d = src->ndim - 1; d >= 0; d--) {
            tensor_numel *= src->shape[d];
            if (d == 0 || (src->shape[d - 1] != 1 && src->strides[d - 1] != tensor_numel * base)) {
                while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
                    st[view_d] = view_numel * base;
                    view_numel *= shape[view_d];
                    view_d--;
                }
                if (view_numel != tensor_numel)
                    return ml_fail(ML_EINVAL, "the strides of this tensor do not allow that shape without a copy "
                                              "(use reshape, or contiguous first)");
                if (d > 0) {
                    base = src->strides[d - 1];
                    tensor_numel = 1;
                    view_numel = 1;
                }
            }
        }
        if (view_d != -1)
            return ml_fail(ML_EINVAL, "the strides of this tensor do not allow that shape without a copy");
    }
    ml_tensor v = {0};
    ml_tensor_share(&v, src);
    v.ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        v.shape[i] = shape[i];
        v.strides[i] = st[i];
    }
    v.numel = n;
    *dst = v;
    return ML_OK;
}

int ml_tensor_contiguous(ml_tensor *dst, const ml_tensor *src)
{
    if (ml_tensor_is_contiguous(src)) {
        ml_tensor_share(dst, src);
        ml_tensor_set_contiguous_strides(dst);
        return ML_OK;
    }
    ml_tensor out = {0};
    int rc = ml_tensor_init_uninit(&out, src->dtype, src->ndim, src->shape);
    if (rc) return rc;
    if ((rc = ml_tensor_copy(&out, src))) {
        ml_tensor_release(&out);
        return rc;
    }
    *dst = out;
    return ML_OK;
}
