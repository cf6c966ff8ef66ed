/* 8-bit PNG output through libpng (grey, RGB or RGBA; values in [0,1] clamped, NaN written as 0). */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sdf_internal.h"

int ml_sdf_save_png(const char *path, const double *img, int h, int w, int c)
{
    if (h <= 0 || w <= 0 || h > 65536 || w > 65536) return ml_fail(ML_EINVAL, "image size %dx%d out of range", h, w);
    if (c != 1 && c != 3 && c != 4) return ml_fail(ML_EINVAL, "expected 1, 3 or 4 channels, got %d", c);
    unsigned char *row = malloc((size_t)w * (size_t)c);
    if (!row) return ml_fail(ML_ENOMEM, "save_png: out of memory");
    FILE *fp = fopen(path, "wb");
    if (!fp) { free(row); return ml_fail(ML_EIO, "cannot write '%s': %s", path, strerror(errno)); }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        fclose(fp); free(row);
        return ml_fail(ML_ENOMEM, "save_png: libpng could not start");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(fp); free(row);
        return ml_fail(ML_EIO, "error writing '%s'", path);
    }
    png_init_io(png, fp);
    int ct = c == 1 ? PNG_COLOR_TYPE_GRAY : (c == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGBA);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, ct, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int i = 0; i < h; i++) {
        const double *src = img + (size_t)i * w * c;
        for (size_t k = 0; k < (size_t)w * c; k++) {
            double v = src[k];
            v = isnan(v) ? 0 : (v < 0 ? 0 : (v > 1 ? 1 : v));
            row[k] = (unsigned char)lrint(v * 255.0);
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    if (fclose(fp) != 0) return ml_fail(ML_EIO, "error writing '%s'", path);
    return ML_OK;
}
