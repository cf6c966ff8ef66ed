/* moonlab chrom — the column transfer function in Laplace space (the paper's eqs. for C(x, s), §3),
 * its derivatives for the fit, the injection profiles and the moments. */
#include <math.h>
#include <stdlib.h>
#include "moonlab/chrom.h"

ml_chrom_params ml_chrom_defaults(void) {
    ml_chrom_params p = {0};
    p.Da = 1;
    p.kappa = 1;
    p.Pe = 0;
    p.P = 1;
    p.injection = ML_CHROM_PULSE;
    p.width = 0.1;
    p.t0 = 0;
    p.x = 1;
    p.scale = 1;
    p.output = ML_CHROM_G;
    return p;
}

int ml_chrom_check(const ml_chrom_params *p) {
    if (!(p->Da >= 0) || !isfinite(p->Da))
        return ml_fail(ML_EINVAL, "Da = %g, expected a finite number >= 0", p->Da);
    if (!(p->kappa > 0) || !isfinite(p->kappa))
        return ml_fail(ML_EINVAL, "kappa = %g, expected a finite number > 0", p->kappa);
    if (!(p->Pe >= 0) || !isfinite(p->Pe))
        return ml_fail(ML_EINVAL, "Pe = %g, expected a finite number > 0 (or nil for no dispersion)", p->Pe);
    if (!(p->P >= 1) || !isfinite(p->P))
        return ml_fail(ML_EINVAL, "inlet/outlet pressure ratio = %g, expected >= 1", p->P);
    if (p->P > 1 && p->Pe > 0)
        return ml_fail(ML_EINVAL, "dispersion (Pe) with compressible flow is not supported");
    if (!(p->x > 0 && p->x <= 1)) return ml_fail(ML_EINVAL, "x = %g, expected 0 < x <= 1", p->x);
    switch (p->injection) {
    case ML_CHROM_PULSE:
        if (!(p->width > 0) || !isfinite(p->width))
            return ml_fail(ML_EINVAL, "pulse width = %g, expected > 0", p->width);
        break;
    case ML_CHROM_GAUSSIAN:
        if (!(p->width > 0) || !isfinite(p->width))
            return ml_fail(ML_EINVAL, "gaussian width = %g, expected > 0", p->width);
        if (!(p->t0 >= 5 * p->width) || !isfinite(p->t0))
            return ml_fail(ML_EINVAL, "gaussian centre t0 = %g, expected >= 5*width = %g", p->t0,
                           5 * p->width);
        break;
    case ML_CHROM_DATA:
        if (p->inj_n < 2 || !p->inj_t || !p->inj_c)
            return ml_fail(ML_EINVAL, "injection data needs at least 2 points");
        for (size_t i = 0; i < p->inj_n; i++) {
            if (!isfinite(p->inj_t[i]) || !isfinite(p->inj_c[i]) || p->inj_t[i] < 0)
                return ml_fail(ML_EINVAL, "injection data point %zu is not finite/non-negative", i + 1);
            if (i && !(p->inj_t[i] > p->inj_t[i - 1]))
                return ml_fail(ML_EINVAL, "injection times must increase (point %zu)", i + 1);
        }
        break;
    default: return ml_fail(ML_EINVAL, "unknown injection kind %d", p->injection);
    }
    return ML_OK;
}

/* tau(x) = (P^3 - (P^2 - (P^2-1) x)^{3/2}) / (P^3 - 1), normalised so tau(1) = 1. */
double ml_chrom_tau(double P, double x) {
    if (P <= 1 + 1e-12) return x;
    double P2 = P * P, P3 = P2 * P;
    return (P3 - pow(P2 - (P2 - 1) * x, 1.5)) / (P3 - 1);
}

double ml_chrom_velocity(double P, double x) {
    if (P <= 1 + 1e-12) return 1.0;
    double P2 = P * P, P3 = P2 * P;
    return (P3 - 1) / (1.5 * (P2 - 1) * sqrt(P2 - (P2 - 1) * x));
}

double ml_chrom_inlet(const ml_chrom_params *p, double t) {
    switch (p->injection) {
    case ML_CHROM_PULSE: return (t >= 0 && t < p->width) ? 1.0 / p->width : 0.0;
    case ML_CHROM_GAUSSIAN: {
        double z = (t - p->t0) / p->width;
        return t < 0 ? 0 : exp(-0.5 * z * z) / (p->width * sqrt(2 * M_PI));
    }
    default: {
        const double *ti = p->inj_t, *ci = p->inj_c;
        size_t n = p->inj_n;
        if (t < ti[0] || t > ti[n - 1]) return 0;
        size_t lo = 0, hi = n - 1;
        while (hi - lo > 1) {
            size_t mid = (lo + hi) / 2;
            if (ti[mid] <= t) lo = mid; else hi = mid;
        }
        double w = (t - ti[lo]) / (ti[hi] - ti[lo]);
        return ci[lo] + w * (ci[hi] - ci[lo]);
    }
    }
}

