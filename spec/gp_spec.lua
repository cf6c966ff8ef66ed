-- moonlab.gp: kernels against central differences, the GP against closed forms, scikit-learn
-- (optional) and finite differences, potentials and saddle searches against published values.
local T = require "moonlab.tensor"
local gp = require "moonlab.gp"

local function vec(t) return T.new(t) end

-- central-difference checks of one kernel block: dk/dx, dk/dy, d2k/dxdy, d/dtheta
local function check_kernel(k, D, seed)
  local x = T.randn({ D }, { seed = seed }) * 0.7
  local y = T.randn({ D }, { seed = seed + 1 }) * 0.7
  local B, dB = k:block(x, y, true, false)
  local m, h = D + 1, 1e-5
  local worst = 0
  local function upd(fd, an) worst = math.max(worst, math.abs(fd - an) / (1e-3 + math.abs(fd))) end
  for j = 1, D do -- d/dy_j of column 1 (energy) rows gives column 1+j
    local yp, ym = y:clone(), y:clone()
    yp:set(j, y:get(j) + h); ym:set(j, y:get(j) - h)
    local Bp, Bm = k:block(x, yp, true, false), k:block(x, ym, true, false)
    for i = 1, m do upd((Bp:get(i, 1) - Bm:get(i, 1)) / (2 * h), B:get(i, 1 + j)) end
  end
  for i = 1, D do -- d/dx_i of row 1 gives row 1+i
    local xp, xm = x:clone(), x:clone()
    xp:set(i, x:get(i) + h); xm:set(i, x:get(i) - h)
    local Bp, Bm = k:block(xp, y, true, false), k:block(xm, y, true, false)
    for j = 1, m do upd((Bp:get(1, j) - Bm:get(1, j)) / (2 * h), B:get(1 + i, j)) end
  end
  local th = k:params()
  for p = 1, #th do
    local tp, tm = { table.unpack(th) }, { table.unpack(th) }
    tp[p], tm[p] = th[p] + h, th[p] - h
    local Bp = k:clone():set_params(tp):block(x, y, true, false)
    local Bm = k:clone():set_params(tm):block(x, y, true, false)
    for a = 1, m do for b = 1, m do upd((Bp:get(a, b) - Bm:get(a, b)) / (2 * h), dB:get(p, a, b)) end end
  end
  return worst
end

local function sample(pot, X)
  local n, D = X:shape()[1], X:shape()[2]
  local E, G = T.zeros { n }, T.zeros { n, D }
  for i = 1, n do
    local row = {}
    for d = 1, D do row[d] = X:get(i, d) end
    local e, g = pot:energy_gradient(vec(row))
    E:set(i, e)
    for d = 1, D do G:set(i, d, g:get(d)) end
  end
  return E, G
end

