/* Tensor binding: strided views, indexing syntax (t[i], t[{...}], t[mask]) and
 * assignment through views. Dims and indices are 1-based; negative ones count
 * from the end (-1 is the last). */
#include <string.h>
#include "ltensor.h"

/* A 1-based index (negative from the end) into a dim of size n; 0-based result. */
static int64_t norm_index(lua_State *L, lua_Integer i, int64_t n, const char *fname, int arg, int dim)
{
    lua_Integer j = i < 0 ? i + n : i - 1;
    if (i == 0 || j < 0 || j >= n)
        mlL_argerror(L, arg, fname, "index", "index %lld out of range 1..%lld (or -%lld..-1) for dim %d", (long long)i,
                     (long long)n, (long long)n, dim + 1);
    return j;
}

static int l_select(lua_State *L)
{
    const char *fn = "tensor:select";
    ml_tensor *t = LT_SELF(fn), v;
    if (t->ndim == 0) return mlL_argerror(L, 1, fn, "self", "cannot select from a 0-dim tensor");
    int d = lt_checkdim(L, 2, t->ndim, fn, 0);
    int64_t i = norm_index(L, lt_checkint(L, 3, fn, "index"), t->shape[d], fn, 3, d);
    lt_pushview_rc(L, ml_tensor_select(&v, t, d, i), &v, fn);
    return 1;
}

static int l_narrow(lua_State *L)
{
    const char *fn = "tensor:narrow";
    ml_tensor *t = LT_SELF(fn), v;
    int d = lt_checkdim(L, 2, t->ndim, fn, 0);
    lua_Integer s = lt_checkint(L, 3, fn, "start"), len = lt_checkint(L, 4, fn, "length");
    int64_t s0 = norm_index(L, s, t->shape[d], fn, 3, d);
    if (len < 0 || len > t->shape[d] - s0)
        return mlL_argerror(L, 4, fn, "length", "%lld elements from %lld do not fit dim %d of size %lld", (long long)len,
                            (long long)s, d + 1, (long long)t->shape[d]);
    lt_pushview_rc(L, ml_tensor_narrow(&v, t, d, s0, len), &v, fn);
    return 1;
}

/* Resolves a 1-based inclusive range [a, b] (negatives from the end) of a dim of size n into [start, stop). */
static void range(lua_State *L, lua_Integer a, lua_Integer b, int64_t n, const char *fname, int arg, int dim,
                  int64_t *start, int64_t *stop)
{
    lua_Integer s = a < 0 ? a + n + 1 : a, e = b < 0 ? b + n + 1 : b;
    if (a == 0 || b == 0 || s < 1 || s > n + 1 || e < s - 1 || e > n)
        mlL_argerror(L, arg, fname, "index", "range %lld..%lld out of 1..%lld for dim %d", (long long)a, (long long)b,
                     (long long)n, dim + 1);
    *start = s - 1;
    *stop = e;
}

/* slice(dim, start, stop, [step]): elements start..stop (inclusive, 1-based) every step. */
static int l_slice(lua_State *L)
{
    const char *fn = "tensor:slice";
    ml_tensor *t = LT_SELF(fn), v;
    int d = lt_checkdim(L, 2, t->ndim, fn, 0);
    lua_Integer a = lua_isnoneornil(L, 3) ? 1 : lt_checkint(L, 3, fn, "start");
    lua_Integer b = lua_isnoneornil(L, 4) ? -1 : lt_checkint(L, 4, fn, "stop");
    lua_Integer step = lua_isnoneornil(L, 5) ? 1 : lt_checkint(L, 5, fn, "step");
    if (step <= 0) return mlL_argerror(L, 5, fn, "step", "expected a positive step (use flip to reverse), got %lld", (long long)step);
    int64_t s0, s1;
    range(L, a, b, t->shape[d], fn, 3, d, &s0, &s1);
    lt_pushview_rc(L, ml_tensor_slice(&v, t, d, s0, s1, step), &v, fn);
    return 1;
}

static int l_transpose(lua_State *L)
{
    const char *fn = "tensor:transpose";
    ml_tensor *t = LT_SELF(fn), v;
    if (t->ndim < 2 && lua_isnoneornil(L, 2))
        return mlL_argerror(L, 1, fn, "self", "needs at least 2 dims, got %d", t->ndim);
    int d1 = lua_isnoneornil(L, 2) ? t->ndim - 2 : lt_checkdim(L, 2, t->ndim, fn, 0);
    int d2 = lua_isnoneornil(L, 3) ? t->ndim - 1 : lt_checkdim(L, 3, t->ndim, fn, 0);
    lt_pushview_rc(L, ml_tensor_transpose_view(&v, t, d1, d2), &v, fn);
    return 1;
}

