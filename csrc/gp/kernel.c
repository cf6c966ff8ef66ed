/* The kernel tree: constructors, parameters, and the block dispatcher (leaves, sums and
 * products by the product rule). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gp_internal.h"

static ml_gp_kernel *knew(int type, int np)
{
    ml_gp_kernel *k = calloc(1, sizeof *k);
    if (!k) return ml_fail(ML_ENOMEM, "gp kernel: out of memory"), NULL;
    k->type = type;
    k->np = np;
    if (np > 0) {
        k->theta = calloc((size_t)np, sizeof *k->theta);
        k->kind = calloc((size_t)np, sizeof *k->kind);
        if (!k->theta || !k->kind) {
            ml_gpk_free(k);
            return ml_fail(ML_ENOMEM, "gp kernel: out of memory"), NULL;
        }
    }
    return k;
}

static int pos_finite(double v) { return isfinite(v) && v > 0; }

/* Recomputes the cached 1/l^2 from theta (length scales are parameters 1..nls). */
static void refresh(ml_gp_kernel *k)
{
    int nls = k->type == ML_GPK_INVDIST ? k->ntl : k->nl;
    if (!k->il2) return;
    for (int i = 0; i < nls; i++) k->il2[i] = exp(-2 * k->theta[1 + i]);
}

static int alloc_il2(ml_gp_kernel *k, int nls)
{
    k->il2 = malloc((size_t)(nls > 0 ? nls : 1) * sizeof *k->il2);
    return k->il2 ? ML_OK : ML_ENOMEM;
}

ml_gp_kernel *ml_gpk_stationary(int type, double variance, int nl, const double *ls, double alpha)
{
    if (type != ML_GPK_SE && type != ML_GPK_MATERN15 && type != ML_GPK_MATERN25 && type != ML_GPK_RQ)
        return ml_fail(ML_EINVAL, "not a stationary kernel type (%d)", type), NULL;
    if (!pos_finite(variance))
        return ml_fail(ML_EINVAL, "variance must be finite and > 0, got %g", variance), NULL;
    if (nl < 1 || nl > 100000) return ml_fail(ML_EINVAL, "need 1..100000 length scales, got %d", nl), NULL;
    for (int i = 0; i < nl; i++)
        if (!pos_finite(ls[i]))
            return ml_fail(ML_EINVAL, "lengthscales[%d] must be finite and > 0, got %g", i + 1, ls[i]), NULL;
    if (type == ML_GPK_RQ && !pos_finite(alpha))
        return ml_fail(ML_EINVAL, "alpha must be finite and > 0, got %g", alpha), NULL;
    ml_gp_kernel *k = knew(type, 1 + nl + (type == ML_GPK_RQ));
    if (!k) return NULL;
    k->nl = nl;
    k->dim = nl > 1 ? nl : 0;
    k->theta[0] = log(variance), k->kind[0] = ML_GPP_VARIANCE;
    for (int i = 0; i < nl; i++) k->theta[1 + i] = log(ls[i]), k->kind[1 + i] = ML_GPP_LENGTHSCALE;
    if (type == ML_GPK_RQ) k->theta[1 + nl] = log(alpha), k->kind[1 + nl] = ML_GPP_ALPHA;
    if (alloc_il2(k, nl)) {
        ml_gpk_free(k);
        return ml_fail(ML_ENOMEM, "gp kernel: out of memory"), NULL;
    }
    refresh(k);
    return k;
}

