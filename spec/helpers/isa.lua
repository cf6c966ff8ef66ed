-- Child processes under a forced kernel path (MOONLAB_ISA), for the specs that check every path.
local M = {}

M.ORDER = { "scalar", "avx2", "avx512" }
M.RANK = { scalar = 1, avx2 = 2, avx512 = 3 }

-- The running interpreter (busted's lua5.4), else lua5.4.
function M.lua_bin()
  local i, exe = -1, nil
  while arg and arg[i] do exe = arg[i]; i = i - 1 end
  return exe or "lua5.4"
end

-- Runs `lua5.4 <args>` with MOONLAB_ISA=isa (the rest of the environment inherited): stdout+stderr, ok.
function M.child(isa, args)
  local p = assert(io.popen(("MOONLAB_ISA=%s %s %s 2>&1"):format(isa, M.lua_bin(), args)))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

-- The best path this CPU supports.
function M.best()
  return (M.child("avx512", [[-e 'print(require("moonlab.core").info().isa)']])):match("(%w+)%s*$")
end

-- Runs busted on spec files in a child process under isa; returns ok, output (TAP).
function M.busted(isa, files)
  local out, ok = M.child(isa, "/usr/bin/busted --helper=spec/helpers/init.lua -o TAP " .. files)
  ok = ok == true and (out:match("\n1%.%.%d+") or out:match("^1%.%.%d+")) ~= nil and not out:match("not ok")
  return ok, out
end

return M
