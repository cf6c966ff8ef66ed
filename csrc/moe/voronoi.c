/* moonlab moe — Voronoi losses D1 (exact fit) and D2 (over-specified fit) between a fitted and a true
 * Gaussian MoE (Nguyen et al. 2023, Sec. 3-4; 2024, Sec. 3). */
#include <stdlib.h>
#include "gmoe_internal.h"

static double atom_dist2(const ml_gmoe *f, int i, const ml_gmoe *t, int j, const double *shift1) {
    int d = f->d;
    double s = 0;
    for (int q = 0; q < d; q++) {
        double u = f->beta1[i * d + q] + shift1[q] - t->beta1[j * d + q];
        double v = f->a[i * d + q] - t->a[j * d + q];
        s += u * u + v * v;
    }
    double db = f->b[i] - t->b[j], ds = f->sigma[i] - t->sigma[j];
    return s + db * db + ds * ds;
}

static void cells(const ml_gmoe *f, const ml_gmoe *t, const double *shift1, int64_t *cell) {
    for (int i = 0; i < f->K; i++) {
        int best = 0;
        double bd = atom_dist2(f, i, t, 0, shift1);
        for (int j = 1; j < t->K; j++) {
            double dd = atom_dist2(f, i, t, j, shift1);
            if (dd < bd) { bd = dd; best = j; }
        }
        cell[i] = best;
    }
}

static double rbar(int m) { return m == 2 ? 4.0 : 6.0; }

int ml_gmoe_voronoi(const ml_gmoe *f, const ml_gmoe *t, int d2, int normalize, double *loss, int64_t *cell,
                    double *terms) {
    if (f->d != t->d)
        return ml_fail(ML_EINVAL, "the fitted model has %d features, the truth %d", f->d, t->d);
    int d = f->d, Kf = f->K, Kt = t->K;
    double *sh1 = calloc((size_t)d, sizeof(double)), sh0 = 0;
    double *b0 = malloc((size_t)Kf * sizeof(double));
    int *size = calloc((size_t)Kt, sizeof(int));
    if (!sh1 || !b0 || !size) { free(sh1); free(b0); free(size); return ml_fail(ML_ENOMEM, "voronoi: out of memory"); }
    cells(f, t, sh1, cell);
    if (normalize && ml_gmoe_translation_invariant(f)) {
        /* shift the fitted gate so that its total mass sum_i e^{beta0_i} and its mass-weighted mean beta1 equal
         * the truth's (log-sum-exp for stability); softmax gates are invariant to the shift */
        double mf = -INFINITY, mt = -INFINITY;
        for (int i = 0; i < Kf; i++) mf = fmax(mf, f->beta0[i]);
        for (int j = 0; j < Kt; j++) mt = fmax(mt, t->beta0[j]);
        double sf = 0, st = 0;
        for (int i = 0; i < Kf; i++) sf += exp(f->beta0[i] - mf);
        for (int j = 0; j < Kt; j++) st += exp(t->beta0[j] - mt);
        sh0 = (mt + log(st)) - (mf + log(sf));
        for (int q = 0; q < d; q++) {
            double a1 = 0, a2 = 0;
            for (int i = 0; i < Kf; i++) a1 += exp(f->beta0[i] - mf) * f->beta1[i * d + q];
            for (int j = 0; j < Kt; j++) a2 += exp(t->beta0[j] - mt) * t->beta1[j * d + q];
            sh1[q] = a2 / st - a1 / sf;
        }
        cells(f, t, sh1, cell);
    }
    for (int i = 0; i < Kf; i++) { b0[i] = f->beta0[i] + sh0; size[cell[i]]++; }
    int rc = ML_OK;
    double total = 0;
    for (int j = 0; j < Kt; j++) {
        if (d2 && size[j] > 3) {
            rc = ml_fail(ML_EINVAL, "D2 exponents are known for cells of at most 3 fitted atoms; true atom %d has %d",
                         j + 1, size[j]);
            break;
        }
        double mass = 0, par = 0;
        double r = (d2 && size[j] > 1) ? rbar(size[j]) : 1.0, rh = (d2 && size[j] > 1) ? r / 2 : 1.0;
        for (int i = 0; i < Kf; i++) {
            if (cell[i] != j) continue;
            double w = exp(b0[i]);
            mass += w;
            double nb = 0, na = 0;
            for (int q = 0; q < d; q++) {
                double u = f->beta1[i * d + q] + sh1[q] - t->beta1[j * d + q], v = f->a[i * d + q] - t->a[j * d + q];
                nb += u * u;
                na += v * v;
            }
            nb = sqrt(nb); na = sqrt(na);
            double db = fabs(f->b[i] - t->b[j]), ds = fabs(f->sigma[i] - t->sigma[j]);
            par += w * (pow(nb, r) + pow(na, rh) + pow(db, r) + pow(ds, rh));
        }
        terms[j] = fabs(mass - exp(t->beta0[j])) + par;
        total += terms[j];
    }
    *loss = total;
    free(sh1); free(b0); free(size);
    return rc;
}
