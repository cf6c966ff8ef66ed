/* moonlab chrom — chromatograms on a uniform time grid by the Fourier series of the
 * inverse transform (Dubner & Abate 1968), summed for all times by one real inverse FFT:
 *   f(t) = (e^{ct}/T) [F(c)/2 + sum_{k=1}^{N-1} Re F(c + ik pi/T) e^{ik pi t/T}].
 * On the data grid t_j = t0 + j dt with T = L dt/2 the phase is e^{2 pi i jk/L}, so term k
 * lands in FFT bin k mod L (folded onto L - k with the conjugate above L/2): one c2r FFT of
 * length L ~ 4 t_max/dt, whatever N.
 * Errors: aliasing sum_{j>=1} e^{-2jcT} f(t + 2jT) <= ALIAS_TOL max f (c = -ln(ALIAS_TOL)/2T,
 * T >= 2 t_max), and truncation, bounded term by term by |C_in(s_k)| e^{-tau Da Re s/(s+kappa)}
 * (|G| <= that for Re s > 0): a Gaussian injection decays like e^{-w^2 sigma^2/2}, and each
 * analyte's own factor e^{-Da} lets strongly retained analytes stop after a few hundred terms. */
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lp_internal.h"
#include "moonlab/chrom.h"

/* e^{-2cT}: relative weight of the first alias f(t + 2T) */
#define ALIAS_TOL 1e-15
/* absolute truncation error allowed for a unit-mass curve (peaks are >= ~0.1) */
#define TRUNC_ABS 1e-15
/* T >= T_FACTOR t_max keeps the roundoff amplification e^{c t_max} <= ALIAS_TOL^(-1/(2 T_FACTOR)) */
#define T_FACTOR 2.0
#define N_MAX (1 << 22)

struct ml_chrom_series {
    ml_chrom_params base;
    size_t n, L;
    double t0, dt, T, c, tau, ectmax;
    int N;                /* terms for Da = 0 (the most any analyte needs) */
    double complex *s;    /* nodes c + ik pi/T */
    double complex *cin;  /* amp C_in(s_k) [e^{-tau s_k} without dispersion] e^{ik pi t0/T}/2 */
    double *bound;        /* truncation bound of term k without the analyte factor */
    double *ect;          /* e^{c t_j}/T */
    fftw_plan plan;       /* c2r of length L, executed on per-call buffers */
};

/* smallest 2^a 3^b 5^c >= x */
static size_t nice_size(size_t x) {
    size_t best = (size_t)-1;
    for (size_t p2 = 1; p2 < 2 * x + 2; p2 *= 2)
        for (size_t p3 = p2; p3 < 2 * x + 2; p3 *= 3)
            for (size_t p5 = p3; p5 < 2 * x + 2; p5 *= 5)
                if (p5 >= x && p5 < best) best = p5;
    return best;
}

/* FFT buffers: the spectrum X (L/2+1) and the real output (L); G and the derivative factor
 * at the nodes. Separate fftw_malloc blocks: the plan and every execution see the same
 * alignment. */
typedef struct {
    fftw_complex *X;
    double *out;
    double complex *G, *dh;
} series_buf;

static void buf_free(series_buf *b) {
    fftw_free(b->X);
    fftw_free(b->out);
    free(b->G);
    b->X = NULL;
    b->out = NULL;
    b->G = NULL;
}

static int buf_init(series_buf *b, const struct ml_chrom_series *S) {
    b->X = fftw_malloc(sizeof(fftw_complex) * (S->L / 2 + 1));
    b->out = fftw_malloc(sizeof(double) * S->L);
    b->G = malloc(sizeof(double complex) * 2 * (size_t)S->N);
    b->dh = b->G ? b->G + S->N : NULL;
    if (!b->X || !b->out || !b->G) {
        buf_free(b);
        return ml_fail(ML_ENOMEM, "out of memory for the series buffers (%zu points)", S->L);
    }
    return ML_OK;
}

void ml_chrom_series_free(ml_chrom_series *S) {
    if (!S) return;
    if (S->plan) {
#pragma omp critical(ml_fftw_plan)
        fftw_destroy_plan(S->plan);
    }
    free(S->s);
    free(S);
}

int ml_chrom_series_nodes(const ml_chrom_series *S) { return S ? S->N : 0; }