/* t:t() — the transpose of a 2-D tensor (Torch's t()). */
static int l_t(lua_State *L)
{
    ml_tensor *t = LT_SELF("tensor:t"), v;
    if (t->ndim != 2) return mlL_argerror(L, 1, "tensor:t", "self", "expected a 2-D tensor, got %d dims", t->ndim);
    lt_pushview_rc(L, ml_tensor_transpose_view(&v, t, 0, 1), &v, "tensor:t");
    return 1;
}

static int l_permute(lua_State *L)
{
    const char *fn = "tensor:permute";
    ml_tensor *t = LT_SELF(fn), v;
    int perm[ML_MAXDIM], table = lua_istable(L, 2);
    int n = table ? (int)luaL_len(L, 2) : lua_gettop(L) - 1;
    if (n != t->ndim)
        return mlL_argerror(L, 2, fn, "dims", "expected %d dims (a permutation of 1..%d), got %d", t->ndim, t->ndim, n);
    for (int i = 0; i < n; i++) {
        if (table) lua_geti(L, 2, i + 1);
        perm[i] = lt_checkdim(L, table ? -1 : i + 2, t->ndim, fn, 0);
        if (table) lua_pop(L, 1);
    }
    lt_pushview_rc(L, ml_tensor_permute(&v, t, perm), &v, fn);
    return 1;
}

static int l_unsqueeze(lua_State *L)
{
    const char *fn = "tensor:unsqueeze";
    ml_tensor *t = LT_SELF(fn), v;
    int d = lt_checkdim(L, 2, t->ndim, fn, 1);
    lt_pushview_rc(L, ml_tensor_unsqueeze(&v, t, d), &v, fn);
    return 1;
}

static int l_squeeze(lua_State *L)
{
    const char *fn = "tensor:squeeze";
    ml_tensor *t = LT_SELF(fn), v;
    int d = lua_isnoneornil(L, 2) ? -1 : lt_checkdim(L, 2, t->ndim, fn, 0);
    if (d >= 0 && t->shape[d] != 1)
        return mlL_argerror(L, 2, fn, "dim", "dim %d has size %lld, not 1", d + 1, (long long)t->shape[d]);
    lt_pushview_rc(L, ml_tensor_squeeze(&v, t, d), &v, fn);
    return 1;
}

/* Pushes the view v when rc is ML_OK, else raises fn's 'shape' error naming t's shape. */
static int push_shaped(lua_State *L, int rc, const char *fn, const ml_tensor *t, ml_tensor *v)
{
    char s1[96];
    if (rc) return mlL_argerror(L, 2, fn, "shape", "%s (tensor is %s)", ml_errmsg(), ml_shape_str(t, s1, sizeof s1));
    lt_pushview(L, v);
    return 1;
}

/* expand(shape): -1 keeps a size. */
static int l_expand(lua_State *L)
{
    const char *fn = "tensor:expand";
    ml_tensor *t = LT_SELF(fn), v;
    int64_t shape[ML_MAXDIM];
    int table = lua_istable(L, 2);
    int n = table ? (int)luaL_len(L, 2) : lua_gettop(L) - 1;
    if (n < t->ndim || n > ML_MAXDIM)
        return mlL_argerror(L, 2, fn, "shape", "expected %d..%d sizes, got %d", t->ndim, ML_MAXDIM, n);
    for (int i = 0; i < n; i++) {
        if (table) lua_geti(L, 2, i + 1);
        lua_Integer s = lt_checkint(L, table ? -1 : i + 2, fn, "shape");
        if (table) lua_pop(L, 1);
        int sd = i - (n - t->ndim);
        shape[i] = s == -1 && sd >= 0 ? t->shape[sd] : s;
    }
    return push_shaped(L, ml_tensor_expand(&v, t, n, shape), fn, t, &v);
}

static int l_view(lua_State *L)
{
    const char *fn = "tensor:view";
    ml_tensor *t = LT_SELF(fn), v;
    int64_t shape[ML_MAXDIM];
    int n = lt_checkshape(L, 2, fn, "shape", shape, t->numel);
    return push_shaped(L, ml_tensor_view(&v, t, n, shape), fn, t, &v);
}

/* reshape: a view when the strides allow it, else a contiguous copy with the new shape. */
static int l_reshape(lua_State *L)
{
    const char *fn = "tensor:reshape";
    ml_tensor *t = LT_SELF(fn), v;
    int64_t shape[ML_MAXDIM];
    int n = lt_checkshape(L, 2, fn, "shape", shape, t->numel);
    char s1[96];
    int64_t numel;
    ml_shape_numel0(n, shape, &numel);
    if (numel != t->numel)
        return mlL_argerror(L, 2, fn, "shape", "cannot view %lld elements as a shape of %lld elements (tensor is %s)",
                            (long long)t->numel, (long long)numel, ml_shape_str(t, s1, sizeof s1));
    if (ml_tensor_view(&v, t, n, shape) == ML_OK) {
        lt_pushview(L, &v);
        return 1;
    }
    ml_tensor *c = lt_contig(L, t, fn);
    if (ml_tensor_view(&v, c, n, shape)) return mlL_raise(L, fn);
    lt_pushview(L, &v);
    return 1;
}

