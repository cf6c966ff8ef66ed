/* Joining, reversing, rolling and gathering/scattering along a dim. Each
 * operation is expressed as copies between strided views. */
#include <stdlib.h>
#include <string.h>
#include "moonlab/tensor.h"

int ml_tensor_cat(const ml_tensor *const *ts, int n, int dim, ml_tensor *out)
{
    int64_t off = 0;
    for (int k = 0; k < n; k++) {
        ml_tensor dst = {0};
        int rc = ml_tensor_narrow(&dst, out, dim, off, ts[k]->shape[dim]);
        if (!rc) rc = ml_tensor_copy(&dst, ts[k]);
        ml_tensor_release(&dst);
        if (rc) return rc;
        off += ts[k]->shape[dim];
    }
    return ML_OK;
}

int ml_tensor_flip(const ml_tensor *a, int dim, ml_tensor *out)
{
    if (a->shape[dim] == 0) return ML_OK;
    ml_tensor v = {0};
    ml_tensor_share(&v, a);
    v.data = (char *)a->data + (a->shape[dim] - 1) * a->strides[dim] * (int64_t)ml_dtype_size(a->dtype);
    v.strides[dim] = -a->strides[dim]; /* a negative stride: read backwards */
    int rc = ml_tensor_copy(out, &v);
    ml_tensor_release(&v);
    return rc;
}

int ml_tensor_roll(const ml_tensor *a, int64_t shift, int dim, ml_tensor *out)
{
    int64_t n = a->shape[dim];
    if (n == 0) return ML_OK;
    int64_t s = ((shift % n) + n) % n;
    if (s == 0) return ml_tensor_copy(out, a);
    ml_tensor src1 = {0}, dst1 = {0}, src2 = {0}, dst2 = {0};
    int rc = ml_tensor_narrow(&src1, a, dim, 0, n - s);
    if (!rc) rc = ml_tensor_narrow(&dst1, out, dim, s, n - s);
    if (!rc) rc = ml_tensor_copy(&dst1, &src1);
    if (!rc) rc = ml_tensor_narrow(&src2, a, dim, n - s, s);
    if (!rc) rc = ml_tensor_narrow(&dst2, out, dim, 0, s);
    if (!rc) rc = ml_tensor_copy(&dst2, &src2);
    ml_tensor_release(&src1);
    ml_tensor_release(&dst1);
    ml_tensor_release(&src2);
    ml_tensor_release(&dst2);
    return rc;
}

static int check_idx(const ml_tensor *idx, int64_t n)
{
    if (idx->dtype != ML_I64 || idx->ndim != 1) return ml_fail(ML_EINVAL, "indices must be a 1-D i64 tensor");
    for (int64_t i = 0; i < idx->numel; i++) {
        int64_t j = *(const int64_t *)((const char *)idx->data + i * idx->strides[0] * 8);
        if (j < 0 || j >= n)
            return ml_fail(ML_EINVAL, "index %lld out of range 1..%lld", (long long)j + 1, (long long)n);
    }
    return ML_OK;
}

static int64_t idx_at(const ml_tensor *idx, int64_t i)
{
    return *(const int64_t *)((const char *)idx->data + i * idx->strides[0] * 8);
}

int ml_tensor_index_select(const ml_tensor *a, int dim, const ml_tensor *idx, ml_tensor *out)
{
    int rc = check_idx(idx, a->shape[dim]);
    if (rc) return rc;
    for (int64_t i = 0; i < idx->numel; i++) {
        ml_tensor s = {0}, d = {0};
        rc = ml_tensor_select(&s, a, dim, idx_at(idx, i));
        if (!rc) rc = ml_tensor_select(&d, out, dim, i);
        if (!rc) rc = ml_tensor_copy(&d, &s);
        ml_tensor_release(&s);
        ml_tensor_release(&d);
        if (rc) return rc;
    }
    return ML_OK;
}

