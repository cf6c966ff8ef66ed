/* moonlab chrom — the outlet without dispersion in the time domain, from the column's impulse
 * response in closed form (Thomas 1944; the inverse of the paper's C(x, s) = C_in(s) (u(0)/u(x))
 * exp(-tau h(s)), h(s) = s + Da s/(s + kappa)):
 *   g(t) = e^{-D} delta(t - tau) + e^{-D} e^{-kappa v} sqrt(a/v) I1(2 sqrt(a v)),  v = t - tau > 0,
 * D = tau Da, a = D kappa (from L^-1[e^{a/(s+kappa)} - 1] = e^{-kappa v} sqrt(a/v) I1(2 sqrt(a v))).
 * The outlet is c(t) = amp [e^{-D} c_in(v) + int_0^inf k(w) c_in(v - w) dw]: the integral runs over the
 * pieces of the inlet (pulse: one; data: each linear segment; Gaussian: panels of 6 sigma, or one
 * Gauss-Hermite rule) on an integrand that is smooth inside each piece (k is entire in w): 8-point
 * Gauss-Legendre where the piece is short against the kernel's rate, else adaptive Gauss-Kronrod
 * (7/15). The kernel values come from chrom_kvec.c, over arrays of nodes. */
#include <math.h>
#include <stdlib.h>
#include "moonlab/chrom.h"
#include "chrom_kvec.h"

/* See chrom.h. With D = z/2, kappa = 1, w = z/2 the kernel is a S(a w) e^{-D - kappa w} =
 * (z/2) S(z^2/4) e^{-z} = e^{-z} I1(z) (and the Hankel branch gives the same above z = 25), so this
 * is the kernel's own Bessel code. */
double ml_chrom_i1e(double x) {
    double z = fabs(x), r;
    chrom_kc c = {0.5 * z, sqrt(0.5 * z), 1.0, 0.5 * z};
    double w = 0.5 * z;
    chrom_kern_pick()(&c, 1, &w, &r);
    return x < 0 ? -r : r;
}

/* Gauss-Hermite rule (weight e^{-x^2}) for the Gaussian injection: GH_N points (two AVX-512 blocks) */
#define GH_N 16

/* Nodes x[i] and weights w[i] of the n-point Gauss-Hermite rule (Newton on the orthonormal
 * Hermite recurrence, Golub-Welsch ordering; as Numerical Recipes' gauher). */
static void gauss_hermite(int n, double *x, double *w) {
    const double pim4 = 0.7511255444649425; /* pi^{-1/4} */
    double z = 0;
    for (int i = 0; i < (n + 1) / 2; i++) {
        if (i == 0) z = sqrt(2.0 * n + 1) - 1.85575 * pow(2.0 * n + 1, -0.16667);
        else if (i == 1) z -= 1.14 * pow((double)n, 0.426) / z;
        else if (i == 2) z = 1.86 * z - 0.86 * x[0];
        else if (i == 3) z = 1.91 * z - 0.91 * x[1];
        else z = 2.0 * z - x[i - 2];
        double pp = 1;
        for (int it = 0; it < 100; it++) {
            double p1 = pim4, p2 = 0;
            for (int j = 1; j <= n; j++) {
                double p3 = p2;
                p2 = p1;
                p1 = z * sqrt(2.0 / j) * p2 - sqrt((double)(j - 1) / j) * p3;
            }
            pp = sqrt(2.0 * n) * p2;
            double z1 = z;
            z = z1 - p1 / pp;
            if (fabs(z - z1) <= 1e-15 * fabs(z)) break;
        }
        x[i] = z;
        x[n - 1 - i] = -z;
        w[i] = w[n - 1 - i] = 2.0 / (pp * pp);
    }
}

typedef struct {
    chrom_kc c;             /* the kernel's constants */
    chrom_kern_fn kf;       /* the kernel over arrays */
    const ml_chrom_params *p;
    double v;               /* time after the delay */
    double tol;             /* absolute tolerance of one time's integral */
    double wlo, whi;        /* k(w) is negligible outside [wlo, whi] */
    size_t seg;             /* data: the current segment */
    double ghx[GH_N], ghw[GH_N];        /* the Gauss-Hermite rule */
} kern_ctx;

/* k(w), one value (the setup's estimates) */
static double kern(const kern_ctx *K, double w) {
    double r;
    K->kf(&K->c, 1, &w, &r);
    return r;
}

