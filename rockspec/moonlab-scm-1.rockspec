rockspec_format = "3.0"
package = "moonlab"
version = "scm-1"
source = {
   url = "git+file:///moonlab", -- `luarocks make` builds the checked-out tree; nothing is fetched
}
description = {
   summary = "Numerical research cores (gated attention, Laplace inversion, ...) in C with Lua 5.4 bindings",
   detailed = [[
moonlab is a C library with Lua 5.4 bindings for numerical experiments: a dense tensor, gated attention,
numerical inverse Laplace transforms and a gas-chromatography column model, and a workflow layer.
Needs Debian packages libopenblas-dev, libfftw3-dev, libpng-dev and liblua5.4-dev.]],
   license = "MIT",
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
build = {
   type = "make",
   build_target = "all",
   build_variables = {
      LUA_INC = "$(LUA_INCDIR)",
   },
   install_target = "install-rock",
   install_variables = {
      LUA_LMOD = "$(LUADIR)",
      LUA_CMOD = "$(LIBDIR)",
      BINDIR = "$(BINDIR)",
   },
}
