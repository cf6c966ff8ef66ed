/* LAPACK-backed linear algebra (Anderson et al., LAPACK Users' Guide, 3rd ed.):
 * inputs are copied into column-major double buffers, the Fortran routine runs,
 * results are copied back in row-major order and the input's dtype. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "moonlab/tensor.h"

typedef int lapack_int;
void dgesv_(lapack_int *n, lapack_int *nrhs, double *a, lapack_int *lda, lapack_int *ipiv, double *b, lapack_int *ldb,
            lapack_int *info);
void dpotrf_(const char *uplo, lapack_int *n, double *a, lapack_int *lda, lapack_int *info, size_t);
void dgetrf_(lapack_int *m, lapack_int *n, double *a, lapack_int *lda, lapack_int *ipiv, lapack_int *info);
void dsyevd_(const char *jobz, const char *uplo, lapack_int *n, double *a, lapack_int *lda, double *w, double *work,
             lapack_int *lwork, lapack_int *iwork, lapack_int *liwork, lapack_int *info, size_t, size_t);
void dgesdd_(const char *jobz, lapack_int *m, lapack_int *n, double *a, lapack_int *lda, double *s, double *u,
             lapack_int *ldu, double *vt, lapack_int *ldvt, double *work, lapack_int *lwork, lapack_int *iwork,
             lapack_int *info, size_t);
void dgelsd_(lapack_int *m, lapack_int *n, lapack_int *nrhs, double *a, lapack_int *lda, double *b, lapack_int *ldb,
             double *s, double *rcond, lapack_int *rank, double *work, lapack_int *lwork, lapack_int *iwork,
             lapack_int *info);

#define LA_MAX 46340 /* n*n must fit a LAPACK int */

/* Column-major double copy of the 2-D (or 1-D as a column) tensor t with ld rows (>= t's rows). */
static double *to_colmajor(const ml_tensor *t, int64_t ld, int64_t cols_alloc)
{
    int64_t r = t->shape[0], c = t->ndim == 2 ? t->shape[1] : 1;
    if (cols_alloc < c) cols_alloc = c;
    int64_t cells = ld * cols_alloc;
    double *m = calloc((size_t)(cells > 0 ? cells : 1), sizeof *m);
    if (!m) return NULL;
    size_t es = ml_dtype_size(t->dtype);
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < c; j++) {
            const char *p = (const char *)t->data + (i * t->strides[0] + (t->ndim == 2 ? j * t->strides[1] : 0)) * (int64_t)es;
            m[i + j * ld] = ml_load_d(t->dtype, p);
        }
    return m;
}

/* Writes the column-major m (ld rows) into the row-major 2-D (or 1-D) tensor out. */
static void from_colmajor(const double *m, int64_t ld, ml_tensor *out)
{
    int64_t r = out->shape[0], c = out->ndim == 2 ? out->shape[1] : 1;
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < c; j++) ml_tensor_setd(out, i * c + j, m[i + j * ld]);
}

static int check_square(const ml_tensor *a, const char *what)
{
    char s[96];
    if (a->ndim != 2 || a->shape[0] != a->shape[1])
        return ml_fail(ML_EINVAL, "%s: expected a square [n,n] matrix, got %s", what, ml_shape_str(a, s, sizeof s));
    if (a->shape[0] > LA_MAX) return ml_fail(ML_EINVAL, "%s: n = %lld is too large for LAPACK", what, (long long)a->shape[0]);
    if (!ml_dtype_is_float(a->dtype)) return ml_fail(ML_EINVAL, "%s: expected f32 or f64, got %s", what, ml_dtype_name(a->dtype));
    return ML_OK;
}

static int nomem(void) { return ml_fail(ML_ENOMEM, "out of memory in a LAPACK call"); }

/* malloc of n elements of size bytes, at least one (LAPACK wants valid pointers for empty arrays). */
static void *alloc_n(int64_t n, size_t size) { return malloc(size * (size_t)(n > 0 ? n : 1)); }

/* Checks a as check_square does and copies it column-major into *A (n x n). */
static int square_colmajor(const ml_tensor *a, const char *what, lapack_int *n, double **A)
{
    int rc = check_square(a, what);
    if (rc) return rc;
    *n = (lapack_int)a->shape[0];
    *A = to_colmajor(a, *n, *n);
    return *A ? ML_OK : nomem();
}

