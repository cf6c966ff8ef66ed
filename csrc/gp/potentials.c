/* Analytic test potentials: Müller–Brown, LEPS (collinear A-B-C, Sato parameters), Lennard-Jones
 * clusters, and the call-counting evaluator. */
#include <math.h>
#include "gp_internal.h"

int ml_gp_pot_eval(ml_gp_potential *p, const double *x, double *E, double *G)
{
    p->calls++;
    int rc = p->eval(p->ud, x, E, G);
    if (rc) return rc;
    if (!isfinite(*E)) return ml_fail(ML_ENUMERIC, "potential returned a non-finite energy (%g)", *E);
    for (int i = 0; i < p->dim; i++)
        if (!isfinite(G[i])) return ml_fail(ML_ENUMERIC, "potential returned a non-finite gradient component %d", i + 1);
    return ML_OK;
}

/* Müller & Brown (1979), V = sum_k A_k exp(a_k dx^2 + b_k dx dy + c_k dy^2). */
static int mb_eval(void *ud, const double *x, double *E, double *G)
{
    (void)ud;
    static const double A[4] = {-200, -100, -170, 15}, a[4] = {-1, -1, -6.5, 0.7},
                        b[4] = {0, 0, 11, 0.6}, c[4] = {-10, -10, -6.5, 0.7},
                        x0[4] = {1, 0, -0.5, -1}, y0[4] = {0, 0.5, 1.5, 1};
    double e = 0, gx = 0, gy = 0;
    for (int k = 0; k < 4; k++) {
        double dx = x[0] - x0[k], dy = x[1] - y0[k];
        double t = A[k] * exp(a[k] * dx * dx + b[k] * dx * dy + c[k] * dy * dy);
        e += t;
        gx += t * (2 * a[k] * dx + b[k] * dy);
        gy += t * (b[k] * dx + 2 * c[k] * dy);
    }
    *E = e, G[0] = gx, G[1] = gy;
    return ML_OK;
}

ml_gp_potential ml_gp_muller_brown(void) { return (ml_gp_potential){.eval = mb_eval, .dim = 2}; }

/* LEPS: V = Q_AB/(1+a) + Q_BC/(1+b) + Q_AC/(1+c) - sqrt(J_AB^2/(1+a)^2 + J_BC^2/(1+b)^2
 * + J_AC^2/(1+c)^2 - J_AB J_BC/((1+a)(1+b)) - J_BC J_AC/((1+b)(1+c)) - J_AB J_AC/((1+a)(1+c))),
 * Q(r) = d/2 (3/2 e^{-2al(r-r0)} - e^{-al(r-r0)}), J(r) = d/4 (e^{-2al(r-r0)} - 6 e^{-al(r-r0)}). */
static void qj(double d, double r, double *Q, double *J, double *dQ, double *dJ)
{
    const double al = 1.942, r0 = 0.742;
    double e1 = exp(-al * (r - r0)), e2 = e1 * e1;
    *Q = d / 2 * (1.5 * e2 - e1);
    *J = d / 4 * (e2 - 6 * e1);
    *dQ = d / 2 * (-3 * al * e2 + al * e1);
    *dJ = d / 4 * (-2 * al * e2 + 6 * al * e1);
}

