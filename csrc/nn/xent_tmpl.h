/* nn — mean cross-entropy over N rows of logits [N,V]: L = (1/N) Σ_n (logsumexp(z_n) − z_n[y_n]).
 * Backward: dz = (softmax(z) − onehot(y)) / N. */
static double S(xent_fwd)(const R *z, const int64_t *y, int64_t N, int64_t V) {
    double total = 0;
    for (int64_t n = 0; n < N; n++) {
        const R *r = z + n * V;
        double mx = r[0], s = 0;
        for (int64_t v = 1; v < V; v++) mx = r[v] > mx ? r[v] : mx;
        for (int64_t v = 0; v < V; v++) s += exp((double)r[v] - mx);
        total += mx + log(s) - r[y[n]];
    }
    return total / (double)N;
}

static void S(xent_bwd)(const R *z, const int64_t *y, int64_t N, int64_t V, R *dz) {
#pragma omp parallel for schedule(static) if (N * V > 65536)
    for (int64_t n = 0; n < N; n++) {
        const R *r = z + n * V;
        double mx = r[0], s = 0;
        for (int64_t v = 1; v < V; v++) mx = r[v] > mx ? r[v] : mx;
        for (int64_t v = 0; v < V; v++) s += exp((double)r[v] - mx);
        for (int64_t v = 0; v < V; v++)
            dz[n * V + v] = (R)((exp((double)r[v] - mx) / s - (v == y[n])) / (double)N);
    }
}
