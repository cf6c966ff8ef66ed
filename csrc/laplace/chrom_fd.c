/* moonlab chrom — finite-volume solution of the full column PDEs (the paper's
 * verification route): c_t + (u c)_x = Pe^-1 c_xx - q_t, q_t = Da c - kappa q.
 * Advection: upwind, Koren-limited or linear kappa = 1/3 face values; dispersion:
 * central; Danckwerts inlet flux u(0) c_in(t); SSP-RK3 (Shu & Osher 1988) for
 * transport, exact exponential kinetics, Strang splitting (second order in time). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "moonlab/chrom.h"

ml_chrom_fd_opts ml_chrom_fd_defaults(void) {
    ml_chrom_fd_opts o = {400, 0.0, 0.4, ML_CHROM_KOREN, ML_CHROM_KIN_AUTO, ML_CHROM_FD_MAX_WORK, NULL};
    return o;
}

typedef struct {
    const ml_chrom_params *p;
    int nx, scheme; /* nx cells in total (the column plus, with dispersion, an extension) */
    int nout;       /* face index of the column outlet x = 1 */
    double dx, D;
    double *uf;  /* face velocities [nx+1] */
} fd_ctx;

static inline double face_value(int scheme, double cm2, double cm1, double c0) {
    switch (scheme) {
    case ML_CHROM_UPWIND: return cm1;
    case ML_CHROM_KAPPA3: return (-cm2 + 5 * cm1 + 2 * c0) / 6;
    default: {
        double d1 = cm1 - cm2, d2 = c0 - cm1;
        if (d1 * d2 <= 0) return cm1;
        double a = 2 * d2, b = (d1 + 2 * d2) / 3, c = 2 * d1;
        double m = d1 > 0 ? fmin(a, fmin(b, c)) : fmax(a, fmax(b, c));
        return cm1 + 0.5 * m;
    }
    }
}

/* Value at the domain's last face (ghost c_nx = 2 c_{nx-1} - c_{nx-2}). */
static double last_face(const fd_ctx *x, const double *c) {
    int n = x->nx;
    double cm2 = c[n - 2], cm1 = c[n - 1], g = 2 * cm1 - cm2;
    return face_value(x->scheme, cm2, cm1, g);
}

/* Concentration at x = 1: the last face without dispersion; with dispersion the
 * domain extends past the outlet (semi-infinite column of the Laplace solution)
 * and c(1) is the 4th-order centred interpolation of the cells around face nout. */
static double outlet_value(const fd_ctx *x, const double *c) {
    if (x->nout == x->nx) return last_face(x, c);
    int i = x->nout;
    return (-c[i - 2] + 7 * c[i - 1] + 7 * c[i] - c[i + 1]) / 12;
}

/* r = d c / dt from transport at time t. */
static void transport_rhs(const fd_ctx *x, const double *c, double t, double *r) {
    int n = x->nx;
    double cin = ml_chrom_inlet(x->p, t), idx = 1.0 / x->dx;
    /* inlet: without dispersion the flux u c_in; with dispersion the Dirichlet
     * condition c(0) = c_in of the Laplace solution (ghost 2 c_in - c_0). */
    double Fprev = x->uf[0] * cin, ghost = cin;
    if (x->D > 0) {
        Fprev -= x->D * (c[0] - cin) * 2 * idx;
        ghost = 2 * cin - c[0];
    }
    for (int i = 1; i <= n; i++) {
        double F;
        if (i < n) {
            double cm2 = i >= 2 ? c[i - 2] : ghost, cm1 = c[i - 1], c0 = c[i];
            F = x->uf[i] * face_value(x->scheme, cm2, cm1, c0) - x->D * (c0 - cm1) * idx;
        } else {
            F = x->uf[n] * last_face(x, c);
        }
        r[i - 1] = -(F - Fprev) * idx;
        Fprev = F;
    }
}

