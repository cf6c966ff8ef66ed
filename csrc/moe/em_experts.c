/* moonlab moe — expert M-step of EM: exact weighted least squares for (a_i, b_i) and the weighted residual
 * variance for sigma_i^2 (floored), from the posterior-weighted sufficient statistics of the E-step. */
#include <stdlib.h>
#include "gmoe_internal.h"

int gmoe_experts_from_stats(ml_gmoe *m, const double *S, int64_t n, double sigma_min, int *floored) {
    int K = m->K, d = m->d, p = d + 1;
    size_t per = gmoe_stats_size(d);
    double *A = malloc((size_t)p * p * sizeof(double)), *w = malloc((size_t)p * sizeof(double));
    if (!A || !w) { free(A); free(w); return ml_fail(ML_ENOMEM, "fit_em: out of memory"); }
    for (int i = 0; i < K; i++) {
        const double *Si = S + (size_t)i * per, *bv = Si + p * p;
        double mass = Si[p * p - 1], syy = bv[p];
        if (!(mass > 1e-8 * (double)n) || mass < 1e-12) continue; /* an expert with no mass keeps its parameters */
        for (int u = 0; u < p; u++) for (int v = 0; v <= u; v++) A[u * p + v] = A[v * p + u] = Si[u * p + v];
        memcpy(w, bv, (size_t)p * sizeof(double));
        if (gmoe_spd_solve(A, w, p)) continue;
        /* residual sum of squares: syy - 2 w.bv + w' S w */
        double rss = syy;
        for (int u = 0; u < p; u++) {
            rss -= 2 * w[u] * bv[u];
            for (int v = 0; v < p; v++) rss += w[u] * w[v] * Si[(u > v ? u : v) * p + (u > v ? v : u)];
        }
        for (int j = 0; j < d; j++) m->a[i * d + j] = w[j];
        m->b[i] = w[d];
        double s = sqrt(fmax(rss, 0) / mass);
        if (!(s >= sigma_min)) { s = sigma_min; *floored = 1; }
        m->sigma[i] = s;
    }
    free(A); free(w);
    return ML_OK;
}
