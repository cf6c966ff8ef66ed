/* NumPy .npy files (format versions 1.0, 2.0, 3.0) for every moonlab dtype.
 * The header is parsed as the Python literal NumPy writes (a dict with exactly
 * the keys descr, fortran_order and shape); anything NumPy would refuse is refused. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "moonlab/runtime.h"
#include "moonlab/tensor.h"
#include "npy.h"

typedef struct {
    const char *p, *end;
} lexer;

static void skip_ws(lexer *lx)
{
    while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' || *lx->p == '\r')) lx->p++;
}

static int accept(lexer *lx, char c)
{
    skip_ws(lx);
    if (lx->p < lx->end && *lx->p == c) {
        lx->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string without escapes into buf; 0 on failure. */
static int read_str(lexer *lx, char *buf, size_t n)
{
    skip_ws(lx);
    if (lx->p >= lx->end || (*lx->p != '\'' && *lx->p != '"')) return 0;
    char q = *lx->p++;
    size_t k = 0;
    while (lx->p < lx->end && *lx->p != q) {
        if (*lx->p == '\\' || k + 1 >= n) return 0;
        buf[k++] = *lx->p++;
    }
    if (lx->p >= lx->end) return 0;
    lx->p++;
    buf[k] = '\0';
    return 1;
}

static int read_word(lexer *lx, const char *w)
{
    skip_ws(lx);
    size_t n = strlen(w);
    if ((size_t)(lx->end - lx->p) < n || strncmp(lx->p, w, n)) return 0;
    const char *q = lx->p + n;
    if (q < lx->end && (isalnum((unsigned char)*q) || *q == '_')) return 0;
    lx->p = q;
    return 1;
}

/* descr: byte order ('<', '>', '|', '=') then kind and size. */
int ml_npy_parse_descr(const char *s, ml_dtype *dt, int *swap)
{
    char bo = s[0];
    const char *k = s + 1;
    if (isalpha((unsigned char)bo)) { /* NumPy reads 'f8' as native order */
        bo = '=';
        k = s;
    } else if (bo != '<' && bo != '>' && bo != '|' && bo != '=') {
        return 0;
    }
    static const struct { const char *code; ml_dtype dt; } codes[] = {
        {"f4", ML_F32}, {"f8", ML_F64}, {"i4", ML_I32}, {"i8", ML_I64}, {"u1", ML_U8}, {"b1", ML_BOOL}};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (!strcmp(k, codes[i].code)) {
            *dt = codes[i].dt;
            *swap = bo == '>' && ml_dtype_size(*dt) > 1;
            if (bo == '|' && ml_dtype_size(*dt) > 1) return 0; /* NumPy: '|f8' is not a valid descr */
            return 1;
        }
    /* a kind letter NumPy knows and a size: well formed but not a moonlab dtype */
    if (k[0] && strchr("biufcmMOSUV", k[0]) && k[1]) {
        for (const char *q = k + 1; *q; q++)
            if (!isdigit((unsigned char)*q)) return 0;
        return -1;
    }
    return 0;
}

static int bad(const char *path, const char *what)
{
    return ml_fail(ML_EFORMAT, "%s: malformed .npy header (%s)", path, what);
}

