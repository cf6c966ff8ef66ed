/* The scene evaluator: runs the compiled postfix program on blocks of points (distance only, vectorised per
 * instruction) or point by point with gradients and colours carried along (forward mode). */
#include <math.h>
#include <stdlib.h>
#include "core/clones.h"
#include "sdf_internal.h"

static void to_local(const ml_sdf_prim *p, const double *pt, int n, double *x, double *y, double *z)
{
    const double *R = p->rot, inv = 1.0 / p->scale;
    for (int i = 0; i < n; i++) {
        double a = pt[3 * i] - p->trans[0], b = pt[3 * i + 1] - p->trans[1], c = pt[3 * i + 2] - p->trans[2];
        x[i] = (R[0] * a + R[1] * b + R[2] * c) * inv;
        y[i] = (R[3] * a + R[4] * b + R[5] * c) * inv;
        z[i] = (R[6] * a + R[7] * b + R[8] * c) * inv;
    }
}

static void smin_block(double *a, const double *b, double k, int n)
{
    if (k <= 0) {
        for (int i = 0; i < n; i++) a[i] = sdf_min(a[i], b[i]);
        return;
    }
    double ik = 1.0 / k;
#pragma omp simd
    for (int i = 0; i < n; i++) {
        double h = sdf_min(sdf_max(0.5 + 0.5 * (b[i] - a[i]) * ik, 0.0), 1.0);
        a[i] = b[i] + h * (a[i] - b[i]) - k * h * (1.0 - h);
    }
}

/* One block of n <= SDF_BLOCK points; stack holds max_stack·SDF_BLOCK doubles. */
CLONES static void eval_block(const ml_sdf_scene *s, const double *pt, int n, double *d, double *stack)
{
    double x[SDF_BLOCK], y[SDF_BLOCK], z[SDF_BLOCK];
    int sp = 0;
    for (int c = 0; c < s->ncode; c++) {
        const ml_sdf_instr *in = &s->code[c];
        if (in->op == ML_SDF_OP_PRIM) {
            const ml_sdf_prim *p = &s->prims[in->arg];
            double *dst = stack + (size_t)sp * SDF_BLOCK;
            to_local(p, pt, n, x, y, z);
            sdf_prim_block(p->kind, p->param, x, y, z, n, dst);
            if (p->scale != 1.0)
                for (int i = 0; i < n; i++) dst[i] *= p->scale;
            sp++;
            continue;
        }
        double *a = stack + (size_t)(sp - 2) * SDF_BLOCK, *b = a + SDF_BLOCK;
        switch (in->op) {
        case ML_SDF_OP_MIN:
            for (int i = 0; i < n; i++) a[i] = sdf_min(a[i], b[i]);
            break;
        case ML_SDF_OP_MAX:
            for (int i = 0; i < n; i++) a[i] = sdf_max(a[i], b[i]);
            break;
        case ML_SDF_OP_SUB:
            for (int i = 0; i < n; i++) a[i] = sdf_max(a[i], -b[i]);
            break;
        default:
            smin_block(a, b, in->k, n);
        }
        sp--;
    }
    for (int i = 0; i < n; i++) d[i] = stack[i];
}

int ml_sdf_eval(const ml_sdf_scene *s, const double *p, int64_t n, double *d)
{
    int64_t nb = (n + SDF_BLOCK - 1) / SDF_BLOCK;
    int fail = 0;
#pragma omp parallel if (n > 16384)
    {
        double *stack = malloc(sizeof(double) * SDF_BLOCK * (size_t)s->max_stack);
        if (!stack) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(static)
        for (int64_t b = 0; b < nb; b++) {
            if (!stack) continue;
            int64_t i0 = b * SDF_BLOCK;
            int m = (int)(n - i0 < SDF_BLOCK ? n - i0 : SDF_BLOCK);
            eval_block(s, p + 3 * i0, m, d + i0, stack);
        }
        free(stack);
    }
    return fail ? ml_fail(ML_ENOMEM, "sdf eval: out of memory") : ML_OK;
}

typedef struct dual { double d, g[3], c[3]; } dual;

static void eval_point(const ml_sdf_scene *s, const double *pt, dual *st, dual *out)
{
    int sp = 0;
    for (int c = 0; c < s->ncode; c++) {
        const ml_sdf_instr *in = &s->code[c];
        if (in->op == ML_SDF_OP_PRIM) {
            const ml_sdf_prim *p = &s->prims[in->arg];
            double q[3], gl[3];
            to_local(p, pt, 1, &q[0], &q[1], &q[2]);
            dual *v = &st[sp++];
            v->d = p->scale * sdf_prim_point(p->kind, p->param, q, gl);
            const double *R = p->rot; /* world gradient = Rᵀ g_local */
            for (int j = 0; j < 3; j++) {
                v->g[j] = R[j] * gl[0] + R[3 + j] * gl[1] + R[6 + j] * gl[2];
                v->c[j] = p->color[j];
            }
            continue;
        }
        dual *a = &st[sp - 2], *b = &st[sp - 1];
        sp--;
        switch (in->op) {
        case ML_SDF_OP_MIN:
            if (b->d < a->d) *a = *b;
            break;
        case ML_SDF_OP_MAX:
            if (b->d > a->d) *a = *b;
            break;
        case ML_SDF_OP_SUB:
            if (-b->d > a->d) {
                a->d = -b->d;
                for (int j = 0; j < 3; j++) { a->g[j] = -b->g[j]; a->c[j] = b->c[j]; }
            }
            break;
        default: {
            double k = in->k, h;
            if (k <= 0) h = a->d <= b->d ? 1.0 : 0.0;
            else h = fmin(fmax(0.5 + 0.5 * (b->d - a->d) / k, 0.0), 1.0);
            a->d = b->d + h * (a->d - b->d) - k * h * (1.0 - h);
            for (int j = 0; j < 3; j++) {
                a->g[j] = h * a->g[j] + (1 - h) * b->g[j];
                a->c[j] = h * a->c[j] + (1 - h) * b->c[j];
            }
        }
        }
    }
    *out = st[0];
}

int ml_sdf_eval_full(const ml_sdf_scene *s, const double *p, int64_t n, double *d, double *grad, double *color)
{
    int fail = 0;
#pragma omp parallel if (n > 4096)
    {
        dual *st = malloc(sizeof(dual) * (size_t)s->max_stack);
        if (!st) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; i++) {
            if (!st) continue;
            dual r;
            eval_point(s, p + 3 * i, st, &r);
            if (d) d[i] = r.d;
            for (int j = 0; j < 3; j++) {
                if (grad) grad[3 * i + j] = r.g[j];
                if (color) color[3 * i + j] = r.c[j];
            }
        }
        free(st);
    }
    return fail ? ml_fail(ML_ENOMEM, "sdf eval: out of memory") : ML_OK;
}

static int field_eval(void *ud, const double *p, int64_t n, double *d) { return ml_sdf_eval(ud, p, n, d); }
static int field_full(void *ud, const double *p, int64_t n, double *d, double *g, double *c)
{
    return ml_sdf_eval_full(ud, p, n, d, g, c);
}

ml_sdf_field ml_sdf_scene_field(const ml_sdf_scene *s)
{
    ml_sdf_field f = {field_eval, field_full, (void *)s, ml_sdf_scene_exact(s), 0};
    return f;
}