/* (1 - e^{-z})/z, accurate near z = 0 */
static double complex phi1(double complex z) {
    if (cabs(z) < 1e-3) return 1 - z / 2 + z * z / 6 - z * z * z / 24;
    return (1 - cexp(-z)) / z;
}

/* Laplace transform of the inlet concentration. */
static double complex inlet_hat(const ml_chrom_params *p, double complex s) {
    switch (p->injection) {
    case ML_CHROM_PULSE: return phi1(s * p->width);
    case ML_CHROM_GAUSSIAN: {
        /* exp(-s t0 + s^2 sigma^2/2) is the transform of the untruncated Gaussian; it
         * grows without bound for Re s >> t0/sigma^2, where the truncated profile's
         * transform behaves like g(0)/(s - t0/sigma^2) (local exponential at t = 0).
         * Such s only occur when inverting at t << t0, where the response is ~0. */
        double sg = p->width, a = p->t0 / (sg * sg);
        if (creal(s) > 2 * a) {
            double g0 = exp(-0.5 * p->t0 * a) / (sg * sqrt(2 * M_PI));
            return g0 / (s - a);
        }
        return cexp(-s * p->t0 + 0.5 * s * s * sg * sg);
    }
    default: {
        /* exact transform of the piecewise-linear profile, segment by segment:
         * int_a^b (c_a + m (t-a)) e^{-st} dt = e^{-sa} h [c_a phi1(sh) + m h phi2(sh)],
         * phi2(z) = (1 - e^{-z}(1+z))/z^2 */
        double complex acc = 0;
        for (size_t i = 0; i + 1 < p->inj_n; i++) {
            double a = p->inj_t[i], h = p->inj_t[i + 1] - a;
            double m = (p->inj_c[i + 1] - p->inj_c[i]) / h;
            double complex z = s * h, p2;
            if (cabs(z) < 1e-3) p2 = 0.5 - z / 3 + z * z / 8;
            else p2 = (1 - cexp(-z) * (1 + z)) / (z * z);
            acc += cexp(-s * a) * h * (p->inj_c[i] * phi1(z) + m * h * p2);
        }
        return acc;
    }
    }
}

static double complex eval1(const ml_chrom_params *p, double complex s) {
    double complex sk = s + p->kappa;
    double complex h = s + p->Da * s / sk;
    double complex lnG, dlnG_dh;
    if (p->Pe > 0) {
        double complex r = csqrt(1 + 4 * h / p->Pe);
        lnG = p->x * (p->Pe / 2) * (1 - r);
        dlnG_dh = -p->x / r;
    } else {
        double tau = ml_chrom_tau(p->P, p->x);
        lnG = -tau * h;
        dlnG_dh = -tau;
    }
    double amp = p->P > 1 ? ml_chrom_velocity(p->P, 0) / ml_chrom_velocity(p->P, p->x) : 1.0;
    double complex G = p->scale * amp * inlet_hat(p, s) * cexp(lnG);
    switch (p->output) {
    case ML_CHROM_DG_DDA: return G * dlnG_dh * s / sk;
    case ML_CHROM_DG_DKAPPA: return G * dlnG_dh * (-p->Da * s / (sk * sk));
    case ML_CHROM_SG: return s * G;
    default: return G;
    }
}

static int chrom_eval(void *params, size_t n, const double complex *s, double complex *out) {
    const ml_chrom_params *p = params;
    for (size_t i = 0; i < n; i++) out[i] = eval1(p, s[i]);
    return ML_OK;
}

#if ML_LAPLACE_HAVE_QUAD
/* ---- the same transfer function in quad precision (libquadmath), used by the
 * per-t inversion methods (Euler, Gaver-Stehfest, Talbot with precision quad) ---- */
static __float128 tauq(double P, double x) {
    if (P <= 1 + 1e-12) return x;
    __float128 P2 = (__float128)P * P, P3 = P2 * P;
    return (P3 - powq(P2 - (P2 - 1) * x, 1.5Q)) / (P3 - 1);
}

static __float128 velq(double P, double x) {
    if (P <= 1 + 1e-12) return 1;
    __float128 P2 = (__float128)P * P, P3 = P2 * P;
    return (P3 - 1) / (1.5Q * (P2 - 1) * sqrtq(P2 - (P2 - 1) * x));
}

static __complex128 phi1q(__complex128 z) {
    if (cabsq(z) < 1e-6Q) return 1 - z / 2 + z * z / 6 - z * z * z / 24 + z * z * z * z / 120;
    return (1 - cexpq(-z)) / z;
}

