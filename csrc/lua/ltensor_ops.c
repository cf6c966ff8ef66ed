/* Tensor binding: elementwise arithmetic with broadcasting and dtype promotion,
 * comparisons, where, unary maths, in-place forms and out= arguments,
 * reductions, cumulative ops, sorting, joining and gathering. */
#include <math.h>
#include <string.h>
#include "ltensor.h"

/* ---- result dtypes ---- */

/* The dtype of x OP y for the values at stack positions i and j (tensors or numbers). */
static ml_dtype pair_dtype(lua_State *L, int i, int j)
{
    ml_tensor *a = lt_test(L, i), *b = lt_test(L, j);
    if (a && b) return ml_dtype_promote(a->dtype, b->dtype);
    if (a) return lt_scalar_dtype(L, j, a->dtype);
    if (b) return lt_scalar_dtype(L, i, b->dtype);
    if (lua_isboolean(L, i) && lua_isboolean(L, j)) return ML_BOOL;
    return lua_isinteger(L, i) && lua_isinteger(L, j) ? ML_I64 : ML_F64;
}

static const char *const binop_names[] = {"tensor:add", "tensor:sub", "tensor:mul", "tensor:div",
                                          "tensor:pow", "tensor:maximum", "tensor:minimum"};
static const char *const binop_inplace[] = {"tensor:add_", "tensor:sub_", "tensor:mul_", "tensor:div_",
                                            "tensor:pow_", "tensor:maximum_", "tensor:minimum_"};

/* The out= option of the options table at idx (NULL when absent); stays anchored in the table. */
static ml_tensor *out_opt(lua_State *L, int idx, const char *fname)
{
    if (lua_isnoneornil(L, idx)) return NULL;
    if (!lua_istable(L, idx))
        mlL_argerror(L, idx, fname, "opts", "expected an options table ({out = t}), got %s", luaL_typename(L, idx));
    mlL_opts(L, idx, fname, (mlL_opt[]){{"out", MLL_SKIP, NULL, NULL}, {0}});
    lua_getfield(L, idx, "out");
    ml_tensor *o = NULL;
    if (!lua_isnil(L, -1)) {
        o = lt_test(L, -1);
        if (!o || !o->data) mlL_error(L, "%s: option 'out' must be an open tensor, got %s", fname, luaL_typename(L, -1));
        lua_replace(L, idx); /* anchor the out tensor in the options slot */
    } else {
        lua_pop(L, 1);
    }
    return o;
}

/* Same kind: float with float, integer/bool with integer/bool. */
static int same_kind(ml_dtype a, ml_dtype b) { return ml_dtype_is_float(a) == ml_dtype_is_float(b); }

/* When x shares out's storage but not its exact layout, a later write could
 * clobber an element still to be read: use a copy of x then. */
static ml_tensor *unalias(lua_State *L, ml_tensor *x, const ml_tensor *out, const char *fname)
{
    if (!x->storage || x->storage != out->storage) return x;
    if (x->data == out->data && ml_tensor_same_shape(x, out) &&
        !memcmp(x->strides, out->strides, sizeof(int64_t) * (size_t)x->ndim))
        return x;
    ml_tensor *c = lt_newout(L, fname, x->dtype, x->ndim, x->shape);
    ml_tensor_copy(c, x);
    return c;
}

/* A result for shape/dtype: the out tensor (checked) or a new one; pushed on the stack. */
static ml_tensor *result(lua_State *L, ml_tensor *out, int outidx, const char *fname, ml_dtype dt, int nd,
                         const int64_t *shape)
{
    if (!out) return lt_newout(L, fname, dt, nd, shape);
    ml_tensor want = {0};
    memset(&want, 0, sizeof want);
    want.ndim = nd;
    memcpy(want.shape, shape, sizeof(int64_t) * (size_t)nd);
    char s1[96], s2[96];
    if (!ml_tensor_same_shape(out, &want))
        mlL_error(L, "%s: out has shape %s, the result %s", fname, ml_shape_str(out, s1, sizeof s1),
                  ml_shape_str(&want, s2, sizeof s2));
    if (out->dtype != dt) mlL_error(L, "%s: out has dtype %s, the result %s", fname, ml_dtype_name(out->dtype), ml_dtype_name(dt));
    lua_pushvalue(L, outidx);
    return out;
}

/* The binary (cmp = 0) or comparison (cmp = 1) op of the operands at 1 and 2 as dtype dt, broadcast into the
 * result of dtype rdt (out at outidx, or a new tensor); returns 1 with the result on top of the stack. */
