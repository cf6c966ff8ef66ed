/* Embedding moonlab from C: the C API directly, then a Lua 5.4 state running a moonlab script.
 * Build: make (writes build/embed). Run: build/embed [script.lua]
 * The Lua part finds the moonlab modules through LUA_PATH / LUA_CPATH as usual. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <moonlab/moonlab.h>

static int failures;

static void check(int ok, const char *what)
{
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok) failures++;
}

static void c_api(void)
{
    ml_info info;
    ml_get_info(&info);
    printf("moonlab %s, BLAS kernel %s, %d threads\n", info.version, info.blas_core, info.omp_threads);

    /* matmul through cblas against a plain triple loop */
    int64_t sa[2] = {3, 4}, sb[2] = {4, 2}, sc[2] = {3, 2};
    ml_tensor *a = ml_tensor_new(ML_F64, 2, sa), *b = ml_tensor_new(ML_F64, 2, sb),
              *c = ml_tensor_new(ML_F64, 2, sc);
    if (!a || !b || !c) {
        printf("FAIL allocation: %s\n", ml_errmsg());
        exit(1);
    }
    ml_tensor_randn(a, 1, 0.0, 1.0);
    ml_tensor_randn(b, 2, 0.0, 1.0);
    check(ml_tensor_matmul(a, b, c) == ML_OK, "ml_tensor_matmul returns ML_OK");
    double err = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) {
            double s = 0;
            for (int k = 0; k < 4; k++) s += ml_f64(a)[i * 4 + k] * ml_f64(b)[k * 2 + j];
            err = fmax(err, fabs(s - ml_f64(c)[i * 2 + j]));
        }
    check(err < 1e-13, "matmul matches a triple loop");

    /* errors are status codes with a per-thread message */
    int rc = ml_tensor_matmul(a, a, c);
    check(rc == ML_EINVAL, "shape mismatch gives ML_EINVAL");
    printf("     message: %s\n", ml_errmsg());

    /* .npy round trip */
    const char *path = "/tmp/moonlab_embed_roundtrip.npy";
    ml_tensor back;
    check(ml_npy_save(path, c) == ML_OK && ml_npy_load(path, &back) == ML_OK, "npy save + load");
    int same = back.numel == c->numel;
    for (int64_t i = 0; same && i < c->numel; i++) same = ml_f64(&back)[i] == ml_f64(c)[i];
    check(same, "npy round trip is bit-exact");
    ml_tensor_release(&back);
    remove(path);

    /* aliases keep the storage alive after the original is freed */
    ml_tensor view;
    int64_t flat[1] = {12};
    ml_tensor_alias(&view, a, 1, flat);
    double first = ml_f64(a)[0];
    ml_tensor_free(a);
    check(ml_f64(&view)[0] == first, "alias outlives the tensor it was made from");
    ml_tensor_release(&view);
    ml_tensor_free(b);
    ml_tensor_free(c);
}

static const char *default_script =
    "local ml = require 'moonlab'\n"
    "local T = ml.tensor\n"
    "local x = T.linspace(0, 1, 5)\n"
    "local s = (x * x):sum()\n"
    "assert(math.abs(s - 1.875) < 1e-14, 'sum of squares')\n"
    "print(('lua: moonlab %s, sum of squares %.4f'):format(ml.version, s))\n";

static int lua_part(const char *script)
{
    lua_State *L = luaL_newstate();
    if (!L) return 1;
    luaL_openlibs(L);
    int rc = script ? luaL_dofile(L, script) : luaL_dostring(L, default_script);
    if (rc != LUA_OK) printf("FAIL lua: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return rc != LUA_OK;
}

int main(int argc, char **argv)
{
    c_api();
    check(lua_part(argc > 1 ? argv[1] : NULL) == 0, "embedded Lua state runs a moonlab script");
    printf("embed: %d failure%s\n", failures, failures == 1 ? "" : "s");
    return failures ? 1 : 0;
}
