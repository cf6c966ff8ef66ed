/* moonlab — umbrella header for C users: link with -lmoonlab. */
#ifndef MOONLAB_H
#define MOONLAB_H

#include "moonlab/error.h"
#include "moonlab/tensor.h"
#include "moonlab/runtime.h"
#include "moonlab/bench.h"
#include "moonlab/moe.h"

#endif
