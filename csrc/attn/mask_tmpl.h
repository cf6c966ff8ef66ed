/* moonlab attn — score-block masking shared by the forward and backward kernel bodies.
 * Expects REAL and SFX(name). Not a public header. */

/* Applies causal/window/mask to a score block sb [mq × nk] (ld nk) for rows i0.., keys j0... */
static void SFX(apply_mask)(const attn_geom *g, int64_t b, int64_t h, int64_t i0, int mq,
                            int64_t j0, int nk, REAL *sb) {
    for (int r = 0; r < mq; r++) {
        int64_t lo, hi;
        attn_key_range(g, i0 + r, &lo, &hi);
        REAL *row = sb + (int64_t)r * nk;
        for (int j = 0; j < nk; j++) {
            int64_t jj = j0 + j;
            if (jj < lo || jj >= hi) row[j] = (REAL)-INFINITY;
            else if (g->mask) row[j] += (REAL)attn_mask_add(g, b, h, i0 + r, jj);
        }
    }
}
