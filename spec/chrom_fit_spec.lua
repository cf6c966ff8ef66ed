-- chrom.fit as a user meets it (issues #8, #16): amplitudes fitted by default, the stopping
-- reason, residuals against the noise level with warnings, option typos; the Fourier-series
-- model (default on uniform grids) against the de Hoog model and mpmath; Jacobian by finite
-- differences through the fit's own result.
local T = require "moonlab.tensor"
local chrom = require "moonlab.chrom"
local L = require "moonlab.laplace"
local bench = require "moonlab.bench"

local gauss = { kind = "gaussian", width = 0.05, t0 = 0.3 }
local base = { Da = 1, kappa = 1, injection = gauss }

local function err(f, ...)
  local ok, msg = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(msg)
end

describe("chrom.fit results", function()
  -- one late analyte with amplitude 0.7 (the issue's case: fit_scale off returned Da 50.8 vs 90)
  local t = T.linspace(0.05, 20, 800)
  local truth = { Da = 90, kappa = 10, A = 0.7 }
  local y = chrom.model(t, { analytes = { truth }, column = base })
  local sd = 0.01 * y:max()
  local yn = y + T.randn({ 800 }, { seed = 5 }) * sd
  local start = function() return { { Da = 80, kappa = 9 } } end

  it("fits the amplitude by default and recovers Da, kappa, A within 3 standard errors", function()
    local r = chrom.fit(t, yn, { analytes = start(), column = base, quiet = true })
    local a = r.analytes[1]
    assert.is_true(r.converged)
    assert.are.equal("tolerance", r.reason)
    assert.is_true(math.type(r.iterations) == "integer" and r.iterations >= 1)
    assert.are.same({}, r.warnings)
    for _, k in ipairs { "Da", "kappa", "A" } do
      assert.is_true(math.abs(a[k] - truth[k]) < 3 * a.se[k], ("%s = %g +- %g vs %g"):format(k, a[k], a.se[k], truth[k]))
    end
    -- residual RMS at the noise level; noise estimated from the data when not given
    assert.are.equal("estimated", r.noise_source)
    assert.is_true(math.abs(r.noise / sd - 1) < 0.15, ("noise estimate %g vs %g"):format(r.noise, sd))
    assert.is_true(math.abs(r.rms / sd - 1) < 0.1)
  end)

  it("warns (list and stderr text) when residuals are far above the given noise level", function()
    local r = chrom.fit(t, yn, { analytes = start(), column = base, fit_scale = false, noise = sd, quiet = true })
    assert.are.equal("given", r.noise_source)
    assert.is_true(r.rms > 1.5 * sd)
    assert.are.equal(1, #r.warnings)
    assert.truthy(r.warnings[1]:find("residual RMS", 1, true))
    assert.truthy(r.warnings[1]:find("fit_scale = false", 1, true))
    -- without quiet the same text goes to stderr, prefixed "moonlab: chrom.fit:"
    local root = os.getenv("MOONLAB_ROOT") or "."
    local f = io.popen(("cd %s && lua5.4 -e 'local T = require \"moonlab.tensor\" local chrom = require \"moonlab.chrom\" "
      .. "local t = T.linspace(0.05, 20, 800) local b = {Da = 1, kappa = 1, injection = {kind = \"gaussian\", width = 0.05, t0 = 0.3}} "
      .. "local y = chrom.model(t, {analytes = {{Da = 90, kappa = 10, A = 0.7}}, column = b}) "
      .. "chrom.fit(t, y, {analytes = {{Da = 80, kappa = 9}}, column = b, fit_scale = false, noise = 1e-3})' 2>&1 >/dev/null"):format(root))
    local out = f:read("a")
    f:close()
    assert.truthy(out:find("moonlab: chrom.fit: residual RMS", 1, true), out)
  end)

  it("reports max_iters, converged = false and a warning when the iteration limit stops it", function()
    local r = chrom.fit(t, yn, { analytes = start(), column = base, max_iter = 1, quiet = true })
    assert.is_false(r.converged)
    assert.are.equal("max_iters", r.reason)
    assert.are.equal(1, r.iterations)
    assert.truthy(r.warnings[1]:find("did not converge", 1, true))
  end)

  it("raises 'unknown option ... (did you mean ...)' for typos in fit, column and analyte tables", function()
    local m = err(chrom.fit, t, yn, { analytes = start(), column = base, max_iters = 5 })
    assert.truthy(m:find("unknown option 'max_iters' to chrom.fit (did you mean 'max_iter'?)", 1, true), m)
    m = err(chrom.column, { Da = 1, kapa = 2 })
    assert.truthy(m:find("unknown option 'kapa' to chrom.column (did you mean 'kappa'?)", 1, true), m)
    m = err(chrom.fit, t, yn, { analytes = { { Da = 80, kapa = 9 } }, column = base })
    assert.truthy(m:find("unknown option 'kapa' to chrom.fit analyte 1 (did you mean 'kappa'?)", 1, true), m)
    m = err(chrom.column, { Da = 1, kappa = 2, injection = { kind = "gaussian", widht = 0.1 } })
    assert.truthy(m:find("did you mean 'width'", 1, true), m)
    m = err(chrom.solve_fd, chrom.column(base), { nxx = 100 })
    assert.truthy(m:find("unknown option 'nxx' to chrom.solve_fd (did you mean 'nx'?)", 1, true), m)
    assert.truthy(err(chrom.fit, t, yn, { analytes = start(), column = base, noise = -1 }):find("chrom.fit: bad argument #3 'opts.noise'", 1, true))
  end)
end)

describe("chrom series model (default on uniform grids)", function()
  local an = { { Da = 12, kappa = 6, A = 0.7 }, { Da = 30, kappa = 7.5, A = 1.2 }, { Da = 48, kappa = 8, A = 0.9 } }
  it("agrees with the de Hoog model (per-t, M = 64) to 1e-11 of the peak, with and without dispersion, on fine and coarse grids", function()
    for _, b in ipairs { base, { Da = 1, kappa = 1, Pe = 300, injection = gauss },
      { Da = 1, kappa = 1, velocity = { inlet_pressure = 2, outlet_pressure = 1 }, injection = gauss } } do
      for _, t in ipairs { T.linspace(0.05, 14, 700), T.linspace(0.2, 12, 60) } do -- coarse: terms fold into the FFT bins
        local ys = chrom.model(t, { analytes = an, column = b })
        local yd = chrom.model(t, { analytes = an, column = b, method = "dehoog", M = 64 })
        local d = (ys - yd):abs():max() / yd:max()
        assert.is_true(d <= 1e-11, ("%s n=%d: %.2e"):format(tostring(b.Pe), t:numel(), d))
      end
    end
  end)
  it("the fit reaches the same estimates with the series and the de Hoog model (Jacobians agree)", function()
    local t = T.linspace(0.05, 14, 400)
    local y = chrom.model(t, { analytes = an, column = base })
    local yn = y + T.randn({ 400 }, { seed = 9 }) * (0.005 * y:max())
    local init = {}
    for i, a in ipairs(an) do init[i] = { Da = a.Da * 1.05, kappa = a.kappa * 0.95, A = a.A } end
    local rs = chrom.fit(t, yn, { analytes = init, column = base, quiet = true })
    local rd = chrom.fit(t, yn, { analytes = init, column = base, method = "dehoog", quiet = true })
    assert.are.equal("series", rs.model_method)
    assert.are.equal("dehoog", rd.model_method)
    for i = 1, #an do
      for _, k in ipairs { "Da", "kappa", "A" } do
        local a, b = rs.analytes[i][k], rd.analytes[i][k]
        -- 1e-5: both stop on a relative SSR change of tol = 1e-10, which pins parameters to about sqrt(tol) in this
        -- flat valley (the two optima's SSRs agree to 1e-11; noise 1e-15 apart moved Da 2 by 1.3e-6 under de Hoog)
        assert.is_true(math.abs(a - b) <= 1e-5 * math.abs(b), ("%d %s: %g vs %g"):format(i, k, a, b))
      end
    end
  end)
  it("default outlet: <= 1e-11 of the peak against mpmath at 30 digits (skipped without python3-mpmath)", function()
    if not bench.python_has("mpmath") then
      print("skipped: python3-mpmath not installed")
      return
    end
    local col = chrom.column { Da = 12, kappa = 6, injection = gauss }
    local t = T.linspace(0.1, 14, 140)
    local c = col:outlet(t)
    local p = io.popen([[/usr/bin/python3 -c "
import mpmath as mp
mp.mp.dps = 30
F = lambda s: mp.exp(-s*mp.mpf('0.3') + s*s*mp.mpf('0.05')**2/2 - (s + 12*s/(s+6)))
for t in ['1.3', '2.0', '2.5', '3.0', '4.0', '6.0', '9.0']:
    print(repr(float(mp.invertlaplace(F, mp.mpf(t), method='dehoog'))))
"]])
    local out = p:read("a")
    p:close()
    local i, pk = 0, c:max()
    for v in out:gmatch("[^\n]+") do
      i = i + 1
      local tv = ({ 1.3, 2.0, 2.5, 3.0, 4.0, 6.0, 9.0 })[i]
      local j = math.floor(tv / 0.1 + 0.5)
      assert.is_true(math.abs(c:get(j) - tonumber(v)) <= 1e-11 * pk, ("t = %g: %.17g vs %s"):format(tv, c:get(j), v))
    end
    assert.are.equal(7, i)
  end)
  it("a grid the series cannot serve (more terms than its cap) falls back to de Hoog", function()
    local t = T.linspace(0.5, 3e5, 200)
    local an1 = { { Da = 5e4, kappa = 1, A = 1 } }
    local ys = chrom.model(t, { analytes = an1, column = base })
    local yd = chrom.model(t, { analytes = an1, column = base, method = "dehoog" })
    assert.is_close(ys, yd, { rtol = 0, atol = 1e-15 })
    local r = chrom.fit(t, ys, { analytes = { { Da = 5.05e4, kappa = 1 } }, column = base, quiet = true })
    assert.are.equal("dehoog", r.model_method)
  end)
  it("with dispersion, non-uniform times and pulse injections fall back to de Hoog M = 40 (same values as invert_many)", function()
    local col = chrom.column { Da = 12, kappa = 6, Pe = 50 }
    local t = T.linspace(0.5, 8, 50)
    assert.is_close(col:outlet(t), (L.invert_many(col.F, t, { method = "dehoog", M = 40 })), { rtol = 0, atol = 1e-15 })
    local colg = chrom.column { Da = 12, kappa = 6, Pe = 50, injection = gauss }
    local tn = T.new { 0.5, 1, 2.5, 2.7, 3.3, 6 }
    assert.is_close(colg:outlet(tn), (L.invert_many(colg.F, tn, { method = "dehoog", M = 40 })), { rtol = 0, atol = 1e-15 })
    -- without dispersion they take the closed-form impulse response (spec/chrom_outlet_spec.lua)
    local col0 = chrom.column { Da = 12, kappa = 6 }
    local c0, cd = col0:outlet(t), L.invert_many(col0.F, t, { method = "dehoog" })
    assert.is_close(c0, cd, { rtol = 0, atol = 1e-6 })
    assert.is_true((c0 - cd):abs():max() > 1e-13) -- a different route, not de Hoog's values
  end)
end)