ml_gp_kernel *ml_gpk_invdist(int natoms, int adim, int nfrozen, const double *frozen, int ntypes,
                             const int *types, const int *ptype, int nl, const double *ls,
                             double variance, double constant)
{
    if (natoms < 1 || natoms > 100000) return ml_fail(ML_EINVAL, "atoms must be in 1..100000, got %d", natoms), NULL;
    if (adim != 2 && adim != 3) return ml_fail(ML_EINVAL, "dim must be 2 or 3, got %d", adim), NULL;
    if (nfrozen < 0 || nfrozen > 1000000) return ml_fail(ML_EINVAL, "bad number of frozen atoms %d", nfrozen), NULL;
    if (natoms + nfrozen < 2) return ml_fail(ML_EINVAL, "need at least 2 atoms (moving + frozen)"), NULL;
    if (!pos_finite(variance)) return ml_fail(ML_EINVAL, "variance must be finite and > 0, got %g", variance), NULL;
    if (!(isfinite(constant) && constant >= 0))
        return ml_fail(ML_EINVAL, "constant must be finite and >= 0, got %g", constant), NULL;
    if (nl < 1) return ml_fail(ML_EINVAL, "need at least one length scale"), NULL;
    for (int i = 0; i < nl; i++)
        if (!pos_finite(ls[i]))
            return ml_fail(ML_EINVAL, "lengthscales[%d] must be finite and > 0, got %g", i + 1, ls[i]), NULL;
    int na = natoms + nfrozen;
    if (ptype || types) {
        if (!ptype || !types || ntypes < 1)
            return ml_fail(ML_EINVAL, "atom types and pair types must be given together"), NULL;
        for (int i = 0; i < na; i++)
            if (types[i] < 0 || types[i] >= ntypes)
                return ml_fail(ML_EINVAL, "atom %d has type %d, expected 1..%d", i + 1, types[i] + 1, ntypes), NULL;
        for (int i = 0; i < ntypes; i++)
            for (int j = 0; j < ntypes; j++) {
                int t = ptype[i * ntypes + j];
                if (t < 0 || t >= nl)
                    return ml_fail(ML_EINVAL, "pair_types[%d][%d] = %d, expected 1..%d (one length scale per pair type)",
                                   i + 1, j + 1, t + 1, nl), NULL;
                if (t != ptype[j * ntypes + i])
                    return ml_fail(ML_EINVAL, "pair_types must be symmetric ([%d][%d] ~= [%d][%d])", i + 1, j + 1, j + 1, i + 1), NULL;
            }
    } else if (nl != 1) {
        return ml_fail(ML_EINVAL, "%d length scales but no pair types (one pair type needs 1)", nl), NULL;
    }
    for (int i = 0; i < nfrozen * adim; i++)
        if (!isfinite(frozen[i])) return ml_fail(ML_EINVAL, "frozen coordinates must be finite"), NULL;
    int64_t np64 = (int64_t)natoms * (natoms - 1) / 2 + (int64_t)natoms * nfrozen;
    if (np64 > 50000000) return ml_fail(ML_EINVAL, "too many atom pairs (%lld)", (long long)np64), NULL;
    ml_gp_kernel *k = knew(ML_GPK_INVDIST, 1 + nl);
    if (!k) return NULL;
    k->natoms = natoms, k->adim = adim, k->nfrozen = nfrozen, k->ntl = nl, k->constant = constant;
    k->dim = natoms * adim;
    k->npairs = (int)np64;
    k->pairs = malloc((size_t)(np64 ? np64 : 1) * sizeof *k->pairs);
    k->frozen = malloc((size_t)(nfrozen ? nfrozen * adim : 1) * sizeof *k->frozen);
    if (!k->pairs || !k->frozen) {
        ml_gpk_free(k);
        return ml_fail(ML_ENOMEM, "gp kernel: out of memory"), NULL;
    }
    if (nfrozen) memcpy(k->frozen, frozen, (size_t)nfrozen * adim * sizeof *frozen);
    int p = 0;
    for (int a = 0; a < natoms; a++)
        for (int b = a + 1; b < na; b++) {
            k->pairs[p].a = a;
            k->pairs[p].b = b < natoms ? b : -1 - (b - natoms);
            k->pairs[p].t = ptype ? ptype[types[a] * ntypes + types[b]] : 0;
            p++;
        }
    k->theta[0] = log(variance), k->kind[0] = ML_GPP_VARIANCE;
    for (int i = 0; i < nl; i++) k->theta[1 + i] = log(ls[i]), k->kind[1 + i] = ML_GPP_LENGTHSCALE;
    if (alloc_il2(k, nl)) {
        ml_gpk_free(k);
        return ml_fail(ML_ENOMEM, "gp kernel: out of memory"), NULL;
    }
    refresh(k);
    return k;
}

