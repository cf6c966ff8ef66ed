/* moonlab attn — block kernels (small GEMM, exp-sum, max) written once over a vector type and
 * instantiated per ISA and precision by kernels_avx2.c and kernels_avx512.c. Not a public header.
 * Expects: T (float/double), V (vector type), VL (lanes), TGT (function attributes), SFX(name),
 * VLOAD(p), VSTORE(p, v), VSET1(x), VZERO(), VFMA(a, b, c) = a·b + c, VADD, VSUB, VMAX, VHSUM(v),
 * VHMAX(v), VEXP(x) (exp with exp(-inf) = 0 and NaN propagated), SEXP (scalar exp), and a NaN
 * detector: NAN_T, NAN_INIT, NAN_UPD(acc, x), NAN_ANY(acc); for the gate also VMUL, VDIV, VMIN. */

#define GT_ROWS 6 /* rows of a register tile: 6 × 2 vectors = 12 accumulators */

/* C[R×(W·VL)] += A[R×K]·B[K×(W·VL)] with R, W, TA compile-time constants after inlining; TA = 1
 * reads A transposed (element (r, k) at A[k·lda + r]). */
TGT static inline __attribute__((always_inline)) void SFX(gemm_tile)(const int R, const int W,
                                                                     const int TA, int K, const T *A,
                                                                     int lda, const T *B, int ldb,
                                                                     T *C, int ldc) {
    V c0[GT_ROWS], c1[GT_ROWS];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        c0[r] = VLOAD(C + (int64_t)r * ldc);
        c1[r] = W == 2 ? VLOAD(C + (int64_t)r * ldc + VL) : VZERO();
    }
    for (int k = 0; k < K; k++) {
        const T *b = B + (int64_t)k * ldb;
        V b0 = VLOAD(b), b1 = W == 2 ? VLOAD(b + VL) : VZERO();
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            V a = VSET1(TA ? A[(int64_t)k * lda + r] : A[(int64_t)r * lda + k]);
            c0[r] = VFMA(a, b0, c0[r]);
            if (W == 2) c1[r] = VFMA(a, b1, c1[r]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        VSTORE(C + (int64_t)r * ldc, c0[r]);
        if (W == 2) VSTORE(C + (int64_t)r * ldc + VL, c1[r]);
    }
}

/* C[M×N] += op(A)·B (row-major; op(A) = A [M×K] or, with TA, Aᵀ for A stored [K×M]): panels of
 * 2·VL columns of B outer (they stay in L1), strips of 6 rows inner; columns left over after whole
 * vectors are done in scalar code. */
TGT static inline __attribute__((always_inline)) void SFX(gemm_any)(const int TA, int M, int N, int K,
                                                                    const T *A, int lda, const T *B,
                                                                    int ldb, T *C, int ldc) {
    int j = 0;
    for (; j + 2 * VL <= N; j += 2 * VL)
        for (int i = 0; i < M; i += GT_ROWS) {
            const int R = M - i < GT_ROWS ? M - i : GT_ROWS;
            const T *a = TA ? A + i : A + (int64_t)i * lda;
            T *c = C + (int64_t)i * ldc + j;
#define GT_CALL(RR) SFX(gemm_tile)(RR, 2, TA, K, a, lda, B + j, ldb, c, ldc)
            ATTN_RCASES(GT_CALL)
#undef GT_CALL
        }
    for (; j + VL <= N; j += VL)
        for (int i = 0; i < M; i += GT_ROWS) {
            const int R = M - i < GT_ROWS ? M - i : GT_ROWS;
            const T *a = TA ? A + i : A + (int64_t)i * lda;
            T *c = C + (int64_t)i * ldc + j;
#define GT_CALL(RR) SFX(gemm_tile)(RR, 1, TA, K, a, lda, B + j, ldb, c, ldc)
            ATTN_RCASES(GT_CALL)
#undef GT_CALL
        }
    if (j < N)
        for (int i = 0; i < M; i++) {
            T *c = C + (int64_t)i * ldc;
            for (int k = 0; k < K; k++) {
                const T av = TA ? A[(int64_t)k * lda + i] : A[(int64_t)i * lda + k];
                const T *b = B + (int64_t)k * ldb;
                for (int jj = j; jj < N; jj++) c[jj] += av * b[jj];
            }
        }
}

TGT void SFX(gemm)(int M, int N, int K, const T *A, int lda, const T *B, int ldb, T *C, int ldc) {
    SFX(gemm_any)(0, M, N, K, A, lda, B, ldb, C, ldc);
}

/* C[M×N] += Aᵀ·B with A stored [K×M] (ld lda). */
TGT void SFX(gemm_tn)(int M, int N, int K, const T *A, int lda, const T *B, int ldb, T *C, int ldc) {
    SFX(gemm_any)(1, M, N, K, A, lda, B, ldb, C, ldc);
}

