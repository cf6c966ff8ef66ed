/* nn — rotary position embedding (Su et al. 2021, RoFormer eq. 34), half-split (NeoX) pairing:
 * for j < Dh/2, (x_j, x_{j+Dh/2}) is rotated by the angle t·base^(−2j/Dh). x is [B,H,T,Dh], positions
 * t0 .. t0+T-1. sign = +1 rotates (forward); sign = −1 rotates back (the backward, since R^T = R(−θ)). */
static void S(rope)(R *x, int64_t BH, int64_t T, int64_t Dh, int64_t t0, const double *cs, const double *sn,
                    int sign) {
    int64_t h2 = Dh / 2;
#pragma omp parallel for schedule(static) if (BH * T * Dh > 32768)
    for (int64_t bh = 0; bh < BH; bh++)
        for (int64_t t = 0; t < T; t++) {
            R *v = x + (bh * T + t) * Dh;
            const double *c = cs + (t0 + t) * h2, *s = sn + (t0 + t) * h2;
            for (int64_t j = 0; j < h2; j++) {
                double a = v[j], b = v[j + h2], sj = sign * s[j];
                v[j] = (R)(a * c[j] - b * sj);
                v[j + h2] = (R)(a * sj + b * c[j]);
            }
        }
}

/* [B,T,H,Dh] (token rows) <-> [B,H,T,Dh] (attention layout). */
static void S(to_bhtd)(const R *src, R *dst, int64_t B, int64_t T, int64_t H, int64_t Dh) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t h = 0; h < H; h++)
                memcpy(dst + ((b * H + h) * T + t) * Dh, src + ((b * T + t) * H + h) * Dh, sizeof(R) * Dh);
}

static void S(from_bhtd)(const R *src, R *dst, int64_t B, int64_t T, int64_t H, int64_t Dh) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t h = 0; h < H; h++)
                memcpy(dst + ((b * T + t) * H + h) * Dh, src + ((b * H + h) * T + t) * Dh, sizeof(R) * Dh);
}
