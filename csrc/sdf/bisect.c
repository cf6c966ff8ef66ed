/* The bisection for β+ (paper §3.4, Algorithm 1; the reference code's 10 halvings of [β, β_prev]): the per-round
 * inputs, the scalar bound test, and the dispatch to the AVX2 / AVX-512 tests by ml_cpu_isa(). The test follows
 * ml_sdf_bound (Theorem 1, eq. 14-16) but only answers B(β) > ε: intervals farther than 36β from the surface enter
 * with rigorous over-estimates (error term δ²/(4β²)·e^{−36}, outside density 0, inside (1 − e^{−36}/2)/β), a term
 * exp(Ê − R̂) − exp(−R̂) is computed only when neither Ê <= log(1 + ε) nor Ê − R̂ <= log ε rules it out, and the
 * scan stops once R̂ exceeds every Ê still reachable by 1 − log ε (every later term is below ε/e). */
#include <math.h>
#include <string.h>
#include "moonlab/cpu.h"
#include "bisect.h"

size_t sdf_bisect_size(int n) { return 6 * ((size_t)n + SDF_PAD) + 1; }

static double *carve(double **p, size_t n) { double *r = *p; *p += n; return r; }

void sdf_bisect_init(sdf_bisect *b, double *scratch, const double *t, const double *d, int n, int exact,
                     double beta_hi)
{
    int n1 = n > 1 ? n - 1 : 0, np = (n1 + SDF_PAD - 1) / SDF_PAD * SDF_PAD;
    double *q = scratch;
    b->n1 = np;
    b->d = carve(&q, (size_t)np); b->ad = carve(&q, (size_t)np); b->ds = carve(&q, (size_t)np);
    b->dl = carve(&q, (size_t)np); b->dl2 = carve(&q, (size_t)np); b->sfx = carve(&q, (size_t)np + 1);
    int i0 = 0;
#if defined(__GNUC__) && defined(__x86_64__)
    ml_isa isa = ml_cpu_isa();
    if (isa == ML_ISA_AVX512) i0 = sdf_bisect_fill_avx512(b, t, d, n1, exact, beta_hi);
    else if (isa == ML_ISA_AVX2) i0 = sdf_bisect_fill_avx2(b, t, d, n1, exact, beta_hi);
#endif
    if (i0 < n1) ml_sdf_dstar(t + i0, d + i0, n - i0, exact, b->ds + i0);
    for (int i = i0; i < n1; i++) {
        double dl = t[i + 1] - t[i];
        b->d[i] = d[i];
        b->ad[i] = fabs(d[i]);
        b->dl[i] = dl;
        b->dl2[i] = dl * dl;
        b->sfx[i] = -b->ds[i] / beta_hi;
    }
    sdf_vexp(b->sfx + i0, b->sfx + i0, n1 - i0);
    for (int i = n1; i < np; i++) b->d[i] = b->ad[i] = b->ds[i] = b->dl[i] = b->dl2[i] = 0;
    memset(b->sfx + n1, 0, sizeof(double) * (size_t)(np + 1 - n1));
    double acc = 0;
    for (int i = n1 - 1; i >= 0; i--) {
        acc += b->dl2[i] * (b->sfx[i] > SDF_TINY ? b->sfx[i] : SDF_TINY);
        b->sfx[i] = acc;
    }
}

static int above_scalar(const sdf_bisect *b, double beta, double eps)
{
    const double ib = 1.0 / beta, c4 = 0.25 * ib * ib, far = 36.0 * beta, L0 = log1p(eps), Le = log(eps);
    const double thr = 1.0 - log(eps);
    double R = 0, E = 0;
    for (int i = 0; i < b->n1; i++) {
        double sig, y;
        if (b->ad[i] > far && b->ds[i] > far) {
            sig = b->d[i] > 0 ? 0.0 : ib * (1.0 - 0.5 * SDF_TINY);
            y = SDF_TINY;
        } else {
            double hx = 0.5 * exp(-b->ad[i] * ib);
            y = exp(-b->ds[i] * ib);
            sig = ib * (b->d[i] > 0 ? hx : 1.0 - hx);
        }
        double Rex = R;
        R += b->dl[i] * sig;
        E += b->dl2[i] * c4 * y;
        if (!(E <= L0) && !(E - Rex <= Le) && !(exp(E - Rex) - exp(-Rex) <= eps)) return 1;
        if (Rex - (E + c4 * b->sfx[i + 1]) > thr) return 0;
    }
    return 0;
}

double sdf_bisect_beta(const sdf_bisect *b, double beta, double beta_hi, double eps, int iters)
{
    int (*above)(const sdf_bisect *, double, double) = above_scalar;
#if defined(__GNUC__) && defined(__x86_64__)
    ml_isa isa = ml_cpu_isa();
    if (isa == ML_ISA_AVX512) above = sdf_bisect_above_avx512;
    else if (isa == ML_ISA_AVX2) above = sdf_bisect_above_avx2;
#endif
    if (!above(b, beta, eps)) return beta;
    double lo = beta, hi = beta_hi;
    for (int j = 0; j < iters; j++) {
        double mid = 0.5 * (lo + hi);
        if (above(b, mid, eps)) lo = mid;
        else hi = mid;
    }
    return hi;
}
