/* moonlab laplace — helpers shared by the inversion methods (internal). */
#ifndef ML_LP_INTERNAL_H
#define ML_LP_INTERNAL_H

#include "moonlab/laplace.h"

/* Largest Gaver-Stehfest order (quad evaluation needs up to ~40; the weights
 * stay representable far beyond). */
#define ML_LP_STEHFEST_NMAX 60

/* Work (node evaluations or multiply-adds) below which a loop runs on one thread: small
 * inversions must never get slower with more threads (a parallel region costs 10-100 us,
 * and milliseconds when the cores are contended or the pool has gone to sleep). */
#define ML_LP_PAR_WORK 40000
#define ML_LP_PAR(work) ((double)(work) >= ML_LP_PAR_WORK)

/* Largest FFT length used by the Fourier-series methods (2^26 points, 1 GiB of complex
 * doubles); larger requests raise an error instead of running for minutes. */
#define ML_LP_FFT_MAX ((size_t)1 << 26)

/* out[i] = F(s[i] + shift) for i < n; batches (parallel when fn->threadsafe);
 * rejects non-finite F values with ML_ENUMERIC. s is not modified. */
int ml_lp_eval(const ml_laplace_fn *fn, double shift, size_t n, const double complex *s,
               double complex *out);

/* Shift a of the options (NaN -> fn->abscissa). */
double ml_lp_shift(const ml_laplace_opts *o, const ml_laplace_fn *fn);

int ml_lp_check_times(size_t nt, const double *t, double *tmax, double *tmin);

int ml_lp_dehoog(const ml_laplace_opts *o, const ml_laplace_fn *fn, int M, double band_ratio,
                 size_t nt,
                 const double *t, double *f, size_t *nevals);
int ml_lp_weeks(const ml_laplace_opts *o, const ml_laplace_fn *fn, int N, size_t nt,
                const double *t, double *f, size_t *nevals);
int ml_lp_fourier(const ml_laplace_opts *o, const ml_laplace_fn *fn, int N, size_t nt,
                  const double *t, double *f, size_t *nevals);
/* Talbot/Euler/Stehfest per time in double precision (pert.c). */
int ml_lp_pert(const ml_laplace_opts *o, const ml_laplace_fn *fn, int M, size_t nt,
               const double *t, double *f, size_t *nevals);
/* Talbot/Euler/Stehfest per time in quad precision (fn->evalq; quad.c). */
int ml_lp_pert_quad(const ml_laplace_opts *o, const ml_laplace_fn *fn, int M, size_t nt,
                    const double *t, double *f, size_t *nevals);
int ml_lp_talbot_shared(const ml_laplace_opts *o, const ml_laplace_fn *fn, int M, size_t nt,
                        const double *t, double *f, size_t *nevals);

#endif
