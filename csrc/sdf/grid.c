/* The learnable grid SDF: trilinear interpolation of node values and colours over a box, extended outside by the
 * distance to the box, with its gradient, exact Lipschitz constant and resampling. */
#include <math.h>
#include <stdlib.h>
#include "grid.h"
#include "moonlab/size.h"

ml_sdf_grid *ml_sdf_grid_new(int res, const double lo[3], const double hi[3])
{
    if (res < 2 || res > ML_SDF_GRID_MAX) {
        ml_fail(ML_EINVAL, "grid: res must be in [2, %d], got %d", ML_SDF_GRID_MAX, res);
        return NULL;
    }
    for (int a = 0; a < 3; a++)
        if (!isfinite(lo[a]) || !isfinite(hi[a]) || !(hi[a] > lo[a])) {
            ml_fail(ML_EINVAL, "grid: bounds must be finite with lo < hi on every axis");
            return NULL;
        }
    size_t n = (size_t)res * res * res;
    ml_sdf_grid *g = calloc(1, sizeof *g);
    if (g) {
        g->d = calloc(n, sizeof(double));
        g->c = calloc(3 * n, sizeof(double));
    }
    if (!g || !g->d || !g->c) {
        ml_sdf_grid_free(g);
        ml_fail(ML_ENOMEM, "grid: out of memory");
        return NULL;
    }
    g->res = res;
    for (int a = 0; a < 3; a++) { g->lo[a] = lo[a]; g->hi[a] = hi[a]; }
    return g;
}

void ml_sdf_grid_free(ml_sdf_grid *g)
{
    if (!g) return;
    free(g->d);
    free(g->c);
    free(g);
}

void grid_offsets(const ml_sdf_grid *g, int64_t off[8])
{
    int64_t n = g->res;
    for (int c = 0; c < 8; c++) off[c] = (c & 1) * n * n + ((c >> 1) & 1) * n + ((c >> 2) & 1);
}

void grid_locate(const ml_sdf_grid *g, const double p[3], grid_loc *L)
{
    int idx[3];
    double f[3], ih[3], mask[3], o2 = 0;
    for (int a = 0; a < 3; a++) {
        double h = (g->hi[a] - g->lo[a]) / (g->res - 1), q = p[a];
        mask[a] = 1;
        if (q < g->lo[a]) { q = g->lo[a]; mask[a] = 0; }
        if (q > g->hi[a]) { q = g->hi[a]; mask[a] = 0; }
        L->dir[a] = p[a] - q;
        o2 += L->dir[a] * L->dir[a];
        double s = (q - g->lo[a]) / h;
        int i = (int)floor(s);
        if (i < 0) i = 0;
        if (i > g->res - 2) i = g->res - 2;
        idx[a] = i;
        f[a] = s - i;
        ih[a] = 1.0 / h;
    }
    L->out = sqrt(o2);
    for (int a = 0; a < 3; a++) L->dir[a] = L->out > 0 ? L->dir[a] / L->out : 0.0;
    int64_t n = g->res;
    L->base = idx[2] + n * (idx[1] + n * (int64_t)idx[0]);
    L->k = idx[0];
    for (int c = 0; c < 8; c++) {
        int b[3] = {c & 1, (c >> 1) & 1, (c >> 2) & 1};
        double wa[3], da[3];
        for (int a = 0; a < 3; a++) {
            wa[a] = b[a] ? f[a] : 1 - f[a];
            da[a] = (b[a] ? ih[a] : -ih[a]) * mask[a];
        }
        L->w[c] = wa[0] * wa[1] * wa[2];
        L->dw[c][0] = da[0] * wa[1] * wa[2];
        L->dw[c][1] = wa[0] * da[1] * wa[2];
        L->dw[c][2] = wa[0] * wa[1] * da[2];
    }
}

double grid_point(const ml_sdf_grid *g, const grid_loc *L, const int64_t off[8], double grad[3], double color[3])
{
    double d = 0, gr[3] = {0, 0, 0}, col[3] = {0, 0, 0};
    for (int c = 0; c < 8; c++) {
        int64_t j = L->base + off[c];
        double v = g->d[j];
        d += L->w[c] * v;
        for (int a = 0; a < 3; a++) {
            gr[a] += L->dw[c][a] * v;
            col[a] += L->w[c] * g->c[3 * j + a];
        }
    }
    for (int a = 0; a < 3; a++) {
        if (grad) grad[a] = gr[a] + L->dir[a];
        if (color) color[a] = col[a];
    }
    return d + L->out;
}

