-- bench/sdf.lua — the SDF core: error-bounded sampling against a vectorised PyTorch port of the same algorithm
-- (bench/sdf_torch.py, when python3-torch is installed), a 512×512 render against sphere tracing, and scene
-- evaluation against a hand-written C loop of the same formula. Medians; references measured in the same run.
-- Usage: lua5.4 bench/sdf.lua [--quick | --only sample|render|eval]   (--quick: 256² render, 3 runs)
local ml = require "moonlab"
local core = require "moonlab.core"
local T = ml.tensor
local sdf = require "moonlab.sdf"
local B = require "moonlab.bench"
local S = require "bench.helpers.sdf_scene"

local quick = arg and arg[1] == "--quick"
local only = arg and arg[1] == "--only" and arg[2] or nil
local function part(name) return only == nil or only == name end
local RUNS = quick and 3 or 5
local info = ml.info()
local threads = info.threads
print(("# sdf bench: %d threads (medians of %d runs; the machine may be shared)"):format(threads, RUNS))

local scene = S.scene() -- the sampler scene: sphere + box + torus

-- 1. error-bounded sampling, β = 0.01, reference defaults, 32×32 camera rays
if part("sample") then
  local o, u = sdf.camera_rays(S.camera(32))
  local R = o:shape()[1]
  local opts = { beta = 0.01, quiet = true }
  local s
  local sec = B.median(function() s = sdf.sample(scene, o, u, opts) end, { runs = RUNS })
  local evals = s.sdf_evals:mean()
  local conv = 0
  for i = 1, R do if s.bound:get(i) <= 0.1 then conv = conv + 1 end end
  local refs = ("%.1f SDF evaluations/ray, %.1f%% of rays with B <= eps"):format(evals, 100 * conv / R)
  if B.python_has("torch") then
    local path = S.save_rays(o, u)
    local out = S.python("sdf_torch.py", path, threads, RUNS, "0.01")
    os.remove(path)
    local ts, tev = out:match("TORCH (%S+) (%S+)")
    if ts then
      local sec2 = B.median(function() sdf.sample(scene, o, u, opts) end, { runs = RUNS })
      sec = math.min(sec, sec2)
      refs = refs .. ("; %.1fx torch %.0f rays/s (%.1f evaluations/ray, whole batch iterates until every ray converges)")
        :format(tonumber(ts) / sec, R / tonumber(ts), tonumber(tev))
    else
      refs = refs .. "; torch failed: " .. out:gsub("\n", " "):sub(1, 200)
    end
  else
    refs = refs .. "; torch skipped: python3-torch not installed"
  end
  B.report(("sdf.sample error_bound beta=0.01, %d rays, sphere+box+torus"):format(R), R / sec, "rays/s", refs)
end

-- 2. render with the error-bounded sampler vs sphere tracing, same scene and camera
if part("render") then
  local n = quick and 256 or 512
  local cam = S.camera(n)
  local runs = quick and 3 or 5
  local ts = B.median(function() sdf.render(scene, cam, { sphere_trace = true, quiet = true }) end, { runs = runs })
  local te = B.median(function() sdf.render(scene, cam, { beta = 0.01, quiet = true }) end, { runs = runs, warmup = 0 })
  B.report(("sdf.render %dx%d error_bound beta=0.01"):format(n, n), te, "s",
    ("%.1fx the time of sphere tracing %.3f s"):format(te / ts, ts))
end

-- 3. scene evaluation: the compiled 11-node scene vs the same formula hand-written in C (csrc/sdf/bench_ref.c)
if part("eval") then
  local csg = sdf.subtract(sdf.union(sdf.sphere { r = 0.5, center = { -0.8, 0, 0 } }, sdf.box { size = 0.6, center = { 0.8, 0, 0 } },
      sdf.torus { R = 0.6, r = 0.15 }:translate { 0, 0.6, 0 }, sdf.capsule { a = { -0.5, -0.6, 0 }, b = { 0.5, -0.6, 0 }, r = 0.15 },
      sdf.cylinder { r = 0.2, h = 1.0, center = { 0, 0, 0.7 } }),
    sdf.sphere { r = 0.3 })
  local N = 1 << 20
  local p = T.rand({ N, 3 }, { seed = 1, lo = -1.5, hi = 1.5 })
  local a, b = csg:eval(p), core.sdf_bench_ref(p)
  local diff = (a - b):abs():max()
  assert(diff < 1e-12, "compiled scene and hand-written loop disagree: " .. diff)
  local tc, th = {}, {}
  for r = 1, 7 do
    th[r] = B.median(function() core.sdf_bench_ref(p) end, { runs = 1, warmup = r == 1 and 1 or 0 })
    tc[r] = B.median(function() csg:eval(p) end, { runs = 1, warmup = r == 1 and 1 or 0 })
  end
  local mc, mh = B.median_of(tc), B.median_of(th)
  B.report(("sdf scene eval, 11-node CSG, %d points"):format(N), N / mc / 1e6, "M evals/s",
    ("%.2fx the hand-written C loop %.1f M evals/s"):format(mh / mc, N / mh / 1e6))
end
