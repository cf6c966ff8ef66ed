/* Mesh writers: ASCII PLY (vertex + face lists) and Wavefront OBJ (1-based faces). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "sdf_internal.h"

static int check_faces(const int64_t *f, int64_t nf, int64_t nv)
{
    for (int64_t i = 0; i < 3 * nf; i++)
        if (f[i] < 0 || f[i] >= nv) return ml_fail(ML_EINVAL, "face %lld names vertex %lld of %lld", (long long)(i / 3 + 1),
                                                    (long long)f[i] + 1, (long long)nv);
    return ML_OK;
}

static FILE *open_w(const char *path)
{
    FILE *fp = fopen(path, "w");
    if (!fp) ml_fail(ML_EIO, "cannot write '%s': %s", path, strerror(errno));
    return fp;
}

static int close_w(FILE *fp, const char *path)
{
    int bad = ferror(fp);
    if (fclose(fp) != 0 || bad) return ml_fail(ML_EIO, "error writing '%s'", path);
    return ML_OK;
}

int ml_sdf_save_ply(const char *path, const double *v, int64_t nv, const int64_t *f, int64_t nf)
{
    int rc = check_faces(f, nf, nv);
    if (rc != ML_OK) return rc;
    FILE *fp = open_w(path);
    if (!fp) return ML_EIO;
    fprintf(fp, "ply\nformat ascii 1.0\ncomment moonlab sdf mesh\nelement vertex %lld\nproperty float x\n"
                "property float y\nproperty float z\nelement face %lld\nproperty list uchar int vertex_indices\n"
                "end_header\n", (long long)nv, (long long)nf);
    for (int64_t i = 0; i < nv; i++) fprintf(fp, "%.9g %.9g %.9g\n", v[3 * i], v[3 * i + 1], v[3 * i + 2]);
    for (int64_t i = 0; i < nf; i++)
        fprintf(fp, "3 %lld %lld %lld\n", (long long)f[3 * i], (long long)f[3 * i + 1], (long long)f[3 * i + 2]);
    return close_w(fp, path);
}

int ml_sdf_save_obj(const char *path, const double *v, int64_t nv, const int64_t *f, int64_t nf)
{
    int rc = check_faces(f, nf, nv);
    if (rc != ML_OK) return rc;
    FILE *fp = open_w(path);
    if (!fp) return ML_EIO;
    fprintf(fp, "# moonlab sdf mesh: %lld vertices, %lld faces\n", (long long)nv, (long long)nf);
    for (int64_t i = 0; i < nv; i++) fprintf(fp, "v %.9g %.9g %.9g\n", v[3 * i], v[3 * i + 1], v[3 * i + 2]);
    for (int64_t i = 0; i < nf; i++)
        fprintf(fp, "f %lld %lld %lld\n", (long long)f[3 * i] + 1, (long long)f[3 * i + 1] + 1, (long long)f[3 * i + 2] + 1);
    return close_w(fp, path);
}
