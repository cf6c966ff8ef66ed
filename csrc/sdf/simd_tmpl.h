/* Internal: the SDF core's SIMD kernels written once over a vector type, instantiated by sdf_avx2.c and
 * sdf_avx512.c: exp on vectors and the bound test of the β bisection. Expects V (vector of doubles), M (lane mask),
 * VL (lanes), TGT (function attributes), SFX(name), VLOAD, VSTORE, VSET1, VZERO, VADD, VSUB, VMUL, VDIV, VSQRT,
 * VABS, VMIN, VMAX,
 * VFMA(a, b, c) = a·b + c, VFNMA(a, b, c) = c − a·b, VROUND (to nearest), VPOW2(p, k) = p·2^k for integral k in
 * [−1022, 1023], VLT / VLE / VGT / VGE(a, b) (false on NaN), VNLE(a, b) (not a <= b, true on NaN), VUNORD(a, b),
 * MAND, MOR, MANY(m), MALL(m), VSEL(m, a, b) (m ? a : b), VPREFIX(v) (inclusive prefix sums along the lanes) and VLAST(v)
 * (the last lane broadcast). */

/* exp: Cody–Waite reduction x = k ln2 + r, |r| <= ln2/2, Taylor polynomial of degree 13 (relative error < 1e-15);
 * below −708 gives 0 (no subnormals), above 709 +inf, NaN stays NaN. */
TGT static inline __attribute__((always_inline)) V SFX(exp)(V v0)
{
    static const double C[14] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                                 1.0 / 362880.0,     1.0 / 40320.0,     1.0 / 5040.0,       1.0 / 720.0,
                                 1.0 / 120.0,        1.0 / 24.0,        1.0 / 6.0,          0.5,
                                 1.0,                1.0};
    const V lo = VSET1(-708.0), hi = VSET1(709.0);
    M nan_ = VUNORD(v0, v0), under = VLT(v0, lo), over = VGT(v0, hi);
    V v = VMIN(VMAX(v0, lo), hi);
    V kd = VROUND(VMUL(v, VSET1(1.4426950408889634)));
    V r = VFNMA(kd, VSET1(1.9082149292705877e-10), VFNMA(kd, VSET1(0.6931471803691238), v));
    V p = VSET1(C[0]);
    for (int k = 1; k < 14; k++) p = VFMA(p, r, VSET1(C[k]));
    V res = VPOW2(p, kd);
    res = VSEL(under, VZERO(), res);
    res = VSEL(over, VSET1(__builtin_inf()), res);
    return VSEL(nan_, v0, res);
}

/* y[i] = exp(x[i]) for n values (sdf_vexp); the last n mod VL through a padded vector. */
TGT void SFX(sdf_vexp)(const double *x, double *y, int n)
{
    int i = 0;
    for (; i + VL <= n; i += VL) VSTORE(y + i, SFX(exp)(VLOAD(x + i)));
    if (i < n) {
        double buf[VL] = {0};
        for (int j = i; j < n; j++) buf[j - i] = x[j];
        VSTORE(buf, SFX(exp)(VLOAD(buf)));
        for (int j = i; j < n; j++) y[j] = buf[j - i];
    }
}

/* B(β) > ε for the round's intervals (sdf_bisect_beta's test; bisect.c has the scalar twin): per VL intervals,
 * the density and error exponentials (skipped with the rigorous over-estimates when every lane is farther than 36β
 * from the surface), the prefix sums R̂ and Ê in registers, the terms exp(Ê − R̂) − exp(−R̂) only where a cheap test
 * cannot rule out > ε, and the stop once R̂ exceeds every Ê still reachable (sfx) by 1 − log ε. */