static __complex128 inlet_hatq(const ml_chrom_params *p, __complex128 s) {
    switch (p->injection) {
    case ML_CHROM_PULSE: return phi1q(s * (__float128)p->width);
    case ML_CHROM_GAUSSIAN: {
        __float128 sg = p->width, a = p->t0 / (sg * sg);
        if (crealq(s) > 2 * a) { /* see inlet_hat */
            __float128 g0 = expq(-0.5Q * p->t0 * a) / (sg * sqrtq(2 * M_PIq));
            return g0 / (s - a);
        }
        return cexpq(-s * (__float128)p->t0 + 0.5Q * s * s * sg * sg);
    }
    default: {
        __complex128 acc = 0;
        for (size_t i = 0; i + 1 < p->inj_n; i++) {
            __float128 a = p->inj_t[i], h = (__float128)p->inj_t[i + 1] - a;
            __float128 m = ((__float128)p->inj_c[i + 1] - p->inj_c[i]) / h;
            __complex128 z = s * h, p2;
            if (cabsq(z) < 1e-6Q) p2 = 0.5Q - z / 3 + z * z / 8 - z * z * z / 30;
            else p2 = (1 - cexpq(-z) * (1 + z)) / (z * z);
            acc += cexpq(-s * a) * h * ((__float128)p->inj_c[i] * phi1q(z) + m * h * p2);
        }
        return acc;
    }
    }
}

static __complex128 eval1q(const ml_chrom_params *p, __complex128 s) {
    __float128 Da = p->Da, Pe = p->Pe, x = p->x;
    __complex128 sk = s + (__float128)p->kappa;
    __complex128 h = s + Da * s / sk;
    __complex128 lnG, dlnG_dh;
    if (p->Pe > 0) {
        __complex128 r = csqrtq(1 + 4 * h / Pe);
        lnG = x * (Pe / 2) * (1 - r);
        dlnG_dh = -x / r;
    } else {
        __float128 tau = tauq(p->P, p->x);
        lnG = -tau * h;
        dlnG_dh = -tau;
    }
    __float128 amp = p->P > 1 ? velq(p->P, 0) / velq(p->P, p->x) : 1;
    __complex128 G = (__float128)p->scale * amp * inlet_hatq(p, s) * cexpq(lnG);
    switch (p->output) {
    case ML_CHROM_DG_DDA: return G * dlnG_dh * s / sk;
    case ML_CHROM_DG_DKAPPA: return G * dlnG_dh * (-Da * s / (sk * sk));
    case ML_CHROM_SG: return s * G;
    default: return G;
    }
}

static int chrom_evalq(void *params, size_t n, const __complex128 *s, __complex128 *out) {
    const ml_chrom_params *p = params;
    for (size_t i = 0; i < n; i++) out[i] = eval1q(p, s[i]);
    return ML_OK;
}
#define CHROM_EVALQ chrom_evalq
#else
#define CHROM_EVALQ NULL
#endif

/* See chrom.h. Singularities: pole/branch point at s = -kappa (left half-plane). */
ml_laplace_fn ml_chrom_transform(const ml_chrom_params *p) {
    ml_laplace_fn fn = {chrom_eval, (void *)p, 0.0, 1, CHROM_EVALQ};
    return fn;
}

/* See chrom.h: C(s) = sum_k c_k s^k, mass = c_0, mean = -c_1/c_0,
 * var = 2 c_2/c_0 - mean^2; c_k by the trapezoidal Cauchy integral. */
int ml_chrom_moments(const ml_chrom_params *p, double *mass, double *mean, double *var) {
    int rc = ml_chrom_check(p);
    if (rc) return rc;
    ml_chrom_params q = *p;
    q.output = ML_CHROM_G;
    double tinj = p->injection == ML_CHROM_GAUSSIAN ? p->t0 + 3 * p->width
                : p->injection == ML_CHROM_PULSE ? p->width : p->inj_t[p->inj_n - 1];
    double est = ml_chrom_tau(p->P, p->x) * (1 + p->Da / p->kappa) + tinj;
    double r = 0.5 / est;
    if (r > 0.5 * p->kappa) r = 0.5 * p->kappa;
    if (p->Pe > 0 && r > p->Pe / 16) r = p->Pe / 16;
    enum { N = 64 };
    double complex c0 = 0, c1 = 0, c2 = 0;
    for (int j = 0; j < N; j++) {
        double th = 2 * M_PI * (j + 0.5) / N;
        double complex z = cexp(I * th), G = eval1(&q, r * z);
        c0 += G;
        c1 += G / z;
        c2 += G / (z * z);
    }
    double m0 = creal(c0) / N, m1 = creal(c1) / (N * r), m2 = creal(c2) / (N * r * r);
    if (!isfinite(m0) || !isfinite(m1) || !isfinite(m2) || m0 == 0)
        return ml_fail(ML_ENUMERIC, "moments: transfer function not finite near s = 0");
    if (mass) *mass = m0;
    if (mean) *mean = -m1 / m0;
    if (var) *var = 2 * m2 / m0 - (m1 / m0) * (m1 / m0);
    return ML_OK;
}