static ml_gp_kernel *simple(int type, double value, int kind)
{
    if (!pos_finite(value)) return ml_fail(ML_EINVAL, "value must be finite and > 0, got %g", value), NULL;
    ml_gp_kernel *k = knew(type, 1);
    if (!k) return NULL;
    k->theta[0] = log(value);
    k->kind[0] = kind;
    return k;
}

ml_gp_kernel *ml_gpk_constant(double value) { return simple(ML_GPK_CONST, value, ML_GPP_CONSTANT); }
ml_gp_kernel *ml_gpk_white(double value) { return simple(ML_GPK_WHITE, value, ML_GPP_NOISE); }

ml_gp_kernel *ml_gpk_combine(int type, const ml_gp_kernel *a, const ml_gp_kernel *b)
{
    if (type != ML_GPK_SUM && type != ML_GPK_PROD) return ml_fail(ML_EINVAL, "combine: sum or product"), NULL;
    if (a->dim && b->dim && a->dim != b->dim)
        return ml_fail(ML_EINVAL, "kernels need different input dimensions (%d and %d)", a->dim, b->dim), NULL;
    ml_gp_kernel *k = knew(type, 0);
    if (!k) return NULL;
    k->a = ml_gpk_clone(a);
    k->b = ml_gpk_clone(b);
    if (!k->a || !k->b) {
        ml_gpk_free(k);
        return NULL;
    }
    k->np = a->np + b->np;
    k->dim = a->dim ? a->dim : b->dim;
    return k;
}

static int own_params(const ml_gp_kernel *k) { return (k->type == ML_GPK_SUM || k->type == ML_GPK_PROD) ? 0 : k->np; }

ml_gp_kernel *ml_gpk_clone(const ml_gp_kernel *s)
{
    ml_gp_kernel *k = knew(s->type, own_params(s));
    if (!k) return NULL;
    int np = own_params(s);
    void *th = k->theta, *kd = k->kind;
    *k = *s;
    k->theta = th, k->kind = kd, k->pairs = NULL, k->frozen = NULL, k->a = k->b = NULL, k->il2 = NULL;
    if (s->il2) {
        int nls = s->type == ML_GPK_INVDIST ? s->ntl : s->nl;
        if (alloc_il2(k, nls)) {
            ml_gpk_free(k);
            return ml_fail(ML_ENOMEM, "gp kernel: out of memory"), NULL;
        }
        memcpy(k->il2, s->il2, (size_t)nls * sizeof *k->il2);
    }
    if (np) {
        memcpy(k->theta, s->theta, (size_t)np * sizeof *k->theta);
        memcpy(k->kind, s->kind, (size_t)np * sizeof *k->kind);
    }
    if (s->type == ML_GPK_INVDIST) {
        k->pairs = malloc((size_t)(s->npairs ? s->npairs : 1) * sizeof *k->pairs);
        k->frozen = malloc((size_t)(s->nfrozen ? s->nfrozen * s->adim : 1) * sizeof *k->frozen);
        if (!k->pairs || !k->frozen) {
            ml_gpk_free(k);
            return ml_fail(ML_ENOMEM, "gp kernel: out of memory"), NULL;
        }
        memcpy(k->pairs, s->pairs, (size_t)s->npairs * sizeof *k->pairs);
        memcpy(k->frozen, s->frozen, (size_t)s->nfrozen * s->adim * sizeof *k->frozen);
    }
    if (s->a) {
        k->a = ml_gpk_clone(s->a);
        k->b = ml_gpk_clone(s->b);
        if (!k->a || !k->b) {
            ml_gpk_free(k);
            return NULL;
        }
    }
    return k;
}

