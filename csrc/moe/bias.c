/* moonlab moe — aux-loss-free load balancing (DeepSeek-V3): the selection bias moves against each expert's load. */
#include "moe_internal.h"

void ml_moe_update_bias(double *bias, const int64_t *counts, int64_t E, double rate) {
    double mean = 0;
    for (int64_t e = 0; e < E; e++) mean += (double)counts[e];
    mean /= (double)(E > 0 ? E : 1);
    for (int64_t e = 0; e < E; e++) {
        double d = mean - (double)counts[e];
        bias[e] += rate * (d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0);
    }
}
