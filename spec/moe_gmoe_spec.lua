-- Gaussian MoE: density against a plain-Lua formula and quadrature, sampling against the density (KS test),
-- EM (recovery, monotone log-likelihood), Voronoi losses on hand-computed cases.
local T = require "moonlab.tensor"
local moe = require "moonlab.moe"
local ref = require "spec.helpers.moe_ref"

local base = { beta0 = { -8, 0 }, beta1 = { 25, 0 }, a = { -20, 20 }, b = { 15, -5 }, sigma = { 0.3, 0.4 } }
local function model(over)
  local p = {}
  for key, v in pairs(base) do p[key] = v end
  for key, v in pairs(over or {}) do p[key] = v end
  return moe.gaussian_moe(p)
end

local GATES = {
  softmax = model(),
  topk = moe.gaussian_moe { beta0 = { 0.5, -1, 0 }, beta1 = { 3, -2, 0 }, a = { 1, -1, 2 }, b = { 0, 1, -2 },
    sigma = { 0.5, 0.7, 0.4 }, gate = "topk", k = 2 },
  temperature = model { gate = "temperature", tau = 1.7 },
  activation = model { gate = "activation", tau = 0.3, act = "tanh", beta1 = { 2.5, -1 } },
  activation_inside = model { gate = "activation", tau = 0.5, act = "sigmoid", bias_placement = "inside" },
}

-- plain Lua p(y|x) for d = 1
local function lua_density(m, x, y)
  local p = m:params()
  local K = #p.beta0
  local l = {}
  for i = 1, K do
    local u = p.beta1[i][1] * x
    if p.gate == "temperature" then l[i] = (u + p.beta0[i]) / p.tau
    elseif p.gate == "activation" then
      if p.bias_placement == "inside" then l[i] = ref.act(p.act, u + p.beta0[i]) / p.tau
      else l[i] = ref.act(p.act, u) / p.tau + p.beta0[i] end
    else l[i] = u + p.beta0[i] end
  end
  local keep = {}
  if p.gate == "topk" then
    for _, i in ipairs(ref.topk(l, p.k)) do keep[i] = true end
  else
    for i = 1, K do keep[i] = true end
  end
  local mx = -math.huge
  for i = 1, K do if keep[i] then mx = math.max(mx, l[i]) end end
  local s = 0
  for i = 1, K do if keep[i] then s = s + math.exp(l[i] - mx) end end
  local dens = 0
  for i = 1, K do
    if keep[i] then
      local g = math.exp(l[i] - mx) / s
      local mu = p.a[i][1] * x + p.b[i]
      local z = (y - mu) / p.sigma[i]
      dens = dens + g * math.exp(-0.5 * z * z) / (p.sigma[i] * math.sqrt(2 * math.pi))
    end
  end
  return dens
end

