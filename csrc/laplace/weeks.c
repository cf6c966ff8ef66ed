/* moonlab laplace — Weeks' method (Weeks 1966; Weideman 1999):
 *   f(t) = e^{(sigma-b)t} sum_{n<N} a_n L_n(2bt),
 * with a_n the Taylor coefficients of (b + iy) F(sigma + iy), y = b cot(theta/2),
 * on the unit circle, computed by one FFT of length 2N at midpoints theta_j. */
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lp_internal.h"

/* Workspace for repeated coefficient computations with one N (the parameter
 * search evaluates hundreds of (sigma, b)): the FFT plan, the node pattern
 * cot(theta_j/2) and the phases are computed once. */
typedef struct {
    int N, L;
    fftw_plan plan;          /* in-place, length L = 2N; executed with per-thread buffers */
    double *cot;             /* cot(theta_j/2), theta_j = (j - N + 1/2) pi/N */
    double complex *phase;   /* (-1)^n e^{-i n h/2} / L */
} weeks_ws;

typedef struct {
    fftw_complex *buf;
    double complex *s, *G;
} weeks_buf;

static void wb_free(weeks_buf *b) {
    fftw_free(b->buf);
    free(b->s);
    b->buf = NULL;
    b->s = NULL;
}

static int wb_init(weeks_buf *b, int L) {
    b->buf = fftw_malloc(sizeof(fftw_complex) * L);
    b->s = malloc(sizeof(double complex) * 2 * L);
    b->G = b->s ? b->s + L : NULL;
    if (!b->buf || !b->s) {
        wb_free(b);
        return ml_fail(ML_ENOMEM, "out of memory for Weeks (%d nodes)", L);
    }
    return ML_OK;
}

static void ws_free(weeks_ws *w) {
    if (w->plan) {
#pragma omp critical(ml_fftw_plan)
        fftw_destroy_plan(w->plan);
    }
    free(w->cot);
    w->plan = NULL;
    w->cot = NULL;
}

static int ws_init(weeks_ws *w, int N) {
    w->N = N;
    w->L = 2 * N;
    w->plan = NULL;
    w->cot = malloc(sizeof(double) * w->L + sizeof(double complex) * N);
    fftw_complex *tmp = fftw_malloc(sizeof(fftw_complex) * w->L);
    if (!w->cot || !tmp) {
        free(w->cot);
        fftw_free(tmp);
        w->cot = NULL;
        return ml_fail(ML_ENOMEM, "out of memory for Weeks N = %d", N);
    }
    w->phase = (double complex *)(w->cot + w->L);
    double h = M_PI / N;
    for (int j = 0; j < w->L; j++) w->cot[j] = 1.0 / tan((j - N + 0.5) * h / 2);
    for (int n = 0; n < N; n++) w->phase[n] = (n % 2 ? -1.0 : 1.0) * cexp(-I * n * h / 2) / w->L;
#pragma omp critical(ml_fftw_plan)
    w->plan = fftw_plan_dft_1d(w->L, tmp, tmp, FFTW_FORWARD, FFTW_ESTIMATE);
    fftw_free(tmp);
    if (!w->plan) {
        ws_free(w);
        return ml_fail(ML_ENOMEM, "FFTW plan of length %d failed", 2 * N);
    }
    return ML_OK;
}

/* The L = 2N FFT outputs of (b + iy)F(sigma + iy) into bf->buf; F values checked. */
static int ws_fft(const weeks_ws *w, weeks_buf *bf, const ml_laplace_fn *fn, double sigma,
                  double b) {
    int L = w->L;
    for (int j = 0; j < L; j++) bf->s[j] = sigma + I * (b * w->cot[j]);
    int rc = fn->eval(fn->params, (size_t)L, bf->s, bf->G);
    if (rc) return rc;
    for (int j = 0; j < L; j++) {
        double complex g = bf->G[j];
        if (!isfinite(creal(g)) || !isfinite(cimag(g)))
            return ml_fail(ML_ENUMERIC, "F(%g%+gi) = %g%+gi is not finite", creal(bf->s[j]),
                           cimag(bf->s[j]), creal(g), cimag(g));
        g *= b + I * cimag(bf->s[j]);
        bf->buf[j][0] = creal(g);
        bf->buf[j][1] = cimag(g);
    }
    fftw_execute_dft(w->plan, bf->buf, bf->buf);
    return ML_OK;
}

