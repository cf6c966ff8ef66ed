-- bench/laplace.lua — inversion throughput per method (C transform, 10^4 times), Lua-function
-- vs C-transform overhead, mpmath.invertlaplace (when Debian's python3-mpmath is installed),
-- small inversions on 1 and 2 threads and after idle pauses. The chromatography fit and outlet
-- (against SciPy) are in bench/chrom.lua.
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

-- 1. throughput per method on a C transform (J0: oscillatory, branch points). Euler and
-- Stehfest run in quad precision by default for C transforms (precision = "auto"); each is also
-- measured with precision = "double" (its double default M) to show the cost of quad.
local e = entry("J0(t)")
local t = T.linspace(0.5, 10, N)
local exact = e.exact(t)
local defaults = L.defaults()
local runs_of = {}
for _, m in ipairs(L.methods) do
  local variants = { { many = false } }
  if m == "talbot" or m == "dehoog" or m == "weeks" or m == "fourier" then variants[#variants + 1] = { many = true } end
  if defaults[m].M_quad then
    variants[#variants + 1] = { many = false, precision = m == "talbot" and "quad" or "double" }
  end
  for _, v in ipairs(variants) do
    local fn = v.many and L.invert_many or L.invert
    local o = { method = m, precision = v.precision, quiet = true }
    local f
    local s = bench.median(function() f = fn(e.F, t, o) end, { runs = RUNS, warmup = 1 })
    local prec = v.precision or ((m == "euler" or m == "stehfest") and "quad" or "double")
    local M = prec == "quad" and defaults[m].M_quad or defaults[m].M
    local label = ("laplace.%s %s %s M=%d J0 10^4 t in [0.5,10]"):format(v.many and "invert_many" or "invert", m, prec, M)
    local key = m .. (v.many and "_many" or "") .. "_" .. prec
    runs_of[key] = N / s
    local extra = ""
    local other = runs_of[m .. "_double"]
    if prec == "double" and runs_of[m .. "_quad"] then
      extra = ("; quad costs %.0fx"):format((N / s) / runs_of[m .. "_quad"])
    elseif prec == "quad" and other then
      extra = ("; quad costs %.0fx"):format(other / (N / s))
    end
    bench.report(label, N / s, "points/s", ("max abs err %.1e%s"):format(maxabs(f, exact), extra))
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

-- 3. mpmath.invertlaplace (its default method, talbot, at its default 15 digits) on the same
-- function and the SAME 1000 times; every error against J0 from mpmath at 30 digits.
if bench.python_has("mpmath") then
  local NM = 1000
  local ts = T.linspace(0.5, 10, NM)
  local tl = {}
  for i = 1, NM do tl[i] = ("%.17g"):format(ts:get(i)) end
  local script = ([[
import mpmath as mp, time
ts = [%s]
f = lambda s: 1/(mp.sqrt(s-1j)*mp.sqrt(s+1j))
t0 = time.perf_counter()
vals = [mp.invertlaplace(f, t) for t in ts]
el = time.perf_counter() - t0
print(el / len(ts))
with mp.workdps(30):
    refs = [mp.besselj(0, mp.mpf(t)) for t in ts]
for v, r in zip(vals, refs):
    print(repr(float(mp.re(v))), repr(float(r)))
]]):format(table.concat(tl, ","))
  local p = io.popen("/usr/bin/python3 -c '" .. script .. "'")
  local out = p:read("a")
  p:close()
  local it = out:gmatch("[^\n]+")
  local per = tonumber(it())
  local mpv, ref = T.zeros({ NM }), T.zeros({ NM })
  for i = 1, NM do
    local a, b = it():match("(%S+)%s+(%S+)")
    mpv:set(i, tonumber(a))
    ref:set(i, tonumber(b))
  end
  local mperr = maxabs(mpv, ref)
  for _, o in ipairs { { method = "weeks" }, { method = "dehoog" }, { method = "euler" }, { method = "talbot", precision = "quad" } } do
    local f
    o.quiet = true
    local s = bench.median(function() f = L.invert_many(e.F, ts, o) end, { runs = RUNS, warmup = 1 })
    local err = maxabs(f, ref)
    local verdict = err <= mperr and "equal or better accuracy"
      or (err <= 1e-14 and "mpmath-level accuracy (<= 1e-14) but above mpmath's own error" or "LOWER accuracy than mpmath")
    bench.report(("laplace.invert_many %s%s J0 %d t vs mpmath.invertlaplace(talbot, dps=15) same t"):format(
      o.method, o.precision and (" " .. o.precision) or (o.method == "euler" and " quad" or ""), NM), per / (s / NM), "x faster",
      ("moonlab %.3g s total, max abs err %.2e; mpmath %.3g s/point, max abs err %.2e; %s"):format(s, err, per, mperr, verdict))
  end
else
  print("skipped: python3-mpmath not installed")
end

-- 4. small inversions: more threads never slower (work below a threshold stays on one thread), and
-- calls after an idle pause of 0.5 s against back to back (issue #16 item 3). Fits and the outlet: bench/chrom.lua.
do
  local ml = require "moonlab"
  local t200 = T.linspace(0.5, 10, 200)
  local n0 = ml.get_threads()
  for _, m in ipairs { "talbot", "dehoog", "weeks" } do
    local fn = function() L.invert(e.F, t200, { method = m }) end
    local one, two = {}, {}
    for k = 1, RUNS do -- interleaved
      ml.set_threads(1)
      one[k] = bench.median(fn, { runs = 11, warmup = 2 })
      ml.set_threads(math.max(2, n0))
      two[k] = bench.median(fn, { runs = 11, warmup = 2 })
    end
    ml.set_threads(n0)
    local s1, s2 = bench.median_of(one), bench.median_of(two)
    bench.report(("laplace.invert %s J0 200 t: %d threads vs 1"):format(m, math.max(2, n0)), s1 / s2, "x (>= ~1: not slower)",
      ("%.3f ms vs %.3f ms, medians of %d interleaved rounds"):format(s2 * 1e3, s1 * 1e3, RUNS))
    local gaps = {}
    for k = 1, 7 do
      os.execute("sleep 0.5")
      local t0 = bench.now()
      fn()
      gaps[k] = bench.now() - t0
    end
    local back = bench.median(fn, { runs = 11, warmup = 2 })
    bench.report(("laplace.invert %s J0 200 t after a 0.5 s pause vs back to back"):format(m), bench.median_of(gaps) / back, "x",
      ("%.3f ms vs %.3f ms (goal <= 1.3x), median of 7 pauses"):format(bench.median_of(gaps) * 1e3, back * 1e3))
  end
end