/* See chrom.h. */
ml_chrom_series *ml_chrom_series_new(const ml_chrom_params *base, size_t n, double t0, double dt,
                                     int *rc) {
    *rc = ml_chrom_check(base);
    if (*rc) return NULL;
    if (base->injection != ML_CHROM_GAUSSIAN) {
        *rc = ml_fail(ML_EINVAL, "the Fourier series needs a Gaussian injection");
        return NULL;
    }
    double tmax = t0 + dt * (double)(n - 1);
    if (n < 2 || !(dt > 0) || !(t0 >= 0) || !isfinite(tmax)) {
        *rc = ml_fail(ML_EINVAL, "series grid: n = %zu, t0 = %g, dt = %g", n, t0, dt);
        return NULL;
    }
    double Lmin = ceil(2 * T_FACTOR * tmax / dt);
    if (Lmin > (double)ML_LP_FFT_MAX) {
        *rc = ml_fail(ML_EINVAL, "the series would need an FFT of %.3g points (cap %zu)", Lmin,
                      ML_LP_FFT_MAX);
        return NULL;
    }
    size_t L = nice_size((size_t)Lmin < 16 ? 16 : (size_t)Lmin);
    double T = (double)L * dt / 2, c = -log(ALIAS_TOL) / (2 * T);
    double tau = ml_chrom_tau(base->P, base->x);
    double amp = base->P > 1 ? ml_chrom_velocity(base->P, 0) / ml_chrom_velocity(base->P, base->x) : 1.0;
    double delay = base->t0 + (base->Pe > 0 ? 0.0 : tau), sg2 = base->width * base->width;
    /* terms needed for Da = 0: |term k| e^{c t_max}/T with the Gaussian tail summed */
    double ectmax = exp(c * tmax) / T;
    double wN = sqrt(fmax(0.0, c * c - 2 * (c * delay + log(1e-2 * TRUNC_ABS / (amp * ectmax))) / sg2));
    double Nd = ceil(wN * T / M_PI) + 2;
    if (!(Nd <= N_MAX)) {
        *rc = ml_fail(ML_EINVAL, "the series would need %.3g terms (cap %d)", Nd, N_MAX);
        return NULL;
    }
    int N = (int)Nd;
    ml_chrom_series *S = calloc(1, sizeof *S);
    if (!S) {
        *rc = ml_fail(ML_ENOMEM, "out of memory for the series plan");
        return NULL;
    }
    *S = (ml_chrom_series){*base, n, L, t0, dt, T, c, tau, ectmax, N, NULL, NULL, NULL, NULL, NULL};
    S->s = malloc(sizeof(double complex) * 2 * (size_t)N + sizeof(double) * ((size_t)N + n));
    if (!S->s) {
        free(S);
        *rc = ml_fail(ML_ENOMEM, "out of memory for %d series nodes", N);
        return NULL;
    }
    S->cin = S->s + N;
    S->bound = (double *)(S->cin + N);
    S->ect = S->bound + N;
    /* the parts shared by every analyte, in closed form (one exponential per node):
     * amp C_in(s) e^{-tau s} e^{ik pi t0/T}/2, C_in(s) = e^{-s t_inj + s^2 sigma^2/2} (without
     * e^{-tau s} with dispersion: G then carries the whole x-dependence) */
    for (int k = 0; k < N && *rc == ML_OK; k++) {
        double w = M_PI * k / T;
        double complex sk = c + I * w, e = -sk * delay + 0.5 * sk * sk * sg2;
        S->s[k] = sk;
        S->cin[k] = 0.5 * amp * cexp(e + I * (w * t0));
        /* sum of |terms| from k on (Gaussian tail: ratio e^{-w sigma^2 pi/T} per term) */
        double ratio = exp(-(w + 0.5 * M_PI / T) * sg2 * M_PI / T);
        S->bound[k] = 2 * ectmax * 0.5 * amp * exp(creal(e)) / (1 - fmin(ratio, 1 - 1e-12));
        if (!isfinite(creal(S->cin[k])) || !isfinite(cimag(S->cin[k])))
            *rc = ml_fail(ML_ENUMERIC, "series: injection transform not finite at node %d", k);
    }
    if (*rc == ML_OK) S->cin[0] = creal(S->cin[0]);
    for (size_t j = 0; j < n; j++) S->ect[j] = exp(c * (t0 + (double)j * dt)) / T;
    series_buf b = {0};
    if (*rc == ML_OK) *rc = buf_init(&b, S);
    if (*rc == ML_OK) {
#pragma omp critical(ml_fftw_plan)
        S->plan = fftw_plan_dft_c2r_1d((int)L, b.X, b.out, FFTW_ESTIMATE);
        if (!S->plan) *rc = ml_fail(ML_ENOMEM, "FFTW could not plan a transform of %zu points", L);
        buf_free(&b);
    }
    if (*rc) {
        ml_chrom_series_free(S);
        return NULL;
    }
    return S;
}

/* Inverts the spectrum scale * G_k * w_k (w = NULL: 1), k < Nk, into dst[j] = f(t_j). */
static void invert_into(const ml_chrom_series *S, series_buf *b, const double complex *G,
                        const double complex *w, double scale, int Nk, double *dst) {
    size_t L = S->L, h = L / 2;
    memset(b->X, 0, sizeof(fftw_complex) * (h + 1));
    for (int k = 0; k < Nk; k++) {
        double complex v = scale * G[k] * (w ? w[k] : 1.0);
        size_t q = (size_t)k % L;
        if (q == 0 || (q == h && L % 2 == 0)) { /* real bins take the full real part */
            b->X[q][0] += k ? 2 * creal(v) : creal(v);
        } else if (q < h || (q == h && L % 2)) {
            b->X[q][0] += creal(v);
            b->X[q][1] += cimag(v);
        } else { /* Re(v e^{i 2pi jq/L}) = Re(conj(v) e^{i 2pi j(L-q)/L}) */
            b->X[L - q][0] += creal(v);
            b->X[L - q][1] -= cimag(v);
        }
    }
    fftw_execute_dft_c2r(S->plan, b->X, b->out);
    for (size_t j = 0; j < S->n; j++) dst[j] = S->ect[j] * b->out[j];
}