/* See laplace.h. */
int ml_laplace_weeks_coeffs(const ml_laplace_fn *fn, int N, double sigma, double b,
                            double complex *a) {
    if (N < 1 || N > (1 << 20)) return ml_fail(ML_EINVAL, "Weeks: N = %d, expected 1..2^20", N);
    if (!isfinite(sigma)) return ml_fail(ML_EINVAL, "Weeks: sigma = %g, expected a finite number", sigma);
    if (!(b > 0) || !isfinite(b)) return ml_fail(ML_EINVAL, "Weeks: b = %g, expected a finite b > 0", b);
    if (!fn || !fn->eval) return ml_fail(ML_EINVAL, "transform has no eval function");
    weeks_ws w;
    weeks_buf bf;
    int rc = ws_init(&w, N);
    if (rc) return rc;
    rc = wb_init(&bf, w.L);
    if (rc == ML_OK) rc = ws_fft(&w, &bf, fn, sigma, b);
    if (rc == ML_OK)
        for (int n = 0; n < N; n++) a[n] = (bf.buf[n][0] + I * bf.buf[n][1]) * w.phase[n];
    wb_free(&bf);
    ws_free(&w);
    return rc;
}

/* Weideman's error estimate at time t (1999, §4): truncation (the tail
 * a_N..a_{2N-1} of 2N coefficients) plus conditioning (1e-16 sum |a_n|), times
 * the growth e^{sigma t}. w is a workspace for 2N coefficients; |a_n| does not
 * need the phases. */
