/* moonlab — signed distance scenes, VolSDF density, error-bounded ray sampling, rendering, meshes.
 * Yariv, Gu, Kasten & Lipman, "Volume Rendering of Neural Implicit Surfaces" (NeurIPS 2021, arXiv 2106.12052). */
#ifndef MOONLAB_SDF_H
#define MOONLAB_SDF_H

#include <stdint.h>
#include "moonlab/error.h"
#include "moonlab/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- scenes: a flat postfix program over primitives (csrc/sdf/scene.c, eval.c, prim.c) ---- */

typedef enum { ML_SDF_SPHERE, ML_SDF_BOX, ML_SDF_TORUS, ML_SDF_CAPSULE, ML_SDF_PLANE,
               ML_SDF_CYLINDER, ML_SDF_NPRIM } ml_sdf_prim_kind;

/* A primitive in its local frame, placed by a similarity transform: the local point is
 * q = rot·(p − trans)/scale and the distance is scale·f(q) (exact SDFs stay exact).
 * params: sphere {r}; box {bx,by,bz} half sizes; torus {R,r} (axis y); capsule {ax,ay,az,bx,by,bz,r};
 * plane {nx,ny,nz,offset} (unit n, d = n·q − offset); cylinder {r, h/2} (axis y, capped). */
typedef struct ml_sdf_prim {
    int kind;
    double param[7];
    double rot[9];   /* row-major, world -> local (orthonormal) */
    double trans[3];
    double scale;    /* > 0 */
    double color[3]; /* albedo in [0,1] */
} ml_sdf_prim;

typedef enum { ML_SDF_OP_PRIM, ML_SDF_OP_MIN, ML_SDF_OP_MAX, ML_SDF_OP_SUB, ML_SDF_OP_SMIN } ml_sdf_opcode;

/* One instruction: PRIM pushes prims[arg]; MIN/MAX/SUB pop b, a and push min(a,b), max(a,b), max(a,−b);
 * SMIN pushes the polynomial smooth minimum of radius k (world units). */
typedef struct ml_sdf_instr {
    int op, arg;
    double k;
} ml_sdf_instr;

typedef struct ml_sdf_scene ml_sdf_scene;

/* Compiles a postfix program (validated: stack balance, primitive parameters, orthonormal rotations).
 * NULL on failure with the message set. */
ml_sdf_scene *ml_sdf_scene_new(const ml_sdf_instr *code, int ncode, const ml_sdf_prim *prims, int nprims);
/* Frees a compiled scene (NULL is allowed). */
void ml_sdf_scene_free(ml_sdf_scene *s);
/* 1 when the scene is one primitive (an exact SDF), 0 when it is a 1-Lipschitz bound (CSG). */
int ml_sdf_scene_exact(const ml_sdf_scene *s);

/* d(p) at n points p [n,3] (thread-safe; OpenMP over points when n is large). */
int ml_sdf_eval(const ml_sdf_scene *s, const double *p, int64_t n, double *d);
/* d, ∇d [n,3] and albedo [n,3] at n points; grad/color may be NULL. */
int ml_sdf_eval_full(const ml_sdf_scene *s, const double *p, int64_t n, double *d, double *grad,
                     double *color);

/* A distance field as the sampler sees it: a compiled scene, a user callback, later a learned grid. */
typedef struct ml_sdf_field {
    int (*eval)(void *ud, const double *p, int64_t n, double *d);
    /* optional: gradient [n,3] and colour [n,3] (NULL pointers allowed); NULL when unavailable */
    int (*eval_full)(void *ud, const double *p, int64_t n, double *d, double *grad, double *color);
    void *ud;
    int exact;  /* 1: exact SDF (Theorem 1's triangle d*), 0: 1-Lipschitz bound (cone d*) */
    int serial; /* 1: eval must run on the calling thread, outside parallel regions (Lua callbacks) */
} ml_sdf_field;

/* The field view of a compiled scene (thread-safe, not serial). */
ml_sdf_field ml_sdf_scene_field(const ml_sdf_scene *s);

/* ---- density and quadrature weights (density.c, weights.c) ---- */

