/* Finite-difference Hessian and its spectrum (to verify first-order saddles), optionally with
 * the rigid-body modes of a free cluster projected out. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gp_internal.h"

int ml_gp_hessian(ml_gp_potential *p, const double *x, double h, int rigid, double *H,
                  double *evals, double *vecs, int *nev)
{
    int D = p->dim, rc = ML_OK;
    if (!(h > 0) || !isfinite(h)) return ml_fail(ML_EINVAL, "step h must be > 0, got %g", h);
    if (rigid && !p->natoms) return ml_fail(ML_EINVAL, "rigid projection needs an atoms potential");
    double *xp = malloc((size_t)D * sizeof *xp), *gp = malloc((size_t)D * sizeof *gp),
           *gm = malloc((size_t)D * sizeof *gm), *A = malloc((size_t)D * D * sizeof *A),
           *basis = malloc((size_t)(6 * D + 1) * sizeof *basis), *w = NULL;
    if (!xp || !gp || !gm || !A || !basis) { rc = ml_fail(ML_ENOMEM, "gp.hessian: out of memory"); goto done; }
    memcpy(xp, x, (size_t)D * sizeof *xp);
    for (int i = 0; i < D; i++) {
        double E;
        xp[i] = x[i] + h;
        if ((rc = ml_gp_pot_eval(p, xp, &E, gp))) goto done;
        xp[i] = x[i] - h;
        if ((rc = ml_gp_pot_eval(p, xp, &E, gm))) goto done;
        xp[i] = x[i];
        for (int j = 0; j < D; j++) H[i * D + j] = (gp[j] - gm[j]) / (2 * h);
    }
    for (int i = 0; i < D; i++)
        for (int j = 0; j < i; j++) H[i * D + j] = H[j * D + i] = 0.5 * (H[i * D + j] + H[j * D + i]);
    memcpy(A, H, (size_t)D * D * sizeof *A);
    int nr = 0;
    if (rigid) {
        if ((rc = ml_gp_rigid_basis(p->natoms, p->adim, x, basis, &nr))) goto done;
        /* A = P H P with P = I - B^T B (column by column, then rows) */
        for (int j = 0; j < D; j++) {
            for (int i = 0; i < D; i++) xp[i] = A[i * D + j];
            gp_project_out(D, nr, basis, xp);
            for (int i = 0; i < D; i++) A[i * D + j] = xp[i];
        }
        for (int i = 0; i < D; i++) gp_project_out(D, nr, basis, A + (int64_t)i * D);
    }
    int n = D, lwork = -1, info;
    double q;
    dsyev_("V", "U", &n, A, &n, gp, &q, &lwork, &info);
    lwork = (int)q;
    w = malloc((size_t)(lwork > 1 ? lwork : 1) * sizeof *w);
    if (!w) { rc = ml_fail(ML_ENOMEM, "gp.hessian: out of memory"); goto done; }
    dsyev_("V", "U", &n, A, &n, gp, w, &lwork, &info);
    if (info) { rc = ml_fail(ML_ENUMERIC, "gp.hessian: eigen-decomposition failed (info %d)", info); goto done; }
    /* eigenvector i is column i of A (symmetric A read as column-major = row i of A^T) */
    for (int i = 0; i < D; i++) gm[i] = 0;
    if (nr) {
        for (int i = 0; i < D; i++) {
            double ov = 0;
            for (int r = 0; r < nr; r++) {
                double c = gp_dot(D, basis + (int64_t)r * D, A + (int64_t)i * D);
                ov += c * c;
            }
            gm[i] = ov;
        }
        /* drop the nr eigenvectors with the largest rigid overlap */
        for (int r = 0; r < nr; r++) {
            int best = -1;
            for (int i = 0; i < D; i++)
                if (gm[i] >= 0 && (best < 0 || gm[i] > gm[best])) best = i;
            gm[best] = -1;
        }
    }
    int k = 0;
    for (int i = 0; i < D; i++) {
        if (gm[i] < 0) continue;
        evals[k] = gp[i];
        if (vecs) memcpy(vecs + (int64_t)k * D, A + (int64_t)i * D, (size_t)D * sizeof *vecs);
        k++;
    }
    *nev = k;
done:
    free(xp), free(gp), free(gm), free(A), free(basis), free(w);
    return rc;
}
