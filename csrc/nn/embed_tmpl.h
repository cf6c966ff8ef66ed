/* nn — token embedding: x[n,:] = wte[tok[n],:]; backward scatters dx rows back into dwte. */
static void S(embed_fwd)(const int64_t *tok, int64_t N, int64_t D, const R *wte, R *x) {
    for (int64_t n = 0; n < N; n++)
        for (int64_t d = 0; d < D; d++) x[n * D + d] = wte[tok[n] * D + d];
}

static void S(embed_bwd)(const int64_t *tok, int64_t N, int64_t D, const R *dx, R *dwte) {
    for (int64_t n = 0; n < N; n++) /* serial: rows of repeated tokens add up deterministically */
        for (int64_t d = 0; d < D; d++) dwte[tok[n] * D + d] += dx[n * D + d];
}