/* A bound on |k'/k| (and the curvature scale) from w on: kappa + sqrt(a/w) where the Hankel form holds,
 * a/2 at w = 0 (S'(0)/S(0) = 1/2); decreasing in w. Sets when a fixed rule is enough. */
static double kern_rate(const kern_ctx *K, double w) {
    return K->c.kappa + K->c.a / (1 + sqrt(K->c.a * w));
}

/* untruncated Gaussian (its transform exp(-s t0 + s^2 sigma^2/2) is the one inverted elsewhere) */
static double gauss(const ml_chrom_params *p, double x) {
    double z = (x - p->t0) / p->width;
    return exp(-0.5 * z * z) / (p->width * sqrt(2 * M_PI));
}

/* c_in at x, the mean of its left and right limits at a jump (the pulse's ends, the ends of a data
 * profile): the value the inverse Laplace transform converges to there, as the other routes give. */
static double inlet_mid(const ml_chrom_params *p, double x) {
    switch (p->injection) {
    case ML_CHROM_GAUSSIAN: return gauss(p, x);
    case ML_CHROM_PULSE:
        return (x == 0 || x == p->width) ? 0.5 / p->width : ml_chrom_inlet(p, x);
    default:
        if (x == p->inj_t[0]) return 0.5 * p->inj_c[0];
        if (x == p->inj_t[p->inj_n - 1]) return 0.5 * p->inj_c[p->inj_n - 1];
        return ml_chrom_inlet(p, x);
    }
}

/* c_in(x) on the current piece (data: the linear segment K->seg, exact also at its ends). */
static double cin_piece(const kern_ctx *K, double x) {
    const ml_chrom_params *p = K->p;
    switch (p->injection) {
    case ML_CHROM_PULSE: return 1.0 / p->width;
    case ML_CHROM_GAUSSIAN: return gauss(p, x);
    default: {
        const double *ti = p->inj_t, *ci = p->inj_c;
        size_t i = K->seg;
        return ci[i] + (ci[i + 1] - ci[i]) * ((x - ti[i]) / (ti[i + 1] - ti[i]));
    }
    }
}

/* Gauss-Kronrod 7/15 nodes and weights on [-1, 1] (Kronrod points at odd indices). */
static const double XK[8] = {0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
                             0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
                             0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
                             0.207784955007898467600689403773245, 0.000000000000000000000000000000000};
static const double WK[8] = {0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
                             0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
                             0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
                             0.204432940075298892414161999234649, 0.209482141084727828012999174891714};
static const double WG[4] = {0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
                             0.381830050505118944950369775488975, 0.417959183673469387755102040816327};

/* K15 on [lo, hi]; *err = |K15 - G7|, *abs = K15 of |f| (the roundoff scale). */
static double gk15(const kern_ctx *K, double lo, double hi, double *err, double *abs) {
    double c = 0.5 * (lo + hi), h = 0.5 * (hi - lo), w[15], f[15];
    for (int j = 0; j < 7; j++) {
        w[2 * j] = c - h * XK[j];
        w[2 * j + 1] = c + h * XK[j];
    }
    w[14] = c;
    K->kf(&K->c, 15, w, f);
    for (int j = 0; j < 15; j++) f[j] *= cin_piece(K, K->v - w[j]);
    double rk = WK[7] * f[14], rg = WG[3] * f[14], ra = WK[7] * fabs(f[14]);
    for (int j = 0; j < 7; j++) {
        double s = f[2 * j] + f[2 * j + 1];
        rk += WK[j] * s;
        ra += WK[j] * (fabs(f[2 * j]) + fabs(f[2 * j + 1]));
        if (j & 1) rg += WG[j / 2] * s;
    }
    *err = fabs((rk - rg) * h);
    *abs = fabs(ra * h);
    return rk * h;
}

/* Adaptive Gauss-Kronrod on [lo, hi]: bisect until each piece's |K15 - G7| is below its share of
 * K->tol. |K15 - G7| is the error of the 7-point rule; the 15-point value kept is exact to twice
 * the polynomial degree, so on these smooth integrands its error is many orders smaller (measured:
 * K->tol = 1e-10 of the peak gives results within ~1e-14 of the peak). A piece is also kept when
 * the estimate is at roundoff level (1e-13 of the integral of |f|), and after MAX_PIECES pieces the rest
 * are kept unsplit, so a tolerance the estimate cannot reach never makes the work explode. */