/* G_k (with the shared factors) and d(ln G)/dh for one analyte; returns the number of terms
 * above the truncation bound. */
static int analyte_spectrum(const ml_chrom_series *S, double Da, double ka, series_buf *b) {
    const ml_chrom_params *p = &S->base;
    double tau = S->tau;
    int Nk = S->N;
    for (int k = 0; k < S->N; k++) {
        double complex s = S->s[k], d = s + ka;
        double d2 = creal(d) * creal(d) + cimag(d) * cimag(d); /* Re d >= kappa > 0 */
        double complex r = s * conj(d) / d2;                   /* s/(s + kappa) */
        if (p->Pe > 0) {
            double complex q = csqrt(1 + 4 * (s + Da * r) / p->Pe);
            b->G[k] = S->cin[k] * cexp(p->x * (p->Pe / 2) * (1 - q));
            b->dh[k] = -p->x / q;
        } else {
            /* Re r increases with k and |C_in| decreases: the first term below the bound
             * ends the series for this analyte */
            double decay = -tau * Da * creal(r);
            if (S->bound[k] * exp(decay) < TRUNC_ABS) {
                Nk = k;
                break;
            }
            b->G[k] = S->cin[k] * cexp(decay - I * (tau * Da * cimag(r)));
            b->dh[k] = -tau;
        }
    }
    return Nk;
}

/* See chrom.h. */
int ml_chrom_series_eval(ml_chrom_series *S, int K, const double *Da, const double *kappa,
                         const double *A, double *y, double *ydot, double *curves, double *dDa,
                         double *dka) {
    int N = S->N, rc;
    size_t n = S->n;
    /* the spectrum of the sum, accumulated in analyte order; one thread: a call takes
     * 0.1-1 ms, where a parallel region costs as much as it saves once the cores are
     * contended (and milliseconds after an idle pause) */
    int sum = y || ydot;
    double complex *acc = sum ? calloc((size_t)N, sizeof(double complex)) : NULL;
    double complex *w = malloc(sizeof(double complex) * (size_t)N);
    series_buf b = {0};
    rc = (sum && !acc) || !w ? ml_fail(ML_ENOMEM, "out of memory for the series") : buf_init(&b, S);
    int Nmax = 0;
    for (int k = 0; k < K && rc == ML_OK; k++) {
        int Nk = analyte_spectrum(S, Da[k], kappa[k], &b);
        if (Nk > Nmax) Nmax = Nk;
        if (curves) invert_into(S, &b, b.G, NULL, 1.0, Nk, curves + (size_t)k * n);
        if (dDa || dka)
            for (int i = 0; i < Nk; i++) w[i] = b.dh[i] * S->s[i] / (S->s[i] + kappa[k]); /* d ln G/d Da */
        if (dDa) invert_into(S, &b, b.G, w, A[k], Nk, dDa + (size_t)k * n);
        if (dka) {
            for (int i = 0; i < Nk; i++) w[i] *= -Da[k] / (S->s[i] + kappa[k]); /* d ln G/d kappa */
            invert_into(S, &b, b.G, w, A[k], Nk, dka + (size_t)k * n);
        }
        if (acc)
            for (int i = 0; i < Nk; i++) acc[i] += A[k] * b.G[i];
    }
    if (rc == ML_OK && y) invert_into(S, &b, acc, NULL, 1.0, Nmax, y);
    if (rc == ML_OK && ydot) invert_into(S, &b, acc, S->s, 1.0, Nmax, ydot); /* L[c'] = s C */
    buf_free(&b);
    free(acc);
    free(w);
    for (size_t j = 0; y && j < n && rc == ML_OK; j++)
        if (!isfinite(y[j])) rc = ml_fail(ML_ENUMERIC, "series: non-finite model value at t[%zu]", j + 1);
    return rc;
}

/* See chrom.h. */
int ml_chrom_uniform(size_t n, const double *t, double *t0, double *dt) {
    if (n < 8 || !(t[0] >= 0)) return 0;
    double d = (t[n - 1] - t[0]) / (double)(n - 1), tm = fabs(t[n - 1]);
    if (!(d > 0) || !isfinite(d)) return 0;
    for (size_t j = 0; j < n; j++)
        if (fabs(t[j] - (t[0] + (double)j * d)) > 1e-9 * tm) return 0;
    *t0 = t[0];
    *dt = d;
    return 1;
}
