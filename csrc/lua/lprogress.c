/* Long calls from Lua: Ctrl-C armed for their duration and a progress line on stderr.
 * One drawing routine serves C calls (mlL_long_begin) and Lua loops (moonlab.progress). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "moonlab/runtime.h"
#include "mlua.h"

#define LONG_MT "moonlab.LongCall"
#define PROGRESS_MT "moonlab.Progress"

typedef struct bar {
    char label[64];
    int quiet, tty, drawn;
    double t0, last, delay, total, done;
} bar;

/* A long call: the progress it reports, the bar it draws and the SIGINT action it replaced. */
typedef struct longcall {
    ml_progress progress; /* first: mlL_long_end finds the call from this pointer */
    bar b;
    int armed, idx;
    struct sigaction old;
} longcall;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int env_quiet(void)
{
    const char *q = getenv("MOONLAB_QUIET");
    return q && *q && strcmp(q, "0") != 0;
}

static void bar_init(bar *b, const char *label, double total, int quiet)
{
    memset(b, 0, sizeof *b);
    snprintf(b->label, sizeof b->label, "%s", label ? label : "");
    b->quiet = quiet || env_quiet();
    const char *force = getenv("MOONLAB_PROGRESS"); /* "tty" or "plain" overrides the terminal test */
    b->tty = force && *force ? strcmp(force, "tty") == 0 : isatty(STDERR_FILENO);
    const char *d = getenv("MOONLAB_PROGRESS_DELAY");
    b->delay = d && *d ? atof(d) : (b->tty ? 1.0 : 5.0);
    b->total = total;
    b->t0 = now_s();
    b->last = -1e30;
}