/* σ = α Ψ_β(−d), α = 1/β, Ψ_β the Laplace CDF of scale β (paper eq. 2-3), computed with expm1. */
double ml_sdf_density1(double d, double beta);
int ml_sdf_density(const double *d, int64_t n, double beta, double *sigma);
/* Quadrature along one ray with sorted t [n] and σ [n] (paper eq. 8-10): δ_i = t_{i+1} − t_i (last δ =
 * last_delta), α_i = 1 − exp(−δ_i σ_i), T_i = exp(−Σ_{j<i} δ_j σ_j), w_i = α_i T_i. Any output may be NULL.
 * Returns the opacity Σ w_i in *opacity (may be NULL). */
void ml_sdf_weights(const double *t, const double *sigma, int n, double last_delta, double *delta,
                    double *alpha, double *trans, double *w, double *opacity);

/* ---- the error bound (bound.c) ---- */

/* d*_i of each of the n−1 intervals (paper Theorem 1; exact = 0 uses the cone bound of a 1-Lipschitz field). */
void ml_sdf_dstar(const double *t, const double *d, int n, int exact, double *dstar);
/* B = max_k exp(−R̂(t_k))·(exp(Ê(t_{k+1})) − 1) at β (paper eq. 14-16); scratch holds 2n doubles. */
double ml_sdf_bound(const double *t, const double *d, const double *dstar, int n, double beta, double *scratch);

/* ---- ray sampling (sample.c dispatches to sample_eb.c, sample_simple.c; opacity_ref.c) ---- */

typedef enum { ML_SDF_ERROR_BOUND = 0, ML_SDF_UNIFORM, ML_SDF_HIERARCHICAL } ml_sdf_method;

typedef struct ml_sdf_sample_opts {
    int method;        /* ml_sdf_method */
    double beta;       /* target β (> 0) */
    double eps;        /* opacity error target ε (0.1) */
    int n_eval;        /* uniform samples and samples added per round (128) */
    int n_final;       /* samples drawn from the final weights (64) */
    int n_extra;       /* evaluated samples kept in the output (32) */
    int beta_iters;    /* bisection steps for β+ (10) */
    int max_iters;     /* rounds of the algorithm (5) */
    double radius;     /* bounding sphere radius R (3) */
    double near, far;  /* ray segment (0, 2R); far < 0 means 2R */
    int stratified;    /* 0: deterministic (the reference's evaluation mode); 1: jittered with seed */
    uint64_t seed;
    double last_delta; /* δ of the last output sample in the weights (1e10, as the reference) */
    const ml_progress *progress;
} ml_sdf_sample_opts;

/* The reference code's defaults: error bound, β 0.01, ε 0.1, 128/64/32 samples, 10 bisection steps, 5 rounds,
 * radius 3, [0, 6], deterministic, last δ 1e10. */
ml_sdf_sample_opts ml_sdf_sample_defaults(void);
/* Output sample count per ray: n_final + n_extra + 2 (error bound), n_eval (uniform),
 * n_eval + n_final (hierarchical). */
int ml_sdf_sample_count(const ml_sdf_sample_opts *o);
/* Most SDF evaluations one ray can cost (n_eval·max_iters for the error-bound method). */
int ml_sdf_sample_max_evals(const ml_sdf_sample_opts *o);

/* Per-ray outputs of the sampler, caller-allocated (any of the optional ones may be NULL). */
typedef struct ml_sdf_samples {
    double *t;        /* [R, N] sorted depths (required) */
    double *weights;  /* [R, N] weights at β on t */
    double *beta_plus;/* [R] β+ (= β when converged) */
    double *bound;    /* [R] B at β+ on the evaluated samples */
    int64_t *iters;   /* [R] rounds run */
    int64_t *evals;   /* [R] SDF evaluations */
    double *t_eval;   /* [R, max_evals] evaluated depths, sorted, NaN-padded (optional) */
    double *d_eval;   /* [R, max_evals] their SDF values (optional) */
} ml_sdf_samples;

/* Samples R rays (origins o [R,3], unit directions u [R,3]) through field f: the error-bounded algorithm of the
 * paper (§3.4, Algorithm 1, with the reference code's defaults), or uniform / hierarchical (NeRF) sampling. */
int ml_sdf_sample(const ml_sdf_field *f, const double *o, const double *u, int64_t R,
                  const ml_sdf_sample_opts *opt, ml_sdf_samples *out);

/* Ground-truth opacity O(t_k) = 1 − exp(−∫_{t_0}^{t_k} σ) at the n sorted depths t of one ray, by composite
 * Simpson quadrature with about nq evaluations in all (for checking the bound). */