static int run_pair(lua_State *L, int cmp, int op, ml_tensor *out, int outidx, const char *fname, ml_dtype dt,
                    ml_dtype rdt)
{
    ml_tensor *a = lt_operand(L, 1, dt, fname, "self");
    ml_tensor *b = lt_operand(L, 2, dt, fname, "other");
    int nd;
    int64_t shape[ML_MAXDIM];
    if (ml_broadcast_shape(a, b, &nd, shape)) return mlL_argerror(L, 2, fname, "other", "%s", ml_errmsg());
    ml_tensor *o = result(L, out, outidx, fname, rdt, nd, shape);
    int ri = lua_gettop(L);
    if (out) {
        a = unalias(L, a, o, fname);
        b = unalias(L, b, o, fname);
    }
    int rc = cmp ? ml_tensor_compare((ml_cmpop)op, a, b, 0, 0, o) : ml_tensor_binary((ml_binop)op, a, b, 0, 0, o);
    if (rc) return mlL_raise(L, fname);
    lua_pushvalue(L, ri);
    return 1;
}

/* x OP y, either side a tensor or a number; opts {out = t} at 3; inplace writes into x. */
static int binary(lua_State *L, ml_binop op, int inplace)
{
    const char *fname = inplace ? binop_inplace[op] : binop_names[op];
    lua_settop(L, 3);
    ml_tensor *ta = lt_test(L, 1), *tb = lt_test(L, 2);
    if (!ta && !tb) return mlL_argerror(L, 1, fname, "self", "expected a tensor, got %s", luaL_typename(L, 1));
    if (inplace && !ta) return mlL_argerror(L, 1, fname, "self", "expected a tensor, got %s", luaL_typename(L, 1));
    ml_tensor *out = inplace ? lt_check(L, 1, fname, "self") : out_opt(L, 3, fname);
    int outidx = inplace ? 1 : 3;
    ml_dtype dt = pair_dtype(L, 1, 2);
    if ((op == ML_DIV || op == ML_POW) && !ml_dtype_is_float(dt)) dt = ML_F64; /* true division, as in NumPy */
    if ((op == ML_ADD || op == ML_SUB || op == ML_MUL) && dt == ML_BOOL) dt = ML_I64;
    if (out) {
        if (!same_kind(out->dtype, dt) && !(ml_dtype_is_float(out->dtype) && !ml_dtype_is_float(dt)))
            return mlL_error(L, "%s: cannot store the %s result in a %s tensor", fname, ml_dtype_name(dt),
                             ml_dtype_name(out->dtype));
        dt = out->dtype;
    }
    return run_pair(L, 0, op, out, outidx, fname, dt, dt);
}
static int l_add(lua_State *L) { return binary(L, ML_ADD, 0); }
static int l_sub(lua_State *L) { return binary(L, ML_SUB, 0); }
static int l_mul(lua_State *L) { return binary(L, ML_MUL, 0); }
static int l_div(lua_State *L) { return binary(L, ML_DIV, 0); }
static int l_pow(lua_State *L) { return binary(L, ML_POW, 0); }
static int l_maximum(lua_State *L) { return binary(L, ML_MAXIMUM, 0); }
static int l_minimum(lua_State *L) { return binary(L, ML_MINIMUM, 0); }
static int l_add_(lua_State *L) { return binary(L, ML_ADD, 1); }
static int l_sub_(lua_State *L) { return binary(L, ML_SUB, 1); }
static int l_mul_(lua_State *L) { return binary(L, ML_MUL, 1); }
static int l_div_(lua_State *L) { return binary(L, ML_DIV, 1); }
static int l_pow_(lua_State *L) { return binary(L, ML_POW, 1); }
static int l_maximum_(lua_State *L) { return binary(L, ML_MAXIMUM, 1); }
static int l_minimum_(lua_State *L) { return binary(L, ML_MINIMUM, 1); }

/* ---- comparisons ---- */

static const char *const cmp_names[] = {"tensor:eq", "tensor:ne", "tensor:lt", "tensor:le", "tensor:gt", "tensor:ge"};

