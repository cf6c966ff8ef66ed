-- bench/laplace.lua — inversion throughput per method (C transform, 10^4 times), Lua-function
-- vs C-transform overhead, mpmath.invertlaplace (when Debian's python3-mpmath is installed),
-- and fitting four analytes with the Laplace model vs the finite-difference model.
-- Usage: lua5.4 bench/laplace.lua
local T = require "moonlab.tensor"
local L = require "moonlab.laplace"
local chrom = require "moonlab.chrom"
local bench = require "moonlab.bench"

local RUNS = 5
local N = 10000

local suite = L.suite()
local function entry(name)
  for _, e in ipairs(suite) do if e.name == name then return e end end
end

local function maxabs(a, b)
  local d = (a - b):abs()
  return d:max()
end

-- 1. throughput per method on a C transform (J0: oscillatory, branch points)
local e = entry("J0(t)")
local t = T.linspace(0.5, 10, N)
local exact = e.exact(t)
local rates = {}
for _, m in ipairs(L.methods) do
  for _, many in ipairs { false, true } do
    local fn = many and L.invert_many or L.invert
    if not many or m == "talbot" or m == "dehoog" or m == "weeks" or m == "fourier" then
      local f
      local s = bench.median(function() f = fn(e.F, t, { method = m }) end, { runs = RUNS, warmup = 1 })
      local label = ("laplace.%s %s J0 10^4 t in [0.5,10]"):format(many and "invert_many" or "invert", m)
      rates[m .. (many and "_many" or "")] = N / s
      bench.report(label, N / s, "points/s", ("max abs err %.1e"):format(maxabs(f, exact)))
    end
  end
end

-- 2. Lua-function F vs the same F as a C transform (talbot, 2000 points)
do
  local function Flua(re, im) -- 1/sqrt(s^2+1) with the branch sqrt(s-i) sqrt(s+i)
    local function csqrt(a, b)
      local r = math.sqrt(a * a + b * b)
      local x = math.sqrt((r + a) / 2)
      local y = math.sqrt((r - a) / 2)
      if b < 0 then y = -y end
      return x, y
    end
    local ar, ai = csqrt(re, im - 1)
    local br, bi = csqrt(re, im + 1)
    local pr, pi = ar * br - ai * bi, ar * bi + ai * br
    local d = pr * pr + pi * pi
    return pr / d, -pi / d
  end
  local t2 = T.linspace(0.5, 10, 2000)
  local sc = bench.median(function() L.invert(e.F, t2, { method = "talbot" }) end, { runs = RUNS })
  local sl = bench.median(function() L.invert(Flua, t2, { method = "talbot" }) end, { runs = RUNS })
  bench.report("laplace.invert talbot Lua-function F 2000 t", 2000 / sl, "points/s",
    ("%.1fx slower than the C transform %.3g points/s"):format(sl / sc, 2000 / sc))
end

-- 3. mpmath.invertlaplace on the same function and times
if bench.python_has("mpmath") then
  local ts = T.linspace(0.5, 10, 20)
  local tl = ts:totable()
  for _, pair in ipairs { { "talbot", "talbot" }, { "dehoog", "dehoog" }, { "weeks", "talbot" } } do
    local ours, m = pair[1], pair[2]
    local script = ([[
import mpmath as mp, time
ts = %s
f = lambda s: 1/(mp.sqrt(s-1j)*mp.sqrt(s+1j))
best = []
for r in range(3):
    t0 = time.perf_counter()
    vals = [mp.invertlaplace(f, t, method="%s") for t in ts]
    best.append(time.perf_counter() - t0)
best.sort()
err = max(abs(float(mp.re(v)) - float(mp.besselj(0, t))) for v, t in zip(vals, ts))
print(best[1] / len(ts), err)
]]):format("[" .. table.concat(tl, ",") .. "]", m)
    local p = io.popen("/usr/bin/python3 -c '" .. script .. "'")
    local out = p:read("a")
    p:close()
    local per, err = out:match("(%S+)%s+(%S+)")
    per, err = tonumber(per), tonumber(err)
    local f
    local s = bench.median(function() f = L.invert(e.F, ts, { method = ours }) end, { runs = RUNS, warmup = 1 })
    local sp = s / 20
    bench.report(("laplace.invert %s J0 20 t vs mpmath.invertlaplace(%s, dps=15)"):format(ours, m), per / sp, "x faster",
      ("moonlab %.3g s/point err %.1e; mpmath %.3g s/point err %.1e"):format(sp, maxabs(f, e.exact(ts)), per, err))
  end
else
  print("skipped: python3-mpmath not installed")
end

-- 4. fitting four BTEX-like analytes: Laplace model vs FD model (same data, same start)
do
  local an = { { Da = 12, kappa = 6 }, { Da = 30, kappa = 7.5 }, { Da = 48, kappa = 8 }, { Da = 80, kappa = 10 } }
  local base = { Da = 1, kappa = 1, injection = { kind = "gaussian", width = 0.05, t0 = 0.3 } }
  local tt = T.linspace(0.05, 14, 700)
  local y = chrom.model(tt, { analytes = an, column = base })
  local yn = y + T.randn({ 700 }, { seed = 3 }) * (0.01 * y:max())
  local function start()
    local init = {}
    for i, a in ipairs(an) do init[i] = { Da = a.Da * 1.1, kappa = a.kappa * 0.92 } end
    return init
  end
  local rl
  local sl = bench.median(function() rl = chrom.fit(tt, yn, { analytes = start(), column = base }) end, { runs = RUNS })
  local rf
  local sf = bench.median(function()
    rf = chrom.fit(tt, yn, { analytes = start(), column = base, use_fd = true, nx = 200, scheme = "kappa3" })
  end, { runs = 3, warmup = 0 })
  local worst = 0
  for i, a in ipairs(rl.analytes) do
    worst = math.max(worst, math.abs(a.Da / an[i].Da - 1), math.abs(a.kappa / an[i].kappa - 1))
  end
  bench.report("chrom.fit 4 analytes 700 points (Laplace, de Hoog)", sl, "s",
    ("%d iterations, worst parameter error %.2f%%; FD-model fit nx=200 %.3g s (median of 3), %.0fx slower"):format(
      rl.iterations, 100 * worst, sf, sf / sl))
end
