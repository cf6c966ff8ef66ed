/* Internal: CLONES builds a function for x86-64-v4 (AVX-512), x86-64-v3 (AVX2+FMA) and baseline x86-64; the
 * loader picks one per CPU. Sanitizer builds and ML_NO_CLONES get one plain version. */
#ifndef MOONLAB_CORE_CLONES_H
#define MOONLAB_CORE_CLONES_H

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(ML_NO_CLONES)
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

#endif
