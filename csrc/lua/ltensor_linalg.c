/* Tensor binding: matmul (1-D, 2-D and batched, through BLAS) and T.linalg
 * (solve, cholesky, inv, det, eigh, svd, lstsq through LAPACK). */
#include <string.h>
#include "ltensor.h"

/* A float operand pair: both converted to their promoted float dtype. */
static ml_dtype float_pair(lua_State *L, ml_tensor *a, ml_tensor *b, const char *fname)
{
    ml_dtype dt = b ? ml_dtype_promote(a->dtype, b->dtype) : a->dtype;
    if (!ml_dtype_is_float(dt))
        mlL_error(L, "%s: expected f32 or f64 tensors, got %s%s%s (use astype)", fname, ml_dtype_name(a->dtype),
                  b ? " and " : "", b ? ml_dtype_name(b->dtype) : "");
    return dt;
}

/* matmul(a, b): [M,K]x[K,N], [K]x[K,N], [M,K]x[K], [K]x[K] (a scalar), [B,M,K]x[B,K,N] and [B,M,K]x[K,N]. */
static int l_matmul(lua_State *L)
{
    const char *fn = "tensor:matmul";
    ml_tensor *a = LT_SELF(fn), *b = lt_check(L, 2, fn, "other");
    lua_settop(L, 2);
    char sa[96], sb[96];
    ml_dtype dt = float_pair(L, a, b, fn);
    int na = a->ndim, nb = b->ndim;
    int ok = na >= 1 && nb >= 1 && na <= 3 && nb <= 3 && !(nb == 3 && na != 3);
    int64_t K = ok ? a->shape[na - 1] : 0, Kb = ok ? (nb == 1 ? b->shape[0] : b->shape[nb - 2]) : -1;
    if (!ok || K != Kb || (na == 3 && nb == 3 && a->shape[0] != b->shape[0]))
        return mlL_argerror(L, 2, fn, "other", "expected [M,K]x[K,N] or [B,M,K]x[B,K,N] (or a 1-D side), got %s x %s",
                            ml_shape_str(a, sa, sizeof sa), ml_shape_str(b, sb, sizeof sb));
    ml_tensor *ca = lt_contig(L, lt_as(L, a, dt, fn), fn), *cb = lt_contig(L, lt_as(L, b, dt, fn), fn);
    /* as 2-D/3-D operands: a 1-D a is a row [1,K], a 1-D b a column [K,1]; [B,M,K]x[K,N] folds B into M */
    int64_t B = na == 3 ? a->shape[0] : 1, M = na == 1 ? 1 : a->shape[na - 2], N = nb == 1 ? 1 : b->shape[nb - 1];
    ml_tensor va = {0}, vb = {0}, vo = {0};
    int64_t sha[3], shb[3], sho[3];
    int batched = na == 3 && nb == 3;
    if (batched) {
        sha[0] = B, sha[1] = M, sha[2] = K;
        shb[0] = B, shb[1] = K, shb[2] = N;
    } else {
        sha[0] = B * M, sha[1] = K;
        shb[0] = K, shb[1] = N;
    }
    int64_t rshape[3];
    int rnd = 0;
    if (na == 3) rshape[rnd++] = B;
    if (na >= 2) rshape[rnd++] = M;
    if (nb >= 2) rshape[rnd++] = N;
    ml_tensor *o = lt_newout(L, fn, dt, rnd, rshape);
    sho[0] = batched ? B : B * M;
    sho[1] = batched ? M : N;
    sho[2] = N;
    ml_tensor_view(&va, ca, batched ? 3 : 2, sha);
    ml_tensor_view(&vb, cb, batched ? 3 : 2, shb);
    ml_tensor_view(&vo, o, batched ? 3 : 2, sho);
    int rc = ml_tensor_matmul(&va, &vb, &vo);
    ml_tensor_release(&va);
    ml_tensor_release(&vb);
    ml_tensor_release(&vo);
    if (rc) return mlL_raise(L, fn);
    if (rnd == 0) {
        lt_pushelem(L, dt, o->data);
        return 1;
    }
    return 1;
}

/* A float 2-D (or, for right-hand sides, 1-D) argument. */
static ml_tensor *matrix_arg(lua_State *L, int idx, const char *fn, const char *name, int allow1)
{
    ml_tensor *t = lt_check(L, idx, fn, name);
    char s[96];
    if (!ml_dtype_is_float(t->dtype))
        mlL_argerror(L, idx, fn, name, "expected f32 or f64, got %s (use astype)", ml_dtype_name(t->dtype));
    if (t->ndim != 2 && !(allow1 && t->ndim == 1))
        mlL_argerror(L, idx, fn, name, "expected a %s matrix, got %s", allow1 ? "[n] or [n,k]" : "[m,n]", ml_shape_str(t, s, sizeof s));
    return t;
}

static ml_tensor *square_arg(lua_State *L, int idx, const char *fn)
{
    ml_tensor *t = matrix_arg(L, idx, fn, "A", 0);
    char s[96];
    if (t->shape[0] != t->shape[1]) mlL_argerror(L, idx, fn, "A", "expected a square [n,n] matrix, got %s", ml_shape_str(t, s, sizeof s));
    if (t->numel == 0) mlL_argerror(L, idx, fn, "A", "expected a non-empty matrix");
    return t;
}

