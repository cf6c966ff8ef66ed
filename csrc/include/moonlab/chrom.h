/* moonlab — the gas-chromatography column model of the paper "Mathematical modelling of
 * flow and adsorption in a gas chromatograph".
 * Scaled by the column length L and the hold-up time (travel time of the
 * carrier gas), per analyte:
 *   c_t + (u c)_x = Pe^-1 c_xx - q_t,   q_t = Da c - kappa q,
 * with transfer function C(x,s) = C_in(s) (u(0)/u(x)) exp(-tau(x) h(s)),
 * h(s) = s + Da s/(s+kappa), or exp(x (Pe/2)(1 - sqrt(1 + 4h/Pe))) with dispersion. */
#ifndef MOONLAB_CHROM_H
#define MOONLAB_CHROM_H

#include <stddef.h>
#include "moonlab/laplace.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { ML_CHROM_PULSE = 0, ML_CHROM_GAUSSIAN, ML_CHROM_DATA } ml_chrom_injection;
typedef enum { ML_CHROM_G = 0, ML_CHROM_DG_DDA, ML_CHROM_DG_DKAPPA, ML_CHROM_SG } ml_chrom_output;

typedef struct ml_chrom_params {
    double Da, kappa;   /* Damkoehler number and desorption rate (scaled), >= 0 / > 0 */
    double Pe;          /* Peclet number; 0 = no dispersion */
    double P;           /* inlet/outlet pressure ratio; 1 = constant velocity */
    int injection;      /* ml_chrom_injection */
    double width;       /* pulse: duration; gaussian: standard deviation */
    double t0;          /* gaussian: centre (>= 5 width) */
    const double *inj_t, *inj_c; /* data: piecewise-linear inlet concentration */
    size_t inj_n;
    double x;           /* position in (0, 1]; 1 = outlet */
    double scale;       /* multiplies the response */
    int output;         /* ml_chrom_output: G or a derivative (for the fit's Jacobian) */
} ml_chrom_params;

ml_chrom_params ml_chrom_defaults(void);
/* Checks ranges; ML_EINVAL with a message naming the field. */
int ml_chrom_check(const ml_chrom_params *p);
/* The transfer function as a C transform (params must outlive the transform). */
ml_laplace_fn ml_chrom_transform(const ml_chrom_params *p);
/* Scaled travel time tau(x) and velocity u(x) (James-Martin compressible flow when P > 1). */
double ml_chrom_tau(double P, double x);
double ml_chrom_velocity(double P, double x);
/* Inlet concentration c_in(t) of the injection. */
double ml_chrom_inlet(const ml_chrom_params *p, double t);

/* Mass, mean and variance of the response at x, from the Taylor coefficients of
 * C(x,s) at s = 0 (Cauchy integral on a small circle, 64 points). */
int ml_chrom_moments(const ml_chrom_params *p, double *mass, double *mean, double *var);

/* Finite-difference solution of the full PDEs (finite volumes; upwind, Koren
 * flux-limited or linear kappa=1/3 advection; central dispersion; SSP-RK3 in time;
 * kinetics exact-exponential by Strang splitting or coupled into the RK stages). */
typedef enum { ML_CHROM_UPWIND = 0, ML_CHROM_KOREN, ML_CHROM_KAPPA3 } ml_chrom_scheme;
/* Kinetics: exact exponential by Strang splitting (any stiffness, O(dt^2) splitting
 * error), coupled into the SSP-RK3 stages (third order, needs (Da+kappa) dt <= 1),
 * or auto = coupled when (Da+kappa) dt <= 1, else split. */
typedef enum { ML_CHROM_KIN_AUTO = 0, ML_CHROM_KIN_SPLIT, ML_CHROM_KIN_COUPLED } ml_chrom_kinetics;
typedef struct ml_chrom_fd_opts {
    int nx;           /* cells per column length (400) */
    double dt;        /* time step (0 = from cfl) */
    double cfl;       /* max u dt/dx (0.4) */
    int scheme;       /* ml_chrom_scheme (KOREN) */
    int kinetics;     /* ml_chrom_kinetics (AUTO) */
    double max_work;  /* refuse runs estimated above this many cell updates (steps x cells);
                         default ML_CHROM_FD_MAX_WORK; 0 = no limit */
    const ml_progress *progress; /* progress and Ctrl-C (NULL: the interrupt flag is still
                                    polled): ML_EINTR "interrupted" */
} ml_chrom_fd_opts;
/* Default cap on the work of one FD solve: 2e10 cell updates (minutes of CPU). */
#define ML_CHROM_FD_MAX_WORK 2e10
ml_chrom_fd_opts ml_chrom_fd_defaults(void);
/* c_out[j] = outlet concentration at t_out[j] (given, increasing, >= 0); if
 * profile != NULL it receives c at the nx cell centres at the last time. */
int ml_chrom_fd(const ml_chrom_params *p, const ml_chrom_fd_opts *o, size_t nout,
                const double *t_out, double *c_out, double *profile);

/* Chromatograms on a uniform time grid t_j = t0 + j dt (j < n) by the Fourier series of
 * the inverse transform, summed for all t by one real inverse FFT (Dubner & Abate 1968):
 *   f(t) = (e^{ct}/T) [F(c)/2 + sum_{k=1}^{N-1} Re F(c + ik pi/T) e^{ik pi t/T}],
 * with T >= 2 t_max, c from the aliasing tolerance and N from the decay of the injection's
 * transform (Gaussian: e^{-w^2 sigma^2/2}). A plan holds the nodes, the injection
 * transform, e^{-s} and the FFT plan, shared by every analyte and every call. Only
 * Gaussian injections qualify (a pulse or data profile makes the series converge
 * algebraically): ml_chrom_series_new then returns NULL with ML_EINVAL. */
