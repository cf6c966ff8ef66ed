/* Top-k with group limit, instantiated for REAL = float / double by topk.c (SUFFIX names the copy). */
void MOE_CAT(moe_topk_, SUFFIX)(const REAL *sel, int64_t E, int k, int groups, int group_topk, int64_t *idx,
                                REAL *scratch) {
    REAL *vals = scratch;          /* [k] */
    REAL *gscore = scratch + E;    /* [groups] */
    int64_t gs = groups > 1 ? E / groups : E;
    unsigned char allowed_mask[1024];
    int use_groups = groups > 1 && group_topk < groups;
    if (use_groups) {
        /* group score: sum of the two best selection values in the group (one when a group has one) */
        for (int g = 0; g < groups; g++) {
            REAL b1 = -INFINITY, b2 = -INFINITY;
            for (int64_t e = g * gs; e < (g + 1) * gs; e++) {
                REAL v = sel[e];
                if (v > b1) { b2 = b1; b1 = v; } else if (v > b2) b2 = v;
            }
            gscore[g] = gs >= 2 ? b1 + b2 : b1;
        }
        for (int g = 0; g < groups; g++) allowed_mask[g] = 0;
        for (int c = 0; c < group_topk; c++) {
            int best = -1;
            for (int g = 0; g < groups; g++)
                if (!allowed_mask[g] && (best < 0 || gscore[g] > gscore[best])) best = g;
            allowed_mask[best] = 1;
        }
    }
    int cnt = 0;
    for (int64_t e = 0; e < E; e++) {
        if (use_groups && !allowed_mask[e / gs]) continue;
        REAL v = sel[e];
        if (cnt == k && !(v > vals[k - 1])) continue;
        int pos = cnt < k ? cnt : k - 1;
        while (pos > 0 && v > vals[pos - 1]) { /* strict: an equal earlier index stays first */
            vals[pos] = vals[pos - 1];
            idx[pos] = idx[pos - 1];
            pos--;
        }
        vals[pos] = v;
        idx[pos] = e;
        if (cnt < k) cnt++;
    }
}