int ml_linalg_solve(const ml_tensor *a, const ml_tensor *b, ml_tensor *x)
{
    lapack_int n, k = b->ndim == 2 ? (lapack_int)b->shape[1] : 1, info = 0;
    double *A;
    int rc = square_colmajor(a, "solve", &n, &A);
    if (rc) return rc;
    double *B = to_colmajor(b, n, k);
    lapack_int *piv = alloc_n(n, sizeof *piv);
    if (!B || !piv) rc = nomem();
    else {
        dgesv_(&n, &k, A, &n, piv, B, &n, &info);
        if (info > 0) rc = ml_fail(ML_ENUMERIC, "the matrix is singular (U[%d,%d] = 0)", info, info);
        else from_colmajor(B, n, x);
    }
    free(A);
    free(B);
    free(piv);
    return rc;
}

int ml_linalg_inv(const ml_tensor *a, ml_tensor *out)
{
    int rc = check_square(a, "inv");
    if (rc) return rc;
    ml_tensor eye = {0};
    if ((rc = ml_tensor_init0(&eye, ML_F64, 2, a->shape))) return rc;
    for (int64_t i = 0; i < a->shape[0]; i++) ml_f64(&eye)[i * a->shape[0] + i] = 1;
    rc = ml_linalg_solve(a, &eye, out);
    ml_tensor_release(&eye);
    return rc;
}

int ml_linalg_cholesky(const ml_tensor *a, ml_tensor *l)
{
    lapack_int n, info = 0;
    double *A;
    int rc = square_colmajor(a, "cholesky", &n, &A);
    if (rc) return rc;
    dpotrf_("L", &n, A, &n, &info, 1);
    if (info > 0) rc = ml_fail(ML_ENUMERIC, "the matrix is not positive definite (leading minor %d)", info);
    else {
        for (lapack_int j = 0; j < n; j++)
            for (lapack_int i = 0; i < j; i++) A[i + (int64_t)j * n] = 0;
        from_colmajor(A, n, l);
    }
    free(A);
    return rc;
}

int ml_linalg_det(const ml_tensor *a, double *det)
{
    lapack_int n, info = 0;
    double *A;
    int rc = square_colmajor(a, "det", &n, &A);
    if (rc) return rc;
    lapack_int *piv = alloc_n(n, sizeof *piv);
    if (!piv) rc = nomem();
    else {
        dgetrf_(&n, &n, A, &n, piv, &info);
        double d = 1;
        for (lapack_int i = 0; i < n; i++) {
            d *= A[i + (int64_t)i * n];
            if (piv[i] != i + 1) d = -d;
        }
        *det = info > 0 ? 0.0 : d;
    }
    free(A);
    free(piv);
    return rc;
}

int ml_linalg_eigh(const ml_tensor *a, ml_tensor *w, ml_tensor *v)
{
    lapack_int n, info = 0, lwork = -1, liwork = -1, iq;
    double *A, q;
    int rc = square_colmajor(a, "eigh", &n, &A);
    if (rc) return rc;
    double *W = alloc_n(n, sizeof *W);
    if (!W) {
        free(A);
        free(W);
        return nomem();
    }
    dsyevd_("V", "L", &n, A, &n, W, &q, &lwork, &iq, &liwork, &info, 1, 1);
    lwork = (lapack_int)q;
    liwork = iq;
    double *work = alloc_n(lwork, sizeof *work);
    lapack_int *iwork = alloc_n(liwork, sizeof *iwork);
    if (!work || !iwork) rc = nomem();
    else {
        dsyevd_("V", "L", &n, A, &n, W, work, &lwork, iwork, &liwork, &info, 1, 1);
        if (info != 0) rc = ml_fail(ML_ENUMERIC, "the eigensolver did not converge (info %d)", info);
        else {
            for (lapack_int i = 0; i < n; i++) ml_tensor_setd(w, i, W[i]);
            from_colmajor(A, n, v);
        }
    }
    free(A);
    free(W);
    free(work);
    free(iwork);
    return rc;
}

