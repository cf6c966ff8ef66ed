/* moonlab laplace — Fourier-series inversion (Dubner & Abate 1968; Durbin 1974):
 *   f(t) ~ e^{ct}/T [ F(c)/2 + sum_{k=1}^{N-1} Re F(c + i k pi/T) e^{i k pi t/T} ],
 * c = a - ln(tol)/(2T), terms damped by Lanczos sigma factors. On the grid t_j = t0 + j*2T/L the sum is one inverse
 * FFT of length L >= N; elsewhere it is summed directly. */
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include "lp_internal.h"

static int coeffs(const ml_laplace_fn *fn, double a, double c, double T, int N,
                  double complex *Fk, size_t *nevals) {
    double complex *s = malloc(sizeof(double complex) * N);
    if (!s) return ml_fail(ML_ENOMEM, "out of memory for %d Fourier terms", N);
    for (int k = 0; k < N; k++) s[k] = (c - a) + I * M_PI * k / T;
    int rc = ml_lp_eval(fn, a, (size_t)N, s, Fk);
    free(s);
    if (rc == ML_OK) {
        Fk[0] *= 0.5;
        /* Lanczos sigma factors damp the truncation (Gibbs) error of the series */
        for (int k = 1; k < N; k++) {
            double x = M_PI * k / N;
            Fk[k] *= sin(x) / x;
        }
        if (nevals) *nevals += (size_t)N;
    }
    return rc;
}

/* Sum on the uniform grid t0 + j*m*delta (j < n), delta = 2T/L, with one FFT. */
static int grid_fft(const double complex *Fk, int N, double c, double T, size_t L, size_t m,
                    double t0, size_t n, double *f) {
    if (L > ML_LP_FFT_MAX)
        return ml_fail(ML_EINVAL, "FFT of %zu points exceeds the cap %zu", L, ML_LP_FFT_MAX);
    fftw_complex *buf = fftw_malloc(sizeof(fftw_complex) * L);
    if (!buf) return ml_fail(ML_ENOMEM, "out of memory for an FFT of length %zu", L);
    fftw_plan p;
#pragma omp critical(ml_fftw_plan)
    p = fftw_plan_dft_1d((int)L, buf, buf, FFTW_BACKWARD, FFTW_ESTIMATE);
    if (!p) {
        fftw_free(buf);
        return ml_fail(ML_ENOMEM, "FFTW could not plan a transform of length %zu", L);
    }
    for (size_t k = 0; k < L; k++) {
        double complex v = k < (size_t)N ? Fk[k] * cexp(I * M_PI * k * t0 / T) : 0;
        buf[k][0] = creal(v);
        buf[k][1] = cimag(v);
    }
    fftw_execute(p);
    double delta = 2 * T / L;
    for (size_t j = 0; j < n; j++) {
        double tj = t0 + j * m * delta;
        f[j] = exp(c * tj) / T * buf[j * m][0];
    }
#pragma omp critical(ml_fftw_plan)
    fftw_destroy_plan(p);
    fftw_free(buf);
    return ML_OK;
}

/* See laplace.h. */
int ml_laplace_fourier_grid(const ml_laplace_opts *o, const ml_laplace_fn *fn, double T,
                            size_t n, double *t, double *f) {
    int N = o->M ? o->M : ml_laplace_default_order(ML_LAPLACE_FOURIER);
    int lo, hi;
    ml_laplace_order_range(ML_LAPLACE_FOURIER, &lo, &hi);
    if (N < lo || N > hi) return ml_fail(ML_EINVAL, "Fourier: M = %d, expected %d..%d", N, lo, hi);
    if ((size_t)N < n) return ml_fail(ML_EINVAL, "Fourier: n = %zu exceeds M = %d", n, N);
    if (!(T > 0) || !isfinite(T)) return ml_fail(ML_EINVAL, "T = %g, expected a finite T > 0", T);
    double a = ml_lp_shift(o, fn), tol = isnan(o->tol) ? 1e-8 : o->tol;
    if (!(tol > 0 && tol < 1)) return ml_fail(ML_EINVAL, "tol = %g, expected 0 < tol < 1", tol);
    double c = a - log(tol) / (2 * T);
    double complex *Fk = malloc(sizeof(double complex) * N);
    if (!Fk) return ml_fail(ML_ENOMEM, "out of memory");
    int rc = coeffs(fn, a, c, T, N, Fk, NULL);
    if (rc == ML_OK) rc = grid_fft(Fk, N, c, T, (size_t)N, 1, 0.0, n, f);
    for (size_t j = 0; j < n; j++) t[j] = j * 2 * T / N;
    free(Fk);
    return rc;
}

