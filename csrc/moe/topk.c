/* moonlab moe — top-k expert selection with group-limited routing (ties to the lowest index). */
#include "moe_internal.h"

#define MOE_CAT2(a, b) a##b
#define MOE_CAT(a, b) MOE_CAT2(a, b)

#define REAL double
#define SUFFIX f64
#include "topk_tmpl.h"
#undef REAL
#undef SUFFIX

#define REAL float
#define SUFFIX f32
#include "topk_tmpl.h"
#undef REAL
#undef SUFFIX
