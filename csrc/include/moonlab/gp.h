/* moonlab — Gaussian-process regression on energies and gradients, the dimer method and the
 * GPR-accelerated dimer (Goswami et al. 2025, arXiv 2505.12519, "Efficient implementation of
 * Gaussian process regression accelerated saddle point searches").
 *
 * Conventions: observations are energies E and gradients G = dE/dx (not forces). Inputs x are
 * flat coordinate vectors of length D (atoms: [x1 y1 (z1) x2 ...]). Matrices are row-major;
 * a joint covariance is ordered point by point, each point contributing 1 + D rows
 * (energy, then the D gradient components) or 1 row when derivatives are off. Kernel
 * hyperparameters are handled in log space (theta = log of the variance / length scale / alpha). */
#ifndef MOONLAB_GP_H
#define MOONLAB_GP_H

#include <stdint.h>
#include "moonlab/error.h"
#include "moonlab/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- kernels */
typedef enum {
    ML_GPK_SE = 0,     /* v exp(-s/2), s = sum_i (x_i - x'_i)^2 / l_i^2 (ARD or isotropic) */
    ML_GPK_MATERN15,   /* v (1 + sqrt3 r) exp(-sqrt3 r), r = sqrt(s) */
    ML_GPK_MATERN25,   /* v (1 + sqrt5 r + 5 r^2 / 3) exp(-sqrt5 r) */
    ML_GPK_RQ,         /* v (1 + s / (2 alpha))^-alpha */
    ML_GPK_INVDIST,    /* c + v exp(-1/2 sum_{i<j} (1/r_ij(x) - 1/r_ij(x'))^2 / l_type(ij)^2) */
    ML_GPK_CONST,      /* v */
    ML_GPK_WHITE,      /* v [x == x'] (on the diagonal of a training matrix only) */
    ML_GPK_SUM,
    ML_GPK_PROD
} ml_gpk_type;

/* What a log-hyperparameter is (for priors and names). */
typedef enum { ML_GPP_VARIANCE = 0, ML_GPP_LENGTHSCALE, ML_GPP_ALPHA, ML_GPP_NOISE,
               ML_GPP_CONSTANT } ml_gpp_kind;

typedef struct ml_gp_kernel ml_gp_kernel;

/* Stationary kernels in Cartesian coordinates. nl = 1 gives one shared length scale (any D),
 * nl = D one per coordinate (ARD). alpha is used by ML_GPK_RQ only. */
ml_gp_kernel *ml_gpk_stationary(int type, double variance, int nl, const double *lengthscales,
                                double alpha);
/* Inverse-distance kernel (paper §2, eq. for k(x,x')): natoms moving atoms in adim (2 or 3)
 * dimensions (D = natoms*adim), nfrozen fixed atoms at frozen[nfrozen*adim] that enter the pair
 * distances but have no coordinates in x. types[] (natoms + nfrozen entries, 0-based) are atom
 * types; pair (a,b) has the pair type ptype[ta*ntypes + tb] (symmetric, 0-based, < nl), which
 * selects its length scale. ptype NULL: one pair type. constant is a fixed sigma_c^2. */
ml_gp_kernel *ml_gpk_invdist(int natoms, int adim, int nfrozen, const double *frozen,
                             int ntypes, const int *types, const int *ptype, int nl,
                             const double *lengthscales, double variance, double constant);
ml_gp_kernel *ml_gpk_constant(double value);
ml_gp_kernel *ml_gpk_white(double value);
/* Sum / product of clones of a and b. */
ml_gp_kernel *ml_gpk_combine(int type, const ml_gp_kernel *a, const ml_gp_kernel *b);
ml_gp_kernel *ml_gpk_clone(const ml_gp_kernel *k);
void ml_gpk_free(ml_gp_kernel *k);
/* Fixes (1) or frees (0) every hyperparameter of the kernel (and its children). */
void ml_gpk_set_fixed(ml_gp_kernel *k, int fixed);

