/* Tensor binding: printing (with set_printoptions), .npy/.npz files and CSV. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ltensor.h"

/* ---- printing ---- */

static struct {
    int precision;      /* significant digits of %g */
    int64_t threshold;  /* summarise when numel exceeds this */
    int64_t edgeitems;  /* items shown at each end of a summarised dim */
} popts = {6, 64, 3};

/* set_printoptions{precision = 6, threshold = 64, edgeitems = 3}; returns the previous settings. */
static int l_set_printoptions(lua_State *L)
{
    const char *fn = "tensor.set_printoptions";
    int64_t prec = popts.precision, thr = popts.threshold, edge = popts.edgeitems;
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, prec);
    lua_setfield(L, -2, "precision");
    lua_pushinteger(L, thr);
    lua_setfield(L, -2, "threshold");
    lua_pushinteger(L, edge);
    lua_setfield(L, -2, "edgeitems");
    if (lua_isnoneornil(L, 1)) return 1;
    if (!lua_istable(L, 1)) return mlL_argerror(L, 1, fn, "opts", "expected an options table, got %s", luaL_typename(L, 1));
    mlL_opts(L, 1, fn, (mlL_opt[]){{"precision", MLL_INT, &prec, NULL}, {"threshold", MLL_INT, &thr, NULL},
                                    {"edgeitems", MLL_INT, &edge, NULL}, {0}});
    if (prec < 1 || prec > 17) return mlL_argerror(L, 1, fn, "precision", "expected 1..17, got %lld", (long long)prec);
    if (thr < 0) return mlL_argerror(L, 1, fn, "threshold", "expected a non-negative count, got %lld", (long long)thr);
    if (edge < 1 || edge > 1000) return mlL_argerror(L, 1, fn, "edgeitems", "expected 1..1000, got %lld", (long long)edge);
    popts.precision = (int)prec;
    popts.threshold = thr;
    popts.edgeitems = edge;
    return 1;
}

static void fmt_elem(luaL_Buffer *b, ml_dtype dt, const char *p)
{
    char s[48];
    switch (dt) {
    case ML_F32:
    case ML_F64: {
        double v = ml_load_d(dt, p);
        if (isnan(v)) snprintf(s, sizeof s, "nan");
        else snprintf(s, sizeof s, "%.*g", popts.precision, v);
        break;
    }
    case ML_BOOL: snprintf(s, sizeof s, "%s", *(const uint8_t *)p ? "true" : "false"); break;
    default: snprintf(s, sizeof s, "%lld", (long long)ml_load_i(dt, p)); break;
    }
    luaL_addstring(b, s);
}

static void print_rec(luaL_Buffer *b, const ml_tensor *t, int d, const char *p, int indent, int summarise)
{
    if (d == t->ndim) {
        fmt_elem(b, t->dtype, p);
        return;
    }
    int64_t n = t->shape[d], st = t->strides[d] * (int64_t)ml_dtype_size(t->dtype), edge = popts.edgeitems;
    luaL_addchar(b, '[');
    for (int64_t i = 0; i < n; i++) {
        if (summarise && n > 2 * edge && i == edge) {
            luaL_addstring(b, "...");
            i = n - edge - 1;
            if (d + 1 < t->ndim) {
                luaL_addstring(b, ",\n");
                for (int k = 0; k < indent + 1; k++) luaL_addchar(b, ' ');
            } else {
                luaL_addstring(b, ", ");
            }
            continue;
        }
        print_rec(b, t, d + 1, p + i * st, indent + 1, summarise);
        if (i + 1 < n) {
            if (d + 1 < t->ndim) {
                luaL_addchar(b, ',');
                for (int k = d + 1; k < t->ndim; k++) luaL_addchar(b, '\n');
                for (int k = 0; k < indent + 1; k++) luaL_addchar(b, ' ');
            } else {
                luaL_addstring(b, ", ");
            }
        }
    }
    luaL_addchar(b, ']');
}

int lt_tostring(lua_State *L)
{
    ml_tensor *t = lt_test(L, 1);
    char shp[96];
    if (!t || !t->data) {
        lua_pushstring(L, "tensor (closed)");
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "tensor %s %s\n", ml_dtype_name(t->dtype), ml_shape_str(t, shp, sizeof shp));
    luaL_addvalue(&b);
    print_rec(&b, t, 0, t->data, 0, t->numel > popts.threshold);
    luaL_pushresult(&b);
    return 1;
}

