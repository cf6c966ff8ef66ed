/* moonlab moe — expert M-step of EM: exact weighted least squares for (a_i, b_i) and the weighted residual
 * variance for sigma_i^2 (floored), with the E-step posteriors as weights. */
#include <stdlib.h>
#include <omp.h>
#include "gmoe_internal.h"

int gmoe_experts_wls(ml_gmoe *m, const double *X, const double *Y, const double *R, int64_t n,
                     double sigma_min, int threads, int *floored) {
    int K = m->K, d = m->d, p = d + 1;
    size_t per = (size_t)p * p + p + 1;
    int nth = (threads == 1 || n < 20000) ? 1 : omp_get_max_threads();
    double *acc = calloc((size_t)nth * K * per, sizeof(double));
    if (!acc) return ml_fail(ML_ENOMEM, "fit_em: out of memory");
    #pragma omp parallel num_threads(nth)
    {
        int c = omp_get_thread_num(), nn = omp_get_num_threads();
        int64_t lo = n * c / nn, hi = n * (c + 1) / nn;
        double *a = acc + (size_t)c * K * per;
        for (int64_t t = lo; t < hi; t++) {
            const double *x = X + t * d;
            for (int i = 0; i < K; i++) {
                double r = R[t * K + i];
                if (r == 0) continue;
                double *A = a + (size_t)i * per, *bv = A + p * p;
                for (int u = 0; u < p; u++) {
                    double xu = u < d ? x[u] : 1.0;
                    for (int v = 0; v <= u; v++) A[u * p + v] += r * xu * (v < d ? x[v] : 1.0);
                    bv[u] += r * xu * Y[t];
                }
                bv[p] += r;
            }
        }
    }
    for (int c = 1; c < nth; c++)
        for (size_t j = 0; j < (size_t)K * per; j++) acc[j] += acc[(size_t)c * K * per + j];
    double *A = malloc((size_t)p * p * sizeof(double)), *w = malloc((size_t)p * sizeof(double));
    int rc = ML_OK;
    if (!A || !w) { rc = ml_fail(ML_ENOMEM, "fit_em: out of memory"); goto done; }
    for (int i = 0; i < K; i++) {
        double *S = acc + (size_t)i * per, *bv = S + p * p, mass = bv[p];
        if (!(mass > 1e-8 * (double)n) || mass < 1e-12) continue; /* an expert with no mass keeps its parameters */
        for (int u = 0; u < p; u++) for (int v = 0; v <= u; v++) A[u * p + v] = A[v * p + u] = S[u * p + v];
        memcpy(w, bv, (size_t)p * sizeof(double));
        if (gmoe_spd_solve(A, w, p)) continue;
        for (int j = 0; j < d; j++) m->a[i * d + j] = w[j];
        m->b[i] = w[d];
    }
    /* sigma^2: weighted residual variance (second pass, exact) */
    double *ss = calloc((size_t)K * 2, sizeof(double));
    if (!ss) { rc = ml_fail(ML_ENOMEM, "fit_em: out of memory"); goto done; }
    for (int64_t t = 0; t < n; t++) {
        const double *x = X + t * d;
        for (int i = 0; i < K; i++) {
            double r = R[t * K + i];
            if (r == 0) continue;
            double mu = m->b[i];
            for (int j = 0; j < d; j++) mu += m->a[i * d + j] * x[j];
            double e = Y[t] - mu;
            ss[2 * i] += r * e * e;
            ss[2 * i + 1] += r;
        }
    }
    for (int i = 0; i < K; i++) {
        if (!(ss[2 * i + 1] > 1e-8 * (double)n) || ss[2 * i + 1] < 1e-12) continue;
        double s = sqrt(ss[2 * i] / ss[2 * i + 1]);
        if (!(s >= sigma_min)) { s = sigma_min; *floored = 1; }
        m->sigma[i] = s;
    }
    free(ss);
done:
    free(A); free(w); free(acc);
    return rc;
}
