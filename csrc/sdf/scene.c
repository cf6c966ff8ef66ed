/* Scene compilation: validates a postfix program of primitives and CSG operators and keeps a private copy. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "sdf_internal.h"

static const char *const PRIM_NAME[ML_SDF_NPRIM] = {"sphere", "box", "torus", "capsule", "plane", "cylinder"};

static int check_prim(const ml_sdf_prim *p, int i)
{
    if (p->kind < 0 || p->kind >= ML_SDF_NPRIM) return ml_fail(ML_EINVAL, "primitive %d: unknown kind %d", i, p->kind);
    const char *nm = PRIM_NAME[p->kind];
    for (int j = 0; j < 7; j++)
        if (!isfinite(p->param[j])) return ml_fail(ML_EINVAL, "%s: parameter %d is not finite", nm, j + 1);
    for (int j = 0; j < 3; j++)
        if (!isfinite(p->trans[j]) || !isfinite(p->color[j]))
            return ml_fail(ML_EINVAL, "%s: non-finite translation or colour", nm);
    if (!(p->scale > 0) || !isfinite(p->scale)) return ml_fail(ML_EINVAL, "%s: scale must be > 0, got %g", nm, p->scale);
    const double *R = p->rot;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            double s = R[3 * a] * R[3 * b] + R[3 * a + 1] * R[3 * b + 1] + R[3 * a + 2] * R[3 * b + 2];
            if (!(fabs(s - (a == b)) < 1e-9)) return ml_fail(ML_EINVAL, "%s: rotation is not orthonormal", nm);
        }
    double det = R[0] * (R[4] * R[8] - R[5] * R[7]) - R[1] * (R[3] * R[8] - R[5] * R[6]) +
                 R[2] * (R[3] * R[7] - R[4] * R[6]);
    if (det < 0) return ml_fail(ML_EINVAL, "%s: rotation is a reflection", nm);
    const double *q = p->param;
    switch (p->kind) {
    case ML_SDF_SPHERE:
        if (!(q[0] > 0)) return ml_fail(ML_EINVAL, "sphere: radius r must be > 0, got %g", q[0]);
        break;
    case ML_SDF_BOX:
        if (!(q[0] > 0 && q[1] > 0 && q[2] > 0)) return ml_fail(ML_EINVAL, "box: sizes must be > 0");
        break;
    case ML_SDF_TORUS:
        if (!(q[0] > 0)) return ml_fail(ML_EINVAL, "torus: major radius R must be > 0, got %g", q[0]);
        if (!(q[1] > 0)) return ml_fail(ML_EINVAL, "torus: minor radius r must be > 0, got %g", q[1]);
        break;
    case ML_SDF_CAPSULE:
        if (!(q[6] > 0)) return ml_fail(ML_EINVAL, "capsule: radius r must be > 0, got %g", q[6]);
        break;
    case ML_SDF_PLANE:
        if (!(fabs(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] - 1) < 1e-9))
            return ml_fail(ML_EINVAL, "plane: normal must be a unit vector");
        break;
    case ML_SDF_CYLINDER:
        if (!(q[0] > 0)) return ml_fail(ML_EINVAL, "cylinder: radius r must be > 0, got %g", q[0]);
        if (!(q[1] > 0)) return ml_fail(ML_EINVAL, "cylinder: height h must be > 0, got %g", 2 * q[1]);
        break;
    }
    return ML_OK;
}

ml_sdf_scene *ml_sdf_scene_new(const ml_sdf_instr *code, int ncode, const ml_sdf_prim *prims, int nprims)
{
    if (ncode <= 0 || nprims <= 0 || ncode > 1 << 20 || nprims > 1 << 20) {
        ml_fail(ML_EINVAL, "scene: empty or too large program (%d instructions, %d primitives)", ncode, nprims);
        return NULL;
    }
    for (int i = 0; i < nprims; i++)
        if (check_prim(&prims[i], i) != ML_OK) return NULL;
    int depth = 0, maxd = 0;
    for (int i = 0; i < ncode; i++) {
        const ml_sdf_instr *c = &code[i];
        if (c->op == ML_SDF_OP_PRIM) {
            if (c->arg < 0 || c->arg >= nprims) {
                ml_fail(ML_EINVAL, "scene: instruction %d names primitive %d of %d", i, c->arg, nprims);
                return NULL;
            }
            depth++;
        } else if (c->op >= ML_SDF_OP_MIN && c->op <= ML_SDF_OP_SMIN) {
            if (depth < 2) { ml_fail(ML_EINVAL, "scene: instruction %d pops an empty stack", i); return NULL; }
            if (c->op == ML_SDF_OP_SMIN && !(c->k >= 0 && isfinite(c->k))) {
                ml_fail(ML_EINVAL, "smooth_union: k must be finite and >= 0, got %g", c->k);
                return NULL;
            }
            depth--;
        } else {
            ml_fail(ML_EINVAL, "scene: instruction %d has unknown opcode %d", i, c->op);
            return NULL;
        }
        if (depth > maxd) maxd = depth;
    }
    if (depth != 1) { ml_fail(ML_EINVAL, "scene: program leaves %d values, expected 1", depth); return NULL; }
    ml_sdf_scene *s = calloc(1, sizeof *s);
    if (s) {
        s->code = malloc(sizeof *code * (size_t)ncode);
        s->prims = malloc(sizeof *prims * (size_t)nprims);
    }
    if (!s || !s->code || !s->prims) {
        ml_sdf_scene_free(s);
        ml_fail(ML_ENOMEM, "scene: out of memory");
        return NULL;
    }
    memcpy(s->code, code, sizeof *code * (size_t)ncode);
    memcpy(s->prims, prims, sizeof *prims * (size_t)nprims);
    s->ncode = ncode;
    s->nprims = nprims;
    s->max_stack = maxd;
    return s;
}

void ml_sdf_scene_free(ml_sdf_scene *s)
{
    if (!s) return;
    free(s->code);
    free(s->prims);
    free(s);
}

int ml_sdf_scene_exact(const ml_sdf_scene *s) { return s->ncode == 1; }
