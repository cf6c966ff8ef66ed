/* Potentials as userdata (moonlab.GPPotential): the analytic test systems and Lua functions
 * x -> E, G with a call counter. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lgp.h"

lgp_pot *lgp_checkpot(lua_State *L, int idx, const char *fname)
{
    lgp_pot *u = luaL_testudata(L, idx, LGP_POT_MT);
    if (!u) mlL_argerror(L, idx, fname, "pot", "expected a gp potential, got %s", luaL_typename(L, idx));
    return u;
}

/* Runs in a protected call: (fn, x lightuserdata, D) -> E, G */
static int trampoline(lua_State *L)
{
    const double *x = lua_touserdata(L, 2);
    int64_t D = lua_tointeger(L, 3);
    lua_pushvalue(L, 1);
    ml_tensor *t = mlL_newtensor(L, ML_F64, 1, &D);
    memcpy(ml_f64(t), x, (size_t)D * sizeof(double));
    lua_call(L, 1, 2);
    return 2;
}

static int lua_eval(void *ud, const double *x, double *E, double *G)
{
    lgp_pot *u = ud;
    lua_State *L = u->L;
    int D = u->p.dim;
    if (!lua_checkstack(L, 8)) {
        snprintf(u->msg, sizeof u->msg, "Lua stack overflow");
        return ml_fail(ML_ECALLBACK, "%s", u->msg);
    }
    lua_pushcfunction(L, trampoline);
    lua_pushvalue(L, u->fidx);
    lua_pushlightuserdata(L, (void *)x);
    lua_pushinteger(L, D);
    if (lua_pcall(L, 3, 2, 0) != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        snprintf(u->msg, sizeof u->msg, "potential raised an error: %s", m ? m : "(non-string error)");
        lua_pop(L, 1);
        return ml_fail(ML_ECALLBACK, "%s", u->msg);
    }
    int rc = ML_OK;
    if (lua_type(L, -2) != LUA_TNUMBER) {
        snprintf(u->msg, sizeof u->msg, "potential must return E (a number) and G, got %s", luaL_typename(L, -2));
        rc = ML_ECALLBACK;
    } else {
        *E = lua_tonumber(L, -2);
        ml_tensor *g = mlL_testtensor(L, -1);
        if (g && g->data && g->numel == D) {
            for (int i = 0; i < D; i++) G[i] = ml_tensor_getd(g, i);
        } else if (lua_type(L, -1) == LUA_TTABLE && luaL_len(L, -1) == D) {
            for (int i = 0; i < D; i++) {
                lua_geti(L, -1, i + 1);
                int ok;
                G[i] = lua_tonumberx(L, -1, &ok);
                lua_pop(L, 1);
                if (!ok) {
                    snprintf(u->msg, sizeof u->msg, "gradient element %d is not a number", i + 1);
                    rc = ML_ECALLBACK;
                    break;
                }
            }
        } else {
            snprintf(u->msg, sizeof u->msg, "potential must return the gradient G as a [%d] tensor or a list of %d numbers", D, D);
            rc = ML_ECALLBACK;
        }
    }
    lua_pop(L, 2);
    if (!rc && !isfinite(*E)) {
        snprintf(u->msg, sizeof u->msg, "potential returned a non-finite energy (%g)", *E);
        rc = ML_ECALLBACK;
    }
    for (int i = 0; !rc && i < D; i++)
        if (!isfinite(G[i])) {
            snprintf(u->msg, sizeof u->msg, "potential returned a non-finite gradient component %d", i + 1);
            rc = ML_ECALLBACK;
        }
    return rc ? ml_fail(rc, "%s", u->msg) : ML_OK;
}

void lgp_pot_arm(lua_State *L, lgp_pot *u, int idx)
{
    if (u->kind != 1) return;
    u->L = L;
    lua_getiuservalue(L, idx, 1); /* the function, anchored on the stack for the call */
    u->fidx = lua_gettop(L);
    u->msg[0] = 0;
}

int lgp_raise(lua_State *L, const char *fname, lgp_pot *u, int rc)
{
    if (rc == ML_ECALLBACK && u && u->kind == 1 && u->msg[0]) return mlL_error(L, "%s: %s", fname, u->msg);
    return mlL_raise(L, fname);
}

static lgp_pot *newpot(lua_State *L)
{
    lgp_pot *u = lua_newuserdatauv(L, sizeof *u, 1);
    memset(u, 0, sizeof *u);
    luaL_setmetatable(L, LGP_POT_MT);
    return u;
}

static int p_gc(lua_State *L)
{
    lgp_pot *u = luaL_checkudata(L, 1, LGP_POT_MT);
    free(u->frozen);
    u->frozen = NULL;
    return 0;
}

/* core.gp_pot_builtin(name) */
static int l_builtin(lua_State *L)
{
    static const char *const names[] = {"muller_brown", "leps", NULL};
    int w = luaL_checkoption(L, 1, NULL, names);
    lgp_pot *u = newpot(L);
    u->p = w == 0 ? ml_gp_muller_brown() : ml_gp_leps();
    return 1;
}