int ml_npy_parse_header(const char *path, const char *h, size_t len, ml_dtype *dt, int *swap, int *fortran,
                        int *ndim, int64_t *shape)
{
    lexer lx = {h, h + len};
    int have = 0; /* bits: descr 1, fortran_order 2, shape 4 */
    if (!accept(&lx, '{')) return bad(path, "expected a dict");
    while (!accept(&lx, '}')) {
        char key[32], val[32];
        if (!read_str(&lx, key, sizeof key)) return bad(path, "expected a quoted key");
        if (!accept(&lx, ':')) return bad(path, "expected ':' after a key");
        if (!strcmp(key, "descr")) {
            if (!read_str(&lx, val, sizeof val)) return bad(path, "descr is not a string");
            int r = ml_npy_parse_descr(val, dt, swap);
            if (r == 0) return ml_fail(ML_EFORMAT, "%s: malformed .npy header (invalid descr '%s')", path, val);
            if (r < 0)
                return ml_fail(ML_EFORMAT,
                               "%s: unsupported dtype '%s' (expected f4, f8, i4, i8, u1 or b1)", path, val);
            have |= 1;
        } else if (!strcmp(key, "fortran_order")) {
            if (read_word(&lx, "True")) *fortran = 1;
            else if (read_word(&lx, "False")) *fortran = 0;
            else return bad(path, "fortran_order is not True or False");
            have |= 2;
        } else if (!strcmp(key, "shape")) {
            if (!accept(&lx, '(')) return bad(path, "shape is not a tuple");
            *ndim = 0;
            int comma = 1;
            while (!accept(&lx, ')')) {
                skip_ws(&lx);
                if (!comma || lx.p >= lx.end || !isdigit((unsigned char)*lx.p)) return bad(path, "shape is not a tuple of sizes");
                if (*ndim >= ML_MAXDIM) return ml_fail(ML_EFORMAT, "%s: more than %d dims", path, ML_MAXDIM);
                errno = 0;
                char *e;
                long long v = strtoll(lx.p, &e, 10);
                if (errno || e > lx.end) return ml_fail(ML_EFORMAT, "%s: dim %d size out of range", path, *ndim + 1);
                lx.p = e;
                shape[(*ndim)++] = v;
                comma = accept(&lx, ',');
            }
            if (*ndim == 1 && !comma) return bad(path, "shape (n) is not a tuple; NumPy writes (n,)");
            have |= 4;
        } else {
            return ml_fail(ML_EFORMAT, "%s: malformed .npy header (unexpected key '%s')", path, key);
        }
        if (!accept(&lx, ',')) {
            if (!accept(&lx, '}')) return bad(path, "expected ',' or '}'");
            break;
        }
    }
    skip_ws(&lx);
    if (lx.p != lx.end) return bad(path, "junk after the dict");
    if (have != 7) return bad(path, "needs descr, fortran_order, shape");
    return ML_OK;
}

