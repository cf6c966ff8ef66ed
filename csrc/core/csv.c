/* CSV of 2-D tensors: one row per line, an optional header line of names. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "moonlab/tensor.h"

#define MAXCOLS 100000

/* Splits line at delim (double-quoted fields may contain delim; "" is a quote); NUL-terminates fields in place.
 * *fields (capacity *cap) grows as needed up to MAXCOLS; returns the field count, -1 beyond MAXCOLS, -2 when out
 * of memory. */
static int split(char *line, char delim, char ***fields_io, int *cap)
{
    int n = 0;
    char *p = line;
    char **fields = *fields_io;
    for (;;) {
        if (n == *cap) {
            if (*cap >= MAXCOLS) return -1;
            int nc = *cap * 4 < MAXCOLS ? *cap * 4 : MAXCOLS;
            char **g = realloc(fields, (size_t)nc * sizeof *g);
            if (!g) return -2;
            *fields_io = fields = g;
            *cap = nc;
        }
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '"') {
            char *w = ++p;
            fields[n++] = w;
            while (*p && !(*p == '"' && p[1] != '"')) {
                if (*p == '"') p++;
                *w++ = *p++;
            }
            if (*p == '"') p++;
            while (*p && *p != delim) p++;
            char *end = p;
            int last = !*p;
            *w = '\0';
            if (last) return n;
            p = end + 1;
            continue;
        }
        fields[n++] = p;
        while (*p && *p != delim) p++;
        if (!*p) return n;
        *p++ = '\0';
    }
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = '\0';
}

int ml_csv_read(const char *path, char delim, int header, ml_dtype dt, ml_tensor *out, char ***names_out, int *ncols_out)
{
    memset(out, 0, sizeof *out);
    if (names_out) *names_out = NULL;
    FILE *fp = fopen(path, "r");
    if (!fp) return ml_fail(ML_EIO, "cannot open %s: %s", path, strerror(errno));
    int fcap = 64;
    char *line = NULL, **fields = malloc((size_t)fcap * sizeof *fields), **names = NULL;
    size_t cap = 0;
    double *vals = NULL;
    int64_t nv = 0, vcap = 0, rows = 0, lineno = 0;
    int ncols = -1, rc = ML_OK;
    if (!fields) {
        fclose(fp);
        return ml_fail(ML_ENOMEM, "out of memory reading %s", path);
    }
    while (getline(&line, &cap, fp) >= 0) {
        lineno++;
        chomp(line);
        if (!line[0]) continue; /* blank lines are skipped */
        int n = split(line, delim, &fields, &fcap);
        if (n == -2) {
            rc = ml_fail(ML_ENOMEM, "out of memory reading %s", path);
            break;
        }
        if (n < 0) {
            rc = ml_fail(ML_EFORMAT, "%s: line %lld has more than %d columns", path, (long long)lineno, MAXCOLS);
            break;
        }
        if (ncols < 0) ncols = n;
        else if (n != ncols) {
            rc = ml_fail(ML_EFORMAT, "%s: line %lld has %d columns, expected %d", path, (long long)lineno, n, ncols);
            break;
        }
        if (header && !names) {
            names = calloc((size_t)n, sizeof *names);
            if (!names) {
                rc = ml_fail(ML_ENOMEM, "out of memory reading %s", path);
                break;
            }
            for (int j = 0; j < n; j++)
                if (!(names[j] = strdup(fields[j]))) rc = ml_fail(ML_ENOMEM, "out of memory reading %s", path);
            if (rc) break;
            continue;
        }
        if (nv + n > vcap) {
            int64_t nc = vcap ? vcap * 2 : 4096;
            while (nc < nv + n) nc *= 2;
            double *nvp = realloc(vals, (size_t)nc * sizeof *vals);
            if (!nvp) {
                rc = ml_fail(ML_ENOMEM, "out of memory reading %s", path);
                break;
            }
            vals = nvp;
            vcap = nc;
        }
        for (int j = 0; j < n; j++) {
            char *f = fields[j], *end;
            while (*f == ' ') f++;
            double v;
            if (!*f) v = NAN;
            else {
                errno = 0;
                v = strtod(f, &end);
                while (*end == ' ' || *end == '\t') end++;
                if (end == f || *end) {
                    rc = ml_fail(ML_EFORMAT, "%s: line %lld, column %d: '%s' is not a number", path, (long long)lineno, j + 1, fields[j]);
                    break;
                }
            }
            vals[nv++] = v;
        }
        if (rc) break;
        rows++;
    }
    free(line);
    free(fields);
    fclose(fp);
    if (!rc && ncols < 0) rc = ml_fail(ML_EFORMAT, "%s: no data", path);
    if (!rc) {
        int64_t shape[2] = {rows, ncols};
        rc = ml_tensor_init0(out, dt, 2, shape);
        for (int64_t i = 0; !rc && i < nv; i++) {
            double v = vals[i];
            if (!ml_dtype_is_float(dt) && dt != ML_BOOL && (!isfinite(v) || v != floor(v))) {
                rc = ml_fail(ML_EFORMAT, "%s: row %lld, column %lld: %g is not an integer for dtype %s", path,
                             (long long)(i / ncols + 1), (long long)(i % ncols + 1), v, ml_dtype_name(dt));
                ml_tensor_release(out);
                break;
            }
            ml_tensor_setd(out, i, v);
        }
    }
    free(vals);
    if (rc || !names_out) {
        if (names)
            for (int j = 0; j < ncols; j++) free(names[j]);
        free(names);
    } else {
        *names_out = names;
    }
    if (ncols_out) *ncols_out = ncols;
    return rc;
}

static void put_field(FILE *fp, const char *s, char delim)
{
    if (!strchr(s, delim) && !strchr(s, '"') && !strchr(s, '\n')) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"') fputc('"', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

int ml_csv_write(const char *path, const ml_tensor *t, char delim, const char *const *names)
{
    if (t->ndim != 2) return ml_fail(ML_EINVAL, "csv: expected a 2-D tensor, got %d dims", t->ndim);
    FILE *fp = fopen(path, "w");
    if (!fp) return ml_fail(ML_EIO, "cannot open %s for writing: %s", path, strerror(errno));
    int64_t r = t->shape[0], c = t->shape[1];
    size_t es = ml_dtype_size(t->dtype);
    if (names) {
        for (int64_t j = 0; j < c; j++) {
            if (j) fputc(delim, fp);
            put_field(fp, names[j], delim);
        }
        fputc('\n', fp);
    }
    for (int64_t i = 0; i < r; i++) {
        for (int64_t j = 0; j < c; j++) {
            const char *p = (const char *)t->data + (i * t->strides[0] + j * t->strides[1]) * (int64_t)es;
            if (j) fputc(delim, fp);
            switch (t->dtype) {
            case ML_F32: fprintf(fp, "%.9g", ml_load_d(t->dtype, p)); break;
            case ML_F64: fprintf(fp, "%.17g", ml_load_d(t->dtype, p)); break;
            default: fprintf(fp, "%lld", (long long)ml_load_i(t->dtype, p)); break;
            }
        }
        fputc('\n', fp);
    }
    if (ferror(fp) | fclose(fp)) return ml_fail(ML_EIO, "cannot write %s", path);
    return ML_OK;
}