static int compare(lua_State *L, ml_cmpop op)
{
    const char *fname = cmp_names[op];
    lua_settop(L, 3);
    if (!lt_test(L, 1) && !lt_test(L, 2)) return mlL_argerror(L, 1, fname, "self", "expected a tensor, got %s", luaL_typename(L, 1));
    ml_tensor *out = out_opt(L, 3, fname);
    ml_dtype dt = pair_dtype(L, 1, 2);
    return run_pair(L, 1, op, out, 3, fname, dt, ML_BOOL);
}
static int l_eq(lua_State *L) { return compare(L, ML_EQ); }
static int l_ne(lua_State *L) { return compare(L, ML_NE); }
static int l_lt(lua_State *L) { return compare(L, ML_LT); }
static int l_le(lua_State *L) { return compare(L, ML_LE); }
static int l_gt(lua_State *L) { return compare(L, ML_GT); }
static int l_ge(lua_State *L) { return compare(L, ML_GE); }

/* where(cond, a, b): a where cond is true, else b; a and b tensors or numbers, all broadcast. */
static int l_where(lua_State *L)
{
    const char *fname = "tensor.where";
    lua_settop(L, 4);
    ml_tensor *c = lt_check(L, 1, fname, "cond");
    ml_tensor *out = out_opt(L, 4, fname);
    ml_dtype dt = pair_dtype(L, 2, 3);
    if (out) {
        if (!same_kind(out->dtype, dt) && !(ml_dtype_is_float(out->dtype) && !ml_dtype_is_float(dt)))
            return mlL_error(L, "%s: cannot store the %s result in a %s tensor", fname, ml_dtype_name(dt), ml_dtype_name(out->dtype));
        dt = out->dtype;
    }
    c = lt_as(L, c, ML_BOOL, fname);
    ml_tensor *a = lt_operand(L, 2, dt, fname, "a"), *b = lt_operand(L, 3, dt, fname, "b");
    int nd, nd2;
    int64_t s1[ML_MAXDIM], s2[ML_MAXDIM];
    if (ml_broadcast_shape(a, b, &nd, s1)) return mlL_argerror(L, 3, fname, "b", "%s", ml_errmsg());
    ml_tensor ab = {0};
    memset(&ab, 0, sizeof ab);
    ab.ndim = nd;
    memcpy(ab.shape, s1, sizeof s1);
    if (ml_broadcast_shape(c, &ab, &nd2, s2)) return mlL_argerror(L, 1, fname, "cond", "%s", ml_errmsg());
    ml_tensor *o = result(L, out, 4, fname, dt, nd2, s2);
    int ri = lua_gettop(L);
    if (out) {
        c = unalias(L, c, o, fname);
        a = unalias(L, a, o, fname);
        b = unalias(L, b, o, fname);
    }
    if (ml_tensor_where(c, a, b, o)) return mlL_raise(L, fname);
    lua_pushvalue(L, ri);
    return 1;
}

/* ---- unary ---- */

static int unary(lua_State *L, ml_unop op, const char *fname, int inplace)
{
    if (lua_rawequal(L, 1, 2)) lua_settop(L, 1); /* -t calls __unm(t, t) */
    lua_settop(L, 2);
    ml_tensor *t = LT_SELF(fname);
    ml_tensor *out = inplace ? t : out_opt(L, 2, fname);
    int keep = op == ML_ABS || op == ML_NEG;
    if (op == ML_NEG && t->dtype == ML_BOOL) return mlL_argerror(L, 1, fname, "self", "cannot negate a bool tensor");
    ml_dtype dt = keep || ml_dtype_is_float(t->dtype) ? t->dtype : ML_F64;
    if (out) {
        if (!ml_dtype_is_float(out->dtype) && ml_dtype_is_float(dt))
            return mlL_error(L, "%s: cannot store the %s result in a %s tensor", fname, ml_dtype_name(dt), ml_dtype_name(out->dtype));
        dt = out->dtype;
    }
    ml_tensor *a = lt_as(L, t, dt, fname);
    ml_tensor *o = result(L, out, inplace ? 1 : 2, fname, dt, t->ndim, t->shape);
    int ri = lua_gettop(L);
    if (out) a = unalias(L, a, o, fname);
    if (ml_tensor_unary(op, a, o)) return mlL_raise(L, fname);
    lua_pushvalue(L, ri);
    return 1;
}
#define UNARY(name, OP)                                                                           \
    static int l_##name(lua_State *L) { return unary(L, OP, "tensor:" #name, 0); }                \
    static int l_##name##_(lua_State *L) { return unary(L, OP, "tensor:" #name "_", 1); }
UNARY(exp, ML_EXP)
UNARY(log, ML_LOG)
UNARY(sqrt, ML_SQRT)
UNARY(abs, ML_ABS)
UNARY(tanh, ML_TANH)
UNARY(sigmoid, ML_SIGMOID)
UNARY(silu, ML_SILU)
UNARY(sin, ML_SIN)
UNARY(cos, ML_COS)
UNARY(neg, ML_NEG)

