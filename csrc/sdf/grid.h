/* Internals of the grid SDF (grid.c) shared with the differentiable renderer and the fit (fit*.c). */
#ifndef MOONLAB_SDF_GRID_H
#define MOONLAB_SDF_GRID_H

#include "moonlab/sdf_fit.h"

/* Where a point falls in the grid: the cell's lowest node (i,j,k) as flat index base, the 8 trilinear weights and
 * their derivatives d w / d p (zero along clamped axes), the distance from the point to the box and the unit
 * direction from the clamped point to the point (zero inside). Corner c = (a,b,e) has index base + off[c]. */
typedef struct grid_loc {
    int64_t base;
    int k;           /* the cell's x index (the slowest axis; for partitioned scatters) */
    double w[8], dw[8][3];
    double out, dir[3];
} grid_loc;

void grid_locate(const ml_sdf_grid *g, const double p[3], grid_loc *L);
/* the flat offsets of the 8 corners of a cell */
void grid_offsets(const ml_sdf_grid *g, int64_t off[8]);
/* d, ∇d, albedo at one located point (grad/color may be NULL) */
double grid_point(const ml_sdf_grid *g, const grid_loc *L, const int64_t off[8], double grad[3], double color[3]);

#endif
