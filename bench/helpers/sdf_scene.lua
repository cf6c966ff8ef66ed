-- Shared by bench/sdf.lua and bench/sdf_fit.lua: the bench scene, its camera, and the rays handed to the
-- PyTorch ports (bench/sdf_torch.py, bench/sdf_fit_torch.py).
local T = require "moonlab.tensor"
local sdf = require "moonlab.sdf"
local M = {}

--- scene() -> sphere + box + torus (translations only, so the PyTorch ports evaluate the same formula)
function M.scene()
  return sdf.union(sdf.sphere { r = 0.6, center = { -0.9, 0, 0 } }, sdf.box { size = 0.8, center = { 0.9, 0, 0 } },
    sdf.torus { R = 0.6, r = 0.2 }:translate { 0, 0.9, 0 })
end

--- camera(n) -> the camera looking at the scene, n × n pixels
function M.camera(n)
  return { eye = { 0.4, 0.8, 3.2 }, target = { 0, 0.2, 0 }, fov = 50, width = n, height = n }
end

--- save_rays(o, u, [extra]) -> path of a new .npy file [R, 6 (+ columns of extra)]: origin, direction and
--- extra's row (e.g. the target colour) of each ray
function M.save_rays(o, u, extra)
  local ot, ut, et = o:totable(), u:totable(), extra and extra:totable()
  local rays = {}
  for i = 1, #ot do
    local row = { ot[i][1], ot[i][2], ot[i][3], ut[i][1], ut[i][2], ut[i][3] }
    if et then for _, v in ipairs(et[i]) do row[#row + 1] = v end end
    rays[i] = row
  end
  local path = os.tmpname() .. ".npy"
  T.new(rays):save(path)
  return path
end

--- python(script, args...) -> the output (stderr joined) of /usr/bin/python3 bench/<script> args...
function M.python(script, ...)
  local root = os.getenv("MOONLAB_ROOT") or "."
  local cmd = { "/usr/bin/python3", root .. "/bench/" .. script }
  for _, a in ipairs { ... } do cmd[#cmd + 1] = tostring(a) end
  local p = io.popen(table.concat(cmd, " ") .. " 2>&1")
  local out = p:read("a")
  p:close()
  return out
end

return M
