/* moonlab — VolSDF reconstruction: a learnable dense grid SDF with a colour grid, its differentiable volume
 * rendering and the multi-view fit (Yariv, Gu, Kasten & Lipman, "Volume Rendering of Neural Implicit Surfaces",
 * NeurIPS 2021, §3: density σ = α Ψ_β(−d), α = 1/β, learnable β; L1 colour loss + eikonal regulariser). */
#ifndef MOONLAB_SDF_FIT_H
#define MOONLAB_SDF_FIT_H

#include <stdint.h>
#include "moonlab/sdf.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ML_SDF_GRID_MAX 128 /* nodes per axis */

/* A dense grid of res³ nodes over the box lo..hi (node (i,j,k) at lo + (i,j,k)·h, h = (hi − lo)/(res − 1),
 * flat index (i·res + j)·res + k, i.e. a [res,res,res] array indexed [x][y][z]). d(p) is the trilinear interpolation of the node values inside the box; outside,
 * d(p) = d(clamp(p)) + |p − clamp(p)|. The albedo is the trilinear interpolation of the colour grid. */
typedef struct ml_sdf_grid {
    int res;
    double lo[3], hi[3];
    double *d; /* [res³] */
    double *c; /* [res³, 3] */
} ml_sdf_grid;

/* A grid with zero values and colours (res in [2, ML_SDF_GRID_MAX], lo < hi finite). NULL with the message set. */
ml_sdf_grid *ml_sdf_grid_new(int res, const double lo[3], const double hi[3]);
/* Frees a grid (NULL allowed). */
void ml_sdf_grid_free(ml_sdf_grid *g);
/* d [n], ∇d [n,3] and albedo [n,3] at n points (any output may be NULL; OpenMP over points when n is large). */
int ml_sdf_grid_eval(const ml_sdf_grid *g, const double *p, int64_t n, double *d, double *grad, double *color);
/* The field view of a grid for the sampler, renderer and marching cubes (exact = 0: the cone bound). */
ml_sdf_field ml_sdf_grid_field(const ml_sdf_grid *g);
/* The exact Lipschitz constant of the trilinear interpolant inside the box: max over cells of |∇d| at the cell's
 * corners (|∇d|² is convex in each coordinate separately on a cell, so its maximum is at a corner). */
double ml_sdf_grid_lipschitz(const ml_sdf_grid *g);
/* dst's nodes set to src's interpolated values and colours (coarse-to-fine upsampling). */
void ml_sdf_grid_resample(const ml_sdf_grid *src, ml_sdf_grid *dst);

/* Gradients of a scalar loss with respect to the grid (same layout) and to β. */
typedef struct ml_sdf_grid_grad {
    double *d, *c;
    double beta;
} ml_sdf_grid_grad;

/* The differentiable renderer (VolSDF eq. 8-10 with Lambert shading of the grid normal as the radiance): the colour
 * C_r = Σ_i w_i c_i + (1 − Σ_i w_i)·background of R rays at the given sorted depths t [R,N] (not differentiated),
 * σ_i = α Ψ_β(−d(p_i)), δ_i = t_{i+1} − t_i (the last δ = last_delta). rgb [R,3] may be NULL. When target [R,3]
 * is given the L1 loss mean|C − target| is returned in *loss and its gradient accumulated into *gr; otherwise,
 * when gC [R,3] is given, the gradient of Σ gC·C is accumulated. Deterministic for any thread count. */
int ml_sdf_grid_render_rays(const ml_sdf_grid *g, double beta, const double *o, const double *u, const double *t,
                            int64_t R, int N, double last_delta, const ml_sdf_render_opts *ro, double *rgb,
                            const double *target, const double *gC, double *loss, ml_sdf_grid_grad *gr);

/* The eikonal term λ·mean_j (|∇d(x_j)| − 1)² at n points x [n,3], returned and its gradient accumulated. */
double ml_sdf_grid_eikonal(const ml_sdf_grid *g, const double *x, int64_t n, double lambda, ml_sdf_grid_grad *gr);
/* The total-variation term λ·mean_n Σ_axis [(d_{n+e} − d_n)² + |c_{n+e} − c_n|²]/h² over the m nodes idx [m]
 * (nodes on the upper faces skip the missing neighbours), returned and its gradient accumulated. */
double ml_sdf_grid_tv(const ml_sdf_grid *g, const int64_t *idx, int64_t m, double lambda, ml_sdf_grid_grad *gr);

typedef struct ml_sdf_fit_opts {
    int iters;              /* Adam steps (2000) */
    int batch;              /* rays per step (1024) */
    double lr, lr_color, lr_beta;    /* Adam learning rates of the values, colours and β_param (0.01, 0.02, 0.005) */
    double b1, b2, adam_eps;         /* Adam moments (0.9, 0.999, 1e-8) */
    double beta_min;                 /* β = |β_param| + β_min (1e-4) */
    double lambda_eik, lambda_tv;    /* regulariser weights (0.1, 0) */
    int n_eik;                       /* eikonal points and TV nodes per step (batch) */
    int levels;                      /* coarse-to-fine levels: res/2^(levels−1), ..., res (1) */
    uint64_t seed;
    ml_sdf_sample_opts sample;       /* the error-bounded sampler (β set every step; stratified with seed) */
    ml_sdf_render_opts shade;        /* light, ambient, background of the radiance */
    const ml_progress *progress;
} ml_sdf_fit_opts;

/* One training step's gradient (VolSDF §3.5): R rays sampled by the error-bounded sampler at β (so's other options;
 * t [R, ml_sdf_sample_count(so)] receives the depths), rendered, the L1 loss against target [R,3] in *loss and its
 * gradient accumulated into *gr (zero it first). */
int ml_sdf_fit_step(const ml_sdf_grid *g, double beta, const double *o, const double *u, const double *target,
                    int64_t R, const ml_sdf_sample_opts *so, const ml_sdf_render_opts *shade, double *t, double *loss,
                    ml_sdf_grid_grad *gr);

/* Defaults listed above; the sampler with ε 0.1, 64 samples per round, 32 final, 16 extra, 5 rounds. */
ml_sdf_fit_opts ml_sdf_fit_defaults(void);

/* Fits g (initial values and colours given; its res is the final resolution) and *beta_param to V images
 * [V,H,W,3] seen by the cameras (all H×W) by Adam on the L1 colour loss + eikonal (+ TV) (VolSDF §3.5).
 * loss [iters] receives each step's colour loss; *done the steps run (fewer on Ctrl-C: returns ML_EINTR). */
int ml_sdf_fit(const ml_sdf_fit_opts *o, const ml_sdf_camera *cams, int V, const double *images, ml_sdf_grid *g,
               double *beta_param, double *loss, int *done);

#ifdef __cplusplus
}
#endif
#endif
