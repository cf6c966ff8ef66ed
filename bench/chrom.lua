-- bench/chrom.lua — the chromatography figures of issue #16, each as a ratio measured in this run:
--   1. chrom.fit of four analytes (Da, kappa, A each; 700 points, 1% noise) against about forty
--      lines of SciPy least_squares on a NumPy FFT inversion of the same model
--      (bench/chrom_scipy.py; skipped without python3-scipy), interleaved, medians of 5 rounds;
--   2. the same fit with the de Hoog model (the old default);
--   3. the default outlet (Fourier series on the uniform grid) against de Hoog M = 24 (the old
--      default): cost ratio, and each one's error against mpmath at 30 digits (skipped without
--      python3-mpmath);
--   4. the default outlet for each injection kind at 700 non-uniform times (pulse and data: the
--      closed-form impulse response for every grid; Gaussian: on non-uniform grids; with dispersion:
--      de Hoog M = 40) against de Hoog M = 24 (the old default there): cost ratio, and the worst error
--      of each against mpmath (bench/chrom_mpmath.py, 50 digits; skipped without python3-mpmath),
--      relative to the peak.
-- Usage: lua5.4 bench/chrom.lua
local T = require "moonlab.tensor"
local chrom = require "moonlab.chrom"
local bench = require "moonlab.bench"

local ROUNDS = 5
local root = os.getenv("MOONLAB_ROOT") or "."

local an = { { Da = 12, kappa = 6, A = 0.7 }, { Da = 30, kappa = 7.5, A = 1.2 }, { Da = 48, kappa = 8, A = 0.9 },
  { Da = 80, kappa = 10, A = 1.1 } }
local INJ = { kind = "gaussian", width = 0.05, t0 = 0.3 }
local base = { Da = 1, kappa = 1, injection = INJ }
local n = 700
local t = T.linspace(0.05, 14, n)
local y = chrom.model(t, { analytes = an, column = base })
local yn = y + T.randn({ n }, { seed = 3 }) * (0.01 * y:max())
local function start()
  local init = {}
  for i, a in ipairs(an) do init[i] = { Da = a.Da * 1.1, kappa = a.kappa * 0.92, A = a.A * 1.05 } end
  return init
end
local function fit(extra)
  local o = { analytes = start(), column = base, quiet = true }
  for k, v in pairs(extra or {}) do o[k] = v end
  return chrom.fit(t, yn, o)
