-- VolSDF reconstruction (Yariv et al. 2021, §3): renders views of a CSG scene with known colours (a torus, so
-- the surface has a hole), fits a grid SDF to those images alone with sdf.fit_views, extracts its mesh and
-- reports the Chamfer distance to the true surface (% of the true bounding-box diagonal), the PSNR of held-out
-- views, the learned β, and truth-vs-reconstruction PNGs from a held-out camera.
--   lua5.4 examples/volsdf_fit.lua [--full] [outdir]     (default outdir build/volsdf_fit)
-- As a module (`loadfile(...)("--module")`) it returns run(outdir, opts) -> summary table, for the tour.
local mode = ...
local T = require "moonlab.tensor"
local sdf = require "moonlab.sdf"
local core = require "moonlab.core"

local function scene()
  local ring = sdf.torus { R = 0.55, r = 0.17 }:rotate({ 1, 0, 0 }, 0.5):color { 0.85, 0.3, 0.2 }
  local ball = sdf.sphere { r = 0.26, center = { 0, 0.05, 0 } }:color { 0.2, 0.45, 0.85 }
  local block = sdf.subtract(sdf.box { size = { 0.5, 0.4, 0.5 }, center = { 0.15, -0.6, 0.1 } },
    sdf.sphere { r = 0.28, center = { 0.3, -0.45, 0.3 } }):color { 0.35, 0.7, 0.35 }
  return sdf.union(ring, ball, block)
end

-- n cameras on a sphere of radius dist (a Fibonacci spiral, rotated by off), all looking at the origin
local function cameras(n, size, dist, off)
  local out = {}
  for i = 0, n - 1 do
    local y = 1 - 2 * (i + 0.5) / n
    local r, th = math.sqrt(1 - y * y), i * 2.399963 + (off or 0)
    out[#out + 1] = { eye = { dist * r * math.cos(th), dist * y, dist * r * math.sin(th) }, fov = 40,
      width = size, height = size }
  end
  return out
end

-- at most k rows of V [n,3], evenly strided
local function subsample(V, k)
  local n = V:shape()[1]
  if n <= k then return V end
  local idx = {}
  for i = 1, k do idx[i] = 1 + (i - 1) * (n - 1) // (k - 1) end
  return V:index(1, idx)
end

-- mean nearest-neighbour distance from the rows of A [n,3] to those of B [m,3] (brute force, in chunks)
local function nn_mean(A, B)
  local n = A:shape()[1]
  local b2 = (B * B):sum(2):reshape { 1, B:shape()[1] }
  local total = 0
  for i0 = 1, n, 128 do
    local i1 = math.min(n, i0 + 127)
    local a = A:narrow(1, i0, i1 - i0 + 1)
    local d2 = (a * a):sum(2):reshape { i1 - i0 + 1, 1 } + b2 - a:matmul(B:t()) * 2
    local m = d2:min(2)
    for k = 1, i1 - i0 + 1 do total = total + math.sqrt(math.max(m:get(k), 0)) end
  end
  return total / n
end

local function psnr(a, b)
  local mse = ((a - b) * (a - b)):mean()
  return -10 * math.log(mse, 10)
end

local function side_by_side(a, b) return T.cat({ a, b }, 2) end

local function run(outdir, o)
  o = o or {}
  local full = o.full
  local size, res, iters = o.size or (full and 64 or 48), o.res or (full and 64 or 48), o.iters or (full and 3000 or 1500)
  local views = o.views or 24
  local n_eval, n_final, n_extra = o.n_eval, o.n_final, o.n_extra
  os.execute("mkdir -p '" .. outdir .. "'")
  local truth = scene()
  local B = { { -1, -1, -1 }, { 1, 1, 1 } }
  local t0 = core.now()
  local cams = cameras(views, size, 3)
  local imgs = {}
  for i, c in ipairs(cams) do imgs[i] = sdf.render(truth, c, { quiet = true }) end
  local t_render = core.now() - t0
  t0 = core.now()
  local grid, fit = sdf.fit_views(imgs, cams, { res = res, bounds = B, iters = iters, batch = o.batch or 512,
    lr = o.lr or (full and 0.005 or 0.01), lambda_eikonal = o.lambda_eikonal or 0.1, levels = o.levels or 2, seed = 1, quiet = o.quiet,
    n_eval = n_eval, n_final = n_final, n_extra = n_extra })
  local t_fit = core.now() - t0
  -- meshes and the Chamfer distance
  local mres = o.mesh_res or (full and 128 or 96)
  local vt = sdf.marching_cubes(truth, { bounds = B, resolution = mres, quiet = true })
  local vr = sdf.marching_cubes(grid, { bounds = B, resolution = mres, quiet = true })
  sdf.save_ply(outdir .. "/volsdf_fit_mesh.ply", sdf.marching_cubes(grid, { bounds = B, resolution = res, quiet = true }))
  local lo, hi = vt:min(1), vt:max(1)
  local diag = math.sqrt((hi:get(1) - lo:get(1)) ^ 2 + (hi:get(2) - lo:get(2)) ^ 2 + (hi:get(3) - lo:get(3)) ^ 2)
  local st, sr = subsample(vt, 6000), subsample(vr, 6000)
  local chamfer = 0.5 * (nn_mean(st, sr) + nn_mean(sr, st))
  -- held-out views (another spiral) and the pictures
  local held = cameras(o.held or 4, size, 3, 1.234)
  local ps = {}
  for i, c in ipairs(held) do
    local a = sdf.render(truth, c, { quiet = true })
    local b = sdf.render(grid, c, { quiet = true, beta = fit.beta })
    ps[i] = psnr(a, b)
    if i == 1 then sdf.save_png(outdir .. "/volsdf_fit_truth_vs_recon.png", side_by_side(a, b)) end
  end
  local mp = 0
  for _, p in ipairs(ps) do mp = mp + p / #ps end
  return { views = views, size = size, res = res, iters = iters, beta = fit.beta, chamfer = chamfer, diag = diag,
    chamfer_pct = 100 * chamfer / diag, psnr = mp, psnr_each = ps, t_render = t_render, t_fit = t_fit,
    loss_first = fit.loss:get(1), loss_last = fit.loss:get(fit.iterations), lipschitz = sdf.grid_info(grid).lipschitz,
    files = { outdir .. "/volsdf_fit_truth_vs_recon.png", outdir .. "/volsdf_fit_mesh.ply" } }
end

if mode == "--module" then return run end

local full, outdir = false, nil
for _, a in ipairs(arg or {}) do
  if a == "--full" then full = true else outdir = a end
end
outdir = outdir or ((os.getenv("MOONLAB_BUILD") or "build") .. "/volsdf_fit")
local t0 = core.now()
local r = run(outdir, { full = full })
print(("%d views of %d×%d, grid %d³, %d Adam steps (render %.1f s, fit %.1f s, total %.1f s)"):format(r.views, r.size,
  r.size, r.res, r.iters, r.t_render, r.t_fit, core.now() - t0))
print(("colour L1 loss %.4f -> %.4f; learned β = %.4g; grid Lipschitz constant %.3g"):format(r.loss_first, r.loss_last,
  r.beta, r.lipschitz))
print(("Chamfer distance %.4f = %.2f %% of the bounding-box diagonal %.3f (goal < 2 %%)"):format(r.chamfer, r.chamfer_pct, r.diag))
local each = {}
for i, p in ipairs(r.psnr_each) do each[i] = ("%.1f"):format(p) end
print(("held-out PSNR %.2f dB (views: %s; goal >= 25 dB)"):format(r.psnr, table.concat(each, ", ")))
print("wrote " .. table.concat(r.files, ", "))
