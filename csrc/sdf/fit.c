/* The multi-view fit of a grid SDF (VolSDF §3.5 on a dense grid): each step samples a batch of pixel rays with the
 * error-bounded sampler at the current β, renders them differentiably, adds the eikonal (and TV) regulariser and
 * takes an Adam step on the node values, colours and β_param (β = |β_param| + β_min). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "moonlab/tensor.h"
#include "sdf_internal.h"
#include "grid.h"

ml_sdf_fit_opts ml_sdf_fit_defaults(void)
{
    ml_sdf_fit_opts o;
    memset(&o, 0, sizeof o);
    o.iters = 2000; o.batch = 1024;
    o.lr = 0.01; o.lr_color = 0.02; o.lr_beta = 0.005;
    o.b1 = 0.9; o.b2 = 0.999; o.adam_eps = 1e-8;
    o.beta_min = 1e-4; o.lambda_eik = 0.1; o.lambda_tv = 0; o.n_eik = 0; o.levels = 1;
    o.sample = ml_sdf_sample_defaults();
    o.sample.n_eval = 64; o.sample.n_final = 32; o.sample.n_extra = 16;
    o.shade = ml_sdf_render_defaults();
    return o;
}

static int check(const ml_sdf_fit_opts *o, const ml_sdf_camera *cams, int V)
{
    if (V < 1) return ml_fail(ML_EINVAL, "fit: need at least one view");
    for (int v = 1; v < V; v++)
        if (cams[v].width != cams[0].width || cams[v].height != cams[0].height)
            return ml_fail(ML_EINVAL, "fit: camera %d is %dx%d, camera 1 is %dx%d", v + 1, cams[v].width, cams[v].height,
                           cams[0].width, cams[0].height);
    if (o->iters < 0 || o->batch < 1 || o->batch > (1 << 20)) return ml_fail(ML_EINVAL, "fit: iters >= 0 and batch in [1, 2^20]");
    const double lr[3] = {o->lr, o->lr_color, o->lr_beta};
    for (int i = 0; i < 3; i++)
        if (!(lr[i] > 0) || !isfinite(lr[i])) return ml_fail(ML_EINVAL, "fit: learning rates must be finite and > 0");
    if (!(o->b1 >= 0 && o->b1 < 1 && o->b2 >= 0 && o->b2 < 1 && o->adam_eps > 0))
        return ml_fail(ML_EINVAL, "fit: Adam needs b1, b2 in [0, 1) and eps > 0");
    if (!(o->beta_min > 0) || !isfinite(o->beta_min)) return ml_fail(ML_EINVAL, "fit: beta_min must be finite and > 0");
    if (!(o->lambda_eik >= 0 && o->lambda_tv >= 0 && isfinite(o->lambda_eik) && isfinite(o->lambda_tv)))
        return ml_fail(ML_EINVAL, "fit: lambda_eikonal and lambda_tv must be finite and >= 0");
    if (o->levels < 1 || o->levels > 6) return ml_fail(ML_EINVAL, "fit: levels must be in [1, 6], got %d", o->levels);
    return ML_OK;
}

int ml_sdf_fit_step(const ml_sdf_grid *g, double beta, const double *o, const double *u, const double *target,
                    int64_t R, const ml_sdf_sample_opts *so, const ml_sdf_render_opts *shade, double *t, double *loss,
                    ml_sdf_grid_grad *gr)
{
    ml_sdf_field f = ml_sdf_grid_field(g);
    ml_sdf_sample_opts s1 = *so;
    s1.beta = beta;
    s1.last_delta = 0;
    s1.progress = NULL;
    ml_sdf_samples s;
    memset(&s, 0, sizeof s);
    s.t = t;
    int rc = ml_sdf_sample(&f, o, u, R, &s1, &s);
    if (rc != ML_OK) return rc;
    return ml_sdf_grid_render_rays(g, beta, o, u, t, R, ml_sdf_sample_count(&s1), 0.0, shade, NULL, target, NULL, loss, gr);
}

static void adam_step(double *x, const double *g, double *m, double *v, int64_t n, double lr, const ml_sdf_fit_opts *o,
                      int step, double lo, double hi)
{
    double c1 = 1 - pow(o->b1, step), c2 = 1 - pow(o->b2, step);
#pragma omp parallel for if (n > 65536) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        m[i] = o->b1 * m[i] + (1 - o->b1) * g[i];
        v[i] = o->b2 * v[i] + (1 - o->b2) * g[i] * g[i];
        double y = x[i] - lr * (m[i] / c1) / (sqrt(v[i] / c2) + o->adam_eps);
        x[i] = y < lo ? lo : (y > hi ? hi : y);
    }
}

typedef struct fit_ws {
    double *O, *U;            /* every pixel's ray [P,3] */
    double *bo, *bu, *bt, *tg, *x; /* batch rays, depths, targets, eikonal points */
    int64_t *tv;
} fit_ws;

