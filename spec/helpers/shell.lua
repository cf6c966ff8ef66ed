-- Shared by the specs that run programs: sh(cmd) runs cmd in the shell with stderr joined to stdout and
-- returns ok (true when it exited with status 0) and the whole output.
local M = {}

function M.sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

return M
