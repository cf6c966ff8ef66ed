/* The ground-truth opacity along a ray for checking the error bound: 1 − exp(−∫σ) by composite Simpson. */
#include <math.h>
#include <stdlib.h>
#include "sdf_internal.h"

/* Composite Simpson on every interval [t_k, t_{k+1}] with an even number of panels ∝ its length. */
int ml_sdf_opacity_reference(const ml_sdf_field *f, const double *o, const double *u, const double *t, int n,
                             double beta, int64_t nq, double *O)
{
    if (n < 1) return ML_OK;
    double L = t[n - 1] - t[0];
    O[0] = 0;
    double acc = 0;
    double *p = NULL, *d = NULL;
    int64_t capm = 0;
    int rc = ML_OK;
    for (int k = 0; k + 1 < n && rc == ML_OK; k++) {
        double a = t[k], b = t[k + 1];
        int64_t m = L > 0 ? (int64_t)ceil((double)nq * (b - a) / L) : 2;
        if (m < 2) m = 2;
        if (m % 2) m++;
        if (m + 1 > capm) {
            capm = 2 * (m + 1);
            free(p); free(d);
            p = malloc(sizeof(double) * 3 * (size_t)capm);
            d = malloc(sizeof(double) * (size_t)capm);
            if (!p || !d) { rc = ml_fail(ML_ENOMEM, "opacity reference: out of memory"); break; }
        }
        double h = (b - a) / (double)m;
        for (int64_t j = 0; j <= m; j++)
            for (int c = 0; c < 3; c++) p[3 * j + c] = o[c] + (a + h * (double)j) * u[c];
        rc = sdf_field_eval(f, p, m + 1, d);
        if (rc != ML_OK) break;
        double s = 0;
        for (int64_t j = 0; j <= m; j++)
            s += (j == 0 || j == m ? 1.0 : (j % 2 ? 4.0 : 2.0)) * ml_sdf_density1(d[j], beta);
        acc += s * h / 3.0;
        O[k + 1] = -expm1(-acc);
    }
    free(p); free(d);
    return rc;
}
