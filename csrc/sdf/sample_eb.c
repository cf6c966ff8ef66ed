/* The error-bounded sampling algorithm of VolSDF (paper §3.4, Algorithm 1), following the reference code's
 * ErrorBoundSampler: n_eval uniform samples; per round, β+ = the smallest β' in [β, β_prev] with B ≤ ε by
 * bisection; while β+ > β and rounds remain, n_eval more samples by inverse CDF of the error density
 * (exp(Ê) − 1)·T; finally n_final samples by inverse CDF of the weights at β+, plus n_extra evaluated ones and
 * near/far. Rays converge individually (the reference stops the whole batch when every ray has). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "bisect.h"

enum { PH_REFINE = 0, PH_FINAL = 1, PH_DONE = 2 };

typedef struct ray_st {
    int m, nnew, phase, iters;
    double bhi, bplus, bound;
} ray_st;

typedef struct scratch {
    double *bis, *bs, *pdf, *cdf, *u, *sig, *w, *pairs, *tt, *dd;
    int *idx;
} scratch;

static double *carve(double **p, size_t n) { double *r = *p; *p += n; return r; }

/* One round for a ray whose evaluated set is t, d [m]: β+ by bisection, then the next samples into tn. */
static void round_step(const ml_sdf_field *f, const ml_sdf_sample_opts *o, int64_t ray, ray_st *st,
                       const double *t, const double *d, double *tn, scratch *s)
{
    int m = st->m;
    double b0 = o->beta;
    if (st->iters == 0) {
        double sq = 0;
        for (int i = 0; i + 1 < m; i++) sq += (t[i + 1] - t[i]) * (t[i + 1] - t[i]);
        st->bhi = sqrt(sq / (4.0 * log1p(o->eps))); /* Lemma 2 */
        if (st->bhi < b0) st->bhi = b0;
    }
    sdf_bisect bis;
    sdf_bisect_init(&bis, s->bis, t, d, m, f->exact, st->bhi);
    double hi = sdf_bisect_beta(&bis, b0, st->bhi, o->eps, o->beta_iters);
    const double *ds = bis.ds;
    st->bhi = st->bplus = hi;
    st->iters++;
    int conv = !(hi > b0);
    double bp = hi, ib = 1.0 / bp;
    for (int i = 0; i < m; i++) s->sig[i] = -fabs(d[i]) * ib;
    sdf_vexp(s->sig, s->sig, m);
    for (int i = 0; i < m; i++) s->sig[i] = ib * (d[i] > 0 ? 0.5 * s->sig[i] : (d[i] < 0 ? 1.0 - 0.5 * s->sig[i] : 0.5));
    if (!conv && st->iters < o->max_iters) {
        /* error density: (min(exp(Ê_i), 1e6) − 1)·T_i over the m − 1 intervals */
        double E = 0, acc = 0, *ex = s->w, *tr = s->cdf;
        for (int i = 0; i + 1 < m; i++) ex[i] = -ds[i] * ib;
        sdf_vexp(ex, ex, m - 1);
        for (int i = 0; i + 1 < m; i++) {
            double dl = t[i + 1] - t[i];
            E += ex[i] * dl * dl * 0.25 * ib * ib;
            ex[i] = E < 13.815510557964274 ? E : 13.815510557964274; /* exp clamped at 1e6 as the reference */
            tr[i] = -acc;
            acc += dl * s->sig[i];
        }
        sdf_vexp(ex, ex, m - 1);
        sdf_vexp(tr, tr, m - 1);
        for (int i = 0; i + 1 < m; i++) s->pdf[i] = (ex[i] - 1.0) * tr[i];
        sdf_u(0, 0, ray, 0, o->n_eval, s->u);
        sdf_invert_cdf(t, s->pdf, m - 1, s->u, o->n_eval, s->cdf, tn);
        st->nnew = o->n_eval;
        st->phase = PH_REFINE;
        return;
    }
    st->bound = ml_sdf_bound(t, d, ds, m, bp, s->bs); /* the reported B: every term, at β+ */
    /* weights w_i = (1 − e^{−δ_i σ_i})·e^{−Σ_{j<i} δ_j σ_j} as the reference computes them */
    double acc = 0, *al = s->w, *tr = s->cdf;
    for (int i = 0; i + 1 < m; i++) {
        double fe = (t[i + 1] - t[i]) * s->sig[i];
        al[i] = -fe;
        tr[i] = -acc;
        acc += fe;
    }
    sdf_vexp(al, al, m - 1);
    sdf_vexp(tr, tr, m - 1);
    for (int i = 0; i + 1 < m; i++) s->pdf[i] = (1.0 - al[i]) * tr[i] + 1e-5;
    sdf_u(o->stratified, o->seed, ray, 1, o->n_final, s->u);
    sdf_invert_cdf(t, s->pdf, m - 1, s->u, o->n_final, s->cdf, tn);
    tn[o->n_final] = o->near;
    tn[o->n_final + 1] = o->far;
    st->nnew = o->n_final + 2;
    st->phase = PH_FINAL;
}