static void kinetics(const ml_chrom_params *p, int n, double *c, double *q, double h) {
    double lam = p->Da + p->kappa, E = exp(-lam * h);
    for (int i = 0; i < n; i++) {
        double m = c[i] + q[i], ceq = p->kappa * m / lam;
        c[i] = ceq + (c[i] - ceq) * E;
        q[i] = m - c[i];
    }
}

/* See chrom.h. */
int ml_chrom_fd(const ml_chrom_params *p, const ml_chrom_fd_opts *o, size_t nout,
                const double *t_out, double *c_out, double *profile) {
    int rc = ml_chrom_check(p);
    if (rc) return rc;
    if (o->nx < 4 || o->nx > 10000000) return ml_fail(ML_EINVAL, "nx = %d, expected 4..1e7", o->nx);
    if (o->scheme < 0 || o->scheme > ML_CHROM_KAPPA3)
        return ml_fail(ML_EINVAL, "unknown scheme %d", o->scheme);
    if (!(o->dt >= 0) || !isfinite(o->dt)) return ml_fail(ML_EINVAL, "dt = %g, expected >= 0", o->dt);
    if (!(o->cfl > 0 && o->cfl <= 1)) return ml_fail(ML_EINVAL, "cfl = %g, expected in (0, 1]", o->cfl);
    for (size_t j = 0; j < nout; j++)
        if (!(t_out[j] >= 0) || !isfinite(t_out[j]) || (j && !(t_out[j] >= t_out[j - 1])))
            return ml_fail(ML_EINVAL, "output times must be finite, >= 0 and increasing (t[%zu] = %g)",
                           j + 1, t_out[j]);
    int n = o->nx, ext = p->Pe > 0 ? (o->nx + 3) / 4 : 0; /* dispersion: extend by 25% */
    fd_ctx x = {p, n + ext, o->scheme, n, 1.0 / n, p->Pe > 0 ? 1.0 / p->Pe : 0.0, NULL};
    n += ext;
    double *buf = calloc((size_t)n * 6 + n + 1, sizeof(double));
    if (!buf) return ml_fail(ML_ENOMEM, "out of memory for nx = %d", n);
    double *c = buf, *q = c + n, *c1 = q + n, *c2 = c1 + n, *r = c2 + n, *uf = r + n;
    x.uf = uf;
    double umax = 0;
    for (int i = 0; i <= n; i++) {
        uf[i] = ml_chrom_velocity(p->P, fmin(i * x.dx, 1.0));
        if (uf[i] > umax) umax = uf[i];
    }
    double dtmax = o->cfl * x.dx / umax;
    if (x.D > 0 && 0.3 * x.dx * x.dx / x.D < dtmax) dtmax = 0.3 * x.dx * x.dx / x.D;
    if (o->dt > 0) {
        if (o->dt > 1.0001 * dtmax) {
            free(buf);
            return ml_fail(ML_EINVAL, "dt = %g exceeds the stability limit %g for nx = %d", o->dt,
                           dtmax, n);
        }
        dtmax = o->dt;
    }
    if (o->kinetics < 0 || o->kinetics > ML_CHROM_KIN_COUPLED) {
        free(buf);
        return ml_fail(ML_EINVAL, "unknown kinetics treatment %d", o->kinetics);
    }
    double lam = p->Da + p->kappa;
    int coupled = o->kinetics == ML_CHROM_KIN_COUPLED ||
                  (o->kinetics == ML_CHROM_KIN_AUTO && lam * dtmax <= 1.0);
    if (coupled && lam * dtmax > 2.0) {
        free(buf);
        return ml_fail(ML_EINVAL, "coupled kinetics need (Da+kappa) dt <= 2, got %g (use split)", lam * dtmax);
    }
    /* the work up front: refuse what would run for hours (t_end = 1e6 with dt = 1e-9, ...) */
    double t_last = nout ? t_out[nout - 1] : 0, steps_est = ceil(t_last / dtmax) + (double)nout;
    double work = steps_est * (double)n;
    if (!(o->max_work >= 0)) {
        free(buf);
        return ml_fail(ML_EINVAL, "max_work = %g, expected >= 0 (0 = no limit)", o->max_work);
    }
    if (o->max_work > 0 && !(work <= o->max_work)) {
        free(buf);
        return ml_fail(ML_EINVAL,
                       "the run needs ~%.3g time steps x %d cells = %.3g cell updates (dt = %g up to "
                       "t = %g), above max_work = %.3g; pass a larger max_work (0 = no limit) to run it",
                       steps_est, n, work, dtmax, t_last, o->max_work);
    }
    double *q1 = malloc(sizeof(double) * 2 * (size_t)n);
    if (!q1) {
        free(buf);
        return ml_fail(ML_ENOMEM, "out of memory for nx = %d", n);
    }
    double *q2 = q1 + n;
    double t = 0, done = 0;
    /* steps between progress ticks: ~2e6 cell updates (~10 ms) */
    long tick_every = (long)fmax(1.0, 2e6 / (double)n);
    for (size_t j = 0; j < nout; j++) {
        double span = t_out[j] - t;
        long steps = span > 0 ? (long)ceil(span / dtmax - 1e-9) : 0;
        double h = steps ? span / steps : 0;
        for (long k = 0; k < steps && rc == ML_OK; k++) {
            if ((long)done % tick_every == 0)
                rc = ml_progress_tick(o->progress, done, steps_est);
            done += 1;
            if (rc) break;
            if (!coupled) {
                kinetics(p, n, c, q, h / 2);
                transport_rhs(&x, c, t, r);
                for (int i = 0; i < n; i++) c1[i] = c[i] + h * r[i];
                transport_rhs(&x, c1, t + h, r);
                for (int i = 0; i < n; i++) c2[i] = 0.75 * c[i] + 0.25 * (c1[i] + h * r[i]);
                transport_rhs(&x, c2, t + h / 2, r);
                for (int i = 0; i < n; i++) c[i] = c[i] / 3 + 2.0 / 3 * (c2[i] + h * r[i]);
                kinetics(p, n, c, q, h / 2);
                t = t_out[j] - (steps - k - 1) * h;
                continue;
            }
            /* SSP-RK3 on the coupled system: c' = T(c) - (Da c - kappa q), q' = Da c - kappa q */
            transport_rhs(&x, c, t, r);
            for (int i = 0; i < n; i++) {
                double e = p->Da * c[i] - p->kappa * q[i];
                c1[i] = c[i] + h * (r[i] - e);
                q1[i] = q[i] + h * e;
            }
            transport_rhs(&x, c1, t + h, r);
            for (int i = 0; i < n; i++) {
                double e = p->Da * c1[i] - p->kappa * q1[i];
                c2[i] = 0.75 * c[i] + 0.25 * (c1[i] + h * (r[i] - e));
                q2[i] = 0.75 * q[i] + 0.25 * (q1[i] + h * e);
            }
            transport_rhs(&x, c2, t + h / 2, r);
            for (int i = 0; i < n; i++) {
                double e = p->Da * c2[i] - p->kappa * q2[i];
                c[i] = c[i] / 3 + 2.0 / 3 * (c2[i] + h * (r[i] - e));
                q[i] = q[i] / 3 + 2.0 / 3 * (q2[i] + h * e);
            }
            t = t_out[j] - (steps - k - 1) * h;
        }
        if (rc) break;
        t = t_out[j];
        c_out[j] = p->scale * outlet_value(&x, c);
        if (!isfinite(c_out[j])) {
            rc = ml_fail(ML_ENUMERIC, "FD solution became non-finite at t = %g", t);
            break;
        }
    }
    if (rc) {
        free(buf);
        free(q1);
        return rc;
    }
    if (profile)
        for (int i = 0; i < x.nout; i++) profile[i] = p->scale * c[i];
    free(buf);
    free(q1);
    return ML_OK;
}
