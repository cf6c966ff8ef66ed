/* Joint covariance blocks of the inverse-distance kernel (paper §2):
 * k = c + v exp(-1/2 sum_p (phi_p(x) - phi_p(y))^2 / l_t(p)^2), phi_p = 1/r_p over the atom pairs
 * (moving-moving and moving-frozen). Chained through the sparse Jacobian dphi/dx: with
 * a_p = (phi_p(x) - phi_p(y)) / l^2, gX = J_x^T a, gY = J_y^T a, M = J_x^T diag(1/l^2) J_y:
 * dk/dx = -k gX, dk/dy = k gY, d2k/dx dy = k (M - gX gY^T) (k without c).
 * The features (phi and the Jacobian rows) of a point depend on that point only: matrix assembly
 * computes them once per point (gp_invdist_features) and forms each block from two of them. */
#include <math.h>
#include <string.h>
#include "gp_internal.h"

#define INLINE static inline __attribute__((always_inline))

int64_t gp_invdist_feat_size(const ml_gp_kernel *k) { return (int64_t)k->npairs * (1 + k->adim); }

/* f = phi[P] then, per pair, the gradient of phi with respect to atom a (atom b gets its
 * negative) [P * adim]. */
void gp_invdist_features(const ml_gp_kernel *k, const double *x, double *f)
{
    int ad = k->adim;
    double *phi = f, *grad = f + k->npairs;
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

/* Scratch of gp_block_invdist_feat. */
static int64_t core_work(const ml_gp_kernel *k, int D)
{
    int64_t P = k->npairs, T = k->ntl;
    return 2 * P + (T + 1) * ((int64_t)D * D + 2 * D) + T;
}

int64_t gp_invdist_work(const ml_gp_kernel *k, int D) { return 2 * gp_invdist_feat_size(k) + core_work(k, D); }

/* gX += J_x^T a, gY += J_y^T a and M += J_x^T diag(1/l^2) J_y over the pairs of type t (t < 0:
 * every pair); ad is a compile-time constant at the call sites (2 or 3). */
INLINE void accumulate(const ml_gp_kernel *k, int ad, int D, int t, const double *a, const double *il2,
                       const double *gx, const double *gy, double *M, double *gX, double *gY)
{
    for (int p = 0; p < k->npairs; p++) {
        const gp_pair *pr = k->pairs + p;
        if (t >= 0 && pr->t != t) continue;
        const double *vx = gx + p * ad, *vy = gy + p * ad;
        int ia = pr->a * ad, ib = pr->b >= 0 ? pr->b * ad : -1;
        double q[3][3], ax[3], ay[3];
        for (int c = 0; c < ad; c++) {
            ax[c] = a[p] * vx[c], ay[c] = a[p] * vy[c];
            double cx = il2[p] * vx[c];
            for (int e = 0; e < ad; e++) q[c][e] = cx * vy[e];
        }
        for (int c = 0; c < ad; c++) {
            gX[ia + c] += ax[c], gY[ia + c] += ay[c];
            double *Ma = M + (int64_t)(ia + c) * D;
            for (int e = 0; e < ad; e++) Ma[ia + e] += q[c][e];
        }
        if (ib < 0) continue;
        for (int c = 0; c < ad; c++) {
            gX[ib + c] -= ax[c], gY[ib + c] -= ay[c];
            double *Ma = M + (int64_t)(ia + c) * D, *Mb = M + (int64_t)(ib + c) * D;
            for (int e = 0; e < ad; e++) {
                Ma[ib + e] -= q[c][e];
                Mb[ia + e] -= q[c][e];
                Mb[ib + e] += q[c][e];
            }
        }
    }
}

static void accumulate_any(const ml_gp_kernel *k, int D, int t, const double *a, const double *il2,
                           const double *gx, const double *gy, double *M, double *gX, double *gY)
{
    if (k->adim == 3) accumulate(k, 3, D, t, a, il2, gx, gy, M, gX, gY);
    else accumulate(k, 2, D, t, a, il2, gx, gy, M, gX, gY);
}

void gp_block_invdist_feat(const ml_gp_kernel *k, int D, const double *fx, const double *fy,
                           int deriv, double *B, double *dB, double *work)
{
    int P = k->npairs, T = k->ntl, m = deriv ? D + 1 : 1;
    int64_t mm2 = (int64_t)m * m, DD = (int64_t)D * D;
    const double *px = fx, *py = fy, *gx = fx + P, *gy = fy + P;
    double *a = work, *il2 = a + P;
    double *Mt = il2 + P;                          /* T blocks D x D (per type) then the total */
    double *gXt = Mt + (T + 1) * DD, *gYt = gXt + (int64_t)(T + 1) * D, *St = gYt + (int64_t)(T + 1) * D;
    double v = exp(k->theta[0]);
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
    /* the total (index T when per-type sums are needed for dB) */
    int need_t = dB != NULL && T > 1;
    double *M = need_t ? Mt + T * DD : Mt, *gX = need_t ? gXt + T * D : gXt,
           *gY = need_t ? gYt + T * D : gYt;
    if (need_t) {
        memset(Mt, 0, (size_t)((T + 1) * DD) * sizeof *Mt);
        memset(gXt, 0, (size_t)(T + 1) * D * sizeof *gXt);
        memset(gYt, 0, (size_t)(T + 1) * D * sizeof *gYt);
        for (int t = 0; t < T; t++)
            accumulate_any(k, D, t, a, il2, gx, gy, Mt + t * DD, gXt + t * D, gYt + t * D);
        for (int t = 0; t < T; t++) {
            for (int64_t i = 0; i < DD; i++) M[i] += Mt[t * DD + i];
            for (int i = 0; i < D; i++) gX[i] += gXt[t * D + i], gY[i] += gYt[t * D + i];
        }
    } else {
        memset(M, 0, (size_t)DD * sizeof *M);
        memset(gX, 0, (size_t)D * sizeof *gX);
        memset(gY, 0, (size_t)D * sizeof *gY);
        accumulate_any(k, D, -1, a, il2, gx, gy, M, gX, gY);
    }
    for (int i = 0; i < D; i++) {
        B[(1 + i) * m] = -kv * gX[i];
        B[1 + i] = kv * gY[i];
        double *row = B + (1 + i) * m + 1, gi = gX[i];
        const double *Mi = M + (int64_t)i * D;
        for (int j = 0; j < D; j++) row[j] = kv * (Mi[j] - gi * gY[j]);
    }
    if (!dB) return;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) dB[i * m + j] = (i == 0 && j == 0) ? kv : B[i * m + j];
    for (int t = 0; t < T; t++) {
        /* one pair type: its sums are the totals */
        double *Bt = dB + (1 + t) * mm2, S = St[t];
        const double *Mtt = need_t ? Mt + t * DD : M, *gxt = need_t ? gXt + t * D : gX,
                     *gyt = need_t ? gYt + t * D : gY;
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

void gp_block_invdist(const ml_gp_kernel *k, int D, const double *x, const double *y,
                      int deriv, double *B, double *dB, double *work)
{
    int64_t F = gp_invdist_feat_size(k);
    gp_invdist_features(k, x, work);
    gp_invdist_features(k, y, work + F);
    gp_block_invdist_feat(k, D, work, work + F, deriv, B, dB, work + 2 * F);
}
