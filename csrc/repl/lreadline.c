/* moonlab.readline: the GNU readline calls the REPL needs (line editing, history file, Tab completion through
 * a Lua function). Its own module (build/lua/moonlab/readline.so) so that core.so does not link readline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <readline/readline.h>
#include <readline/history.h>
#include <lua.h>
#include <lauxlib.h>

static lua_State *cur_L;   /* the state inside readline() while a completion may run */
static int completer_ref = LUA_NOREF;
static char **cands;
static int ncands, icand;

static void free_cands(void)
{
    for (int i = icand; i < ncands; i++) free(cands[i]);
    free(cands);
    cands = NULL;
    ncands = icand = 0;
}

static char *generator(const char *text, int state)
{
    (void)text;
    if (state == 0) icand = 0;
    if (icand < ncands) return cands[icand++];
    free(cands);
    cands = NULL;
    ncands = icand = 0;
    return NULL;
}

/* Calls the Lua completer(word, line, start) -> {candidates...} and hands its list to readline. */
static char **complete(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1; /* never fall back to file names */
    if (!cur_L || completer_ref == LUA_NOREF) return NULL;
    lua_State *L = cur_L;
    int top = lua_gettop(L);
    free_cands();
    lua_rawgeti(L, LUA_REGISTRYINDEX, completer_ref);
    lua_pushstring(L, text);
    lua_pushstring(L, rl_line_buffer);
    lua_pushinteger(L, start);
    if (lua_pcall(L, 3, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
        lua_settop(L, top);
        return NULL;
    }
    int n = (int)luaL_len(L, -1);
    if (n > 0 && n < 100000) {
        cands = calloc((size_t)n, sizeof *cands);
        for (int i = 1; cands && i <= n; i++) {
            lua_rawgeti(L, -1, i);
            const char *s = lua_tostring(L, -1);
            if (s) cands[ncands++] = strdup(s);
            lua_pop(L, 1);
        }
    }
    lua_settop(L, top);
    rl_completion_append_character = '\0';
    return rl_completion_matches(text, generator);
}

/* readline(prompt) -> line | nil at end of input. */
static int l_readline(lua_State *L)
{
    const char *prompt = luaL_optstring(L, 1, "> ");
    cur_L = L;
    char *line = readline(prompt);
    cur_L = NULL;
    if (!line) return 0;
    lua_pushstring(L, line);
    free(line);
    return 1;
}

static int l_add_history(lua_State *L)
{
    add_history(luaL_checkstring(L, 1));
    return 0;
}

/* read_history(file) -> true | nil (absent file) */
static int l_read_history(lua_State *L)
{
    lua_pushboolean(L, read_history(luaL_checkstring(L, 1)) == 0);
    return 1;
}

/* append_history(n, file): appends the last n lines (creating the file), then keeps at most max lines. */
static int l_append_history(lua_State *L)
{
    int n = (int)luaL_checkinteger(L, 1);
    const char *file = luaL_checkstring(L, 2);
    int max = (int)luaL_optinteger(L, 3, 5000);
    FILE *f = fopen(file, "a");
    if (f) fclose(f);
    int rc = append_history(n, file);
    history_truncate_file(file, max);
    lua_pushboolean(L, rc == 0);
    return 1;
}

/* set_completer(fn(word, line, start) -> {candidates}) */
static int l_set_completer(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    if (completer_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, completer_ref);
    lua_pushvalue(L, 1);
    completer_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    rl_attempted_completion_function = complete;
    rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{}()[]+-*/%^~,#";
    return 0;
}

int luaopen_moonlab_readline(lua_State *L)
{
    rl_readline_name = "moonlab";
    static const luaL_Reg f[] = {{"readline", l_readline},         {"add_history", l_add_history},
                                 {"read_history", l_read_history}, {"append_history", l_append_history},
                                 {"set_completer", l_set_completer}, {NULL, NULL}};
    luaL_newlib(L, f);
    return 1;
}
