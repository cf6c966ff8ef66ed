/* moonlab laplace — the standard test pairs (in the spirit of Davies & Martin
 * 1979): F(s) as C transforms and the exact f(t). */
#include <math.h>
#include "moonlab/laplace.h"

#define EULER_GAMMA 0.57721566490153286061

static const ml_lsuite_entry entries[] = {
    {"1", "1/s", ML_LSUITE_SMOOTH, 0, 0, {0}, 0},
    {"t", "1/s^2", ML_LSUITE_SMOOTH, 0, 0, {0}, 0},
    {"t^2/2", "1/s^3", ML_LSUITE_SMOOTH, 0, 0, {0}, 0},
    {"exp(-t)", "1/(s+1)", ML_LSUITE_SMOOTH, 0, 0, {0}, 0},
    {"t*exp(-t)", "1/(s+1)^2", ML_LSUITE_SMOOTH, 0, 0, {0}, 0},
    {"1-exp(-t)", "1/(s(s+1))", ML_LSUITE_SMOOTH, 0, 0, {0}, 0},
    {"exp(t/2)", "1/(s-1/2)", ML_LSUITE_SMOOTH, 0.5, 0, {0}, 0},
    {"1/sqrt(pi*t)", "s^(-1/2)", ML_LSUITE_SMOOTH, 0, 0, {0}, 0},
    {"2*sqrt(t/pi)", "s^(-3/2)", ML_LSUITE_SMOOTH, 0, 0, {0}, 0},
    {"log(t)", "-(gamma+log s)/s", ML_LSUITE_SMOOTH, 0, 0, {0}, 0},
    {"erfc(1/sqrt(t))", "exp(-2 sqrt(s))/s", ML_LSUITE_SMOOTH, 0, 0, {0}, 0},
    {"exp(-1/(4t))/(2 sqrt(pi t^3))", "exp(-sqrt(s))", ML_LSUITE_SMOOTH, 0, 0, {0}, 0},
    {"(1-exp(-t))/t", "log(1+1/s)", ML_LSUITE_SMOOTH, 0, 0, {0}, 0},
    {"sin(t)", "1/(s^2+1)", ML_LSUITE_OSCILLATORY, 0, 0, {0}, 0},
    {"cos(t)", "s/(s^2+1)", ML_LSUITE_OSCILLATORY, 0, 0, {0}, 0},
    {"t*sin(t)", "2s/(s^2+1)^2", ML_LSUITE_OSCILLATORY, 0, 0, {0}, 0},
    {"J0(t)", "1/sqrt(s^2+1)", ML_LSUITE_OSCILLATORY, 0, 0, {0}, 0},
    {"exp(-t)*sin(t)", "1/((s+1)^2+1)", ML_LSUITE_OSCILLATORY, 0, 0, {0}, 0},
    {"sin(t)/t", "atan(1/s)", ML_LSUITE_OSCILLATORY, 0, 0, {0}, 0},
    {"H(t-1)", "exp(-s)/s", ML_LSUITE_JUMP, 0, 1, {1}, 0},
    {"square wave (+1 on (2k,2k+1))", "tanh(s/2)/s", ML_LSUITE_JUMP, 0, 1, {1}, 1},
};

#define NENTRIES ((int)(sizeof entries / sizeof entries[0]))
static const int ids[NENTRIES] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                  11, 12, 13, 14, 15, 16, 17, 18, 19, 20};

int ml_lsuite_count(void) { return NENTRIES; }

const ml_lsuite_entry *ml_lsuite_get(int i) {
    return i >= 0 && i < NENTRIES ? &entries[i] : NULL;
}

#define CT double complex
#define SFX(name) name##_d
#define CSQRT csqrt
#define CEXP cexp
#define CLOG clog
#define CATAN catan
#define CREAL creal
#define GAMMA EULER_GAMMA
#define UNIT_I I
#include "suite_tmpl.h"

static int suite_eval(void *params, size_t n, const double complex *s, double complex *out) {
    int id = *(const int *)params;
    for (size_t i = 0; i < n; i++) out[i] = F_d(id, s[i]);
    return 0;
}

#if ML_LAPLACE_HAVE_QUAD
#define EULER_GAMMAQ 0.577215664901532860606512090082402431Q

static __complex128 cq(__float128 re, __float128 im) {
    __complex128 z;
    __real__ z = re;
    __imag__ z = im;
    return z;
}

/* The same transforms in quad precision (libquadmath), for the per-t methods. */
#define CT __complex128
#define SFX(name) name##_q
#define CSQRT csqrtq
#define CEXP cexpq
#define CLOG clogq
#define CATAN catanq
#define CREAL crealq
#define GAMMA EULER_GAMMAQ
#define UNIT_I cq(0, 1)
#include "suite_tmpl.h"

static int suite_evalq(void *params, size_t n, const __complex128 *s, __complex128 *out) {
    int id = *(const int *)params;
    for (size_t i = 0; i < n; i++) out[i] = F_q(id, s[i]);
    return 0;
}
#define SUITE_EVALQ suite_evalq
#else
#define SUITE_EVALQ NULL
#endif

ml_laplace_fn ml_lsuite_fn(int i) {
    ml_laplace_fn fn = {suite_eval, (void *)&ids[i < 0 || i >= NENTRIES ? 0 : i], 0, 1,
                        SUITE_EVALQ};
    if (i >= 0 && i < NENTRIES) fn.abscissa = entries[i].abscissa;
    return fn;
}

double ml_lsuite_exact(int i, double t) {
    switch (i) {
    case 0: return 1;
    case 1: return t;
    case 2: return t * t / 2;
    case 3: return exp(-t);
    case 4: return t * exp(-t);
    case 5: return -expm1(-t);
    case 6: return exp(t / 2);
    case 7: return 1 / sqrt(M_PI * t);
    case 8: return 2 * sqrt(t / M_PI);
    case 9: return log(t);
    case 10: return erfc(1 / sqrt(t));
    case 11: return exp(-1 / (4 * t)) / (2 * sqrt(M_PI * t * t * t));
    case 12: return -expm1(-t) / t;
    case 13: return sin(t);
    case 14: return cos(t);
    case 15: return t * sin(t);
    case 16: return j0(t);
    case 17: return exp(-t) * sin(t);
    case 18: return sin(t) / t;
    case 19: return t > 1 ? 1 : (t < 1 ? 0 : 0.5);
    case 20: {
        double k = floor(t);
        if (t == k) return 0;
        return fmod(k, 2) == 0 ? 1 : -1;
    }
    default: return NAN;
    }
}

double ml_lsuite_jump_distance(int i, double t) {
    if (i == 19) return fabs(t - 1);
    if (i == 20) return fabs(t - nearbyint(t));
    return INFINITY;
}
