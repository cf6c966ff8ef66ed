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

/* Interrupts. A request (the SIGINT handler that the Lua bindings arm for a long call, or an embedding program)
 * sets a process-wide flag; long loops poll it and return ML_EINTR. ml_interrupted() is a cheap read that is
 * safe inside OpenMP loops; ml_interrupt_request() is async-signal-safe. */
int ml_interrupted(void);
void ml_interrupt_request(void);
void ml_interrupt_clear(void);

/* Progress of a long call: fn(ud, done, total) is called from the calling thread (total <= 0: unknown). */
typedef struct ml_progress {
    void (*fn)(void *ud, double done, double total);
    void *ud;
} ml_progress;

/* Reports done/total to p (p or p->fn may be NULL) and polls the interrupt flag. Returns ML_EINTR (message
 * "interrupted") once an interrupt was requested, else ML_OK. Call it from the calling thread every 10-100 ms of
 * work in long loops, then clean up and return the code. */
int ml_progress_tick(const ml_progress *p, double done, double total);

#ifdef __cplusplus
}
#endif
#endif