/* ---- reductions ---- */

/* keepdim from an options table at idx. */
static int keepdim_opt(lua_State *L, int idx, const char *fname)
{
    int keep = 0;
    mlL_opts(L, idx, fname, (mlL_opt[]){{"keepdim", MLL_BOOL, &keep, NULL}, {0}});
    return keep;
}

static int reduce(lua_State *L, ml_reduce op, const char *fname)
{
    ml_tensor *t = LT_SELF(fname);
    int argres = op == ML_ARGMAX || op == ML_ARGMIN;
    ml_dtype odt = ml_reduce_dtype(op, t->dtype);
    if (lua_isnoneornil(L, 2) || lua_istable(L, 2)) {
        if (lua_istable(L, 2)) keepdim_opt(L, 2, fname);
        if (t->numel == 0 && op != ML_SUM && op != ML_PROD && op != ML_ANY && op != ML_ALL)
            return mlL_argerror(L, 1, fname, "self", "reduction of an empty tensor has no identity");
        ml_tensor one = {0};
        union { double d; int64_t i; float f; uint8_t b; } v;
        ml_tensor_wrap(&one, odt, 0, NULL, &v);
        if (ml_tensor_reduce(op, t, -1, &one)) return mlL_raise(L, fname);
        if (argres) lua_pushinteger(L, v.i + 1);
        else lt_pushelem(L, odt, &v);
        return 1;
    }
    if (t->ndim == 0) return mlL_argerror(L, 2, fname, "dim", "a 0-dim tensor has no dims");
    int d = lt_checkdim(L, 2, t->ndim, fname, 0);
    int keep = keepdim_opt(L, 3, fname);
    if (t->shape[d] == 0 && op != ML_SUM && op != ML_PROD && op != ML_ANY && op != ML_ALL)
        return mlL_argerror(L, 2, fname, "dim", "reduction over an empty dim has no identity");
    int64_t shape[ML_MAXDIM];
    int nd = 0;
    for (int i = 0; i < t->ndim; i++)
        if (i != d) shape[nd++] = t->shape[i];
        else if (keep) shape[nd++] = 1;
    ml_tensor *o = lt_newout(L, fname, odt, nd, shape);
    if (ml_tensor_reduce(op, t, d, o)) return mlL_raise(L, fname);
    if (argres) {
        int64_t *p = o->data;
        for (int64_t i = 0; i < o->numel; i++) p[i]++;
    }
    return 1;
}
static int l_sum(lua_State *L) { return reduce(L, ML_SUM, "tensor:sum"); }
static int l_mean(lua_State *L) { return reduce(L, ML_MEAN, "tensor:mean"); }
static int l_max(lua_State *L) { return reduce(L, ML_MAX, "tensor:max"); }
static int l_min(lua_State *L) { return reduce(L, ML_MIN, "tensor:min"); }
static int l_argmax(lua_State *L) { return reduce(L, ML_ARGMAX, "tensor:argmax"); }
static int l_argmin(lua_State *L) { return reduce(L, ML_ARGMIN, "tensor:argmin"); }
static int l_prod(lua_State *L) { return reduce(L, ML_PROD, "tensor:prod"); }
static int l_any(lua_State *L) { return reduce(L, ML_ANY, "tensor:any"); }
static int l_all(lua_State *L) { return reduce(L, ML_ALL, "tensor:all"); }

static int cumulate(lua_State *L, int prod, const char *fname)
{
    ml_tensor *t = LT_SELF(fname);
    if (t->ndim == 0) return mlL_argerror(L, 1, fname, "self", "needs at least 1 dim");
    int d = lua_isnoneornil(L, 2) ? (t->ndim == 1 ? 0 : -1) : lt_checkdim(L, 2, t->ndim, fname, 0);
    if (d < 0) return mlL_argerror(L, 2, fname, "dim", "expected a dim for a %d-dim tensor", t->ndim);
    ml_tensor *o = lt_newout(L, fname, ml_reduce_dtype(prod ? ML_PROD : ML_SUM, t->dtype), t->ndim, t->shape);
    if (ml_tensor_cumulate(prod, t, d, o)) return mlL_raise(L, fname);
    return 1;
}
static int l_cumsum(lua_State *L) { return cumulate(L, 0, "tensor:cumsum"); }
static int l_cumprod(lua_State *L) { return cumulate(L, 1, "tensor:cumprod"); }

/* ---- sorting ---- */