describe("gp kernels", function()
  local cases = {
    { "se ARD", function() return gp.kernel.se { lengthscales = { 0.7, 1.3, 2.0 }, variance = 2 } end, 3 },
    { "se isotropic", function() return gp.kernel.se { lengthscales = 0.9, variance = 2 } end, 3 },
    { "matern 1.5", function() return gp.kernel.matern { nu = 1.5, lengthscales = { 0.7, 1.3, 2.0 }, variance = 2 } end, 3 },
    { "matern 2.5", function() return gp.kernel.matern { nu = 2.5, lengthscales = 1.1, variance = 2 } end, 3 },
    { "rq", function() return gp.kernel.rq { alpha = 0.7, lengthscales = { 0.7, 1.3, 2.0 }, variance = 2 } end, 3 },
    { "sum", function() return gp.kernel.se { lengthscales = 0.9 } + gp.kernel.rq { alpha = 2, lengthscales = 1.5 } + gp.kernel.constant { value = 2 } end, 3 },
    { "product", function() return gp.kernel.se { lengthscales = 0.9 } * gp.kernel.matern { nu = 2.5, lengthscales = 1.5 } * gp.kernel.constant { value = 3 } end, 3 },
    { "inverse distance with pair types and frozen atoms", function()
      return gp.kernel.inverse_distance { atoms = 3, dim = 3, frozen = T.new { { 0, 0, -1 }, { 1.5, 0, -1.2 } },
        types = { 1, 1, 2, 2, 2 }, pair_types = { { 1, 2 }, { 2, 3 } }, lengthscales = { 0.5, 0.8, 1.1 },
        variance = 1.5, constant = 2 }
    end, 9 },
    { "inverse distance 2-D", function() return gp.kernel.inverse_distance { atoms = 4, dim = 2, lengthscales = 0.6 } end, 8 },
  }
  for _, c in ipairs(cases) do
    it(c[1] .. ": input and hyperparameter derivatives match central differences", function()
      local w = check_kernel(c[2](), c[3], 11)
      assert.is_true(w < 1e-7, ("worst relative error %.3g"):format(w))
    end)
  end

  it("white noise sits on the training diagonal only; constant is flat", function()
    local X = T.new { { 0, 0 }, { 1, 0 } }
    local K = gp.kernel.white { value = 0.5 }:matrix(X, { derivatives = true })
    assert.is_close(K:get(1, 1), 0.5)
    assert.is_close(K:get(2, 2), 0.5)
    assert.is_close(K:get(1, 4), 0)
    local K2 = gp.kernel.white { value = 0.5 }:matrix(X, X:clone())
    assert.is_close(K2:get(1, 1), 0)
    local Kc = gp.kernel.constant { value = 3 }:matrix(X, { derivatives = true })
    assert.is_close({ Kc:get(1, 4), Kc:get(2, 2), Kc:get(1, 2) }, { 3, 0, 0 })
  end)

  it("matrix with derivatives is symmetric and holds the blocks; SE energy block is the closed form", function()
    local k = gp.kernel.se { lengthscales = { 0.5, 0.8 }, variance = 1.7 }
    local X = T.new { { 0.1, 0.2 }, { 0.4, -0.3 }, { -0.2, 0.5 } }
    local K = k:matrix(X, { derivatives = true })
    assert.same({ 9, 9 }, K:shape())
    for i = 1, 9 do for j = 1, 9 do assert.is_close(K:get(i, j), K:get(j, i), { rtol = 1e-14, atol = 1e-14 }) end end
    local d1, d2 = 0.1 - 0.4, 0.2 + 0.3
    local kv = 1.7 * math.exp(-0.5 * (d1 * d1 / 0.25 + d2 * d2 / 0.64))
    assert.is_close(K:get(1, 4), kv)
    assert.is_close(K:get(2, 4), -kv * d1 / 0.25) -- dk/dx_1
    assert.is_close(K:get(2, 2), 1.7 / 0.25)       -- d2k/dx dx' at x = x'
    local Ke = k:matrix(X)
    assert.is_close(Ke:get(1, 2), kv)
  end)

  it("params and set_params round-trip in log space; + and * concatenate parameters", function()
    local k = gp.kernel.se { lengthscales = { 2, 3 }, variance = 5 } * gp.kernel.constant { value = 7 }
    local th, names = k:params()
    assert.is_close(th, { math.log(5), math.log(2), math.log(3), math.log(7) })
    assert.same("se.variance", names[1])
    k:set_params { 0, 0, 0, 0 }
    assert.is_close((k:params()), { 0, 0, 0, 0 })
    assert.matches("gp.kernel%(", tostring(k))
  end)
end)

