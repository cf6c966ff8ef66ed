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
    int isint;
    lua_Integer n = lua_tointegerx(L, 1, &isint);
    if (!isint || n < 1 || n > 4096)
        return mlL_argerror(L, 1, "moonlab.set_threads", "n", "expected an integer in 1..4096, got %s",
                            lua_type(L, 1) == LUA_TNUMBER ? lua_tostring(L, 1) : luaL_typename(L, 1));
    ml_set_threads((int)n);
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

/* bench_gemm(dtype, n, reps) -> {seconds...} of cblas_?gemm called from C. */
static int l_bench_gemm(lua_State *L)
{
    int dt = ml_dtype_parse(luaL_checkstring(L, 1));
    int n = (int)luaL_checkinteger(L, 2), reps = (int)luaL_optinteger(L, 3, 5);
    if (dt < 0 || n < 1 || n > 16384 || reps < 1 || reps > 1000)
        return luaL_error(L, "bench_gemm: expected dtype f32|f64, n in 1..16384, reps in 1..1000");
    double s[1000];
    if (ml_bench_gemm((ml_dtype)dt, n, reps, s)) return mlL_raise(L, "bench_gemm");
    return push_times(L, s, reps);
}

static int l_bench_memcpy(lua_State *L)
{
    lua_Integer bytes = luaL_checkinteger(L, 1);
    int reps = (int)luaL_optinteger(L, 2, 5);
    if (bytes < 1 || reps < 1 || reps > 1000) return luaL_error(L, "bench_memcpy: bad sizes");
    double s[1000];
    if (ml_bench_memcpy((size_t)bytes, reps, s)) return mlL_raise(L, "bench_memcpy");
    return push_times(L, s, reps);
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
                                     {"now", l_now},
                                     {"peak_rss_kib", l_peak_rss},
                                     {NULL, NULL}};

void mlL_open_runtime(lua_State *L)
{
    luaL_setfuncs(L, functions, 0);
    lua_pushstring(L, ML_VERSION);
    lua_setfield(L, -2, "version");
}