/* x[i] = exp(x[i] - m) for i < n; returns the sum. */
TGT T SFX(expsum)(T *x, int n, T m) {
    V vm = VSET1(m), acc = VZERO();
    int i = 0;
    for (; i + VL <= n; i += VL) {
        V e = VEXP(VSUB(VLOAD(x + i), vm));
        VSTORE(x + i, e);
        acc = VADD(acc, e);
    }
    T s = VHSUM(acc);
    for (; i < n; i++) { x[i] = SEXP(x[i] - m); s += x[i]; }
    return s;
}

/* max of x[0..n) (-inf for n = 0; NaN when any element is NaN). */
TGT T SFX(max)(const T *x, int n) {
    V acc = VSET1(-INFINITY);
    NAN_T nan = NAN_INIT;
    int i = 0;
    for (; i + VL <= n; i += VL) {
        V xv = VLOAD(x + i);
        acc = VMAX(acc, xv);
        nan = NAN_UPD(nan, xv);
    }
    if (NAN_ANY(nan)) return (T)NAN;
    T m = VHMAX(acc);
    for (; i < n; i++) m = (x[i] > m || x[i] != x[i]) ? x[i] : m;
    return m;
}

/* Gate act(z) and act'(z) of a vector: sigmoid s = exp(min(z,0)) / (1 + exp(-|z|)) (no overflow, NaN
 * propagates), silu z·s, ns_sigmoid 0.5 + 0.5·s. */
TGT static inline __attribute__((always_inline)) void SFX(gate_vec)(int act, V z, V *gv, V *dgv) {
    const V one = VSET1(1), half = VSET1((T)0.5);
    V nz = VSUB(VZERO(), z);
    V e = VEXP(VMIN(nz, z)), p = VEXP(VMIN(VZERO(), z));
    V sg = VDIV(p, VADD(one, e)), ds = VMUL(sg, VSUB(one, sg));
    if (act == ML_GATE_SILU) { *gv = VMUL(z, sg); *dgv = VFMA(z, ds, sg); }
    else if (act == ML_GATE_NS_SIGMOID) { *gv = VFMA(half, sg, half); *dgv = VMUL(half, ds); }
    else { *gv = sg; *dgv = ds; }
}

/* Elementwise gate forward: out[e] = y[e]·act(z[e]) (op mul) or y[e] + act(z[e]) (op add). */
TGT void SFX(gate_fwd)(int act, int op, const T *z, const T *y, T *out, int64_t n) {
    int64_t e = 0;
    for (; e + VL <= n; e += VL) {
        V gv, dgv, yv = VLOAD(y + e);
        SFX(gate_vec)(act, VLOAD(z + e), &gv, &dgv);
        VSTORE(out + e, op == ML_GATE_ADD ? VADD(yv, gv) : VMUL(yv, gv));
    }
    for (; e < n; e++) {
        T gv = (T)attn_gate_fn(act, z[e]);
        out[e] = op == ML_GATE_ADD ? y[e] + gv : y[e] * gv;
    }
}

/* Elementwise gate backward of one row: dy = dout·g (mul) or dout (add); dz = dg·act'(z) with
 * dg = dout·y (mul) or dout (add). */
TGT void SFX(gate_bwd)(int act, int op, const T *z, const T *dout, const T *y, T *dy, T *dz, int64_t n) {
    int64_t e = 0;
    for (; e + VL <= n; e += VL) {
        V gv, dgv, dov = VLOAD(dout + e);
        SFX(gate_vec)(act, VLOAD(z + e), &gv, &dgv);
        if (op == ML_GATE_ADD) {
            VSTORE(dy + e, dov);
            VSTORE(dz + e, VMUL(dov, dgv));
        } else {
            VSTORE(dy + e, VMUL(dov, gv));
            VSTORE(dz + e, VMUL(VMUL(dov, VLOAD(y + e)), dgv));
        }
    }
    for (; e < n; e++) {
        double gv = attn_gate_fn(act, z[e]), dge = op == ML_GATE_ADD ? (double)dout[e] : (double)dout[e] * y[e];
        dy[e] = op == ML_GATE_ADD ? dout[e] : (T)(dout[e] * gv);
        dz[e] = (T)(dge * attn_gate_dfn(act, z[e]));
    }
}

#undef GT_ROWS

/* the instantiation's parameters end here, so the next one can define them afresh */
#undef T
#undef V
#undef VL
#undef SFX
#undef VLOAD
#undef VSTORE
#undef VSET1
#undef VZERO
#undef VFMA
#undef VADD
#undef VSUB
#undef VMAX
#undef VMUL
#undef VDIV
#undef VMIN
#undef VHSUM
#undef VHMAX
#undef VEXP
#undef SEXP
#undef NAN_T
#undef NAN_INIT
#undef NAN_UPD
#undef NAN_ANY