describe("moe.gaussian_moe", function()
  for name, m in pairs(GATES) do
    it("density matches the plain formula and integrates to 1 over Y (" .. name .. ")", function()
      for _, x in ipairs({ 0.05, 0.3, 0.33, 0.7, 1.0 }) do
        -- Simpson on [-60, 60] (every expert mean lies within)
        local N = 24000
        local ys = T.linspace(-60, 60, N + 1)
        local xs = T.full({ N + 1, 1 }, x)
        local d = m:density(xs, ys):totable()
        local h, s = 120 / N, d[1] + d[N + 1]
        for i = 2, N do s = s + d[i] * ((i % 2 == 0) and 4 or 2) end
        assert.is_close(s * h / 3, 1, { rtol = 1e-9 })
        for _, i in ipairs({ 1, 7001, 12001, 15000 }) do
          assert.is_close(d[i], lua_density(m, x, ys:get(i)), { rtol = 1e-12, atol = 1e-300 })
        end
      end
    end)
  end

  it("gate_probs match the plain softmax / top-K formulas", function()
    local X = T.new({ { 0.1 }, { 0.5 }, { 0.9 } })
    local g = GATES.topk:gate_probs(X):totable()
    for r, x in ipairs({ 0.1, 0.5, 0.9 }) do
      local l = { 3 * x + 0.5, -2 * x - 1, 0 }
      local idx = ref.topk(l, 2)
      local s = math.exp(l[idx[1]]) + math.exp(l[idx[2]])
      local want = { 0, 0, 0 }
      for _, i in ipairs(idx) do want[i] = math.exp(l[i]) / s end
      assert.is_close(g[r], want, { rtol = 1e-14, atol = 1e-300 })
    end
  end)

  it("sampling matches the density (Kolmogorov-Smirnov at x = 0.35, fixed seed)", function()
    for _, name in ipairs({ "softmax", "topk", "activation" }) do
      local m = GATES[name]
      local n = 4000
      local _, Y = m:sample(n, { seed = 42, x = T.full({ n, 1 }, 0.35) })
      local y = Y:totable()
      table.sort(y)
      -- CDF by Simpson on a fine grid
      local N = 20000
      local lo, hi = -60, 60
      local grid = T.linspace(lo, hi, N + 1)
      local d = m:density(T.full({ N + 1, 1 }, 0.35), grid):totable()
      local cdf, h = { 0 }, (hi - lo) / N
      for i = 2, N + 1 do cdf[i] = cdf[i - 1] + 0.5 * h * (d[i - 1] + d[i]) end
      local function F(v)
        local pos = (v - lo) / h + 1
        local i = math.max(1, math.min(N, math.floor(pos)))
        return cdf[i] + (cdf[i + 1] - cdf[i]) * (pos - i)
      end
      local D = 0
      for i = 1, n do
        local f = F(y[i])
        D = math.max(D, math.abs(f - (i - 1) / n), math.abs(f - i / n))
      end
      assert.is_true(D < 1.63 / math.sqrt(n), name .. ": KS statistic " .. D)
    end
  end)

  it("samples X uniformly on [0,1] and the same seed gives the same sample", function()
    local m = GATES.softmax
    local X1, Y1 = m:sample(5000, { seed = 3 })
    local X2, Y2 = m:sample(5000, { seed = 3 })
    assert.is_close(Y1, Y2, { rtol = 0 })
    assert.is_true(X1:min() >= 0 and X1:max() < 1)
    assert.is_close(X1:mean(), 0.5, { atol = 0.02 })
  end)
end)

