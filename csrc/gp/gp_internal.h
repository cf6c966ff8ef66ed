/* Internal structures of the GP core shared by its files. */
#ifndef MOONLAB_GP_INTERNAL_H
#define MOONLAB_GP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "moonlab/gp.h"
#include "moonlab/runtime.h"

/* Fortran LAPACK (provided by OpenBLAS); column-major. */
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
            double *w, double *work, const int *lwork, int *info);

/* A pair of atoms of an inverse-distance kernel: moving indices a, b (b = -1 - f for frozen
 * atom f), its length-scale index. */
typedef struct { int a, b, t; } gp_pair;

struct ml_gp_kernel {
    int type;
    int np;              /* log-hyperparameters (own + children) */
    double *theta;       /* own log-parameters */
    int *kind;           /* ml_gpp_kind per own parameter */
    int fixed;
    double *il2;         /* 1 / l^2 per length scale (stationary, inverse distance), kept with theta */
    /* stationary */
    int nl;              /* 1 = isotropic, D = ARD */
    /* inverse distance */
    int natoms, adim, nfrozen, npairs, ntl;
    double *frozen;      /* nfrozen*adim */
    gp_pair *pairs;
    double constant;
    /* input dimension (0 = any) */
    int dim;
    /* sum / product */
    struct ml_gp_kernel *a, *b;
};

/* Radial profile f(s) of a stationary kernel and its s-derivatives f1..f3; fa* are the
 * derivatives of f, f1, f2 with respect to log alpha (RQ only). r0 = 1 when s == 0 (the
 * singular higher derivatives of the Matérn profiles are returned as 0: they are multiplied by
 * factors that vanish faster). */
void gp_radial(int type, double s, double alpha, double f[4], double fa[3]);

/* Blocks of the leaf kernels (see ml_gpk_block). */
void gp_block_stationary(const ml_gp_kernel *k, int D, const double *x, const double *y,
                         int deriv, double *B, double *dB, double *work);
void gp_block_invdist(const ml_gp_kernel *k, int D, const double *x, const double *y,
                      int deriv, double *B, double *dB, double *work);
int64_t gp_invdist_work(const ml_gp_kernel *k, int D);
/* Features of one point for the inverse-distance blocks (phi over the pairs, then their
 * Jacobian rows): gp_invdist_feat_size doubles; the block from two of them (work: gp_invdist_work). */
int64_t gp_invdist_feat_size(const ml_gp_kernel *k);
void gp_invdist_features(const ml_gp_kernel *k, const double *x, double *f);
void gp_block_invdist_feat(const ml_gp_kernel *k, int D, const double *fx, const double *fy,
                           int deriv, double *B, double *dB, double *work);

/* grad[p] = 1/2 sum_ij W_ij dK_ij/dtheta_p for the symmetric N x N matrix W of the n training
 * points (blockwise; dK never stored). */
int gp_grad_contract(const ml_gp_kernel *k, int D, int64_t n, const double *X, int deriv,
                     const double *W, double *grad);

/* The energy-only fast path of a stationary kernel (stationary_fast.c): 1 when it covers kernel k
 * (se / matern / rq, optionally times a constant, plus white; no derivative observations; env
 * MOONLAB_GP_FAST=0 turns it off); the lower triangle (column-major) of the training matrix K(X, X), the
 * upper left untouched; the lml gradient from the upper triangle of K^-1 (column-major, dpotri('U')) and
 * alpha = K^-1 y. */
int gp_fast_ok(const ml_gp_kernel *k, int deriv);
int gp_fast_matrix(const ml_gp_kernel *k, int D, int64_t n, const double *X, double *out);
int gp_fast_grad(const ml_gp_kernel *k, int D, int64_t n, const double *X, const double *kinv,
                 const double *alpha, double *grad);

/* Read access to a GP's internals (gp.c) for prediction. */
int gp_internals(const ml_gp *g, int *D, int *deriv, int64_t *n, int64_t *N, const double **X,
                 const double **L, const double **alpha, double *mean, const ml_gp_kernel **k);

/* The dense matrix helpers (column-major n x n unless said). */
/* Cholesky with jitter escalation; A is overwritten by L (lower). *jitter receives the
 * absolute jitter added (0 when none). */
int gp_cholesky(double *A, int64_t n, double *jitter);
/* The same for a matrix whose lower triangle only is filled: refill(ud, A) writes the lower triangle again
 * (diagonal included; the saved diagonal is put back after it) before each jitter attempt. */
int gp_cholesky_refill(double *A, int64_t n, double *jitter, int (*refill)(void *ud, double *A), void *ud);

/* One L-BFGS two-loop direction d = -H g from m pairs (s, y), oldest first in ring order. */
typedef struct {
    int D, m, count, head;
    double *s, *y, *rho;
    double gamma0;
} gp_lbfgs;
int gp_lbfgs_init(gp_lbfgs *b, int D, int m, double gamma0);
void gp_lbfgs_free(gp_lbfgs *b);
void gp_lbfgs_reset(gp_lbfgs *b);
/* Stores (s, y) when s.y > 0 (else resets); returns 1 when stored. */
int gp_lbfgs_push(gp_lbfgs *b, const double *s, const double *y);
/* d = H * f where f is the (effective) force: the quasi-Newton step. */
void gp_lbfgs_step(const gp_lbfgs *b, const double *f, double *d);

/* Projects v orthogonal to the nr orthonormal rows of basis. */
void gp_project_out(int D, int nr, const double *basis, double *v);

/* The dimer loop of ml_gp_dimer with an optional trust region: trust(tud, x) == 0 rejects x;
 * the step is then halved into the region and the run stops there (*hit_trust = 1). */
typedef int (*gp_trustfn)(void *tud, const double *x);
int gp_dimer_run(ml_gp_potential *p, double *x, double *mode, const ml_gp_dimer_opts *o,
                 ml_gp_dimer_result *r, ml_gp_pathfn path, void *path_ud, gp_trustfn trust,
                 void *tud, int *hit_trust);

/* Status of an interrupted loop. */
#define GP_EINTR ML_EINTR

/* Progress tick of a long loop (returns ML_OK or an interrupt code). */
int gp_tick(const struct ml_progress *p, double done, double total);

/* Transparent-huge-page hint for a large buffer before its first write (hugepages.c). */
void gp_huge_pages(void *p, size_t bytes);

/* Monotonic clock, seconds. */
double gp_now(void);

double gp_dot(int n, const double *a, const double *b);
double gp_norm(int n, const double *a);

#endif