/* NULL on failure from the constructors above: the message says why. */
int ml_gpk_nparams(const ml_gp_kernel *k);
/* Input dimension the kernel needs (0 = any). */
int ml_gpk_dim(const ml_gp_kernel *k);
int ml_gpk_type_of(const ml_gp_kernel *k);
void ml_gpk_get_params(const ml_gp_kernel *k, double *theta);
int ml_gpk_set_params(ml_gp_kernel *k, const double *theta);
/* Kind, fixed flag and a name ("se.lengthscale[2]") of parameter p. */
int ml_gpk_param_info(const ml_gp_kernel *k, int p, int *kind, int *fixed, char *name, int len);
/* Sets sigma_c^2: the constant of every inverse-distance kernel and the value of every fixed
 * constant kernel in the tree. */
void ml_gpk_set_constant(ml_gp_kernel *k, double c);
/* The atoms description of the first inverse-distance kernel in the tree (or 0). */
int ml_gpk_atoms(const ml_gp_kernel *k, int *natoms, int *adim);

/* Scratch doubles ml_gpk_block needs for input dimension D. */
int64_t ml_gpk_work_size(const ml_gp_kernel *k, int D);
/* Joint covariance block between x (rows) and y (columns): with deriv = 0 a 1x1 block k(x,y);
 * with deriv = 1 the (1+D)x(1+D) block [k, dk/dy; dk/dx, d2k/dx dy]. same = 1 when x and y are
 * the same training point (white noise). dB (may be NULL) receives nparams blocks, the
 * derivatives with respect to the log-hyperparameters. */
void ml_gpk_block(const ml_gp_kernel *k, int D, const double *x, const double *y, int same,
                  int deriv, double *B, double *dB, double *work);
/* K(X, X2) for n and n2 points [n*D], [n2*D]: out [n*m, n2*m], m = 1 + D (deriv) or 1.
 * X2 == X (the same pointer) marks the training matrix (white noise on its diagonal). */
int ml_gpk_matrix(const ml_gp_kernel *k, int D, int64_t n, const double *X, int64_t n2,
                  const double *X2, int deriv, double *out);

/* ---------------------------------------------------------------- regression */
typedef enum { ML_GP_MEAN_ZERO = 0, ML_GP_MEAN_CONSTANT = 1 } ml_gp_mean;

typedef struct ml_gp ml_gp;

/* A GP with a clone of kernel k on D-dimensional inputs; noise is the variance added to the
 * whole diagonal (energies and gradients). mean: zero, or the constant mean of the energy
 * observations (recomputed at each fit). */
ml_gp *ml_gp_new(const ml_gp_kernel *k, int D, double noise, int mean);
void ml_gp_free(ml_gp *g);
ml_gp_kernel *ml_gp_kernel_of(ml_gp *g);

/* Fits n points X[n*D], energies E[n] and gradients G[n*D] (G NULL: energy-only). Cholesky by
 * LAPACK dpotrf; when it fails, jitter 1e-10, 1e-9, ... 1e-4 times the mean diagonal is added
 * until it succeeds (reported by ml_gp_jitter). */
int ml_gp_fit(ml_gp *g, int64_t n, const double *X, const double *E, const double *G);
/* Adds k points with unchanged hyperparameters: the Cholesky factor is extended by a rank-k
 * block (L21 = K21 L11^-T, L22 = chol(K22 - L21 L21^T)) instead of refactored. Fits when empty.
 * With mean = constant the mean is kept from the last fit. */
