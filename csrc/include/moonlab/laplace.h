/* moonlab — numerical inverse Laplace transforms.
 *
 * A transform is an ml_laplace_fn: a batched evaluator F(s) for complex s plus
 * its parameters. Every method gathers all its nodes s first, calls eval in
 * batches (never concurrently unless fn->threadsafe), then sums in C, so a
 * callback that fails (a Lua function raising an error) aborts cleanly. */
#ifndef MOONLAB_LAPLACE_H
#define MOONLAB_LAPLACE_H

#include "moonlab/cplx.h"
#include <stddef.h>
#include "moonlab/error.h"
#include "moonlab/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes F(s[i]) into out[i] for i < n. Returns ML_OK or an error code
 * (with ml_fail's message set) which aborts the inversion. */
typedef int (*ml_laplace_evalfn)(void *params, size_t n, const ml_complex *s,
                                 ml_complex *out);

/* Quad precision (GCC __float128 / __complex128 with libquadmath) where the
 * compiler has it: a transform may also provide F(s) in quad precision, which
 * the per-t methods (Talbot, Euler, Gaver-Stehfest) use to get past the
 * roundoff amplification of their weights (10^{M/3}, sum|V_k|). */
#if defined(__SIZEOF_FLOAT128__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(ML_LAPLACE_NO_QUAD)
#define ML_LAPLACE_HAVE_QUAD 1
#include <quadmath.h>
typedef int (*ml_laplace_evalqfn)(void *params, size_t n, const __complex128 *s,
                                  __complex128 *out);
#else
#define ML_LAPLACE_HAVE_QUAD 0
typedef int (*ml_laplace_evalqfn)(void *params, size_t n, const void *s, void *out);
#endif

typedef struct ml_laplace_fn {
    ml_laplace_evalfn eval;
    void *params;
    double abscissa;   /* real part of the rightmost singularity of F (0 if none/unknown) */
    int threadsafe;    /* 1: eval (and evalq) may run concurrently from OpenMP threads */
    ml_laplace_evalqfn evalq; /* optional: out[i] = F(s[i]) in quad precision (NULL = none);
                                 same contract as eval */
} ml_laplace_fn;

/* Working precision of the per-t methods (opts.precision). AUTO: quad for Euler
 * and Gaver-Stehfest when fn->evalq exists, double otherwise (and for Talbot). */
typedef enum { ML_LAPLACE_PREC_AUTO = 0, ML_LAPLACE_PREC_DOUBLE, ML_LAPLACE_PREC_QUAD } ml_laplace_precision;

typedef enum {
    ML_LAPLACE_TALBOT = 0, /* fixed Talbot, Abate & Valko 2004, eq. (3.2)-(3.4) */
    ML_LAPLACE_EULER,      /* Abate & Whitt 2006 unified framework, Euler algorithm, §5 */
    ML_LAPLACE_STEHFEST,   /* Gaver-Stehfest, Stehfest 1970, weights in long double */
    ML_LAPLACE_DEHOOG,     /* de Hoog, Knight & Stokes 1982, QD-accelerated Fourier series */
    ML_LAPLACE_WEEKS,      /* Weeks 1966 Laguerre series, coefficients by FFT (Weideman 1999) */
    ML_LAPLACE_FOURIER,    /* Dubner-Abate / Durbin Fourier series on a grid, one FFT */
    ML_LAPLACE_NMETHODS
} ml_laplace_method;

/* Options; every field has a default from ml_laplace_defaults(). A value of 0
 * for M, or NaN for a real parameter, means "choose automatically". */
typedef struct ml_laplace_opts {
    int method;        /* ml_laplace_method; default ML_LAPLACE_DEHOOG */
    int M;             /* order: Talbot nodes (24), Euler M (2M+1 terms, 18),
                          Stehfest N (even, 14), de Hoog M (2M+1 terms, 24),
                          Weeks N coefficients (128), Fourier terms (16384) */
    double abscissa;   /* shift: F is inverted as e^{a t} L^-1[F(s+a)]; NaN = fn->abscissa */
    double sigma, b;   /* Weeks parameters (NaN = automatic search) */
    double tol;        /* de Hoog / Fourier damping: gamma = a - ln(tol)/(2T) (1e-14 / 1e-8) */
    double T;          /* de Hoog/Fourier half period; NaN = 2*t per time (dehoog invert),
                          2*t_band (dehoog invert_many), 2*t_max (fourier) */
    int precision;     /* ml_laplace_precision (AUTO); QUAD needs fn->evalq and a per-t method */
    const ml_progress *progress; /* progress and Ctrl-C for long calls (NULL: none; the
                          interrupt flag is polled either way): ML_EINTR "interrupted" */
} ml_laplace_opts;

ml_laplace_opts ml_laplace_defaults(void);
/* Default order for a method (see ml_laplace_opts.M) in double precision. */
int ml_laplace_default_order(int method);
/* Default order for a method evaluated in quad precision (Talbot, Euler,
 * Stehfest); the double default for the other methods. */
int ml_laplace_default_order_quad(int method);
/* 1 when the inversion of fn by o would run in quad precision (o->precision,
 * the method, and whether fn has evalq). */
int ml_laplace_uses_quad(const ml_laplace_opts *o, const ml_laplace_fn *fn);
/* Valid order range [lo, hi] for a method. */
void ml_laplace_order_range(int method, int *lo, int *hi);
const char *ml_laplace_method_name(int method);
/* Index of a method name or -1. */
int ml_laplace_method_parse(const char *name);

/* f[i] = L^-1[F](t[i]) for nt times t[i] > 0. Per-t methods (talbot, euler,
 * stehfest) use nodes scaled by each t; dehoog, weeks and fourier evaluate F
 * once for all t (dehoog/fourier with a period from max t; Talbot with
 * `shared` contours is ml_laplace_invert_many). */
int ml_laplace_invert(const ml_laplace_opts *o, const ml_laplace_fn *fn, size_t nt,
                      const double *t, double *f);

/* Like ml_laplace_invert but reuses one set of F values for many times where
 * the method allows it: Talbot on a common contour per band of times within a
 * factor 2 (Weideman & Trefethen 2007), de Hoog, Weeks, Fourier. For Euler and
 * Stehfest it is the same as ml_laplace_invert. *nevals (if non-NULL) receives
 * the number of F evaluations used. */
int ml_laplace_invert_many(const ml_laplace_opts *o, const ml_laplace_fn *fn, size_t nt,
                           const double *t, double *f, size_t *nevals);

/* Fourier method on its natural grid: f at t_j = j*2T/N (j = 0..n-1, n <= N)
 * from one FFT of N = opts->M terms. */
int ml_laplace_fourier_grid(const ml_laplace_opts *o, const ml_laplace_fn *fn, double T,
                            size_t n, double *t, double *f);

/* Weeks coefficients a[0..N-1] for (sigma, b) (Weideman 1999, eq. 2.9 via one
 * FFT of length 2N); f(t) = e^{(sigma-b)t} sum a_n L_n(2bt). */
int ml_laplace_weeks_coeffs(const ml_laplace_fn *fn, int N, double sigma, double b,
                            ml_complex *a);

/* Gaver-Stehfest weights V_1..V_N (N even, 2..60) in long double. */
int ml_laplace_stehfest_weights(int N, long double *V);
#if ML_LAPLACE_HAVE_QUAD
/* The same weights in quad precision. */
int ml_laplace_stehfest_weightsq(int N, __float128 *V);
#endif

/* ---- the test suite (Davies & Martin 1979 style) ---- */
typedef enum { ML_LSUITE_SMOOTH = 0, ML_LSUITE_OSCILLATORY, ML_LSUITE_JUMP } ml_lsuite_kind;

typedef struct ml_lsuite_entry {
    const char *name;     /* "exp(-t)" */
    const char *F_text;   /* "1/(s+1)" */
    int kind;             /* ml_lsuite_kind */
    double abscissa;
    int njumps;
    double jumps[4];      /* jump locations for the first jumps (square wave: 1,2,3,...) */
    double jump_period;   /* >0: jumps repeat with this period */
} ml_lsuite_entry;

int ml_lsuite_count(void);
const ml_lsuite_entry *ml_lsuite_get(int i);
/* The C transform of suite entry i (params point into static constant data). */
ml_laplace_fn ml_lsuite_fn(int i);
/* Exact f(t) of suite entry i. */
double ml_lsuite_exact(int i, double t);
/* Distance from t to the nearest jump of entry i (inf when none). */
double ml_lsuite_jump_distance(int i, double t);

#ifdef __cplusplus
}
#endif
#endif
