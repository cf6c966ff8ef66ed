local T = require "moonlab.tensor"
local chrom = require "moonlab.chrom"
local ref = require "spec.helpers.laplace_chrom_ref"
local asan = os.getenv("MOONLAB_ASAN")

local function l2rel(a, b)
  local d = a - b
  return math.sqrt((d * d):sum() / (b * b):sum())
end

local gauss = { kind = "gaussian", width = 0.05, t0 = 0.3 }
local specs = {
  { Da = 20, kappa = 10, injection = gauss },
  { Da = 20, kappa = 10, Pe = 400, injection = gauss },
  { Da = 5, kappa = 2, injection = { kind = "pulse", width = 0.2 } },
  { Da = 20, kappa = 10, velocity = { inlet_pressure = 2.5, outlet_pressure = 1 }, injection = gauss },
}

describe("chrom.column moments", function()
  it("match the closed-form mean and variance of the transfer function", function()
    for _, s in ipairs(specs) do
      local col = chrom.column(s)
      for _, x in ipairs { 1, 0.4 } do
        local m = col:moments(x)
        local m0, mu, var = ref.moments(s, x)
        assert.is_close({ m.mass, m.mean, m.variance }, { m0, mu, var }, { rtol = 1e-9 })
      end
    end
  end)
  it("agree with the moments of the inverted outlet curve (trapezoid)", function()
    local s = specs[2]
    local col = chrom.column(s)
    local n, t1 = 3000, 9
    local t = T.linspace(t1 / n, t1, n)
    local f = col:outlet(t)
    local dt = t1 / n
    local m0, m1 = 0, 0
    for i = 1, n do
      m0 = m0 + f:get(i) * dt
      m1 = m1 + f:get(i) * t:get(i) * dt
    end
    local mm = col:moments()
    assert.is_close(m0, mm.mass, { rtol = 1e-6 })
    assert.is_close(m1 / m0, mm.mean, { rtol = 1e-6 })
  end)
end)

describe("chrom: Laplace solution vs finite differences", function()
  local t = T.linspace(0.02, 6, 300)
  it("outlet agrees with the FD solution (L2 rel <= 1e-4 at nx = 800, kappa3)", function()
    for _, i in ipairs { 1, 2, 4 } do
      local col = chrom.column(specs[i])
      local fd = chrom.solve_fd(col, { t = t, nx = asan and 400 or 800, scheme = "kappa3" })
      local e = l2rel(fd.c, col:outlet(t))
      assert.is_true(e <= (asan and 1e-3 or 1e-4), ("spec %d: L2 rel %.3g"):format(i, e))
    end
  end)
  it("converges at order 1 (upwind), 2 (kappa3 + Strang-split kinetics), >= 2.3 (kappa3 + coupled RK3)", function()
    local col = chrom.column(specs[1])
    local exact = col:outlet(t)
    for _, sc in ipairs { { "upwind", "auto", 1, 1.2 }, { "kappa3", "split", 2, 2.2 }, { "kappa3", "coupled", 2.3, 3.6 } } do
      local e = {}
      for j, nx in ipairs { 100, 200, 400 } do
        e[j] = l2rel(chrom.solve_fd(col, { t = t, nx = nx, scheme = sc[1], kinetics = sc[2] }).c, exact)
      end
      for j = 1, 2 do
        local p = math.log(e[j] / e[j + 1], 2)
        assert.is_true(p > sc[3] - 0.2 and p < sc[4], ("%s/%s observed order %.2f"):format(sc[1], sc[2], p))
      end
    end
  end)
  it("flux-limited (koren) scheme stays within 1e-3 and never oscillates negative", function()
    local col = chrom.column(specs[3]) -- pulse: discontinuous input
    local fd = chrom.solve_fd(col, { t = t, nx = 400, scheme = "koren" })
    assert.is_true(fd.c:min() >= -1e-12)
    local up = chrom.solve_fd(col, { t = t, nx = 400, scheme = "upwind" })
    -- compared away from the outlet's jumps at t = 1 and 1.2 (weight e^{-Da}/w: every FD scheme smears
    -- them over a few cells, and the exact outlet takes one side at a jump point)
    local keep = {}
    for j = 1, t:numel() do
      local tv = t:get(j)
      if math.abs(tv - 1) > 0.03 and math.abs(tv - 1.2) > 0.03 then keep[#keep + 1] = j end
    end
    local function sub(x)
      local r = {}
      for i, j in ipairs(keep) do r[i] = x:get(j) end
      return T.new(r)
    end
    local ex = sub(col:outlet(t))
    local ek, eu = l2rel(sub(fd.c), ex), l2rel(sub(up.c), ex)
    assert.is_true(ek < 1e-3, ("koren L2 rel %.3g"):format(ek))
    assert.is_true(ek < eu / 3, ("koren %.3g vs upwind %.3g"):format(ek, eu))
  end)
  it("profile inside the column matches the FD cell values", function()
    local col = chrom.column(specs[1])
    local nx = 400
    local fd = chrom.solve_fd(col, { t = T.new { 1.5 }, nx = nx, scheme = "kappa3" })
    local xs = T.linspace(0.5 / nx, 1 - 0.5 / nx, nx)
    local lp = col:profile(xs, 1.5)
    assert.is_true(l2rel(fd.profile, lp) < 1e-3, l2rel(fd.profile, lp))
  end)
end)

