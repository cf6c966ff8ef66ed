/* moonlab moe — a k-means start for EM: Lloyd's algorithm on standardised (x, y) with a seeded k-means++
 * seeding, then the experts by least squares on the clusters and the gate from the cluster shares. */
#include <stdlib.h>
#include "gmoe_internal.h"

int ml_gmoe_init_kmeans(ml_gmoe *m, const double *X, const double *Y, int64_t n, uint64_t seed) {
    int K = m->K, d = m->d, p = d + 1;
    if (n < K) return ml_fail(ML_EINVAL, "k-means needs at least K = %d points, got %lld", K, (long long)n);
    double *Z = malloc((size_t)n * p * sizeof(double)), *C = malloc((size_t)K * p * sizeof(double));
    double *D = malloc((size_t)n * sizeof(double)), *R = calloc((size_t)K * gmoe_stats_size(d), sizeof(double));
    double *mu = calloc((size_t)p, sizeof(double)), *sd = calloc((size_t)p, sizeof(double));
    int *lab = malloc((size_t)n * sizeof(int)), *cnt = malloc((size_t)K * sizeof(int));
    int rc = ML_OK;
    if (!Z || !C || !D || !R || !mu || !sd || !lab || !cnt) { rc = ml_fail(ML_ENOMEM, "k-means: out of memory"); goto done; }
    for (int64_t t = 0; t < n; t++)
        for (int j = 0; j < p; j++) { double v = j < d ? X[t * d + j] : Y[t]; Z[t * p + j] = v; mu[j] += v; }
    for (int j = 0; j < p; j++) mu[j] /= (double)n;
    for (int64_t t = 0; t < n; t++) for (int j = 0; j < p; j++) sd[j] += (Z[t * p + j] - mu[j]) * (Z[t * p + j] - mu[j]);
    for (int j = 0; j < p; j++) { sd[j] = sqrt(sd[j] / (double)n); if (!(sd[j] > 0)) sd[j] = 1; }
    for (int64_t t = 0; t < n; t++) for (int j = 0; j < p; j++) Z[t * p + j] = (Z[t * p + j] - mu[j]) / sd[j];
    /* k-means++ */
    int64_t first = (int64_t)(ml_rng_uniform(seed, 0) * (double)n);
    memcpy(C, Z + first * p, (size_t)p * sizeof(double));
    for (int64_t t = 0; t < n; t++) D[t] = INFINITY;
    for (int c = 1; c < K; c++) {
        double tot = 0;
        for (int64_t t = 0; t < n; t++) {
            double s = 0;
            for (int j = 0; j < p; j++) { double u = Z[t * p + j] - C[(c - 1) * p + j]; s += u * u; }
            if (s < D[t]) D[t] = s;
            tot += D[t];
        }
        double u = ml_rng_uniform(seed, (uint64_t)c) * tot, acc = 0;
        int64_t pick = n - 1;
        for (int64_t t = 0; t < n; t++) { acc += D[t]; if (acc >= u && D[t] > 0) { pick = t; break; } }
        memcpy(C + c * p, Z + pick * p, (size_t)p * sizeof(double));
    }
    for (int it = 0; it < 100; it++) {
        int changed = 0;
        for (int64_t t = 0; t < n; t++) {
            int best = 0;
            double bd = INFINITY;
            for (int c = 0; c < K; c++) {
                double s = 0;
                for (int j = 0; j < p; j++) { double u = Z[t * p + j] - C[c * p + j]; s += u * u; }
                if (s < bd) { bd = s; best = c; }
            }
            if (it == 0 || lab[t] != best) changed = 1;
            lab[t] = best;
        }
        for (int c = 0; c < K; c++) { cnt[c] = 0; for (int j = 0; j < p; j++) C[c * p + j] = 0; }
        for (int64_t t = 0; t < n; t++) { cnt[lab[t]]++; for (int j = 0; j < p; j++) C[lab[t] * p + j] += Z[t * p + j]; }
        for (int c = 0; c < K; c++) if (cnt[c]) for (int j = 0; j < p; j++) C[c * p + j] /= cnt[c];
        if (!changed) break;
    }
    for (int64_t t = 0; t < n; t++) gmoe_stats_add(R + (size_t)lab[t] * gmoe_stats_size(d), d, X + t * d, Y[t], 1.0);
    for (int i = 0; i < K; i++) { m->sigma[i] = sd[d]; m->b[i] = mu[d]; }
    int floored = 0;
    if ((rc = gmoe_experts_from_stats(m, R, n, 1e-3 * sd[d], &floored))) goto done;
    for (int i = 0; i < K; i++) {
        m->beta0[i] = log((cnt[i] + 1.0) / (double)(cnt[K - 1] + 1.0));
        for (int j = 0; j < d; j++) m->beta1[i * d + j] = 0;
    }
done:
    free(Z); free(C); free(D); free(R); free(mu); free(sd); free(lab); free(cnt);
    return rc;
}
