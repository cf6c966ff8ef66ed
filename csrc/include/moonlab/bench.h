/* moonlab — reference timings that benchmarks compare against. */
#ifndef MOONLAB_BENCH_H
#define MOONLAB_BENCH_H

#include <stddef.h>
#include "moonlab/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Monotonic wall clock in seconds. */
double ml_bench_now(void);
/* Times `reps` calls of cblas_?gemm on n×n×n, writing each duration to seconds[]. */
int ml_bench_gemm(ml_dtype dt, int n, int reps, double *seconds);
/* Times `reps` memcpy calls of `bytes` bytes (each reads and writes `bytes`). */
int ml_bench_memcpy(size_t bytes, int reps, double *seconds);
/* Times `reps` plain SIMD reads (XOR of every vector) of `bytes` bytes at data, split in equal contiguous
 * parts over `threads` OpenMP threads, each thread reading its part as `streams` contiguous pieces
 * interleaved 256 bytes at a time: the read-bandwidth ceiling a reduction of that buffer can reach. */
int ml_bench_read(const void *data, size_t bytes, int threads, int streams, int reps, double *seconds);

#ifdef __cplusplus
}
#endif
#endif