static int l_flatten(lua_State *L)
{
    ml_tensor *t = LT_SELF("tensor:flatten");
    lua_settop(L, 1);
    lua_pushinteger(L, t->numel);
    return l_reshape(L);
}

/* ---- t[...] ---- */

/* Applies one index-table entry at stack idx to *v along dim *d (view updated in place). */
static void apply_entry(lua_State *L, ml_tensor *v, int *d, int idx, int k, const char *fn)
{
    ml_tensor w = {0};
    if (*d >= v->ndim)
        mlL_error(L, "%s: bad argument #2 'index': entry %d indexes dim %d of a %d-dim tensor", fn, k, *d + 1, v->ndim);
    if (lua_type(L, idx) == LUA_TNUMBER) {
        int64_t i = norm_index(L, lt_checkint(L, idx, fn, "index"), v->shape[*d], fn, 2, *d);
        ml_tensor_select(&w, v, *d, i);
    } else if (lua_istable(L, idx)) {
        int n = (int)luaL_len(L, idx);
        lua_Integer a = 1, b = -1, step = 1;
        if (n > 3) mlL_error(L, "%s: bad argument #2 'index': entry %d: a range is {}, {i}, {a, b} or {a, b, step}", fn, k);
        if (n >= 1) {
            lua_geti(L, idx, 1);
            a = b = lt_checkint(L, -1, fn, "index");
            lua_pop(L, 1);
        }
        if (n >= 2) {
            lua_geti(L, idx, 2);
            b = lt_checkint(L, -1, fn, "index");
            lua_pop(L, 1);
        }
        if (n == 3) {
            lua_geti(L, idx, 3);
            step = lt_checkint(L, -1, fn, "index");
            lua_pop(L, 1);
            if (step <= 0) mlL_error(L, "%s: bad argument #2 'index': entry %d: step %lld must be positive", fn, k, (long long)step);
        }
        int64_t s0, s1;
        range(L, a, b, v->shape[*d], fn, 2, *d, &s0, &s1);
        ml_tensor_slice(&w, v, *d, s0, s1, step);
        (*d)++;
    } else {
        mlL_error(L, "%s: bad argument #2 'index': entry %d is a %s, expected an index or a range table", fn, k,
                  luaL_typename(L, idx));
        return;
    }
    ml_tensor_release(v);
    *v = w;
}

/* Narrows the holder h (a tensor userdata on the stack, released by __gc on
 * error) to h[key] for a number or a table key. */
static void index_view(lua_State *L, ml_tensor *h, int key, const char *fn)
{
    int d = 0;
    if (lua_type(L, key) == LUA_TNUMBER) {
        if (h->ndim == 0) mlL_error(L, "%s: cannot index a 0-dim tensor", fn);
        apply_entry(L, h, &d, key, 1, fn);
        return;
    }
    int n = (int)luaL_len(L, key);
    if (n > h->ndim) mlL_error(L, "%s: bad argument #2 'index': the index has %d entries for a %d-dim tensor", fn, n, h->ndim);
    for (int k = 1; k <= n; k++) {
        lua_geti(L, key, k);
        apply_entry(L, h, &d, lua_gettop(L), k, fn);
        lua_pop(L, 1);
    }
}

/* Pushes a new tensor userdata sharing t (the view under construction). */
static ml_tensor *holder(lua_State *L, ml_tensor *t)
{
    ml_tensor *h = lua_newuserdatauv(L, sizeof *h, 1);
    memset(h, 0, sizeof *h);
    luaL_setmetatable(L, MLL_TENSOR_MT);
    ml_tensor_share(h, t);
    return h;
}

int lt_index(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TSTRING) {
        lua_pushvalue(L, 2);
        lua_rawget(L, lua_upvalueindex(1));
        return 1;
    }
    const char *fn = "tensor.__index";
    ml_tensor *t = lt_check(L, 1, fn, "self");
    ml_tensor *k = lt_test(L, 2);
    if (k) { /* t[mask] is masked_select, t[idx] is index(1, idx) */
        lua_getfield(L, lua_upvalueindex(1), k->dtype == ML_BOOL ? "masked_select" : "index");
        lua_pushvalue(L, 1);
        if (k->dtype != ML_BOOL) lua_pushinteger(L, 1);
        lua_pushvalue(L, 2);
        lua_call(L, k->dtype == ML_BOOL ? 2 : 3, 1);
        return 1;
    }
    if (lua_type(L, 2) != LUA_TNUMBER && !lua_istable(L, 2))
        return mlL_argerror(L, 2, fn, "index", "expected a number, a table of ranges or a tensor, got %s",
                            luaL_typename(L, 2));
    ml_tensor *h = holder(L, t);
    index_view(L, h, 2, fn);
    if (h->ndim == 0) lt_pushelem(L, h->dtype, h->data);
    return 1;
}

