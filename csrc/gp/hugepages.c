/* Transparent-huge-page hint for the large dense matrices of the GP core (covariance, factor, K^-1). */
#include <stdint.h>
#include <sys/mman.h>
#include "gp_internal.h"

/* Asks for transparent huge pages on a large buffer before it is first written: with 4 kB pages the faults
 * of a fresh 39 MB matrix took longer than computing it. A hint only (buffers under 4 MB are left alone). */
void gp_huge_pages(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t page = 4096;
    if (bytes < ((size_t)4 << 20)) return;
    uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1), e = ((uintptr_t)p + bytes) & ~(page - 1);
    if (e > a) (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
    (void)p, (void)bytes;
#endif
}
