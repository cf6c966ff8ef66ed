-- The default outlet without dispersion (issue #16, item 4): the closed-form impulse response
-- (Thomas) integrated over the inlet, for pulse, Gaussian and data injections at non-uniform times.
-- Checked against: the integral representation of the scaled Bessel function I1 (plain Lua) and
-- SciPy's i1e (skipped without python3-scipy); the closed-form moments of the outlet (Gauss-Legendre
-- quadrature in Lua over the outlet at non-uniform times); the Fourier series (a different route);
-- mpmath's inverse Laplace transform at 50 digits (bench/chrom_mpmath.py; skipped without python3-mpmath).
local T = require "moonlab.tensor"
local chrom = require "moonlab.chrom"
local core = require "moonlab.core"
local bench = require "moonlab.bench"

local root = os.getenv("MOONLAB_ROOT") or "."

-- n-point Gauss-Legendre nodes and weights on [-1, 1] (Newton on the Legendre recurrence)
local function gauss_legendre(n)
  local x, w = {}, {}
  for i = 1, n do
    local z = math.cos(math.pi * (i - 0.25) / (n + 0.5))
    local dp
    for _ = 1, 100 do
      local p1, p2 = 1, 0
      for j = 1, n do p1, p2 = ((2 * j - 1) * z * p1 - (j - 1) * p2) / j, p1 end
      dp = n * (z * p1 - p2) / (z * z - 1)
      local dz = p1 / dp
      z = z - dz
      if math.abs(dz) < 1e-16 then break end
    end
    x[i], w[i] = z, 2 / ((1 - z * z) * dp * dp)
  end
  return x, w
end

