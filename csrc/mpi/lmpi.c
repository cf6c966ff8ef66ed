/* moonlab.mpi_core: a thin Lua binding of MPI for sweeps across ranks (rank, size, send/recv of strings, probe,
 * barrier, allreduce of numbers, abort). Built with mpicc into its own module (build/lua/moonlab/mpi_core.so) so
 * that core.so never depends on MPI; lua/moonlab/mpi.lua wraps it. MPI is initialised when the module is loaded
 * and finalised when the Lua state closes or the process exits (only in the process that initialised it, so a
 * forked sweep worker leaving with exit() does not finalise its parent's MPI). */
#include <mpi.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <lua.h>
#include <lauxlib.h>

/* luaL_error without the position: messages start with the public name ("mpi.iprobe: ..."), never
 * "mpi.lua:77: mpi.iprobe: ..." (luaL_error names the line of the Lua wrapper that called). */
static int plain_error(lua_State *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    return lua_error(L);
}

static pid_t owner;      /* the process that called MPI_Init */
static int we_initialised;

static void finalize_once(void)
{
    int init = 0, fin = 0;
    if (!we_initialised || getpid() != owner) return;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin) MPI_Finalize();
}

static int check_live(lua_State *L, const char *fname)
{
    int fin = 0;
    MPI_Finalized(&fin);
    if (fin) return plain_error(L, "%s: MPI was already finalised", fname);
    return 0;
}

static int mpi_error(lua_State *L, const char *fname, int rc)
{
    char msg[MPI_MAX_ERROR_STRING];
    int n = 0;
    MPI_Error_string(rc, msg, &n);
    return plain_error(L, "%s: %s", fname, msg);
}

static int l_rank(lua_State *L)
{
    int r;
    check_live(L, "mpi.rank");
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    lua_pushinteger(L, r);
    return 1;
}

static int l_size(lua_State *L)
{
    int s;
    check_live(L, "mpi.size");
    MPI_Comm_size(MPI_COMM_WORLD, &s);
    lua_pushinteger(L, s);
    return 1;
}

static int check_rank(lua_State *L, int idx, const char *fname, int any)
{
    lua_Integer r = any ? luaL_optinteger(L, idx, -1) : luaL_checkinteger(L, idx);
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (any && r == -1) return MPI_ANY_SOURCE;
    if (r < 0 || r >= size)
        return plain_error(L, "%s: bad argument #%d 'rank': expected 0..%d%s, got %d", fname, idx, size - 1,
                          any ? " or -1 (any)" : "", (int)r);
    return (int)r;
}

static int check_tag(lua_State *L, int idx, const char *fname, int any)
{
    lua_Integer t = any ? luaL_optinteger(L, idx, -1) : luaL_optinteger(L, idx, 0);
    if (any && t == -1) return MPI_ANY_TAG;
    if (t < 0 || t > 32767)
        return plain_error(L, "%s: bad argument #%d 'tag': expected 0..32767%s, got %d", fname, idx,
                          any ? " or -1 (any)" : "", (int)t);
    return (int)t;
}

