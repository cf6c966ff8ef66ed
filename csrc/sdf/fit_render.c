/* The differentiable volume renderer of the grid SDF (VolSDF §3: σ = α Ψ_β(−d), eq. 8-10 quadrature, Lambert
 * radiance of the grid normal) and the regularisers (eikonal, total variation), each with its exact gradient with
 * respect to the node values, colours and β (sample positions held fixed, as in VolSDF). */
#include <math.h>
#include <stdlib.h>
#include "fit_scatter.h"
#include "grid.h"
#include "sdf_internal.h"

/* σ and its partial derivatives in d and β. */
static double sigma_grad(double d, double beta, double *dd, double *db)
{
    double ib = 1.0 / beta;
    if (d > 0) {
        double s = 0.5 * exp(-d * ib) * ib;
        *dd = -s * ib;
        *db = s * (d - beta) * ib * ib;
        return s;
    }
    double e = exp(d * ib), s = (1 - 0.5 * e) * ib;
    *dd = -0.5 * e * ib * ib;
    *db = -s * ib + 0.5 * e * d * ib * ib * ib;
    return s;
}

typedef struct ray_ws {
    double *d, *sd, *sb, *dl, *T, *w, *alb, *nrm, *gl, *k, *lam, *rad;
} ray_ws;

/* Renders one ray (forward) into C[3]; with gC, writes its N records and returns dL/dβ. */
static double ray(const ml_sdf_grid *g, const int64_t off[8], double beta, const double *o, const double *u,
                  const double *t, int N, double last_delta, const ml_sdf_render_opts *ro, const double l[3],
                  ray_ws *W, double C[3], const double *gC_in, const double *target, double *loss, fit_rec *rec)
{
    double op = 0, Ti = 1;
    for (int s = 0; s < N; s++) {
        double p[3] = {o[0] + t[s] * u[0], o[1] + t[s] * u[1], o[2] + t[s] * u[2]}, gr[3];
        grid_loc L;
        grid_locate(g, p, &L);
        W->d[s] = grid_point(g, &L, off, gr, W->alb + 3 * s);
        double sg = sigma_grad(W->d[s], beta, &W->sd[s], &W->sb[s]);
        W->dl[s] = s + 1 < N ? t[s + 1] - t[s] : last_delta;
        double tau = W->dl[s] * sg, a = tau > 0 ? -expm1(-tau) : 0.0;
        W->T[s] = Ti;
        W->w[s] = a * Ti;
        op += W->w[s];
        Ti *= 1 - a;
        double len = sqrt(gr[0] * gr[0] + gr[1] * gr[1] + gr[2] * gr[2]), lam = 0;
        for (int a3 = 0; a3 < 3; a3++) {
            W->nrm[3 * s + a3] = len > 0 ? gr[a3] / len : 0.0;
            lam += W->nrm[3 * s + a3] * l[a3];
        }
        W->gl[s] = len;
        W->lam[s] = lam;
        W->k[s] = ro->ambient + (1 - ro->ambient) * (lam > 0 ? lam : 0);
        for (int a3 = 0; a3 < 3; a3++) W->rad[3 * s + a3] = W->alb[3 * s + a3] * W->k[s];
    }
    W->T[N] = Ti;
    for (int a = 0; a < 3; a++) {
        C[a] = (1 - op) * ro->background[a];
        for (int s = 0; s < N; s++) C[a] += W->w[s] * W->rad[3 * s + a];
    }
    if (!rec) return 0;
    double gC[3];
    if (target) {
        *loss = 0;
        for (int a = 0; a < 3; a++) {
            double r = C[a] - target[a];
            *loss += fabs(r);
            gC[a] = (r > 0) - (r < 0);
        }
        for (int a = 0; a < 3; a++) gC[a] *= gC_in[0]; /* the scale 1/(3R) */
    } else {
        for (int a = 0; a < 3; a++) gC[a] = gC_in[a];
    }
    double S = 0, gbeta = 0;
    for (int s = N - 1; s >= 0; s--) {
        double as = 0;
        for (int a = 0; a < 3; a++) as += gC[a] * (W->rad[3 * s + a] - ro->background[a]);
        double dtau = as * W->T[s + 1] - S;
        S += as * W->w[s];
        double dsig = W->dl[s] * dtau;
        fit_rec *q = &rec[s];
        q->gd = W->sd[s] * dsig;
        gbeta += W->sb[s] * dsig;
        double dk = 0;
        for (int a = 0; a < 3; a++) {
            double dc = W->w[s] * gC[a];
            q->ga[a] = dc * W->k[s];
            dk += dc * W->alb[3 * s + a];
        }
        double lam = W->lam[s], f = lam > 0 && W->gl[s] > 0 ? (1 - ro->ambient) * dk / W->gl[s] : 0.0;
        for (int a = 0; a < 3; a++) q->gg[a] = f * (l[a] - W->nrm[3 * s + a] * lam);
        for (int a = 0; a < 3; a++) q->p[a] = o[a] + t[s] * u[a];
        if (q->gd == 0 && q->ga[0] == 0 && q->ga[1] == 0 && q->ga[2] == 0 && f == 0) q->gd = NAN;
    }
    return gbeta;
}