end
local function params(r)
  local p = {}
  for _, a in ipairs(r.analytes) do p[#p + 1], p[#p + 2], p[#p + 3] = a.Da, a.kappa, a.A end
  return p
end
local function maxreldiff(p, q)
  local w = 0
  for i = 1, #p do w = math.max(w, math.abs(p[i] - q[i]) / math.abs(q[i])) end
  return w
end

-- 1. fit vs SciPy, interleaved rounds
local r = fit()
local have_scipy = bench.python_has("scipy")
local fname = os.tmpname()
if have_scipy then
  local f = assert(io.open(fname, "w"))
  local g = {}
  for _, a in ipairs(start()) do g[#g + 1] = ("%.17g %.17g %.17g"):format(a.Da, a.kappa, a.A) end
  f:write(table.concat(g, " "), "\n", ("%.17g %.17g\n"):format(INJ.width, INJ.t0))
  for i = 1, n do f:write(("%.17g %.17g\n"):format(t:get(i), yn:get(i))) end
  f:close()
end
local ours, theirs, sp_ssr, sp_p = {}, {}, nil, nil
for k = 1, ROUNDS do
  ours[k] = bench.median(function() r = fit() end, { runs = 5, warmup = 1 })
  if have_scipy then
    local p = io.popen(("/usr/bin/python3 %s/bench/chrom_scipy.py %s 5"):format(root, fname))
    local out = p:read("a")
    p:close()
    local it = out:gmatch("[^\n]+")
    theirs[k] = tonumber(it())
    sp_ssr = tonumber(it())
    sp_p = {}
    for v in it():gmatch("%S+") do sp_p[#sp_p + 1] = tonumber(v) end
  end
end
os.remove(fname)
local s_ours = bench.median_of(ours)
if have_scipy then
  local s_sp = bench.median_of(theirs)
  bench.report("chrom.fit 4 analytes x (Da, kappa, A), 700 points vs SciPy least_squares + NumPy FFT", s_sp / s_ours, "x faster",
    ("moonlab %.2f ms, %d iterations, SSR %.10g; SciPy %.1f ms, SSR %.10g; parameters differ by <= %.1e relative; medians of %d interleaved rounds"):format(
      s_ours * 1e3, r.iterations, r.ssr, s_sp * 1e3, sp_ssr, maxreldiff(params(r), sp_p), ROUNDS))
else
  print("skipped: SciPy peer (python3-scipy not installed)")
  bench.report("chrom.fit 4 analytes x (Da, kappa, A), 700 points", s_ours * 1e3, "ms", ("%d iterations"):format(r.iterations))
end

-- 2. the same fit with the de Hoog model (old default)
do
  local rd
  local sd = bench.median(function() rd = fit { method = "dehoog" } end, { runs = 5, warmup = 1 })
  local s2 = bench.median(function() r = fit() end, { runs = 5, warmup = 1 })
  bench.report("chrom.fit series model vs de Hoog model (old default), same fit", sd / s2, "x faster",
    ("series %.2f ms, de Hoog %.2f ms; SSR %.10g vs %.10g"):format(s2 * 1e3, sd * 1e3, r.ssr, rd.ssr))
  local rf
end

-- 3. the default outlet vs de Hoog M = 24, errors against mpmath (30 digits)
do
  local col = chrom.column { Da = 12, kappa = 6, injection = INJ }
  local ratios, ss, sd = {}, {}, {}
  for k = 1, ROUNDS do
    ss[k] = bench.median(function() col:outlet(t) end, { runs = 21 })
    sd[k] = bench.median(function() col:outlet(t, { method = "dehoog" }) end, { runs = 21 })
    ratios[k] = sd[k] / ss[k]
  end
  local errs = ""
  if bench.python_has("mpmath") then
    -- times on the grid t_j = 0.05 + j*dt around and after the peak
    local idx = { 60, 90, 110, 130, 160, 220, 320 }
    local tl = {}
    for i, j in ipairs(idx) do tl[i] = ("%.17g"):format(t:get(j)) end
    local script = ([[
import mpmath as mp
mp.mp.dps = 30
F = lambda s: mp.exp(-s*mp.mpf('0.3') + s*s*mp.mpf('0.05')**2/2 - (s + 12*s/(s+6)))
for t in [%s]:
    print(repr(float(mp.invertlaplace(F, mp.mpf(t), method='dehoog'))))
]]):format(table.concat(tl, ","))
    local p = io.popen("/usr/bin/python3 -c \"" .. script .. "\"")
    local out = p:read("a")
    p:close()
    local cs, cd = col:outlet(t), col:outlet(t, { method = "dehoog" })
    local pk = cs:max()
    local es, ed, i = 0, 0, 0
    for v in out:gmatch("[^\n]+") do
      i = i + 1
      local ref = tonumber(v)
      es = math.max(es, math.abs(cs:get(idx[i]) - ref) / pk)
      ed = math.max(ed, math.abs(cd:get(idx[i]) - ref) / pk)
    end
    errs = ("; max error relative to the peak vs mpmath (30 digits, %d times): series %.1e, de Hoog %.1e"):format(i, es, ed)
  else
    errs = "; skipped the mpmath error check (python3-mpmath not installed)"
  end
  bench.report("chrom outlet default (Fourier series) vs de Hoog M=24, 700 uniform times", bench.median_of(ratios), "x faster",
    ("series %.3f ms, de Hoog %.3f ms, medians of %d rounds%s"):format(bench.median_of(ss) * 1e3, bench.median_of(sd) * 1e3, ROUNDS, errs))
end

-- 4. every injection kind at non-uniform times: the default outlet vs de Hoog M = 24 (the old default)
do
  local kinds = {
    { name = "pulse", inj = { kind = "pulse", width = 0.05 } },
    { name = "gaussian", inj = INJ },
    { name = "data", inj = { kind = "data", t = { 0.01, 0.03, 0.06, 0.1, 0.15, 0.2 }, c = { 2, 9, 11, 6, 2, 1 } } },
    { name = "pulse with dispersion (Pe = 500)", inj = { kind = "pulse", width = 0.05 }, Pe = 500 },
  }
  -- 700 sorted times on (0.05, 14), non-uniform (uniform grid + seeded jitter)
  local tn = T.linspace(0.05, 14, n) + (T.rand({ n }, { seed = 7 }) - 0.5) * (13.95 / (n - 1) * 0.8)
  -- reference times: around the delay, inside the injection window, the peak and the tail
  local tref = { 1.012, 1.03, 1.08, 1.17, 1.6, 2.3, 2.9, 3.4, 4.5, 6.5, 9.5 }
  local have_mp = bench.python_has("mpmath")
  local refs = {}
  if have_mp then
    local fname2 = os.tmpname()
    local f = assert(io.open(fname2, "w"))
    for _, k in ipairs(kinds) do
      local inj = k.inj
      f:write(("12;6;1;1;%s;%.17g;%.17g;%s;%s;%s;%.17g\n"):format(inj.kind, inj.width or 0, inj.t0 or 0,
        table.concat(inj.t or {}, " "), table.concat(inj.c or {}, " "), table.concat(tref, " "), k.Pe or 0))
    end
    f:close()
    local p = io.popen(("/usr/bin/python3 %s/bench/chrom_mpmath.py %s"):format(root, fname2))
    for line in p:lines() do
      local r = {}
      for v in line:gmatch("%S+") do r[#r + 1] = tonumber(v) end
      refs[#refs + 1] = r
    end
    p:close()
    os.remove(fname2)
  end
  for i, k in ipairs(kinds) do
    local col = chrom.column { Da = 12, kappa = 6, Pe = k.Pe, injection = k.inj }
    local ratios, so, sd = {}, {}, {}
    for r = 1, ROUNDS do
      so[r] = bench.median(function() col:outlet(tn) end, { runs = 11 })
      sd[r] = bench.median(function() col:outlet(tn, { method = "dehoog" }) end, { runs = 11 })
      ratios[r] = sd[r] / so[r]
    end
    local errs
    if have_mp then
      local tt = T.new(tref)
      local co, cd = col:outlet(tt), col:outlet(tt, { method = "dehoog" })
      local pk = col:outlet(T.linspace(0.5, 14, 4000)):max()
      local eo, ed = 0, 0
      for j = 1, #tref do
        eo = math.max(eo, math.abs(co:get(j) - refs[i][j]) / pk)
        ed = math.max(ed, math.abs(cd:get(j) - refs[i][j]) / pk)
      end
      errs = ("; worst error relative to the peak vs mpmath (50 digits, %d times): default %.1e, de Hoog %.1e"):format(#tref, eo, ed)
    else
      errs = "; skipped the mpmath error check (python3-mpmath not installed)"
    end
    bench.report(("chrom outlet default, %s injection, 700 non-uniform times, vs de Hoog M=24 (old default)"):format(k.name),
      bench.median_of(ratios), "x faster", ("default %.3f ms, de Hoog %.3f ms, medians of %d rounds%s"):format(
        bench.median_of(so) * 1e3, bench.median_of(sd) * 1e3, ROUNDS, errs))
  end
end
