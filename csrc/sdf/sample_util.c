/* Helpers shared by the ray samplers: inverse-CDF sampling, sorting, ray checks, field evaluation. */
#include <math.h>
#include <stdlib.h>
#include "sdf_internal.h"

/* The reference code's sample_pdf: cdf = [0, cumsum(pdf)], searchsorted(right), linear inside the bin, a bin of
 * mass < 1e-5 treated as mass 1. */
void sdf_invert_cdf(const double *bins, const double *pdf, int m, const double *u, int n, double *cdf,
                    double *out)
{
    double s = 0;
    for (int i = 0; i < m; i++) s += pdf[i];
    int flat = !(s > 0) || !isfinite(s);
    cdf[0] = 0;
    for (int i = 0; i < m; i++) cdf[i + 1] = cdf[i] + (flat ? 1.0 / m : pdf[i] / s);
    int sorted = 1;
    for (int j = 0; j + 1 < n; j++) sorted &= u[j] <= u[j + 1];
    for (int j = 0, lo = 0; j < n; j++) { /* lo: first index with cdf > u (a walk when u is sorted) */
        if (sorted) {
            while (lo <= m && !(cdf[lo] > u[j])) lo++;
        } else {
            int hi = m + 1;
            lo = 0;
            while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (cdf[mid] > u[j]) hi = mid; else lo = mid + 1;
            }
        }
        int below = lo - 1 < 0 ? 0 : lo - 1, above = lo > m ? m : lo;
        double den = cdf[above] - cdf[below];
        if (den < 1e-5) den = 1;
        double f = (u[j] - cdf[below]) / den;
        out[j] = bins[below] + f * (bins[above] - bins[below]);
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void sdf_sort(double *a, int n) { qsort(a, (size_t)n, sizeof *a, cmp_d); }

int sdf_check_rays(const double *o, const double *u, int64_t R)
{
    for (int64_t r = 0; r < R; r++) {
        const double *a = o + 3 * r, *b = u + 3 * r;
        if (!isfinite(a[0]) || !isfinite(a[1]) || !isfinite(a[2]))
            return ml_fail(ML_EINVAL, "origin %lld is not finite", (long long)r + 1);
        double l = b[0] * b[0] + b[1] * b[1] + b[2] * b[2];
        if (!(fabs(l - 1) < 1e-6))
            return ml_fail(ML_EINVAL, "direction %lld is not a unit vector (|u|^2 = %g)", (long long)r + 1, l);
    }
    return ML_OK;
}

int sdf_field_eval(const ml_sdf_field *f, const double *p, int64_t np, double *d)
{
    int rc = ML_OK;
    if (f->serial || np <= 2048) {
        rc = f->eval(f->ud, p, np, d);
    } else {
        int64_t nb = (np + 1023) / 1024;
#pragma omp parallel for schedule(dynamic, 4)
        for (int64_t b = 0; b < nb; b++) {
            int64_t i0 = b * 1024, m = np - i0 < 1024 ? np - i0 : 1024;
            int r = f->eval(f->ud, p + 3 * i0, m, d + i0);
            if (r != ML_OK) {
#pragma omp critical(sdf_field_eval)
                rc = r;
            }
        }
    }
    if (rc != ML_OK) return rc;
    for (int64_t i = 0; i < np; i++)
        if (isnan(d[i]))
            return ml_fail(ML_ENUMERIC, "the SDF is NaN at (%g, %g, %g)", p[3 * i], p[3 * i + 1], p[3 * i + 2]);
    return ML_OK;
}

void sdf_uniform_t(const ml_sdf_sample_opts *o, int64_t ray, int n, double *t)
{
    for (int i = 0; i < n; i++) t[i] = o->near + (o->far - o->near) * (double)i / (double)(n - 1);
    if (!o->stratified) return;
    double prev = t[0];
    for (int i = 0; i < n; i++) {
        double lo = i == 0 ? t[0] : 0.5 * (prev + t[i]), hi = i + 1 < n ? 0.5 * (t[i] + t[i + 1]) : t[n - 1];
        prev = t[i];
        t[i] = lo + (hi - lo) * ml_rng_uniform(o->seed, (uint64_t)ray * 8192u + (uint64_t)i);
    }
}

void sdf_u(int stratified, uint64_t seed, int64_t ray, int stream, int n, double *u)
{
    if (!stratified) {
        for (int i = 0; i < n; i++) u[i] = n > 1 ? (double)i / (double)(n - 1) : 0.0;
        return;
    }
    for (int i = 0; i < n; i++) u[i] = ml_rng_uniform(seed, (uint64_t)ray * 8192u + 2048u * (uint64_t)stream + (uint64_t)i);
    sdf_sort(u, n);
}

typedef struct pair { double t, d; } pair;
static int cmp_pair(const void *a, const void *b)
{
    double x = ((const pair *)a)->t, y = ((const pair *)b)->t;
    return (x > y) - (x < y);
}

void sdf_sort_pairs(double *t, double *d, int n, double *scratch)
{
    pair *p = (pair *)scratch;
    for (int i = 0; i < n; i++) { p[i].t = t[i]; p[i].d = d[i]; }
    qsort(p, (size_t)n, sizeof *p, cmp_pair);
    for (int i = 0; i < n; i++) { t[i] = p[i].t; d[i] = p[i].d; }
}

void sdf_write_ray(const ml_sdf_sample_opts *o, ml_sdf_samples *out, int64_t r, int N, const double *t,
                   const double *d, double *sigma)
{
    for (int i = 0; i < N; i++) {
        out->t[r * N + i] = t[i];
        sigma[i] = ml_sdf_density1(d[i], o->beta);
    }
    if (out->weights) ml_sdf_weights(t, sigma, N, o->last_delta, NULL, NULL, NULL, out->weights + r * N, NULL);
}

int ml_sdf_sample_count(const ml_sdf_sample_opts *o)
{
    switch (o->method) {
    case ML_SDF_UNIFORM: return o->n_eval;
    case ML_SDF_HIERARCHICAL: return o->n_eval + o->n_final;
    default: return o->n_final + o->n_extra + 2;
    }
}

int ml_sdf_sample_max_evals(const ml_sdf_sample_opts *o)
{
    switch (o->method) {
    case ML_SDF_UNIFORM: return o->n_eval;
    case ML_SDF_HIERARCHICAL: return o->n_eval + o->n_final;
    default: return o->n_eval * o->max_iters;
    }
}

int64_t sdf_chunk_rays(const ml_sdf_sample_opts *o)
{
    int64_t c = ((int64_t)1 << 22) / ml_sdf_sample_max_evals(o); /* about 64 MiB of samples per batch */
    return c > 2048 ? 2048 : (c < 16 ? 16 : c);
}