/* Merges the sorted pairs (at, ad) [na] and (bt, bd) [nb] into (t, d). */
static void merge_into(const double *at, const double *ad, int na, const double *bt, const double *bd, int nb,
                       double *t, double *d)
{
    int i = 0, j = 0, n = 0;
    while (i < na || j < nb) {
        if (j >= nb || (i < na && at[i] <= bt[j])) { t[n] = at[i]; d[n++] = ad[i++]; }
        else { t[n] = bt[j]; d[n++] = bd[j++]; }
    }
}

/* Merges the sorted new samples (tn, dn) [k] into the sorted evaluated set (t, d) [m]. */
static void merge(double *t, double *d, int m, const double *tn, const double *dn, int k, double *tt, double *dd)
{
    merge_into(t, d, m, tn, dn, k, tt, dd);
    memcpy(t, tt, sizeof *t * (size_t)(m + k));
    memcpy(d, dd, sizeof *d * (size_t)(m + k));
}

/* Final output: the n_final + 2 new samples with n_extra of the evaluated ones, sorted, weights at β. */
static void finish(const ml_sdf_sample_opts *o, ml_sdf_samples *out, int64_t r, int64_t ray, const ray_st *st,
                   const double *t, const double *d, const double *tn, const double *dn, scratch *s)
{
    int nf = o->n_final + 2, ne = o->n_extra, N = nf + ne, m = st->m, sorted = 1;
    /* the new samples come sorted (inverse CDF of sorted u) between near and far; the extras sorted by index */
    double *at = s->pairs, *ad = at + nf, *bt = ad + nf, *bd = bt + ne;
    at[0] = tn[nf - 2]; ad[0] = dn[nf - 2];
    memcpy(at + 1, tn, sizeof *tn * (size_t)(nf - 2));
    memcpy(ad + 1, dn, sizeof *dn * (size_t)(nf - 2));
    at[nf - 1] = tn[nf - 1]; ad[nf - 1] = dn[nf - 1];
    for (int i = 0; i + 1 < nf; i++) sorted &= at[i] <= at[i + 1];
    if (o->stratified) { /* randperm(m)[:n_extra], then in index order */
        for (int i = 0; i < m; i++) s->idx[i] = i;
        for (int i = 0; i < ne; i++) {
            int j = i + (int)(ml_rng_uniform(o->seed, (uint64_t)ray * 8192u + 6144u + (uint64_t)i) * (m - i));
            if (j >= m) j = m - 1;
            int x = s->idx[i]; s->idx[i] = s->idx[j]; s->idx[j] = x;
        }
        for (int i = 1; i < ne; i++)
            for (int j = i, x = s->idx[i]; j > 0 && s->idx[j - 1] > x; j--) { s->idx[j] = s->idx[j - 1]; s->idx[j - 1] = x; }
    } else {
        for (int i = 0; i < ne; i++) s->idx[i] = ne > 1 ? (int)((double)i * (m - 1) / (ne - 1)) : 0;
    }
    for (int i = 0; i < ne; i++) { bt[i] = t[s->idx[i]]; bd[i] = d[s->idx[i]]; }
    merge_into(at, ad, nf, bt, bd, ne, s->tt, s->dd);
    if (!sorted) sdf_sort_pairs(s->tt, s->dd, N, s->pairs);
    sdf_write_ray(o, out, r, N, s->tt, s->dd, s->sig);
    if (out->beta_plus) out->beta_plus[r] = st->bplus;
    if (out->bound) out->bound[r] = st->bound;
    if (out->iters) out->iters[r] = st->iters;
    if (out->evals) out->evals[r] = (int64_t)m + nf;
    int cap = o->n_eval * o->max_iters;
    if (out->t_eval)
        for (int i = 0; i < cap; i++) out->t_eval[r * cap + i] = i < m ? t[i] : NAN;
    if (out->d_eval)
        for (int i = 0; i < cap; i++) out->d_eval[r * cap + i] = i < m ? d[i] : NAN;
}

static int eb_chunk(const ml_sdf_field *f, const double *o, const double *u, int64_t r0, int64_t C,
                    const ml_sdf_sample_opts *opt, ml_sdf_samples *out, double *T, double *D, double *TN, double *DN,
                    double *P, int64_t *off, ray_st *st);

