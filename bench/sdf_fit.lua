-- bench/sdf_fit.lua — one VolSDF training step of a 128³ grid SDF (error-bounded sampling at the current β,
-- differentiable rendering, L1 loss, backward to the node values, colours and β) in rays per second, against the
-- same step in PyTorch on CPU (bench/sdf_fit_torch.py, when python3-torch is installed; same rays, same grid,
-- same thread count; the C step is timed before and after it). Medians of 5 runs.
-- Usage: lua5.4 bench/sdf_fit.lua [--quick]   (--quick: 3 runs)
local ml = require "moonlab"
local core = require "moonlab.core"
local T = ml.tensor
local sdf = require "moonlab.sdf"
local B = require "moonlab.bench"
local S = require "bench.helpers.sdf_scene"

local quick = arg and arg[1] == "--quick"
local RUNS = quick and 3 or 5
local threads = ml.info().threads
print(("# sdf fit bench: %d threads (medians of %d runs; the machine may be shared)"):format(threads, RUNS))

-- the bench scene of bench/sdf.lua (bench/helpers/sdf_scene.lua) sampled onto a 128³ grid over [-1.5, 1.5]³;
-- 1024 camera rays with the true scene's pixels as targets, β = 0.05 (mid-training)
local scene = S.scene()
local bounds = { { -1.5, -1.5, -1.5 }, { 1.5, 1.5, 1.5 } }
local res = 128
local info = sdf.grid_info(sdf.grid { res = res, bounds = bounds, from = scene })
local grid = sdf.grid { res = res, bounds = bounds, values = info.values, colors = T.full({ res, res, res, 3 }, 0.5) }
local cam = S.camera(32)
local o, u = sdf.camera_rays(cam)
local target = sdf.render(scene, cam, { quiet = true }):reshape { 1024, 3 }
local R = o:shape()[1]
local opts = { beta = 0.05, near = 1, far = 6, n_eval = 64, n_final = 32, n_extra = 16 }
local loss, N
local function step() loss, N = core.sdf_fit_step(grid.grid, o, u, target, opts) end
local samples = {}
for r = 1, RUNS do samples[#samples + 1] = B.median(step, { runs = 1, warmup = r == 1 and 1 or 0 }) end
local refs = ("%d samples/ray, loss %.4f"):format(N, loss)
if B.python_has("torch") then
  local rpath, vpath = S.save_rays(o, u, target), os.tmpname() .. ".npy"
  info.values:save(vpath)
  local out = S.python("sdf_fit_torch.py", vpath, rpath, threads, RUNS, "0.05")
  os.remove(rpath); os.remove(vpath)
  local ts, tn, tl = out:match("TORCH (%S+) (%S+) (%S+)")
  for r = 1, RUNS do samples[#samples + 1] = B.median(step, { runs = 1, warmup = 0 }) end
  if ts then
    local sec = B.median_of(samples)
    refs = refs .. ("; %.1fx torch %.0f rays/s (%s samples/ray, loss %.4f)"):format(tonumber(ts) / sec,
      R / tonumber(ts), tn, tonumber(tl))
  else
    refs = refs .. "; torch failed: " .. out:gsub("\n", " "):sub(1, 300)
  end
else
  refs = refs .. "; torch skipped: python3-torch not installed"
end
B.report(("sdf fit step (sample + render + backward), %d rays, 128^3 grid, beta=0.05"):format(R),
  R / B.median_of(samples), "rays/s", refs)
