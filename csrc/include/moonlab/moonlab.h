/* moonlab — umbrella header for C users: every public header of the library.
 * Compile and link with: cc app.c $(pkg-config --cflags --libs moonlab)
 * (spec/embed_spec.lua checks that every header in this folder is included here). */
#ifndef MOONLAB_H
#define MOONLAB_H

#include "moonlab/error.h"
#include "moonlab/size.h"
#include "moonlab/cplx.h"
#include "moonlab/tensor.h"
#include "moonlab/runtime.h"
#include "moonlab/bench.h"
#include "moonlab/cpu.h"
#include "moonlab/attn.h"
#include "moonlab/nn.h"
#include "moonlab/laplace.h"
#include "moonlab/chrom.h"
#include "moonlab/sdf.h"
#include "moonlab/sdf_fit.h"
#include "moonlab/moe.h"
#include "moonlab/gp.h"

#endif
