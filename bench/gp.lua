-- bench/gp.lua — GP core figures, medians with references measured in the same run (the machine may
-- be shared: medians of several runs, ratios rather than bare times).
--  1. fit with derivative observations, N = 100/200/400 configurations of a 7-atom 3-D system
--     (inverse-distance kernel, matrix N*22): assembly vs Cholesky, Cholesky rate vs LAPACK dpotrf
--     on a random SPD matrix of the same size (goal >= 0.9), assembly share (goal <= 25%);
--  2. fit + lml + gradient from the hyperparameters, energy-only RBF (ARD) GP, N = 2000, D = 8, against
--     scikit-learn's log_marginal_likelihood(theta, eval_gradient=True) (goal >= 5x), when installed;
--  3. one GPR-dimer outer iteration at 50 data points of LJ7 3-D: fit / MAP / surrogate dimer.
-- Usage: lua5.4 bench/gp.lua [quick | fit [N,N,...] | lml | outer]
local core = require "moonlab.core"
local T = require "moonlab.tensor"
local gp = require "moonlab.gp"
local bench = require "moonlab.bench"

local quick = arg and arg[1] == "quick"
local only = arg and (arg[1] == "fit" or arg[1] == "lml" or arg[1] == "outer") and arg[1] or nil
local root = os.getenv("MOONLAB_ROOT") or "."
local med = bench.median_of