void ml_gpk_free(ml_gp_kernel *k)
{
    if (!k) return;
    ml_gpk_free(k->a);
    ml_gpk_free(k->b);
    free(k->theta);
    free(k->kind);
    free(k->pairs);
    free(k->frozen);
    free(k->il2);
    free(k);
}

void ml_gpk_set_fixed(ml_gp_kernel *k, int fixed)
{
    k->fixed = fixed;
    if (k->a) ml_gpk_set_fixed(k->a, fixed), ml_gpk_set_fixed(k->b, fixed);
}

int ml_gpk_nparams(const ml_gp_kernel *k) { return k->np; }
int ml_gpk_dim(const ml_gp_kernel *k) { return k->dim; }
int ml_gpk_type_of(const ml_gp_kernel *k) { return k->type; }

void ml_gpk_get_params(const ml_gp_kernel *k, double *theta)
{
    if (k->a) {
        ml_gpk_get_params(k->a, theta);
        ml_gpk_get_params(k->b, theta + k->a->np);
    } else if (k->np) {
        memcpy(theta, k->theta, (size_t)k->np * sizeof *theta);
    }
}

int ml_gpk_set_params(ml_gp_kernel *k, const double *theta)
{
    for (int i = 0; i < k->np; i++)
        if (!isfinite(theta[i]) || fabs(theta[i]) > 700)
            return ml_fail(ML_EINVAL, "log-parameter %d = %g is out of range (|theta| <= 700)", i + 1, theta[i]);
    if (k->a) {
        ml_gpk_set_params(k->a, theta);
        ml_gpk_set_params(k->b, theta + k->a->np);
    } else if (k->np) {
        memcpy(k->theta, theta, (size_t)k->np * sizeof *theta);
        refresh(k);
    }
    return ML_OK;
}

static const char *type_name(int t)
{
    static const char *n[] = {"se", "matern15", "matern25", "rq", "inverse_distance", "constant", "white", "sum", "product"};
    return (t >= 0 && t <= ML_GPK_PROD) ? n[t] : "?";
}

int ml_gpk_param_info(const ml_gp_kernel *k, int p, int *kind, int *fixed, char *name, int len)
{
    if (p < 0 || p >= k->np) return ml_fail(ML_EINVAL, "parameter index %d out of range", p + 1);
    if (k->a) {
        if (p < k->a->np) return ml_gpk_param_info(k->a, p, kind, fixed, name, len);
        return ml_gpk_param_info(k->b, p - k->a->np, kind, fixed, name, len);
    }
    *kind = k->kind[p];
    *fixed = k->fixed;
    static const char *kn[] = {"variance", "lengthscale", "alpha", "noise", "constant"};
    int nlen = k->type == ML_GPK_INVDIST ? k->ntl : k->nl;
    if (k->kind[p] == ML_GPP_LENGTHSCALE && nlen > 1)
        snprintf(name, (size_t)len, "%s.lengthscale[%d]", type_name(k->type), p);
    else
        snprintf(name, (size_t)len, "%s.%s", type_name(k->type), kn[k->kind[p]]);
    return ML_OK;
}

void ml_gpk_set_constant(ml_gp_kernel *k, double c)
{
    if (k->type == ML_GPK_INVDIST) k->constant = c;
    if (k->type == ML_GPK_CONST && k->fixed) k->theta[0] = log(c);
    if (k->a) ml_gpk_set_constant(k->a, c), ml_gpk_set_constant(k->b, c);
}

int ml_gpk_atoms(const ml_gp_kernel *k, int *natoms, int *adim)
{
    if (k->type == ML_GPK_INVDIST) {
        *natoms = k->natoms, *adim = k->adim;
        return 1;
    }
    if (k->a) return ml_gpk_atoms(k->a, natoms, adim) || ml_gpk_atoms(k->b, natoms, adim);
    return 0;
}

