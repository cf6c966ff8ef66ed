/* Rendering: camera rays -> samples (error-bounded, uniform, hierarchical) -> weights -> Lambert shading of the
 * SDF normal and albedo at every sample with a visible weight (VolSDF eq. 8's colour integral), or the shaded
 * sphere-traced hit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "sdf_internal.h"

#define W_MIN 1e-7 /* samples with smaller weight are not shaded (their total is below N·W_MIN) */

ml_sdf_render_opts ml_sdf_render_defaults(void)
{
    ml_sdf_render_opts o;
    memset(&o, 0, sizeof o);
    o.sample = ml_sdf_sample_defaults();
    o.light[0] = 0.4; o.light[1] = 0.8; o.light[2] = 0.45;
    o.ambient = 0.25;
    o.background[0] = o.background[1] = o.background[2] = 1.0;
    o.chunk = 4096;
    return o;
}

/* Normals and albedo at n points: the field's own eval_full, else central differences and grey. */
static int shade_inputs(const ml_sdf_field *f, const double *p, int64_t n, double *g, double *c)
{
    if (n <= 0) return ML_OK;
    if (f->eval_full) return f->eval_full(f->ud, p, n, NULL, g, c);
    double *q = malloc(sizeof(double) * 3 * (size_t)n * 2), *d = malloc(sizeof(double) * 2 * (size_t)n);
    if (!q || !d) { free(q); free(d); return ml_fail(ML_ENOMEM, "render: out of memory"); }
    const double h = 1e-5;
    int rc = ML_OK;
    for (int a = 0; a < 3 && rc == ML_OK; a++) {
        for (int64_t i = 0; i < n; i++)
            for (int s = 0; s < 2; s++) {
                memcpy(q + 3 * (2 * i + s), p + 3 * i, 3 * sizeof(double));
                q[3 * (2 * i + s) + a] += s ? -h : h;
            }
        rc = sdf_field_eval(f, q, 2 * n, d);
        for (int64_t i = 0; i < n && rc == ML_OK; i++) g[3 * i + a] = (d[2 * i] - d[2 * i + 1]) / (2 * h);
    }
    for (int64_t i = 0; i < 3 * n; i++) c[i] = 0.8;
    free(q); free(d);
    return rc;
}

void ml_sdf_shade(const ml_sdf_render_opts *o, const double *grad, const double *albedo, int64_t n, double *rgb,
                  double *normal)
{
    double l[3] = {o->light[0], o->light[1], o->light[2]}, ll = sqrt(l[0] * l[0] + l[1] * l[1] + l[2] * l[2]);
    for (int a = 0; a < 3; a++) l[a] = ll > 0 ? l[a] / ll : 0;
    for (int64_t i = 0; i < n; i++) {
        const double *g = grad + 3 * i, *c = albedo + 3 * i;
        double len = sqrt(g[0] * g[0] + g[1] * g[1] + g[2] * g[2]), nv[3] = {0, 0, 0};
        if (len > 0) for (int a = 0; a < 3; a++) nv[a] = g[a] / len;
        double lam = nv[0] * l[0] + nv[1] * l[1] + nv[2] * l[2];
        double k = o->ambient + (1 - o->ambient) * (lam > 0 ? lam : 0);
        for (int a = 0; a < 3; a++) {
            rgb[3 * i + a] = c[a] * k;
            if (normal) normal[3 * i + a] = nv[a];
        }
    }
}

