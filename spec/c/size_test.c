/* Checks of moonlab/size.h against plain 128-bit arithmetic (spec/size_spec.lua builds and runs it). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "moonlab/moonlab.h"

static int fails;
#define CHECK(c, ...) do { if (!(c)) { fails++; printf("FAIL line %d: ", __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

int main(void)
{
    const size_t vals[] = {0, 1, 2, 3, 1000, (size_t)1 << 31, (size_t)1 << 32, ((size_t)1 << 32) + 8,
                           SIZE_MAX / 2, SIZE_MAX / 3, SIZE_MAX - 1, SIZE_MAX};
    int n = (int)(sizeof vals / sizeof vals[0]), checked = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            unsigned __int128 p = (unsigned __int128)vals[i] * vals[j], s = (unsigned __int128)vals[i] + vals[j];
            size_t out = 12345;
            int rc = ml_size_mul(vals[i], vals[j], &out);
            if (p > SIZE_MAX) CHECK(rc == ML_ENOMEM && out == 12345 && strstr(ml_errmsg(), "size overflow"), "mul %zu %zu", vals[i], vals[j]);
            else CHECK(rc == ML_OK && out == (size_t)p, "mul %zu %zu", vals[i], vals[j]);
            out = 12345;
            rc = ml_size_add(vals[i], vals[j], &out);
            if (s > SIZE_MAX) CHECK(rc == ML_ENOMEM && out == 12345, "add %zu %zu", vals[i], vals[j]);
            else CHECK(rc == ML_OK && out == (size_t)s, "add %zu %zu", vals[i], vals[j]);
            for (int k = 0; k < n; k += 3) {
                unsigned __int128 p3 = p * vals[k];
                int over = p > SIZE_MAX || (p3 / (vals[k] ? vals[k] : 1) != p && vals[k]) || p3 > SIZE_MAX;
                rc = ml_size_mul3(vals[i], vals[j], vals[k], &out);
                CHECK(over ? rc == ML_ENOMEM : (rc == ML_OK && out == (size_t)p3), "mul3 %zu %zu %zu", vals[i], vals[j], vals[k]);
                checked++;
            }
            checked += 2;
        }
    /* the wrap of issue #13 item 5: 2^60 elements of 16 bytes is 2^64, which wraps to 0 */
    void *p = ml_alloc_array((size_t)1 << 60, 16, "test items");
    CHECK(p == NULL && ml_errcode() == ML_ENOMEM && strstr(ml_errmsg(), "test items"), "alloc 2^60 x 16: %s", ml_errmsg());
    p = ml_alloc_array(((size_t)1 << 40) + 1, 1, "big");
    CHECK(p == NULL && strstr(ml_errmsg(), "more than"), "alloc above the cap: %s", ml_errmsg());
    double *d = ml_calloc_array(1000, sizeof(double), "doubles");
    CHECK(d && d[0] == 0 && d[999] == 0, "calloc 1000");
    free(d);
    void *z = ml_alloc_array(0, 8, "none");
    CHECK(z != NULL, "alloc 0 returns a pointer");
    free(z);
    size_t v;
    CHECK(ml_size_from_i64(-1, 0, 10, "n", &v) == ML_EINVAL && strstr(ml_errmsg(), "n = -1, expected 0..10"), "from_i64 -1: %s", ml_errmsg());
    CHECK(ml_size_from_i64(11, 0, 10, "n", &v) == ML_EINVAL, "from_i64 11");
    CHECK(ml_size_from_i64(7, 0, 10, "n", &v) == ML_OK && v == 7, "from_i64 7");
    printf("size: %d checks, %d failures\n", checked + 7, fails);
    return fails != 0;
}
