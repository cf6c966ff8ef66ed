/* moonlab moe — gate M-step for softmax and top-K gates: Newton (IRLS) on Q with a backtracking line search
 * that accepts a step only when Q increases (a generalised EM step; Nguyen et al. 2023, Sec. 5). */
#include <stdlib.h>
#include "gmoe_internal.h"

int gmoe_spd_solve(double *A, double *b, int n) {
    double *L = malloc((size_t)n * n * sizeof(double));
    if (!L) return -1;
    double diag = 0;
    for (int i = 0; i < n; i++) diag = fmax(diag, fabs(A[i * n + i]));
    double ridge = 0;
    for (int attempt = 0; attempt < 12; attempt++) {
        int ok = 1;
        for (int i = 0; i < n && ok; i++)
            for (int j = 0; j <= i; j++) {
                double s = A[i * n + j] + (i == j ? ridge : 0);
                for (int k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
                if (i == j) {
                    if (!(s > 0)) { ok = 0; break; }
                    L[i * n + i] = sqrt(s);
                } else L[i * n + j] = s / L[j * n + j];
            }
        if (ok) {
            for (int i = 0; i < n; i++) {
                double s = b[i];
                for (int k = 0; k < i; k++) s -= L[i * n + k] * b[k];
                b[i] = s / L[i * n + i];
            }
            for (int i = n - 1; i >= 0; i--) {
                double s = b[i];
                for (int k = i + 1; k < n; k++) s -= L[k * n + i] * b[k];
                b[i] = s / L[i * n + i];
            }
            free(L);
            return 0;
        }
        ridge = ridge == 0 ? 1e-10 * (diag > 0 ? diag : 1) : ridge * 10;
    }
    free(L);
    return -1;
}

/* Newton direction dir = (-H)^-1 g (H is overwritten; a small gradient step when -H is not positive definite);
 * returns the slope g.dir. */
static double newton_dir(int np, const double *g, double *H, double *dir) {
    for (int i = 0; i < np * np; i++) H[i] = -H[i];
    for (int i = 0; i < np; i++) dir[i] = g[i];
    if (gmoe_spd_solve(H, dir, np)) for (int i = 0; i < np; i++) dir[i] = g[i] * 1e-3; /* gradient step */
    double slope = 0;
    for (int i = 0; i < np; i++) slope += g[i] * dir[i];
    return slope;
}

double gmoe_gate_newton_try(ml_gmoe *m, int fix_last, const double *pre, double *th_old) {
    int np = gmoe_gate_nparams(m, fix_last);
    if (np == 0) return 0;
    double *buf = malloc((size_t)(np * np + 2 * np) * sizeof(double));
    if (!buf) return 0;
    double *H = buf, *dir = H + np * np, *tn = dir + np, Q0 = pre[0];
    memcpy(H, pre + 1 + np, (size_t)np * np * sizeof(double));
    double slope = newton_dir(np, pre + 1, H, dir);
    gmoe_gate_pack(m, fix_last, th_old);
    if (!isfinite(Q0) || !(slope > 1e-12 * (fabs(Q0) + 1))) slope = 0; /* at a stationary point */
    else {
        for (int i = 0; i < np; i++) tn[i] = th_old[i] + dir[i];
        gmoe_gate_unpack(m, fix_last, tn);
    }
    free(buf);
    return slope;
}

int gmoe_gate_newton(ml_gmoe *m, int fix_last, const double *X, const double *R, int64_t n, int steps,
                     int threads, const double *pre) {
    int np = gmoe_gate_nparams(m, fix_last);
    if (np == 0) return ML_OK;
    double *buf = malloc((size_t)(np * np + 4 * np) * sizeof(double));
    if (!buf) return ml_fail(ML_ENOMEM, "fit_em: out of memory");
    double *H = buf, *g = H + np * np, *th = g + np, *tn = th + np, *dir = tn + np;
    for (int s = 0; s < steps; s++) {
        double Q0;
        if (s == 0 && pre) {
            Q0 = pre[0];
            memcpy(g, pre + 1, (size_t)np * sizeof(double));
            memcpy(H, pre + 1 + np, (size_t)np * np * sizeof(double));
        } else Q0 = gmoe_gate_objective(m, fix_last, X, R, n, threads, g, H);
        if (!isfinite(Q0)) break;
        double slope = newton_dir(np, g, H, dir);
        gmoe_gate_pack(m, fix_last, th);
        double alpha = 1, Q1 = -INFINITY;
        int accepted = 0;
        if (!(slope > 1e-13 * (fabs(Q0) + 1))) break; /* at a stationary point: nothing to gain */
        for (int ls = 0; ls < 12 && alpha * slope > 1e-12 * (fabs(Q0) + 1); ls++) {
            for (int i = 0; i < np; i++) tn[i] = th[i] + alpha * dir[i];
            gmoe_gate_unpack(m, fix_last, tn);
            Q1 = gmoe_gate_objective(m, fix_last, X, R, n, threads, NULL, NULL);
            if (isfinite(Q1) && Q1 >= Q0 + 1e-4 * alpha * slope && Q1 >= Q0) { accepted = 1; break; }
            alpha *= 0.5;
        }
        if (!accepted) { gmoe_gate_unpack(m, fix_last, th); break; }
        if (Q1 - Q0 <= 1e-12 * fabs(Q0)) break;
    }
    free(buf);
    return ML_OK;
}
