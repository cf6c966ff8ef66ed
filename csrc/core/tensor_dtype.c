/* Element types: names, sizes, promotion, and scalar load/store of any dtype. */
#include <math.h>
#include <string.h>
#include "moonlab/tensor.h"

static const char *const dtype_names[ML_NDTYPES] = {"f32", "f64", "i32", "i64", "u8", "bool"};
static const size_t dtype_sizes[ML_NDTYPES] = {4, 8, 4, 8, 1, 1};

size_t ml_dtype_size(ml_dtype dt) { return (unsigned)dt < ML_NDTYPES ? dtype_sizes[dt] : 0; }

const char *ml_dtype_name(ml_dtype dt) { return (unsigned)dt < ML_NDTYPES ? dtype_names[dt] : "?"; }

int ml_dtype_parse(const char *name)
{
    static const struct { const char *s; int dt; } names[] = {
        {"f32", ML_F32},  {"float32", ML_F32}, {"float", ML_F32}, {"f64", ML_F64},   {"float64", ML_F64},
        {"double", ML_F64}, {"i32", ML_I32},   {"int32", ML_I32}, {"int", ML_I32},   {"i64", ML_I64},
        {"int64", ML_I64}, {"long", ML_I64},   {"u8", ML_U8},     {"uint8", ML_U8},  {"byte", ML_U8},
        {"bool", ML_BOOL}, {"boolean", ML_BOOL}};
    if (!name) return -1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i].s)) return names[i].dt;
    return -1;
}

int ml_dtype_is_float(ml_dtype dt) { return dt == ML_F32 || dt == ML_F64; }

/* Rank in the promotion order bool < u8 < i32 < i64 < f32 < f64. */
static int rank(ml_dtype dt)
{
    static const int r[ML_NDTYPES] = {4, 5, 2, 3, 1, 0};
    return r[dt];
}

ml_dtype ml_dtype_promote(ml_dtype a, ml_dtype b)
{
    if (a == b) return a;
    if ((a == ML_F32 && (b == ML_I32 || b == ML_I64)) || (b == ML_F32 && (a == ML_I32 || a == ML_I64)))
        return ML_F64;
    return rank(a) > rank(b) ? a : b;
}

double ml_load_d(ml_dtype dt, const void *p)
{
    switch (dt) {
    case ML_F32: return *(const float *)p;
    case ML_F64: return *(const double *)p;
    case ML_I32: return *(const int32_t *)p;
    case ML_I64: return (double)*(const int64_t *)p;
    case ML_U8:
    case ML_BOOL: return *(const uint8_t *)p;
    }
    return NAN;
}

int64_t ml_load_i(ml_dtype dt, const void *p)
{
    switch (dt) {
    case ML_I32: return *(const int32_t *)p;
    case ML_I64: return *(const int64_t *)p;
    case ML_U8:
    case ML_BOOL: return *(const uint8_t *)p;
    default: {
        double v = ml_load_d(dt, p);
        return isfinite(v) && fabs(v) < 0x1p63 ? (int64_t)v : 0;
    }
    }
}

/* A C cast from an out-of-range double is undefined: integers go through a
 * range-checked int64 (NaN and beyond +-2^63 store 0) and then wrap. */
static int64_t d2i(double v) { return isfinite(v) && fabs(v) < 0x1p63 ? (int64_t)v : 0; }

void ml_store_i(ml_dtype dt, void *p, int64_t v)
{
    switch (dt) {
    case ML_F32: *(float *)p = (float)v; break;
    case ML_F64: *(double *)p = (double)v; break;
    case ML_I32: *(int32_t *)p = (int32_t)(uint32_t)(uint64_t)v; break;
    case ML_I64: *(int64_t *)p = v; break;
    case ML_U8: *(uint8_t *)p = (uint8_t)(uint64_t)v; break;
    case ML_BOOL: *(uint8_t *)p = v != 0; break;
    }
}

void ml_store_d(ml_dtype dt, void *p, double v)
{
    switch (dt) {
    case ML_F32: *(float *)p = (float)v; break;
    case ML_F64: *(double *)p = v; break;
    case ML_BOOL: *(uint8_t *)p = v != 0; break;
    default: ml_store_i(dt, p, d2i(v)); break;
    }
}

double ml_tensor_getd(const ml_tensor *t, int64_t i)
{
    if (t->dtype == ML_F32) return ml_f32(t)[i];
    if (t->dtype == ML_F64) return ml_f64(t)[i];
    return ml_load_d(t->dtype, (const char *)t->data + i * (int64_t)ml_dtype_size(t->dtype));
}

void ml_tensor_setd(ml_tensor *t, int64_t i, double v)
{
    if (t->dtype == ML_F32) ml_f32(t)[i] = (float)v;
    else if (t->dtype == ML_F64) ml_f64(t)[i] = v;
    else ml_store_d(t->dtype, (char *)t->data + i * (int64_t)ml_dtype_size(t->dtype), v);
}

int64_t ml_tensor_geti(const ml_tensor *t, int64_t i)
{
    return ml_load_i(t->dtype, (const char *)t->data + i * (int64_t)ml_dtype_size(t->dtype));
}

void ml_tensor_seti(ml_tensor *t, int64_t i, int64_t v)
{
    ml_store_i(t->dtype, (char *)t->data + i * (int64_t)ml_dtype_size(t->dtype), v);
}