int ml_lp_fourier(const ml_laplace_opts *o, const ml_laplace_fn *fn, int N, size_t nt,
                  const double *t, double *f, size_t *nevals) {
    double a = ml_lp_shift(o, fn), tmax, tmin;
    double tol = isnan(o->tol) ? 1e-8 : o->tol;
    if (!(tol > 0 && tol < 1)) return ml_fail(ML_EINVAL, "tol = %g, expected 0 < tol < 1", tol);
    ml_lp_check_times(nt, t, &tmax, &tmin);
    double T = isnan(o->T) ? 2.0 * tmax : o->T;
    if (!(T >= tmax) || !isfinite(T) || T > 1e6 * tmax)
        return ml_fail(ML_EINVAL, "T = %g, expected max t = %g <= T <= 1e6 max t", T, tmax);
    /* uniform grid? */
    int uniform = nt >= 8;
    double dt = nt > 1 ? (t[nt - 1] - t[0]) / (nt - 1) : 0;
    for (size_t j = 0; j < nt && uniform; j++)
        if (fabs(t[j] - (t[0] + j * dt)) > 1e-9 * tmax) uniform = 0;
    if (uniform && !(dt > 0)) uniform = 0;
    size_t L = 16, m = 1;
    if (uniform) {
        /* FFT grid delta = dt/m with L*delta/2 = T' >= T, L >= N a power of two */
        while (L < (size_t)N) L <<= 1;
        double mm = floor(dt * L / (2 * T));
        if (mm >= 1) {
            m = (size_t)mm;
        } else {
            /* the FFT grid spacing must not exceed dt: L >= 2T/dt, capped */
            if (2 * T / dt > (double)ML_LP_FFT_MAX)
                return ml_fail(ML_EINVAL,
                               "T = %g with a time step of %g needs an FFT of %.3g points, more "
                               "than the cap %zu: choose T <= %g",
                               T, dt, 2 * T / dt, ML_LP_FFT_MAX, dt * (double)ML_LP_FFT_MAX / 2);
            while ((double)L * dt < 2 * T) L <<= 1;
            m = 1;
        }
        T = L * (dt / m) / 2;
    }
    double c = a - log(tol) / (2 * T);
    double complex *Fk = malloc(sizeof(double complex) * N);
    if (!Fk) return ml_fail(ML_ENOMEM, "out of memory for %d Fourier terms", N);
    int rc = coeffs(fn, a, c, T, N, Fk, nevals);
    if (rc == ML_OK && uniform) {
        rc = grid_fft(Fk, N, c, T, L, m, t[0], nt, f);
    } else if (rc == ML_OK) {
#pragma omp parallel for if (ML_LP_PAR(nt * (size_t)N))
        for (size_t i = 0; i < nt; i++) {
            double complex w = cexp(I * M_PI * t[i] / T), z = 1;
            double acc = 0;
            for (int k = 0; k < N; k++) {
                acc += creal(Fk[k] * z);
                z *= w;
                if ((k & 63) == 63) z = cexp(I * M_PI * (k + 1) * t[i] / T);
            }
            f[i] = exp(c * t[i]) / T * acc;
        }
    }
    free(Fk);
    return rc;
}