/* Writes the value at idx (number, boolean or a tensor broadcast to dst's shape) into dst. */
static void assign(lua_State *L, ml_tensor *dst, int idx, const char *fn)
{
    ml_tensor *src = lt_test(L, idx);
    if (!src) {
        lt_fillvalue(L, fn, dst, idx);
        return;
    }
    if (!src->data) mlL_error(L, "%s: the value tensor was closed", fn);
    ml_tensor e = {0};
    char s1[96], s2[96];
    if (ml_tensor_expand(&e, src, dst->ndim, dst->shape))
        mlL_error(L, "%s: value of shape %s does not broadcast to the indexed shape %s", fn, ml_shape_str(src, s1, sizeof s1),
                  ml_shape_str(dst, s2, sizeof s2));
    if (src->storage && src->storage == dst->storage) { /* overlapping: copy the source first */
        ml_tensor c = {0};
        if (ml_tensor_init0(&c, src->dtype, e.ndim, e.shape) || ml_tensor_copy(&c, &e)) {
            ml_tensor_release(&e);
            mlL_raise(L, fn);
        }
        ml_tensor_release(&e);
        e = c;
    }
    int rc = ml_tensor_copy(dst, &e);
    ml_tensor_release(&e);
    if (rc) mlL_raise(L, fn);
}

int lt_newindex(lua_State *L)
{
    const char *fn = "tensor.__newindex";
    ml_tensor *t = lt_check(L, 1, fn, "self");
    ml_tensor *k = lt_test(L, 2);
    if (k) { /* t[mask] = v is masked_scatter_, t[idx] = v is index_put(1, idx, v) */
        lua_getfield(L, 1, k->dtype == ML_BOOL ? "masked_scatter_" : "index_put");
        lua_pushvalue(L, 1);
        if (k->dtype != ML_BOOL) lua_pushinteger(L, 1);
        lua_pushvalue(L, 2);
        lua_pushvalue(L, 3);
        lua_call(L, k->dtype == ML_BOOL ? 3 : 4, 0);
        return 0;
    }
    if (lua_type(L, 2) != LUA_TNUMBER && !lua_istable(L, 2))
        return mlL_argerror(L, 2, fn, "index", "expected a number, a table of ranges or a tensor, got %s",
                            luaL_typename(L, 2));
    ml_tensor *h = holder(L, t);
    index_view(L, h, 2, fn);
    assign(L, h, 3, fn);
    return 0;
}

/* copy_(src): writes src (broadcast, converted) into self; returns self. */
static int l_copy_(lua_State *L)
{
    ml_tensor *t = LT_SELF("tensor:copy_");
    lt_check(L, 2, "tensor:copy_", "src");
    assign(L, t, 2, "tensor:copy_");
    lua_settop(L, 1);
    return 1;
}

/* diagonal([d1 = 1], [d2 = 2]): the diagonal as a view (last dim). */
static int l_diagonal(lua_State *L)
{
    const char *fn = "tensor:diagonal";
    ml_tensor *t = LT_SELF(fn), v;
    if (t->ndim < 2) return mlL_argerror(L, 1, fn, "self", "needs at least 2 dims, got %d", t->ndim);
    int d1 = lua_isnoneornil(L, 2) ? 0 : lt_checkdim(L, 2, t->ndim, fn, 0);
    int d2 = lua_isnoneornil(L, 3) ? 1 : lt_checkdim(L, 3, t->ndim, fn, 0);
    lt_pushview_rc(L, ml_tensor_diagonal(&v, t, d1, d2), &v, fn);
    return 1;
}

const luaL_Reg lt_view_methods[] = {
    {"diagonal", l_diagonal},
    {"select", l_select},       {"narrow", l_narrow},   {"slice", l_slice},     {"transpose", l_transpose},
    {"t", l_t},                 {"permute", l_permute}, {"unsqueeze", l_unsqueeze}, {"squeeze", l_squeeze},
    {"expand", l_expand},       {"view", l_view},       {"reshape", l_reshape}, {"flatten", l_flatten},
    {"copy_", l_copy_},         {NULL, NULL}};

const luaL_Reg lt_view_functions[] = {{NULL, NULL}};
