/* Joint covariance blocks of the inverse-distance kernel (paper §2):
 * k = c + v exp(-1/2 sum_p (phi_p(x) - phi_p(y))^2 / l_t(p)^2), phi_p = 1/r_p over the atom pairs
 * (moving-moving and moving-frozen). Chained through the sparse Jacobian dphi/dx: with
 * a_p = (phi_p(x) - phi_p(y)) / l^2, gX = J_x^T a, gY = J_y^T a, M = J_x^T diag(1/l^2) J_y:
 * dk/dx = -k gX, dk/dy = k gY, d2k/dx dy = k (M - gX gY^T) (k without c). */
#include <math.h>
#include <string.h>
#include "gp_internal.h"

/* Per pair: phi and the gradient of phi with respect to atom a (atom b gets its negative). */
static void features(const ml_gp_kernel *k, const double *x, double *phi, double *grad)
{
    int ad = k->adim;
    for (int p = 0; p < k->npairs; p++) {
        const gp_pair *pr = k->pairs + p;
        const double *ra = x + pr->a * ad;
        const double *rb = pr->b >= 0 ? x + pr->b * ad : k->frozen + (-1 - pr->b) * ad;
        double d[3] = {0, 0, 0}, r2 = 0;
        for (int c = 0; c < ad; c++) d[c] = ra[c] - rb[c], r2 += d[c] * d[c];
        double r = sqrt(r2);
        phi[p] = 1.0 / r;
        double r3 = r2 * r;
        for (int c = 0; c < ad; c++) grad[p * ad + c] = -d[c] / r3;
    }
}

int64_t gp_invdist_work(const ml_gp_kernel *k, int D)
{
    int64_t P = k->npairs, T = k->ntl;
    return 4 * P + 2 * P * k->adim + (T + 1) * ((int64_t)D * D + 2 * D) + T;
}

void gp_block_invdist(const ml_gp_kernel *k, int D, const double *x, const double *y,
                      int deriv, double *B, double *dB, double *work)
{
    int P = k->npairs, ad = k->adim, T = k->ntl, m = deriv ? D + 1 : 1;
    int64_t mm2 = (int64_t)m * m, DD = (int64_t)D * D;
    double *px = work, *py = px + P, *a = py + P, *il2 = a + P;
    double *gx = il2 + P, *gy = gx + (int64_t)P * ad;
    double *Mt = gy + (int64_t)P * ad;           /* T blocks D x D (per type) then the total */
    double *gXt = Mt + (T + 1) * DD, *gYt = gXt + (int64_t)(T + 1) * D, *St = gYt + (int64_t)(T + 1) * D;
    double v = exp(k->theta[0]);
    features(k, x, px, gx);
    features(k, y, py, gy);
    double s = 0;
    for (int t = 0; t < T; t++) St[t] = 0;
    for (int p = 0; p < P; p++) {
        il2[p] = k->il2[k->pairs[p].t];
        double d = px[p] - py[p];
        a[p] = d * il2[p];
        St[k->pairs[p].t] += d * a[p];
        s += d * a[p];
    }
    double kv = v * exp(-0.5 * s);
    B[0] = k->constant + kv;
    if (dB) {
        dB[0] = kv;
        for (int t = 0; t < T; t++) dB[(1 + t) * mm2] = kv * St[t];
    }
    if (!deriv) return;
    /* per-type sums (index T holds the total) */
    int need_t = dB != NULL;
    int nblk = need_t ? T + 1 : 1;
    memset(Mt, 0, (size_t)(nblk * DD) * sizeof *Mt);
    memset(gXt, 0, (size_t)nblk * D * sizeof *gXt);
    memset(gYt, 0, (size_t)nblk * D * sizeof *gYt);
    double *M = need_t ? Mt + T * DD : Mt, *gX = need_t ? gXt + T * D : gXt,
           *gY = need_t ? gYt + T * D : gYt;
    for (int p = 0; p < P; p++) {
        const gp_pair *pr = k->pairs + p;
        int t = pr->t;
        double *Mp = need_t ? Mt + t * DD : M, *gXp = need_t ? gXt + t * D : gX,
               *gYp = need_t ? gYt + t * D : gY;
        const double *vx = gx + p * ad, *vy = gy + p * ad;
        int ia = pr->a * ad, ib = pr->b >= 0 ? pr->b * ad : -1;
        for (int c = 0; c < ad; c++) {
            gXp[ia + c] += a[p] * vx[c];
            gYp[ia + c] += a[p] * vy[c];
            if (ib >= 0) gXp[ib + c] -= a[p] * vx[c], gYp[ib + c] -= a[p] * vy[c];
        }
        for (int c = 0; c < ad; c++) {
            double cx = il2[p] * vx[c];
            for (int e = 0; e < ad; e++) {
                double q = cx * vy[e];
                Mp[(ia + c) * D + ia + e] += q;
                if (ib >= 0) {
                    Mp[(ia + c) * D + ib + e] -= q;
                    Mp[(ib + c) * D + ia + e] -= q;
                    Mp[(ib + c) * D + ib + e] += q;
                }
            }
        }
    }
    if (need_t)
        for (int t = 0; t < T; t++) {
            for (int64_t i = 0; i < DD; i++) M[i] += Mt[t * DD + i];
            for (int i = 0; i < D; i++) gX[i] += gXt[t * D + i], gY[i] += gYt[t * D + i];
        }
    for (int i = 0; i < D; i++) {
        B[(1 + i) * m] = -kv * gX[i];
        B[1 + i] = kv * gY[i];
        double *row = B + (1 + i) * m + 1;
        for (int j = 0; j < D; j++) row[j] = kv * (M[i * D + j] - gX[i] * gY[j]);
    }
    if (!dB) return;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) dB[i * m + j] = (i == 0 && j == 0) ? kv : B[i * m + j];
    for (int t = 0; t < T; t++) {
        double *Bt = dB + (1 + t) * mm2, S = St[t];
        const double *Mtt = Mt + t * DD, *gxt = gXt + t * D, *gyt = gYt + t * D;
        for (int i = 0; i < D; i++) {
            Bt[(1 + i) * m] = -kv * S * gX[i] + 2 * kv * gxt[i];
            Bt[1 + i] = kv * S * gY[i] - 2 * kv * gyt[i];
            double *row = Bt + (1 + i) * m + 1;
            for (int j = 0; j < D; j++)
                row[j] = kv * S * (M[i * D + j] - gX[i] * gY[j]) +
                         kv * (-2 * Mtt[i * D + j] + 2 * gxt[i] * gY[j] + 2 * gX[i] * gyt[j]);
        }
    }
}
