/* nn — the layers and the model instantiated for float (each *_tmpl.h is one layer's forward/backward). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include "moonlab/attn.h"
#include "moonlab/runtime.h"
#include "nn/nn_internal.h"

#define R float
#define S(name) name##_f32
#define MLDT ML_F32
#define CBLAS_GEMM cblas_sgemm

#include "nn/gemm_tmpl.h"
#include "nn/embed_tmpl.h"
#include "nn/rmsnorm_tmpl.h"
#include "nn/rope_tmpl.h"
#include "nn/swiglu_tmpl.h"
#include "nn/xent_tmpl.h"
#include "nn/attnblock_tmpl.h"
#include "nn/model_tmpl.h"
#include "nn/generate_tmpl.h"
#include "nn/adamw_tmpl.h"
