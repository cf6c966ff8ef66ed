/* NumPy .npy files (format versions 1.0, 2.0, 3.0): little-endian <f4/<f8 in C order. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "moonlab/tensor.h"

/* Finds the value text after 'key': in a header dict; NULL when absent. */
static const char *dict_value(const char *h, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p) {
        snprintf(pat, sizeof pat, "\"%s\"", key);
        p = strstr(h, pat);
    }
    if (!p) return NULL;
    p += strlen(pat);
    while (isspace((unsigned char)*p)) p++;
    if (*p != ':') return NULL;
    p++;
    while (isspace((unsigned char)*p)) p++;
    return p;
}

static int parse_header(const char *path, const char *h, ml_dtype *dt, int *ndim, int64_t *shape)
{
    const char *d = dict_value(h, "descr"), *f = dict_value(h, "fortran_order"),
               *s = dict_value(h, "shape");
    if (!d || !f || !s)
        return ml_fail(ML_EFORMAT, "%s: malformed .npy header (needs descr, fortran_order, shape)", path);
    if (!strncmp(d, "'<f8'", 5) || !strncmp(d, "\"<f8\"", 5)) *dt = ML_F64;
    else if (!strncmp(d, "'<f4'", 5) || !strncmp(d, "\"<f4\"", 5)) *dt = ML_F32;
    else {
        char got[16] = {0};
        size_t k = 0; /* the quoted descr token, quotes included */
        got[k++] = d[0];
        while (k < sizeof got - 1 && d[k] && d[k] != d[0]) got[k] = d[k], k++;
        if (k < sizeof got - 1 && d[k]) got[k] = d[k];
        return ml_fail(ML_EFORMAT, "%s: unsupported dtype %s (expected '<f4' or '<f8')", path, got);
    }
    if (strncmp(f, "False", 5))
        return ml_fail(ML_EFORMAT, "%s: Fortran-order arrays are not supported (save with C order)", path);
    if (*s != '(') return ml_fail(ML_EFORMAT, "%s: malformed shape in .npy header", path);
    s++;
    *ndim = 0;
    for (;;) {
        while (isspace((unsigned char)*s) || *s == ',') s++;
        if (*s == ')') break;
        if (!isdigit((unsigned char)*s)) return ml_fail(ML_EFORMAT, "%s: malformed shape in .npy header", path);
        if (*ndim >= ML_MAXDIM)
            return ml_fail(ML_EFORMAT, "%s: more than %d dims", path, ML_MAXDIM);
        errno = 0;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (errno || v <= 0)
            return ml_fail(ML_EFORMAT, "%s: dim %d has size %s (expected a positive size)", path, *ndim + 1,
                           errno ? "out of range" : "0");
        shape[(*ndim)++] = v;
        s = end;
    }
    return ML_OK;
}

int ml_npy_load(const char *path, ml_tensor *out)
{
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp) return ml_fail(ML_EIO, "cannot open %s: %s", path, strerror(errno));
    int rc = ML_OK;
    char *hdr = NULL;
    unsigned char pre[12];
    if (fread(pre, 1, 8, fp) != 8 || memcmp(pre, "\x93NUMPY", 6)) {
        rc = ml_fail(ML_EFORMAT, "%s: not a .npy file (bad magic)", path);
        goto done;
    }
    uint32_t hlen;
    if (pre[6] == 1) {
        if (fread(pre + 8, 1, 2, fp) != 2) goto truncated;
        hlen = pre[8] | (uint32_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 8, 1, 4, fp) != 4) goto truncated;
        hlen = pre[8] | (uint32_t)pre[9] << 8 | (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
    } else {
        rc = ml_fail(ML_EFORMAT, "%s: unsupported .npy version %d.%d", path, pre[6], pre[7]);
        goto done;
    }
    if (hlen > (1u << 24)) {
        rc = ml_fail(ML_EFORMAT, "%s: .npy header length %u is implausible", path, hlen);
        goto done;
    }
    hdr = malloc(hlen + 1);
    if (!hdr) {
        rc = ml_fail(ML_ENOMEM, "out of memory reading %s", path);
        goto done;
    }
    if (fread(hdr, 1, hlen, fp) != hlen) goto truncated;
    hdr[hlen] = '\0';
    ml_dtype dt = ML_F64;
    int ndim = 0;
    int64_t shape[ML_MAXDIM];
    if ((rc = parse_header(path, hdr, &dt, &ndim, shape))) goto done;
    long pos = ftell(fp);
    if (fseek(fp, 0, SEEK_END) || pos < 0) {
        rc = ml_fail(ML_EIO, "%s: cannot seek", path);
        goto done;
    }
    long end = ftell(fp);
    int64_t n;
    if ((rc = ml_shape_numel(ndim, shape, &n))) {
        rc = ml_fail(ML_EFORMAT, "%s: %s", path, ml_errmsg());
        goto done;
    }
    size_t es = ml_dtype_size(dt);
    if (n > (int64_t)((end - pos) / (long)es)) {
        rc = ml_fail(ML_EFORMAT, "%s: truncated .npy file (%ld data bytes, shape needs %.0f)", path,
                     end - pos, (double)n * (double)es);
        goto done;
    }
    if ((rc = ml_tensor_init(out, dt, ndim, shape))) goto done;
    fseek(fp, pos, SEEK_SET);
    if (fread(out->data, es, (size_t)n, fp) != (size_t)n) {
        ml_tensor_release(out);
        goto truncated;
    }
    goto done;
truncated:
    rc = ml_fail(ML_EFORMAT, "%s: truncated .npy file", path);
done:
    free(hdr);
    fclose(fp);
    return rc;
}

int ml_npy_save(const char *path, const ml_tensor *t)
{
    char dict[512];
    int k = snprintf(dict, sizeof dict, "{'descr': '<%s', 'fortran_order': False, 'shape': (",
                     t->dtype == ML_F32 ? "f4" : "f8");
    for (int i = 0; i < t->ndim; i++)
        k += snprintf(dict + k, sizeof dict - (size_t)k, "%lld,%s", (long long)t->shape[i],
                      i + 1 < t->ndim ? " " : "");
    if (t->ndim > 1) k--; /* numpy writes (3,) for 1-d but (2, 3) for n-d */
    k += snprintf(dict + k, sizeof dict - (size_t)k, "), }");
    int total = 10 + k + 1, pad = (64 - total % 64) % 64; /* data starts on a 64-byte boundary */
    FILE *fp = fopen(path, "wb");
    if (!fp) return ml_fail(ML_EIO, "cannot open %s for writing: %s", path, strerror(errno));
    uint16_t hlen = (uint16_t)(k + pad + 1);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    int ok = fwrite(pre, 1, 10, fp) == 10 && fwrite(dict, 1, (size_t)k, fp) == (size_t)k;
    for (int i = 0; ok && i < pad; i++) ok = fputc(' ', fp) != EOF;
    ok = ok && fputc('\n', fp) != EOF;
    ok = ok && fwrite(t->data, ml_dtype_size(t->dtype), (size_t)t->numel, fp) == (size_t)t->numel;
    if (fclose(fp) || !ok) return ml_fail(ML_EIO, "cannot write %s", path);
    return ML_OK;
}
