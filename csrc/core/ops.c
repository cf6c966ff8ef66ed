/* Elementwise arithmetic, unary math and reductions over tensors. */
#include <math.h>
#include <string.h>
#include "moonlab/tensor.h"

#define PAR_N 32768 /* below this, threads cost more than they save */

static inline double binop(ml_binop op, double x, double y)
{
    switch (op) {
    case ML_ADD: return x + y;
    case ML_SUB: return x - y;
    case ML_MUL: return x * y;
    case ML_DIV: return x / y;
    case ML_POW: return pow(x, y);
    case ML_MAXIMUM: return x > y || isnan(x) ? x : y;
    case ML_MINIMUM: return x < y || isnan(x) ? x : y;
    }
    return NAN;
}

/* One loop per operator and operand kind, so each vectorises on its own. */
#define LOOP3(T, EXPR)                                                                      \
    do {                                                                                    \
        _Pragma("omp parallel for if (n > PAR_N) schedule(static)")                         \
        for (int64_t i = 0; i < n; i++) {                                                   \
            T x = pa[i], y = pb ? pb[i] : sc;                                               \
            if (rev) { T t_ = x; x = y; y = t_; }                                           \
            po[i] = (T)(EXPR);                                                              \
        }                                                                                   \
    } while (0)

#define BINARY_LOOP(T)                                                                      \
    do {                                                                                    \
        const T *pa = (const T *)a->data;                                                   \
        const T *pb = b ? (const T *)b->data : NULL;                                        \
        T *po = (T *)out->data;                                                             \
        T sc = (T)s;                                                                        \
        switch (op) {                                                                       \
        case ML_ADD: LOOP3(T, x + y); break;                                                \
        case ML_SUB: LOOP3(T, x - y); break;                                                \
        case ML_MUL: LOOP3(T, x * y); break;                                                \
        case ML_DIV: LOOP3(T, x / y); break;                                                \
        default: LOOP3(T, binop(op, x, y)); break;                                          \
        }                                                                                   \
    } while (0)

int ml_tensor_binary(ml_binop op, const ml_tensor *a, const ml_tensor *b, double s, int rev,
                     ml_tensor *out)
{
    char sa[96], sb[96];
    if (b && !ml_tensor_same_shape(a, b))
        return ml_fail(ML_EINVAL, "shapes differ: %s and %s", ml_shape_str(a, sa, sizeof sa),
                       ml_shape_str(b, sb, sizeof sb));
    if (b && a->dtype != b->dtype)
        return ml_fail(ML_EINVAL, "dtypes differ: %s and %s", ml_dtype_name(a->dtype),
                       ml_dtype_name(b->dtype));
    if (out->numel != a->numel || out->dtype != a->dtype)
        return ml_fail(ML_EINVAL, "output does not match the operands");
    if (!ml_dtype_is_float(a->dtype))
        return ml_fail(ML_EINVAL, "expected f32 or f64 operands, got %s", ml_dtype_name(a->dtype));
    int64_t n = a->numel;
    if (a->dtype == ML_F32) BINARY_LOOP(float);
    else BINARY_LOOP(double);
    return ML_OK;
}

static inline double unop(ml_unop op, double x)
{
    switch (op) {
    case ML_EXP: return exp(x);
    case ML_LOG: return log(x);
    case ML_SQRT: return sqrt(x);
    case ML_ABS: return fabs(x);
    case ML_TANH: return tanh(x);
    case ML_SIGMOID: return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
    case ML_NEG: return -x;
    case ML_SIN: return sin(x);
    case ML_COS: return cos(x);
    case ML_SILU: return x * (x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)));
    }
    return NAN;
}

static inline float unopf(ml_unop op, float x)
{
    switch (op) {
    case ML_EXP: return expf(x);
    case ML_LOG: return logf(x);
    case ML_SQRT: return sqrtf(x);
    case ML_ABS: return fabsf(x);
    case ML_TANH: return tanhf(x);
    case ML_SIGMOID: return x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
    case ML_NEG: return -x;
    case ML_SIN: return sinf(x);
    case ML_COS: return cosf(x);
    case ML_SILU: return x * (x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x)));
    }
    return NAN;
}

int ml_tensor_unary(ml_unop op, const ml_tensor *a, ml_tensor *out)
{
    if (out->numel != a->numel || out->dtype != a->dtype)
        return ml_fail(ML_EINVAL, "output does not match the operand");
    if (!ml_dtype_is_float(a->dtype))
        return ml_fail(ML_EINVAL, "expected an f32 or f64 operand, got %s", ml_dtype_name(a->dtype));
    int64_t n = a->numel;
    if (a->dtype == ML_F32) {
        const float *pa = ml_f32(a);
        float *po = ml_f32(out);
#pragma omp parallel for if (n > PAR_N) schedule(static)
        for (int64_t i = 0; i < n; i++) po[i] = unopf(op, pa[i]);
    } else {
        const double *pa = ml_f64(a);
        double *po = ml_f64(out);
#pragma omp parallel for if (n > PAR_N) schedule(static)
        for (int64_t i = 0; i < n; i++) po[i] = unop(op, pa[i]);
    }
    return ML_OK;
}

/* Reduces `len` elements spaced `stride` apart starting at flat index base.
 * Sums accumulate in double (pairwise error is not needed at these sizes). */
static double reduce_line(ml_reduce op, const ml_tensor *a, int64_t base, int64_t len, int64_t stride)
{
    double acc = 0.0, best = len > 0 ? ml_tensor_getd(a, base) : NAN;
    int64_t arg = 0;
    for (int64_t j = 0; j < len; j++) {
        double x = ml_tensor_getd(a, base + j * stride);
        switch (op) {
        case ML_SUM:
        case ML_MEAN: acc += x; break;
        case ML_MAX:
        case ML_ARGMAX:
            if (x > best || (isnan(x) && !isnan(best))) best = x, arg = j;
            break;
        case ML_MIN:
        case ML_ARGMIN:
            if (x < best || (isnan(x) && !isnan(best))) best = x, arg = j;
            break;
        }
    }
    switch (op) {
    case ML_SUM: return acc;
    case ML_MEAN: return acc / (double)len;
    case ML_MAX:
    case ML_MIN: return best;
    default: return (double)arg;
    }
}

int ml_tensor_reduce(ml_reduce op, const ml_tensor *a, int dim, ml_tensor *out)
{
    if (dim < 0) {
        if (out->numel != 1) return ml_fail(ML_EINVAL, "full reduction needs a 1-element output");
        ml_tensor_setd(out, 0, reduce_line(op, a, 0, a->numel, 1));
        return ML_OK;
    }
    if (dim >= a->ndim)
        return ml_fail(ML_EINVAL, "dim %d out of range for a %d-dim tensor", dim + 1, a->ndim);
    int64_t outer = 1, inner = 1, len = a->shape[dim];
    for (int i = 0; i < dim; i++) outer *= a->shape[i];
    for (int i = dim + 1; i < a->ndim; i++) inner *= a->shape[i];
    if (out->numel != outer * inner) return ml_fail(ML_EINVAL, "reduction output has the wrong size");
    int64_t m = outer * inner;
#pragma omp parallel for if (m * len > PAR_N) schedule(static)
    for (int64_t k = 0; k < m; k++) {
        int64_t o = k / inner, i = k % inner;
        ml_tensor_setd(out, k, reduce_line(op, a, o * len * inner + i, len, inner));
    }
    return ML_OK;
}
