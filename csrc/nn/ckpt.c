/* nn — checkpoints: one self-describing little-endian file.
 *   "MOONLAB-NN\n" | u32 version (1) | u32 dtype | 11 × i64 config (vocab, context, layers, d_model, heads,
 *   kv_heads, d_ff, gate, gate_act, tied, seed) | 3 × f64 (rope_base, norm_eps, init_std) | i64 step |
 *   i64 nparams | params, AdamW m, AdamW v (nparams values each) | u64 FNV-1a of everything after the magic.
 * Version 2 adds, after the 3 × f64: 3 × i64 (ffn, experts, top_k) and 2 × f64 (moe aux, moe z). Version 1
 * files (SwiGLU models) still load. */
#include <stdio.h>
#include <string.h>
#include "moonlab/error.h"
#include "nn/nn_internal.h"

static const char MAGIC[] = "MOONLAB-NN\n";
#define MAGIC_LEN 11
#define VERSION 2u

typedef struct { FILE *f; uint64_t h; int err; } ck_io;

static void hash(ck_io *io, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) io->h = (io->h ^ b[i]) * 1099511628211ull;
}
static void put(ck_io *io, const void *p, size_t n) {
    if (io->err) return;
    hash(io, p, n);
    if (fwrite(p, 1, n, io->f) != n) io->err = 1;
}
static int get(ck_io *io, void *p, size_t n) {
    if (io->err || fread(p, 1, n, io->f) != n) return io->err = 1;
    hash(io, p, n);
    return 0;
}

int ml_nn_save(const ml_nn_model *m, const char *path) {
    FILE *f = fopen(path, "wb");
    if (!f) return ml_fail(ML_EIO, "cannot write '%s'", path);
    ck_io io = {f, 14695981039346656037ull, 0};
    if (fwrite(MAGIC, 1, MAGIC_LEN, f) != MAGIC_LEN) io.err = 1;
    const ml_nn_config *c = &m->c;
    uint32_t hd[2] = {VERSION, (uint32_t)c->dtype};
    int64_t ci[11] = {c->vocab, c->context, c->layers, c->d_model, c->heads, c->kv_heads, c->d_ff, c->gate,
                      c->gate_act, c->tied, (int64_t)c->seed};
    double cd[3] = {c->rope_base, c->norm_eps, c->init_std};
    int64_t tail[2] = {m->step, m->nparams}, fi[3] = {c->ffn, c->experts, c->top_k};
    double fd[2] = {c->moe_aux, c->moe_z};
    put(&io, hd, sizeof hd);
    put(&io, ci, sizeof ci);
    put(&io, cd, sizeof cd);
    put(&io, fi, sizeof fi);
    put(&io, fd, sizeof fd);
    put(&io, tail, sizeof tail);
    size_t bytes = (size_t)m->nparams * ml_dtype_size((ml_dtype)c->dtype);
    put(&io, m->p, bytes);
    put(&io, m->m1, bytes);
    put(&io, m->m2, bytes);
    uint64_t h = io.h;
    if (!io.err && fwrite(&h, 1, sizeof h, f) != sizeof h) io.err = 1;
    if (fclose(f) != 0) io.err = 1;
    return io.err ? ml_fail(ML_EIO, "error writing '%s'", path) : ML_OK;
}

