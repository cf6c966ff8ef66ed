-- VolSDF rendering of a CSG scene (Yariv et al. 2021): the same scene at several β from sharp to soft, a depth
-- map, the error-bounded sampler's samples along one ray with the bound after each round, and an extracted mesh.
-- Writes PNGs and a PLY into the output directory (default build/volsdf; first argument overrides).
-- As a module (`loadfile(...)("--module")`) it returns run(outdir, {size = 96}) -> summary table, for the tour.
local mode = ...
local T = require "moonlab.tensor"
local sdf = require "moonlab.sdf"
local core = require "moonlab.core"

local function scene()
  local body = sdf.smooth_union(sdf.sphere { r = 0.7 }:color { 0.85, 0.35, 0.3 },
    sdf.torus { R = 0.8, r = 0.18 }:rotate({ 1, 0, 0 }, 0.35):color { 0.3, 0.5, 0.85 }, 0.15)
  local cut = sdf.cylinder { r = 0.28, h = 3 }:rotate({ 0, 0, 1 }, math.pi / 2)
  local floor = sdf.box { size = { 3, 0.2, 3 }, center = { 0, -1.0, 0 } }:color { 0.8, 0.8, 0.75 }
  return sdf.union(sdf.subtract(body, cut), floor,
    sdf.capsule { a = { 1.1, -0.9, -0.6 }, b = { 1.1, -0.1, -0.6 }, r = 0.18 }:color { 0.4, 0.75, 0.4 })
end

local function run(outdir, o)
  o = o or {}
  local n = o.size or 256
  os.execute("mkdir -p '" .. outdir .. "'")
  local s = scene()
  local cam = { eye = { 1.6, 1.3, 3.2 }, target = { 0, -0.3, 0 }, fov = 45, width = n, height = n }
  local res = { files = {}, betas = {}, scene = tostring(s) }
  -- 1. several β, sharp to soft
  for _, beta in ipairs(o.betas or { 0.002, 0.02, 0.1 }) do
    local t0 = core.now()
    local img, maps = sdf.render(s, cam, { beta = beta, outputs = { "depth", "opacity" }, quiet = o.quiet })
    local file = ("%s/volsdf_beta_%g.png"):format(outdir, beta)
    sdf.save_png(file, img)
    res.files[#res.files + 1] = file
    res.betas[#res.betas + 1] = { beta = beta, seconds = core.now() - t0, file = file }
    if beta == (o.betas or { 0.002 })[1] then
      -- depth map, near = white
      local d = maps.depth
      local lo, hi = d:min(), 6
      local dm = (d * -1 + hi) / (hi - lo)
      local dfile = outdir .. "/volsdf_depth.png"
      sdf.save_png(dfile, dm)
      res.files[#res.files + 1] = dfile
      res.depth_file = dfile
    end
  end
  -- 2. one ray through the scene: the evaluated samples and the bound after each round (the algorithm is
  -- deterministic, so max_iters = k stops it after round k)
  local ro, rd = T.new { cam.eye }, T.new { { -1.6, -1.5, -3.2 } }
  res.rounds = {}
  local series = {}
  for k = 1, 5 do
    local sm = sdf.sample(s, ro, rd, { beta = 0.002, max_iters = k, keep_eval = true })
    local te = sm.t_eval:totable()[1]
    local xs, ys = {}, {}
    for _, t in ipairs(te) do
      if t == t then xs[#xs + 1] = t; ys[#ys + 1] = k end
    end
    res.rounds[k] = { bound = sm.bound:get(1), beta_plus = sm.beta_plus:get(1), samples = #xs }
    series[#series + 1] = { x = xs, y = ys, label = ("round %d: B = %.3g at beta+ = %.3g"):format(k, sm.bound:get(1),
      sm.beta_plus:get(1)), style = "points" }
  end
  local ok, plot = pcall(require, "moonlab.plot")
  if ok and plot.available and plot.available() then
    local pfile = outdir .. "/volsdf_ray_samples.png"
    plot.lines { file = pfile, title = "Error-bounded sampling along one ray (beta = 0.002, eps = 0.1)",
      xlabel = "depth t", ylabel = "round", yrange = { 0, 9 }, series = series }
    res.files[#res.files + 1] = pfile
    res.plot_file = pfile
  end
  -- 3. mesh
  local v, f = sdf.marching_cubes(s, { bounds = { { -1.6, -1.2, -1.6 }, { 1.6, 1.1, 1.6 } }, resolution = o.mesh_res or 96,
    quiet = o.quiet })
  local ply = outdir .. "/volsdf_mesh.ply"
  sdf.save_ply(ply, v, f)
  res.files[#res.files + 1] = ply
  res.mesh = { vertices = v:shape()[1], faces = f:shape()[1], file = ply }
  return res
end

if mode == "--module" then return run end

local outdir = (arg and arg[1]) or ((os.getenv("MOONLAB_ROOT") or ".") .. "/build/volsdf")
local r = run(outdir, {})
print(r.scene)
for _, b in ipairs(r.betas) do print(("beta %-6g rendered in %.2f s -> %s"):format(b.beta, b.seconds, b.file)) end
for k, rd in ipairs(r.rounds) do
  print(("round %d: %d evaluated samples, beta+ = %.4g, bound B = %.4g"):format(k, rd.samples, rd.beta_plus, rd.bound))
end
print(("mesh: %d vertices, %d faces -> %s"):format(r.mesh.vertices, r.mesh.faces, r.mesh.file))