/* ---- files ---- */

static const char *check_path(lua_State *L, int idx, const char *fname)
{
    if (lua_type(L, idx) != LUA_TSTRING)
        mlL_argerror(L, idx, fname, "path", "expected a string, got %s", luaL_typename(L, idx));
    return lua_tostring(L, idx);
}

static void push_npz(lua_State *L, ml_npz_item *items, int n)
{
    lua_createtable(L, 0, n);
    for (int i = 0; i < n; i++) {
        mlL_pushtensor(L, &items[i].t);
        lua_setfield(L, -2, items[i].name);
    }
}

static int load_npz(lua_State *L, const char *path, const char *fname)
{
    ml_npz_item *items;
    int n;
    if (ml_npz_load(path, &items, &n)) return mlL_raise(L, fname);
    push_npz(L, items, n); /* takes over every tensor; raising here would leak, so nothing raises */
    free(items);
    return 1;
}

/* load(path): a .npy file as a tensor, or a .npz archive as a table name -> tensor. */
static int l_load(lua_State *L)
{
    const char *path = check_path(L, 1, "tensor.load");
    FILE *fp = fopen(path, "rb");
    unsigned char magic[4] = {0};
    if (fp) {
        size_t got = fread(magic, 1, 4, fp);
        (void)got;
        fclose(fp);
    }
    if (!memcmp(magic, "PK\3\4", 4) || !memcmp(magic, "PK\5\6", 4)) return load_npz(L, path, "tensor.load");
    ml_tensor tmp = {0};
    if (ml_npy_load(path, &tmp)) return mlL_raise(L, "tensor.load");
    mlL_pushtensor(L, &tmp);
    return 1;
}

static int l_load_npz(lua_State *L) { return load_npz(L, check_path(L, 1, "tensor.load_npz"), "tensor.load_npz"); }

static int l_save(lua_State *L)
{
    ml_tensor *t = LT_SELF("tensor:save");
    const char *path = check_path(L, 2, "tensor:save");
    t = lt_contig(L, t, "tensor:save");
    if (ml_npy_save(path, t)) return mlL_raise(L, "tensor:save");
    lua_settop(L, 1);
    return 1;
}

/* save_npz(path, {name = tensor, ...}, [{compressed = false}]) — np.savez / np.savez_compressed. */
static int l_save_npz(lua_State *L)
{
    const char *fn = "tensor.save_npz";
    const char *path = check_path(L, 1, fn);
    if (!lua_istable(L, 2)) return mlL_argerror(L, 2, fn, "arrays", "expected a table name -> tensor, got %s", luaL_typename(L, 2));
    int compressed = 0;
    mlL_opts(L, 3, fn, (mlL_opt[]){{"compressed", MLL_BOOL, &compressed, NULL}, {0}});
    lua_settop(L, 3);
    lua_newtable(L); /* 4: anchors for contiguous copies */
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        lua_pop(L, 1);
        n++;
    }
    if (n > 65534) return mlL_argerror(L, 2, fn, "arrays", "at most 65534 arrays, got %d", n);
    ml_npz_item *items = lua_newuserdatauv(L, sizeof *items * (size_t)(n ? n : 1), 0); /* 5 */
    int k = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return mlL_argerror(L, 2, fn, "arrays", "keys must be strings (member names), got %s", luaL_typename(L, -2));
        const char *name = lua_tostring(L, -2);
        if (!name[0] || strlen(name) >= sizeof items[k].name || strchr(name, '/'))
            return mlL_argerror(L, 2, fn, "arrays", "bad member name '%s' (1..255 characters, no '/')", name);
        ml_tensor *t = lt_test(L, -1);
        if (!t || !t->data) return mlL_argerror(L, 2, fn, "arrays", "'%s' is %s, expected an open tensor", name, t ? "closed" : luaL_typename(L, -1));
        int top = lua_gettop(L);
        t = lt_contig(L, t, fn);
        if (lua_gettop(L) > top) lua_rawseti(L, 4, k + 1);
        strcpy(items[k].name, name);
        items[k].t = *t; /* a borrowed header: not released */
        k++;
        lua_pop(L, 1);
    }
    if (ml_npz_save(path, items, k, compressed)) return mlL_raise(L, fn);
    return 0;
}