/* sort([dim], [{descending}]) -> values, indices (1-based i64). dim defaults to the last. */
static int sort_impl(lua_State *L, const char *fname, int want_vals, int want_idx)
{
    ml_tensor *t = LT_SELF(fname);
    if (t->ndim == 0) return mlL_argerror(L, 1, fname, "self", "needs at least 1 dim");
    int optidx = 3;
    int d = t->ndim - 1;
    if (lua_istable(L, 2)) optidx = 2;
    else if (!lua_isnoneornil(L, 2)) d = lt_checkdim(L, 2, t->ndim, fname, 0);
    int desc = 0;
    mlL_opts(L, optidx, fname, (mlL_opt[]){{"descending", MLL_BOOL, &desc, NULL}, {0}});
    ml_tensor *v = want_vals ? lt_newout(L, fname, t->dtype, t->ndim, t->shape) : NULL;
    ml_tensor *ix = want_idx ? lt_newout(L, fname, ML_I64, t->ndim, t->shape) : NULL;
    if (ml_tensor_sort_base(t, d, desc, v, ix, 1)) return mlL_raise(L, fname);
    return want_vals + want_idx;
}
static int l_sort(lua_State *L) { return sort_impl(L, "tensor:sort", 1, 1); }
static int l_argsort(lua_State *L) { return sort_impl(L, "tensor:argsort", 0, 1); }

/* topk(k, [dim], [{largest = true}]) -> values, indices: the k largest (smallest) along dim, sorted. */
static int l_topk(lua_State *L)
{
    const char *fname = "tensor:topk";
    ml_tensor *t = LT_SELF(fname);
    if (t->ndim == 0) return mlL_argerror(L, 1, fname, "self", "needs at least 1 dim");
    lua_Integer k = lt_checkint(L, 2, fname, "k");
    int optidx = 4, d = t->ndim - 1;
    if (lua_istable(L, 3)) optidx = 3;
    else if (!lua_isnoneornil(L, 3)) d = lt_checkdim(L, 3, t->ndim, fname, 0);
    int largest = 1;
    mlL_opts(L, optidx, fname, (mlL_opt[]){{"largest", MLL_BOOL, &largest, NULL}, {0}});
    if (k < 0 || k > t->shape[d])
        return mlL_argerror(L, 2, fname, "k", "expected 0..%lld (the size of dim %d), got %lld", (long long)t->shape[d],
                            d + 1, (long long)k);
    ml_tensor *v = lt_newout(L, fname, t->dtype, t->ndim, t->shape);
    ml_tensor *ix = lt_newout(L, fname, ML_I64, t->ndim, t->shape);
    if (ml_tensor_sort_base(t, d, largest, v, ix, 1)) return mlL_raise(L, fname);
    ml_tensor nv = {0}, ni = {0};
    ml_tensor_narrow(&nv, v, d, 0, k);
    ml_tensor_narrow(&ni, ix, d, 0, k);
    lt_pushview(L, &nv);
    lt_pushview(L, &ni);
    return 2;
}

/* ---- joining, reversing, gathering ---- */

/* cat(list, [dim = 1]) */
static int l_cat(lua_State *L)
{
    const char *fname = "tensor.cat";
    if (!lua_istable(L, 1)) return mlL_argerror(L, 1, fname, "tensors", "expected a list of tensors, got %s", luaL_typename(L, 1));
    int n = (int)luaL_len(L, 1);
    if (n < 1) return mlL_argerror(L, 1, fname, "tensors", "expected at least one tensor");
    if (n > 1 << 20) return mlL_argerror(L, 1, fname, "tensors", "too many tensors (%d)", n);
    lua_settop(L, 2);
    lua_createtable(L, n, 0); /* converted operands, anchored: index 3 */
    ml_tensor **ts = lua_newuserdatauv(L, sizeof *ts * (size_t)n, 0); /* index 4 */
    ml_tensor *first = NULL;
    ml_dtype dt = ML_BOOL;
    for (int i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        ml_tensor *t = lt_test(L, -1);
        if (!t || !t->data) return mlL_argerror(L, 1, fname, "tensors", "element %d is %s, expected an open tensor", i, t ? "closed" : luaL_typename(L, -1));
        dt = i == 1 ? t->dtype : ml_dtype_promote(dt, t->dtype);
        if (!first) first = t;
        lua_pop(L, 1);
    }
    int d = lua_isnoneornil(L, 2) ? 0 : lt_checkdim(L, 2, first->ndim, fname, 0);
    if (first->ndim == 0) return mlL_argerror(L, 1, fname, "tensors", "cannot join 0-dim tensors (use stack)");
    int64_t shape[ML_MAXDIM];
    memcpy(shape, first->shape, sizeof shape);
    shape[d] = 0;
    char s1[96], s2[96];
    for (int i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        ml_tensor *t = lt_test(L, -1);
        if (t->ndim != first->ndim) return mlL_argerror(L, 1, fname, "tensors", "element %d has %d dims, element 1 has %d", i, t->ndim, first->ndim);
        for (int k = 0; k < t->ndim; k++)
            if (k != d && t->shape[k] != first->shape[k])
                return mlL_argerror(L, 1, fname, "tensors", "element %d has shape %s, element 1 %s (they may differ only in dim %d)",
                                    i, ml_shape_str(t, s1, sizeof s1), ml_shape_str(first, s2, sizeof s2), d + 1);
        shape[d] += t->shape[d];
        int top = lua_gettop(L);
        ts[i - 1] = lt_as(L, t, dt, fname);
        if (lua_gettop(L) == top) lua_pushvalue(L, -1);
        lua_rawseti(L, 3, i); /* anchor the operand (converted or not) */
        lua_pop(L, 1);
    }
    ml_tensor *o = lt_newout(L, fname, dt, first->ndim, shape);
    if (ml_tensor_cat((const ml_tensor *const *)ts, n, d, o)) return mlL_raise(L, fname);
    return 1;
}