ml_nn_model *ml_nn_load(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { ml_fail(ML_EIO, "cannot open '%s'", path); return NULL; }
    char mg[MAGIC_LEN];
    ck_io io = {f, 14695981039346656037ull, 0};
    ml_nn_model *m = NULL;
    const char *why = NULL;
    if (fread(mg, 1, MAGIC_LEN, f) != MAGIC_LEN || memcmp(mg, MAGIC, MAGIC_LEN) != 0) {
        why = "not a moonlab.nn checkpoint (bad magic)";
        goto done;
    }
    uint32_t hd[2];
    int64_t ci[11], tail[2], fi[3] = {ML_NN_FFN_SWIGLU, 8, 2};
    double cd[3], fd[2] = {0.01, 0};
    if (get(&io, hd, sizeof hd) || get(&io, ci, sizeof ci) || get(&io, cd, sizeof cd) ||
        (hd[0] >= 2 && (get(&io, fi, sizeof fi) || get(&io, fd, sizeof fd))) || get(&io, tail, sizeof tail)) {
        why = "truncated header";
        goto done;
    }
    if (hd[0] != VERSION && hd[0] != 1) { why = "unsupported checkpoint version"; goto done; }
    ml_nn_config c = ml_nn_defaults();
    c.dtype = (int)hd[1];
    c.vocab = ci[0]; c.context = ci[1]; c.layers = ci[2]; c.d_model = ci[3]; c.heads = ci[4]; c.kv_heads = ci[5];
    c.d_ff = ci[6]; c.gate = (int)ci[7]; c.gate_act = (int)ci[8]; c.tied = (int)ci[9]; c.seed = (uint64_t)ci[10];
    c.rope_base = cd[0]; c.norm_eps = cd[1]; c.init_std = cd[2];
    c.ffn = (int)fi[0]; c.experts = fi[1]; c.top_k = fi[2]; c.moe_aux = fd[0]; c.moe_z = fd[1];
    if (fi[0] < 0 || fi[0] > 1 || fi[1] < 1 || fi[1] > 4096 || ci[7] < 0 || ci[7] > 2 || ci[8] < 0 || ci[8] > 2 || ci[9] < 0 || ci[9] > 1 || hd[1] > 1) {
        why = "corrupt configuration";
        goto done;
    }
    if (c.heads >= 1 && c.kv_heads >= 1 && c.d_model >= c.heads) { /* sizes before allocating anything */
        double D = (double)c.d_model, H = (double)c.heads, dh = (double)(c.d_model / c.heads);
        double G = c.gate == ML_NN_GATE_ELEMENTWISE ? dh : c.gate == ML_NN_GATE_HEADWISE ? 1 : 0;
        double np = (double)c.vocab * D * (c.tied ? 1 : 2) + D +
                    (double)c.layers * (2 * D + D * H * dh * 2 + 2 * D * (double)c.kv_heads * dh + D * H * G +
                                        3 * D * (double)c.d_ff * (c.ffn ? (double)c.experts : 1) +
                                        (c.ffn ? D * (double)c.experts : 0));
        long here = ftell(f);
        if (here >= 0 && fseek(f, 0, SEEK_END) == 0) {
            long end = ftell(f);
            if (end >= 0 && (double)(end - here) < 3 * np * (c.dtype == ML_F64 ? 8 : 4)) {
                why = "truncated data (the file is shorter than its configuration needs)";
                goto done;
            }
            fseek(f, here, SEEK_SET);
        }
    }
    m = ml_nn_new(&c);
    if (!m) {
        fclose(f);
        ml_fail(ML_EFORMAT, "'%s': corrupt configuration (%s)", path, ml_errmsg());
        return NULL;
    }
    if (tail[1] != m->nparams || tail[0] < 0) { why = "parameter count does not match the configuration"; goto done; }
    m->step = tail[0];
    size_t bytes = (size_t)m->nparams * ml_dtype_size((ml_dtype)c.dtype);
    if (get(&io, m->p, bytes) || get(&io, m->m1, bytes) || get(&io, m->m2, bytes)) { why = "truncated data"; goto done; }
    uint64_t h = io.h, stored;
    if (fread(&stored, 1, sizeof stored, f) != sizeof stored) { why = "truncated (no checksum)"; goto done; }
    if (stored != h) { why = "checksum mismatch (corrupt data)"; goto done; }
    if (fgetc(f) != EOF) { why = "trailing bytes after the checksum"; goto done; }
done:
    fclose(f);
    if (why) {
        ml_nn_free(m);
        ml_fail(ML_EFORMAT, "'%s': %s", path, why);
        return NULL;
    }
    return m;
}