static int leps_eval(void *ud, const double *x, double *E, double *G)
{
    (void)ud;
    const double a = 0.05, b = 0.30, c = 0.05, dAB = 4.746, dBC = 4.746, dAC = 3.445;
    double rab = x[0], rbc = x[1], rac = rab + rbc;
    if (!(rab > 0 && rbc > 0)) { /* outside the domain: an infinite wall (non-finite: rejected or backed off) */
        *E = HUGE_VAL, G[0] = G[1] = 0;
        return ML_OK;
    }
    double Qa, Ja, dQa, dJa, Qb, Jb, dQb, dJb, Qc, Jc, dQc, dJc;
    qj(dAB, rab, &Qa, &Ja, &dQa, &dJa);
    qj(dBC, rbc, &Qb, &Jb, &dQb, &dJb);
    qj(dAC, rac, &Qc, &Jc, &dQc, &dJc);
    double A = 1 + a, B = 1 + b, C = 1 + c;
    double ja = Ja / A, jb = Jb / B, jc = Jc / C;
    double S = ja * ja + jb * jb + jc * jc - ja * jb - jb * jc - ja * jc;
    double sq = sqrt(S > 0 ? S : 0);
    *E = Qa / A + Qb / B + Qc / C - sq;
    /* dS/dj */
    double Sa = 2 * ja - jb - jc, Sb = 2 * jb - ja - jc, Sc = 2 * jc - jb - ja;
    double h = sq > 0 ? 0.5 / sq : 0;
    double dEa = dQa / A - h * Sa * dJa / A, dEb = dQb / B - h * Sb * dJb / B, dEc = dQc / C - h * Sc * dJc / C;
    G[0] = dEa + dEc;
    G[1] = dEb + dEc;
    return ML_OK;
}

ml_gp_potential ml_gp_leps(void) { return (ml_gp_potential){.eval = leps_eval, .dim = 2}; }

static int lj_eval(void *ud, const double *x, double *E, double *G)
{
    const ml_gp_lj_params *p = ud;
    int n = p->n, d = p->dim;
    double e = 0, s2 = p->sigma * p->sigma;
    for (int i = 0; i < n * d; i++) G[i] = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double r2 = 0, dv[3];
            for (int c = 0; c < d; c++) dv[c] = x[i * d + c] - x[j * d + c], r2 += dv[c] * dv[c];
            if (!(r2 > 0)) return ml_fail(ML_ENUMERIC, "atoms %d and %d coincide", i + 1, j + 1);
            double ir6 = s2 * s2 * s2 / (r2 * r2 * r2), ir12 = ir6 * ir6;
            e += 4 * p->eps * (ir12 - ir6);
            double f = 4 * p->eps * (-12 * ir12 + 6 * ir6) / r2; /* dE/dr / r */
            for (int c = 0; c < d; c++) G[i * d + c] += f * dv[c], G[j * d + c] -= f * dv[c];
        }
    *E = e;
    return ML_OK;
}

ml_gp_potential ml_gp_lj(ml_gp_lj_params *p)
{
    return (ml_gp_potential){.eval = lj_eval, .ud = p, .dim = p->n * p->dim, .natoms = p->n,
                             .adim = p->dim, .rigid = 1};
}

static double morse_pair(const ml_gp_morse_params *p, double r, double *dEdr)
{
    if (r >= p->rc) return *dEdr = 0, 0;
    double e = exp(-p->a * (r - p->r0));
    /* shifted so that the energy is continuous at the cut-off */
    double ec = exp(-p->a * (p->rc - p->r0));
    *dEdr = p->De * (-2 * p->a * e * e + 2 * p->a * e);
    return p->De * (e * e - 2 * e) - p->De * (ec * ec - 2 * ec);
}

static int morse_eval(void *ud, const double *x, double *E, double *G)
{
    const ml_gp_morse_params *p = ud;
    int n = p->natoms;
    double e = 0;
    for (int i = 0; i < 3 * n; i++) G[i] = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n + p->nfrozen; j++) {
            const double *rj = j < n ? x + 3 * j : p->frozen + 3 * (j - n);
            double dv[3], r2 = 0;
            for (int c = 0; c < 3; c++) dv[c] = x[3 * i + c] - rj[c], r2 += dv[c] * dv[c];
            if (!(r2 > 0)) return ml_fail(ML_ENUMERIC, "atoms %d and %d coincide", i + 1, j + 1);
            double r = sqrt(r2), d;
            e += morse_pair(p, r, &d);
            for (int c = 0; c < 3; c++) {
                G[3 * i + c] += d * dv[c] / r;
                if (j < n) G[3 * j + c] -= d * dv[c] / r;
            }
        }
    *E = e;
    return ML_OK;
}

ml_gp_potential ml_gp_morse(ml_gp_morse_params *p)
{
    return (ml_gp_potential){.eval = morse_eval, .ud = p, .dim = 3 * p->natoms, .natoms = p->natoms, .adim = 3};
}
