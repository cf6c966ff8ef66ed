/* Internal: the column kernels of stat_fast.h written once, instantiated per instruction set by stat_fast.c.
 * Expects TGT (function attributes) and SFX(name). Loops run over the column (contiguous in i); sums go
 * through GPF_LANES fixed lanes added in a fixed order, so every instance gives the same bits. */

/* s[i] = sum_d (x_{lo+i,d} - x_{c,d})^2 il2[d] for i < len, direct differences (no |x|^2 + |y|^2 - 2xy
 * cancellation). */
TGT static void SFX(sqdist)(const gpf_kern *q, int64_t n, const double *XT, int64_t c_, int64_t lo, int64_t len,
                            double *s)
{
    for (int64_t i = 0; i < len; i++) s[i] = 0;
    for (int d = 0; d < q->D; d++) {
        const double *xr = XT + (int64_t)d * n + lo;
        double xj = XT[(int64_t)d * n + c_], c = q->il2[d];
        for (int64_t i = 0; i < len; i++) {
            double t = xr[i] - xj;
            s[i] += t * t * c;
        }
    }
}

/* sum_i a[i] b[i] (b NULL: sum_i a[i]) over GPF_LANES lanes. */
TGT static double SFX(lanesum)(int64_t len, const double *a, const double *b)
{
    double acc[GPF_LANES] = {0};
    int64_t i = 0;
    if (b) {
        for (; i + GPF_LANES <= len; i += GPF_LANES)
            for (int l = 0; l < GPF_LANES; l++) acc[l] += a[i + l] * b[i + l];
        for (; i < len; i++) acc[i % GPF_LANES] += a[i] * b[i];
    } else {
        for (; i + GPF_LANES <= len; i += GPF_LANES)
            for (int l = 0; l < GPF_LANES; l++) acc[l] += a[i + l];
        for (; i < len; i++) acc[i % GPF_LANES] += a[i];
    }
    double t = 0;
    for (int l = 0; l < GPF_LANES; l++) t += acc[l];
    return t;
}

/* sum_i m[i] (xr[i] - xj)^2 over GPF_LANES lanes. */
TGT static double SFX(lanesum_sq)(int64_t len, const double *m, const double *xr, double xj)
{
    double acc[GPF_LANES] = {0};
    int64_t i = 0;
    for (; i + GPF_LANES <= len; i += GPF_LANES)
        for (int l = 0; l < GPF_LANES; l++) {
            double t = xr[i + l] - xj;
            acc[l] += m[i + l] * (t * t);
        }
    for (; i < len; i++) {
        double t = xr[i] - xj;
        acc[i % GPF_LANES] += m[i] * (t * t);
    }
    double t = 0;
    for (int l = 0; l < GPF_LANES; l++) t += acc[l];
    return t;
}

TGT void SFX(gpf_col)(const gpf_kern *q, int64_t n, const double *XT, int64_t j, double *s, double *out)
{
    int64_t len = n - j;
    double v = q->v;
    SFX(sqdist)(q, n, XT, j, j, len, s);
    switch (q->type) {
    case ML_GPK_SE:
        for (int64_t i = 0; i < len; i++) out[i] = v * ml_exp_le0(-0.5 * s[i]);
        break;
    case ML_GPK_MATERN15:
        for (int64_t i = 0; i < len; i++) {
            double cr = GPF_SQRT3 * sqrt(s[i]);
            out[i] = v * ((1 + cr) * ml_exp_le0(-cr));
        }
        break;
    case ML_GPK_MATERN25:
        for (int64_t i = 0; i < len; i++) {
            double cr = GPF_SQRT5 * sqrt(s[i]);
            out[i] = v * ((1 + cr + 5.0 * s[i] / 3.0) * ml_exp_le0(-cr));
        }
        break;
    default: { /* ML_GPK_RQ */
        double a = q->alpha, h = 1 / (2 * a);
        for (int64_t i = 0; i < len; i++) out[i] = v * ml_exp_le0(-a * ml_vm_log(1 + s[i] * h));
    }
    }
    out[0] += q->white;
}

TGT void SFX(gpf_grad)(const gpf_kern *q, int64_t n, const double *XT, int64_t j, const double *kinv,
                       const double *alpha, double *s, double *m, double *a, double *acc)
{
    int64_t len = j + 1; /* partners 0 .. j, the diagonal last */
    const double *al = alpha;
    double aj = alpha[j];
    SFX(sqdist)(q, n, XT, j, 0, len, s);
    /* a[i] = W f, m[i] = W f' */
    switch (q->type) {
    case ML_GPK_SE:
        for (int64_t i = 0; i < len; i++) {
            double w = al[i] * aj - kinv[i], e = ml_exp_le0(-0.5 * s[i]);
            a[i] = w * e;
            m[i] = -0.5 * (w * e);
        }
        break;
    case ML_GPK_MATERN15:
        for (int64_t i = 0; i < len; i++) {
            double w = al[i] * aj - kinv[i], cr = GPF_SQRT3 * sqrt(s[i]), e = ml_exp_le0(-cr);
            a[i] = w * ((1 + cr) * e);
            m[i] = w * (-1.5 * e);
        }
        break;
    case ML_GPK_MATERN25:
        for (int64_t i = 0; i < len; i++) {
            double w = al[i] * aj - kinv[i], cr = GPF_SQRT5 * sqrt(s[i]), e = ml_exp_le0(-cr);
            a[i] = w * ((1 + cr + 5.0 * s[i] / 3.0) * e);
            m[i] = w * (-(5.0 / 6.0) * (1 + cr) * e);
        }
        break;
    default: { /* ML_GPK_RQ: the log-alpha term goes into m's place after m is used */
        double al_ = q->alpha, h = 1 / (2 * al_);
        for (int64_t i = 0; i < len; i++) {
            double w = al[i] * aj - kinv[i], qq = 1 + s[i] * h, lq = ml_vm_log(qq), p = ml_exp_le0(-al_ * lq);
            a[i] = w * p;
            m[i] = w * (-0.5 * p / qq);
        }
    }
    }
    a[j] *= 0.5; /* the diagonal once; its length and alpha terms vanish (s = 0) */
    acc[0] = SFX(lanesum)(len, a, NULL);
    acc[1] = q->iso ? SFX(lanesum)(len, m, s) : 0;
    for (int d = 0; d < q->D; d++) acc[2 + d] = q->iso ? 0 : SFX(lanesum_sq)(len, m, XT + (int64_t)d * n, XT[(int64_t)d * n + j]);
    acc[2 + q->D] = 0;
    if (q->type == ML_GPK_RQ) { /* df/dlog alpha = f (-alpha log q + s / (2 q)) */
        double al_ = q->alpha, h = 1 / (2 * al_);
        for (int64_t i = 0; i < len; i++) {
            double qq = 1 + s[i] * h;
            m[i] = a[i] * (-al_ * ml_vm_log(qq) + s[i] / (2 * qq));
        }
        acc[2 + q->D] = SFX(lanesum)(len, m, NULL);
    }
}
