/* moonlab attn — block kernels (small GEMM, exp-sum, max) written once over a vector type and
 * instantiated per ISA and precision by kernels_avx2.c and kernels_avx512.c. Not a public header.
 * Expects: T (float/double), V (vector type), VL (lanes), TGT (function attributes), SFX(name),
 * VLOAD(p), VSTORE(p, v), VSET1(x), VZERO(), VFMA(a, b, c) = a·b + c, VADD, VSUB, VMAX, VHSUM(v),
 * VHMAX(v), VEXP(x) (exp with exp(-inf) = 0 and NaN propagated), SEXP (scalar exp), and a NaN
 * detector: NAN_T, NAN_INIT, NAN_UPD(acc, x), NAN_ANY(acc). */

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

#define GT_RCASES(CALL)                                                                          \
    switch (R) {                                                                                 \
    case 6: CALL(6); break;                                                                      \
    case 5: CALL(5); break;                                                                      \
    case 4: CALL(4); break;                                                                      \
    case 3: CALL(3); break;                                                                      \
    case 2: CALL(2); break;                                                                      \
    default: CALL(1); break;                                                                     \
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
            GT_RCASES(GT_CALL)
#undef GT_CALL
        }
    for (; j + VL <= N; j += VL)
        for (int i = 0; i < M; i += GT_ROWS) {
            const int R = M - i < GT_ROWS ? M - i : GT_ROWS;
            const T *a = TA ? A + i : A + (int64_t)i * lda;
            T *c = C + (int64_t)i * ldc + j;
#define GT_CALL(RR) SFX(gemm_tile)(RR, 1, TA, K, a, lda, B + j, ldb, c, ldc)
            GT_RCASES(GT_CALL)
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

#undef GT_RCASES
#undef GT_ROWS