static void fmt_secs(char *buf, size_t n, double s)
{
    if (!isfinite(s) || s < 0) snprintf(buf, n, "?");
    else if (s < 60) snprintf(buf, n, "%.1f s", s);
    else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

/* Draws the bar: on a terminal a line rewritten in place at most 10 times a second, otherwise a plain line at
 * most every 10 s; nothing during the first `delay` seconds, so short work stays silent. */
static void bar_draw(bar *b, double done, double total, const char *suffix, int final)
{
    if (b->quiet) return;
    b->done = done;
    double t = now_s(), el = t - b->t0;
    if (!final && el < b->delay) return;
    if (final && !b->drawn) return;
    if (!final && t - b->last < (b->tty ? 0.1 : 10.0)) return;
    b->last = t;
    if (total > 0) b->total = total;
    char line[256], els[32], eta[32];
    fmt_secs(els, sizeof els, el);
    if (b->total > 0) {
        double f = done / b->total;
        if (!(f >= 0)) f = 0;
        if (f > 1) f = 1;
        fmt_secs(eta, sizeof eta, f > 0 ? el * (1 - f) / f : NAN);
        char cells[24];
        int w = 20, k = (int)(f * w + 0.5);
        for (int i = 0; i < w; i++) cells[i] = i < k ? '#' : '.';
        cells[w] = '\0';
        if (b->tty)
            snprintf(line, sizeof line, "%s [%s] %3.0f%% %s%s%s%s", b->label, cells, 100 * f, els,
                     final ? "" : ", ETA ", final ? "" : eta, suffix && *suffix ? "  " : "");
        else
            snprintf(line, sizeof line, "%s: %.0f%% (%.4g/%.4g) %s%s%s%s", b->label, 100 * f, done, b->total,
                     els, final ? "" : ", ETA ", final ? "" : eta, suffix && *suffix ? ", " : "");
    } else {
        snprintf(line, sizeof line, "%s%s %.6g done, %s%s", b->label, b->tty ? "" : ":", done, els,
                 suffix && *suffix ? (b->tty ? "  " : ", ") : "");
    }
    if (b->tty) fprintf(stderr, "\r\033[K%s%s%s", line, suffix ? suffix : "", final ? "\n" : "");
    else fprintf(stderr, "%s%s%s\n", line, suffix ? suffix : "", final ? " (done)" : "");
    fflush(stderr);
    b->drawn = 1;
}

static void progress_cb(void *ud, double done, double total) { bar_draw((bar *)ud, done, total, NULL, 0); }

/* A second Ctrl-C while the first is still pending ends the process the default way. */
static void on_sigint(int sig)
{
    if (ml_interrupted()) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    ml_interrupt_request();
}

static void long_disarm(longcall *c)
{
    if (!c->armed) return;
    c->armed = 0;
    sigaction(SIGINT, &c->old, NULL);
    if (ml_interrupted()) bar_draw(&c->b, c->b.done, c->b.total, "interrupted", 1);
    else bar_draw(&c->b, c->b.total, c->b.total, NULL, 1);
    ml_interrupt_clear();
}

static int long_close(lua_State *L)
{
    long_disarm((longcall *)luaL_checkudata(L, 1, LONG_MT));
    return 0;
}

ml_progress *mlL_long_begin(lua_State *L, const char *label, int quiet)
{
    longcall *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    if (luaL_newmetatable(L, LONG_MT)) {
        lua_pushcfunction(L, long_close);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, long_close);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    c->idx = lua_gettop(L);
    bar_init(&c->b, label, 0, quiet);
    c->progress.fn = progress_cb;
    c->progress.ud = &c->b;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    ml_interrupt_clear();
    sigaction(SIGINT, &sa, &c->old);
    c->armed = 1;
    lua_toclose(L, c->idx);
    return &c->progress;
}

void mlL_long_end(lua_State *L, ml_progress *p)
{
    longcall *c = (longcall *)p;
    long_disarm(c);
    lua_closeslot(L, c->idx);
}

/* ---- moonlab.progress objects for Lua loops ---- */

static bar *checkbar(lua_State *L, const char *fname)
{
    bar *b = (bar *)luaL_testudata(L, 1, PROGRESS_MT);
    if (!b) mlL_argerror(L, 1, fname, "self", "expected a progress object, got %s", luaL_typename(L, 1));
    return b;
}

/* progress_new(label, total, quiet) */
static int l_progress_new(lua_State *L)
{
    const char *label = luaL_optstring(L, 1, "");
    double total = luaL_optnumber(L, 2, 0);
    int quiet = lua_toboolean(L, 3);
    bar *b = lua_newuserdatauv(L, sizeof *b, 0);
    bar_init(b, label, total, quiet);
    luaL_setmetatable(L, PROGRESS_MT);
    return 1;
}

/* p:update(done, [suffix]) */
static int l_progress_update(lua_State *L)
{
    bar *b = checkbar(L, "progress:update");
    if (lua_type(L, 2) != LUA_TNUMBER)
        return mlL_argerror(L, 2, "progress:update", "done", "expected a number, got %s", luaL_typename(L, 2));
    if (!lua_isnoneornil(L, 3) && lua_type(L, 3) != LUA_TSTRING && lua_type(L, 3) != LUA_TNUMBER)
        return mlL_argerror(L, 3, "progress:update", "suffix", "expected a string, got %s", luaL_typename(L, 3));
    bar_draw(b, lua_tonumber(L, 2), b->total, lua_tostring(L, 3), 0);
    return 0;
}

/* p:finish([suffix]) */
static int l_progress_finish(lua_State *L)
{
    bar *b = checkbar(L, "progress:finish");
    if (!lua_isnoneornil(L, 2) && lua_type(L, 2) != LUA_TSTRING && lua_type(L, 2) != LUA_TNUMBER)
        return mlL_argerror(L, 2, "progress:finish", "suffix", "expected a string, got %s", luaL_typename(L, 2));
    bar_draw(b, b->total, b->total, lua_tostring(L, 2), 1);
    b->quiet = 1;
    return 0;
}

static int l_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty((int)luaL_optinteger(L, 1, STDERR_FILENO)));
    return 1;
}

void mlL_open_progress(lua_State *L)
{
    if (luaL_newmetatable(L, PROGRESS_MT)) {
        static const luaL_Reg methods[] = {{"update", l_progress_update}, {"finish", l_progress_finish},
                                           {NULL, NULL}};
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {{"progress_new", l_progress_new}, {"isatty", l_isatty}, {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
}
