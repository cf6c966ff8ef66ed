/* moonlab — instruction-set level of the SIMD kernels, chosen at run time. */
#ifndef MOONLAB_CPU_H
#define MOONLAB_CPU_H

#ifdef __cplusplus
extern "C" {
#endif

/* Kernel paths, ordered: a higher level may use every lower one. */
typedef enum { ML_ISA_SCALAR = 0, ML_ISA_AVX2 = 1, ML_ISA_AVX512 = 2 } ml_isa;

/* What the CPU (and OS) supports: AVX2 means AVX2+FMA, AVX512 means AVX-512F (with AVX2+FMA). */
ml_isa ml_cpu_isa_supported(void);

/* The level kernels use: ml_cpu_isa_supported() capped by the environment variable
 * MOONLAB_ISA = avx512 | avx2 | scalar (read once per process; unset or unknown values: no cap). */
ml_isa ml_cpu_isa(void);

/* "scalar", "avx2", "avx512". */
const char *ml_isa_name(ml_isa isa);

#ifdef __cplusplus
}
#endif
#endif