static void byteswap(void *data, size_t es, int64_t n)
{
    unsigned char *p = data;
    for (int64_t i = 0; i < n; i++, p += es)
        for (size_t a = 0, b = es - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* Checks the bytes of a bool array (NumPy stores 0 or 1). */
static int check_bool(const char *path, const ml_tensor *t)
{
    const uint8_t *p = t->data;
    for (int64_t i = 0; i < t->numel; i++)
        if (p[i] > 1) return ml_fail(ML_EFORMAT, "%s: bool array holds byte %d (expected 0 or 1)", path, p[i]);
    return ML_OK;
}

int ml_npy_finish(const char *path, ml_tensor *t, int swap, int fortran)
{
    if (swap) byteswap(t->data, ml_dtype_size(t->dtype), t->numel);
    if (t->dtype == ML_BOOL && check_bool(path, t)) return ML_EFORMAT;
    if (fortran && t->ndim > 1) { /* column-major data: read it through column-major strides */
        ml_tensor v = {0}, out = {0};
        ml_tensor_share(&v, t);
        int64_t s = 1;
        for (int i = 0; i < t->ndim; i++) {
            v.strides[i] = s;
            s *= t->shape[i];
        }
        int rc = ml_tensor_init0(&out, t->dtype, t->ndim, t->shape);
        if (!rc) rc = ml_tensor_copy(&out, &v);
        ml_tensor_release(&v);
        if (rc) return rc;
        ml_tensor_release(t);
        *t = out;
    }
    return ML_OK;
}

/* Reads up to n bytes at offset off (pread(2) may read less, or be interrupted by a signal); returns the
 * number read (less than n only at the end of the file), or -1 on an error. */
static ssize_t pread_all(int fd, void *buf, size_t n, off_t off)
{
    size_t done = 0;
    while (done < n) {
        size_t want = n - done > ((size_t)1 << 30) ? (size_t)1 << 30 : n - done;
        ssize_t r = pread(fd, (char *)buf + done, want, off + (off_t)done);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

/* Data reads above this size are split among the threads: each pread(2)s its part, so the kernel's copy from
 * the page cache and the faults of the fresh destination pages run on every core. */
#define SPLIT_READ ((size_t)16 << 20)

/* Reads bytes at offset pos into dst; 1 when all were read, 0 when the file ended first, minus errno on an
 * error (errno belongs to the thread that failed). */
static int read_data(int fd, char *dst, size_t bytes, off_t pos)
{
    int nt = bytes >= SPLIT_READ ? ml_get_threads() : 1, res = 1;
    if (nt > 16) nt = 16;
#pragma omp parallel for num_threads(nt) schedule(static, 1) if (nt > 1)
    for (int t = 0; t < nt; t++) {
        /* part boundaries on 2 MiB, the huge-page size of large tensors */
        size_t lo = bytes / (size_t)nt * (size_t)t & ~(((size_t)2 << 20) - 1);
        size_t hi = t == nt - 1 ? bytes : bytes / (size_t)nt * (size_t)(t + 1) & ~(((size_t)2 << 20) - 1);
        ssize_t r = hi > lo ? pread_all(fd, dst + lo, hi - lo, pos + (off_t)lo) : 0;
        int ok = r < 0 ? -(errno ? errno : EIO) : (size_t)r == hi - lo;
        if (ok < 1) {
#pragma omp critical(ml_npy_read)
            if (ok < res) res = ok;
        }
    }
    return res;
}

/* The file is read with pread(2) straight into the tensor's storage (no stdio buffer, no zeroing first). */
int ml_npy_load(const char *path, ml_tensor *out)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ml_fail(ML_EIO, "cannot open %s: %s", path, strerror(errno));
    int rc = ML_OK;
    char *hdr = NULL;
    unsigned char pre[12];
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        rc = ml_fail(ML_EIO, "%s: cannot seek (not a regular file)", path);
        goto done;
    }
    ssize_t got = pread_all(fd, pre, 8, 0);
    if (got < 0) goto ioerr;
    if (got != 8 || memcmp(pre, "\x93NUMPY", 6)) {
        rc = ml_fail(ML_EFORMAT, "%s: not a .npy file (bad magic)", path);
        goto done;
    }
    uint32_t hlen;
    off_t pos;
    if (pre[6] == 1) {
        if ((got = pread_all(fd, pre + 8, 2, 8)) != 2) goto short_read;
        hlen = pre[8] | (uint32_t)pre[9] << 8;
        pos = 10;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if ((got = pread_all(fd, pre + 8, 4, 8)) != 4) goto short_read;
        hlen = pre[8] | (uint32_t)pre[9] << 8 | (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
        pos = 12;
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
    if ((got = pread_all(fd, hdr, hlen, pos)) != (ssize_t)hlen) goto short_read;
    hdr[hlen] = '\0';
    pos += (off_t)hlen;
    ml_dtype dt = ML_F64;
    int ndim = 0, swap = 0, fortran = 0;
    int64_t shape[ML_MAXDIM];
    if ((rc = ml_npy_parse_header(path, hdr, hlen, &dt, &swap, &fortran, &ndim, shape))) goto done;
    off_t end = st.st_size;
    int64_t n;
    if ((rc = ml_shape_numel0(ndim, shape, &n))) {
        rc = ml_fail(ML_EFORMAT, "%s: %s", path, ml_errmsg());
        goto done;
    }
    size_t es = ml_dtype_size(dt);
    if (end < pos || n > (int64_t)((end - pos) / (off_t)es)) {
        rc = ml_fail(ML_EFORMAT, "%s: truncated .npy file (%lld data bytes, shape needs %.0f)", path,
                     (long long)(end < pos ? 0 : end - pos), (double)n * (double)es);
        goto done;
    }
    if ((rc = ml_tensor_init_uninit(out, dt, ndim, shape))) goto done;
    int r = read_data(fd, out->data, (size_t)n * es, pos);
    if (r < 1) {
        ml_tensor_release(out);
        if (r == 0) goto truncated; /* the file shrank while it was read */
        errno = -r;
        goto ioerr;
    }
    if ((rc = ml_npy_finish(path, out, swap, fortran))) ml_tensor_release(out);
    goto done;
short_read:
    if (got < 0) goto ioerr;
truncated:
    rc = ml_fail(ML_EFORMAT, "%s: truncated .npy file", path);
    goto done;
ioerr:
    rc = ml_fail(ML_EIO, "%s: read error: %s", path, strerror(errno));
done:
    free(hdr);
    close(fd);
    return rc;
}

int ml_npy_parse_buffer(const char *path, const unsigned char *buf, size_t len, ml_tensor *out)
{
    memset(out, 0, sizeof *out);
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6)) return ml_fail(ML_EFORMAT, "%s: not a .npy file (bad magic)", path);
    size_t hlen, pos;
    if (buf[6] == 1) {
        hlen = buf[8] | (size_t)buf[9] << 8;
        pos = 10;
    } else if (buf[6] == 2 || buf[6] == 3) {
        if (len < 12) return ml_fail(ML_EFORMAT, "%s: truncated .npy file", path);
        hlen = buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        pos = 12;
    } else {
        return ml_fail(ML_EFORMAT, "%s: unsupported .npy version %d.%d", path, buf[6], buf[7]);
    }
    if (hlen > len - pos) return ml_fail(ML_EFORMAT, "%s: truncated .npy file", path);
    ml_dtype dt = ML_F64;
    int ndim = 0, swap = 0, fortran = 0;
    int64_t shape[ML_MAXDIM];
    int rc = ml_npy_parse_header(path, (const char *)buf + pos, hlen, &dt, &swap, &fortran, &ndim, shape);
    if (rc) return rc;
    pos += hlen;
    int64_t n;
    if ((rc = ml_shape_numel0(ndim, shape, &n))) return ml_fail(ML_EFORMAT, "%s: %s", path, ml_errmsg());
    size_t es = ml_dtype_size(dt);
    if (n > (int64_t)((len - pos) / es))
        return ml_fail(ML_EFORMAT, "%s: truncated .npy file (%zu data bytes, shape needs %.0f)", path, len - pos,
                       (double)n * (double)es);
    if ((rc = ml_tensor_init0(out, dt, ndim, shape))) return rc;
    memcpy(out->data, buf + pos, (size_t)n * es);
    if ((rc = ml_npy_finish(path, out, swap, fortran))) ml_tensor_release(out);
    return rc;
}

static const char *const descrs[ML_NDTYPES] = {"<f4", "<f8", "<i4", "<i8", "|u1", "|b1"};

size_t ml_npy_header(const ml_tensor *t, unsigned char *buf, size_t cap)
{
    char dict[512];
    int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descrs[t->dtype]);
    for (int i = 0; i < t->ndim; i++)
        k += snprintf(dict + k, sizeof dict - (size_t)k, "%lld,%s", (long long)t->shape[i],
                      i + 1 < t->ndim ? " " : "");
    if (t->ndim > 1) k--; /* numpy writes (3,) for 1-d but (2, 3) for n-d */
    k += snprintf(dict + k, sizeof dict - (size_t)k, "), }");
    int total = 10 + k + 1, pad = (64 - total % 64) % 64; /* data starts on a 64-byte boundary */
    size_t hlen = (size_t)k + (size_t)pad + 1;
    if (10 + hlen > cap) return 0;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    memcpy(buf, pre, 10);
    memcpy(buf + 10, dict, (size_t)k);
    memset(buf + 10 + k, ' ', (size_t)pad);
    buf[10 + hlen - 1] = '\n';
    return 10 + hlen;
}

/* Writes all n bytes (write(2) may write less, or be interrupted by a signal). */
static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return 0;
        p += w;
        n -= (size_t)w;
    }
    return 1;
}

