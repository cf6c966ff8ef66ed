-- Shared by the specs that run programs: sh(cmd) runs cmd in the shell with stderr joined to stdout and
-- returns ok (true when it exited with status 0) and the whole output; sh_file(text, cmd) does the same for
-- the command cmd(path) names, path a temporary file holding text (removed afterwards).
local M = {}

function M.sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

function M.sh_file(text, cmd)
  local f = os.tmpname()
  local h = assert(io.open(f, "w"))
  h:write(text)
  h:close()
  local ok, out = M.sh(cmd(f))
  os.remove(f)
  return ok, out
end

return M
