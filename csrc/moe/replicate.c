/* moonlab moe — the rate experiment's inner loop: replications of sample -> EM from a perturbed start ->
 * Voronoi loss, run in parallel over replications (each fit serial), seeded per replication. */
#include <stdlib.h>
#include <omp.h>
#include "gmoe_internal.h"

int ml_gmoe_replicate(const ml_gmoe *truth, const ml_gmoe *start, double perturb, int64_t n, int reps,
                      uint64_t seed, const ml_gmoe_em_opts *o, const ml_progress *p, double *loss_d1,
                      double *loss_d2, int *iters, int *converged) {
    int rc = ml_gmoe_check(truth);
    if (!rc) rc = ml_gmoe_check(start);
    if (rc) return rc;
    if (truth->d != start->d) return ml_fail(ML_EINVAL, "start and truth differ in features");
    if (n < 2 || reps < 1) return ml_fail(ML_EINVAL, "need n >= 2 and reps >= 1");
    int64_t nd;
    if (__builtin_mul_overflow(n, (int64_t)truth->d + 1, &nd)) return ml_fail(ML_ENOMEM, "n too large");
    int failed = 0, done = 0, stop = 0;
    char msg[256] = "";
    ml_gmoe_em_opts oo = *o;
    oo.threads = 1;
    #pragma omp parallel for schedule(dynamic, 1)
    for (int r = 0; r < reps; r++) {
        int bad;
        #pragma omp atomic read
        bad = stop;
        if (bad || ml_interrupted()) {
            loss_d1[r] = NAN;
            if (loss_d2) loss_d2[r] = NAN;
            iters[r] = 0; converged[r] = 0;
            continue;
        }
        double *X = malloc((size_t)nd * sizeof(double));
        ml_gmoe m;
        int e = X ? ml_gmoe_copy(&m, start) : ML_ENOMEM;
        ml_gmoe_em_result res = {0};
        if (!e) {
            double *Y = X + n * truth->d;
            e = ml_gmoe_sample(truth, n, seed + (uint64_t)r, 0, X, Y);
            ml_gmoe_perturb(&m, perturb, seed * 7919u + 104729u + (uint64_t)r, oo.fix_last && ml_gmoe_translation_invariant(&m));
            if (!e) e = ml_gmoe_fit_em(&m, X, Y, n, &oo, NULL, &res);
            int64_t cell[256];
            double terms[256];
            if (!e) e = ml_gmoe_voronoi(&m, truth, 0, 1, &loss_d1[r], cell, terms);
            if (!e && loss_d2) e = ml_gmoe_voronoi(&m, truth, 1, 1, &loss_d2[r], cell, terms);
            ml_gmoe_free(&m);
        }
        iters[r] = res.iterations;
        converged[r] = res.converged;
        free(X);
        if (e) {
            #pragma omp critical(moe_rep_err)
            if (!failed) { failed = e; snprintf(msg, sizeof msg, "replication %d: %s", r + 1, ml_errmsg()); }
            #pragma omp atomic write
            stop = 1;
        }
        #pragma omp atomic
        done++;
        if (omp_get_thread_num() == 0 && p) {
            int dn;
            #pragma omp atomic read
            dn = done;
            if (ml_progress_tick(p, dn, reps) != ML_OK) {
                #pragma omp atomic write
                stop = 1;
            }
        }
    }
    if (failed) return ml_fail(failed, "%s", msg);
    if (ml_interrupted() || stop) return ml_progress_tick(p, done, reps) ? ML_EINTR : ml_fail(ML_EINTR, "interrupted");
    return ML_OK;
}
