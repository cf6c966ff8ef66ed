/* moonlab laplace — helpers shared by every inversion method: the shift a, the time checks
 * and the batched evaluation of F at the nodes (parallel for thread-safe C transforms above
 * a work threshold; Ctrl-C polled between batches). */
#include <math.h>
#include <stdlib.h>
#include "lp_internal.h"

double ml_lp_shift(const ml_laplace_opts *o, const ml_laplace_fn *fn) {
    return isnan(o->abscissa) ? fn->abscissa : o->abscissa;
}

int ml_lp_check_times(size_t nt, const double *t, double *tmax, double *tmin) {
    double hi = 0, lo = INFINITY;
    for (size_t i = 0; i < nt; i++) {
        if (!(t[i] > 0) || !isfinite(t[i]))
            return ml_fail(ML_EINVAL, "t[%zu] = %g, expected a finite time > 0", i + 1, t[i]);
        if (t[i] > hi) hi = t[i];
        if (t[i] < lo) lo = t[i];
    }
    if (tmax) *tmax = hi;
    if (tmin) *tmin = lo;
    return ML_OK;
}

#define EVAL_BATCH 1024

int ml_lp_eval(const ml_laplace_fn *fn, double shift, size_t n, const double complex *s,
               double complex *out) {
    if (!fn || !fn->eval) return ml_fail(ML_EINVAL, "transform has no eval function");
    size_t nb = (n + EVAL_BATCH - 1) / EVAL_BATCH;
    int rc = ML_OK;
    double complex *tmp = malloc(sizeof(double complex) * (n ? n : 1));
    if (!tmp) return ml_fail(ML_ENOMEM, "out of memory for %zu nodes", n);
    for (size_t i = 0; i < n; i++) tmp[i] = s[i] + shift;
    if (fn->threadsafe && nb > 1 && ML_LP_PAR(n)) {
        int bad = ML_OK;
#pragma omp parallel for schedule(dynamic)
        for (size_t b = 0; b < nb; b++) {
            size_t i0 = b * EVAL_BATCH, m = n - i0 < EVAL_BATCH ? n - i0 : EVAL_BATCH;
            int r = fn->eval(fn->params, m, tmp + i0, out + i0);
            if (r != ML_OK) {
#pragma omp atomic write
                bad = r;
            }
        }
        rc = bad;
    } else {
        for (size_t b = 0; b < nb && rc == ML_OK; b++) {
            size_t i0 = b * EVAL_BATCH, m = n - i0 < EVAL_BATCH ? n - i0 : EVAL_BATCH;
            rc = ml_progress_tick(NULL, 0, 0); /* Ctrl-C between batches of a slow (Lua) F */
            if (rc == ML_OK) rc = fn->eval(fn->params, m, tmp + i0, out + i0);
        }
    }
    if (rc == ML_OK) {
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(creal(out[i])) || !isfinite(cimag(out[i]))) {
                rc = ml_fail(ML_ENUMERIC, "F(%g%+gi) = %g%+gi is not finite", creal(tmp[i]),
                             cimag(tmp[i]), creal(out[i]), cimag(out[i]));
                break;
            }
        }
    }
    free(tmp);
    return rc;
}
