/* nn — AdamW (Loshchilov & Hutter 2019, Alg. 2) with global-norm gradient clipping:
 * g ← g·min(1, clip/‖g‖); m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²;
 * p ← p − lr (m̂/(sqrt(v̂)+eps) + wd·p) (decay on matrices only). */
int S(nn_adamw)(ml_nn_model *m, const ml_nn_adamw *o, double lr, double *gnorm) {
    int64_t n = m->nparams, t = m->step + 1;
    R *p = (R *)m->p, *g = (R *)m->g, *m1 = (R *)m->m1, *m2 = (R *)m->m2;
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (double)g[i] * g[i]; /* serial: reproducible at any thread count */
    double norm = sqrt(ss);
    if (gnorm) *gnorm = norm;
    if (!isfinite(norm)) return ml_fail(ML_ENUMERIC, "gradient norm is %g at step %lld", norm, (long long)t);
    double sc = (o->grad_clip > 0 && norm > o->grad_clip) ? o->grad_clip / norm : 1.0;
    double b1 = o->beta1, b2 = o->beta2, c1 = 1.0 - pow(b1, (double)t), c2 = 1.0 - pow(b2, (double)t);
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        double gi = g[i] * sc;
        double a = b1 * m1[i] + (1 - b1) * gi, b = b2 * m2[i] + (1 - b2) * gi * gi;
        m1[i] = (R)a;
        m2[i] = (R)b;
        double upd = (a / c1) / (sqrt(b / c2) + o->eps) + (m->decay[i] ? o->weight_decay * p[i] : 0.0);
        p[i] = (R)(p[i] - lr * upd);
    }
    m->step = t;
    return ML_OK;
}
