/* Iso-surface extraction d = 0 for meshes (the step VolSDF runs after training, §4). Each grid cube is split into
 * six tetrahedra around its main diagonal (Kuhn triangulation; neighbouring cubes agree on every shared face
 * diagonal), and each tetrahedron is cut linearly: no ambiguous cases, so closed surfaces give watertight meshes.
 * Vertices live on grid edges and are shared through a hash map; z-slabs are evaluated two planes at a time. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "sdf_internal.h"

typedef struct emap { int64_t *key, *val; size_t cap, n; } emap;

static size_t hash64(int64_t k)
{
    uint64_t z = (uint64_t)k * 0x9e3779b97f4a7c15ULL;
    return (size_t)(z ^ (z >> 29));
}

static int emap_grow(emap *m)
{
    size_t nc = m->cap ? 2 * m->cap : 1 << 16;
    int64_t *k = malloc(sizeof(int64_t) * nc), *v = malloc(sizeof(int64_t) * nc);
    if (!k || !v) { free(k); free(v); return ML_ENOMEM; }
    for (size_t i = 0; i < nc; i++) k[i] = -1;
    for (size_t i = 0; i < m->cap; i++)
        if (m->key[i] >= 0) {
            size_t h = hash64(m->key[i]) & (nc - 1);
            while (k[h] >= 0) h = (h + 1) & (nc - 1);
            k[h] = m->key[i]; v[h] = m->val[i];
        }
    free(m->key); free(m->val);
    m->key = k; m->val = v; m->cap = nc;
    return ML_OK;
}

typedef struct mbuild {
    emap map;
    double *v; int64_t nv, cv;
    int64_t *f; int64_t nf, cf;
} mbuild;

static int push_vertex(mbuild *b, const double p[3])
{
    if (b->nv == b->cv) {
        int64_t nc = b->cv ? 2 * b->cv : 4096;
        double *nv = realloc(b->v, sizeof(double) * 3 * (size_t)nc);
        if (!nv) return ML_ENOMEM;
        b->v = nv; b->cv = nc;
    }
    memcpy(b->v + 3 * b->nv, p, 3 * sizeof(double));
    b->nv++;
    return ML_OK;
}

/* Index of the vertex on the edge key (lower corner pl/dl to upper pu/du), created on first use; -1 on ENOMEM. */
static int64_t edge_vertex(mbuild *b, int64_t key, const double *pl, double dl, const double *pu, double du)
{
    if (2 * (b->map.n + 1) > b->map.cap && emap_grow(&b->map) != ML_OK) return -1;
    size_t h = hash64(key) & (b->map.cap - 1);
    while (b->map.key[h] >= 0) {
        if (b->map.key[h] == key) return b->map.val[h];
        h = (h + 1) & (b->map.cap - 1);
    }
    double s = dl / (dl - du), p[3];
    for (int a = 0; a < 3; a++) p[a] = pl[a] + s * (pu[a] - pl[a]);
    if (push_vertex(b, p) != ML_OK) return -1;
    b->map.key[h] = key; b->map.val[h] = b->nv - 1; b->map.n++;
    return b->nv - 1;
}

static int push_tri(mbuild *b, int64_t a, int64_t c, int64_t d, const double *in_c, const double *out_c)
{
    if (a < 0 || c < 0 || d < 0) return ML_ENOMEM;
    if (b->nf == b->cf) {
        int64_t nc = b->cf ? 2 * b->cf : 4096;
        int64_t *nf = realloc(b->f, sizeof(int64_t) * 3 * (size_t)nc);
        if (!nf) return ML_ENOMEM;
        b->f = nf; b->cf = nc;
    }
    const double *p = b->v + 3 * a, *q = b->v + 3 * c, *r = b->v + 3 * d;
    double e1[3] = {q[0] - p[0], q[1] - p[1], q[2] - p[2]}, e2[3] = {r[0] - p[0], r[1] - p[1], r[2] - p[2]};
    double n[3] = {e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]};
    double dir = 0;
    for (int k = 0; k < 3; k++) dir += n[k] * (out_c[k] - in_c[k]);
    int64_t *t = b->f + 3 * b->nf;
    t[0] = a;
    if (dir >= 0) { t[1] = c; t[2] = d; } else { t[1] = d; t[2] = c; }
    b->nf++;
    return ML_OK;
}