/* Header and data in two write(2) calls straight from the tensor's storage. An existing regular file is
 * overwritten in place and then cut to the new length (no O_TRUNC): rewriting a file of the same size then
 * reuses its page-cache pages and blocks instead of freeing and allocating them again, several times faster
 * for large files. Blocks a file lacks are reserved first (fallocate, as NumPy's tofile does). */
int ml_npy_save(const char *path, const ml_tensor *t)
{
    if (!ml_tensor_is_contiguous(t)) return ml_fail(ML_EINVAL, "npy save: tensor is not contiguous");
    unsigned char hdr[640];
    size_t hl = ml_npy_header(t, hdr, sizeof hdr), bytes = (size_t)t->numel * ml_dtype_size(t->dtype);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return ml_fail(ML_EIO, "cannot open %s for writing: %s", path, strerror(errno));
    struct stat st;
    int regular = !fstat(fd, &st) && S_ISREG(st.st_mode);
    off_t total = (off_t)(hl + bytes);
#ifdef FALLOC_FL_KEEP_SIZE
    if (regular && bytes > ((size_t)1 << 20) && st.st_size < total)
        (void)fallocate(fd, FALLOC_FL_KEEP_SIZE, st.st_size, total - st.st_size);
#endif
    int ok = write_all(fd, (const char *)hdr, hl) && write_all(fd, (const char *)t->data, bytes);
    if (ok && regular && st.st_size > total && ftruncate(fd, total)) ok = 0;
    int err = ok ? 0 : errno;
    if (close(fd) && ok) ok = 0, err = errno;
    if (!ok) return ml_fail(ML_EIO, "cannot write %s: %s", path, strerror(err));
    return ML_OK;
}
