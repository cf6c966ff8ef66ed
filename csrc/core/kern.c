/* Strided 1-D kernels. Each contiguous/broadcast case is its own loop so that
 * the compiler vectorises it; the functions are compiled for AVX-512, AVX2+FMA
 * and baseline x86-64, and the loader picks one for the running CPU
 * (target_clones). Integer add/sub/mul wrap through unsigned arithmetic. */
#include <math.h>
#include <string.h>
#include "kern.h"
#include "expm1_poly.h"

#if defined(__GNUC__) && !defined(__clang__)
/* sqrt vectorises without errno; selects on floats if-convert without trap semantics (no FP traps are enabled) */
#pragma GCC optimize("no-math-errno", "no-trapping-math")
#endif

#include "clones.h"

/* Calls FN_f32, FN_f64, FN_i32, FN_i64 or FN_u8 (which also serves bool) of dtype dt with the arguments. */
#define BY_DTYPE(dt, FN, ...)                                                                     \
    do {                                                                                          \
        switch (dt) {                                                                             \
        case ML_F32: FN##_f32(__VA_ARGS__); break;                                                \
        case ML_F64: FN##_f64(__VA_ARGS__); break;                                                \
        case ML_I32: FN##_i32(__VA_ARGS__); break;                                                \
        case ML_I64: FN##_i64(__VA_ARGS__); break;                                                \
        case ML_U8:                                                                               \
        case ML_BOOL: FN##_u8(__VA_ARGS__); break;                                                \
        }                                                                                         \
    } while (0)

/* One loop per operand layout: both contiguous, one broadcast scalar, general strides. */
#define LOOPS(TX, TO, EXPR)                                                                       \
    do {                                                                                         \
        const TX *X = x, *Y = y;                                                                  \
        TO *O = o;                                                                                \
        if (sx == 1 && sy == 1 && so == 1) {                                                      \
            for (int64_t i = 0; i < n; i++) { TX a = X[i], b = Y[i]; (void)b; O[i] = (TO)(EXPR); }         \
        } else if (sx == 1 && sy == 0 && so == 1) {                                               \
            TX b = Y[0];                                                                          \
            for (int64_t i = 0; i < n; i++) { TX a = X[i]; (void)b; O[i] = (TO)(EXPR); }                   \
        } else if (sx == 0 && sy == 1 && so == 1) {                                               \
            TX a = X[0];                                                                          \
            for (int64_t i = 0; i < n; i++) { TX b = Y[i]; (void)b; O[i] = (TO)(EXPR); }                   \
        } else {                                                                                  \
            for (int64_t i = 0; i < n; i++) { TX a = X[i * sx], b = Y[i * sy]; (void)b; O[i * so] = (TO)(EXPR); } \
        }                                                                                         \
    } while (0)

#define MAXNAN(a, b) ((a) > (b) || (a) != (a) ? (a) : (b))
#define MINNAN(a, b) ((a) < (b) || (a) != (a) ? (a) : (b))

#define FLOAT_BINARY(NAME, T, POW)                                                                \
    CLONES static void NAME(ml_binop op, int64_t n, const void *x, int64_t sx, const void *y,      \
                            int64_t sy, void *o, int64_t so)                                       \
    {                                                                                             \
        switch (op) {                                                                             \
        case ML_ADD: LOOPS(T, T, a + b); break;                                                   \
        case ML_SUB: LOOPS(T, T, a - b); break;                                                   \
        case ML_MUL: LOOPS(T, T, a * b); break;                                                   \
        case ML_DIV: LOOPS(T, T, a / b); break;                                                   \
        case ML_POW:                                                                              \
            if (sy == 0 && *(const T *)y == 2) LOOPS(T, T, a * a);                                \
            else LOOPS(T, T, POW(a, b));                                                          \
            break;                                                                                \
        case ML_MAXIMUM: LOOPS(T, T, MAXNAN(a, b)); break;                                        \
        case ML_MINIMUM: LOOPS(T, T, MINNAN(a, b)); break;                                        \
        }                                                                                         \
    }
