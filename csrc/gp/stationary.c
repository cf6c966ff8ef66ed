/* Joint energy+gradient covariance blocks of the stationary Cartesian kernels
 * k = v f(s), s = sum_i (x_i - y_i)^2 / l_i^2, and their log-hyperparameter derivatives.
 * With u_i = (x_i - y_i)/l_i^2: dk/dx_i = 2 v f' u_i, dk/dy_j = -2 v f' u_j,
 * d2k/dx_i dy_j = -v (4 f'' u_i u_j + 2 f' delta_ij / l_i^2). */
#include <math.h>
#include <string.h>
#include "gp_internal.h"

/* Block from profile values g[0..2] (f, f', f'') into B (m x m, m = 1 + D or 1). */
static void base_block(int D, int deriv, double v, const double *g, const double *u,
                       const double *il2, double *B)
{
    int m = deriv ? D + 1 : 1;
    B[0] = v * g[0];
    if (!deriv) return;
    for (int i = 0; i < D; i++) {
        B[(1 + i) * m] = 2 * v * g[1] * u[i];
        B[1 + i] = -2 * v * g[1] * u[i];
    }
    for (int i = 0; i < D; i++) {
        double *row = B + (1 + i) * m + 1;
        for (int j = 0; j < D; j++) row[j] = -v * 4 * g[2] * u[i] * u[j];
        row[i] -= v * 2 * g[1] * il2[i];
    }
}

/* Derivative of the block with respect to lambda_mm = log l_mm (mm < 0: the shared length
 * scale of an isotropic kernel, i.e. the sum over every coordinate). */
static void len_block(int D, int deriv, int mm, double v, const double *f, const double *u,
                      const double *w, const double *il2, double s, double *B)
{
    int m = deriv ? D + 1 : 1;
    double wm = mm < 0 ? s : w[mm];
    B[0] = -2 * v * f[1] * wm;
    if (!deriv) return;
    for (int i = 0; i < D; i++) {
        double dim = (mm < 0 || mm == i) ? 1.0 : 0.0;
        double di = 2 * v * (-2 * f[2] * wm * u[i] - 2 * f[1] * dim * u[i]);
        B[(1 + i) * m] = di;
        B[1 + i] = -di;
    }
    for (int i = 0; i < D; i++) {
        double dim = (mm < 0 || mm == i) ? 1.0 : 0.0;
        double *row = B + (1 + i) * m + 1;
        for (int j = 0; j < D; j++) {
            double djm = (mm < 0 || mm == j) ? 1.0 : 0.0;
            row[j] = -v * (-8 * f[3] * wm * u[i] * u[j] - 8 * f[2] * (dim + djm) * u[i] * u[j]);
        }
        row[i] -= v * (-4 * f[2] * wm * il2[i] - 4 * f[1] * dim * il2[i]);
    }
}

void gp_block_stationary(const ml_gp_kernel *k, int D, const double *x, const double *y,
                         int deriv, double *B, double *dB, double *work)
{
    int m = deriv ? D + 1 : 1, mm2 = m * m, nl = k->nl;
    double v = exp(k->theta[0]);
    double alpha = k->type == ML_GPK_RQ ? exp(k->theta[nl + 1]) : 1.0;
    double *u = work, *w = work + D, *il2 = work + 2 * D;
    double s = 0;
    for (int i = 0; i < D; i++) {
        double d = x[i] - y[i];
        il2[i] = k->il2[nl == 1 ? 0 : i];
        u[i] = d * il2[i];
        w[i] = d * u[i];
        s += w[i];
    }
    double f[4], fa[3];
    gp_radial(k->type, s, alpha, f, fa);
    base_block(D, deriv, v, f, u, il2, B);
    if (!dB) return;
    memcpy(dB, B, (size_t)mm2 * sizeof *dB); /* d/d log v */
    if (nl == 1) {
        len_block(D, deriv, -1, v, f, u, w, il2, s, dB + mm2);
    } else {
        for (int p = 0; p < nl; p++) len_block(D, deriv, p, v, f, u, w, il2, s, dB + (size_t)(1 + p) * mm2);
    }
    if (k->type == ML_GPK_RQ) base_block(D, deriv, v, fa, u, il2, dB + (size_t)(1 + nl) * mm2);
}