static double integrate(const kern_ctx *K, double lo, double hi) {
    enum { DEPTH = 40, MAX_PIECES = 2000 };
    double stack[DEPTH][2], total = 0, len = hi - lo;
    int top = 0, pieces = 0;
    stack[top][0] = lo;
    stack[top][1] = hi;
    top++;
    while (top > 0) {
        top--;
        double a = stack[top][0], b = stack[top][1], err, abs;
        double r = gk15(K, a, b, &err, &abs);
        if (err <= K->tol * (b - a) / len || err <= 1e-13 * abs || ++pieces > MAX_PIECES ||
            top >= DEPTH - 2 || b - a < 1e-12 * len) {
            total += r;
        } else {
            double m = 0.5 * (a + b);
            stack[top][0] = m;
            stack[top][1] = b;
            stack[top + 1][0] = a;
            stack[top + 1][1] = m;
            top += 2;
        }
    }
    return total;
}

/* Gauss-Legendre, 8 points (one AVX-512 block), on [lo, hi] (nodes w, weights wt); its error for an exponential of rate b
 * is ~ (b h)^16 1.6e-23 of the integral (h = hi - lo): below 1e-20 at b h <= 1.5. */
static void gl8_nodes(double lo, double hi, double *w, double *wt) {
    static const double X[4] = {0.18343464249564978, 0.525532409916329, 0.7966664774136267, 0.9602898564975362};
    static const double W[4] = {0.36268378337836177, 0.31370664587788705, 0.22238103445337434, 0.10122853629037669};
    double c = 0.5 * (lo + hi), h = 0.5 * (hi - lo);
    for (int j = 0; j < 4; j++) {
        w[2 * j] = c - h * X[j];
        w[2 * j + 1] = c + h * X[j];
        wt[2 * j] = wt[2 * j + 1] = W[j] * h;
    }
}

/* Nodes of several pieces evaluated in one call: sum of wt[i] k(w[i]) over the first n. */
static double flush(const kern_ctx *K, int n, const double *w, const double *wt) {
    double f[64], r = 0;
    K->kf(&K->c, (size_t)n, w, f);
    for (int i = 0; i < n; i++) r += wt[i] * f[i];
    return r;
}

static double gl8(const kern_ctx *K, double lo, double hi) {
    double w[8], wt[8];
    gl8_nodes(lo, hi, w, wt);
    for (int j = 0; j < 8; j++) wt[j] *= cin_piece(K, K->v - w[j]);
    return flush(K, 8, w, wt);
}

/* int over w in [v - xb, v - xa] ∩ [0, inf) of k(w) c_in(v - w), the inlet piece x in [xa, xb]. */
static double piece(const kern_ctx *K, double xa, double xb) {
    double lo = fmax(K->wlo, K->v - xb), hi = fmin(K->whi, K->v - xa);
    if (hi <= lo) return 0.0;
    /* the inlet is linear on a pulse or data piece; a Gaussian panel (6 sigma) varies at rates up to
     * 9/sigma, which keeps it on the adaptive rule */
    double rate = kern_rate(K, lo) + (K->p->injection == ML_CHROM_GAUSSIAN ? 9 / K->p->width : 0.0);
    return (hi - lo) * rate <= 1.5 ? gl8(K, lo, hi) : integrate(K, lo, hi);
}

/* The convolution integral at time-after-delay K->v, over every piece of the inlet. */
static double convolve(kern_ctx *K) {
    const ml_chrom_params *p = K->p;
    switch (p->injection) {
    case ML_CHROM_PULSE: return piece(K, 0, p->width);
    case ML_CHROM_GAUSSIAN: {
        double xlo = p->t0 - 9 * p->width, xhi = p->t0 + 9 * p->width;
        if (K->v - xhi >= K->whi || K->v - xlo <= K->wlo) return 0;
        double wmin = K->v - p->t0 - M_SQRT2 * p->width * K->ghx[0];
        if (K->v >= xhi && wmin > 0 && kern_rate(K, wmin) * p->width <= 1.2) {
            /* the whole Gaussian (+-9 sigma) lies where k(v - x) varies slowly on the scale sigma:
             * Gauss-Hermite in x (error ~ c^32 1.2e-27 of the integral for an exponential of rate
             * c/(sqrt(2) sigma): below 1e-19 at rate * sigma <= 1.2, 1e-14 at twice that rate) */
            double w[GH_N], f[GH_N], r = 0;
            for (int i = 0; i < GH_N; i++) w[i] = K->v - p->t0 - M_SQRT2 * p->width * K->ghx[i];
            K->kf(&K->c, GH_N, w, f);
            for (int i = 0; i < GH_N; i++) r += K->ghw[i] * f[i];
            return r / sqrt(M_PI);
        }
        double s = 0; /* +-9 sigma (e^{-40.5}) in panels of 6 sigma */
        for (int j = 0; j < 3; j++) s += piece(K, xlo + 6 * j * p->width, xlo + 6 * (j + 1) * p->width);
        return s;
    }
    default: {
        /* the short segments' Gauss-Legendre nodes go to the kernel together, 64 at a time */
        double s = 0, w[64], wt[64];
        int nb = 0;
        for (K->seg = 0; K->seg + 1 < p->inj_n && p->inj_t[K->seg] < K->v; K->seg++) {
            double lo = fmax(K->wlo, K->v - p->inj_t[K->seg + 1]), hi = fmin(K->whi, K->v - p->inj_t[K->seg]);
            if (hi <= lo) continue;
            if ((hi - lo) * kern_rate(K, lo) > 1.5) {
                s += integrate(K, lo, hi);
                continue;
            }
            gl8_nodes(lo, hi, w + nb, wt + nb);
            for (int j = nb; j < nb + 8; j++) wt[j] *= cin_piece(K, K->v - w[j]);
            nb += 8;
            if (nb == 64) {
                s += flush(K, nb, w, wt);
                nb = 0;
            }
        }
        return nb ? s + flush(K, nb, w, wt) : s;
    }
    }
}