int ml_tensor_index_put(ml_tensor *a, int dim, const ml_tensor *idx, const ml_tensor *src)
{
    int rc = check_idx(idx, a->shape[dim]);
    if (rc) return rc;
    /* src broadcasts to the indexed shape: a's shape with dim replaced by idx's length */
    int64_t shape[ML_MAXDIM];
    memcpy(shape, a->shape, sizeof shape);
    shape[dim] = idx->numel;
    ml_tensor e = {0};
    if ((rc = ml_tensor_expand(&e, src, a->ndim, shape))) return rc;
    for (int64_t i = 0; i < idx->numel && !rc; i++) {
        ml_tensor s = {0}, d = {0};
        rc = ml_tensor_select(&s, &e, dim, i);
        if (!rc) rc = ml_tensor_select(&d, a, dim, idx_at(idx, i));
        if (!rc) rc = ml_tensor_copy(&d, &s);
        ml_tensor_release(&s);
        ml_tensor_release(&d);
    }
    ml_tensor_release(&e);
    return rc;
}

int64_t ml_tensor_count(const ml_tensor *mask)
{
    ml_tensor c = {0};
    if (ml_tensor_contiguous(&c, mask)) return -1;
    const uint8_t *p = c.data;
    int64_t n = 0;
#pragma omp parallel for reduction(+ : n) if (c.numel > 65536) schedule(static)
    for (int64_t i = 0; i < c.numel; i++) n += p[i] != 0;
    ml_tensor_release(&c);
    return n;
}

int ml_tensor_masked_select(const ml_tensor *a, const ml_tensor *mask, ml_tensor *out)
{
    if (mask->dtype != ML_BOOL || !ml_tensor_same_shape(a, mask))
        return ml_fail(ML_EINVAL, "masked_select: mask must be bool of the tensor's shape");
    ml_tensor ca = {0}, cm = {0};
    int rc = ml_tensor_contiguous(&ca, a);
    if (rc) return rc;
    if ((rc = ml_tensor_contiguous(&cm, mask))) {
        ml_tensor_release(&ca);
        return rc;
    }
    size_t es = ml_dtype_size(a->dtype);
    const uint8_t *m = cm.data;
    char *o = out->data;
    int64_t k = 0;
    for (int64_t i = 0; i < ca.numel; i++)
        if (m[i]) {
            if (k >= out->numel) break;
            memcpy(o + k++ * (int64_t)es, (const char *)ca.data + i * (int64_t)es, es);
        }
    ml_tensor_release(&ca);
    ml_tensor_release(&cm);
    return k == out->numel ? ML_OK : ml_fail(ML_EINVAL, "masked_select: output size does not match the mask");
}

int ml_tensor_masked_scatter(ml_tensor *a, const ml_tensor *mask, const ml_tensor *src)
{
    if (mask->dtype != ML_BOOL || !ml_tensor_same_shape(a, mask) || src->dtype != a->dtype)
        return ml_fail(ML_EINVAL, "masked scatter: mask must be bool of the tensor's shape, src of its dtype");
    ml_tensor cm = {0}, cs = {0};
    int rc = ml_tensor_contiguous(&cm, mask);
    if (!rc) rc = ml_tensor_contiguous(&cs, src);
    int64_t count = rc ? 0 : ml_tensor_count(&cm);
    if (!rc && count != src->numel)
        rc = ml_fail(ML_EINVAL, "%lld values for %lld selected elements", (long long)src->numel, (long long)count);
    if (!rc) {
        size_t es = ml_dtype_size(a->dtype);
        const uint8_t *m = cm.data;
        const char *sp = cs.data;
        int64_t idx[ML_MAXDIM] = {0}, k = 0;
        for (int64_t i = 0; i < a->numel; i++) {
            if (m[i]) {
                int64_t off = 0;
                for (int d = 0; d < a->ndim; d++) off += idx[d] * a->strides[d];
                memcpy((char *)a->data + off * (int64_t)es, sp + k++ * (int64_t)es, es);
            }
            for (int d = a->ndim - 1; d >= 0; d--) { /* next row-major index */
                if (++idx[d] < a->shape[d]) break;
                idx[d] = 0;
            }
        }
    }
    ml_tensor_release(&cm);
    ml_tensor_release(&cs);
    return rc;
}