FLOAT_BINARY(bin_f32, float, powf)
FLOAT_BINARY(bin_f64, double, pow)

/* Integers: pow by squaring (negative exponents are refused by the binding before). */
static int64_t ipow(int64_t a, int64_t b)
{
    uint64_t r = 1, base = (uint64_t)a;
    if (b < 0) return 0;
    while (b) {
        if (b & 1) r *= base;
        base *= base;
        b >>= 1;
    }
    return (int64_t)r;
}

/* Floor division (NumPy's //); x // 0 gives 0 (the binding refuses zero divisors), INT64_MIN // -1 wraps. */
static inline int64_t floordiv(int64_t a, int64_t b)
{
    if (b == 0) return 0;
    if (b == -1) return (int64_t)((uint64_t)0 - (uint64_t)a);
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

#define INT_BINARY(NAME, T, U)                                                                    \
    CLONES static void NAME(ml_binop op, int64_t n, const void *x, int64_t sx, const void *y,      \
                            int64_t sy, void *o, int64_t so)                                       \
    {                                                                                             \
        switch (op) {                                                                             \
        case ML_ADD: LOOPS(T, T, (U)a + (U)b); break;                                             \
        case ML_SUB: LOOPS(T, T, (U)a - (U)b); break;                                             \
        case ML_MUL: LOOPS(T, T, (U)a * (U)b); break;                                             \
        case ML_DIV: LOOPS(T, T, floordiv(a, b)); break;                                           \
        case ML_POW: LOOPS(T, T, ipow(a, b)); break;                                              \
        case ML_MAXIMUM: LOOPS(T, T, a > b ? a : b); break;                                       \
        case ML_MINIMUM: LOOPS(T, T, a < b ? a : b); break;                                       \
        }                                                                                         \
    }
INT_BINARY(bin_i32, int32_t, uint32_t)
INT_BINARY(bin_i64, int64_t, uint64_t)
INT_BINARY(bin_u8, uint8_t, uint8_t)

void ml_kern_binary(ml_binop op, ml_dtype dt, int64_t n, const void *x, int64_t sx, const void *y, int64_t sy,
                    void *o, int64_t so)
{
    BY_DTYPE(dt, bin, op, n, x, sx, y, sy, o, so);
}

#define COMPARE(NAME, T)                                                                          \
    CLONES static void NAME(ml_cmpop op, int64_t n, const void *x, int64_t sx, const void *y,      \
                            int64_t sy, uint8_t *o, int64_t so)                                    \
    {                                                                                             \
        switch (op) {                                                                             \
        case ML_EQ: LOOPS(T, uint8_t, a == b); break;                                             \
        case ML_NE: LOOPS(T, uint8_t, a != b); break;                                             \
        case ML_LT: LOOPS(T, uint8_t, a < b); break;                                              \
        case ML_LE: LOOPS(T, uint8_t, a <= b); break;                                             \
        case ML_GT: LOOPS(T, uint8_t, a > b); break;                                              \
        case ML_GE: LOOPS(T, uint8_t, a >= b); break;                                             \
        }                                                                                         \
    }
COMPARE(cmp_f32, float)
COMPARE(cmp_f64, double)
COMPARE(cmp_i32, int32_t)
COMPARE(cmp_i64, int64_t)
COMPARE(cmp_u8, uint8_t)

void ml_kern_compare(ml_cmpop op, ml_dtype dt, int64_t n, const void *x, int64_t sx, const void *y, int64_t sy,
                     uint8_t *o, int64_t so)
{
    BY_DTYPE(dt, cmp, op, n, x, sx, y, sy, o, so);
}

#define WHERE(T)                                                                                  \
    do {                                                                                         \
        const T *X = x, *Y = y;                                                                   \
        T *O = o;                                                                                 \
        if (sc == 1 && sx == 1 && sy == 1 && so == 1)                                             \
            for (int64_t i = 0; i < n; i++) { /* a branch-free select, so that it vectorises */  \
                T m = (T)0 - (T)(c[i] != 0);                                                      \
                O[i] = (X[i] & m) | (Y[i] & (T)~m);                                               \
            }                                                                                     \
        else                                                                                      \
            for (int64_t i = 0; i < n; i++) O[i * so] = c[i * sc] ? X[i * sx] : Y[i * sy];        \
    } while (0)

CLONES void ml_kern_where(size_t es, int64_t n, const uint8_t *c, int64_t sc, const void *x, int64_t sx,
                          const void *y, int64_t sy, void *o, int64_t so)
{
    switch (es) {
    case 1: WHERE(uint8_t); break;
    case 4: WHERE(uint32_t); break;
    default: WHERE(uint64_t); break;
    }
}

/* ---- exp: x = k ln2 + r, |r| <= ln2/2, e^r by a polynomial, 2^k through the exponent bits ---- */

static inline float exp_f32(float v)
{
    {
        float xc = v > 88.7228f ? 88.7228f : v < -103.9721f ? -103.9721f : v;
        xc = xc == xc ? xc : 0.0f; /* NaN: computed as 0 (no UB in the int conversion), returned as NaN */
        float k = (xc * 1.44269504088896341f + 0x1.8p23f) - 0x1.8p23f; /* round to nearest */
        float r = xc - k * 0.693145751953125f;
        r = r - k * 1.428606765330187045e-06f;
        /* Taylor/minimax on |r| <= 0.347: relative error below 2^-24 */
        float p = 1.9875691500e-4f;
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        p = p * r * r + r + 1.0f;
        int32_t ki = (int32_t)k;
        /* 2^k as two factors so that subnormal results come out right */
        int32_t k1 = ki >> 1, k2 = ki - k1;
        union { int32_t i; float f; } s1 = {(k1 + 127) << 23}, s2 = {(k2 + 127) << 23};
        float res = p * s1.f * s2.f;
        return v > 88.7228f ? INFINITY : v != v ? v : res;
    }
}

CLONES void ml_kern_exp_f32(int64_t n, const float *x, float *o)
{
    for (int64_t i = 0; i < n; i++) o[i] = exp_f32(x[i]);
}

static inline double exp_f64(double v)
{
    const double shifter = 0x1.8p52; /* adding it rounds to an integer kept in the low mantissa bits */
    {
        double xc = v > 709.78 ? 709.78 : v < -745.2 ? -745.2 : v;
        xc = xc == xc ? xc : 0.0; /* NaN: computed as 0, returned as NaN */
        double kd = xc * 1.4426950408889634 + shifter;
        union { double d; uint64_t u; } kb = {kd};
        double k = kd - shifter;
        double r = xc - k * 6.93147180369123816490e-01;
        r = r - k * 1.90821492927058770002e-10;
        double p = ml_expm1_taylor(r) + 1.0;
        /* k + 2048 from the low bits (|k| < 1100), halved with logical shifts only */
        uint64_t u = (kb.u + 2048) & 0xfffff, u1 = u >> 1;
        union { uint64_t u; double d; } s1 = {(u1 - 1) << 52}, s2 = {(u - u1 - 1) << 52};
        double res = p * s1.d * s2.d;
        return v > 709.782712893384 ? INFINITY : v != v ? v : res;
    }
}

CLONES void ml_kern_exp_f64(int64_t n, const double *x, double *o)
{
    for (int64_t i = 0; i < n; i++) o[i] = exp_f64(x[i]);
}

/* ---- expm1 for tanh: y = k ln2 + r, expm1(y) = 2^k expm1(r) + (2^k - 1); |y| <= 40 here ---- */

static inline double expm1_f64(double y)
{
    const double shifter = 0x1.8p52;
    double kd = y * 1.4426950408889634 + shifter;
    union { double d; uint64_t u; } kb = {kd};
    double k = kd - shifter;
    double r = y - k * 6.93147180369123816490e-01;
    r = r - k * 1.90821492927058770002e-10;
    double p = ml_expm1_taylor(r);
    union { uint64_t u; double d; } s = {((kb.u + 1023) & 0x7ff) << 52}; /* |k| < 64 here */
    return s.d * p + (s.d - 1.0);
}

static inline float expm1_f32(float y)
{
    float k = (y * 1.44269504088896341f + 0x1.8p23f) - 0x1.8p23f;
    float r = y - k * 0.693145751953125f;
    r = r - k * 1.428606765330187045e-06f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r * r + r;
    union { int32_t i; float f; } s = {((int32_t)k + 127) << 23};
    return s.f * p + (s.f - 1.0f);
}

static inline double tanh_f64(double x)
{
    double xc = x > 20 ? 20 : x < -20 ? -20 : x;
    xc = xc == xc ? xc : 0.0; /* NaN: computed as 0, returned as NaN below */
    double e = expm1_f64(2 * xc);
    return x != x ? x : e / (e + 2.0);
}

static inline float tanh_f32(float x)
{
    float xc = x > 10 ? 10 : x < -10 ? -10 : x;
    xc = xc == xc ? xc : 0.0f; /* NaN: computed as 0, returned as NaN below */
    float e = expm1_f32(2 * xc);
    return x != x ? x : e / (e + 2.0f);
}

/* sigmoid = 1 / (1 + e^-x): no overflow (e^-x = inf gives 0), no cancellation. */
#define UNARY_FLOAT(NAME, T, EXP, TANH, LOG, SIN, COS, ABS)                                        \
    CLONES static void NAME(ml_unop op, int64_t n, const T *x, int64_t sx, T *o, int64_t so)       \
    {                                                                                             \
        const T one = 1;                                                                          \
        switch (op) {                                                                             \
        case ML_EXP: ULOOP(EXP(a)); break;                                                        \
        case ML_SIGMOID: ULOOP(one / (one + EXP(-a))); break;                                     \
        case ML_SILU: ULOOP(a / (one + EXP(-a))); break;                                          \
        case ML_TANH: ULOOP(TANH(a)); break;                                                      \
        case ML_SQRT: ULOOP(a >= 0 ? (T)sqrt(a) : (T)NAN); break;                                 \
        case ML_ABS: ULOOP(ABS(a)); break;                                                        \
        case ML_NEG: ULOOP(-a); break;                                                            \
        case ML_LOG: ULOOP(LOG(a)); break;                                                        \
        case ML_SIN: ULOOP(SIN(a)); break;                                                        \
        case ML_COS: ULOOP(COS(a)); break;                                                        \
        }                                                                                         \
    }
#define ULOOP(EXPR)                                                                               \
    do {                                                                                         \
        if (sx == 1 && so == 1)                                                                   \
            for (int64_t i = 0; i < n; i++) { T a = x[i]; o[i] = (EXPR); }                        \
        else                                                                                      \
            for (int64_t i = 0; i < n; i++) { T a = x[i * sx]; o[i * so] = (EXPR); }              \
    } while (0)
#define T float
UNARY_FLOAT(un_f32, float, exp_f32, tanh_f32, logf, sinf, cosf, fabsf)
#undef T
#define T double
UNARY_FLOAT(un_f64, double, exp_f64, tanh_f64, log, sin, cos, fabs)
#undef T

#define UNARY_INT(NAME, TT, U)                                                                    \
    static void NAME(ml_unop op, int64_t n, const TT *x, int64_t sx, TT *o, int64_t so)            \
    {                                                                                             \
        for (int64_t i = 0; i < n; i++) {                                                         \
            TT a = x[i * sx];                                                                     \
            U neg = (U)0 - (U)a;                                                                  \
            o[i * so] = op == ML_NEG || (int64_t)a < 0 ? (TT)neg : a;                               \
        }                                                                                         \
    }
UNARY_INT(un_i32, int32_t, uint32_t)
UNARY_INT(un_i64, int64_t, uint64_t)
static void un_u8(ml_unop op, int64_t n, const uint8_t *x, int64_t sx, uint8_t *o, int64_t so)
{
    for (int64_t i = 0; i < n; i++) o[i * so] = op == ML_NEG ? (uint8_t)(0u - x[i * sx]) : x[i * sx];
}

void ml_kern_unary(ml_unop op, ml_dtype dt, int64_t n, const void *x, int64_t sx, void *o, int64_t so)
{
    BY_DTYPE(dt, un, op, n, x, sx, o, so);
}