/* See chrom.h. */
int ml_chrom_kernel_outlet(const ml_chrom_params *p, size_t n, const double *t, double *c) {
    int rc = ml_chrom_check(p);
    if (rc) return rc;
    if (p->Pe > 0) return ml_fail(ML_EINVAL, "the closed-form impulse response needs Pe = 0 (no dispersion)");
    double tau = ml_chrom_tau(p->P, p->x);
    double amp = p->scale * (p->P > 1 ? ml_chrom_velocity(p->P, 0) / ml_chrom_velocity(p->P, p->x) : 1.0);
    kern_ctx K = {0};
    K.c.D = tau * p->Da;
    K.c.sD = sqrt(K.c.D);
    K.c.kappa = p->kappa;
    K.c.a = K.c.D * p->kappa;
    K.kf = chrom_kern_pick();
    K.p = p;
    if (p->injection == ML_CHROM_GAUSSIAN) {
        gauss_hermite(GH_N, K.ghx, K.ghw);
    }
    /* inlet peak and mass, and the kernel's size near its peak (w = D/kappa), set the tolerance:
     * 1e-10 of the estimated outlet peak on |K15 - G7| for each time's integral (see integrate) */
    double cmax = 0, mass = 1;
    switch (p->injection) {
    case ML_CHROM_PULSE: cmax = 1 / p->width; break;
    case ML_CHROM_GAUSSIAN: cmax = 1 / (p->width * sqrt(2 * M_PI)); break;
    default:
        mass = 0;
        for (size_t i = 0; i < p->inj_n; i++) {
            cmax = fmax(cmax, fabs(p->inj_c[i]));
            if (i) mass += 0.5 * (fabs(p->inj_c[i]) + fabs(p->inj_c[i - 1])) * (p->inj_t[i] - p->inj_t[i - 1]);
        }
    }
    double eD = exp(-K.c.D), kpk = K.c.a > 0 ? fmax(kern(&K, 0), kern(&K, K.c.D / K.c.kappa)) : 0;
    double est = fmax(eD * cmax, fmin(cmax * (1 - eD), mass * kpk));
    K.tol = 1e-10 * (est > 0 ? est : 1.0);
    /* k(w) <= a e^{-(sqrt D - sqrt(kappa w))^2} (g <= 1): outside sqrt(kappa w) = sqrt D -+ R the
     * convolution gets less than 1e-17 of the estimated peak from it */
    double R = sqrt(40 + log(fmax(1.0, K.c.a * mass / (est > 0 ? est : 1.0))));
    K.wlo = K.c.sD > R ? (K.c.sD - R) * (K.c.sD - R) / K.c.kappa : 0.0;
    K.whi = (K.c.sD + R) * (K.c.sD + R) / K.c.kappa;
    for (size_t j = 0; j < n; j++) {
        K.v = t[j] - tau;
        double direct = inlet_mid(p, K.v);
        double cv = eD * direct + (K.c.a > 0 ? convolve(&K) : 0.0);
        c[j] = amp * cv;
        if (!isfinite(c[j])) return ml_fail(ML_ENUMERIC, "outlet not finite at t[%zu] = %g", j + 1, t[j]);
    }
    return ML_OK;
}