/* Carves the per-thread scratch of a ray (sizes from cap and nn) out of buf. */
static void carve_scratch(scratch *s, double *buf, int *idx, int cap, int nn)
{
    double *q = buf;
    s->bis = carve(&q, sdf_bisect_size(cap)); s->bs = carve(&q, 4 * (size_t)cap); s->pdf = carve(&q, cap);
    s->cdf = carve(&q, cap + 1); s->u = carve(&q, nn); s->sig = carve(&q, cap + nn);
    s->w = carve(&q, cap); s->pairs = carve(&q, 2 * (size_t)(cap + nn)); s->tt = carve(&q, cap + nn);
    s->dd = carve(&q, cap + nn); s->idx = idx;
}
#define SCRATCH_DOUBLES(cap, nn) (sdf_bisect_size(cap) + (size_t)(cap) * 12 + (size_t)(nn) * 6 + 8)

/* Thread-safe fields: each ray runs the whole algorithm on one thread (no barrier between rounds), evaluating its
 * own points; batches of 4096 rays between progress ticks. */
static int eb_direct(const ml_sdf_field *f, const double *o, const double *u, int64_t R,
                     const ml_sdf_sample_opts *opt, ml_sdf_samples *out)
{
    int cap = opt->n_eval * opt->max_iters;
    int nn = opt->n_eval > opt->n_final + 2 ? opt->n_eval : opt->n_final + 2;
    int rc = ML_OK;
    for (int64_t r0 = 0; r0 < R && rc == ML_OK; r0 += 4096) {
        int64_t c = R - r0 < 4096 ? R - r0 : 4096;
        int fail = 0;
        double badp[3] = {0, 0, 0};
#pragma omp parallel
        {
            size_t need = SCRATCH_DOUBLES(cap, nn) + 2 * (size_t)cap + 5 * (size_t)nn;
            double *buf = malloc(sizeof(double) * need);
            int *idx = malloc(sizeof(int) * (size_t)cap);
            scratch s;
            memset(&s, 0, sizeof s);
            double *T = NULL, *D = NULL, *TN = NULL, *DN = NULL, *P = NULL;
            if (buf && idx) {
                carve_scratch(&s, buf, idx, cap, nn);
                T = buf + SCRATCH_DOUBLES(cap, nn); D = T + cap; TN = D + cap; DN = TN + nn; P = DN + nn;
            } else {
#pragma omp atomic write
                fail = ML_ENOMEM;
            }
#pragma omp for schedule(dynamic, 4)
            for (int64_t i = 0; i < c; i++) {
                int stop;
#pragma omp atomic read
                stop = fail;
                if (stop || ml_interrupted()) continue;
                int64_t r = r0 + i;
                const double *oo = o + 3 * r, *uu = u + 3 * r;
                ray_st st;
                memset(&st, 0, sizeof st);
                sdf_uniform_t(opt, r, opt->n_eval, TN);
                st.nnew = opt->n_eval;
                for (;;) {
                    for (int j = 0; j < st.nnew; j++)
                        for (int a = 0; a < 3; a++) P[3 * j + a] = oo[a] + TN[j] * uu[a];
                    int e = f->eval(f->ud, P, st.nnew, DN);
                    for (int j = 0; e == ML_OK && j < st.nnew; j++)
                        if (isnan(DN[j])) {
                            e = ML_ENUMERIC;
#pragma omp critical(sdf_eb_fail)
                            { badp[0] = P[3 * j]; badp[1] = P[3 * j + 1]; badp[2] = P[3 * j + 2]; }
                        }
                    if (e != ML_OK) {
#pragma omp atomic write
                        fail = e;
                        break;
                    }
                    if (st.phase == PH_REFINE) {
                        merge(T, D, st.m, TN, DN, st.nnew, s.tt, s.dd);
                        st.m += st.nnew;
                        st.nnew = 0;
                        round_step(f, opt, r, &st, T, D, TN, &s);
                    } else {
                        finish(opt, out, r, r, &st, T, D, TN, DN, &s);
                        break;
                    }
                }
            }
            free(buf);
            free(idx);
        }
        if (fail == ML_ENUMERIC) rc = ml_fail(ML_ENUMERIC, "the SDF is NaN at (%g, %g, %g)", badp[0], badp[1], badp[2]);
        else if (fail) rc = ml_fail(fail, "sdf.sample: out of memory");
        else if (ml_interrupted()) rc = ml_fail(ML_EINTR, "interrupted");
        if (rc == ML_OK) rc = ml_progress_tick(opt->progress, (double)(r0 + c), (double)R);
    }
    return rc;
}

