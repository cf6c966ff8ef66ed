-- Saddle searches with the dimer and the GPR-accelerated dimer (Goswami et al. 2025, arXiv
-- 2505.12519) on Müller–Brown, LEPS, 2-D and 3-D LJ7 and the Morse heptamer on a frozen slab.
-- From N seeded starting points near a minimum (random displacement and random initial mode) each
-- method runs once (GPR-dimer trust region for atoms: pair-distance ratios in [0.9, 1.1]); a run succeeds when it converges (true |G| < 0.01) to a point whose
-- finite-difference Hessian has exactly one negative eigenvalue. Reports per method and system the
-- success rate, mean and median true evaluations (of successful runs) and distinct saddles, and
-- plots the Müller–Brown surface with one path of each method.
-- Usage: lua5.4 examples/saddle_search.lua [N=20] [systems=mb,leps,lj2,lj3,morse] [outdir] [methods=dimer,gpr_dimer]
-- (env GP_MAX_OUTER = 60 and GP_HYPER_MAXIT = 40 cap the GPR-dimer's true evaluations and MAP evaluations;
-- GP_FIRST = k runs starts k..N only (to trace one start); GP_HYPER_POINTS, GP_HYPER_SELECT=latest|fps,
-- GP_HYPER_EVERY, GP_ANCHOR_PRIOR=1, GP_INIT_ROT, GP_LENGTH_FLOOR, GP_TRUST_ADAPT=0|1, GP_REJECT=0|1 and
-- GP_REJECT_TOL set gpr_dimer's hyper_points, hyper_select, hyper_every, anchor_prior, init_rot, length_floor,
-- trust_adapt, reject and reject_tol)
-- As a module (the tour): local run = dofile(...)("--module"); run{n = 4, systems = {"mb"}}
local gp = require "moonlab.gp"
local T = require "moonlab.tensor"

local function normal(seed, i)
  local t = T.randn({ 1 }, { seed = seed * 1000 + i })
  return t:get(1)
end

local function randvec(D, seed, scale)
  local t = T.randn({ D }, { seed = seed })
  return t * scale
end