typedef struct ml_chrom_series ml_chrom_series;
ml_chrom_series *ml_chrom_series_new(const ml_chrom_params *base, size_t n, double t0, double dt,
                                     int *rc);
void ml_chrom_series_free(ml_chrom_series *S);
/* Node count N of the plan (the F evaluations per analyte and call). */
int ml_chrom_series_nodes(const ml_chrom_series *S);
/* For K analytes (Da[k], kappa[k], scale A[k]): y = sum_k A_k c_k and ydot = sum_k A_k c_k'
 * (if non-NULL) and, per analyte, curves[k*n + j] = c_k(t_j), dDa/dka[k*n + j] = A_k dc_k/dDa,
 * A_k dc_k/dkappa (each may be NULL): the derivatives of the transfer function
 * (d ln G/dh * s/(s+kappa), * -Da/(s+kappa), and s G for c') are inverted with it, from the
 * same F values. */
int ml_chrom_series_eval(ml_chrom_series *S, int K, const double *Da, const double *kappa,
                         const double *A, double *y, double *ydot, double *curves, double *dDa,
                         double *dka);
/* 1 when t (n values) is uniform (t_j = t0 + j dt within 1e-9 t_max, n >= 8, t0 >= 0). */
int ml_chrom_uniform(size_t n, const double *t, double *t0, double *dt);
/* Outlet (or position p->x) concentration at n times t > 0: the series on a uniform grid
 * with a Gaussian injection; without dispersion otherwise the closed-form impulse response
 * (ml_chrom_kernel_outlet); with dispersion de Hoog (ml_laplace_invert_many, M = 40). */
int ml_chrom_outlet(const ml_chrom_params *p, size_t n, const double *t, double *c);
/* Without dispersion (Pe = 0; any velocity profile and position): c(t) = amp [e^{-D} c_in(v)
 * + int_0^v k(w) c_in(v - w) dw], v = t - tau(x), D = tau Da, with the closed-form impulse response
 * k(w) = e^{-D - kappa w} sqrt(D kappa/w) I1(2 sqrt(D kappa w)) (Thomas 1944: the inverse of the
 * paper's C(x, s) = C_in(s) amp exp(-tau h(s))), integrated over each inlet piece by 8-point
 * Gauss-Legendre where the piece is short against the kernel's rate, else adaptive Gauss-Kronrod
 * (a Gaussian by 16-point Gauss-Hermite where it is smooth enough), to ~1e-15 of the peak; the
 * kernel over arrays of nodes in vector code (chrom_kvec.c). ML_EINVAL when Pe > 0. */
int ml_chrom_kernel_outlet(const ml_chrom_params *p, size_t n, const double *t, double *c);
/* sign(x) e^{-|x|} I1(|x|), the exponentially scaled modified Bessel function of order 1, by the
 * kernel's own code (power series below |x| = 25, Hankel's asymptotic series above; ~1e-15 relative). */
double ml_chrom_i1e(double x);

/* Least-squares fit of K analytes, y(t) = sum_k A_k c_k(t / t_hold; Da_k, kappa_k). */
#define ML_CHROM_FIT_KMAX 64
typedef enum { ML_CHROM_STOP_TOL = 0, ML_CHROM_STOP_MAXITER, ML_CHROM_STOP_STALLED } ml_chrom_stop;
typedef struct ml_chrom_fit_info {
    int iterations;     /* Levenberg-Marquardt iterations (accepted steps) */
    double ssr;         /* sum of squared residuals at the estimate */
    int converged;      /* 1: relative SSR change < tol or gradient orthogonal to the residual */
    int reason;         /* ml_chrom_stop */
    size_t nevals;      /* transfer-function evaluations */
    int series;         /* 1 when the model was the Fourier series on the uniform grid */
} ml_chrom_fit_info;
typedef struct ml_chrom_fit_problem {
    ml_chrom_params base;     /* injection, Pe, P shared by every analyte */
    int K;
    int fit_scale, fit_hold;  /* also fit each A_k / the hold-up time */
    double t_hold;            /* hold-up time in data units (1 = data already scaled) */
    int max_iter;             /* 100 */
    double tol;               /* relative SSR change to stop (1e-10) */
    int use_fd;               /* model by the FD solver (finite-difference Jacobian) */
    ml_chrom_fd_opts fd;
    ml_laplace_opts inv;      /* inversion when not by the series (de Hoog, invert_many) */
    int series;               /* 1: the Fourier series (ml_chrom_series) when the times are
                                 uniform and the injection Gaussian, else inv */
    const ml_progress *progress; /* per iteration; Ctrl-C also inside each model evaluation */
} ml_chrom_fit_problem;
/* Parameter layout: per analyte k: Da, kappa, [A if fit_scale]; then [t_hold].
 * p holds the initial guess and receives the estimate; se the standard errors
 * (sqrt diag of s^2 (J^T J)^-1); resid[n] = y - model. */
int ml_chrom_fit(const ml_chrom_fit_problem *pr, const double *A, size_t n, const double *t,
                 const double *y, double *p, double *se, double *resid, ml_chrom_fit_info *info);
/* Robust estimate of the white-noise level of a densely sampled signal y[n] from its
 * second differences (median absolute value, scaled for a Gaussian). */
int ml_chrom_noise(size_t n, const double *y, double *sigma);
/* Model values y(t) for parameters p (same layout as the fit). */
int ml_chrom_model(const ml_chrom_fit_problem *pr, const double *A, const double *p, size_t n,
                   const double *t, double *y);

#ifdef __cplusplus
}
#endif
#endif
