/* Limited-memory BFGS two-loop recursion for the dimer translation (the effective force is not
 * a gradient, so NLopt's line-searching L-BFGS does not apply). */
#include <stdlib.h>
#include <string.h>
#include "gp_internal.h"

int gp_lbfgs_init(gp_lbfgs *b, int D, int m, double gamma0)
{
    memset(b, 0, sizeof *b);
    b->D = D, b->m = m < 1 ? 1 : m, b->gamma0 = gamma0;
    b->s = malloc((size_t)b->m * D * sizeof *b->s);
    b->y = malloc((size_t)b->m * D * sizeof *b->y);
    b->rho = malloc((size_t)(2 * b->m) * sizeof *b->rho);
    if (!b->s || !b->y || !b->rho) {
        gp_lbfgs_free(b);
        return ml_fail(ML_ENOMEM, "dimer: out of memory");
    }
    return ML_OK;
}

void gp_lbfgs_free(gp_lbfgs *b) { free(b->s), free(b->y), free(b->rho), b->s = b->y = b->rho = NULL; }
void gp_lbfgs_reset(gp_lbfgs *b) { b->count = 0, b->head = 0; }

int gp_lbfgs_push(gp_lbfgs *b, const double *s, const double *y)
{
    double sy = gp_dot(b->D, s, y);
    if (!(sy > 0)) {
        gp_lbfgs_reset(b);
        return 0;
    }
    int slot = (b->head + b->count) % b->m;
    if (b->count == b->m) b->head = (b->head + 1) % b->m;
    else b->count++;
    memcpy(b->s + (int64_t)slot * b->D, s, (size_t)b->D * sizeof *s);
    memcpy(b->y + (int64_t)slot * b->D, y, (size_t)b->D * sizeof *y);
    b->rho[slot] = 1.0 / sy;
    return 1;
}

void gp_lbfgs_step(const gp_lbfgs *b, const double *f, double *d)
{
    int D = b->D;
    double *al = b->rho + b->m; /* scratch: the second half of rho */
    memcpy(d, f, (size_t)D * sizeof *d);
    for (int k = b->count - 1; k >= 0; k--) {
        int sl = (b->head + k) % b->m;
        al[k] = b->rho[sl] * gp_dot(D, b->s + (int64_t)sl * D, d);
        for (int i = 0; i < D; i++) d[i] -= al[k] * b->y[(int64_t)sl * D + i];
    }
    double gamma = b->gamma0;
    if (b->count > 0) {
        int sl = (b->head + b->count - 1) % b->m;
        const double *yy = b->y + (int64_t)sl * D;
        gamma = 1.0 / (b->rho[sl] * gp_dot(D, yy, yy));
    }
    for (int i = 0; i < D; i++) d[i] *= gamma;
    for (int k = 0; k < b->count; k++) {
        int sl = (b->head + k) % b->m;
        double be = b->rho[sl] * gp_dot(D, b->y + (int64_t)sl * D, d);
        for (int i = 0; i < D; i++) d[i] += (al[k] - be) * b->s[(int64_t)sl * D + i];
    }
}
