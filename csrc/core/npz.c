/* NumPy .npz archives: ZIP files (PKWARE APPNOTE 6.3) of .npy members, stored
 * (method 0) or deflated (method 8, zlib raw deflate), without ZIP64. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "moonlab/tensor.h"
#include "npy.h"

static uint32_t rd32(const unsigned char *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static void wr32(unsigned char *p, uint32_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24); }
static void wr16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }

static void free_items(ml_npz_item *items, int n)
{
    for (int i = 0; i < n; i++) ml_tensor_release(&items[i].t);
    free(items);
}

/* Reads the whole file into memory (archives are parsed from a buffer). */
static int slurp(const char *path, unsigned char **buf, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return ml_fail(ML_EIO, "cannot open %s: %s", path, strerror(errno));
    if (fseek(fp, 0, SEEK_END)) {
        fclose(fp);
        return ml_fail(ML_EIO, "%s: cannot seek", path);
    }
    long n = ftell(fp);
    if (n < 0 || fseek(fp, 0, SEEK_SET)) {
        fclose(fp);
        return ml_fail(ML_EIO, "%s: cannot seek", path);
    }
    *buf = malloc(n ? (size_t)n : 1);
    if (!*buf) {
        fclose(fp);
        return ml_fail(ML_ENOMEM, "out of memory reading %s", path);
    }
    if (fread(*buf, 1, (size_t)n, fp) != (size_t)n) {
        free(*buf);
        fclose(fp);
        return ml_fail(ML_EIO, "%s: read error", path);
    }
    fclose(fp);
    *len = (size_t)n;
    return ML_OK;
}

/* Inflates a raw deflate stream of exactly `ulen` output bytes. */
static int inflate_raw(const char *path, const unsigned char *src, size_t slen, unsigned char *dst, size_t ulen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) return ml_fail(ML_ENOMEM, "%s: zlib init failed", path);
    size_t in_done = 0, out_done = 0;
    int rc = Z_OK;
    while (rc == Z_OK) {
        uInt ain = slen - in_done > (1u << 30) ? (1u << 30) : (uInt)(slen - in_done);
        uInt aout = ulen - out_done > (1u << 30) ? (1u << 30) : (uInt)(ulen - out_done);
        z.next_in = (Bytef *)(src + in_done);
        z.avail_in = ain;
        z.next_out = dst + out_done;
        z.avail_out = aout;
        rc = inflate(&z, Z_NO_FLUSH);
        in_done += ain - z.avail_in;
        out_done += aout - z.avail_out;
        if (rc == Z_OK && ain == z.avail_in && aout == z.avail_out) rc = Z_DATA_ERROR; /* no progress */
        if (rc == Z_BUF_ERROR && out_done == ulen) rc = Z_STREAM_END;
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END || out_done != ulen) return ml_fail(ML_EFORMAT, "%s: corrupt deflate data in a member", path);
    return ML_OK;
}