static int l_flip(lua_State *L)
{
    const char *fname = "tensor:flip";
    ml_tensor *t = LT_SELF(fname);
    lua_settop(L, 2);
    ml_tensor *o = lt_newout(L, fname, t->dtype, t->ndim, t->shape);
    if (lua_isnil(L, 2)) { /* every dim */
        ml_tensor_copy(o, t);
        for (int d = 0; d < t->ndim; d++) {
            ml_tensor tmp = {0};
            if (ml_tensor_init0(&tmp, o->dtype, o->ndim, o->shape) || ml_tensor_copy(&tmp, o) || ml_tensor_flip(&tmp, d, o)) {
                ml_tensor_release(&tmp);
                return mlL_raise(L, fname);
            }
            ml_tensor_release(&tmp);
        }
        return 1;
    }
    int d = lt_checkdim(L, 2, t->ndim, fname, 0);
    if (ml_tensor_flip(t, d, o)) return mlL_raise(L, fname);
    return 1;
}

/* roll(shift, [dim]): without dim the flattened tensor rolls. */
static int l_roll(lua_State *L)
{
    const char *fname = "tensor:roll";
    ml_tensor *t = LT_SELF(fname);
    lua_Integer s = lt_checkint(L, 2, fname, "shift");
    lua_settop(L, 3);
    ml_tensor *o = lt_newout(L, fname, t->dtype, t->ndim, t->shape);
    if (lua_isnil(L, 3)) {
        ml_tensor *c = lt_contig(L, t, fname);
        ml_tensor fa = {0}, fo = {0};
        int64_t n = t->numel;
        ml_tensor_view(&fa, c, 1, &n);
        ml_tensor_view(&fo, o, 1, &n);
        int rc = ml_tensor_roll(&fa, s, 0, &fo);
        ml_tensor_release(&fa);
        ml_tensor_release(&fo);
        if (rc) return mlL_raise(L, fname);
        lua_pushvalue(L, 4);
        return 1;
    }
    int d = lt_checkdim(L, 3, t->ndim, fname, 0);
    if (ml_tensor_roll(t, s, d, o)) return mlL_raise(L, fname);
    return 1;
}

