/* nn — SwiGLU (Shazeer 2020): s = silu(u) ⊙ g with u = h W1, g = h W3; the MLP output is s W2.
 * silu(u) = u·σ(u), silu'(u) = σ(u)(1 + u(1 − σ(u))). */
static void S(swiglu_fwd)(const R *u, const R *g, int64_t n, R *s) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        double su = 1.0 / (1.0 + exp(-(double)u[i]));
        s[i] = (R)(u[i] * su * g[i]);
    }
}

static void S(swiglu_bwd)(const R *u, const R *g, const R *ds, int64_t n, R *du, R *dg) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        double su = 1.0 / (1.0 + exp(-(double)u[i]));
        du[i] = (R)(ds[i] * g[i] * su * (1.0 + u[i] * (1.0 - su)));
        dg[i] = (R)(ds[i] * u[i] * su);
    }
}
