/* Internal: the energy-only fast path of a single stationary kernel (se, matern 1.5/2.5, rq; ARD or isotropic;
 * optionally times a constant and plus white): one column of the training matrix and one column's terms of the
 * lml gradient, written as plain loops over the column that the compiler vectorises, one instance per
 * instruction set (stat_fast.c), picked by ml_cpu_isa(). Used by stationary_fast.c. */
#ifndef MOONLAB_GP_STAT_FAST_H
#define MOONLAB_GP_STAT_FAST_H

#include <stdint.h>

/* The kernel v f(s), s = sum_d (x_d - y_d)^2 il2[d], flattened from the kernel tree. */
typedef struct {
    int type;           /* ML_GPK_SE, ML_GPK_MATERN15, ML_GPK_MATERN25, ML_GPK_RQ */
    int D, iso;         /* iso: one length scale (only acc[1] of gpf_grad_fn is computed), else ARD (acc[2 + d]) */
    double v;           /* variance times the constant factor */
    double alpha;       /* rq only */
    double white;       /* added to the diagonal of the training matrix (0: none) */
    const double *il2;  /* 1 / l_d^2, D values (an isotropic length scale repeated) */
} gpf_kern;

/* Lanes of the gradient sums (the same on every instruction set, so every path gives the same bits). */
#define GPF_LANES 8

/* out[i] = K(x_{j+i}, x_j) for i = 0 .. n-j-1 (column j of the column-major matrix from the diagonal down),
 * white added at i = 0. XT holds X transposed (D x n); s is scratch of n - j doubles. */
typedef void (*gpf_col_fn)(const gpf_kern *q, int64_t n, const double *XT, int64_t j, double *s, double *out);

/* The column's terms of 1/2 sum_ik W_ik dK_ik/dtheta with W = alpha alpha^T - K^-1 (kinv: column j of K^-1 from
 * the top to the diagonal, i.e. the upper triangle; the diagonal counted once, the rest twice, i.e. once per pair):
 * acc[0] = sum W f(s) (the variance term without v), acc[1] = sum W f'(s) s (an isotropic length scale),
 * acc[2 + d] = sum W f'(s) (x_d - y_d)^2 (ARD, without il2), acc[2 + D] = sum W df/dlog alpha (rq).
 * s, m, a: scratch of j + 1 doubles each. */
typedef void (*gpf_grad_fn)(const gpf_kern *q, int64_t n, const double *XT, int64_t j, const double *kinv,
                            const double *alpha, double *s, double *m, double *a, double *acc);

/* The instances for the current ml_cpu_isa(). */
void gpf_pick(gpf_col_fn *col, gpf_grad_fn *grad);

#endif
