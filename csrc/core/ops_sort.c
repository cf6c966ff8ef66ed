/* Sorting along a dim: splits the tensor into lines and hands each to the line sorts of sort_line.c
 * (insertion sort for short lines, stable LSD radix sort for longer ones). Many lines run in parallel,
 * one per thread; a few long lines run one after another, each split into chunks sorted by all threads. */
#include "moonlab/runtime.h"
#include "moonlab/tensor.h"
#include "sort_line.h"

/* Lines at least this long are split among the threads when there are fewer lines than threads. */
#define SPLIT_MIN ((int64_t)1 << 16)

static void line_of(const ml_tensor *a, int dim, int descending, ml_tensor *vals, ml_tensor *idx, int64_t l,
                    int64_t base, ml_sort_line *ln)
{
    size_t es = ml_dtype_size(a->dtype);
    int64_t rem = l, oa = 0, ov = 0, oi = 0; /* offsets of line l: walk the other dims */
    for (int d = a->ndim - 1; d >= 0; d--) {
        if (d == dim) continue;
        int64_t i = rem % a->shape[d];
        rem /= a->shape[d];
        oa += i * a->strides[d];
        if (vals) ov += i * vals->strides[d];
        if (idx) oi += i * idx->strides[d];
    }
    *ln = (ml_sort_line){.dt = a->dtype,
                         .descending = descending,
                         .n = a->shape[dim],
                         .src = (const char *)a->data + oa * (int64_t)es,
                         .ss = a->strides[dim] * (int64_t)es,
                         .vals = vals ? (char *)vals->data + ov * (int64_t)es : NULL,
                         .vs = vals ? vals->strides[dim] * (int64_t)es : 0,
                         .idx = idx ? (int64_t *)idx->data + oi : NULL,
                         .is = idx ? idx->strides[dim] : 0,
                         .base = base};
}

/* Stable sort of every line along dim (NaN last, first when descending; -0 ties with +0); sorted values into
 * vals and the source positions plus base into idx (either may be NULL). */
int ml_tensor_sort_base(const ml_tensor *a, int dim, int descending, ml_tensor *vals, ml_tensor *idx, int64_t base)
{
    if (dim < 0 || dim >= a->ndim) return ml_fail(ML_EINVAL, "sort: dim %d out of range", dim + 1);
    int64_t len = a->shape[dim], lines = len ? a->numel / len : 0;
    if (len == 0 || lines == 0) return ML_OK;
    if (len > ML_SORT_RADIX_MAXN)
        return ml_fail(ML_EINVAL, "sort: lines of %lld elements (more than 2^32 - 1) are not supported", (long long)len);
    int nt = ml_get_threads();
    int split = lines < nt && len >= SPLIT_MIN ? nt : 1; /* threads per line */
    int bad = 0;
    ml_sort_line first;
    line_of(a, dim, descending, vals, idx, 0, base, &first);
    size_t nscratch = len > ML_SORT_SMALL ? ml_sort_radix_scratch(&first) : 0;
#pragma omp parallel if (split == 1 && lines > 1 && a->numel > 65536)
    {
        /* from the tensor allocator: large buffers come 2 MiB aligned with huge pages and are reused */
        ml_tensor buf = {0};
        void *scratch = NULL;
        if (nscratch) {
            int64_t nb = (int64_t)nscratch;
            if (ml_tensor_init_uninit(&buf, ML_U8, 1, &nb) == ML_OK) scratch = buf.data;
            else {
#pragma omp atomic write
                bad = 1;
            }
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t l = 0; l < lines; l++) {
            ml_sort_line ln;
            line_of(a, dim, descending, vals, idx, l, base, &ln);
            if (len <= ML_SORT_SMALL) ml_sort_small(&ln);
            else if (scratch && ml_sort_radix(&ln, scratch, split)) {
#pragma omp atomic write
                bad = 1;
            }
        }
        ml_tensor_release(&buf);
    }
    return bad ? ml_fail(ML_ENOMEM, "sort: out of memory for a line of %lld elements", (long long)len) : ML_OK;
}

int ml_tensor_sort(const ml_tensor *a, int dim, int descending, ml_tensor *vals, ml_tensor *idx)
{
    return ml_tensor_sort_base(a, dim, descending, vals, idx, 0);
}