int ml_gp_add(ml_gp *g, int64_t k, const double *X, const double *E, const double *G);
/* Refactors with the current data after a parameter change. */
int ml_gp_refit(ml_gp *g);
int64_t ml_gp_npoints(const ml_gp *g);
int ml_gp_has_gradients(const ml_gp *g);
double ml_gp_jitter(const ml_gp *g);
/* Seconds the last factorisation spent assembling K and in the Cholesky (jitter retries included). */
void ml_gp_timing(const ml_gp *g, double *assembly, double *cholesky);
/* Seconds of the last lml gradient (ml_gp_lml with grad): forming K^-1 (dpotri) and the contraction. */
void ml_gp_lml_timing(const ml_gp *g, double *inverse, double *contract);
/* 1 when the last factorisation took the energy-only stationary fast path (see docs/gp.md). */
int ml_gp_fast_path(const ml_gp *g);
double ml_gp_mean_value(const ml_gp *g);
const double *ml_gp_data_x(const ml_gp *g);
const double *ml_gp_data_e(const ml_gp *g);

/* Log marginal likelihood -1/2 y^T K^-1 y - 1/2 log|K| - n/2 log 2pi of the fitted data, and its
 * gradient with respect to the kernel's log-hyperparameters (grad may be NULL):
 * d lml / d theta = 1/2 tr((a a^T - K^-1) dK/dtheta), a = K^-1 y. */
int ml_gp_lml(ml_gp *g, double *lml, double *grad);

/* Posterior at m points Xs[m*D]: mean energy E[m]; optional (NULL to skip) Evar[m], gradient
 * G[m*D] and its variance Gvar[m*D]. */
int ml_gp_predict(ml_gp *g, int64_t m, const double *Xs, double *E, double *Evar, double *G,
                  double *Gvar);

/* Priors for MAP (log space): Student-t on log sigma_m (sigma_m^2 = the variance of a kernel),
 * Gaussian on log l for every length scale. mu = NaN centres a prior on the starting value. */
typedef struct ml_gp_prior {
    int use;              /* 0: maximum likelihood (no prior) */
    double mag_nu, mag_mu, mag_scale;  /* Student-t on log sigma_m: nu (3), mu (NaN), scale (1) */
    double len_mu, len_scale;          /* Gaussian on log l: mu (NaN), scale (1) */
} ml_gp_prior;
ml_gp_prior ml_gp_prior_defaults(void);

typedef struct ml_gp_opt_opts {
    ml_gp_prior prior;
    int maxit;            /* NLopt L-BFGS evaluations per start (200) */
    int restarts;         /* extra random starts (0) */
    uint64_t seed;        /* for the restarts (0) */
    double xtol;          /* relative tolerance on theta (1e-8) */
    double bound;         /* |theta - theta0| <= bound per parameter (10) */
    const struct ml_progress *progress;
    const double *prior_center; /* log-parameters the priors are centred on (NULL: the start) */
    const double *lower;        /* per log-parameter lower bounds (NULL or -HUGE_VAL: start - bound) */
} ml_gp_opt_opts;
ml_gp_opt_opts ml_gp_opt_defaults(void);

typedef struct ml_gp_opt_result {
    double objective;     /* lml + log prior at the optimum */
    double lml;
    int iterations;       /* objective evaluations over all starts */
    int converged;
    char reason[32];      /* "tolerance", "max_iters", "stalled", "interrupted", "failed" */
} ml_gp_opt_result;

/* MAP (or ML) hyperparameters with NLopt's L-BFGS in log space; leaves the GP fitted at the
 * optimum. */
int ml_gp_optimize(ml_gp *g, const ml_gp_opt_opts *o, ml_gp_opt_result *r);
/* Objective of ml_gp_optimize at the current parameters: lml + log prior and its gradient. */
int ml_gp_log_posterior(ml_gp *g, const ml_gp_prior *pr, const double *theta0, double *val,
                        double *grad);

/* Benchmark reference: seconds of one LAPACK dpotrf on a random SPD matrix of size n. */
int ml_gp_bench_cholesky(int64_t n, uint64_t seed, double *seconds);

/* ---------------------------------------------------------------- potentials */
/* E and G = dE/dx at x (D values). Returns ML_OK or an error code with ml_fail's message. */
typedef int (*ml_gp_evalfn)(void *ud, const double *x, double *E, double *G);