/* core.gp_pot_lj(n, dim) */
static int l_lj(lua_State *L)
{
    const char *fname = "gp.potential.lj";
    lua_Integer n = luaL_checkinteger(L, 1), d = luaL_checkinteger(L, 2);
    if (n < 2 || n > 100000) return mlL_argerror(L, 1, fname, "n", "expected 2..100000 atoms, got %lld", (long long)n);
    if (d != 2 && d != 3) return mlL_argerror(L, 1, fname, "dim", "expected 2 or 3, got %lld", (long long)d);
    lgp_pot *u = newpot(L);
    u->lj = (ml_gp_lj_params){.n = (int)n, .dim = (int)d, .eps = 1, .sigma = 1};
    u->p = ml_gp_lj(&u->lj);
    return 1;
}

/* core.gp_pot_morse(natoms, frozen [nf,3] | nil, De, a, r0, rc) */
static int l_morse(lua_State *L)
{
    const char *fname = "gp.potential.morse";
    lua_Integer n = luaL_checkinteger(L, 1);
    if (n < 1 || n > 100000) return mlL_argerror(L, 1, fname, "atoms", "expected 1..100000, got %lld", (long long)n);
    int64_t nf = 0, c;
    const double *fr = NULL;
    if (!lua_isnil(L, 2)) fr = lgp_tensor(L, 2, fname, "frozen", 2, &nf, &c, 3);
    double De = luaL_checknumber(L, 3), a = luaL_checknumber(L, 4), r0 = luaL_checknumber(L, 5),
           rc = luaL_checknumber(L, 6);
    if (!(De > 0 && a > 0 && r0 > 0 && rc > r0) || !isfinite(De + a + r0 + rc))
        return mlL_argerror(L, 1, fname, "opts", "expected De, a, r0 > 0 and cutoff > r0");
    lgp_pot *u = newpot(L);
    if (nf) {
        u->frozen = malloc((size_t)nf * 3 * sizeof *u->frozen);
        if (!u->frozen) return mlL_error(L, "%s: out of memory", fname);
        memcpy(u->frozen, fr, (size_t)nf * 3 * sizeof *fr);
    }
    u->morse = (ml_gp_morse_params){.natoms = (int)n, .nfrozen = (int)nf, .frozen = u->frozen, .De = De, .a = a,
                                    .r0 = r0, .rc = rc};
    u->p = ml_gp_morse(&u->morse);
    return 1;
}

/* core.gp_pot_lua(fn, dim, natoms, adim, rigid) */
static int l_luapot(lua_State *L)
{
    const char *fname = "gp.potential.fn";
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_Integer D = mlL_checkinteger(L, 2, fname, "dim", 1, 10000000);
    lua_Integer na = mlL_optinteger(L, 3, fname, "atoms", 0, D, 0), ad = mlL_optinteger(L, 4, fname, "atom_dim", 0, 3, 0);
    if (na && (na * ad != D || (ad != 2 && ad != 3)))
        return mlL_argerror(L, 3, fname, "atoms", "atoms * atom_dim must equal dim with atom_dim 2 or 3");
    lgp_pot *u = newpot(L);
    u->kind = 1;
    u->p = (ml_gp_potential){.eval = lua_eval, .ud = u, .dim = (int)D, .natoms = (int)na, .adim = (int)ad,
                             .rigid = lua_toboolean(L, 5)};
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    return 1;
}

/* pot:energy_gradient(x) -> E, G */
static int p_eg(lua_State *L)
{
    const char *fname = "pot:energy_gradient";
    lgp_pot *u = lgp_checkpot(L, 1, fname);
    int64_t r, D;
    const double *x = lgp_tensor(L, 2, fname, "x", 1, &r, &D, u->p.dim);
    ml_tensor *G = mlL_newtensor(L, ML_F64, 1, &D);
    int gi = lua_gettop(L);
    lgp_pot_arm(L, u, 1);
    double E;
    int rc = ml_gp_pot_eval(&u->p, x, &E, ml_f64(G));
    if (rc) return lgp_raise(L, fname, u, rc);
    lua_pushnumber(L, E);
    lua_pushvalue(L, gi);
    return 2;
}

static int p_calls(lua_State *L)
{
    lgp_pot *u = lgp_checkpot(L, 1, "pot:calls");
    lua_pushinteger(L, u->p.calls);
    return 1;
}

static int p_reset(lua_State *L)
{
    lgp_pot *u = lgp_checkpot(L, 1, "pot:reset_calls");
    u->p.calls = 0;
    return 0;
}

static int p_info(lua_State *L)
{
    lgp_pot *u = lgp_checkpot(L, 1, "pot:info");
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, u->p.dim), lua_setfield(L, -2, "dim");
    lua_pushinteger(L, u->p.natoms), lua_setfield(L, -2, "atoms");
    lua_pushinteger(L, u->p.adim), lua_setfield(L, -2, "atom_dim");
    lua_pushboolean(L, u->p.rigid), lua_setfield(L, -2, "rigid");
    return 1;
}

void lgp_open_pot(lua_State *L)
{
    static const luaL_Reg meta[] = {{"__gc", p_gc}, {NULL, NULL}};
    static const luaL_Reg methods[] = {{"energy_gradient", p_eg}, {"calls", p_calls}, {"reset_calls", p_reset},
                                       {"info", p_info}, {NULL, NULL}};
    luaL_newmetatable(L, LGP_POT_MT);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {{"gp_pot_builtin", l_builtin}, {"gp_pot_lj", l_lj}, {"gp_pot_morse", l_morse},
                                   {"gp_pot_lua", l_luapot}, {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
}
