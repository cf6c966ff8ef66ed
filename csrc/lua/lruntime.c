/* Lua binding of library information, threads and benchmark reference timings. */
#include <sys/resource.h>
#include "moonlab/bench.h"
#include "moonlab/cpu.h"
#include "moonlab/runtime.h"
#include "mlua.h"

static int l_info(lua_State *L)
{
    ml_info in;
    ml_get_info(&in);
    lua_createtable(L, 0, 12);
    lua_pushstring(L, in.version), lua_setfield(L, -2, "version");
    lua_pushstring(L, LUA_RELEASE), lua_setfield(L, -2, "lua");
    lua_pushstring(L, in.blas), lua_setfield(L, -2, "blas");
    lua_pushstring(L, in.blas_core), lua_setfield(L, -2, "blas_core");
    lua_pushstring(L, in.lapack), lua_setfield(L, -2, "lapack");
    lua_pushstring(L, in.fftw), lua_setfield(L, -2, "fftw");
    lua_pushinteger(L, in.omp_threads), lua_setfield(L, -2, "threads");
    lua_pushinteger(L, in.blas_threads), lua_setfield(L, -2, "blas_threads");
    lua_pushboolean(L, in.cpu_avx2), lua_setfield(L, -2, "cpu_avx2");
    lua_pushboolean(L, in.cpu_avx512), lua_setfield(L, -2, "cpu_avx512");
    lua_pushboolean(L, in.blas_generic), lua_setfield(L, -2, "blas_generic");
    lua_pushstring(L, ml_isa_name(ml_cpu_isa())), lua_setfield(L, -2, "isa");
    if (in.blas_generic) lua_pushstring(L, in.coretype_hint), lua_setfield(L, -2, "coretype_hint");
    return 1;
}

static int l_set_threads(lua_State *L)
{
    ml_set_threads((int)mlL_checkinteger(L, 1, "moonlab.set_threads", "n", 1, 4096));
    return 0;
}

static int l_get_threads(lua_State *L)
{
    lua_pushinteger(L, ml_get_threads());
    return 1;
}

static int push_times(lua_State *L, const double *s, int reps)
{
    lua_createtable(L, reps, 0);
    for (int i = 0; i < reps; i++) lua_pushnumber(L, s[i]), lua_rawseti(L, -2, i + 1);
    return 1;
}

/* The public name for errors: the moonlab function the user called (bench.gemm_gflops wraps these). */
static const char *caller(lua_State *L, const char *fallback)
{
    const char *n = mlL_public_name(L);
    return n ? n : fallback;
}

/* bench_gemm(dtype, n, reps) -> {seconds...} of cblas_?gemm called from C. */
static int l_bench_gemm(lua_State *L)
{
    const char *fn = caller(L, "bench.gemm_gflops");
    const char *dts = mlL_checkstring(L, 1, fn, "dtype");
    int dt = ml_dtype_parse(dts);
    if (dt != ML_F32 && dt != ML_F64) return mlL_argerror(L, 1, fn, "dtype", "expected 'f32' or 'f64', got '%s'", dts);
    int n = (int)mlL_checkinteger(L, 2, fn, "n", 1, 16384);
    int reps = (int)mlL_optinteger(L, 3, fn, "runs", 1, 1000, 5);
    double s[1000];
    if (ml_bench_gemm((ml_dtype)dt, n, reps, s)) return mlL_raise(L, fn);
    return push_times(L, s, reps);
}

static int l_bench_memcpy(lua_State *L)
{
    const char *fn = caller(L, "bench.memcpy_gbs");
    lua_Integer bytes = mlL_checkinteger(L, 1, fn, "bytes", 1, (lua_Integer)1 << 36);
    int reps = (int)mlL_optinteger(L, 2, fn, "runs", 1, 1000, 5);
    double s[1000];
    if (ml_bench_memcpy((size_t)bytes, reps, s)) return mlL_raise(L, fn);
    return push_times(L, s, reps);
}

/* bench_read(tensor, threads, reps, streams) -> {seconds...}, bytes: a plain SIMD read of the tensor's bytes. */
static int l_bench_read(lua_State *L)
{
    const char *fn = caller(L, "bench.read_gbs");
    ml_tensor *t = mlL_checktensor(L, 1, fn, "t");
    int threads = (int)mlL_checkinteger(L, 2, fn, "threads", 1, 4096);
    int reps = (int)mlL_optinteger(L, 3, fn, "runs", 1, 1000, 5);
    int streams = (int)mlL_optinteger(L, 4, fn, "streams", 1, 64, 1);
    double s[1000];
    size_t bytes = (size_t)t->numel * ml_dtype_size(t->dtype);
    if (ml_bench_read(t->data, bytes, threads, streams, reps, s)) return mlL_raise(L, fn);
    push_times(L, s, reps);
    lua_pushinteger(L, (lua_Integer)bytes);
    return 2;
}

static int l_now(lua_State *L)
{
    lua_pushnumber(L, ml_bench_now());
    return 1;
}

static int l_peak_rss(lua_State *L)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    lua_pushinteger(L, ru.ru_maxrss); /* KiB on Linux */
    return 1;
}

static const luaL_Reg functions[] = {{"info", l_info},
                                     {"set_threads", l_set_threads},
                                     {"get_threads", l_get_threads},
                                     {"bench_gemm", l_bench_gemm},
                                     {"bench_memcpy", l_bench_memcpy},
                                     {"bench_read", l_bench_read},
                                     {"now", l_now},
                                     {"peak_rss_kib", l_peak_rss},
                                     {NULL, NULL}};

void mlL_open_runtime(lua_State *L)
{
    luaL_setfuncs(L, functions, 0);
    lua_pushstring(L, ML_VERSION);
    lua_setfield(L, -2, "version");
}