local function configs(n, seed)
  -- LJ7 3-D around a pentagonal bipyramid, random displacements
  local base = {}
  for k = 0, 4 do
    local a = 2 * math.pi * k / 5
    base[#base + 1] = 0.95 * math.cos(a); base[#base + 1] = 0.95 * math.sin(a); base[#base + 1] = 0
  end
  for _, z in ipairs { 0.56, -0.56 } do base[#base + 1] = 0; base[#base + 1] = 0; base[#base + 1] = z end
  local X = T.randn({ n, 21 }, { seed = seed, std = 0.08 })
  for i = 1, n do for d = 1, 21 do X:set(i, d, X:get(i, d) + base[d]) end end
  return X
end

local function data(pot, X)
  local n, D = X:shape()[1], X:shape()[2]
  local E, G = T.zeros { n }, T.zeros { n, D }
  for i = 1, n do
    local row = {}
    for d = 1, D do row[d] = X:get(i, d) end
    local e, g = pot:energy_gradient(T.new(row))
    E:set(i, e)
    for d = 1, D do G:set(i, d, g:get(d)) end
  end
  return E, G
end

print(("moonlab.gp bench (%s)"):format(quick and "quick" or "full"))
print(("threads %d; the machine may be shared: medians"):format(require("moonlab").get_threads()))

-- 1. fit with derivatives
local pot = gp.potential.lj { n = 7, dim = 3 }
local k = gp.kernel.inverse_distance { atoms = 7, dim = 3, lengthscales = 0.5, variance = 1 }
local sizes = { 100, 200, 400 }
if only == "fit" and arg[2] then
  sizes = {}
  for v in arg[2]:gmatch("%d+") do sizes[#sizes + 1] = tonumber(v) end
end
for _, n in ipairs((only and only ~= "fit") and {} or quick and { 100 } or sizes) do
  local runs = n >= 400 and 3 or 5
  local X = configs(n, n)
  local E, G = data(pot, X)
  local N = n * 22
  local ta, tc, tf, tr = {}, {}, {}, {}
  local m = gp.GP { kernel = k }
  m:fit(X, E, G)
  local ratio = {}
  for r = 1, runs do
    -- fit and reference alternate in order; the ratio is taken per pair (the load changes between runs)
    if r % 2 == 0 then tr[r] = core.gp_bench_cholesky(N, r) end
    local t0 = core.now()
    m:fit(X, E, G)
    tf[r] = core.now() - t0
    local info = m:info()
    ta[r], tc[r] = info.seconds_assembly, info.seconds_cholesky
    if r % 2 == 1 then tr[r] = core.gp_bench_cholesky(N, r) end
    ratio[r] = tr[r] / tc[r]
  end
  local a, f, ref, chol = med(ta), med(tf), med(tr), med(tc)
  local flops = N ^ 3 / 3
  local load = bench.loadavg():match("^(%S+)")
  print(("gp fit with gradients N=%d (matrix %d): total %.3f s, assembly %.3f s (%.1f%%), Cholesky %.3f s " ..
    "(%.1f GFLOP/s = %.2fx dpotrf %.1f GFLOP/s on a random SPD matrix; median of the paired ratios) [medians of %d, load %s]"):format(
    n, N, f, a, 100 * a / f, chol, flops / chol / 1e9, med(ratio), flops / ref / 1e9, runs, load))
end

-- 2. fit + lml + gradient from the hyperparameters vs scikit-learn's log_marginal_likelihood(theta,
-- eval_gradient=True), which also builds K and its gradient, factors and solves from theta: ours is timed as
-- a fresh GP fitted at those hyperparameters, then lml{gradient = true} (what one evaluation in gp:optimize
-- costs). Rounds alternate ours and a scikit-learn process (same threads); the ratio is taken per round.
if not only or only == "lml" then
  local n, D = quick and 500 or 2000, 8
  local X = T.rand({ n, D }, { seed = 1 }) * 2
  local y = X:sum(2):sin()
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p " .. dir)
  X:save(dir .. "/X.npy")
  y:save(dir .. "/y.npy")
  local threads = require("moonlab").get_threads()
  local k = gp.kernel.se { lengthscales = { 1, 1, 1, 1, 1, 1, 1, 1 }, variance = 1.3 }
  local have = bench.python_has("sklearn")
  local rounds, per = quick and 1 or 3, 3
  local tot, ta, tc, ti, tk, tg, ps, ratio = {}, {}, {}, {}, {}, {}, {}, {}
  local lml, sk_lml, fast
  gp.GP { kernel = k, noise = 1e-4 }:fit(X, y):lml { gradient = true } -- warm-up
  for r = 1, rounds do
    local mine = {}
    for _ = 1, per do
      local t0 = core.now()
      local m = gp.GP { kernel = k, noise = 1e-4 }:fit(X, y)
      local l = m:lml { gradient = true }
      local t = core.now() - t0
      local info = m:info()
      mine[#mine + 1] = t
      tot[#tot + 1], ta[#ta + 1], tc[#tc + 1] = t, info.seconds_assembly, info.seconds_cholesky
      ti[#ti + 1], tk[#tk + 1] = info.seconds_inverse, info.seconds_contraction -- (nil before these fields)
      lml, fast = l, info.fast_path
      -- the old figure of this line: lml + gradient alone on the fitted GP
      t0 = core.now()
      m:lml { gradient = true }
      tg[#tg + 1] = core.now() - t0
    end
    if have then
      local p = io.popen(("OMP_NUM_THREADS=%d OPENBLAS_NUM_THREADS=%d /usr/bin/python3 %s/bench/gp_sklearn.py %s %d")
        :format(threads, threads, root, dir, per))
      local out = p:read("a")
      p:close()
      local t = tonumber(out:match("^(%S+)"))
      if t then
        ps[#ps + 1], sk_lml = t, out:match("%S+%s+(%S+)")
        ratio[#ratio + 1] = t / med(mine)
      end
    end
  end
  os.execute("rm -rf " .. dir)
  local load = bench.loadavg():match("^(%S+)")
  local split = #ti > 0 and ("%.3f s (K^-1 %.3f, contraction %.3f)"):format(med(ti) + med(tk), med(ti), med(tk)) or "(no split)"
  local line = ("gp fit + lml + gradient from theta, energy-only RBF ARD N=%d D=%d (%s path): %.3f s = fit %.3f s " ..
    "(assembly %.3f, Cholesky %.3f) + lml gradient %s"):format(n, D, fast and "fast" or "generic", med(tot),
    med(ta) + med(tc), med(ta), med(tc), split)
  if #ratio > 0 then
    line = line .. (" = %.2fx scikit-learn %.3f s (median of %d per-round ratios; same data, %d threads; lml %.6f vs %s)")
      :format(med(ratio), med(ps), #ratio, threads, lml, sk_lml)
  else
    line = line .. " (scikit-learn not installed: no ratio)"
  end
  print(line .. (" [medians of %d, load %s]"):format(#tot, load))
  print(("gp lml + gradient alone on the fitted GP (K^-1 + contraction, the line's old figure): %.3f s"):format(med(tg)))
end

-- 3. one GPR-dimer outer iteration at 50 points of LJ7 3-D
if not only or only == "outer" then
  local X = configs(50, 7)
  local E, G = data(pot, X)
  local E0 = E:get(1)
  local Es = E - E0
  local kk = gp.kernel.inverse_distance { atoms = 7, dim = 3, lengthscales = 0.5, variance = 1,
    constant = math.max(1, (Es:sum() / 50) ^ 2) }
  local tf, th, td, t10 = {}, {}, {}, {}
  for r = 1, 5 do
    local t0 = core.now()
    local m = gp.GP { kernel = kk }:fit(X, Es, G)
    tf[r] = core.now() - t0
    t0 = core.now()
    m:optimize { maxit = 100, xtol = 1e-4, quiet = true }
    th[r] = core.now() - t0
    -- MAP on the latest 10 points only (gpr_dimer's hyper_points = 10), fitting included
    t0 = core.now()
    local m10 = gp.GP { kernel = kk }:fit(X:narrow(1, 41, 10), Es:narrow(1, 41, 10), G:narrow(1, 41, 10))
    m10:optimize { maxit = 100, xtol = 1e-4, quiet = true }
    t10[r] = core.now() - t0
    local sur = gp.potential.fn(function(x)
      local p = m:predict(x, { gradient = true })
      return p.energy:get(1), p.gradient:reshape { 21 }
    end, { dim = 21, atoms = 7, atom_dim = 3, rigid = true })
    local x0 = T.zeros { 21 }
    for d = 1, 21 do x0:set(d, X:get(50, d)) end
    t0 = core.now()
    gp.dimer(sur, x0, T.randn({ 21 }, { seed = 3 }), { maxit = 200, rot_tol = 0.01, quiet = true })
    td[r] = core.now() - t0
  end
  print(("gp GPR-dimer outer iteration at 50 points (LJ7 3-D, 1100 observations): fit %.1f ms, MAP %.1f ms " ..
    "(%.1f ms on the latest 10 points, hyper_points = 10), surrogate dimer %.1f ms (Lua-wrapped posterior, " ..
    "<= 200 translations) [medians of 5]"):format(1e3 * med(tf), 1e3 * med(th), 1e3 * med(t10), 1e3 * med(td)))
end
