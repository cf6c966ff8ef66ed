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
/* out = c[0] + c[1] t + ... + c[n-1] t^(n-1), n a multiple of 4, by four interleaved Horner chains in t^4 */
#undef KV_HORNER4
#define KV_HORNER4(out, c, n, t)                                                                           \
    do {                                                                                                    \
        VD t2_ = (t) * (t), t4_ = t2_ * t2_;                                                               \
        VD p0_ = zero + (c)[(n) - 4], p1_ = zero + (c)[(n) - 3], p2_ = zero + (c)[(n) - 2],                 \
           p3_ = zero + (c)[(n) - 1];                                                                       \
        for (int j_ = (n) - 8; j_ >= 0; j_ -= 4) {                                                          \
            p0_ = KV_FMA(p0_, t4_, zero + (c)[j_]);                                                         \
            p1_ = KV_FMA(p1_, t4_, zero + (c)[j_ + 1]);                                                     \
            p2_ = KV_FMA(p2_, t4_, zero + (c)[j_ + 2]);                                                     \
            p3_ = KV_FMA(p3_, t4_, zero + (c)[j_ + 3]);                                                     \
        }                                                                                                   \
        (out) = KV_FMA(KV_FMA(p3_, (t), p2_), t2_, KV_FMA(p1_, (t), p0_));                                   \
    } while (0)

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
            /* positive terms, so no cancellation */
            KV_HORNER4(s, KV_SC, KV_NS, ys);
        }
        if (any) {
            /* Hankel part where y > Y0: replace the factor and the exponent */
            VD yb = KV_SEL(big, y, Y0);
            VD sy = KV_SQRT(yb), u = (zero + 0.5) / sy, h;
            KV_HORNER4(h, KV_AC, KV_NA, u);
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
