/* moonlab laplace — the per-t methods (fixed Talbot, Euler, Gaver-Stehfest) in
 * quad precision (GCC __float128 / libquadmath) for transforms that provide
 * F(s) in quad precision (ml_laplace_fn.evalq). Same formula as invert.c,
 *   f(t) = e^{at}/t * sum_k Re(w_k F(alpha_k/t + a))   (Abate & Whitt 2006, eq. 2.3),
 * but nodes, weights, F and the sum carry ~34 digits, so the amplification of
 * roundoff by the weights (10^{M/3} for Euler, sum|V_k| ~ 10^{0.6 N} for
 * Stehfest, e^{2M/5} for Talbot) no longer limits the order M. */
#include <math.h>
#include <stdlib.h>
#include "lp_internal.h"

#if ML_LAPLACE_HAVE_QUAD

/* See laplace.h: V_k = (-1)^{k+N/2} sum_j j^{N/2}(2j)!/((N/2-j)! j! (j-1)! (k-j)! (2j-k)!)
 * (Stehfest 1970, eq. 2), every term in quad precision. */
int ml_laplace_stehfest_weightsq(int N, __float128 *V) {
    if (N < 2 || N > ML_LP_STEHFEST_NMAX || N % 2)
        return ml_fail(ML_EINVAL, "Stehfest N = %d, expected an even number in [2, %d]", N,
                       ML_LP_STEHFEST_NMAX);
    __float128 fact[2 * ML_LP_STEHFEST_NMAX + 1];
    fact[0] = 1;
    for (int i = 1; i <= 2 * N; i++) fact[i] = fact[i - 1] * i;
    int h = N / 2;
    for (int k = 1; k <= N; k++) {
        __float128 sum = 0;
        int j0 = (k + 1) / 2, j1 = k < h ? k : h;
        for (int j = j0; j <= j1; j++)
            sum += powq((__float128)j, h) * fact[2 * j] /
                   (fact[h - j] * fact[j] * fact[j - 1] * fact[k - j] * fact[2 * j - k]);
        V[k - 1] = ((k + h) % 2 ? -1 : 1) * sum;
    }
    return ML_OK;
}

/* Nodes alpha[k] and weights w[k] of a per-t method in quad precision; returns K. */
static int patternq(int method, int M, __complex128 *alpha, __complex128 *w) {
    if (method == ML_LAPLACE_TALBOT) {
        /* Abate & Valko 2004, eqs. (3.2)-(3.4) */
        __float128 r = (__float128)2 * M / 5;
        alpha[0] = r;
        w[0] = expq(r) / 5;
        for (int k = 1; k < M; k++) {
            __float128 th = k * M_PIq / M, ct = cosq(th) / sinq(th);
            __float128 sig = th + (th * ct - 1) * ct;
            __complex128 al;
            __real__ al = r * th * ct;
            __imag__ al = r * th;
            __complex128 one_is;
            __real__ one_is = 1;
            __imag__ one_is = sig;
            alpha[k] = al;
            w[k] = (__float128)0.4Q * cexpq(al) * one_is;
        }
        return M;
    }
    if (method == ML_LAPLACE_EULER) {
        /* Abate & Whitt 2006, eqs. (5.4)-(5.5) */
        int K = 2 * M + 1;
        __float128 xi[2 * 60 + 1];
        xi[0] = 0.5Q;
        for (int k = 1; k <= M; k++) xi[k] = 1;
        __float128 p2 = ldexpq(1, -M), binom = 1;
        xi[2 * M] = p2;
        for (int k = 1; k < M; k++) {
            binom = binom * (M - k + 1) / k;
            xi[2 * M - k] = xi[2 * M - k + 1] + p2 * binom;
        }
        __float128 A = M * logq(10) / 3, sc = powq(10, (__float128)M / 3);
        for (int k = 0; k < K; k++) {
            __complex128 al;
            __real__ al = A;
            __imag__ al = M_PIq * k;
            alpha[k] = al;
            w[k] = sc * (k % 2 ? -1 : 1) * xi[k];
        }
        return K;
    }
    __float128 V[ML_LP_STEHFEST_NMAX];
    int rc = ml_laplace_stehfest_weightsq(M, V);
    if (rc) return -rc;
    for (int k = 0; k < M; k++) {
        alpha[k] = (k + 1) * M_LN2q;
        w[k] = V[k] * M_LN2q;
    }
    return M;
}

/* One time: nodes, F in quad, the weighted sum. Returns ML_OK, the evaluator's
 * code, or ML_ENUMERIC (with *bad = index of the non-finite value). */
