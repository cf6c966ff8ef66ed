/* Elementwise ops with NumPy broadcasting over strided operands: arithmetic,
 * comparisons, where, unary maths. The loops live in kern.c. */
#include <math.h>
#include <string.h>
#include "iter.h"
#include "kern.h"

int ml_broadcast_shape(const ml_tensor *a, const ml_tensor *b, int *ndim, int64_t *shape)
{
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int d = 0; d < nd; d++) {
        int da = d - (nd - a->ndim), db = d - (nd - b->ndim);
        int64_t sa = da >= 0 ? a->shape[da] : 1, sb = db >= 0 ? b->shape[db] : 1;
        if (sa != sb && sa != 1 && sb != 1) {
            char s1[96], s2[96];
            return ml_fail(ML_EINVAL, "shapes %s and %s do not broadcast (dim %d of the result: %lld vs %lld)",
                           ml_shape_str(a, s1, sizeof s1), ml_shape_str(b, s2, sizeof s2), d + 1, (long long)sa,
                           (long long)sb);
        }
        shape[d] = sa == 1 ? sb : sa;
    }
    *ndim = nd;
    return ML_OK;
}

/* A 0-dim tensor over one scalar of dtype dt, for "tensor OP number". */
static void scalar_tensor(ml_tensor *t, ml_dtype dt, double s, void *buf)
{
    ml_store_d(dt, buf, s);
    ml_tensor_wrap(t, dt, 0, NULL, buf);
}

/* Checks that x broadcasts to out's shape exactly. */
static int fits_out(const ml_tensor *x, const ml_tensor *out)
{
    if (x->ndim > out->ndim) return 0;
    for (int d = 0; d < x->ndim; d++) {
        int64_t sx = x->shape[d], so = out->shape[d + out->ndim - x->ndim];
        if (sx != so && sx != 1) return 0;
    }
    return 1;
}

typedef struct {
    int kind; /* 0 binary, 1 compare, 2 where */
    int op;
    const ml_tensor *x, *y, *c;
    ml_tensor *out;
} ew_ctx;

static char *at(const ml_tensor *t, int64_t k) { return (char *)t->data + k * (int64_t)ml_dtype_size(t->dtype); }

static void ew_row(void *vctx, int64_t n, const int64_t *off, const int64_t *st)
{
    ew_ctx *c = vctx;
    switch (c->kind) {
    case 0:
        ml_kern_binary((ml_binop)c->op, c->out->dtype, n, at(c->x, off[1]), st[1], at(c->y, off[2]), st[2],
                       at(c->out, off[0]), st[0]);
        break;
    case 1:
        ml_kern_compare((ml_cmpop)c->op, c->x->dtype, n, at(c->x, off[1]), st[1], at(c->y, off[2]), st[2],
                        (uint8_t *)at(c->out, off[0]), st[0]);
        break;
    default:
        ml_kern_where(ml_dtype_size(c->out->dtype), n, (const uint8_t *)at(c->c, off[3]), st[3], at(c->x, off[1]),
                      st[1], at(c->y, off[2]), st[2], at(c->out, off[0]), st[0]);
        break;
    }
}

/* Runs ctx over out's shape with x, y (and c) broadcast to it. */
static int run(ew_ctx *c, const char *what)
{
    const ml_tensor *ops[3] = {c->x, c->y, c->c};
    int nops = c->c ? 3 : 2;
    int64_t st[4][ML_MAXDIM];
    const int64_t *sp[4] = {c->out->strides, st[1], st[2], st[3]};
    for (int k = 0; k < nops; k++) {
        if (!fits_out(ops[k], c->out)) {
            char s1[96], s2[96];
            return ml_fail(ML_EINVAL, "%s: operand %s does not broadcast to the output %s", what,
                           ml_shape_str(ops[k], s1, sizeof s1), ml_shape_str(c->out, s2, sizeof s2));
        }
        ml_broadcast_strides(ops[k], c->out->ndim, c->out->shape, st[k + 1]);
    }
    ml_iter it;
    ml_iter_init(&it, c->out->ndim, c->out->shape, nops + 1, sp);
    ml_iter_run(&it, ew_row, c, 1);
    return ML_OK;
}

/* Runs kind (0 binary, 1 compare) op on a and b, or on a and the scalar s of a's dtype when b is NULL; the
 * operands swapped when rev. */
static int run_pair(int kind, int op, const ml_tensor *a, const ml_tensor *b, double s, int rev, ml_tensor *out,
                    const char *what)
{
    ml_tensor sc = {0};
    double buf;
    if (!b) {
        scalar_tensor(&sc, a->dtype, s, &buf);
        b = &sc;
    }
    ew_ctx c = {kind, op, rev ? b : a, rev ? a : b, NULL, out};
    return run(&c, what);
}

int ml_tensor_binary(ml_binop op, const ml_tensor *a, const ml_tensor *b, double s, int rev, ml_tensor *out)
{
    if ((b && a->dtype != b->dtype) || out->dtype != a->dtype)
        return ml_fail(ML_EINVAL, "dtypes differ: %s, %s and output %s (promote first)", ml_dtype_name(a->dtype),
                       ml_dtype_name(b ? b->dtype : a->dtype), ml_dtype_name(out->dtype));
    return run_pair(0, op, a, b, s, rev, out, "binary op");
}

int ml_tensor_compare(ml_cmpop op, const ml_tensor *a, const ml_tensor *b, double s, int rev, ml_tensor *out)
{
    if ((b && a->dtype != b->dtype) || out->dtype != ML_BOOL)
        return ml_fail(ML_EINVAL, "compare: operands must share a dtype and the output must be bool");
    return run_pair(1, op, a, b, s, rev, out, "compare");
}

int ml_tensor_where(const ml_tensor *cond, const ml_tensor *a, const ml_tensor *b, ml_tensor *out)
{
    if (cond->dtype != ML_BOOL) return ml_fail(ML_EINVAL, "where: condition must be bool, got %s", ml_dtype_name(cond->dtype));
    if (a->dtype != out->dtype || b->dtype != out->dtype)
        return ml_fail(ML_EINVAL, "where: operands must share the output dtype");
    ew_ctx c = {2, 0, a, b, cond, out};
    return run(&c, "where");
}

/* ---- unary ---- */

typedef struct {
    ml_unop op;
    const ml_tensor *a;
    ml_tensor *out;
} un_ctx;

static void un_row(void *vctx, int64_t n, const int64_t *off, const int64_t *st)
{
    un_ctx *c = vctx;
    ml_kern_unary(c->op, c->a->dtype, n, at(c->a, off[1]), st[1], at(c->out, off[0]), st[0]);
}

int ml_tensor_unary(ml_unop op, const ml_tensor *a, ml_tensor *out)
{
    if (!ml_tensor_same_shape(a, out) || out->dtype != a->dtype)
        return ml_fail(ML_EINVAL, "output does not match the operand");
    if (!ml_dtype_is_float(a->dtype) && op != ML_ABS && op != ML_NEG)
        return ml_fail(ML_EINVAL, "expected an f32 or f64 operand, got %s", ml_dtype_name(a->dtype));
    un_ctx c = {op, a, out};
    const int64_t *sp[2] = {out->strides, a->strides};
    ml_iter it;
    ml_iter_init(&it, a->ndim, a->shape, 2, sp);
    ml_iter_run(&it, un_row, &c, 1);
    return ML_OK;
}
