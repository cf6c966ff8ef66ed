/* Baselines for the error-bounded sampler: uniform samples on [near, far], and NeRF's hierarchical
 * coarse-to-fine sampling (Mildenhall et al. 2020, §5.2): n_eval coarse samples, then n_final more by inverse CDF
 * of the coarse weights, all evaluated. The bound B is reported at β on the evaluated set. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "sdf_internal.h"

static int simple_chunk(const ml_sdf_field *f, const double *o, const double *u, int64_t r0, int64_t C,
                        const ml_sdf_sample_opts *opt, ml_sdf_samples *out, double *T, double *D, double *P);

int sdf_sample_simple(const ml_sdf_field *f, const double *o, const double *u, int64_t R,
                      const ml_sdf_sample_opts *opt, ml_sdf_samples *out)
{
    int N = ml_sdf_sample_count(opt);
    int64_t CH = sdf_chunk_rays(opt), C = R < CH ? R : CH;
    if (C < 1) return ML_OK;
    double *T = malloc(sizeof(double) * (size_t)C * N), *D = malloc(sizeof(double) * (size_t)C * N);
    double *P = malloc(sizeof(double) * 3 * (size_t)C * N);
    int rc = ML_OK;
    if (!T || !D || !P) rc = ml_fail(ML_ENOMEM, "sdf.sample: out of memory");
    for (int64_t r0 = 0; r0 < R && rc == ML_OK; r0 += CH) {
        int64_t c = R - r0 < CH ? R - r0 : CH;
        rc = simple_chunk(f, o, u, r0, c, opt, out, T, D, P);
        if (rc == ML_OK) rc = ml_progress_tick(opt->progress, (double)(r0 + c), (double)R);
    }
    free(T); free(D); free(P);
    return rc;
}

static int simple_chunk(const ml_sdf_field *f, const double *o, const double *u, int64_t r0, int64_t C,
                        const ml_sdf_sample_opts *opt, ml_sdf_samples *out, double *T, double *D, double *P)
{
    int hier = opt->method == ML_SDF_HIERARCHICAL;
    int nc = opt->n_eval, N = hier ? nc + opt->n_final : nc;
    int rc = ML_OK;
    for (int pass = 0; pass < (hier ? 2 : 1); pass++) {
        int k0 = pass ? nc : 0, k = pass ? opt->n_final : nc;
        int fail = 0;
#pragma omp parallel
        {
            double *w = malloc(sizeof(double) * (size_t)(4 * N + 2)), *sig = w ? w + N : NULL;
            double *cdf = w ? w + 2 * N : NULL, *uu = w ? w + 3 * N + 1 : NULL;
            if (!w) {
#pragma omp atomic write
                fail = 1;
            }
#pragma omp for schedule(static)
            for (int64_t i = 0; i < C; i++) {
                if (!w) continue;
                double *t = T + i * N, *d = D + i * N;
                if (!pass) sdf_uniform_t(opt, r0 + i, nc, t);
                else {
                    for (int j = 0; j < nc; j++) sig[j] = ml_sdf_density1(d[j], opt->beta);
                    ml_sdf_weights(t, sig, nc, 1e10, NULL, NULL, NULL, w, NULL);
                    for (int j = 0; j + 1 < nc; j++) w[j] += 1e-5;
                    sdf_u(opt->stratified, opt->seed, r0 + i, 1, k, uu);
                    sdf_invert_cdf(t, w, nc - 1, uu, k, cdf, t + nc);
                }
                const double *oo = o + 3 * (r0 + i), *ud = u + 3 * (r0 + i);
                for (int j = k0; j < k0 + k; j++)
                    for (int c = 0; c < 3; c++) P[3 * (i * N + j) + c] = oo[c] + t[j] * ud[c];
            }
            free(w);
        }
        if (fail) return ml_fail(ML_ENOMEM, "sdf.sample: out of memory");
        /* evaluate the new points of every ray (rows are strided by N) */
        for (int64_t i = 0; i < C && rc == ML_OK; i += 256) {
            int64_t m = C - i < 256 ? C - i : 256;
            if (k == N) rc = sdf_field_eval(f, P + 3 * i * N, m * N, D + i * N);
            else
                for (int64_t a = i; a < i + m && rc == ML_OK; a++)
                    rc = sdf_field_eval(f, P + 3 * (a * N + k0), k, D + a * N + k0);
        }
        if (rc == ML_OK && ml_interrupted()) rc = ml_fail(ML_EINTR, "interrupted");
        if (rc != ML_OK) return rc;
    }
    int fail = 0;
#pragma omp parallel
    {
        double *buf = malloc(sizeof(double) * (size_t)(9 * N + 2));
        if (!buf) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(static)
        for (int64_t i = 0; i < C; i++) {
            if (!buf) continue;
            double *t = T + i * N, *d = D + i * N, *ds = buf, *bs = buf + N, *pr = buf + 5 * N;
            if (hier) sdf_sort_pairs(t, d, N, pr);
            ml_sdf_dstar(t, d, N, f->exact, ds);
            int64_t r = r0 + i;
            if (out->bound) out->bound[r] = ml_sdf_bound(t, d, ds, N, opt->beta, bs);
            if (out->beta_plus) out->beta_plus[r] = opt->beta;
            if (out->iters) out->iters[r] = hier ? 2 : 1;
            if (out->evals) out->evals[r] = N;
            if (out->t_eval) memcpy(out->t_eval + r * N, t, sizeof *t * (size_t)N);
            if (out->d_eval) memcpy(out->d_eval + r * N, d, sizeof *d * (size_t)N);
            sdf_write_ray(opt, out, r, N, t, d, bs);
        }
        free(buf);
    }
    if (fail) rc = ml_fail(ML_ENOMEM, "sdf.sample: out of memory");
    return rc;
}