int ml_npz_load(const char *path, ml_npz_item **items_out, int *n_out)
{
    *items_out = NULL;
    *n_out = 0;
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = slurp(path, &buf, &len);
    if (rc) return rc;
    /* end of central directory: the last "PK\5\6" within 64 KiB + 22 bytes of the end */
    size_t eocd = (size_t)-1;
    for (size_t i = len >= 22 ? len - 22 : 0; len >= 22; i--) {
        if (rd32(buf + i) == 0x06054b50u) {
            eocd = i;
            break;
        }
        if (i == 0 || len - i > 65535 + 22) break;
    }
    ml_npz_item *items = NULL;
    int n = 0;
    if (eocd == (size_t)-1) {
        rc = ml_fail(ML_EFORMAT, "%s: not a .npz (zip) file", path);
        goto done;
    }
    uint16_t count = rd16(buf + eocd + 10);
    uint32_t cd_size = rd32(buf + eocd + 12), cd_off = rd32(buf + eocd + 16);
    if (cd_off == 0xffffffffu || count == 0xffff) {
        rc = ml_fail(ML_EFORMAT, "%s: ZIP64 archives are not supported", path);
        goto done;
    }
    if ((size_t)cd_off + cd_size > eocd) {
        rc = ml_fail(ML_EFORMAT, "%s: corrupt zip directory", path);
        goto done;
    }
    items = calloc(count ? count : 1, sizeof *items);
    if (!items) {
        rc = ml_fail(ML_ENOMEM, "out of memory reading %s", path);
        goto done;
    }
    size_t p = cd_off;
    for (int k = 0; k < count; k++) {
        if (p + 46 > eocd || rd32(buf + p) != 0x02014b50u) {
            rc = ml_fail(ML_EFORMAT, "%s: corrupt zip directory entry %d", path, k + 1);
            goto done;
        }
        uint16_t method = rd16(buf + p + 10), flags = rd16(buf + p + 8);
        uint32_t csize = rd32(buf + p + 20), usize = rd32(buf + p + 24), crc = rd32(buf + p + 16);
        uint16_t nlen = rd16(buf + p + 28), xlen = rd16(buf + p + 30), clen = rd16(buf + p + 32);
        uint32_t loff = rd32(buf + p + 42);
        if (p + 46 + nlen > eocd) {
            rc = ml_fail(ML_EFORMAT, "%s: corrupt zip directory entry %d", path, k + 1);
            goto done;
        }
        char name[300];
        size_t cn = nlen < sizeof name - 1 ? nlen : sizeof name - 1;
        memcpy(name, buf + p + 46, cn);
        name[cn] = '\0';
        p += 46 + (size_t)nlen + xlen + clen;
        if (flags & 1) {
            rc = ml_fail(ML_EFORMAT, "%s: member '%s' is encrypted", path, name);
            goto done;
        }
        if (csize == 0xffffffffu || usize == 0xffffffffu || loff == 0xffffffffu) {
            rc = ml_fail(ML_EFORMAT, "%s: ZIP64 members are not supported", path);
            goto done;
        }
        if ((size_t)loff + 30 > len || rd32(buf + loff) != 0x04034b50u) {
            rc = ml_fail(ML_EFORMAT, "%s: corrupt local header of '%s'", path, name);
            goto done;
        }
        size_t data = (size_t)loff + 30 + rd16(buf + loff + 26) + rd16(buf + loff + 28);
        if (data > len || csize > len - data) {
            rc = ml_fail(ML_EFORMAT, "%s: member '%s' is truncated", path, name);
            goto done;
        }
        size_t nl = strlen(name);
        if (nl < 4 || strcmp(name + nl - 4, ".npy")) continue; /* not an array */
        name[nl - 4] = '\0';
        if (strlen(name) >= sizeof items[n].name) {
            rc = ml_fail(ML_EFORMAT, "%s: member name too long", path);
            goto done;
        }
        unsigned char *mem = buf + data, *owned = NULL;
        if (method == 8) {
            /* deflate cannot expand more than 1032:1, so a larger declared size is a lie: refuse it
             * before allocating (a 400-byte file must not cost gigabytes) */
            if ((uint64_t)usize > 1032u * (uint64_t)csize + 64u) {
                rc = ml_fail(ML_EFORMAT, "%s: member '%s' declares %u bytes from %u compressed (corrupt)",
                             path, name, (unsigned)usize, (unsigned)csize);
                goto done;
            }
            owned = malloc(usize ? usize : 1);
            if (!owned) {
                rc = ml_fail(ML_ENOMEM, "%s: out of memory inflating '%s'", path, name);
                goto done;
            }
            if ((rc = inflate_raw(path, mem, csize, owned, usize))) {
                free(owned);
                goto done;
            }
            mem = owned;
        } else if (method != 0 || csize != usize) {
            rc = ml_fail(ML_EFORMAT, "%s: member '%s' uses unsupported compression method %d", path, name, method);
            goto done;
        }
        if ((uint32_t)crc32(0, mem, usize) != crc) {
            free(owned);
            rc = ml_fail(ML_EFORMAT, "%s: CRC mismatch in member '%s'", path, name);
            goto done;
        }
        char where[600];
        snprintf(where, sizeof where, "%s[%s]", path, name);
        rc = ml_npy_parse_buffer(where, mem, usize, &items[n].t);
        free(owned);
        if (rc) goto done;
        strcpy(items[n].name, name);
        n++;
    }
done:
    free(buf);
    if (rc) {
        free_items(items, n);
        return rc;
    }
    *items_out = items;
    *n_out = n;
    return ML_OK;
}