/* A 1-D i64 tensor of 0-based indices from the 1-based (negative: from the end) index tensor/table at idx. */
static ml_tensor *index_arg(lua_State *L, int idx, int64_t n, const char *fname)
{
    ml_tensor *it = lt_test(L, idx);
    if (lua_istable(L, idx)) {
        int len = (int)luaL_len(L, idx);
        int64_t sh[1] = {len};
        it = lt_newout(L, fname, ML_I64, 1, sh);
        for (int i = 0; i < len; i++) {
            lua_geti(L, idx, i + 1);
            ((int64_t *)it->data)[i] = lt_checkint(L, -1, fname, "index");
            lua_pop(L, 1);
        }
    } else if (!it || !it->data || ml_dtype_is_float(it->dtype) || it->dtype == ML_BOOL) {
        mlL_argerror(L, idx, fname, "index", "expected an integer tensor or a table of indices, got %s",
                     it ? ml_dtype_name(it->dtype) : luaL_typename(L, idx));
    }
    if (it->ndim > 1) mlL_argerror(L, idx, fname, "index", "expected a 1-D index tensor, got %d dims", it->ndim);
    int64_t sh[1] = {it->numel};
    ml_tensor *z = lt_newout(L, fname, ML_I64, 1, sh);
    ml_tensor flat = {0};
    if (ml_tensor_view(&flat, it, 1, sh) == ML_OK) {
        ml_tensor_copy(z, &flat);
        ml_tensor_release(&flat);
    } else {
        ml_tensor_copy(z, it);
    }
    int64_t *p = z->data;
    for (int64_t i = 0; i < z->numel; i++) {
        int64_t j = p[i] < 0 ? p[i] + n : p[i] - 1;
        if (p[i] == 0 || j < 0 || j >= n)
            mlL_argerror(L, idx, fname, "index", "index %lld out of range 1..%lld (or -%lld..-1)", (long long)p[i],
                         (long long)n, (long long)n);
        p[i] = j;
    }
    return z;
}

/* The arguments of tensor:index and tensor:index_put: self (*t, at least 1-D), its dim at 2 (*d, 0-based) and
 * the positions at 3 (returned, 0-based), with the stack cut to top slots. */
static ml_tensor *index_args(lua_State *L, const char *fname, int top, ml_tensor **t, int *d)
{
    *t = LT_SELF(fname);
    if ((*t)->ndim == 0) mlL_argerror(L, 1, fname, "self", "cannot index a 0-dim tensor");
    *d = lt_checkdim(L, 2, (*t)->ndim, fname, 0);
    lua_settop(L, top);
    return index_arg(L, 3, (*t)->shape[*d], fname);
}

/* index(dim, idx): the slices at positions idx along dim (a copy). */
static int l_index(lua_State *L)
{
    const char *fname = "tensor:index";
    ml_tensor *t;
    int d;
    ml_tensor *ix = index_args(L, fname, 3, &t, &d);
    int64_t shape[ML_MAXDIM];
    memcpy(shape, t->shape, sizeof shape);
    shape[d] = ix->numel;
    ml_tensor *o = lt_newout(L, fname, t->dtype, t->ndim, shape);
    if (ml_tensor_index_select(t, d, ix, o)) return mlL_raise(L, fname);
    return 1;
}

/* index_put(dim, idx, src): writes src (tensor broadcast to the indexed shape, or a number) in place; returns self. */
static int l_index_put(lua_State *L)
{
    const char *fname = "tensor:index_put";
    ml_tensor *t;
    int d;
    ml_tensor *ix = index_args(L, fname, 4, &t, &d);
    ml_tensor *src = lt_operand(L, 4, t->dtype, fname, "src");
    src = unalias(L, src, t, fname);
    char s1[96], s2[96];
    if (ml_tensor_index_put(t, d, ix, src))
        return mlL_argerror(L, 4, fname, "src", "%s (src %s, tensor %s)", ml_errmsg(), ml_shape_str(src, s1, sizeof s1),
                            ml_shape_str(t, s2, sizeof s2));
    lua_settop(L, 1);
    return 1;
}

static ml_tensor *mask_arg(lua_State *L, int idx, ml_tensor *t, const char *fname)
{
    ml_tensor *m = lt_check(L, idx, fname, "mask");
    char s1[96], s2[96];
    if (m->dtype != ML_BOOL) mlL_argerror(L, idx, fname, "mask", "expected a bool tensor, got %s", ml_dtype_name(m->dtype));
    ml_tensor e = {0};
    if (ml_tensor_expand(&e, m, t->ndim, t->shape))
        mlL_argerror(L, idx, fname, "mask", "shape %s does not broadcast to the tensor's %s", ml_shape_str(m, s1, sizeof s1),
                     ml_shape_str(t, s2, sizeof s2));
    return lt_pushview(L, &e);
}

static int l_masked_select(lua_State *L)
{
    const char *fname = "tensor:masked_select";
    ml_tensor *t = LT_SELF(fname);
    lua_settop(L, 2);
    ml_tensor *m = mask_arg(L, 2, t, fname);
    int64_t n = ml_tensor_count(m);
    if (n < 0) return mlL_raise(L, fname);
    ml_tensor *o = lt_newout(L, fname, t->dtype, 1, &n);
    if (ml_tensor_masked_select(t, m, o)) return mlL_raise(L, fname);
    return 1;
}