static int one_t(const ml_laplace_fn *fn, int K, const __complex128 *alpha,
                 const __complex128 *w, __float128 a, double t, __complex128 *s,
                 __complex128 *Fv, double *f, int *bad) {
    __float128 tq = t;
    for (int k = 0; k < K; k++) s[k] = alpha[k] / tq + a;
    int rc = fn->evalq(fn->params, (size_t)K, s, Fv);
    if (rc) return rc;
    __float128 acc = 0;
    for (int k = 0; k < K; k++) {
        if (!finiteq(crealq(Fv[k])) || !finiteq(cimagq(Fv[k]))) {
            *bad = k;
            return ML_ENUMERIC;
        }
        acc += crealq(w[k]) * crealq(Fv[k]) - cimagq(w[k]) * cimagq(Fv[k]);
    }
    *f = (double)(acc / tq * expq(a * tq));
    if (!isfinite(*f)) {
        *bad = -1;
        return ML_ENUMERIC;
    }
    return ML_OK;
}

int ml_lp_pert_quad(const ml_laplace_opts *o, const ml_laplace_fn *fn, int M, size_t nt,
                    const double *t, double *f, size_t *nevals) {
    int method = o->method;
    int Kmax = method == ML_LAPLACE_EULER ? 2 * M + 1 : M;
    __complex128 *alpha = malloc(sizeof(__complex128) * Kmax * 2);
    if (!alpha) return ml_fail(ML_ENOMEM, "out of memory for %d quad nodes", Kmax);
    __complex128 *w = alpha + Kmax;
    int K = patternq(method, M, alpha, w);
    if (K < 0) {
        free(alpha);
        return -K;
    }
    __float128 a = ml_lp_shift(o, fn);
    int rc = ML_OK;
    size_t first_bad = nt;
    /* chunks of times (~10-50 ms each) between progress ticks / Ctrl-C polls */
    const size_t chunk = 256;
    for (size_t c0 = 0; c0 < nt && rc == ML_OK; c0 += chunk) {
    size_t c1 = nt - c0 < chunk ? nt : c0 + chunk;
    int tick = ml_progress_tick(o->progress, (double)c0, (double)nt);
    if (tick) {
        free(alpha);
        return tick;
    }
#pragma omp parallel if (fn->threadsafe && c1 - c0 > 1 && ML_LP_PAR((c1 - c0) * K * 50))
    {
        __complex128 *s = malloc(sizeof(__complex128) * K * 2);
        int mine = s ? ML_OK : ML_ENOMEM;
#pragma omp for schedule(dynamic, 16)
        for (size_t i = c0; i < c1; i++) {
            int r = mine, bad = -1;
            if (r == ML_OK) r = one_t(fn, K, alpha, w, a, t[i], s, s + K, &f[i], &bad);
            if (r != ML_OK) {
#pragma omp critical(ml_lp_quad_fail)
                if (i < first_bad) {
                    first_bad = i;
                    rc = r;
                }
            }
        }
        free(s);
    }
    }
    if (rc != ML_OK) {
        /* redo the failing time on this thread so that ml_fail's message is ours */
        __complex128 *s = malloc(sizeof(__complex128) * K * 2);
        int bad = -1;
        double fi;
        if (rc == ML_ENOMEM || !s) rc = ml_fail(ML_ENOMEM, "out of memory for %d quad nodes", K);
        else if ((rc = one_t(fn, K, alpha, w, a, t[first_bad], s, s + K, &fi, &bad)) ==
                 ML_ENUMERIC && bad >= 0)
            rc = ml_fail(ML_ENUMERIC, "F(%g%+gi) = %g%+gi is not finite (quad precision)",
                         (double)crealq(s[bad]), (double)cimagq(s[bad]),
                         (double)crealq(s[K + bad]), (double)cimagq(s[K + bad]));
        else if (rc == ML_ENUMERIC)
            rc = ml_fail(ML_ENUMERIC, "%s: result %g at t = %g is not finite (F grows left of "
                         "the contour? delays need dehoog or fourier)",
                         ml_laplace_method_name(o->method), fi, t[first_bad]);
        else if (rc == ML_OK) /* not reproducible: report generically */
            rc = ml_fail(ML_ENUMERIC, "quad evaluation failed at t = %g", t[first_bad]);
        free(s);
    } else if (nevals) {
        *nevals += nt * (size_t)K;
    }
    free(alpha);
    return rc;
}

#else

int ml_lp_pert_quad(const ml_laplace_opts *o, const ml_laplace_fn *fn, int M, size_t nt,
                    const double *t, double *f, size_t *nevals) {
    (void)o; (void)fn; (void)M; (void)nt; (void)t; (void)f; (void)nevals;
    return ml_fail(ML_EINVAL, "quad precision is not available in this build");
}

#endif