typedef struct ml_gp_potential {
    ml_gp_evalfn eval;
    void *ud;
    int dim;
    int natoms, adim;     /* atoms description (0 when the coordinates are not atoms) */
    int rigid;            /* 1: free cluster, translations and rotations are zero modes */
    int64_t calls;        /* incremented by ml_gp_pot_eval */
} ml_gp_potential;

/* Calls the potential, counts the call, rejects non-finite output (ML_ENUMERIC). */
int ml_gp_pot_eval(ml_gp_potential *p, const double *x, double *E, double *G);

/* Müller–Brown (D = 2; A, a, b, c, x0, y0 of Müller & Brown 1979). */
ml_gp_potential ml_gp_muller_brown(void);
/* LEPS collinear A-B-C with Sato's parameters (a = 0.05, b = 0.30, c = 0.05, d_AB = d_BC = 4.746,
 * d_AC = 3.445, r0 = 0.742, alpha = 1.942; x = (r_AB, r_BC), r_AC = r_AB + r_BC). */
ml_gp_potential ml_gp_leps(void);
/* Lennard-Jones cluster of n atoms in dim 2 or 3 (epsilon = sigma = 1, no cut-off). */
typedef struct { int n, dim; double eps, sigma; } ml_gp_lj_params;
ml_gp_potential ml_gp_lj(ml_gp_lj_params *p);
/* Morse pair potential D (exp(-2a(r-r0)) - 2 exp(-a(r-r0))) for natoms moving atoms plus
 * nfrozen fixed atoms (their energy among themselves is left out), cut off at rc. */
typedef struct {
    int natoms, nfrozen;
    const double *frozen;   /* [nfrozen*3], must outlive the potential */
    double De, a, r0, rc;
} ml_gp_morse_params;
ml_gp_potential ml_gp_morse(ml_gp_morse_params *p);

/* Hessian by central differences of the gradient (2D calls, step h), symmetrised, and its
 * eigenvalues (ascending) and eigenvectors (rows of vecs, may be NULL). With rigid = 1 and
 * atoms, the translations and rotations are projected out first and their nrigid zero
 * eigenvalues removed (evals then has D - nrigid entries; *nev receives the count). */
int ml_gp_hessian(ml_gp_potential *p, const double *x, double h, int rigid, double *H,
                  double *evals, double *vecs, int *nev);

/* Orthonormal basis [nr*D] of the rigid-body modes of natoms atoms in adim dims at x. */
int ml_gp_rigid_basis(int natoms, int adim, const double *x, double *basis, int *nr);

typedef struct ml_gp_iter_result {
    int converged, iterations;
    char reason[32];
} ml_gp_iter_result;

/* L-BFGS minimisation with NLopt; x is updated in place. gtol: stop when |G| < gtol. */
int ml_gp_minimize(ml_gp_potential *p, double *x, double gtol, int maxit, double *E,
                   ml_gp_iter_result *r, const struct ml_progress *pg);

/* ---------------------------------------------------------------- dimer */
typedef struct ml_gp_dimer_opts {
    double delta;          /* dimer separation (0.01) */
    double gtol;           /* converged when |G| < gtol (0.01) */
    int max_rot;           /* rotations per iteration (10) */
    double rot_tol;        /* converged rotation angle, radians (5 deg) */
    int memory;            /* L-BFGS memory (25) */
    double max_step;       /* max translation (0.05) */
    double convex_step;    /* fixed step when curvature > 0 (0.1) */
    double lbfgs_init;     /* initial inverse Hessian scale (0.01) */
    int maxit;             /* translations (1000) */
    int max_calls;         /* 0 = no limit */
    int rigid;             /* project out translations/rotations (needs atoms) */
    const struct ml_progress *progress;
} ml_gp_dimer_opts;
ml_gp_dimer_opts ml_gp_dimer_defaults(void);