-- Systems: potential, a minimum to start from, displacement scale, kernel, tolerances.
local function systems()
  local S = {}
  do
    local pot = gp.potential.muller_brown()
    S.mb = { name = "Müller–Brown", pot = pot, min = gp.minimize(pot, T.new { -0.558, 1.442 }).x, disp = 0.1,
      kernel = function() return gp.kernel.se { lengthscales = 0.5, variance = 1e4 } + gp.kernel.constant { value = 1, fixed = true } end }
  end
  do
    local pot = gp.potential.leps()
    -- the reactant valley A + BC: r_AB free, r_BC at 0.74 (no minimum at finite r_AB: start on the plateau)
    S.leps = { name = "LEPS A+BC", pot = pot, min = gp.minimize(pot, T.new { 2.2, 0.74 }, { maxit = 200, quiet = true }).x,
      start = T.new { 2.2, 0.74 }, disp = 0.1,
      kernel = function() return gp.kernel.se { lengthscales = 0.5, variance = 10 } + gp.kernel.constant { value = 1, fixed = true } end }
  end
  local function lj(dim)
    local pot = gp.potential.lj { n = 7, dim = dim }
    local x = {}
    if dim == 2 then
      x = { 0, 0 }
      for k = 0, 5 do x[#x + 1] = 1.12 * math.cos(k * math.pi / 3); x[#x + 1] = 1.12 * math.sin(k * math.pi / 3) end
    else -- pentagonal bipyramid
      for k = 0, 4 do
        local a = 2 * math.pi * k / 5
        x[#x + 1] = 0.95 * math.cos(a); x[#x + 1] = 0.95 * math.sin(a); x[#x + 1] = 0
      end
      for _, z in ipairs { 0.56, -0.56 } do x[#x + 1] = 0; x[#x + 1] = 0; x[#x + 1] = z * 1.0 end
    end
    local m = gp.minimize(pot, T.new(x), { quiet = true }).x
    return { name = ("LJ7 %d-D"):format(dim), pot = pot, min = m, disp = 0.05, trust = { 0.9, 1.1 }, hyper_points = 10,
      kernel = function() return gp.kernel.inverse_distance { atoms = 7, dim = dim, lengthscales = 0.5, variance = 1 } end }
  end
  S.lj2, S.lj3 = lj(2), lj(3)
  do
    local pot, x0, frozen = gp.potential.morse {}
    -- the kernel sees the frozen atoms within 4 Å (in-plane) of the island
    local near = {}
    for i = 1, frozen:shape()[1] do
      local fx, fy = frozen:get(i, 1), frozen:get(i, 2)
      if math.sqrt(fx * fx + fy * fy) < 5 and frozen:get(i, 3) > -1 then near[#near + 1] = { fx, fy, frozen:get(i, 3) } end
    end
    local m = gp.minimize(pot, x0, { quiet = true }).x
    S.morse = { name = "Morse heptamer", pot = pot, min = m, disp = 0.05, trust = { 0.9, 1.1 }, hyper_points = 10,
      kernel = function()
        local types = {}
        for i = 1, 7 do types[i] = 1 end
        for i = 1, #near do types[7 + i] = 2 end
        return gp.kernel.inverse_distance { atoms = 7, dim = 3, frozen = T.new(near), types = types,
          pair_types = { { 1, 2 }, { 2, 2 } }, lengthscales = { 0.5, 0.5 }, variance = 1 }
      end }
  end
  return S
end

local function mb_published(x)
  for i, s in ipairs(gp.muller_brown_points.saddles) do
    if math.abs(x:get(1) - s[1]) < 1e-3 and math.abs(x:get(2) - s[2]) < 1e-3 then return i end
  end
end

local function stats(calls)
  if #calls == 0 then return 0 / 0, 0 / 0 end
  local s, sorted = 0, {}
  for i, c in ipairs(calls) do s = s + c; sorted[i] = c end
  table.sort(sorted)
  local n = #sorted
  local med = n % 2 == 1 and sorted[(n + 1) // 2] or 0.5 * (sorted[n // 2] + sorted[n // 2 + 1])
  return s / n, med
end

local function run(opts)
  opts = opts or {}
  local N = opts.n or 20
  local S = systems()
  local order = opts.systems or { "mb", "leps", "lj2", "lj3", "morse" }
  local rows, paths = {}, {}
  for _, key in ipairs(order) do
    local sys = S[key]
    local D = sys.pot:info().dim
    for _, method in ipairs(opts.methods or { "dimer", "gpr_dimer" }) do
      local ok, calls, saddles, energies = 0, {}, {}, {}
      for i = opts.first or 1, N do
        local seed = 100 * i + 7
        local x0 = (sys.start or sys.min) + randvec(D, seed, sys.disp)
        local m0 = randvec(D, seed + 1, 1)
        sys.pot:reset_calls()
        local r
        local o = { quiet = true, maxit = 2000, max_calls = opts.max_calls or 2000 }
        if method == "gpr_dimer" then
          o = { quiet = true, kernel = sys.kernel(), max_outer = opts.max_outer or 60, hyper_maxit = opts.hyper_maxit or 40,
            hyper_points = opts.hyper_points or sys.hyper_points, hyper_select = opts.hyper_select, hyper_every = opts.hyper_every,
            anchor_prior = opts.anchor_prior, init_rot = opts.init_rot, trust_adapt = opts.trust_adapt,
            reject = opts.reject, reject_tol = opts.reject_tol, length_floor = opts.length_floor }
          -- atoms: pair-distance ratios within [0.9, 1.1] of a data point (the paper's [2/3, 3/2] lets a
          -- single surrogate step run into the steep LJ/Morse repulsion)
          if sys.trust then o.ratio_lo, o.ratio_hi = sys.trust[1], sys.trust[2] end
        end
        local good, res = pcall(gp[method], sys.pot, x0, m0, o)
        if good then r = res end
        local H = r and r.converged and gp.hessian(sys.pot, r.x) or nil
        if opts.progress then
          local sec = r and r.seconds and (" (fit %.1f s, hyper %.1f s, surrogate dimer %.1f s)"):format(r.seconds.fit,
            r.seconds.hyper, r.seconds.dimer) or ""
          opts.progress(("%s %s start %d: %s, %s calls, E %s, %s negative eigenvalues%s"):format(sys.name, method, i,
            r and r.reason or (good and "error" or tostring(res)), r and r.calls or "-",
            r and ("%.4f"):format(r.energy) or "-", H and H.negative or "-", sec))
        end
        if r and r.converged then
          if H.negative == 1 then
            ok = ok + 1
            calls[#calls + 1] = r.calls
            local e = r.energy
            local new = true
            for _, s in ipairs(saddles) do if math.abs(s - e) < 1e-4 * math.max(1, math.abs(e)) then new = false end end
            if new then saddles[#saddles + 1] = e end
            if key == "mb" and not paths[method] then paths[method] = r.path end
            if key == "mb" then energies[#energies + 1] = mb_published(r.x) or 0 end
          end
        end
      end
      local mean, med = stats(calls)
      local pub = ""
      if key == "mb" then
        local c = 0
        for _, v in ipairs(energies) do if v > 0 then c = c + 1 end end
        pub = (" (%d/%d at a published saddle)"):format(c, #energies)
      end
      local count = N - (opts.first or 1) + 1
      rows[#rows + 1] = { system = sys.name, method = method, success = ok / count, n = count, mean = mean, median = med,
        saddles = #saddles, note = pub, energies = saddles }
      if opts.log then opts.log(rows[#rows]) end
    end
  end
  return rows, paths
end

local function table_md(rows)
  local out = { "| system | method | success | mean calls | median calls | distinct saddles |", "|---|---|---|---|---|---|" }
  for _, r in ipairs(rows) do
    local function num(v) return v == v and ("%.1f"):format(v) or "–" end
    out[#out + 1] = ("| %s | %s | %d/%d | %s | %s | %d%s |"):format(r.system, r.method, math.floor(r.success * r.n + 0.5),
      r.n, num(r.mean), num(r.median), r.saddles, r.note)
  end
  return table.concat(out, "\n")
end

-- Müller–Brown iso-energy lines as points (marching along grid rows and columns) and the two paths.
local function plot_mb(paths, outdir)
  local ok, plot = pcall(require, "moonlab.plot")
  if not ok or not plot.available() then return nil end
  local pot = gp.potential.muller_brown()
  local nx, ny, x0, x1, y0, y1 = 160, 140, -1.6, 1.2, -0.5, 2.1
  local Z = {}
  for j = 1, ny do
    Z[j] = {}
    for i = 1, nx do
      local x, y = x0 + (x1 - x0) * (i - 1) / (nx - 1), y0 + (y1 - y0) * (j - 1) / (ny - 1)
      Z[j][i] = (pot:energy_gradient(T.new { x, y }))
    end
  end
  local cx, cy = {}, {}
  for level = -140, 100, 20 do
    for j = 1, ny do
      for i = 1, nx do
        local z = Z[j][i]
        local x, y = x0 + (x1 - x0) * (i - 1) / (nx - 1), y0 + (y1 - y0) * (j - 1) / (ny - 1)
        if i < nx and (z - level) * (Z[j][i + 1] - level) < 0 then
          local t = (level - z) / (Z[j][i + 1] - z)
          cx[#cx + 1] = x + t * (x1 - x0) / (nx - 1); cy[#cy + 1] = y
        end
        if j < ny and (z - level) * (Z[j + 1][i] - level) < 0 then
          local t = (level - z) / (Z[j + 1][i] - z)
          cx[#cx + 1] = x; cy[#cy + 1] = y + t * (y1 - y0) / (ny - 1)
        end
      end
    end
  end
  local series = { { x = cx, y = cy, label = "iso-energy lines (every 20)", style = "dots lc rgb '#999999'" } }
  for _, m in ipairs { "dimer", "gpr_dimer" } do
    local p = paths[m]
    if p and p.x then
      local xs, ys = {}, {}
      for k = 1, p.x:shape()[1] do xs[k] = p.x:get(k, 1); ys[k] = p.x:get(k, 2) end
      series[#series + 1] = { x = xs, y = ys, label = m .. (" (%d midpoints)"):format(#xs), style = "linespoints" }
    end
  end
  local sx, sy = {}, {}
  for _, s in ipairs(gp.muller_brown_points.saddles) do sx[#sx + 1] = s[1]; sy[#sy + 1] = s[2] end
  series[#series + 1] = { x = sx, y = sy, label = "published saddles", style = "points pt 6 ps 2" }
  local file = outdir .. "/saddle_search_mb.png"
  local good = pcall(plot.lines, { file = file, title = "Müller–Brown: dimer and GPR-dimer paths", xlabel = "x",
    ylabel = "y", xrange = { x0, x1 }, yrange = { y0, y1 }, series = series })
  return good and file or nil
end

local M = { run = run, table_md = table_md, plot_mb = plot_mb }

if arg and arg[1] == "--module" then return M end
if ... == "--module" then return M end

local N = tonumber(arg and arg[1]) or 20
local sys = arg and arg[2] and (function() local t = {} for s in arg[2]:gmatch("[^,]+") do t[#t + 1] = s end return t end)() or nil
local outdir = arg and arg[3] or "build"
local t0 = os.time()
local methods = arg and arg[4] and (function() local t = {} for s in arg[4]:gmatch("[^,]+") do t[#t + 1] = s end return t end)() or nil
local rows, paths = run { n = N, first = tonumber(os.getenv("GP_FIRST") or ""), systems = sys, methods = methods, max_outer = tonumber(os.getenv("GP_MAX_OUTER") or ""),
  hyper_maxit = tonumber(os.getenv("GP_HYPER_MAXIT") or ""), hyper_points = tonumber(os.getenv("GP_HYPER_POINTS") or ""), hyper_select = os.getenv("GP_HYPER_SELECT"),
  hyper_every = tonumber(os.getenv("GP_HYPER_EVERY") or ""), anchor_prior = os.getenv("GP_ANCHOR_PRIOR") == "1" or nil,
  init_rot = tonumber(os.getenv("GP_INIT_ROT") or ""), trust_adapt = os.getenv("GP_TRUST_ADAPT") and os.getenv("GP_TRUST_ADAPT") == "1",
  reject = os.getenv("GP_REJECT") and os.getenv("GP_REJECT") == "1", length_floor = tonumber(os.getenv("GP_LENGTH_FLOOR") or ""),
  reject_tol = tonumber(os.getenv("GP_REJECT_TOL") or ""), progress = function(s) io.stderr:write(s, "\n") end, log = function(r)
  io.stderr:write(("%s %s: %d/%d, mean %.1f, median %.1f calls, %d saddles%s\n"):format(r.system, r.method,
    math.floor(r.success * r.n + 0.5), r.n, r.mean, r.median, r.saddles, r.note))
end }
print(table_md(rows))
local f = plot_mb(paths, outdir)
if f then print("figure: " .. f) end
print(("(%d s)"):format(os.time() - t0))
