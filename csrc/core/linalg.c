/* Matrix products through cblas and last-two-dims transpose. */
#include <cblas.h>
#include "moonlab/tensor.h"

int ml_tensor_matmul(const ml_tensor *a, const ml_tensor *b, ml_tensor *out)
{
    char sa[96], sb[96];
    if (a->dtype != b->dtype || out->dtype != a->dtype)
        return ml_fail(ML_EINVAL, "matmul: dtypes differ (%s and %s)", ml_dtype_name(a->dtype),
                       ml_dtype_name(b->dtype));
    int nd = a->ndim;
    if (nd != b->ndim || (nd != 2 && nd != 3) || (nd == 3 && a->shape[0] != b->shape[0]) ||
        a->shape[nd - 1] != b->shape[nd - 2])
        return ml_fail(ML_EINVAL, "matmul: cannot multiply %s by %s (expected [M,K]x[K,N] or [B,M,K]x[B,K,N])",
                       ml_shape_str(a, sa, sizeof sa), ml_shape_str(b, sb, sizeof sb));
    int64_t batch = nd == 3 ? a->shape[0] : 1;
    int64_t M = a->shape[nd - 2], K = a->shape[nd - 1], N = b->shape[nd - 1];
    if (out->numel != batch * M * N) return ml_fail(ML_EINVAL, "matmul: output has the wrong size");
    if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
        return ml_fail(ML_EINVAL, "matmul: a dimension exceeds the BLAS integer range");
    for (int64_t i = 0; i < batch; i++) {
        if (a->dtype == ML_F32)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f,
                        ml_f32(a) + i * M * K, (int)K, ml_f32(b) + i * K * N, (int)N, 0.0f,
                        ml_f32(out) + i * M * N, (int)N);
        else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0,
                        ml_f64(a) + i * M * K, (int)K, ml_f64(b) + i * K * N, (int)N, 0.0,
                        ml_f64(out) + i * M * N, (int)N);
    }
    return ML_OK;
}

int ml_tensor_transpose(const ml_tensor *a, ml_tensor *out)
{
    if (a->ndim < 2) return ml_fail(ML_EINVAL, "transpose: needs at least 2 dims, got %d", a->ndim);
    if (out->numel != a->numel || out->dtype != a->dtype || out->data == a->data)
        return ml_fail(ML_EINVAL, "transpose: output must be a distinct tensor of the same size");
    ml_tensor v = {0};
    ml_tensor_transpose_view(&v, a, a->ndim - 2, a->ndim - 1);
    int rc = ml_tensor_copy(out, &v);
    ml_tensor_release(&v);
    return rc;
}
