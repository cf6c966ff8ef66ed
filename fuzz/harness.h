/* moonlab — the libFuzzer harness pattern for file parsers (make fuzz).
 *
 * A harness for a parser that reads a file is one function and one macro, in fuzz/fuzz_<name>.c:
 *
 *     #include "harness.h"
 *     static void parse(const char *path) { ml_tensor t; if (!ml_npy_load(path, &t)) ml_tensor_release(&t); }
 *     ML_FUZZ_FILE(parse)
 *
 * plus seed inputs in fuzz/corpus/<name>/ (and optionally a libFuzzer dictionary fuzz/<name>.dict).
 * `make fuzz` finds every fuzz/fuzz_*.c, builds it with clang -fsanitize=fuzzer,address,undefined
 * against the library and runs each for FUZZ_SECONDS. Parsers of in-memory buffers use
 * ML_FUZZ_BUFFER(fn) with fn(const uint8_t *data, size_t size) instead. */
#ifndef MOONLAB_FUZZ_HARNESS_H
#define MOONLAB_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The input written to a private file (in /dev/shm when it exists: no disk I/O per run). */
static inline const char *ml_fuzz_write(const uint8_t *data, size_t size)
{
    static char path[256];
    if (!path[0]) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        snprintf(path, sizeof path, "%s/moonlab-fuzz-%ld.bin", dir, (long)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f) abort(); /* the harness itself failed: stop loudly */
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    return path;
}

#define ML_FUZZ_FILE(fn)                                                   \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)           \
    {                                                                      \
        const char *path_ = ml_fuzz_write(data, size);                     \
        fn(path_);                                                         \
        unlink(path_);                                                     \
        return 0;                                                          \
    }

#define ML_FUZZ_BUFFER(fn)                                                 \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)           \
    {                                                                      \
        fn(data, size);                                                    \
        return 0;                                                          \
    }

#endif