/* Writes one member (header + data of a contiguous tensor); fills its central directory record. */
static int write_member(FILE *fp, const ml_npz_item *it, int compress, unsigned char *cd, size_t *cdlen, uint32_t *off)
{
    unsigned char hdr[640];
    size_t hl = ml_npy_header(&it->t, hdr, sizeof hdr);
    size_t dlen = (size_t)it->t.numel * ml_dtype_size(it->t.dtype);
    size_t usize = hl + dlen;
    if (usize >= 0xffffffffu || *off >= 0x7fffffffu) return ml_fail(ML_EINVAL, "npz: archive members above 4 GiB need ZIP64 (not supported)");
    uint32_t crc = (uint32_t)crc32(crc32(0, hdr, (uInt)hl), it->t.data, (uInt)dlen);
    unsigned char *payload = NULL;
    size_t csize = usize;
    if (compress) {
        uLong bound = compressBound((uLong)usize);
        payload = malloc(bound);
        unsigned char *plain = malloc(usize ? usize : 1);
        if (!payload || !plain) {
            free(payload);
            free(plain);
            return ml_fail(ML_ENOMEM, "npz: out of memory compressing '%s'", it->name);
        }
        memcpy(plain, hdr, hl);
        memcpy(plain + hl, it->t.data, dlen);
        z_stream z;
        memset(&z, 0, sizeof z);
        int ok = deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK;
        z.next_in = plain;
        z.avail_in = (uInt)usize;
        z.next_out = payload;
        z.avail_out = (uInt)bound;
        ok = ok && deflate(&z, Z_FINISH) == Z_STREAM_END;
        csize = z.total_out;
        deflateEnd(&z);
        free(plain);
        if (!ok) {
            free(payload);
            return ml_fail(ML_ENOMEM, "npz: deflate failed for '%s'", it->name);
        }
    }
    char fname[300];
    snprintf(fname, sizeof fname, "%s.npy", it->name);
    uint16_t nlen = (uint16_t)strlen(fname);
    unsigned char lh[30] = {0};
    wr32(lh, 0x04034b50u);
    wr16(lh + 4, 20);
    wr16(lh + 8, compress ? 8 : 0);
    wr16(lh + 12, 0x21); /* DOS date 1980-01-01 */
    wr32(lh + 14, crc);
    wr32(lh + 18, (uint32_t)csize);
    wr32(lh + 22, (uint32_t)usize);
    wr16(lh + 26, nlen);
    int ok = fwrite(lh, 1, 30, fp) == 30 && fwrite(fname, 1, nlen, fp) == nlen;
    if (compress) ok = ok && fwrite(payload, 1, csize, fp) == csize;
    else ok = ok && fwrite(hdr, 1, hl, fp) == hl && fwrite(it->t.data, 1, dlen, fp) == dlen;
    free(payload);
    if (!ok) return ml_fail(ML_EIO, "npz: write error");
    unsigned char *c = cd + *cdlen;
    memset(c, 0, 46);
    wr32(c, 0x02014b50u);
    wr16(c + 4, 20);
    wr16(c + 6, 20);
    wr16(c + 10, compress ? 8 : 0);
    wr16(c + 14, 0x21);
    wr32(c + 16, crc);
    wr32(c + 20, (uint32_t)csize);
    wr32(c + 24, (uint32_t)usize);
    wr16(c + 28, nlen);
    wr32(c + 42, *off);
    memcpy(c + 46, fname, nlen);
    *cdlen += 46 + nlen;
    if ((uint64_t)*off + 30 + nlen + csize >= 0xffffffffu) return ml_fail(ML_EINVAL, "npz: archives above 4 GiB need ZIP64 (not supported)");
    *off += (uint32_t)(30 + nlen + csize);
    return ML_OK;
}

int ml_npz_save(const char *path, const ml_npz_item *items, int n, int compress)
{
    if (n < 0 || n > 65534) return ml_fail(ML_EINVAL, "npz: %d members (at most 65534)", n);
    for (int i = 0; i < n; i++)
        if (!ml_tensor_is_contiguous(&items[i].t)) return ml_fail(ML_EINVAL, "npz: member '%s' is not contiguous", items[i].name);
    unsigned char *cd = malloc((size_t)n * (46 + 300) + 1);
    if (!cd) return ml_fail(ML_ENOMEM, "npz: out of memory");
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        free(cd);
        return ml_fail(ML_EIO, "cannot open %s for writing: %s", path, strerror(errno));
    }
    size_t cdlen = 0;
    uint32_t off = 0;
    int rc = ML_OK;
    for (int i = 0; i < n && !rc; i++) rc = write_member(fp, &items[i], compress, cd, &cdlen, &off);
    if (!rc) {
        unsigned char e[22] = {0};
        wr32(e, 0x06054b50u);
        wr16(e + 8, (uint16_t)n);
        wr16(e + 10, (uint16_t)n);
        wr32(e + 12, (uint32_t)cdlen);
        wr32(e + 16, off);
        if (fwrite(cd, 1, cdlen, fp) != cdlen || fwrite(e, 1, 22, fp) != 22) rc = ml_fail(ML_EIO, "cannot write %s", path);
    }
    free(cd);
    if (fclose(fp) && !rc) rc = ml_fail(ML_EIO, "cannot write %s", path);
    return rc;
}
