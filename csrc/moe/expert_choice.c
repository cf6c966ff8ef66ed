/* moonlab moe — expert-choice routing (Zhou et al. 2022): each expert takes the C tokens with the highest
 * score s[t,e] (ties to the lowest token); a token's slots list its experts in increasing order. */
#include <stdlib.h>
#include "moe_internal.h"

typedef struct { double s; int64_t t; } cand;

static int by_score_desc(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->s > y->s) return -1;
    if (x->s < y->s) return 1;
    return (x->t > y->t) - (x->t < y->t);
}

int moe_expert_choice(const ml_moe_route_opts *o, int64_t T, int64_t E, int64_t C, const double *s,
                      int64_t *experts, ml_tensor *weights) {
    int64_t base = o->index_base;
    if (C > T) C = T;
    unsigned char *chosen = calloc((size_t)T * (size_t)E, 1);
    cand *cd = malloc((size_t)(T > 0 ? T : 1) * sizeof(cand));
    if (!chosen || !cd) { free(chosen); free(cd); return ml_fail(ML_ENOMEM, "moe.route: out of memory"); }
    for (int64_t e = 0; e < E; e++) {
        for (int64_t t = 0; t < T; t++) { cd[t].s = s[t * E + e]; cd[t].t = t; }
        qsort(cd, (size_t)T, sizeof(cand), by_score_desc);
        for (int64_t i = 0; i < C; i++) chosen[cd[i].t * E + e] = 1;
    }
    for (int64_t t = 0; t < T; t++) {
        int64_t j = 0;
        double sum = 0;
        for (int64_t e = 0; e < E; e++)
            if (chosen[t * E + e]) { experts[t * E + j] = e + base; sum += s[t * E + e]; j++; }
        double c = o->route_scale;
        if (o->renormalize) c = sum > 0 ? c / sum : 0;
        for (int64_t i = 0; i < E; i++) {
            if (i < j) ml_tensor_setd(weights, t * E + i, c * s[t * E + (experts[t * E + i] - base)]);
            else { experts[t * E + i] = base - 1; ml_tensor_setd(weights, t * E + i, 0.0); }
        }
    }
    free(chosen); free(cd);
    return ML_OK;
}