/* The distance alone (the sampler's hot path): trilinear weights without their derivatives, no colour. */
static double grid_value(const ml_sdf_grid *g, const double *p, const double ih[3])
{
    int64_t n = g->res, idx[3];
    double f[3], o2 = 0;
    for (int a = 0; a < 3; a++) {
        double q = p[a] < g->lo[a] ? g->lo[a] : (p[a] > g->hi[a] ? g->hi[a] : p[a]);
        o2 += (p[a] - q) * (p[a] - q);
        double s = (q - g->lo[a]) * ih[a];
        int64_t i = (int64_t)s;
        if (i > n - 2) i = n - 2;
        idx[a] = i;
        f[a] = s - (double)i;
    }
    const double *D = g->d + idx[2] + n * (idx[1] + n * idx[0]);
    int64_t sy = n, sx = n * n;
    double c00 = D[0] + f[2] * (D[1] - D[0]), c01 = D[sy] + f[2] * (D[sy + 1] - D[sy]);
    double c10 = D[sx] + f[2] * (D[sx + 1] - D[sx]), c11 = D[sx + sy] + f[2] * (D[sx + sy + 1] - D[sx + sy]);
    double c0 = c00 + f[1] * (c01 - c00), c1 = c10 + f[1] * (c11 - c10);
    return c0 + f[0] * (c1 - c0) + (o2 > 0 ? sqrt(o2) : 0.0);
}

int ml_sdf_grid_eval(const ml_sdf_grid *g, const double *p, int64_t n, double *d, double *grad, double *color)
{
    if (!grad && !color) {
        if (!d) return ML_OK;
        double ih[3];
        for (int a = 0; a < 3; a++) ih[a] = (g->res - 1) / (g->hi[a] - g->lo[a]);
#pragma omp parallel for if (n > 8192) schedule(static)
        for (int64_t i = 0; i < n; i++) d[i] = grid_value(g, p + 3 * i, ih);
        return ML_OK;
    }
    int64_t off[8];
    grid_offsets(g, off);
#pragma omp parallel for if (n > 8192) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        grid_loc L;
        grid_locate(g, p + 3 * i, &L);
        double v = grid_point(g, &L, off, grad ? grad + 3 * i : NULL, color ? color + 3 * i : NULL);
        if (d) d[i] = v;
    }
    return ML_OK;
}

static int field_eval(void *ud, const double *p, int64_t n, double *d) { return ml_sdf_grid_eval(ud, p, n, d, NULL, NULL); }
static int field_full(void *ud, const double *p, int64_t n, double *d, double *g, double *c)
{
    return ml_sdf_grid_eval(ud, p, n, d, g, c);
}

ml_sdf_field ml_sdf_grid_field(const ml_sdf_grid *g)
{
    ml_sdf_field f = {field_eval, field_full, (void *)g, 0, 0};
    return f;
}

double ml_sdf_grid_lipschitz(const ml_sdf_grid *g)
{
    int64_t n = g->res, m = n - 1;
    double ih[3];
    for (int a = 0; a < 3; a++) ih[a] = (g->res - 1) / (g->hi[a] - g->lo[a]);
    double best = 0;
#pragma omp parallel for reduction(max : best) schedule(static) if (m * m * m > 32768)
    for (int64_t k = 0; k < m; k++)
        for (int64_t j = 0; j < m; j++)
            for (int64_t i = 0; i < m; i++)
                for (int c = 0; c < 8; c++) {
                    int64_t x = i + (c & 1), y = j + ((c >> 1) & 1), z = k + ((c >> 2) & 1);
                    const double *D = g->d;
#define IX(a, b, e) ((e) + n * ((b) + n * (a)))
                    double gx = (D[IX(i + 1, y, z)] - D[IX(i, y, z)]) * ih[0];
                    double gy = (D[IX(x, j + 1, z)] - D[IX(x, j, z)]) * ih[1];
                    double gz = (D[IX(x, y, k + 1)] - D[IX(x, y, k)]) * ih[2];
#undef IX
                    double s = sqrt(gx * gx + gy * gy + gz * gz);
                    if (s > best) best = s;
                }
    return best;
}

void ml_sdf_grid_resample(const ml_sdf_grid *src, ml_sdf_grid *dst)
{
    int64_t n = dst->res, off[8];
    grid_offsets(src, off);
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < n; k++)
        for (int64_t j = 0; j < n; j++)
            for (int64_t i = 0; i < n; i++) {
                int64_t id[3] = {i, j, k};
                double p[3];
                for (int a = 0; a < 3; a++)
                    p[a] = dst->lo[a] + (dst->hi[a] - dst->lo[a]) * (double)id[a] / (double)(n - 1);
                grid_loc L;
                grid_locate(src, p, &L);
                int64_t q = k + n * (j + n * i);
                dst->d[q] = grid_point(src, &L, off, NULL, dst->c + 3 * q);
            }
}