typedef struct ml_gp_dimer_result {
    double energy, curvature;
    int64_t calls;
    int converged, iterations;
    char reason[32];
} ml_gp_dimer_result;

/* Optional record of the midpoints visited: called after every translation. */
typedef void (*ml_gp_pathfn)(void *ud, const double *x, double E);

/* Minimum-mode following with a dimer (Henkelman & Jónsson 1999; Fourier-fit rotation of
 * Kästner & Sherwood 2008; L-BFGS translation) from x along mode (both updated in place). */
int ml_gp_dimer(ml_gp_potential *p, double *x, double *mode, const ml_gp_dimer_opts *o,
                ml_gp_dimer_result *r, ml_gp_pathfn path, void *path_ud);

enum { ML_GP_HYPER_LATEST = 0, ML_GP_HYPER_FPS = 1 };

typedef struct ml_gp_gpr_opts {
    ml_gp_dimer_opts dimer;       /* the surrogate dimer (rotations 10, 0.01 rad, step 0.05) */
    double noise;                 /* 1e-5 */
    int max_outer;                /* true evaluations (300) */
    double trust_radius;          /* Cartesian kernels: max distance to the nearest data point (0.2) */
    double ratio_lo, ratio_hi;    /* inverse-distance: pair distance ratios (2/3, 3/2) */
    int inner_maxit;              /* surrogate translations per outer iteration (200) */
    ml_gp_opt_opts hyper;         /* hyperparameter MAP each outer iteration */
    int hyper_every;              /* MAP at every k-th outer iteration (1), warm-started */
    int hyper_points;             /* MAP on k data points only (0 = all) */
    int hyper_select;             /* which k: ML_GP_HYPER_LATEST, or ML_GP_HYPER_FPS (farthest-point
                                   * sampling from the newest, Goswami & Jonsson 2025) */
    int anchor_prior;             /* priors centred on the starting hyperparameters (0: on the warm start) */
    int init_rot;                 /* true image evaluations at the start to settle the mode (0) */
    double init_rot_tol;          /* ... until the surrogate's minimum mode turns by less (5 deg) */
    int trust_adapt;              /* halve the trust region after a poor step, regrow after good ones
                                   * (-1 = auto: on for inverse-distance kernels) */
    int reject;                   /* stay at the midpoint after a poor step whose energy rose above the
                                   * prediction (-1 = auto, as trust_adapt) */
    double reject_tol;            /* poor: |E - E_pred| > reject_tol |G| |step| and |G| grew (0.5) */
    double length_floor;          /* length scales >= length_floor * the data's largest distance
                                   * (-1 = auto: 1 for inverse-distance kernels, else 0) */
} ml_gp_gpr_opts;
ml_gp_gpr_opts ml_gp_gpr_defaults(void);

typedef struct ml_gp_gpr_result {
    ml_gp_dimer_result d;        /* calls = true evaluations; curvature from the surrogate */
    double t_fit, t_hyper, t_dimer;   /* seconds spent in each part */
    int hyper_failures;
} ml_gp_gpr_result;

/* GPR-accelerated dimer (paper §2): each outer iteration fits the GP (energies shifted so that
 * E(start) = 0, sigma_c^2 = max(1, mean(E)^2)), re-optimises sigma_m and the length scales by
 * MAP, runs the dimer on the posterior mean within the trust region and evaluates the true
 * E, G at the new midpoint only; with the safeguards of ml_gp_gpr_opts (length-scale floor,
 * adaptive trust, step rejection, initial rotations). k is the kernel (cloned; its starting
 * hyperparameters). */
int ml_gp_gpr_dimer(ml_gp_potential *p, const ml_gp_kernel *k, double *x, double *mode,
                    const ml_gp_gpr_opts *o, ml_gp_gpr_result *r, ml_gp_pathfn path,
                    void *path_ud);

#ifdef __cplusplus
}
#endif
#endif
