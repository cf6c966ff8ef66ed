/* The trilinear adjoint of the fit's per-point gradients, scattered into the grid in a fixed order. */
#include <math.h>
#include "fit_scatter.h"
#include "grid.h"
#ifdef _OPENMP
#include <omp.h>
#endif

void fit_scatter(const ml_sdf_grid *g, const fit_rec *rec, int64_t n, ml_sdf_grid_grad *gr)
{
    int64_t off[8];
    grid_offsets(g, off);
    int res = g->res;
#pragma omp parallel if (n > 2048)
    {
        int T = 1, id = 0;
#ifdef _OPENMP
        T = omp_get_num_threads();
        id = omp_get_thread_num();
#endif
        int z0 = (int)((int64_t)res * id / T), z1 = (int)((int64_t)res * (id + 1) / T);
        for (int64_t r = 0; r < n; r++) {
            const fit_rec *q = &rec[r];
            if (isnan(q->gd)) continue;
            /* the cell's x index as grid_locate computes it, to skip other slabs' records cheaply */
            double h0 = (g->hi[0] - g->lo[0]) / (res - 1), x = q->p[0];
            x = x < g->lo[0] ? g->lo[0] : (x > g->hi[0] ? g->hi[0] : x);
            int i0 = (int)floor((x - g->lo[0]) / h0);
            i0 = i0 < 0 ? 0 : (i0 > res - 2 ? res - 2 : i0);
            if (i0 + 1 < z0 || i0 >= z1) continue;
            grid_loc L;
            grid_locate(g, q->p, &L);
            if (L.k + 1 < z0 || L.k >= z1) continue;
            for (int c = 0; c < 8; c++) {
                int z = L.k + (c & 1);
                if (z < z0 || z >= z1) continue;
                int64_t j = L.base + off[c];
                gr->d[j] += q->gd * L.w[c] + q->gg[0] * L.dw[c][0] + q->gg[1] * L.dw[c][1] + q->gg[2] * L.dw[c][2];
                for (int a = 0; a < 3; a++) gr->c[3 * j + a] += q->ga[a] * L.w[c];
            }
        }
    }
}
