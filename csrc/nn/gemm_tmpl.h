/* nn — C = A' B' (+ beta C) with row-major operands (' = optional transpose), through cblas. */
static void S(gemm)(int ta, int tb, int64_t M, int64_t N, int64_t K, const R *A, const R *B, R beta,
                    R *C) {
    CBLAS_GEMM(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N,
               (int)K, (R)1, A, (int)(ta ? M : K), B, (int)(tb ? K : N), beta, C, (int)N);
}
