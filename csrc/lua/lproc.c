/* Lua binding of the POSIX process facilities the sweep's worker pool needs and Lua 5.4 lacks:
 * fork, pipes with length-prefixed messages, poll, waitpid, kill, _exit, clocks, host name, cores.
 * Registered as core.proc (used by lua/moonlab/sweep.lua; not a public module). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sched.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include "mlua.h"

#define PROC_MAX_MSG ((uint64_t)1 << 34) /* 16 GiB: larger frames are treated as corrupt */

static int push_errno(lua_State *L, const char *what)
{
    int e = errno;
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", what, strerror(e));
    return 2;
}

/* fork() -> pid in the parent, 0 in the child. The child dies with its parent (PR_SET_PDEATHSIG) and
 * ignores SIGINT (the parent handles Ctrl-C and stops its workers). Stdio is flushed first. */
static int l_fork(lua_State *L)
{
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return push_errno(L, "fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(0); /* the parent died before prctl */
        signal(SIGINT, SIG_IGN);
        signal(SIGPIPE, SIG_DFL);
    }
    lua_pushinteger(L, pid);
    return 1;
}

/* pipe() -> rfd, wfd (close-on-exec). */
static int l_pipe(lua_State *L)
{
    int fd[2];
    if (pipe2(fd, O_CLOEXEC) != 0) return push_errno(L, "pipe");
    lua_pushinteger(L, fd[0]);
    lua_pushinteger(L, fd[1]);
    return 2;
}

static int l_close(lua_State *L)
{
    close((int)luaL_checkinteger(L, 1));
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w, n -= (size_t)w;
    }
    return 0;
}

/* 1 on success, 0 on end of file before n bytes, -1 on error. */
static int read_all(int fd, char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) return 0;
        p += r, n -= (size_t)r;
    }
    return 1;
}

/* send(fd, s) -> true | nil, err: writes an 8-byte length then s. */
static int l_send(lua_State *L)
{
    int fd = (int)luaL_checkinteger(L, 1);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    uint64_t len = n;
    if (write_all(fd, (const char *)&len, sizeof len) || write_all(fd, s, n)) return push_errno(L, "send");
    lua_pushboolean(L, 1);
    return 1;
}

/* recv(fd) -> s | nil, "eof" | nil, err: reads one message written by send (blocking). */
static int l_recv(lua_State *L)
{
    int fd = (int)luaL_checkinteger(L, 1);
    uint64_t len;
    int r = read_all(fd, (char *)&len, sizeof len);
    if (r < 0) return push_errno(L, "recv");
    if (r == 0 || len > PROC_MAX_MSG) {
        lua_pushnil(L);
        lua_pushstring(L, "eof");
        return 2;
    }
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, (size_t)len);
    r = read_all(fd, p, (size_t)len);
    if (r <= 0) {
        lua_pushnil(L);
        lua_pushstring(L, r == 0 ? "eof" : strerror(errno));
        return 2;
    }
    luaL_pushresultsize(&b, (size_t)len);
    return 1;
}

/* poll({fd...}, timeout_s) -> {fd...} readable or closed (empty on timeout or signal). */
static int l_poll(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    double tmo = luaL_optnumber(L, 2, -1);
    int n = (int)luaL_len(L, 1);
    if (n < 0 || n > 65536) return luaL_error(L, "proc.poll: too many descriptors");
    struct pollfd *pf = lua_newuserdatauv(L, sizeof(struct pollfd) * (size_t)(n > 0 ? n : 1), 0);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, 1, i + 1);
        pf[i].fd = (int)lua_tointeger(L, -1);
        pf[i].events = POLLIN;
        pf[i].revents = 0;
        lua_pop(L, 1);
    }
    int ms = tmo < 0 ? -1 : tmo > 86400.0 ? 86400000 : (int)(tmo * 1000.0 + 0.999);
    int r = poll(pf, (nfds_t)n, ms);
    lua_createtable(L, r > 0 ? r : 0, 0);
    int k = 0;
    for (int i = 0; r > 0 && i < n; i++)
        if (pf[i].revents) lua_pushinteger(L, pf[i].fd), lua_rawseti(L, -2, ++k);
    return 1;
}

/* waitpid(pid, [nohang]) -> pid, "exited"|"signaled", code | 0 when still running | nil, err. */
static int l_waitpid(lua_State *L)
{
    pid_t pid = (pid_t)luaL_checkinteger(L, 1);
    int st, flags = lua_toboolean(L, 2) ? WNOHANG : 0;
    pid_t r;
    do r = waitpid(pid, &st, flags); while (r < 0 && errno == EINTR);
    if (r < 0) return push_errno(L, "waitpid");
    lua_pushinteger(L, r);
    if (r == 0) return 1;
    if (WIFSIGNALED(st)) {
        lua_pushstring(L, "signaled");
        lua_pushinteger(L, WTERMSIG(st));
    } else {
        lua_pushstring(L, "exited");
        lua_pushinteger(L, WEXITSTATUS(st));
    }
    return 3;
}

/* kill(pid, [signal = 9]) -> true | nil, err. */
static int l_kill(lua_State *L)
{
    pid_t pid = (pid_t)luaL_checkinteger(L, 1);
    int sig = (int)luaL_optinteger(L, 2, SIGKILL);
    if (pid <= 0) return luaL_error(L, "proc.kill: refusing pid %d", (int)pid);
    if (kill(pid, sig) != 0) return push_errno(L, "kill");
    lua_pushboolean(L, 1);
    return 1;
}

