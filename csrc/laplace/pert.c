/* moonlab laplace — the per-t methods (fixed Talbot, Euler, Gaver-Stehfest) in double
 * precision, of the form
 *   f(t) = e^{at}/t * sum_k Re(w_k F(alpha_k/t + a))   (Abate & Whitt 2006, eq. 2.3). */
#include <math.h>
#include <stdlib.h>
#include "lp_internal.h"

/* Gaver-Stehfest weights (Stehfest 1970, eq. 1-2), exact-ish in long double:
 * V_k = (-1)^{k+N/2} sum_{j=floor((k+1)/2)}^{min(k,N/2)} j^{N/2} (2j)! /
 *       ((N/2-j)! j! (j-1)! (k-j)! (2j-k)!). */
int ml_laplace_stehfest_weights(int N, long double *V) {
    if (N < 2 || N > ML_LP_STEHFEST_NMAX || N % 2)
        return ml_fail(ML_EINVAL, "Stehfest N = %d, expected an even number in [2, %d]", N,
                       ML_LP_STEHFEST_NMAX);
    long double fact[2 * ML_LP_STEHFEST_NMAX + 1];
    fact[0] = 1.0L;
    for (int i = 1; i <= 2 * N; i++) fact[i] = fact[i - 1] * i;
    int h = N / 2;
    for (int k = 1; k <= N; k++) {
        long double sum = 0;
        int j0 = (k + 1) / 2, j1 = k < h ? k : h;
        for (int j = j0; j <= j1; j++)
            sum += powl((long double)j, h) * fact[2 * j] /
                   (fact[h - j] * fact[j] * fact[j - 1] * fact[k - j] * fact[2 * j - k]);
        V[k - 1] = ((k + h) % 2 ? -1.0L : 1.0L) * sum;
    }
    return ML_OK;
}

/* Node pattern for a per-t method: alpha[k], w[k] (k < K). */
static int pattern(int method, int M, double complex *alpha, double complex *w,
                   long double *V) {
    if (method == ML_LAPLACE_TALBOT) {
        /* Abate & Valko 2004, eqs. (3.2)-(3.4): r = 2M/5, theta_k = k pi/M. */
        double r = 2.0 * M / 5.0;
        alpha[0] = r;
        w[0] = 0.2 * exp(r);
        for (int k = 1; k < M; k++) {
            double th = k * M_PI / M, ct = cos(th) / sin(th);
            double sig = th + (th * ct - 1.0) * ct;
            alpha[k] = r * th * (ct + I);
            w[k] = 0.4 * cexp(alpha[k]) * (1.0 + I * sig);
        }
        return M;
    }
    if (method == ML_LAPLACE_EULER) {
        /* Abate & Whitt 2006, eq. (5.4)-(5.5). */
        int K = 2 * M + 1;
        double xi[2 * 60 + 1];
        xi[0] = 0.5;
        for (int k = 1; k <= M; k++) xi[k] = 1.0;
        double p2 = ldexp(1.0, -M);
        xi[2 * M] = p2;
        double binom = 1.0; /* C(M, k) */
        for (int k = 1; k < M; k++) {
            binom = binom * (M - k + 1) / k;
            xi[2 * M - k] = xi[2 * M - k + 1] + p2 * binom;
        }
        double A = M * log(10.0) / 3.0, sc = pow(10.0, M / 3.0);
        for (int k = 0; k < K; k++) {
            alpha[k] = A + I * M_PI * k;
            w[k] = sc * (k % 2 ? -1.0 : 1.0) * xi[k];
        }
        return K;
    }
    /* Stehfest: alpha_k = k ln2, weights V_k ln2 (real, long double). */
    int rc = ml_laplace_stehfest_weights(M, V);
    if (rc) return -rc;
    for (int k = 0; k < M; k++) {
        alpha[k] = (k + 1) * M_LN2;
        w[k] = (double)V[k];
    }
    return M;
}

#define T_CHUNK 2048

int ml_lp_pert(const ml_laplace_opts *o, const ml_laplace_fn *fn, int M, size_t nt,
                       const double *t, double *f, size_t *nevals) {
    int method = o->method;
    int Kmax = method == ML_LAPLACE_EULER ? 2 * M + 1 : M;
    double complex *alpha = malloc(sizeof(double complex) * Kmax);
    double complex *w = malloc(sizeof(double complex) * Kmax);
    long double *V = malloc(sizeof(long double) * (M + 1));
    size_t chunk = nt < T_CHUNK ? nt : T_CHUNK;
    double complex *s = malloc(sizeof(double complex) * chunk * Kmax + 1);
    double complex *Fv = malloc(sizeof(double complex) * chunk * Kmax + 1);
    int rc = ML_OK;
    if (!alpha || !w || !V || !s || !Fv) {
        rc = ml_fail(ML_ENOMEM, "out of memory for %zu x %d nodes", chunk, Kmax);
        goto done;
    }
    int K = pattern(method, M, alpha, w, V);
    if (K < 0) { rc = -K; goto done; }
    double a = ml_lp_shift(o, fn);
    for (size_t c0 = 0; c0 < nt && rc == ML_OK; c0 += chunk) {
        size_t m = nt - c0 < chunk ? nt - c0 : chunk;
        rc = ml_progress_tick(o->progress, (double)c0, (double)nt);
        if (rc) break;
        for (size_t i = 0; i < m; i++)
            for (int k = 0; k < K; k++) s[i * K + k] = alpha[k] / t[c0 + i];
        rc = ml_lp_eval(fn, a, m * (size_t)K, s, Fv);
        if (rc) break;
        if (nevals) *nevals += m * (size_t)K;
#pragma omp parallel for if (ML_LP_PAR(m * (size_t)K))
        for (size_t i = 0; i < m; i++) {
            double ti = t[c0 + i];
            const double complex *Fi = Fv + i * K;
            if (method == ML_LAPLACE_STEHFEST) {
                long double acc = 0;
                for (int k = 0; k < K; k++) acc += V[k] * (long double)creal(Fi[k]);
                f[c0 + i] = (double)(acc * (long double)M_LN2 / ti) * exp(a * ti);
            } else {
                long double acc = 0; /* long double: the weights alternate in sign */
                for (int k = 0; k < K; k++)
                    acc += (long double)creal(w[k]) * creal(Fi[k]) -
                           (long double)cimag(w[k]) * cimag(Fi[k]);
                f[c0 + i] = (double)acc / ti * exp(a * ti);
            }
        }
        for (size_t i = 0; i < m; i++)
            if (!isfinite(f[c0 + i])) {
                rc = ml_fail(ML_ENUMERIC, "%s: result %g at t = %g is not finite (F grows left "
                             "of the contour? delays need dehoog or fourier)",
                             ml_laplace_method_name(method), f[c0 + i], t[c0 + i]);
                break;
            }
    }
done:
    free(alpha);
    free(w);
    free(V);
    free(s);
    free(Fv);
    return rc;
}