int ml_linalg_svd(const ml_tensor *a, int full, ml_tensor *u, ml_tensor *s, ml_tensor *vt)
{
    char sh[96];
    if (a->ndim != 2 || !ml_dtype_is_float(a->dtype))
        return ml_fail(ML_EINVAL, "expected an f32/f64 [m,n] matrix, got %s %s", ml_dtype_name(a->dtype), ml_shape_str(a, sh, sizeof sh));
    if (a->shape[0] > LA_MAX || a->shape[1] > LA_MAX) return ml_fail(ML_EINVAL, "matrix too large for LAPACK");
    lapack_int m = (lapack_int)a->shape[0], n = (lapack_int)a->shape[1], k = m < n ? m : n, info = 0, lwork = -1;
    lapack_int ucols = full ? m : k, vrows = full ? n : k;
    const char *job = full ? "A" : "S";
    double *A = to_colmajor(a, m, n), *S = alloc_n(k, sizeof *S);
    double *U = alloc_n((int64_t)m * ucols, sizeof *U), *VT = alloc_n((int64_t)vrows * n, sizeof *VT);
    lapack_int *iwork = malloc(sizeof *iwork * (size_t)(8 * (k ? k : 1)));
    double q, *work = NULL;
    int rc = ML_OK;
    if (!A || !S || !U || !VT || !iwork) rc = nomem();
    else {
        lapack_int ldu = m > 0 ? m : 1, ldvt = vrows > 0 ? vrows : 1, lda = m > 0 ? m : 1;
        dgesdd_(job, &m, &n, A, &lda, S, U, &ldu, VT, &ldvt, &q, &lwork, iwork, &info, 1);
        lwork = (lapack_int)q;
        work = alloc_n(lwork, sizeof *work);
        if (!work) rc = nomem();
        else {
            dgesdd_(job, &m, &n, A, &lda, S, U, &ldu, VT, &ldvt, work, &lwork, iwork, &info, 1);
            if (info != 0) rc = ml_fail(ML_ENUMERIC, "did not converge (info %d)", info);
            else {
                for (lapack_int i = 0; i < k; i++) ml_tensor_setd(s, i, S[i]);
                from_colmajor(U, m, u);
                from_colmajor(VT, vrows, vt);
            }
        }
    }
    free(A);
    free(S);
    free(U);
    free(VT);
    free(iwork);
    free(work);
    return rc;
}

int ml_linalg_lstsq(const ml_tensor *a, const ml_tensor *b, double rcond, ml_tensor *x, int64_t *rank, ml_tensor *sv)
{
    char sh[96];
    if (a->ndim != 2 || !ml_dtype_is_float(a->dtype))
        return ml_fail(ML_EINVAL, "expected an f32/f64 [m,n] matrix, got %s", ml_shape_str(a, sh, sizeof sh));
    if (a->shape[0] > LA_MAX || a->shape[1] > LA_MAX) return ml_fail(ML_EINVAL, "matrix too large for LAPACK");
    lapack_int m = (lapack_int)a->shape[0], n = (lapack_int)a->shape[1], k = b->ndim == 2 ? (lapack_int)b->shape[1] : 1;
    lapack_int ldb = m > n ? m : n, mn = m < n ? m : n, info = 0, lwork = -1, r = 0, iq = 0;
    double *A = to_colmajor(a, m, n), *B = to_colmajor(b, ldb, k), *S = alloc_n(mn, sizeof *S), q;
    int rc = ML_OK;
    double *work = NULL;
    lapack_int *iwork = NULL;
    if (!A || !B || !S) rc = nomem();
    else {
        lapack_int lda = m > 0 ? m : 1;
        dgelsd_(&m, &n, &k, A, &lda, B, &ldb, S, &rcond, &r, &q, &lwork, &iq, &info);
        lwork = (lapack_int)q;
        work = alloc_n(lwork, sizeof *work);
        iwork = alloc_n(iq, sizeof *iwork);
        if (!work || !iwork) rc = nomem();
        else {
            dgelsd_(&m, &n, &k, A, &lda, B, &ldb, S, &rcond, &r, work, &lwork, iwork, &info);
            if (info != 0) rc = ml_fail(ML_ENUMERIC, "the SVD did not converge (info %d)", info);
            else {
                from_colmajor(B, ldb, x);
                if (rank) *rank = r;
                if (sv)
                    for (lapack_int i = 0; i < mn; i++) ml_tensor_setd(sv, i, S[i]);
            }
        }
    }
    free(A);
    free(B);
    free(S);
    free(work);
    free(iwork);
    return rc;
}