/* send(dest, s, [tag = 0]): blocking send of a string. */
static int l_send(lua_State *L)
{
    check_live(L, "mpi.send");
    int dest = check_rank(L, 1, "mpi.send", 0);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    int tag = check_tag(L, 3, "mpi.send", 0);
    if (n > (size_t)0x7fffffff) return plain_error(L, "mpi.send: message of %I bytes exceeds 2 GiB", (lua_Integer)n);
    int rc = MPI_Send(s, (int)n, MPI_BYTE, dest, tag, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_error(L, "mpi.send", rc);
    return 0;
}

/* Pushes src, tag and byte count of a probed message. */
static int push_probed(lua_State *L, MPI_Status *st)
{
    int n;
    MPI_Get_count(st, MPI_BYTE, &n);
    lua_pushinteger(L, st->MPI_SOURCE);
    lua_pushinteger(L, st->MPI_TAG);
    lua_pushinteger(L, n);
    return 3;
}

/* probe([src = any], [tag = any]) -> src, tag, bytes (blocking). */
static int l_probe(lua_State *L)
{
    check_live(L, "mpi.probe");
    int src = check_rank(L, 1, "mpi.probe", 1), tag = check_tag(L, 2, "mpi.probe", 1);
    MPI_Status st;
    int rc = MPI_Probe(src, tag, MPI_COMM_WORLD, &st);
    if (rc != MPI_SUCCESS) return mpi_error(L, "mpi.probe", rc);
    return push_probed(L, &st);
}

/* iprobe([src], [tag]) -> src, tag, bytes | nil when no message is waiting. */
static int l_iprobe(lua_State *L)
{
    check_live(L, "mpi.iprobe");
    int src = check_rank(L, 1, "mpi.iprobe", 1), tag = check_tag(L, 2, "mpi.iprobe", 1), flag = 0;
    MPI_Status st;
    int rc = MPI_Iprobe(src, tag, MPI_COMM_WORLD, &flag, &st);
    if (rc != MPI_SUCCESS) return mpi_error(L, "mpi.iprobe", rc);
    if (!flag) return 0;
    return push_probed(L, &st);
}

/* recv([src = any], [tag = any]) -> s, src, tag (blocking). */
static int l_recv(lua_State *L)
{
    check_live(L, "mpi.recv");
    int src = check_rank(L, 1, "mpi.recv", 1), tag = check_tag(L, 2, "mpi.recv", 1), n;
    MPI_Status st;
    int rc = MPI_Probe(src, tag, MPI_COMM_WORLD, &st);
    if (rc != MPI_SUCCESS) return mpi_error(L, "mpi.recv", rc);
    MPI_Get_count(&st, MPI_BYTE, &n);
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, (size_t)n);
    rc = MPI_Recv(p, n, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return mpi_error(L, "mpi.recv", rc);
    luaL_pushresultsize(&b, (size_t)n);
    lua_pushinteger(L, st.MPI_SOURCE);
    lua_pushinteger(L, st.MPI_TAG);
    return 3;
}

static int l_barrier(lua_State *L)
{
    check_live(L, "mpi.barrier");
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_error(L, "mpi.barrier", rc);
    return 0;
}

/* allreduce(x, [op = "sum"]) with x a number or a list of numbers; op sum|max|min|prod. */
static int l_allreduce(lua_State *L)
{
    check_live(L, "mpi.allreduce");
    static const char *const ops[] = {"sum", "max", "min", "prod", NULL};
    int op = luaL_checkoption(L, 2, "sum", ops);
    MPI_Op o = op == 0 ? MPI_SUM : op == 1 ? MPI_MAX : op == 2 ? MPI_MIN : MPI_PROD;
    int scalar = lua_type(L, 1) == LUA_TNUMBER;
    if (!scalar && !lua_istable(L, 1))
        return plain_error(L, "mpi.allreduce: bad argument #1 'x': expected a number or a list of numbers, got %s",
                          luaL_typename(L, 1));
    lua_Integer n = scalar ? 1 : luaL_len(L, 1);
    if (n < 1 || n > 1 << 24) return plain_error(L, "mpi.allreduce: bad argument #1 'x': expected 1..2^24 numbers");
    double *buf = lua_newuserdatauv(L, sizeof(double) * 2 * (size_t)n, 0);
    for (lua_Integer i = 0; i < n; i++) {
        if (scalar) buf[i] = lua_tonumber(L, 1);
        else {
            lua_rawgeti(L, 1, i + 1);
            int isnum;
            buf[i] = lua_tonumberx(L, -1, &isnum);
            if (!isnum) return plain_error(L, "mpi.allreduce: bad argument #1 'x': element %d is not a number", (int)i + 1);
            lua_pop(L, 1);
        }
    }
    int rc = MPI_Allreduce(buf, buf + n, (int)n, MPI_DOUBLE, o, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_error(L, "mpi.allreduce", rc);
    if (scalar) {
        lua_pushnumber(L, buf[1]);
        return 1;
    }
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 0; i < n; i++) lua_pushnumber(L, buf[n + i]), lua_rawseti(L, -2, i + 1);
    return 1;
}

static int l_abort(lua_State *L)
{
    MPI_Abort(MPI_COMM_WORLD, (int)luaL_optinteger(L, 1, 1));
    return 0;
}

static int l_finalize(lua_State *L)
{
    (void)L;
    finalize_once();
    return 0;
}

/* skip_finalize(): MPI_Finalize will not be called at exit (after ranks died, finalising can wait forever). */
static int l_skip_finalize(lua_State *L)
{
    (void)L;
    we_initialised = 0;
    return 0;
}

static int l_wtime(lua_State *L)
{
    lua_pushnumber(L, MPI_Wtime());
    return 1;
}

static int l_processor(lua_State *L)
{
    char name[MPI_MAX_PROCESSOR_NAME];
    int n = 0;
    MPI_Get_processor_name(name, &n);
    lua_pushlstring(L, name, (size_t)n);
    return 1;
}

static int l_gc(lua_State *L)
{
    (void)L;
    finalize_once();
    return 0;
}

int luaopen_moonlab_mpi_core(lua_State *L)
{
    int init = 0;
    MPI_Initialized(&init);
    if (!init) {
        if (MPI_Init(NULL, NULL) != MPI_SUCCESS) return plain_error(L, "moonlab.mpi: MPI_Init failed");
        owner = getpid();
        we_initialised = 1;
        atexit(finalize_once);
    }
    /* a registry sentinel finalises MPI when the Lua state closes */
    lua_newuserdatauv(L, 1, 0);
    lua_newtable(L);
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, "moonlab.mpi.sentinel");
    static const luaL_Reg f[] = {
        {"rank", l_rank},         {"size", l_size},       {"send", l_send},   {"recv", l_recv},
        {"probe", l_probe},       {"iprobe", l_iprobe},   {"barrier", l_barrier}, {"allreduce", l_allreduce},
        {"abort", l_abort},       {"finalize", l_finalize}, {"wtime", l_wtime}, {"processor_name", l_processor},
        {"skip_finalize", l_skip_finalize},
        {NULL, NULL}};
    luaL_newlib(L, f);
    return 1;
}