int ml_sdf_opacity_reference(const ml_sdf_field *f, const double *o, const double *u, const double *t, int n,
                             double beta, int64_t nq, double *O);

/* ---- sphere tracing (trace.c) ---- */
/* Sphere tracing (Hart 1996) of R rays: t of the first hit (|d| < tol) or +inf when the ray leaves [near, far]
 * or runs out of max_steps. */
int ml_sdf_sphere_trace(const ml_sdf_field *f, const double *o, const double *u, int64_t R, double near,
                        double far, double tol, int max_steps, double *t, int64_t *steps);

/* ---- camera and render (camera.c, render.c) ---- */

typedef struct ml_sdf_camera {
    double eye[3], target[3], up[3];
    double fov; /* vertical field of view, degrees, in (0, 180) */
    int width, height;
} ml_sdf_camera;

/* Unit ray directions [H·W,3] of the pinhole camera (row-major from the top-left pixel centre). */
int ml_sdf_camera_rays(const ml_sdf_camera *c, double *o, double *u);

typedef struct ml_sdf_render_opts {
    ml_sdf_sample_opts sample; /* method, β, ε, ... (render uses last_delta = 0: beyond far is background) */
    int sphere_trace;          /* 1: shade the sphere-traced hit instead of volume rendering */
    double light[3];           /* direction towards the light (normalised inside) */
    double ambient;            /* Lambert: albedo·(ambient + (1 − ambient)·max(0, n·l)) */
    double background[3];
    int64_t chunk;             /* rays per batch (4096) */
} ml_sdf_render_opts;

/* Sampling defaults, light (0.4, 0.8, 0.45), ambient 0.25, white background, 4096 rays per batch. */
ml_sdf_render_opts ml_sdf_render_defaults(void);

/* Lambert shading of n samples: rgb = albedo·(ambient + (1 − ambient)·max(0, n̂·l̂)) with n̂ = grad/|grad| (written
 * to normal [n,3] when not NULL; zero for a zero gradient). The radiance the renderer integrates with the weights. */
void ml_sdf_shade(const ml_sdf_render_opts *o, const double *grad, const double *albedo, int64_t n, double *rgb,
                  double *normal);

/* Renders H×W pixels: rgb [H,W,3] and optionally depth [H,W], normal [H,W,3], opacity [H,W] (NULL to skip). */
int ml_sdf_render(const ml_sdf_field *f, const ml_sdf_camera *c, const ml_sdf_render_opts *o, double *rgb,
                  double *depth, double *normal, double *opacity);

/* ---- meshes (mcubes.c, meshio.c) and images (png.c) ---- */

typedef struct ml_sdf_mesh {
    double *v; /* [nv,3] */
    int64_t *f;/* [nf,3] 0-based, counter-clockwise seen from outside (d > 0) */
    int64_t nv, nf;
} ml_sdf_mesh;

/* Iso-surface d = 0 on a res³ grid of cells over bounds lo..hi; every cube is split into six tetrahedra
 * around its main diagonal, so the mesh is watertight on closed surfaces. Free with ml_sdf_mesh_free. */
int ml_sdf_marching_cubes(const ml_sdf_field *f, const double lo[3], const double hi[3], int res,
                          const ml_progress *progress, ml_sdf_mesh *mesh);
/* Frees the mesh arrays and empties *m. */
void ml_sdf_mesh_free(ml_sdf_mesh *m);
/* ASCII PLY / Wavefront OBJ of a triangle mesh (faces 0-based here; OBJ writes them 1-based). */
int ml_sdf_save_ply(const char *path, const double *v, int64_t nv, const int64_t *f, int64_t nf);
int ml_sdf_save_obj(const char *path, const double *v, int64_t nv, const int64_t *f, int64_t nf);
/* 8-bit PNG of an image [h,w,c] (c = 1 grey, 3 RGB, 4 RGBA) with values in [0,1] (clamped). */
int ml_sdf_save_png(const char *path, const double *img, int h, int w, int c);

/* Benchmark reference (bench_ref.c): the fixed 11-node scene of bench/sdf.lua written by hand in C. */
void ml_sdf_bench_scene_ref(const double *p, int64_t n, double *d);

#ifdef __cplusplus
}
#endif
#endif