static int weeks_error(const weeks_ws *w, weeks_buf *bf, const ml_laplace_fn *fn, double sigma,
                       double b, double t, double *err) {
    int rc = ws_fft(w, bf, fn, sigma, b);
    if (rc) return rc;
    int N = w->N / 2;
    double tail = 0, head = 0;
    for (int n = 0; n < N; n++) head += hypot(bf->buf[n][0], bf->buf[n][1]);
    for (int n = N; n < 2 * N; n++) tail += hypot(bf->buf[n][0], bf->buf[n][1]);
    *err = exp(sigma * t) * (tail + 1e-16 * head) / w->L;
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

/* A candidate (sigma, b) and its estimated error. */
typedef struct {
    double sigma, b, err;
    int rc;
} weeks_cand;

/* Estimates the error of every candidate, in parallel when F is thread-safe
 * (each thread its own buffers; the FFT plan is shared). */
static int eval_cands(const weeks_ws *w, const ml_laplace_fn *fn, double t, weeks_cand *c, int nc) {
    int rc = ML_OK;
    /* one stage of the default search (N = 128) is ~50k evaluations, a few ms: serial */
    int par = fn->threadsafe && nc > 1 && (double)nc * w->L >= 2e6;
#pragma omp parallel if (par)
    {
        weeks_buf bf;
        int mine = wb_init(&bf, w->L);
#pragma omp for schedule(dynamic)
        for (int i = 0; i < nc; i++) {
            c[i].rc = mine ? mine : weeks_error(w, &bf, fn, c[i].sigma, c[i].b, t, &c[i].err);
            if (c[i].rc) c[i].err = INFINITY;
        }
        wb_free(&bf);
    }
    for (int i = 0; i < nc && rc == ML_OK; i++)
        if (c[i].rc) rc = c[i].rc;
    if (rc != ML_OK && par) {
        /* redo the first failure on this thread so that the message is ours */
        weeks_buf bf;
        rc = wb_init(&bf, w->L);
        for (int i = 0; i < nc && rc == ML_OK; i++)
            if (c[i].rc) {
                double e;
                rc = weeks_error(w, &bf, fn, c[i].sigma, c[i].b, t, &e);
                if (rc == ML_OK) rc = ml_fail(c[i].rc, "Weeks: F evaluation failed");
            }
        wb_free(&bf);
    }
    return rc;
}

int ml_lp_weeks(const ml_laplace_opts *o, const ml_laplace_fn *fn, int N, size_t nt,
                const double *t, double *f, size_t *nevals) {
    double a = ml_lp_shift(o, fn), tmax;
    ml_lp_check_times(nt, t, &tmax, NULL);
    double sigma = o->sigma, b = o->b;
    if (!isnan(sigma) && !(sigma > a))
        return ml_fail(ML_EINVAL, "Weeks sigma = %g must exceed the abscissa %g", sigma, a);
    if (!isnan(b) && (!(b > 0) || !isfinite(b)))
        return ml_fail(ML_EINVAL, "Weeks b = %g, expected a finite b > 0", b);
    if (!isnan(sigma) && !isfinite(sigma))
        return ml_fail(ML_EINVAL, "Weeks sigma = %g, expected a finite number", sigma);
    /* the automatic search scales sigma - a and b like 1/t_max: they must stay normal numbers */
    if ((isnan(sigma) || isnan(b)) && !(N / (512.0 * tmax) > 1e-300 && 0.25 / tmax > 1e-300))
        return ml_fail(ML_EINVAL, "Weeks: t = %g is too large for the automatic (sigma, b) search", tmax);
    double complex *coef = malloc(sizeof(double complex) * N);
    if (!coef) return ml_fail(ML_ENOMEM, "out of memory for Weeks N = %d", N);
    int rc = ML_OK;
    if (isnan(sigma) || isnan(b)) {
        /* Coarse log grid, then a pattern search (Weideman 1999, §4), on the error
         * estimate from 2N coefficients at t_max. */
        weeks_ws w;
        rc = ws_init(&w, 2 * N);
        if (rc) {
            free(coef);
            return rc;
        }
        enum { NS = 9, NB = 10 };
        weeks_cand c[NS * NB];
        int nc = 0;
        for (int i = 0; i < NS; i++) {
            double sg = isnan(sigma) ? a + 0.25 * pow(2.0, i) / tmax : sigma;
            for (int j = 0; j < NB; j++) {
                double bj = isnan(b) ? pow(2.0, j) * N / (512.0 * tmax) : b;
                c[nc++] = (weeks_cand){sg, bj, INFINITY, 0};
                if (!isnan(b)) break;
            }
            if (!isnan(sigma)) break;
        }
        rc = eval_cands(&w, fn, tmax, c, nc);
        if (nevals) *nevals += (size_t)nc * w.L;
        weeks_cand best = {0, 0, INFINITY, 0};
        for (int i = 0; i < nc; i++)
            if (c[i].err < best.err) best = c[i];
        double ds = 0.5, db = 0.5; /* multiplicative steps */
        for (int it = 0; it < 24 && rc == ML_OK && ds > 1e-2; it++) {
            rc = ml_progress_tick(o->progress, it, 24);
            if (rc) break;
            int m = 0;
            if (isnan(sigma)) {
                c[m++] = (weeks_cand){a + (best.sigma - a) * (1 + ds), best.b, INFINITY, 0};
                c[m++] = (weeks_cand){a + (best.sigma - a) / (1 + ds), best.b, INFINITY, 0};
            }
            if (isnan(b)) {
                c[m++] = (weeks_cand){best.sigma, best.b * (1 + db), INFINITY, 0};
                c[m++] = (weeks_cand){best.sigma, best.b / (1 + db), INFINITY, 0};
            }
            rc = eval_cands(&w, fn, tmax, c, m);
            if (nevals) *nevals += (size_t)m * w.L;
            int moved = 0;
            for (int i = 0; i < m; i++)
                if (c[i].err < best.err) {
                    best = c[i];
                    moved = 1;
                }
            if (!moved) {
                ds /= 2;
                db /= 2;
            }
        }
        ws_free(&w);
        if (rc == ML_OK && !isfinite(best.err))
            rc = ml_fail(ML_ENUMERIC, "Weeks: no (sigma, b) gave a finite error estimate");
        sigma = best.sigma;
        b = best.b;
    }
    if (rc == ML_OK) rc = ml_laplace_weeks_coeffs(fn, N, sigma, b, coef);
    if (rc == ML_OK) {
        if (nevals) *nevals += 2 * (size_t)N;
#pragma omp parallel for if (ML_LP_PAR(nt * (size_t)N))
        for (size_t i = 0; i < nt; i++)
            f[i] = exp(sigma * t[i]) * laguerre_sum(coef, N, 2 * b * t[i]);
    }
    free(coef);
    return rc;
}