/* One tetrahedron with corner ids (cube-local bits), world positions, values and global node ids. */
static int do_tet(mbuild *b, const int cs[4], double P[8][3], const double *V, const int64_t *id)
{
    int in[4], ni = 0, no = 0, I[4], Ou[4];
    for (int k = 0; k < 4; k++) {
        in[k] = V[cs[k]] < 0;
        if (in[k]) I[ni++] = cs[k]; else Ou[no++] = cs[k];
    }
    if (ni == 0 || ni == 4) return ML_OK;
    double ic[3] = {0, 0, 0}, oc[3] = {0, 0, 0};
    for (int k = 0; k < ni; k++) for (int a = 0; a < 3; a++) ic[a] += P[I[k]][a] / ni;
    for (int k = 0; k < no; k++) for (int a = 0; a < 3; a++) oc[a] += P[Ou[k]][a] / no;
#define EV(x, y) ((((x) & (y)) == (x)) ? edge_vertex(b, id[x] * 8 + ((x) ^ (y)), P[x], V[x], P[y], V[y]) \
                                       : edge_vertex(b, id[y] * 8 + ((x) ^ (y)), P[y], V[y], P[x], V[x]))
    if (ni == 1 || ni == 3) {
        int L = ni == 1 ? I[0] : Ou[0];
        const int *R = ni == 1 ? Ou : I;
        int64_t a = EV(L, R[0]), c = EV(L, R[1]), d = EV(L, R[2]);
        return push_tri(b, a, c, d, ic, oc);
    }
    int64_t ac = EV(I[0], Ou[0]), ad = EV(I[0], Ou[1]), bd = EV(I[1], Ou[1]), bc = EV(I[1], Ou[0]);
#undef EV
    int rc = push_tri(b, ac, ad, bd, ic, oc);
    return rc ? rc : push_tri(b, ac, bd, bc, ic, oc);
}

static const int PERM[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};

int ml_sdf_marching_cubes(const ml_sdf_field *f, const double lo[3], const double hi[3], int res,
                          const ml_progress *progress, ml_sdf_mesh *mesh)
{
    memset(mesh, 0, sizeof *mesh);
    if (res < 2 || res > 1024) return ml_fail(ML_EINVAL, "resolution must be in [2, 1024], got %d", res);
    for (int a = 0; a < 3; a++)
        if (!isfinite(lo[a]) || !isfinite(hi[a]) || !(hi[a] > lo[a]))
            return ml_fail(ML_EINVAL, "bounds must be finite with lo < hi on every axis");
    int64_t n1 = res + 1, np = n1 * n1;
    double h[3];
    for (int a = 0; a < 3; a++) h[a] = (hi[a] - lo[a]) / res;
    double *pts = malloc(sizeof(double) * 3 * (size_t)np), *pl0 = malloc(sizeof(double) * (size_t)np),
           *pl1 = malloc(sizeof(double) * (size_t)np);
    mbuild b;
    memset(&b, 0, sizeof b);
    int rc = ML_OK;
    if (!pts || !pl0 || !pl1 || emap_grow(&b.map) != ML_OK) { rc = ml_fail(ML_ENOMEM, "marching_cubes: out of memory"); goto done; }
    for (int64_t k = 0; k <= res && rc == ML_OK; k++) {
        for (int64_t j = 0; j < n1; j++)
            for (int64_t i = 0; i < n1; i++) {
                double *p = pts + 3 * (j * n1 + i);
                p[0] = lo[0] + h[0] * (double)i; p[1] = lo[1] + h[1] * (double)j; p[2] = lo[2] + h[2] * (double)k;
            }
        double *tmp = pl0; pl0 = pl1; pl1 = tmp; /* pl1 = plane k, pl0 = plane k − 1 */
        rc = sdf_field_eval(f, pts, np, pl1);
        if (rc == ML_OK) rc = ml_progress_tick(progress, (double)k, (double)res);
        if (rc != ML_OK || k == 0) continue;
        for (int64_t j = 0; j < res && rc == ML_OK; j++)
            for (int64_t i = 0; i < res && rc == ML_OK; i++) {
                double V[8], P[8][3];
                int64_t id[8];
                int neg = 0;
                for (int c = 0; c < 8; c++) {
                    int64_t ii = i + (c & 1), jj = j + ((c >> 1) & 1), kk = k - 1 + ((c >> 2) & 1);
                    V[c] = ((c >> 2) & 1 ? pl1 : pl0)[jj * n1 + ii];
                    neg += V[c] < 0;
                    id[c] = (kk * n1 + jj) * n1 + ii;
                    P[c][0] = lo[0] + h[0] * (double)ii; P[c][1] = lo[1] + h[1] * (double)jj;
                    P[c][2] = lo[2] + h[2] * (double)kk;
                }
                if (neg == 0 || neg == 8) continue;
                for (int t = 0; t < 6 && rc == ML_OK; t++) {
                    int c1 = 1 << PERM[t][0], c2 = c1 | 1 << PERM[t][1];
                    int cs[4] = {0, c1, c2, 7};
                    if (do_tet(&b, cs, P, V, id) != ML_OK) rc = ml_fail(ML_ENOMEM, "marching_cubes: out of memory");
                }
            }
    }
done:
    free(pts); free(pl0); free(pl1); free(b.map.key); free(b.map.val);
    if (rc != ML_OK) { free(b.v); free(b.f); return rc; }
    mesh->v = b.v; mesh->f = b.f; mesh->nv = b.nv; mesh->nf = b.nf;
    return ML_OK;
}

void ml_sdf_mesh_free(ml_sdf_mesh *m)
{
    if (!m) return;
    free(m->v); free(m->f);
    memset(m, 0, sizeof *m);
}
