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
    local o = { method = m, precision = v.precision }
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