int ml_sdf_render(const ml_sdf_field *f, const ml_sdf_camera *cam, const ml_sdf_render_opts *o, double *rgb,
                  double *depth, double *normal, double *opacity)
{
    int64_t npx = (int64_t)cam->width * cam->height;
    if (cam->width <= 0 || cam->height <= 0 || cam->width > 16384 || cam->height > 16384 || npx > ((int64_t)1 << 26))
        return ml_fail(ML_EINVAL, "camera: width and height must be in [1, 16384] with at most 2^26 pixels, got %dx%d",
                       cam->width, cam->height);
    if (!(o->ambient >= 0 && o->ambient <= 1)) return ml_fail(ML_EINVAL, "ambient must be in [0, 1], got %g", o->ambient);
    double l[3] = {o->light[0], o->light[1], o->light[2]};
    double ll = sqrt(l[0] * l[0] + l[1] * l[1] + l[2] * l[2]);
    if (!(ll > 0) || !isfinite(ll)) return ml_fail(ML_EINVAL, "light must be a finite non-zero vector");
    for (int a = 0; a < 3; a++) l[a] /= ll;
    ml_sdf_sample_opts so = o->sample;
    so.last_delta = 0;
    so.progress = NULL;
    if (so.far < 0) so.far = 2 * so.radius;
    int N = ml_sdf_sample_count(&so);
    int64_t chunk = o->chunk > 0 ? o->chunk : 4096;
    if (chunk > ((int64_t)1 << 21) / N) chunk = ((int64_t)1 << 21) / N > 0 ? ((int64_t)1 << 21) / N : 1;
    double *O = malloc(sizeof(double) * 3 * (size_t)npx), *U = malloc(sizeof(double) * 3 * (size_t)npx);
    double *T = malloc(sizeof(double) * (size_t)chunk * N), *Wt = malloc(sizeof(double) * (size_t)chunk * N);
    double *P = malloc(sizeof(double) * 3 * (size_t)chunk * N), *G = malloc(sizeof(double) * 3 * (size_t)chunk * N);
    double *Cl = malloc(sizeof(double) * 3 * (size_t)chunk * N);
    int64_t *ix = malloc(sizeof(int64_t) * (size_t)chunk * N);
    int rc = ML_OK;
    if (!O || !U || !T || !Wt || !P || !G || !Cl || !ix) { rc = ml_fail(ML_ENOMEM, "render: out of memory"); goto done; }
    rc = ml_sdf_camera_rays(cam, O, U);
    for (int64_t r0 = 0; r0 < npx && rc == ML_OK; r0 += chunk) {
        int64_t C = npx - r0 < chunk ? npx - r0 : chunk, np = 0;
        if (o->sphere_trace) {
            rc = ml_sdf_sphere_trace(f, O + 3 * r0, U + 3 * r0, C, so.near, so.far, 1e-6, 512, T, NULL);
            if (rc != ML_OK) break;
            for (int64_t i = 0; i < C; i++)
                if (isfinite(T[i])) {
                    for (int a = 0; a < 3; a++) P[3 * np + a] = O[3 * (r0 + i) + a] + T[i] * U[3 * (r0 + i) + a];
                    ix[np++] = i;
                }
        } else {
            ml_sdf_samples s;
            memset(&s, 0, sizeof s);
            s.t = T; s.weights = Wt;
            rc = ml_sdf_sample(f, O + 3 * r0, U + 3 * r0, C, &so, &s);
            /* ml_sdf_sample writes rows from ray 0 of the slice it is given */
            if (rc != ML_OK) break;
            for (int64_t i = 0; i < C; i++)
                for (int j = 0; j < N; j++)
                    if (Wt[i * N + j] > W_MIN) {
                        for (int a = 0; a < 3; a++) P[3 * np + a] = O[3 * (r0 + i) + a] + T[i * N + j] * U[3 * (r0 + i) + a];
                        ix[np++] = i * N + j;
                    }
        }
        rc = shade_inputs(f, P, np, G, Cl);
        if (rc != ML_OK) break;
        ml_sdf_shade(o, G, Cl, np, P, G); /* radiance into P, unit normals into G (both [np,3]) */
        for (int64_t i = 0; i < C; i++) {
            int64_t px = r0 + i;
            for (int a = 0; a < 3; a++) { rgb[3 * px + a] = 0; if (normal) normal[3 * px + a] = 0; }
            if (depth) depth[px] = 0;
            if (opacity) opacity[px] = 0;
        }
        for (int64_t k = 0; k < np; k++) {
            int64_t i = o->sphere_trace ? ix[k] : ix[k] / N, px = r0 + i;
            double w = o->sphere_trace ? 1.0 : Wt[ix[k]], t = T[ix[k]], *c = P + 3 * k, *n = G + 3 * k;
            for (int a = 0; a < 3; a++) {
                rgb[3 * px + a] += w * c[a];
                if (normal) normal[3 * px + a] += w * n[a];
            }
            if (depth) depth[px] += w * t;
        }
        for (int64_t i = 0; i < C; i++) {
            int64_t px = r0 + i;
            double op = 0;
            if (o->sphere_trace) op = isfinite(T[i]) ? 1.0 : 0.0;
            else for (int j = 0; j < N; j++) op += Wt[i * N + j];
            if (op > 1) op = 1;
            for (int a = 0; a < 3; a++) rgb[3 * px + a] += (1 - op) * o->background[a];
            if (depth) depth[px] += (1 - op) * so.far;
            if (opacity) opacity[px] = op;
        }
        if (rc == ML_OK) rc = ml_progress_tick(o->sample.progress, (double)(r0 + C), (double)npx);
    }
done:
    free(O); free(U); free(T); free(Wt); free(P); free(G); free(Cl); free(ix);
    return rc;
}