static int l_solve(lua_State *L)
{
    const char *fn = "tensor.linalg.solve";
    ml_tensor *a = square_arg(L, 1, fn), *b = matrix_arg(L, 2, fn, "b", 1);
    char s1[96], s2[96];
    if (b->shape[0] != a->shape[0])
        return mlL_argerror(L, 2, fn, "b", "has %lld rows, A is %s", (long long)b->shape[0], ml_shape_str(a, s1, sizeof s1));
    (void)s2;
    ml_tensor *x = lt_newout(L, fn, ml_dtype_promote(a->dtype, b->dtype), b->ndim, b->shape);
    if (ml_linalg_solve(a, b, x)) return mlL_raise(L, fn);
    return 1;
}

/* fn(A) -> the [n,n] matrix of A's dtype that f writes from the square A at 1. */
static int square_to_square(lua_State *L, const char *fn, int (*f)(const ml_tensor *, ml_tensor *))
{
    ml_tensor *a = square_arg(L, 1, fn);
    ml_tensor *o = lt_newout(L, fn, a->dtype, 2, a->shape);
    if (f(a, o)) return mlL_raise(L, fn);
    return 1;
}

static int l_cholesky(lua_State *L) { return square_to_square(L, "tensor.linalg.cholesky", ml_linalg_cholesky); }
static int l_inv(lua_State *L) { return square_to_square(L, "tensor.linalg.inv", ml_linalg_inv); }

static int l_det(lua_State *L)
{
    const char *fn = "tensor.linalg.det";
    ml_tensor *a = square_arg(L, 1, fn);
    double d;
    if (ml_linalg_det(a, &d)) return mlL_raise(L, fn);
    lua_pushnumber(L, d);
    return 1;
}

static int l_eigh(lua_State *L)
{
    const char *fn = "tensor.linalg.eigh";
    ml_tensor *a = square_arg(L, 1, fn);
    ml_tensor *w = lt_newout(L, fn, a->dtype, 1, a->shape);
    ml_tensor *v = lt_newout(L, fn, a->dtype, 2, a->shape);
    if (ml_linalg_eigh(a, w, v)) return mlL_raise(L, fn);
    return 2;
}

/* svd(A, {full_matrices = false}) -> U, S, Vt */
static int l_svd(lua_State *L)
{
    const char *fn = "tensor.linalg.svd";
    ml_tensor *a = matrix_arg(L, 1, fn, "A", 0);
    int full = 0;
    mlL_opts(L, 2, fn, (mlL_opt[]){{"full_matrices", MLL_BOOL, &full, NULL}, {0}});
    if (a->numel == 0) return mlL_argerror(L, 1, fn, "A", "expected a non-empty matrix");
    int64_t m = a->shape[0], n = a->shape[1], k = m < n ? m : n;
    int64_t su[2] = {m, full ? m : k}, ss[1] = {k}, sv[2] = {full ? n : k, n};
    ml_tensor *u = lt_newout(L, fn, a->dtype, 2, su);
    ml_tensor *s = lt_newout(L, fn, a->dtype, 1, ss);
    ml_tensor *vt = lt_newout(L, fn, a->dtype, 2, sv);
    if (ml_linalg_svd(a, full, u, s, vt)) return mlL_raise(L, fn);
    return 3;
}

/* lstsq(A, b, {rcond = -1}) -> x, rank, singular values */
static int l_lstsq(lua_State *L)
{
    const char *fn = "tensor.linalg.lstsq";
    ml_tensor *a = matrix_arg(L, 1, fn, "A", 0), *b = matrix_arg(L, 2, fn, "b", 1);
    double rcond = -1;
    mlL_opts(L, 3, fn, (mlL_opt[]){{"rcond", MLL_NUMBER, &rcond, NULL}, {0}});
    char s1[96];
    if (a->numel == 0) return mlL_argerror(L, 1, fn, "A", "expected a non-empty matrix");
    if (b->shape[0] != a->shape[0])
        return mlL_argerror(L, 2, fn, "b", "has %lld rows, A is %s", (long long)b->shape[0], ml_shape_str(a, s1, sizeof s1));
    int64_t xs[2] = {a->shape[1], b->ndim == 2 ? b->shape[1] : 1};
    int64_t k = a->shape[0] < a->shape[1] ? a->shape[0] : a->shape[1];
    ml_dtype dt = ml_dtype_promote(a->dtype, b->dtype);
    ml_tensor *x = lt_newout(L, fn, dt, b->ndim, xs);
    ml_tensor *sv = lt_newout(L, fn, dt, 1, &k);
    int64_t rank = 0;
    if (ml_linalg_lstsq(a, b, rcond, x, &rank, sv)) return mlL_raise(L, fn);
    lua_pushvalue(L, -2);
    lua_pushinteger(L, rank);
    lua_pushvalue(L, -3);
    return 3;
}

const luaL_Reg lt_linalg_methods[] = {{"matmul", l_matmul}, {NULL, NULL}};

const luaL_Reg lt_linalg_functions[] = {{"tensor_linalg_solve", l_solve}, {"tensor_linalg_cholesky", l_cholesky},
                                        {"tensor_linalg_inv", l_inv},     {"tensor_linalg_det", l_det},
                                        {"tensor_linalg_eigh", l_eigh},   {"tensor_linalg_svd", l_svd},
                                        {"tensor_linalg_lstsq", l_lstsq}, {NULL, NULL}};