/* _exit(code): leaves without atexit handlers or stdio flushing (a forked worker's way out). */
static int l_exit(lua_State *L)
{
    _exit((int)luaL_optinteger(L, 1, 0));
    return 0;
}

static int l_getpid(lua_State *L)
{
    lua_pushinteger(L, getpid());
    return 1;
}

static int l_getppid(lua_State *L)
{
    lua_pushinteger(L, getppid());
    return 1;
}

/* now() -> seconds since the epoch (wall clock); mono() -> monotonic seconds. */
static int l_now(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec);
    return 1;
}

static int l_mono(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec);
    return 1;
}

static int l_sleep(lua_State *L)
{
    double s = luaL_checknumber(L, 1);
    if (s > 0) {
        struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    }
    return 0;
}

static int l_hostname(lua_State *L)
{
    char h[256];
    if (gethostname(h, sizeof h) != 0) strcpy(h, "unknown");
    h[sizeof h - 1] = 0;
    lua_pushstring(L, h);
    return 1;
}

/* ncpu() -> cores this process may run on (the affinity mask, as nproc prints). */
static int l_ncpu(lua_State *L)
{
    cpu_set_t set;
    long n = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    if (n < 1) n = sysconf(_SC_NPROCESSORS_ONLN);
    lua_pushinteger(L, n < 1 ? 1 : n);
    return 1;
}

struct thread_call {
    lua_State *L;
    int nargs, status;
};

static void *thread_main(void *arg)
{
    struct thread_call *c = arg;
    c->status = lua_pcall(c->L, c->nargs, 1, 0);
    return NULL;
}

/* thread_call(f, ...) -> ok, result: calls f(...) on a new thread of this process (the caller waits). A forked
 * worker runs its work this way: libgomp's thread pool belongs to the thread that made it, and after fork()
 * the pool of the parent's main thread has no threads left behind it, so a parallel region started from the
 * child's main thread would wait forever; a new thread builds a fresh pool. */
static int l_thread_call(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    struct thread_call c = {L, lua_gettop(L) - 1, LUA_OK};
    pthread_attr_t attr;
    pthread_t th;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, (size_t)16 << 20);
    int rc = pthread_create(&th, &attr, thread_main, &c);
    pthread_attr_destroy(&attr);
    if (rc != 0) return luaL_error(L, "proc.thread_call: cannot start a thread: %s", strerror(rc));
    pthread_join(th, NULL);
    lua_pushboolean(L, c.status == LUA_OK);
    lua_insert(L, -2);
    return 2;
}

/* mkdir(path) -> true | nil, err: creates path and its missing parents (mode 0777 & ~umask). */
static int l_mkdir(lua_State *L)
{
    size_t n;
    const char *path = luaL_checklstring(L, 1, &n);
    if (n == 0 || n > 4095) return luaL_error(L, "proc.mkdir: bad path length");
    char buf[4096];
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return push_errno(L, buf);
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: not a directory", path);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* listdir(path) -> {names...} (without . and ..) | nil, err. */
static int l_listdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    DIR *d = opendir(path);
    if (!d) return push_errno(L, path);
    lua_newtable(L);
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        lua_pushstring(L, e->d_name);
        lua_rawseti(L, -2, ++k);
    }
    closedir(d);
    return 1;
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* hash(s) -> 32 hex digits: two 64-bit hashes of the bytes of s (FNV-1a, and a splitmix-mixed sum of 8-byte
 * words), for content-addressed caches (not cryptographic). */
static int l_hash(lua_State *L)
{
    size_t n;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x9e3779b97f4a7c15ULL ^ (uint64_t)n;
    for (size_t i = 0; i < n; i++) h1 = (h1 ^ s[i]) * 0x100000001b3ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h2 = mix64(h2 ^ w) + 0x9e3779b97f4a7c15ULL;
    }
    uint64_t tail = 0;
    memcpy(&tail, s + i, n - i);
    h2 = mix64(h2 ^ tail ^ ((uint64_t)(n - i) << 56));
    char out[33];
    snprintf(out, sizeof out, "%016llx%016llx", (unsigned long long)mix64(h1), (unsigned long long)h2);
    lua_pushstring(L, out);
    return 1;
}

/* ignore_sigpipe(): a write to a dead worker's pipe returns EPIPE instead of killing the parent. */
static int l_ignore_sigpipe(lua_State *L)
{
    (void)L;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

void mlL_open_proc(lua_State *L)
{
    static const luaL_Reg f[] = {
        {"fork", l_fork},   {"pipe", l_pipe},       {"close", l_close},   {"send", l_send},
        {"recv", l_recv},   {"poll", l_poll},       {"waitpid", l_waitpid}, {"kill", l_kill},
        {"exit", l_exit},   {"getpid", l_getpid}, {"getppid", l_getppid},   {"now", l_now},       {"mono", l_mono},
        {"sleep", l_sleep}, {"hostname", l_hostname}, {"ncpu", l_ncpu},
        {"ignore_sigpipe", l_ignore_sigpipe}, {"mkdir", l_mkdir},
        {"hash", l_hash}, {"listdir", l_listdir}, {"thread_call", l_thread_call}, {NULL, NULL}};
    luaL_newlib(L, f);
    lua_setfield(L, -2, "proc");
}
