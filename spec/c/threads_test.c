/* Separate Lua states in separate OS threads use moonlab at the same time with results equal to a
 * single-threaded run (docs/moonlab.md, "Thread safety"). Built and run by spec/threads_spec.lua. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define NTHREADS 2
#define ROUNDS 3

static const char *script =
    "local ml = require 'moonlab'\n"
    "local T = ml.tensor\n"
    "ml.set_threads(2)\n"
    "local q = T.randn({1, 2, 64, 16}, {seed = 5})\n"
    "local out, ex = ml.attn.sdpa(q, q, q, {causal = true})\n"
    "local a = T.randn({40, 30}, {seed = 6})\n"
    "local f = ml.laplace.invert(function(re, im) local d = (re + 1)^2 + im^2 return (re + 1) / d, -im / d end,\n"
    "                            T.linspace(0.5, 3, 6), {method = 'dehoog'})\n"
    "local ok, err = pcall(T.zeros, {-1})\n"
    "return string.format('%.17g %.17g %.17g %.17g %s', out:sum(), ex.lse:sum(), a:matmul(a:transpose()):sum(),\n"
    "                     f:sum(), err)\n";

typedef struct { char result[512]; int ok; } job;

static void run(job *j)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    if (luaL_loadstring(L, script) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
        snprintf(j->result, sizeof j->result, "error: %s", lua_tostring(L, -1));
        j->ok = 0;
    } else {
        snprintf(j->result, sizeof j->result, "%s", lua_tostring(L, -1));
        j->ok = 1;
    }
    lua_close(L);
}

static void *thread_main(void *arg)
{
    job *jobs = arg;
    for (int r = 0; r < ROUNDS; r++) run(&jobs[r]);
    return NULL;
}

int main(void)
{
    job ref;
    run(&ref);
    printf("single: %s\n", ref.result);
    if (!ref.ok) return 1;
    job jobs[NTHREADS][ROUNDS];
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) pthread_create(&th[i], NULL, thread_main, jobs[i]);
    for (int i = 0; i < NTHREADS; i++) pthread_join(th[i], NULL);
    int diff = 0;
    for (int i = 0; i < NTHREADS; i++)
        for (int r = 0; r < ROUNDS; r++)
            if (!jobs[i][r].ok || strcmp(jobs[i][r].result, ref.result)) {
                printf("thread %d round %d: %s\n", i, r, jobs[i][r].result);
                diff++;
            }
    printf("threads: %d states in %d threads, %d differ from the single-threaded run\n", NTHREADS * ROUNDS,
           NTHREADS, diff);
    return diff != 0;
}
