/* nn — RMSNorm (Zhang & Sennrich 2019): y = x · r · w with r = 1/sqrt(mean(x²) + eps) per row.
 * Backward: dw += Σ dy·x·r;  dx = r·(dy·w − x·r²·mean(dy·w·x)). */
static void S(rmsnorm_fwd)(const R *x, const R *w, int64_t N, int64_t D, double eps, R *y, R *r) {
#pragma omp parallel for schedule(static) if (N * D > 32768)
    for (int64_t n = 0; n < N; n++) {
        const R *xr = x + n * D;
        double ss = 0;
        for (int64_t d = 0; d < D; d++) ss += (double)xr[d] * xr[d];
        double rr = 1.0 / sqrt(ss / (double)D + eps);
        r[n] = (R)rr;
        for (int64_t d = 0; d < D; d++) y[n * D + d] = (R)(xr[d] * rr * w[d]);
    }
}

/* dx += (not =) the input gradient, so the residual stream accumulates in place. */
static void S(rmsnorm_bwd)(const R *x, const R *w, const R *r, const R *dy, int64_t N, int64_t D, R *dx,
                           R *dw) {
    for (int64_t n = 0; n < N; n++) { /* serial over rows: dw sums in a fixed order */
        const R *xr = x + n * D, *g = dy + n * D;
        double rr = r[n], dot = 0;
        for (int64_t d = 0; d < D; d++) {
            dot += (double)g[d] * w[d] * xr[d];
            dw[d] += (R)(g[d] * xr[d] * rr);
        }
        double c = rr * rr * rr * dot / (double)D;
        for (int64_t d = 0; d < D; d++) dx[n * D + d] += (R)(g[d] * w[d] * rr - xr[d] * c);
    }
}
