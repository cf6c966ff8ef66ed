/* Internal: stable sorts of one tensor line (used by ops_sort.c): insertion sort for short lines, LSD radix. */
#ifndef MOONLAB_CORE_SORT_LINE_H
#define MOONLAB_CORE_SORT_LINE_H

#include <stdint.h>
#include "moonlab/tensor.h"

/* One line to sort: n elements of dtype dt at src (stride ss bytes); sorted values go to vals (stride vs
 * bytes) and source positions plus base to idx (stride is elements); either output may be NULL. */
typedef struct {
    ml_dtype dt;
    int descending;
    int64_t n;
    const char *src;
    int64_t ss;
    char *vals;
    int64_t vs;
    int64_t *idx;
    int64_t is;
    int64_t base;
} ml_sort_line;

/* Longest line the radix path takes (positions are kept as 32-bit numbers). */
#define ML_SORT_RADIX_MAXN ((int64_t)UINT32_MAX)

/* Bytes of scratch ml_sort_radix needs for the line (the same for every line of a tensor). */
size_t ml_sort_radix_scratch(const ml_sort_line *ln);

/* Sorts the line stably by its order-preserving unsigned keys (floats: sign-flipped bits, -0 tying with +0,
 * NaN largest; descending inverts the keys), 11-bit digits, passes whose digit is shared by every key skipped;
 * nthreads > 1 splits every pass into that many chunks run in parallel (per-chunk histograms). Values are
 * rebuilt from the keys (the bits of the source for -0 and NaN). When both outputs are contiguous along the line
 * their memory serves as half of the work arrays (outputs must not overlap the source). Returns ML_OK, or
 * ML_ENOMEM. */
int ml_sort_radix(const ml_sort_line *ln, void *scratch, int nthreads);

/* Lines of at most ML_SORT_SMALL elements: stable insertion sort on the same keys. */
#define ML_SORT_SMALL 64
void ml_sort_small(const ml_sort_line *ln);

#endif