describe("chrom transfer function in quad precision", function()
  local L = require "moonlab.laplace"
  it("has a quad evaluator; Euler on it agrees with de Hoog on the double evaluator", function()
    -- two independent codes of C(1, s) (double for de Hoog, __float128 for the per-t methods)
    for _, inj in ipairs { { kind = "pulse", width = 0.1 }, gauss, { kind = "data", t = { 0, 0.1, 0.2 }, c = { 0, 10, 0 } } } do
      local col = chrom.column { Da = 5, kappa = 3, Pe = 200, injection = inj }
      assert.is_true(col.F:has_quad())
      local t = T.linspace(0.5, 10, 30)
      local d = L.invert(col.F, t, { method = "dehoog" })
      local peak = d:abs():max()
      -- (Talbot does not apply: the injection factors grow without bound left of the axis)
      for _, o in ipairs { { method = "euler" }, { method = "euler", M = 40 } } do
        local q = L.invert(col.F, t, o)
        local diff = (q - d):abs():max()
        assert.is_true(diff <= 1e-7 * peak, ("%s %s: %.3g vs peak %.3g"):format(inj.kind, o.method, diff, peak))
      end
      -- and the double evaluator through the same per-t method gives the same curve
      local e2 = L.invert(col.F, t, { method = "euler", precision = "double" })
      assert.is_true((e2 - d):abs():max() <= 1e-4 * peak)
    end
  end)
end)

describe("chrom.fit", function()
  local an = { { Da = 12, kappa = 6 }, { Da = 30, kappa = 7.5 }, { Da = 48, kappa = 8 }, { Da = 80, kappa = 10 } }
  local base = { Da = 1, kappa = 1, Pe = 2000, injection = gauss }
  local t = T.linspace(0.05, 14, 700)
  local y = chrom.model(t, { analytes = an, column = base })
  local function start()
    local init = {}
    for i, a in ipairs(an) do init[i] = { Da = a.Da * 1.1, kappa = a.kappa * 0.92 } end
    return init
  end
  it("recovers the parameters of noiseless data to 1e-6", function()
    local r = chrom.fit(t, y, { analytes = start(), column = base })
    for i, a in ipairs(r.analytes) do
      assert.is_close({ a.Da, a.kappa }, { an[i].Da, an[i].kappa }, { rtol = 1e-6 })
    end
  end)
  it("recovers each parameter within 2% with 1% noise and known amplitudes; standard errors are consistent", function()
    local noise = T.randn({ 700 }, { seed = 11 })
    local yn = y + noise * (0.01 * y:max())
    local r = chrom.fit(t, yn, { analytes = start(), column = base, fit_scale = false })
    assert.is_true(r.converged)
    assert.are.same({}, r.warnings)
    for i, a in ipairs(r.analytes) do
      assert.is_close({ a.Da, a.kappa }, { an[i].Da, an[i].kappa }, { rtol = 0.02 })
      -- truth within 4 standard errors
      assert.is_true(math.abs(a.Da - an[i].Da) < 4 * a.se.Da and math.abs(a.kappa - an[i].kappa) < 4 * a.se.kappa)
    end
    -- residual RMS ~ the noise level
    local rms = math.sqrt((r.residuals * r.residuals):sum() / 700)
    assert.is_close(rms, 0.01 * y:max(), { rtol = 0.1 })
  end)
  it("fits scales and the hold-up time when asked", function()
    local th = 1.2
    local y2 = chrom.model(t, { analytes = { { Da = 12, kappa = 6, A = 2 }, { Da = 30, kappa = 7.5, A = 0.5 } }, column = base, t_hold = th })
    local r = chrom.fit(t, y2, { analytes = { { Da = 13, kappa = 5.7, A = 1.8 }, { Da = 28, kappa = 7.9, A = 0.55 } },
      column = base, fit_scale = true, fit_hold = true, t_hold = 1.15 })
    assert.is_close(r.t_hold, th, { rtol = 1e-6 })
    assert.is_close({ r.analytes[1].A, r.analytes[2].A, r.analytes[2].Da }, { 2, 0.5, 30 }, { rtol = 1e-5 })
  end)
  it("FD-based fit reaches the same estimates as the Laplace fit", function()
    local sub = T.linspace(0.1, 8, 120)
    local ys = chrom.model(sub, { analytes = { an[1] }, column = { Da = 1, kappa = 1, injection = gauss } })
    local r = chrom.fit(sub, ys, { analytes = { { Da = 13, kappa = 5.6 } }, column = { Da = 1, kappa = 1, injection = gauss },
      use_fd = true, nx = 200, scheme = "kappa3" })
    assert.is_close({ r.analytes[1].Da, r.analytes[1].kappa }, { 12, 6 }, { rtol = 2e-3 })
  end)
end)

describe("chrom.read_csv", function()
  it("reads a chromatogram with a header and comments", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write("time,signal\n# comment\n0.1, 1.5\n0.2;2.5\n0.3\t3.5\n")
    f:close()
    local t, y = chrom.read_csv(path)
    os.remove(path)
    assert.is_close(t, T.new { 0.1, 0.2, 0.3 })
    assert.is_close(y, T.new { 1.5, 2.5, 3.5 })
  end)
end)