int sdf_sample_eb(const ml_sdf_field *f, const double *o, const double *u, int64_t R, const ml_sdf_sample_opts *opt,
                  ml_sdf_samples *out)
{
    if (!f->serial) return eb_direct(f, o, u, R, opt, out);
    int cap = opt->n_eval * opt->max_iters;
    int nn = opt->n_eval > opt->n_final + 2 ? opt->n_eval : opt->n_final + 2;
    int64_t CH = sdf_chunk_rays(opt), C = R < CH ? R : CH;
    if (C < 1) return ML_OK;
    size_t per = (size_t)C * (size_t)cap;
    double *T = malloc(sizeof(double) * per), *D = malloc(sizeof(double) * per);
    double *TN = malloc(sizeof(double) * (size_t)C * nn), *DN = malloc(sizeof(double) * (size_t)C * nn);
    double *P = malloc(sizeof(double) * 3 * (size_t)C * nn);
    int64_t *off = malloc(sizeof(int64_t) * (size_t)(C + 1));
    ray_st *st = calloc((size_t)C, sizeof *st);
    int rc = ML_OK;
    if (!T || !D || !TN || !DN || !P || !off || !st) rc = ml_fail(ML_ENOMEM, "sdf.sample: out of memory");
    for (int64_t r0 = 0; r0 < R && rc == ML_OK; r0 += CH) {
        int64_t c = R - r0 < CH ? R - r0 : CH;
        memset(st, 0, sizeof *st * (size_t)c);
        rc = eb_chunk(f, o, u, r0, c, opt, out, T, D, TN, DN, P, off, st);
        if (rc == ML_OK) rc = ml_progress_tick(opt->progress, (double)(r0 + c), (double)R);
    }
    free(T); free(D); free(TN); free(DN); free(P); free(off); free(st);
    return rc;
}

static int eb_chunk(const ml_sdf_field *f, const double *o, const double *u, int64_t r0, int64_t C,
                    const ml_sdf_sample_opts *opt, ml_sdf_samples *out, double *T, double *D, double *TN, double *DN,
                    double *P, int64_t *off, ray_st *st)
{
    int cap = opt->n_eval * opt->max_iters;
    int nn = opt->n_eval > opt->n_final + 2 ? opt->n_eval : opt->n_final + 2;
    int rc = ML_OK;
    for (int64_t i = 0; i < C; i++) {
        sdf_uniform_t(opt, r0 + i, opt->n_eval, TN + i * nn);
        st[i].nnew = opt->n_eval;
    }
    for (;;) {
        off[0] = 0;
        for (int64_t i = 0; i < C; i++) off[i + 1] = off[i] + st[i].nnew;
        int64_t np = off[C];
        if (np == 0) break;
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < C; i++) {
            const double *oo = o + 3 * (r0 + i), *uu = u + 3 * (r0 + i);
            for (int j = 0; j < st[i].nnew; j++) {
                double tj = TN[i * nn + j], *p = P + 3 * (off[i] + j);
                p[0] = oo[0] + tj * uu[0]; p[1] = oo[1] + tj * uu[1]; p[2] = oo[2] + tj * uu[2];
            }
        }
        double *dpack = DN;
        rc = sdf_field_eval(f, P, np, dpack);
        if (rc == ML_OK && ml_interrupted()) rc = ml_fail(ML_EINTR, "interrupted");
        if (rc != ML_OK) return rc;
        int fail = 0;
#pragma omp parallel
        {
            double *buf = malloc(sizeof(double) * SCRATCH_DOUBLES(cap, nn));
            int *idx = malloc(sizeof(int) * (size_t)cap);
            scratch s;
            memset(&s, 0, sizeof s);
            if (buf && idx) carve_scratch(&s, buf, idx, cap, nn);
            else {
#pragma omp atomic write
                fail = 1;
            }
#pragma omp for schedule(dynamic, 8)
            for (int64_t i = 0; i < C; i++) {
                if (fail || st[i].nnew == 0) continue;
                ray_st *r = &st[i];
                double *t = T + i * cap, *d = D + i * cap, *tn = TN + i * nn, *dn = dpack + off[i];
                if (r->phase == PH_REFINE) {
                    merge(t, d, r->m, tn, dn, r->nnew, s.tt, s.dd);
                    r->m += r->nnew;
                    r->nnew = 0;
                    round_step(f, opt, r0 + i, r, t, d, tn, &s);
                    /* refinement depths come sorted (inverse CDF of a linspace u is monotone) */
                } else {
                    finish(opt, out, r0 + i, r0 + i, r, t, d, tn, dn, &s);
                    r->nnew = 0;
                    r->phase = PH_DONE;
                }
            }
            free(buf);
            free(idx);
        }
        if (fail) return ml_fail(ML_ENOMEM, "sdf.sample: out of memory");
    }
    return rc;
}