int64_t ml_gpk_work_size(const ml_gp_kernel *k, int D)
{
    int64_t m = (int64_t)D + 1, mm2 = m * m;
    switch (k->type) {
    case ML_GPK_INVDIST: return gp_invdist_work(k, D);
    case ML_GPK_SUM: case ML_GPK_PROD: {
        int64_t wa = ml_gpk_work_size(k->a, D), wb = ml_gpk_work_size(k->b, D);
        int64_t own = k->type == ML_GPK_SUM ? mm2 * (1 + k->b->np)
                                            : mm2 * (2 + k->a->np + k->b->np);
        return own + (wa > wb ? wa : wb);
    }
    default: return 3 * (int64_t)D + 4;
    }
}

/* P = A * B for joint blocks by the product rule (m = 1 + D or 1). */
static void prod_block(int m, const double *A, const double *B, double *P)
{
    P[0] = A[0] * B[0];
    for (int j = 1; j < m; j++) {
        P[j] = A[0] * B[j] + A[j] * B[0];
        P[j * m] = A[j * m] * B[0] + A[0] * B[j * m];
    }
    for (int i = 1; i < m; i++)
        for (int j = 1; j < m; j++)
            P[i * m + j] = A[i * m + j] * B[0] + A[i * m] * B[j] + A[j] * B[i * m] + A[0] * B[i * m + j];
}

void ml_gpk_block(const ml_gp_kernel *k, int D, const double *x, const double *y, int same,
                  int deriv, double *B, double *dB, double *work)
{
    int m = deriv ? D + 1 : 1;
    int64_t mm2 = (int64_t)m * m;
    switch (k->type) {
    case ML_GPK_SE: case ML_GPK_MATERN15: case ML_GPK_MATERN25: case ML_GPK_RQ:
        gp_block_stationary(k, D, x, y, deriv, B, dB, work);
        return;
    case ML_GPK_INVDIST:
        gp_block_invdist(k, D, x, y, deriv, B, dB, work);
        return;
    case ML_GPK_CONST: case ML_GPK_WHITE: {
        double v = exp(k->theta[0]);
        memset(B, 0, (size_t)mm2 * sizeof *B);
        if (k->type == ML_GPK_CONST) B[0] = v;
        else if (same) for (int i = 0; i < m; i++) B[i * m + i] = v;
        if (dB) memcpy(dB, B, (size_t)mm2 * sizeof *B);
        return;
    }
    case ML_GPK_SUM: {
        double *T = work, *w = work + mm2 * (1 + k->b->np);
        ml_gpk_block(k->a, D, x, y, same, deriv, B, dB, w);
        ml_gpk_block(k->b, D, x, y, same, deriv, T, dB ? T + mm2 : NULL, w);
        for (int64_t i = 0; i < mm2; i++) B[i] += T[i];
        if (dB) memcpy(dB + k->a->np * mm2, T + mm2, (size_t)(k->b->np * mm2) * sizeof *dB);
        return;
    }
    case ML_GPK_PROD: {
        int na = k->a->np, nb = k->b->np;
        double *A = work, *Bb = A + mm2, *dA = Bb + mm2, *dBb = dA + na * mm2,
               *w = dBb + nb * mm2;
        ml_gpk_block(k->a, D, x, y, same, deriv, A, dB ? dA : NULL, w);
        ml_gpk_block(k->b, D, x, y, same, deriv, Bb, dB ? dBb : NULL, w);
        prod_block(m, A, Bb, B);
        if (dB) {
            for (int p = 0; p < na; p++) prod_block(m, dA + p * mm2, Bb, dB + p * mm2);
            for (int p = 0; p < nb; p++) prod_block(m, A, dBb + p * mm2, dB + (na + p) * mm2);
        }
        return;
    }
    }
}