TGT int SFX(sdf_bisect_above)(const sdf_bisect *b, double beta, double eps)
{
    const double ib = 1.0 / beta, c4 = 0.25 * ib * ib;
    const V vnib = VSET1(-ib), vib = VSET1(ib), vc4 = VSET1(c4), half = VSET1(0.5), one = VSET1(1.0);
    const V zero = VZERO(), far = VSET1(36.0 * beta), tiny = VSET1(SDF_TINY);
    const V sig_in = VSET1(ib * (1.0 - 0.5 * SDF_TINY)), L0 = VSET1(log1p(eps)), Le = VSET1(log(eps));
    const V veps = VSET1(eps), thr = VSET1(1.0 - log(eps));
    V cR = zero, cE = zero;
    for (int i = 0; i < b->n1; i += VL) {
        V ad = VLOAD(b->ad + i), ds = VLOAD(b->ds + i), d = VLOAD(b->d + i);
        M pos = VGT(d, zero);
        V sig, y;
        if (MALL(MAND(VGT(ad, far), VGT(ds, far)))) { /* e^{−|d_i|/β} and e^{−d*_i/β} < e^{−36} on every lane */
            sig = VSEL(pos, zero, sig_in);
            y = tiny;
        } else {
            V hx = VMUL(half, SFX(exp)(VMUL(ad, vnib)));
            y = SFX(exp)(VMUL(ds, vnib));
            sig = VMUL(vib, VSEL(pos, hx, VSUB(one, hx)));
        }
        V aR = VMUL(VLOAD(b->dl + i), sig), aE = VMUL(VMUL(VLOAD(b->dl2 + i), vc4), y);
        V Rin = VADD(VPREFIX(aR), cR), E = VADD(VPREFIX(aE), cE), Rex = VSUB(Rin, aR);
        cR = VLAST(Rin);
        cE = VLAST(E);
        if (MANY(MAND(VNLE(E, L0), VNLE(VSUB(E, Rex), Le)))) {
            V v = VSUB(SFX(exp)(VSUB(E, Rex)), SFX(exp)(VSUB(zero, Rex)));
            if (MANY(VNLE(v, veps))) return 1;
        }
        if (MANY(VGT(VSUB(Rex, VFMA(VLOAD(b->sfx + i + 1), vc4, E)), thr))) return 0;
    }
    return 0;
}

/* The β-independent arrays of sdf_bisect_init for the first whole vectors of the n1 intervals (returns how many
 * were done; bisect.c does the rest): d*_i with ml_sdf_dstar's formulas in the same order of operations, |d_i|,
 * δ_i, δ_i² and e^{−d*_i/β_hi} in sfx (summed by the caller). */
TGT int SFX(sdf_bisect_fill)(sdf_bisect *b, const double *t, const double *d, int n1, int exact, double beta_hi)
{
    const V zero = VZERO(), half = VSET1(0.5), two = VSET1(2.0), nbh = VSET1(-1.0 / beta_hi);
    int i = 0;
    for (; i + VL <= n1; i += VL) {
        V t0 = VLOAD(t + i), d0 = VLOAD(d + i), d1 = VLOAD(d + i + 1);
        V a = VSUB(VLOAD(t + i + 1), t0), bb = VABS(d0), c = VABS(d1), v;
        M same = MOR(MAND(VGT(d0, zero), VGT(d1, zero)), MAND(VLT(d0, zero), VLT(d1, zero)));
        if (exact) {
            V a2 = VMUL(a, a), b2 = VMUL(bb, bb), c2 = VMUL(c, c), s = VMUL(half, VADD(VADD(a, bb), c));
            V area = VMUL(VMUL(VMUL(s, VSUB(s, a)), VSUB(s, bb)), VSUB(s, c));
            V h = VSEL(VGT(area, zero), VDIV(VMUL(two, VSQRT(VMAX(area, zero))), a), zero);
            v = VSEL(VGT(VSUB(VADD(bb, c), a), zero), h, zero);
            v = VSEL(VLE(VADD(a2, c2), b2), c, v);
            v = VSEL(VLE(VADD(a2, b2), c2), bb, v);
        } else {
            v = VMUL(half, VSUB(VADD(bb, c), a));
            v = VSEL(VGE(bb, VADD(a, c)), VSUB(bb, a), v);
            v = VSEL(VGE(c, VADD(a, bb)), VSUB(c, a), v);
            v = VSEL(VLT(v, zero), zero, v);
        }
        v = VSEL(same, v, zero);
        VSTORE(b->d + i, d0);
        VSTORE(b->ad + i, bb);
        VSTORE(b->ds + i, v);
        VSTORE(b->dl + i, a);
        VSTORE(b->dl2 + i, VMUL(a, a));
        VSTORE(b->sfx + i, SFX(exp)(VMUL(v, nbh)));
    }
    return i;
}