/* masked_fill_(mask, v): v where mask is true (v a number or a tensor broadcast to self), in place. */
static int masked_fill(lua_State *L, int inplace)
{
    const char *fname = inplace ? "tensor:masked_fill_" : "tensor:masked_fill";
    ml_tensor *t = LT_SELF(fname);
    lua_settop(L, 3);
    ml_tensor *m = mask_arg(L, 2, t, fname); /* 4 */
    ml_tensor *o = t;
    int ri = 1;
    if (!inplace) {
        o = lt_newout(L, fname, t->dtype, t->ndim, t->shape);
        ri = lua_gettop(L);
        ml_tensor_copy(o, t);
    }
    ml_tensor *v = lt_operand(L, 3, t->dtype, fname, "value");
    v = unalias(L, v, o, fname);
    m = unalias(L, m, o, fname);
    if (ml_tensor_where(m, v, o, o)) return mlL_argerror(L, 3, fname, "value", "%s", ml_errmsg());
    lua_pushvalue(L, ri);
    return 1;
}
static int l_masked_fill(lua_State *L) { return masked_fill(L, 0); }

/* masked_scatter_(mask, src): the selected elements (row-major order) = src broadcast to their count
 * (NumPy's a[mask] = v); in place, returns self. */
static int l_masked_scatter_(lua_State *L)
{
    const char *fname = "tensor:masked_scatter_";
    ml_tensor *t = LT_SELF(fname);
    lua_settop(L, 3);
    ml_tensor *m = lt_contig(L, mask_arg(L, 2, t, fname), fname);
    int64_t n = ml_tensor_count(m);
    ml_tensor *v = lt_operand(L, 3, t->dtype, fname, "src");
    ml_tensor e = {0};
    char s1[96];
    if (ml_tensor_expand(&e, v, 1, &n))
        return mlL_argerror(L, 3, fname, "src", "%s values for %lld selected elements", ml_shape_str(v, s1, sizeof s1),
                            (long long)n);
    lt_pushview(L, &e);
    ml_tensor *src = unalias(L, lt_test(L, -1), t, fname);
    if (ml_tensor_masked_scatter(t, m, src)) return mlL_argerror(L, 3, fname, "src", "%s", ml_errmsg());
    lua_settop(L, 1);
    return 1;
}
static int l_masked_fill_(lua_State *L) { return masked_fill(L, 1); }

const luaL_Reg lt_ops_methods[] = {
    {"add", l_add},         {"sub", l_sub},         {"mul", l_mul},           {"div", l_div},
    {"pow", l_pow},         {"maximum", l_maximum}, {"minimum", l_minimum},   {"add_", l_add_},
    {"sub_", l_sub_},       {"mul_", l_mul_},       {"div_", l_div_},         {"pow_", l_pow_},
    {"maximum_", l_maximum_}, {"minimum_", l_minimum_},
    {"eq", l_eq},           {"ne", l_ne},           {"lt", l_lt},             {"le", l_le},
    {"gt", l_gt},           {"ge", l_ge},
    {"exp", l_exp},         {"log", l_log},         {"sqrt", l_sqrt},         {"abs", l_abs},
    {"tanh", l_tanh},       {"sigmoid", l_sigmoid}, {"silu", l_silu},         {"sin", l_sin},
    {"cos", l_cos},         {"neg", l_neg},         {"exp_", l_exp_},         {"log_", l_log_},
    {"sqrt_", l_sqrt_},     {"abs_", l_abs_},       {"tanh_", l_tanh_},       {"sigmoid_", l_sigmoid_},
    {"silu_", l_silu_},     {"sin_", l_sin_},       {"cos_", l_cos_},         {"neg_", l_neg_},
    {"sum", l_sum},         {"mean", l_mean},       {"max", l_max},           {"min", l_min},
    {"argmax", l_argmax},   {"argmin", l_argmin},   {"prod", l_prod},         {"any", l_any},
    {"all", l_all},         {"cumsum", l_cumsum},   {"cumprod", l_cumprod},   {"sort", l_sort},
    {"argsort", l_argsort}, {"topk", l_topk},       {"flip", l_flip},         {"roll", l_roll},
    {"index", l_index},     {"index_put", l_index_put}, {"masked_select", l_masked_select},
    {"masked_fill", l_masked_fill}, {"masked_fill_", l_masked_fill_},
    {"masked_scatter_", l_masked_scatter_}, {NULL, NULL}};

const luaL_Reg lt_ops_functions[] = {{"tensor_where", l_where}, {"tensor_cat", l_cat}, {NULL, NULL}};
