/* Per-point gradient records of the fit and their deterministic scatter into the grid gradient (fit_scatter.c). */
#ifndef MOONLAB_SDF_FIT_SCATTER_H
#define MOONLAB_SDF_FIT_SCATTER_H

#include "moonlab/sdf_fit.h"

/* dL/dd, dL/d∇d and dL/dalbedo at a point p: 10 doubles p[3], gd, gg[3], ga[3]; gd = NaN marks an empty slot. */
typedef struct fit_rec {
    double p[3], gd, gg[3], ga[3];
} fit_rec;

/* Adds the records' contributions through the trilinear adjoint to gr->d and gr->c. Every node receives its
 * contributions in record order whatever the thread count (threads own slabs of x nodes). */
void fit_scatter(const ml_sdf_grid *g, const fit_rec *rec, int64_t n, ml_sdf_grid_grad *gr);

#endif