int ml_sdf_grid_render_rays(const ml_sdf_grid *g, double beta, const double *o, const double *u, const double *t,
                            int64_t R, int N, double last_delta, const ml_sdf_render_opts *ro, double *rgb,
                            const double *target, const double *gC, double *loss, ml_sdf_grid_grad *gr)
{
    int brc = sdf_check_beta(beta);
    if (brc) return brc;
    if (N < 1 || R < 0) return ml_fail(ML_EINVAL, "render_rays: need N >= 1 samples per ray, got %d", N);
    double l[3] = {ro->light[0], ro->light[1], ro->light[2]}, ll = sqrt(l[0] * l[0] + l[1] * l[1] + l[2] * l[2]);
    if (!(ll > 0) || !isfinite(ll)) return ml_fail(ML_EINVAL, "light must be a finite non-zero vector");
    for (int a = 0; a < 3; a++) l[a] /= ll;
    int back = gr && (target || gC);
    int64_t off[8];
    grid_offsets(g, off);
    fit_rec *rec = back ? malloc(sizeof *rec * (size_t)(R * N > 0 ? R * N : 1)) : NULL;
    double *rl = malloc(sizeof(double) * 2 * (size_t)(R > 0 ? R : 1)), *rb = rl ? rl + R : NULL;
    if ((back && !rec) || !rl) { free(rec); free(rl); return ml_fail(ML_ENOMEM, "render_rays: out of memory"); }
    double scale = target ? 1.0 / (3.0 * (double)(R > 0 ? R : 1)) : 0;
    int fail = 0;
#pragma omp parallel if (R > 16)
    {
        double *buf = malloc(sizeof(double) * (size_t)(19 * N + 1));
        ray_ws W = {0};
        if (buf) {
            W.d = buf; W.sd = W.d + N; W.sb = W.sd + N; W.dl = W.sb + N; W.T = W.dl + N; /* T has N + 1 */
            W.w = W.T + N + 1; W.k = W.w + N; W.lam = W.k + N; W.gl = W.lam + N;
            W.alb = W.gl + N; W.nrm = W.alb + 3 * N; W.rad = W.nrm + 3 * N;
        } else {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(static)
        for (int64_t r = 0; r < R; r++) {
            if (!buf) continue;
            double C[3];
            rl[r] = 0;
            rb[r] = ray(g, off, beta, o + 3 * r, u + 3 * r, t + r * N, N, last_delta, ro, l, &W, C,
                        target ? &scale : (gC ? gC + 3 * r : NULL), target ? target + 3 * r : NULL, &rl[r],
                        back ? rec + r * N : NULL);
            if (rgb) for (int a = 0; a < 3; a++) rgb[3 * r + a] = C[a];
        }
        free(buf);
    }
    if (fail) { free(rec); free(rl); return ml_fail(ML_ENOMEM, "render_rays: out of memory"); }
    double L = 0, gb = 0;
    for (int64_t r = 0; r < R; r++) { L += rl[r]; gb += rb[r]; }
    if (loss) *loss = target ? L * (1.0 / (3.0 * (double)(R > 0 ? R : 1))) : 0.0;
    if (back) {
        gr->beta += gb;
        fit_scatter(g, rec, R * N, gr);
    }
    free(rec);
    free(rl);
    return ML_OK;
}

double ml_sdf_grid_eikonal(const ml_sdf_grid *g, const double *x, int64_t n, double lambda, ml_sdf_grid_grad *gr)
{
    if (n <= 0 || lambda == 0) return 0;
    int64_t off[8];
    grid_offsets(g, off);
    fit_rec *rec = malloc(sizeof *rec * (size_t)n);
    double *lv = malloc(sizeof(double) * (size_t)n);
    if (!rec || !lv) { free(rec); free(lv); return NAN; }
#pragma omp parallel for if (n > 4096) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        grid_loc L;
        grid_locate(g, x + 3 * i, &L);
        double gv[3];
        grid_point(g, &L, off, gv, NULL);
        double len = sqrt(gv[0] * gv[0] + gv[1] * gv[1] + gv[2] * gv[2]), e = len - 1;
        lv[i] = e * e;
        double f = len > 0 ? lambda * 2 * e / len / (double)n : 0.0;
        fit_rec *q = &rec[i];
        for (int a = 0; a < 3; a++) { q->p[a] = x[3 * i + a]; q->gg[a] = f * gv[a]; q->ga[a] = 0; }
        q->gd = 0;
    }
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += lv[i];
    if (gr) fit_scatter(g, rec, n, gr);
    free(rec);
    free(lv);
    return lambda * s / (double)n;
}

double ml_sdf_grid_tv(const ml_sdf_grid *g, const int64_t *idx, int64_t m, double lambda, ml_sdf_grid_grad *gr)
{
    if (m <= 0 || lambda == 0) return 0;
    int64_t n = g->res, stride[3] = {n * n, n, 1};
    double ih2[3], s = 0, f = lambda / (double)m;
    for (int a = 0; a < 3; a++) {
        double h = (g->hi[a] - g->lo[a]) / (g->res - 1);
        ih2[a] = 1.0 / (h * h);
    }
    for (int64_t q = 0; q < m; q++) {
        int64_t j = idx[q], id[3] = {j / (n * n), (j / n) % n, j % n};
        for (int a = 0; a < 3; a++) {
            if (id[a] + 1 >= n) continue;
            int64_t e = j + stride[a];
            double dv = g->d[e] - g->d[j];
            s += dv * dv * ih2[a];
            if (gr) { gr->d[e] += 2 * f * dv * ih2[a]; gr->d[j] -= 2 * f * dv * ih2[a]; }
            for (int c = 0; c < 3; c++) {
                double dc = g->c[3 * e + c] - g->c[3 * j + c];
                s += dc * dc * ih2[a];
                if (gr) { gr->c[3 * e + c] += 2 * f * dc * ih2[a]; gr->c[3 * j + c] -= 2 * f * dc * ih2[a]; }
            }
        }
    }
    return f * s;
}