describe("moe.fit_em", function()
  for _, g in ipairs({ "softmax", "topk" }) do
    it("recovers the true parameters within 5% at n = 1e5 from a near-truth start (" .. g .. ")", function()
      local truth = g == "topk" and model { gate = "topk", k = 2 } or model()
      local X, Y = truth:sample(100000, { seed = 11 })
      local res = moe.fit_em(X, Y, { init = "near_truth", truth = truth, perturb = 0.2, seed = 5, quiet = true })
      assert.is_true(res.converged)
      local p, q = res.model:params(), truth:params()
      local function close(a, b) return math.abs(a - b) <= 0.05 * math.abs(b) + 1e-12 end
      for i = 1, 2 do
        assert.is_true(close(p.beta0[i], q.beta0[i]), "beta0 " .. p.beta0[i])
        assert.is_true(close(p.beta1[i][1], q.beta1[i][1]), "beta1 " .. p.beta1[i][1])
        assert.is_true(close(p.a[i][1], q.a[i][1]), "a " .. p.a[i][1])
        assert.is_true(close(p.b[i], q.b[i]), "b " .. p.b[i])
        assert.is_true(close(p.sigma[i], q.sigma[i]), "sigma " .. p.sigma[i])
      end
    end)
  end

  for name, m in pairs(GATES) do
    it("never lowers the log-likelihood (" .. name .. ", exact and over-specified)", function()
      local X, Y = m:sample(3000, { seed = 9 })
      for _, K in ipairs({ m.K, m.K + 1 }) do
        local res = moe.fit_em(X, Y, { init = "kmeans", experts = K, gate = m.gate, k = m.gate == "topk" and 2 or nil,
          tau = m.tau, act = m.act, bias_placement = m.bias_placement, maxit = 150, seed = 1, quiet = true })
        local tr = res.trace:totable()
        assert.is_true(#tr >= 2)
        for i = 2, #tr do
          assert.is_true(tr[i] >= tr[i - 1] - 1e-9 * math.abs(tr[i - 1]), ("iteration %d: %.12g < %.12g"):format(i - 1, tr[i], tr[i - 1]))
        end
        -- the trace ends at the log-likelihood of the returned model
        assert.is_close(res.loglik, res.model:logpdf(X, Y):sum(), { rtol = 1e-10 })
        assert.is_true(type(res.reason) == "string" and type(res.iterations) == "number")
      end
    end)
  end

  it("d = 2, 3 experts, threaded blocks: monotone trace ending at the model's log-likelihood, near the truth", function()
    local truth = moe.gaussian_moe { beta0 = { 1, -0.5, 0 }, beta1 = { { 4, -3 }, { -2, 5 }, { 0, 0 } },
      a = { { 2, 1 }, { -3, 0.5 }, { 1, -2 } }, b = { 0, 3, -3 }, sigma = { 0.3, 0.4, 0.5 } }
    local X, Y = truth:sample(30000, { seed = 21 }) -- above the threading threshold, not a multiple of the block
    local res = moe.fit_em(X, Y, { init = "near_truth", truth = truth, perturb = 0.1, seed = 2, maxit = 300, quiet = true })
    local tr = res.trace:totable()
    for i = 2, #tr do assert.is_true(tr[i] >= tr[i - 1] - 1e-9 * math.abs(tr[i - 1])) end
    assert.is_close(res.loglik, res.model:logpdf(X, Y):sum(), { rtol = 1e-10 })
    assert.is_true(res.loglik >= truth:logpdf(X, Y):sum())
    local p, q = res.model:params(), truth:params()
    for i = 1, 3 do
      for j = 1, 2 do assert.is_true(math.abs(p.a[i][j] - q.a[i][j]) < 0.1, "a " .. p.a[i][j]) end
      assert.is_true(math.abs(p.sigma[i] - q.sigma[i]) < 0.05, "sigma " .. p.sigma[i])
    end
  end)

  it("fits the same on one and two threads (fixed chunks of points, reduced in order)", function()
    local ml = require "moonlab"
    local truth = model()
    local X, Y = truth:sample(25000, { seed = 8 }) -- above the threading threshold
    local fits = {}
    local before = ml.get_threads()
    for _, n in ipairs { 1, 2 } do
      ml.set_threads(n)
      local ok, res = pcall(moe.fit_em, X, Y, { init = "near_truth", truth = truth, perturb = 0.2, seed = 3, maxit = 8,
        tol = -1, quiet = true })
      ml.set_threads(before)
      assert(ok, res)
      fits[n] = res
    end
    assert.same(fits[1].trace:totable(), fits[2].trace:totable())
    assert.same(fits[1].model:params(), fits[2].model:params())
  end)

  it("never lowers the log-likelihood from far starts (rejected full Newton steps fall back to the line search)", function()
    local truth = model()
    for s = 1, 3 do
      local X, Y = truth:sample(100, { seed = s })
      for _, K in ipairs({ 2, 3 }) do
        local res = moe.fit_em(X, Y, { init = "near_truth", truth = truth, experts = K, perturb = 5, maxit = 300, seed = s,
          quiet = true })
        local tr = res.trace:totable()
        for i = 2, #tr do assert.is_true(tr[i] >= tr[i - 1] - 1e-9 * math.abs(tr[i - 1])) end
        assert.is_close(res.loglik, res.model:logpdf(X, Y):sum(), { rtol = 1e-10 })
      end
    end
  end)

  it("restarts keep the best log-likelihood", function()
    local X, Y = GATES.softmax:sample(2000, { seed = 4 })
    local one = moe.fit_em(X, Y, { experts = 2, seed = 1, quiet = true })
    local many = moe.fit_em(X, Y, { experts = 2, seed = 1, restarts = 3, quiet = true })
    assert.is_true(many.loglik >= one.loglik - 1e-9 * math.abs(one.loglik))
    assert.equal(3, many.restarts)
  end)
end)

describe("moe.voronoi_loss", function()
  local truth = moe.gaussian_moe { beta0 = { 0, 0 }, beta1 = { 1, -1 }, a = { 0, 2 }, b = { 0, 3 }, sigma = { 1, 1 } }
  it("is 0 at the truth and invariant to permuting the fitted experts", function()
    assert.equal(0, (moe.voronoi_loss(truth, truth, "D1")))
    local f = moe.gaussian_moe { beta0 = { 0.1, -0.3, -0.2 }, beta1 = { 1.2, -0.9, -1 }, a = { 0.1, 2.2, 2 },
      b = { 0, 3.1, 2.5 }, sigma = { 1.1, 0.9, 1 } }
    local g = moe.gaussian_moe { beta0 = { -0.2, 0.1, -0.3 }, beta1 = { -1, 1.2, -0.9 }, a = { 2, 0.1, 2.2 },
      b = { 2.5, 0, 3.1 }, sigma = { 1, 1.1, 0.9 } }
    for _, kind in ipairs({ "D1", "D2" }) do
      for _, norm in ipairs({ true, false }) do
        assert.is_close(moe.voronoi_loss(f, truth, kind, { normalize = norm }),
          moe.voronoi_loss(g, truth, kind, { normalize = norm }), { rtol = 1e-14 })
      end
    end
  end)

  it("equals hand-computed D1 and D2 values", function()
    local f2 = moe.gaussian_moe { beta0 = { 0.1, -0.2 }, beta1 = { 1.2, -1 }, a = { 0.1, 2 }, b = { 0, 2.5 },
      sigma = { 1.1, 1 } }
    local want = math.abs(math.exp(0.1) - 1) + math.abs(math.exp(-0.2) - 1) + math.exp(0.1) * (0.2 + 0.1 + 0 + 0.1)
      + math.exp(-0.2) * 0.5
    local l, cells, terms = moe.voronoi_loss(f2, truth, "D1", { normalize = false })
    assert.is_close(l, want, { rtol = 1e-14 })
    assert.same({ 1, 2 }, cells:totable())
    assert.is_close(terms:sum(), want, { rtol = 1e-14 })
    -- D2: atoms 1 and 2 in cell 1 (exponents 4 on beta1, b; 2 on a, sigma), atom 3 alone in cell 2
    local f3 = moe.gaussian_moe { beta0 = { -0.7, -0.6, 0.05 }, beta1 = { 1.1, 0.8, -1 }, a = { 0.2, -0.1, 2 },
      b = { 0.1, -0.2, 3 }, sigma = { 1, 1.2, 0.9 } }
    local e1, e2, e3 = math.exp(-0.7), math.exp(-0.6), math.exp(0.05)
    local want2 = math.abs(e1 + e2 - 1) + e1 * (0.1 ^ 4 + 0.2 ^ 2 + 0.1 ^ 4 + 0) + e2 * (0.2 ^ 4 + 0.1 ^ 2 + 0.2 ^ 4 + 0.2 ^ 2)
      + math.abs(e3 - 1) + e3 * (0 + 0 + 0 + 0.1)
    local l2, c2 = moe.voronoi_loss(f3, truth, "D2", { normalize = false })
    assert.same({ 1, 1, 2 }, c2:totable())
    assert.is_close(l2, want2, { rtol = 1e-12 })
  end)

  it("normalises the softmax translation: a shifted copy of the truth has loss 0", function()
    local shifted = moe.gaussian_moe { beta0 = { 0.7, 0.7 }, beta1 = { 1.5, -0.5 }, a = { 0, 2 }, b = { 0, 3 }, sigma = { 1, 1 } }
    assert.is_close(moe.voronoi_loss(shifted, truth, "D1"), 0, { atol = 1e-14 })
    assert.is_true(moe.voronoi_loss(shifted, truth, "D1", { normalize = false }) > 0.5)
  end)
end)