-- mass, mean, variance of col:outlet over the pieces [b_k, b_{k+1}] (each split in m panels, 20 points)
local function outlet_moments(col, breaks, m)
  local gx, gw = gauss_legendre(20)
  local ts, ws = {}, {}
  for k = 1, #breaks - 1 do
    local h = (breaks[k + 1] - breaks[k]) / m
    for p = 0, m - 1 do
      local a = breaks[k] + p * h
      for i = 1, 20 do
        ts[#ts + 1] = a + 0.5 * h * (gx[i] + 1)
        ws[#ws + 1] = 0.5 * h * gw[i]
      end
    end
  end
  local c = col:outlet(T.new(ts))
  local m0, m1, m2 = 0, 0, 0
  for i = 1, #ts do
    local v = ws[i] * c:get(i)
    m0, m1, m2 = m0 + v, m1 + v * ts[i], m2 + v * ts[i] * ts[i]
  end
  local mean = m1 / m0
  return m0, mean, m2 / m0 - mean * mean
end

describe("chrom scaled Bessel I1", function()
  it("matches its integral representation e^{-x} I1(x) = (1/pi) int_0^pi e^{x(cos th - 1)} cos th dth", function()
    local N = 1200 -- trapezoid rule on a periodic analytic integrand: exponentially accurate
    for _, x in ipairs { 0.7, 3, 9.5, 24.9, 25.1, 40, 120, 700 } do
      local s, comp = 0, 0 -- Neumaier-compensated sum
      for j = 0, N do
        local th = math.pi * j / N
        local v = (j == 0 and 0.5 or (j == N and 0.5 or 1)) * math.exp(x * (math.cos(th) - 1)) * math.cos(th)
        local u = s + v
        comp = comp + (math.abs(s) >= math.abs(v) and (s - u) + v or (v - u) + s)
        s = u
      end
      local ref = (s + comp) / N
      local v = core.chrom_i1e(x)
      assert.is_true(math.abs(v - ref) <= 3e-15 * ref, ("x = %g: %.17g vs %.17g"):format(x, v, ref))
      assert.are.equal(-v, core.chrom_i1e(-x))
    end
    assert.are.equal(0, core.chrom_i1e(0))
    -- small x (where the integral cancels): e^{-x} (x/2)(1 + x^2/8 + x^4/192 + x^6/9216), next x^8/737280
    for _, x in ipairs { 1e-6, 1e-3, 0.02 } do
      local ref = math.exp(-x) * x / 2 * (1 + x * x / 8 + x ^ 4 / 192 + x ^ 6 / 9216)
      assert.is_true(math.abs(core.chrom_i1e(x) - ref) <= 1e-15 * ref, ("x = %g"):format(x))
    end
  end)
  it("matches scipy.special.i1e to 2e-15 relative on 1e-3..1e3 (skipped without python3-scipy)", function()
    if not bench.python_has("scipy") then
      print("skipped: python3-scipy not installed")
      return
    end
    local xs = {}
    for i = 0, 120 do xs[#xs + 1] = ("%.17g"):format(10 ^ (-3 + i * 6 / 120)) end
    local p = io.popen(("/usr/bin/python3 -c \"from scipy.special import i1e\nfor x in [%s]: print(repr(float(i1e(x))))\""):format(table.concat(xs, ",")))
    local i = 0
    for v in p:read("a"):gmatch("%S+") do
      i = i + 1
      local ref, ours = tonumber(v), core.chrom_i1e(tonumber(xs[i]))
      assert.is_true(math.abs(ours - ref) <= 2e-15 * ref, ("x = %s: %.17g vs %.17g"):format(xs[i], ours, ref))
    end
    p:close()
    assert.are.equal(#xs, i)
  end)
end)

describe("chrom default outlet", function()
  it("pulse: mass 1, mean w/2 + 1 + Da/kappa, variance w^2/12 + 2 Da/kappa^2 to 1e-12", function()
    for _, c in ipairs { { Da = 12, kappa = 6, w = 0.05 }, { Da = 0.8, kappa = 3, w = 0.2 }, { Da = 150, kappa = 15, w = 0.1 } } do
      local col = chrom.column { Da = c.Da, kappa = c.kappa, injection = { kind = "pulse", width = c.w } }
      local mu, var = c.w / 2 + 1 + c.Da / c.kappa, c.w ^ 2 / 12 + 2 * c.Da / c.kappa ^ 2
      local tend = mu + 45 * math.sqrt(var) + 40 / c.kappa
      local m0, m1, m2 = outlet_moments(col, { 1, 1 + c.w, tend }, 60)
      assert.is_true(math.abs(m0 - 1) < 1e-12, ("Da %g: mass %.17g"):format(c.Da, m0))
      assert.is_true(math.abs(m1 - mu) < 1e-12 * mu, ("Da %g: mean %.17g vs %.17g"):format(c.Da, m1, mu))
      assert.is_true(math.abs(m2 - var) < 1e-11 * var, ("Da %g: variance %.17g vs %.17g"):format(c.Da, m2, var))
    end
  end)
  it("takes the mean of the two sides at a jump (as the inverse Laplace transform converges to)", function()
    local col = chrom.column { Da = 2, kappa = 1, injection = { kind = "pulse", width = 0.05 } }
    assert.is_true(math.abs(col:outlet(1.0) - math.exp(-2) * 10) < 1e-15) -- e^{-Da} (0 + 1/w)/2, no kernel part yet
    assert.are.equal(0, col:outlet(0.999999))
    local below, above = col:outlet(1.05 - 1e-9), col:outlet(1.05 + 1e-9) -- the pulse's end: a drop of e^{-Da}/w
    assert.is_true(math.abs(below - above - math.exp(-2) * 20) < 1e-6)
    local cd = chrom.column { Da = 2, kappa = 1, injection = { kind = "data", t = { 0.5, 0.6 }, c = { 4, 4 } } }
    assert.is_true(math.abs(cd:outlet(1.5) - math.exp(-2) * 2) < 1e-15)
  end)
  it("data (jumps and kinks) and compressible flow: moments of the transfer function to 1e-11", function()
    -- piecewise-linear inlet with a jump at each end; exact inlet moments segment by segment
    local ti, ci = { 0.01, 0.04, 0.09, 0.1 }, { 3, 10, 2, 4 }
    local M0, M1, M2 = 0, 0, 0
    for i = 1, #ti - 1 do
      local a, b, ca, cb = ti[i], ti[i + 1], ci[i], ci[i + 1]
      local m = (cb - ca) / (b - a)
      local function prim(x, k) -- int (ca + m (x - a)) x^k dx antiderivative
        return (ca - m * a) * x ^ (k + 1) / (k + 1) + m * x ^ (k + 2) / (k + 2)
      end
      M0, M1, M2 = M0 + prim(b, 0) - prim(a, 0), M1 + prim(b, 1) - prim(a, 1), M2 + prim(b, 2) - prim(a, 2)
    end
    local mu_in, var_in = M1 / M0, M2 / M0 - (M1 / M0) ^ 2
    local col = chrom.column { Da = 5, kappa = 4, injection = { kind = "data", t = ti, c = ci } }
    local br = { 1.01 }
    for i = 2, #ti do br[#br + 1] = 1 + ti[i] end
    br[#br + 1] = 1.1 + 1.25 + 60 * math.sqrt(2 * 5 / 16) + 10
    local m0, m1, m2 = outlet_moments(col, br, 60)
    assert.is_true(math.abs(m0 - M0) < 1e-12 * M0, ("mass %.17g vs %.17g"):format(m0, M0))
    assert.is_true(math.abs(m1 - (mu_in + 1 + 5 / 4)) < 1e-12, ("mean %.17g"):format(m1))
    assert.is_true(math.abs(m2 - (var_in + 2 * 5 / 16)) < 1e-11, ("variance %.17g"):format(m2))
    -- compressible carrier (inlet/outlet pressure 2): against the Cauchy-integral moments of C(1, s)
    local colp = chrom.column { Da = 30, kappa = 7.5, velocity = { inlet_pressure = 2, outlet_pressure = 1 },
      injection = { kind = "pulse", width = 0.1 } }
    local mo = colp:moments()
    local p0, p1, p2 = outlet_moments(colp, { 1, 1.1, 5.05 + 60 * math.sqrt(mo.variance) }, 80)
    assert.is_true(math.abs(p0 - mo.mass) < 1e-11 * mo.mass, ("mass %.17g vs %.17g"):format(p0, mo.mass))
    assert.is_true(math.abs(p1 - mo.mean) < 1e-11 * mo.mean, ("mean %.17g vs %.17g"):format(p1, mo.mean))
    assert.is_true(math.abs(p2 - mo.variance) < 1e-9 * mo.variance, ("variance %.17g vs %.17g"):format(p2, mo.variance))
  end)
  it("Gaussian at non-uniform times agrees with the Fourier series on the uniform grid to 1e-13 of the peak", function()
    for _, c in ipairs { { Da = 12, kappa = 6 }, { Da = 0.5, kappa = 6 }, { Da = 400, kappa = 2 } } do
      local col = chrom.column { Da = c.Da, kappa = c.kappa, injection = { kind = "gaussian", width = 0.05, t0 = 0.3 } }
      local tmax = 1.5 * (1 + c.Da / c.kappa) + 2
      local t = T.linspace(0.05, tmax, 300)
      local tn = t:clone()
      tn:set(2, 0.5 * (t:get(1) + t:get(2))) -- no longer uniform: the kernel route
      local cs, ck = col:outlet(t), col:outlet(tn)
      local pk, e = cs:max(), 0
      for j = 3, 300 do e = math.max(e, math.abs(cs:get(j) - ck:get(j))) end
      assert.is_true(e <= 1e-13 * pk, ("Da %g: %.3g of the peak"):format(c.Da, e / pk))
    end
  end)
  it("<= 1e-12 of the peak against mpmath (50 digits) for pulse, Gaussian and data injections, with and without dispersion (skipped without python3-mpmath)", function()
    if not bench.python_has("mpmath") then
      print("skipped: python3-mpmath not installed")
      return
    end
    local cases = {
      { col = { Da = 12, kappa = 6, injection = { kind = "pulse", width = 0.05 } }, t = { 1.025, 1.3, 2.5, 3.0, 6.0 } },
      { col = { Da = 12, kappa = 6, injection = { kind = "gaussian", width = 0.05, t0 = 0.3 } }, t = { 1.25, 1.52, 2.77, 4.1 } },
      { col = { Da = 5, kappa = 4, injection = { kind = "data", t = { 0.01, 0.04, 0.09 }, c = { 3, 10, 2 } } }, t = { 1.02, 1.08, 1.4, 2.1 } },
      { col = { Da = 30, kappa = 7.5, velocity = { inlet_pressure = 2, outlet_pressure = 1 }, injection = { kind = "pulse", width = 0.1 } }, t = { 1.05, 3.5, 4.1 } },
      -- dispersion (de Hoog, M = 40): pulse and data at Pe = 500, where M = 24 left 4e-11 and 6e-10
      { col = { Da = 12, kappa = 6, Pe = 500, injection = { kind = "pulse", width = 0.05 } }, t = { 1.03, 1.3, 2.5, 6 } },
      { col = { Da = 12, kappa = 6, Pe = 500, injection = { kind = "data", t = { 0.01, 0.04, 0.09 }, c = { 3, 10, 2 } } }, t = { 1.05, 2.1, 5 } },
    }
    local fname = os.tmpname()
    local f = assert(io.open(fname, "w"))
    for _, c in ipairs(cases) do
      local inj = c.col.injection
      local P = c.col.velocity and c.col.velocity.inlet_pressure / c.col.velocity.outlet_pressure or 1
      f:write(("%.17g;%.17g;%.17g;1;%s;%.17g;%.17g;%s;%s;%s;%.17g\n"):format(c.col.Da, c.col.kappa, P, inj.kind, inj.width or 0,
        inj.t0 or 0, table.concat(inj.t or {}, " "), table.concat(inj.c or {}, " "), table.concat(c.t, " "), c.col.Pe or 0))
    end
    f:close()
    local p = io.popen(("/usr/bin/python3 %s/bench/chrom_mpmath.py %s"):format(root, fname))
    local i = 0
    for line in p:lines() do
      i = i + 1
      local c = cases[i]
      local col = chrom.column(c.col)
      local out, pk = col:outlet(T.new(c.t)), col:outlet(T.linspace(0.5, 10, 2000)):max()
      local j = 0
      for v in line:gmatch("%S+") do
        j = j + 1
        local e = math.abs(out:get(j) - tonumber(v)) / pk
        assert.is_true(e <= 1e-12, ("%s t = %g: %.17g vs %s (%.2g of the peak)"):format(c.col.injection.kind, c.t[j], out:get(j), v, e))
      end
      assert.are.equal(#c.t, j)
    end
    p:close()
    os.remove(fname)
    assert.are.equal(#cases, i)
  end)
end)
