/* Internals shared by the files of the SDF core (csrc/sdf/). */
#ifndef MOONLAB_SDF_INTERNAL_H
#define MOONLAB_SDF_INTERNAL_H

#include "moonlab/sdf.h"
#include "moonlab/tensor.h"

#define SDF_BLOCK 64

/* ML_OK for a usable beta: finite, > 0 and at least DBL_MIN (1/beta finite); else an error (density.c). */
int sdf_check_beta(double beta);

struct ml_sdf_scene {
    ml_sdf_instr *code;
    int ncode;
    ml_sdf_prim *prims;
    int nprims;
    int max_stack;
};

/* min and max that propagate NaN from either side and vectorise (libm's fmin/fmax are calls that drop a NaN). */
static inline double sdf_min(double a, double b) { return a < b || a != a ? a : b; }
static inline double sdf_max(double a, double b) { return a > b || a != a ? a : b; }

/* prim.c: distance of a primitive at local points q (SoA x, y, z of n <= SDF_BLOCK), written to d. */
void sdf_prim_block(int kind, const double *param, const double *x, const double *y, const double *z, int n,
                    double *d);
/* prim.c: distance and local gradient (g may be NULL) at one local point. */
double sdf_prim_point(int kind, const double *param, const double q[3], double g[3]);

/* vexp.c: y[i] = exp(x[i]) for n values (vectorised; relative error < 1e-15, underflow to 0 below −708). */
void sdf_vexp(const double *x, double *y, int n);
/* sdf_avx2.c, sdf_avx512.c: the vector paths of sdf_vexp. */
void sdf_vexp_avx2(const double *x, double *y, int n);
void sdf_vexp_avx512(const double *x, double *y, int n);

/* sample_util.c: inverse-CDF sampling of n values from bins [m+1] and pdf [m] (normalised inside) with
 * u given (sorted or not); out need not be sorted. */
void sdf_invert_cdf(const double *bins, const double *pdf, int m, const double *u, int n, double *cdf_scratch,
                    double *out);
/* sample_util.c: sorts a[0..n) ascending (insertion sort merge of small arrays is done by the caller). */
void sdf_sort(double *a, int n);
/* sample_util.c: rays' segment and checks shared by the samplers. */
int sdf_check_rays(const double *o, const double *u, int64_t R);
/* sample_util.c: evaluates np points through the field (parallel blocks unless the field is serial). */
int sdf_field_eval(const ml_sdf_field *f, const double *p, int64_t np, double *d);

/* sample_util.c: n uniform depths on [near, far] (the reference's UniformSampler: linspace, or jittered inside
 * the bins around it with counter-based random numbers of (seed, ray)). */
void sdf_uniform_t(const ml_sdf_sample_opts *o, int64_t ray, int n, double *t);
/* sample_util.c: n values of u in [0,1]: linspace, or sorted uniforms of (seed, ray, stream). */
void sdf_u(int stratified, uint64_t seed, int64_t ray, int stream, int n, double *u);
/* sample_util.c: sorts the pairs (t[i], d[i]) by t. */
void sdf_sort_pairs(double *t, double *d, int n, double *scratch);
/* sample_util.c: writes ray r's outputs from sorted t, d [n]: t, weights at o->beta (σ scratch [n]). */
void sdf_write_ray(const ml_sdf_sample_opts *o, ml_sdf_samples *out, int64_t r, int N, const double *t,
                   const double *d, double *sigma);

/* sample_util.c: rays per batch of the samplers (bounded memory). */
int64_t sdf_chunk_rays(const ml_sdf_sample_opts *o);
/* sample_eb.c / sample_simple.c: the methods over all R rays, batch by batch (called by ml_sdf_sample with checked
 * options; progress ticked after each batch). */
int sdf_sample_eb(const ml_sdf_field *f, const double *o, const double *u, int64_t R, const ml_sdf_sample_opts *opt,
                  ml_sdf_samples *out);
int sdf_sample_simple(const ml_sdf_field *f, const double *o, const double *u, int64_t R,
                      const ml_sdf_sample_opts *opt, ml_sdf_samples *out);

#endif