static char check_delim(lua_State *L, const char *s, const char *fn)
{
    if (!s || strlen(s) != 1 || s[0] == '"' || s[0] == '\n') mlL_error(L, "%s: option 'delimiter' must be one character (not a quote or newline)", fn);
    return s[0];
}

/* read_csv(path, {header = true, delimiter = ",", dtype = "f64"}) -> tensor [rows, cols], names (or nil). */
static int l_read_csv(lua_State *L)
{
    const char *fn = "tensor.read_csv";
    const char *path = check_path(L, 1, fn);
    int header = 1;
    mlL_opts(L, 2, fn, (mlL_opt[]){{"header", MLL_BOOL, &header, NULL}, {"delimiter", MLL_SKIP, NULL, NULL},
                                    {"dtype", MLL_SKIP, NULL, NULL}, {0}});
    char delim = ',';
    ml_dtype dt = ML_F64;
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "delimiter");
        if (!lua_isnil(L, -1)) delim = check_delim(L, lua_tostring(L, -1), fn);
        lua_getfield(L, 2, "dtype");
        if (!lua_isnil(L, -1)) dt = lt_checkdtype(L, lua_gettop(L), fn, -1);
        lua_pop(L, 2);
    }
    ml_tensor tmp = {0};
    char **names = NULL;
    int nc = 0;
    if (ml_csv_read(path, delim, header, dt, &tmp, &names, &nc)) return mlL_raise(L, fn);
    mlL_pushtensor(L, &tmp);
    if (names) {
        lua_createtable(L, nc, 0);
        for (int j = 0; j < nc; j++) {
            lua_pushstring(L, names[j]);
            lua_rawseti(L, -2, j + 1);
            free(names[j]);
        }
        free(names);
    } else {
        lua_pushnil(L);
    }
    return 2;
}

/* t:to_csv(path, {header = {names...}, delimiter = ","}) */
static int l_to_csv(lua_State *L)
{
    const char *fn = "tensor:to_csv";
    ml_tensor *t = LT_SELF(fn);
    const char *path = check_path(L, 2, fn);
    if (t->ndim != 2) return mlL_argerror(L, 1, fn, "self", "expected a 2-D tensor, got %d dims", t->ndim);
    mlL_opts(L, 3, fn, (mlL_opt[]){{"header", MLL_SKIP, NULL, NULL}, {"delimiter", MLL_SKIP, NULL, NULL}, {0}});
    lua_settop(L, 3);
    char delim = ',';
    const char **names = NULL;
    if (lua_istable(L, 3)) {
        lua_getfield(L, 3, "delimiter"); /* 4 */
        if (!lua_isnil(L, -1)) delim = check_delim(L, lua_tostring(L, -1), fn);
        lua_getfield(L, 3, "header"); /* 5: anchored while names are used */
        if (!lua_isnil(L, 5)) {
            if (!lua_istable(L, 5) || luaL_len(L, 5) != t->shape[1])
                return mlL_error(L, "%s: option 'header' must be a list of %lld column names", fn, (long long)t->shape[1]);
            names = lua_newuserdatauv(L, sizeof *names * (size_t)t->shape[1], 0);
            for (int64_t j = 0; j < t->shape[1]; j++) {
                lua_rawgeti(L, 5, j + 1); /* raw: the string stays referenced by the anchored table */
                if (lua_type(L, -1) != LUA_TSTRING)
                    return mlL_error(L, "%s: header entry %lld is a %s, expected a string", fn, (long long)j + 1, luaL_typename(L, -1));
                names[j] = lua_tostring(L, -1);
                lua_pop(L, 1);
            }
        }
    }
    if (ml_csv_write(path, t, delim, names)) return mlL_raise(L, fn);
    lua_settop(L, 1);
    return 1;
}

const luaL_Reg lt_io_methods[] = {{"save", l_save}, {"to_csv", l_to_csv}, {NULL, NULL}};

const luaL_Reg lt_io_functions[] = {{"tensor_load", l_load},         {"tensor_load_npz", l_load_npz},
                                    {"tensor_save_npz", l_save_npz}, {"tensor_read_csv", l_read_csv},
                                    {"tensor_set_printoptions", l_set_printoptions}, {NULL, NULL}};
