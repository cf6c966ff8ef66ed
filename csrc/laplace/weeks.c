/* moonlab laplace — Weeks' method (Weeks 1966; Weideman 1999):
 *   f(t) = e^{(sigma-b)t} sum_{n<N} a_n L_n(2bt),
 * with a_n the Taylor coefficients of (b + iy) F(sigma + iy), y = b cot(theta/2),
 * on the unit circle, computed by one FFT of length 2N at midpoints theta_j. */
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lp_internal.h"

/* See laplace.h. */
int ml_laplace_weeks_coeffs(const ml_laplace_fn *fn, int N, double sigma, double b,
                            double complex *a) {
    if (N < 1 || !(b > 0) || !isfinite(sigma))
        return ml_fail(ML_EINVAL, "Weeks: N = %d, sigma = %g, b = %g (need N >= 1, b > 0)", N,
                       sigma, b);
    int L = 2 * N;
    double h = M_PI / N;
    fftw_complex *buf = fftw_malloc(sizeof(fftw_complex) * L);
    double complex *s = malloc(sizeof(double complex) * L * 2);
    if (!buf || !s) {
        fftw_free(buf);
        free(s);
        return ml_fail(ML_ENOMEM, "out of memory for Weeks N = %d", N);
    }
    double complex *G = s + L;
    for (int j = 0; j < L; j++) {
        double th = (j - N + 0.5) * h;
        s[j] = sigma + I * (b / tan(th / 2));
    }
    int rc = ml_lp_eval(fn, 0.0, (size_t)L, s, G);
    if (rc == ML_OK) {
        fftw_plan p;
#pragma omp critical(ml_fftw_plan)
        p = fftw_plan_dft_1d(L, buf, buf, FFTW_FORWARD, FFTW_ESTIMATE);
        for (int j = 0; j < L; j++) {
            double complex g = (b + I * cimag(s[j])) * G[j];
            buf[j][0] = creal(g);
            buf[j][1] = cimag(g);
        }
        fftw_execute(p);
#pragma omp critical(ml_fftw_plan)
        fftw_destroy_plan(p);
        for (int n = 0; n < N; n++) {
            double complex c = buf[n][0] + I * buf[n][1];
            a[n] = (n % 2 ? -1.0 : 1.0) * cexp(-I * n * h / 2) * c / L;
        }
    }
    fftw_free(buf);
    free(s);
    return rc;
}

/* Weideman's error estimate at time t: truncation (tail of 2N coefficients)
 * plus conditioning, times the growth e^{sigma t}. */
static int weeks_error(const ml_laplace_fn *fn, int N, double sigma, double b, double t,
                       double complex *work, double *err) {
    int rc = ml_laplace_weeks_coeffs(fn, 2 * N, sigma, b, work);
    if (rc) return rc;
    double tail = 0, head = 0;
    for (int n = 0; n < N; n++) head += cabs(work[n]);
    for (int n = N; n < 2 * N; n++) tail += cabs(work[n]);
    *err = exp(sigma * t) * (tail + 1e-16 * head);
    if (!isfinite(*err)) *err = INFINITY;
    return ML_OK;
}

static double laguerre_sum(const double complex *a, int N, double x) {
    /* sum a_n e^{-x/2} L_n(x) by the forward recurrence of the scaled functions */
    double e = exp(-x / 2), l0 = e, l1 = (1 - x) * e;
    double acc = creal(a[0]) * l0;
    if (N > 1) acc += creal(a[1]) * l1;
    for (int n = 1; n + 1 < N; n++) {
        double l2 = ((2 * n + 1 - x) * l1 - n * l0) / (n + 1);
        acc += creal(a[n + 1]) * l2;
        l0 = l1;
        l1 = l2;
    }
    return acc;
}

int ml_lp_weeks(const ml_laplace_opts *o, const ml_laplace_fn *fn, int N, size_t nt,
                const double *t, double *f, size_t *nevals) {
    double a = ml_lp_shift(o, fn), tmax;
    ml_lp_check_times(nt, t, &tmax, NULL);
    double sigma = o->sigma, b = o->b;
    if (!isnan(sigma) && !(sigma > a))
        return ml_fail(ML_EINVAL, "Weeks sigma = %g must exceed the abscissa %g", sigma, a);
    if (!isnan(b) && !(b > 0)) return ml_fail(ML_EINVAL, "Weeks b = %g, expected b > 0", b);
    double complex *work = malloc(sizeof(double complex) * 4 * N);
    if (!work) return ml_fail(ML_ENOMEM, "out of memory for Weeks N = %d", N);
    int rc = ML_OK;
    if (isnan(sigma) || isnan(b)) {
        /* Coarse log-grid search, then pattern refinement (Weideman 1999, §4). */
        double best = INFINITY, bs = 0, bb = 0;
        for (int i = 0; i < 9 && rc == ML_OK; i++) {
            double sg = isnan(sigma) ? a + 0.25 * pow(2.0, i) / tmax : sigma;
            for (int j = 0; j < 10 && rc == ML_OK; j++) {
                double bj = isnan(b) ? pow(2.0, j) * N / (512.0 * tmax) : b;
                double err;
                rc = weeks_error(fn, N, sg, bj, tmax, work, &err);
                if (nevals) *nevals += 4 * (size_t)N;
                if (rc == ML_OK && err < best) { best = err; bs = sg; bb = bj; }
                if (!isnan(b)) break;
            }
            if (!isnan(sigma)) break;
        }
        double ds = 0.5, db = 0.5; /* multiplicative steps */
        for (int it = 0; it < 24 && rc == ML_OK; it++) {
            int moved = 0;
            for (int dir = 0; dir < 4 && rc == ML_OK; dir++) {
                double sg = bs, bj = bb;
                if (dir < 2 && isnan(sigma)) sg = a + (bs - a) * (dir == 0 ? 1 + ds : 1 / (1 + ds));
                else if (dir >= 2 && isnan(b)) bj = bb * (dir == 2 ? 1 + db : 1 / (1 + db));
                else continue;
                double err;
                rc = weeks_error(fn, N, sg, bj, tmax, work, &err);
                if (nevals) *nevals += 4 * (size_t)N;
                if (rc == ML_OK && err < best) { best = err; bs = sg; bb = bj; moved = 1; }
            }
            if (!moved) { ds /= 2; db /= 2; }
        }
        if (rc == ML_OK && !isfinite(best))
            rc = ml_fail(ML_ENUMERIC, "Weeks: no (sigma, b) gave a finite error estimate");
        sigma = bs;
        b = bb;
    }
    if (rc == ML_OK) rc = ml_laplace_weeks_coeffs(fn, N, sigma, b, work);
    if (rc == ML_OK) {
        if (nevals) *nevals += 2 * (size_t)N;
#pragma omp parallel for if (nt > 256)
        for (size_t i = 0; i < nt; i++)
            f[i] = exp(sigma * t[i]) * laguerre_sum(work, N, 2 * b * t[i]);
    }
    free(work);
    return rc;
}
