/* moonlab — library version, build/runtime information and threading. */
#ifndef MOONLAB_RUNTIME_H
#define MOONLAB_RUNTIME_H

#ifdef __cplusplus
extern "C" {
#endif

#define ML_VERSION "0.1.0"

typedef struct ml_info {
    const char *version;       /* moonlab version */
    char blas[128];            /* BLAS library and its build configuration */
    char blas_core[64];        /* OpenBLAS kernel ("Haswell", "Prescott", ...) */
    char lapack[64];
    char fftw[64];
    int omp_threads;           /* OpenMP threads used by moonlab kernels */
    int blas_threads;
    int cpu_avx2, cpu_avx512;  /* what the CPU offers */
    int blas_generic;          /* 1 when OpenBLAS runs a generic kernel below the CPU's level */
    char coretype_hint[32];    /* OPENBLAS_CORETYPE to set when blas_generic */
} ml_info;

/* Fills *info with what this build links and what it runs on. */
void ml_get_info(ml_info *info);

/* Sets the thread count of moonlab's OpenMP loops and of OpenBLAS. */
int ml_set_threads(int n);
int ml_get_threads(void);

#ifdef __cplusplus
}
#endif
#endif