/* One level: iters steps from step0 on grid g (Adam state fresh). */
static int run_level(const ml_sdf_fit_opts *o, const double *images, int64_t P, fit_ws *w, ml_sdf_grid *g,
                     double *bp, double *bm, double *bv, int step0, int iters, int total, double *loss, int *done)
{
    int64_t n = (int64_t)g->res * g->res * g->res;
    double *buf = calloc((size_t)n * 12, sizeof(double));
    if (!buf) return ml_fail(ML_ENOMEM, "fit: out of memory");
    double *gd = buf, *gc = gd + n, *md = gc + 3 * n, *vd = md + n, *mc = vd + n, *vc = mc + 3 * n;
    ml_sdf_sample_opts so = o->sample;
    so.stratified = 1;
    int B = o->batch, ne = o->n_eik > 0 ? o->n_eik : B, rc = ML_OK;
    for (int it = 0; it < iters && rc == ML_OK; it++) {
        int step = step0 + it;
        uint64_t ctr = (uint64_t)step << 24;
        for (int b = 0; b < B; b++) {
            int64_t px = (int64_t)(ml_rng_uniform(o->seed, ctr + (uint64_t)b) * (double)P);
            if (px >= P) px = P - 1;
            memcpy(w->bo + 3 * b, w->O + 3 * px, 3 * sizeof(double));
            memcpy(w->bu + 3 * b, w->U + 3 * px, 3 * sizeof(double));
            memcpy(w->tg + 3 * b, images + 3 * px, 3 * sizeof(double));
        }
        double beta = fabs(*bp) + o->beta_min, L = 0;
        so.seed = o->seed * 0x9E3779B97F4A7C15ull + (uint64_t)step;
        memset(gd, 0, sizeof(double) * 4 * (size_t)n);
        ml_sdf_grid_grad gr = {gd, gc, 0};
        rc = ml_sdf_fit_step(g, beta, w->bo, w->bu, w->tg, B, &so, &o->shade, w->bt, &L, &gr);
        if (rc != ML_OK) break;
        if (o->lambda_eik > 0) {
            for (int j = 0; j < ne; j++)
                for (int a = 0; a < 3; a++)
                    w->x[3 * j + a] = g->lo[a] + (g->hi[a] - g->lo[a]) *
                                      ml_rng_uniform(o->seed, ctr + (uint64_t)(1 << 21) + 3u * (uint64_t)j + (uint64_t)a);
            if (isnan(ml_sdf_grid_eikonal(g, w->x, ne, o->lambda_eik, &gr))) { rc = ml_fail(ML_ENOMEM, "fit: out of memory"); break; }
        }
        if (o->lambda_tv > 0) {
            for (int j = 0; j < ne; j++) {
                int64_t q = (int64_t)(ml_rng_uniform(o->seed, ctr + (uint64_t)(1 << 23) + (uint64_t)j) * (double)n);
                w->tv[j] = q >= n ? n - 1 : q;
            }
            ml_sdf_grid_tv(g, w->tv, ne, o->lambda_tv, &gr);
        }
        int at = it + 1;
        adam_step(g->d, gd, md, vd, n, o->lr, o, at, -INFINITY, INFINITY);
        adam_step(g->c, gc, mc, vc, 3 * n, o->lr_color, o, at, 0.0, 1.0);
        double gb = gr.beta * (*bp < 0 ? -1.0 : 1.0);
        adam_step(bp, &gb, bm, bv, 1, o->lr_beta, o, step + 1, -INFINITY, INFINITY);
        loss[step] = L;
        *done = step + 1;
        rc = ml_progress_tick(o->progress, (double)(step + 1), (double)total);
    }
    free(buf);
    return rc;
}

int ml_sdf_fit(const ml_sdf_fit_opts *o, const ml_sdf_camera *cams, int V, const double *images, ml_sdf_grid *g,
               double *beta_param, double *loss, int *done)
{
    *done = 0;
    int rc = check(o, cams, V);
    if (rc != ML_OK) return rc;
    int64_t HW = (int64_t)cams[0].width * cams[0].height, P = HW * V;
    if (P > ((int64_t)1 << 28)) return ml_fail(ML_EINVAL, "fit: too many pixels (%lld)", (long long)P);
    int B = o->batch, ne = o->n_eik > 0 ? o->n_eik : B;
    ml_sdf_sample_opts so = o->sample;
    int N = ml_sdf_sample_count(&so);
    fit_ws w;
    memset(&w, 0, sizeof w);
    w.O = malloc(sizeof(double) * 3 * (size_t)P);
    w.U = malloc(sizeof(double) * 3 * (size_t)P);
    w.bo = malloc(sizeof(double) * 9 * (size_t)B);
    w.bt = malloc(sizeof(double) * (size_t)B * (size_t)N);
    w.x = malloc(sizeof(double) * 3 * (size_t)ne);
    w.tv = malloc(sizeof(int64_t) * (size_t)ne);
    ml_sdf_grid *lv = NULL;
    if (!w.O || !w.U || !w.bo || !w.bt || !w.x || !w.tv) { rc = ml_fail(ML_ENOMEM, "fit: out of memory"); goto out; }
    w.bu = w.bo + 3 * B;
    w.tg = w.bu + 3 * B;
    for (int v = 0; v < V && rc == ML_OK; v++) rc = ml_sdf_camera_rays(&cams[v], w.O + 3 * HW * v, w.U + 3 * HW * v);
    double bm = 0, bv = 0;
    int step = 0;
    for (int l = 0; l < o->levels && rc == ML_OK; l++) {
        int last = l == o->levels - 1, iters = o->iters / o->levels + (last ? o->iters % o->levels : 0);
        ml_sdf_grid *cur = g;
        if (!last) {
            int r = (g->res - 1) / (1 << (o->levels - 1 - l)) + 1;
            cur = ml_sdf_grid_new(r < 2 ? 2 : r, g->lo, g->hi);
            if (!cur) { rc = ML_ENOMEM; break; }
        }
        if (lv) ml_sdf_grid_resample(lv, cur);
        else if (!last) ml_sdf_grid_resample(g, cur);
        ml_sdf_grid_free(lv);
        lv = NULL;
        rc = run_level(o, images, P, &w, cur, beta_param, &bm, &bv, step, iters, o->iters, loss, done);
        step += iters;
        if (!last) lv = cur;
    }
out:
    ml_sdf_grid_free(lv);
    free(w.O); free(w.U); free(w.bo); free(w.bt); free(w.x); free(w.tv);
    return rc;
}