describe("gp.GP", function()
  local pot = gp.potential.muller_brown()
  local X = T.rand({ 10, 2 }, { seed = 3 }) * 1.2 - 0.4
  local E, G = sample(pot, X)

  -- the lml gradient of a fitted GP against central differences of the lml
  local function check_lml_gradient(m)
    local _, grad = m:lml { gradient = true }
    local th = m:params()
    for p = 1, #th do
      local h = 1e-6
      local tp, tm = { table.unpack(th) }, { table.unpack(th) }
      tp[p], tm[p] = th[p] + h, th[p] - h
      local lp = m:set_params(tp):lml()
      local lm = m:set_params(tm):lml()
      m:set_params(th)
      assert.is_close(grad[p], (lp - lm) / (2 * h), { rtol = 1e-5, atol = 1e-5 })
    end
  end

  it("lml gradient matches central differences (energies and gradients)", function()
    local k = gp.kernel.se { lengthscales = { 0.4, 0.5 }, variance = 1e4 } + gp.kernel.matern { nu = 2.5, lengthscales = 0.7, variance = 50 }
    check_lml_gradient(gp.GP { kernel = k, noise = 1e-2 }:fit(X, E, G))
  end)

  it("lml gradient of an inverse-distance GP with pair types matches central differences", function()
    -- LJ3 configurations around a triangle (the assembly's per-point feature path)
    local X3 = T.randn({ 6, 9 }, { seed = 12, std = 0.1 }) + T.new { 0, 0, 0, 1.1, 0, 0, 0.55, 0.95, 0 }
    local E3, G3 = sample(gp.potential.lj { n = 3, dim = 3 }, X3)
    local k = gp.kernel.inverse_distance { atoms = 3, dim = 3, types = { 1, 2, 2 }, pair_types = { { 1, 2 }, { 2, 2 } },
      lengthscales = { 0.5, 0.7 }, variance = 3 }
    check_lml_gradient(gp.GP { kernel = k, noise = 1e-3 }:fit(X3, E3, G3))
  end)

  it("lml and the posterior equal the closed forms written in Lua (energy-only, 3 points)", function()
    local Xs = T.new { { 0, 0 }, { 1, 0 }, { 0, 2 } }
    local y = T.new { 1, -1, 0.5 }
    local m = gp.GP { kernel = gp.kernel.se { lengthscales = 1, variance = 2 }, noise = 0.1 }:fit(Xs, y)
    -- K by hand
    local pts = { { 0, 0 }, { 1, 0 }, { 0, 2 } }
    local K = {}
    for i = 1, 3 do
      K[i] = {}
      for j = 1, 3 do
        local d2 = (pts[i][1] - pts[j][1]) ^ 2 + (pts[i][2] - pts[j][2]) ^ 2
        K[i][j] = 2 * math.exp(-0.5 * d2) + (i == j and 0.1 or 0)
      end
    end
    -- Gauss-Jordan solve and determinant
    local A = { { K[1][1], K[1][2], K[1][3], 1, -1, 0.5 }, { K[2][1], K[2][2], K[2][3], -1, 1, 1 },
      { K[3][1], K[3][2], K[3][3], 0.5, 0, 0 } }
    local a = { { K[1][1], K[1][2], K[1][3] }, { K[2][1], K[2][2], K[2][3] }, { K[3][1], K[3][2], K[3][3] } }
    local det = a[1][1] * (a[2][2] * a[3][3] - a[2][3] * a[3][2]) - a[1][2] * (a[2][1] * a[3][3] - a[2][3] * a[3][1]) +
      a[1][3] * (a[2][1] * a[3][2] - a[2][2] * a[3][1])
    for c = 1, 3 do
      local piv = A[c][c]
      for j = 1, 6 do A[c][j] = A[c][j] / piv end
      for r = 1, 3 do
        if r ~= c then
          local f = A[r][c]
          for j = 1, 6 do A[r][j] = A[r][j] - f * A[c][j] end
        end
      end
    end
    local alpha = { A[1][4], A[2][4], A[3][4] }
    local quad = alpha[1] * 1 + alpha[2] * -1 + alpha[3] * 0.5
    local lml = -0.5 * quad - 0.5 * math.log(det) - 1.5 * math.log(2 * math.pi)
    assert.is_close(m:lml(), lml, { rtol = 1e-12 })
    local ks = {}
    for i = 1, 3 do ks[i] = 2 * math.exp(-0.5 * ((pts[i][1] - 0.5) ^ 2 + (pts[i][2] - 0.5) ^ 2)) end
    local mean = ks[1] * alpha[1] + ks[2] * alpha[2] + ks[3] * alpha[3]
    local p = m:predict(T.new { { 0.5, 0.5 } }, { variance = true })
    assert.is_close(p.energy:get(1), mean, { rtol = 1e-12 })
  end)

  it("agrees with scikit-learn's GaussianProcessRegressor (RBF, fixed hyperparameters) to 1e-8", function()
    local bench = require "moonlab.bench"
    if not bench.python_has("sklearn") then
      print("\n  (skipped: python3-sklearn is not installed)")
      return
    end
    local Xa = T.rand({ 30, 3 }, { seed = 5 }) * 2
    local ya = (Xa:sum(2) * 1.3):sin()
    local Xq = T.rand({ 7, 3 }, { seed = 6 }) * 2
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    Xa:save(dir .. "/X.npy"); ya:save(dir .. "/y.npy"); Xq:save(dir .. "/Xq.npy")
    local py = ([[
import numpy as np
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel as C
X=np.load('%s/X.npy'); y=np.load('%s/y.npy'); Xq=np.load('%s/Xq.npy')
k=C(1.7,'fixed')*RBF([0.8,1.1,0.6],'fixed')
g=GaussianProcessRegressor(kernel=k,alpha=1e-4,optimizer=None,normalize_y=False).fit(X,y)
m,s=g.predict(Xq,return_std=True)
print(repr(g.log_marginal_likelihood_value_))
for a,b in zip(m,s): print(repr(a),repr(b))
]]):format(dir, dir, dir)
    local f = assert(io.open(dir .. "/c.py", "w")); f:write(py); f:close()
    local p = assert(io.popen("/usr/bin/python3 " .. dir .. "/c.py"))
    local out = p:read("a"); p:close()
    os.execute("rm -rf " .. dir)
    local vals = {}
    for v in out:gmatch("[-%d%.e+]+") do vals[#vals + 1] = tonumber(v) end
    local m = gp.GP { kernel = gp.kernel.se { lengthscales = { 0.8, 1.1, 0.6 }, variance = 1.7 }, noise = 1e-4 }:fit(Xa, ya)
    assert.is_close(m:lml(), vals[1], { rtol = 1e-8 })
    local pr = m:predict(Xq, { variance = true })
    for i = 1, 7 do
      assert.is_close(pr.energy:get(i), vals[2 * i], { rtol = 1e-8, atol = 1e-8 })
      assert.is_close(math.sqrt(pr.variance:get(i)), vals[2 * i + 1], { rtol = 1e-6, atol = 1e-8 })
    end
  end)

  it("gradient observations predict a smooth 2-D function's gradient better than energies alone", function()
    local f = gp.potential.fn(function(x)
      local a, b = x:get(1), x:get(2)
      return math.sin(a) * math.cos(0.7 * b), { math.cos(a) * math.cos(0.7 * b), -0.7 * math.sin(a) * math.sin(0.7 * b) }
    end, { dim = 2 })
    local Xt = T.rand({ 12, 2 }, { seed = 9 }) * 4 - 2
    local Et, Gt = sample(f, Xt)
    local Xq = T.rand({ 50, 2 }, { seed = 10 }) * 3 - 1.5
    local _, Gq = sample(f, Xq)
    local k = gp.kernel.se { lengthscales = 1.2, variance = 1 }
    local with = gp.GP { kernel = k }:fit(Xt, Et, Gt):predict(Xq, { gradient = true }).gradient
    local without = gp.GP { kernel = k }:fit(Xt, Et):predict(Xq, { gradient = true }).gradient
    local ew = (with - Gq):abs():max()
    local eo = (without - Gq):abs():max()
    assert.is_true(ew < 0.5 * eo, ("max gradient error with %.3g, without %.3g"):format(ew, eo))
    assert.is_true(f:calls() == 62)
  end)

  it("adding data updates the factor to a full refit within 1e-10", function()
    local k = gp.kernel.se { lengthscales = { 0.4, 0.5 }, variance = 100 }
    local Xa = T.rand({ 6, 2 }, { seed = 21 }) * 1.2 - 0.4
    local Xb = T.rand({ 4, 2 }, { seed = 22 }) * 1.2 - 0.4
    local Ea, Ga = sample(pot, Xa)
    local Eb, Gb = sample(pot, Xb)
    local inc = gp.GP { kernel = k, noise = 1e-2 }:fit(Xa, Ea, Ga):add(Xb, Eb, Gb)
    local Xall = T.zeros { 10, 2 }
    for i = 1, 6 do for d = 1, 2 do Xall:set(i, d, Xa:get(i, d)) end end
    for i = 1, 4 do for d = 1, 2 do Xall:set(6 + i, d, Xb:get(i, d)) end end
    local Eall, Gall = sample(pot, Xall)
    local full = gp.GP { kernel = k, noise = 1e-2 }:fit(Xall, Eall, Gall)
    local Xq = T.rand({ 5, 2 }, { seed = 23 })
    local a = inc:predict(Xq, { variance = true, gradient = true })
    local b = full:predict(Xq, { variance = true, gradient = true })
    assert.is_close(a.energy, b.energy, { rtol = 1e-10, atol = 1e-10 })
    assert.is_close(a.gradient, b.gradient, { rtol = 1e-10, atol = 1e-10 })
    assert.is_close(a.variance, b.variance, { rtol = 1e-8, atol = 1e-10 })
    assert.is_close(inc:lml(), full:lml(), { rtol = 1e-10 })
    -- energy-only too
    local i2 = gp.GP { kernel = k, noise = 1e-6 }:fit(Xa, Ea):add(Xb, Eb)
    local f2 = gp.GP { kernel = k, noise = 1e-6 }:fit(Xall, Eall)
    assert.is_close(i2:predict(Xq).energy, f2:predict(Xq).energy, { rtol = 1e-10, atol = 1e-10 })
  end)

  it("a constant mean is the mean energy; duplicate points without noise get reported jitter", function()
    local m = gp.GP { kernel = gp.kernel.se { lengthscales = 0.5 }, mean = "constant", noise = 0 }
    local Xd = T.new { { 0, 0 }, { 0, 0 }, { 1, 1 } }
    m:fit(Xd, T.new { 5, 5, 7 })
    local info = m:info()
    assert.is_close(info.mean, 17 / 3)
    assert.is_true(info.jitter > 0)
    -- far from the data the prediction returns to the mean
    assert.is_close(m:predict(T.new { { 50, 50 } }).energy:get(1), 17 / 3, { rtol = 1e-12 })
  end)

  it("optimize raises the log posterior and reports convergence (MAP and ML)", function()
    local k = gp.kernel.se { lengthscales = { 1, 1 }, variance = 100 }
    local m = gp.GP { kernel = k }:fit(X, E, G)
    local before = m:lml()
    local r = m:optimize { quiet = true }
    assert.is_true(r.lml > before)
    assert.is_boolean(r.converged)
    assert.is_string(r.reason)
    assert.is_number(r.iterations)
    assert.is_table(r.warnings)
    local r2 = gp.GP { kernel = k }:fit(X, E, G):optimize { prior = false, restarts = 2, seed = 4, quiet = true }
    assert.is_true(r2.lml >= r.lml - 1e-6)
    -- same seed, same result
    local r3 = gp.GP { kernel = k }:fit(X, E, G):optimize { prior = false, restarts = 2, seed = 4, quiet = true }
    assert.is_close(r3.params, r2.params, { rtol = 0, atol = 0 })
  end)
end)

describe("gp potentials", function()
  local function fd_grad(pot, x)
    local D = x:numel()
    local _, g = pot:energy_gradient(x)
    local h = 1e-6
    for i = 1, D do
      local xp, xm = x:clone(), x:clone()
      xp:set(i, x:get(i) + h); xm:set(i, x:get(i) - h)
      local ep = pot:energy_gradient(xp)
      local em = pot:energy_gradient(xm)
      assert.is_close(g:get(i), (ep - em) / (2 * h), { rtol = 1e-6, atol = 1e-6 })
    end
  end
  it("gradients match central differences (MB, LEPS, LJ 2-D/3-D, Morse)", function()
    fd_grad(gp.potential.muller_brown(), vec { -0.3, 0.9 })
    fd_grad(gp.potential.leps(), vec { 0.9, 1.3 })
    fd_grad(gp.potential.lj { n = 4, dim = 2 }, T.new { 0, 0, 1.1, 0.1, 0.2, 1.0, 1.2, 1.1 })
    fd_grad(gp.potential.lj { n = 3, dim = 3 }, T.new { 0, 0, 0, 1.1, 0.1, 0.2, 0.2, 1.0, -0.3 })
    local pot, x0 = gp.potential.morse {}
    fd_grad(pot, x0 + T.randn({ 21 }, { seed = 2 }) * 0.05)
  end)
  it("Müller–Brown energies at the published minima and saddles; minimize finds both minima", function()
    local pot = gp.potential.muller_brown()
    for _, p in ipairs(gp.muller_brown_points.saddles) do
      assert.is_close((pot:energy_gradient(vec { p[1], p[2] })), p[3], { atol = 2e-3 })
    end
    for _, p in ipairs(gp.muller_brown_points.minima) do
      local r = gp.minimize(pot, vec { p[1] + 0.05, p[2] - 0.05 })
      assert.is_true(r.converged)
      assert.is_close({ r.x:get(1), r.x:get(2), r.energy }, p, { atol = 2e-3 })
    end
  end)
  it("Lua potentials count their calls", function()
    local pot = gp.potential.fn(function(x) return x:get(1) ^ 2, { 2 * x:get(1) } end, { dim = 1 })
    pot:energy_gradient(vec { 1 }); pot:energy_gradient(vec { 2 })
    assert.equals(2, pot:calls())
    local r = gp.minimize(pot, vec { 1.5 })
    assert.is_close(r.x:get(1), 0, { atol = 1e-6 })
    assert.equals(2 + r.calls, pot:calls())
  end)
end)

describe("gp saddle searches", function()
  local pot = gp.potential.muller_brown()
  it("the dimer converges to a published Müller–Brown saddle with one negative Hessian eigenvalue", function()
    local r = gp.dimer(pot, vec { -0.5, 1.4 }, vec { 1, 0.3 }, { quiet = true })
    assert.is_true(r.converged)
    assert.equals("tolerance", r.reason)
    local s = gp.muller_brown_points.saddles[1]
    assert.is_close({ r.x:get(1), r.x:get(2), r.energy }, s, { atol = 2e-3 })
    local H = gp.hessian(pot, r.x)
    assert.equals(1, H.negative)
    assert.is_true(r.curvature < 0)
    assert.is_true(r.path.x:shape()[1] == r.iterations)
  end)
  it("the GPR-dimer reaches the same saddle with fewer true evaluations", function()
    pot:reset_calls()
    local d = gp.dimer(pot, vec { -0.5, 1.4 }, vec { 1, 0.3 }, { quiet = true })
    local r = gp.gpr_dimer(pot, vec { -0.5, 1.4 }, vec { 1, 0.3 }, { quiet = true })
    assert.is_true(r.converged)
    local s = gp.muller_brown_points.saddles[1]
    assert.is_close({ r.x:get(1), r.x:get(2), r.energy }, s, { atol = 2e-3 })
    assert.equals(1, gp.hessian(pot, r.x).negative)
    assert.is_true(r.calls < d.calls, ("gpr %d calls, dimer %d"):format(r.calls, d.calls))
    assert.is_number(r.seconds.hyper)
    -- priors centred on the starting hyperparameters instead of each warm start
    local a = gp.gpr_dimer(pot, vec { -0.5, 1.4 }, vec { 1, 0.3 }, { quiet = true, anchor_prior = true })
    assert.is_true(a.converged)
    assert.is_close({ a.x:get(1), a.x:get(2), a.energy }, s, { atol = 2e-3 })
  end)
  it("GPR-dimer on LJ7 2-D with MAP on the latest points every other iteration finds a first-order saddle", function()
    local lj = gp.potential.lj { n = 7, dim = 2 }
    local x = { 0, 0 }
    for k = 0, 5 do x[#x + 1] = 1.12 * math.cos(k * math.pi / 3); x[#x + 1] = 1.12 * math.sin(k * math.pi / 3) end
    local m = gp.minimize(lj, T.new(x), { quiet = true }).x
    local x0, m0 = m + T.randn({ 14 }, { seed = 3 }) * 0.05, T.randn({ 14 }, { seed = 103 })
    local d = gp.dimer(lj, x0, m0, { quiet = true, max_calls = 2000 })
    local r = gp.gpr_dimer(lj, x0, m0, { quiet = true, ratio_lo = 0.9, ratio_hi = 1.1, hyper_points = 6,
      hyper_every = 2, max_outer = 60, hyper_maxit = 40 })
    assert.is_true(d.converged and r.converged)
    local _, G = lj:energy_gradient(r.x)
    assert.is_true(math.sqrt((G * G):sum()) < 0.01)
    assert.equals(1, gp.hessian(lj, r.x).negative)
    assert.is_true(r.calls < d.calls / 2, ("gpr %d calls, dimer %d"):format(r.calls, d.calls))
  end)
  it("Hessian of a free LJ cluster: rigid modes projected out", function()
    local lj = gp.potential.lj { n = 3, dim = 2 }
    local a = 2 ^ (1 / 6)
    local x = vec { 0, 0, a, 0, a / 2, a * math.sqrt(3) / 2 }
    local H = gp.hessian(lj, x)
    assert.equals(3, #H.eigenvalues) -- 6 coordinates - 2 translations - 1 rotation
    assert.equals(0, H.negative)
    local Hf = gp.hessian(lj, x, { rigid = false })
    assert.equals(6, #Hf.eigenvalues)
  end)
end)
