/* moonlab chrom — body of the kernel over arrays (see chrom_kvec.h), instantiated by chrom_kvec.c
 * per instruction set. Expects KV_NAME (function name), KV_TGT (target attribute or empty) and
 * KV_FMA(x, y, z) (x*y + z, fused where the target has FMA). Every stage is a plain loop over a
 * chunk of CH elements, so each one vectorises.
 *   y = a w <= Y0 (z = 2 sqrt y <= 25): k = a S(y) e^{-D - kappa w}, S by Horner on its 39 Taylor
 *     coefficients (positive terms; the tail is below 1e-17 S at y = Y0; a zero pads them to 40);
 *   y > Y0: k = a e^{-(sqrt D - sqrt(kappa w))^2} 2 H(1/z)/(z sqrt(2 pi z)) with Hankel's asymptotic
 *     series H(u) = sqrt(2 pi z) e^{-z} I1(z) = sum_k ac[k] u^k (22 terms: below 1e-18 at z = 25; two
 *     zeros pad them to 24).
 * exp(x) for x <= 0: x = k ln2 + r, |r| <= ln2/2, Taylor to degree 13 (r^14/14! < 4e-18), 2^k from
 * the exponent bits; 0 below -708. */

#undef KV_SEL
#define KV_SEL(m, a, b) ((VD)(((m) & (VI)(a)) | (~(m) & (VI)(b))))

KV_TGT static void KV_NAME(const chrom_kc *c, size_t n, const double *w, double *out) {
    const VD zero = {0};
    const VD a = zero + c->a, mD = zero - c->D, sD = zero + c->sD, ka = zero + c->kappa, Y0 = zero + KV_Y0;
    const VD iD = zero + 1 / c->D;
    for (size_t i0 = 0; i0 < n; i0 += KV_W) {
        size_t m = n - i0 < KV_W ? n - i0 : KV_W;
        double wb[KV_W] = {0};
        for (size_t i = 0; i < m; i++) wb[i] = w[i0 + i] > 0 ? w[i0 + i] : 0;
        VD wv, s, x, r;
        memcpy(&wv, wb, sizeof wv);
        VD y = a * wv;
        VI big = y > Y0;
        VD ys = KV_SEL(big, Y0, y); /* lanes of the other branch stay finite */
        x = KV_FMA(-ka, wv, mD);
        int any = 0, all = 1;
        for (int i = 0; i < KV_W; i++) {
            any |= big[i] != 0;
            all &= big[i] != 0 || (size_t)i >= m;
        }
        s = zero;
        if (!all) {
            /* four interleaved Horner chains in y^4 (positive terms, so no cancellation) */
            VD y2 = ys * ys, y4 = y2 * y2;
            VD s0 = zero + KV_SC[KV_NS - 4], s1 = zero + KV_SC[KV_NS - 3], s2 = zero + KV_SC[KV_NS - 2],
               s3 = zero + KV_SC[KV_NS - 1];
            for (int j = KV_NS - 8; j >= 0; j -= 4) {
                s0 = KV_FMA(s0, y4, zero + KV_SC[j]);
                s1 = KV_FMA(s1, y4, zero + KV_SC[j + 1]);
                s2 = KV_FMA(s2, y4, zero + KV_SC[j + 2]);
                s3 = KV_FMA(s3, y4, zero + KV_SC[j + 3]);
            }
            s = KV_FMA(KV_FMA(s3, ys, s2), y2, KV_FMA(s1, ys, s0));
        }
        if (any) {
            /* Hankel part where y > Y0: replace the factor and the exponent */
            VD yb = KV_SEL(big, y, Y0);
            VD sy = KV_SQRT(yb), u = (zero + 0.5) / sy, u2 = u * u, u4 = u2 * u2;
            VD h0 = zero + KV_AC[KV_NA - 4], h1 = zero + KV_AC[KV_NA - 3], h2 = zero + KV_AC[KV_NA - 2],
               h3 = zero + KV_AC[KV_NA - 1];
            for (int j = KV_NA - 8; j >= 0; j -= 4) {
                h0 = KV_FMA(h0, u4, zero + KV_AC[j]);
                h1 = KV_FMA(h1, u4, zero + KV_AC[j + 1]);
                h2 = KV_FMA(h2, u4, zero + KV_AC[j + 2]);
                h3 = KV_FMA(h3, u4, zero + KV_AC[j + 3]);
            }
            VD h = KV_FMA(KV_FMA(h3, u, h2), u2, KV_FMA(h1, u, h0));
            VD d = sD - KV_SQRT(yb * iD); /* sqrt(kappa w) = sqrt(y / D) */
            VD f = 2 * h * u * KV_SQRT(u * (1 / (2 * M_PI)));
            s = KV_SEL(big, f, s);
            x = KV_SEL(big, -d * d, x);
        }
        /* exp(x) for x <= 0 */
        VI under = x < -708.0;
        VD xi = KV_SEL(under, zero - 708.0, x);
        VD t = KV_FMA(xi, zero + 1.4426950408889634, zero + 0x1.8p52), kd = t - 0x1.8p52;
        VD q = KV_FMA(kd, zero - 6.93145751953125e-1, xi);
        q = KV_FMA(kd, zero - 1.42860682030941723212e-6, q);
        /* sum_{i<=13} q^i/i! as even and odd chains in q^2 */
        VD q2 = q * q, pe = zero + KV_EC[12], po = zero + KV_EC[13];
        for (int j = 10; j >= 0; j -= 2) {
            pe = KV_FMA(pe, q2, zero + KV_EC[j]);
            po = KV_FMA(po, q2, zero + KV_EC[j + 1]);
        }
        VD p = KV_FMA(po, q, pe);
        VI sb = ((VI)t - (VI){0} - (long long)KV_MAGIC_BITS + 1023) << 52;
        r = a * s * (p * (VD)sb);
        r = (VD)(~under & (VI)r);
        double rb[KV_W];
        memcpy(rb, &r, sizeof r);
        for (size_t i = 0; i < m; i++) out[i0 + i] = rb[i];
    }
}

#undef KV_NAME
#undef KV_TGT
#undef KV_W
#undef VD
#undef VI
#undef KV_FMA
#undef KV_SQRT
