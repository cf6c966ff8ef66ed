-- Bad input to moonlab.moe: clear Lua errors naming the function and the argument, never a crash.
local T = require "moonlab.tensor"
local moe = require "moonlab.moe"

local function err(pattern, f)
  local ok, msg = pcall(f)
  assert.is_false(ok, "expected an error matching " .. pattern)
  assert.is_truthy(tostring(msg):find(pattern, 1, true), "got: " .. tostring(msg))
end

describe("moe bad input", function()
  local lg = T.randn({ 4, 3 }, { seed = 1 })
  local r = moe.route(lg, { k = 2 })
  local m = moe.gaussian_moe { beta0 = { 0, 0 }, beta1 = { 1, 0 }, a = { 1, 1 }, b = { 0, 0 }, sigma = { 1, 1 } }

  it("route: k out of range, shapes, non-finite rows, bias size, capacity, options", function()
    err("moe.route: bad argument #1 'logits': expected [T,E] f32/f64, got f64 [3]", function() moe.route(T.randn({ 3 }, { seed = 1 }), { k = 1 }) end)
    err("moe.route: bad argument #2 'k': expected an integer in [1, E = 3], got 4", function() moe.route(lg, { k = 4 }) end)
    err("moe.route: bad argument #2 'k': expected an integer in [1, E = 3], got 0", function() moe.route(lg, { k = 0 }) end)
    local bad = lg:clone()
    bad:set(3, 2, 0 / 0)
    err("moe.route: bad argument #1 'logits': row 3 holds a non-finite value", function() moe.route(bad, { k = 1 }) end)
    bad:set(3, 2, 1 / 0)
    err("row 3 holds a non-finite value", function() moe.route(bad:astype("f32"), { k = 1 }) end)
    err("moe.route: bad argument #2 'bias': expected a [E] = [3] tensor, got 2 elements", function() moe.route(lg, { k = 1, bias = T.zeros({ 2 }) }) end)
    err("moe.route: bad argument #2 'capacity'", function() moe.route(lg, { expert_choice = true, capacity = 0 }) end)
    err("moe.route: bad argument #2 'capacity'", function() moe.route(lg, { expert_choice = true }) end)
    err("moe.route: bad argument #2 'capacity_factor'", function() moe.route(lg, { k = 1, capacity_factor = -1 }) end)
    err("moe.route: bad argument #2 'capacity_factor'", function() moe.route(lg, { k = 1, capacity_factor = 0 }) end)
    err("unknown option 'temperatur' to moe.route (did you mean 'temperature'?)", function() moe.route(lg, { k = 1, temperatur = 1 }) end)
    err("moe.route: bad argument #2 'temperature'", function() moe.route(lg, { k = 1, temperature = 0 }) end)
    err("moe.route: bad argument #2 'groups'", function() moe.route(lg, { k = 1, groups = 2, group_topk = 1 }) end)
    err("moe.route: bad argument #2 'order'", function() moe.route(lg, { k = 1, score = "sigmoid", order = "topk_then_softmax" }) end)
    err("moe.route: bad argument #2 'pad_to'", function() moe.route(lg, { k = 1, pad_to = 0 }) end)
    err("moe.route: bad argument #2 'noise'", function() moe.route(lg, { k = 1, noise = { std = -1, seed = 1 } }) end)
    -- fuzzpass: a finite route_scale beyond the f32 range gave inf/NaN f32 weights
    local lg32 = lg:astype("f32")
    err("moe.route: bad argument #2 'route_scale': expected |route_scale| <= 3.40282e+38 for f32 logits, got 1e+300",
      function() moe.route(lg32, { k = 1, route_scale = 1e300 }) end)
    err("moe.route: bad argument #2 'route_scale'", function() moe.route(lg32, { k = 2, route_scale = -1e39, order = "topk_then_softmax" }) end)
    err("moe.route: bad argument #2 'route_scale'", function() moe.route(lg32, { expert_choice = true, capacity = 2, route_scale = 1e300 }) end)
    assert.is_true(moe.route(lg, { k = 2, route_scale = 1e300 }).weights:sum() < math.huge) -- f64: in range
  end)

  it("route_backward, dispatch, combine, update_bias: mismatched shapes", function()
    err("moe.route_backward: bad argument #1 'dweights'", function() moe.route_backward(T.zeros({ 4, 3 }), r) end)
    err("moe.route_backward: bad argument #2 'r'", function() moe.route_backward(T.zeros({ 4, 2 }), {}) end)
    err("moe.dispatch: bad argument #1 'x': expected [T,D] f32/f64, got [5]", function() moe.dispatch(T.zeros({ 5 }), r) end)
    err("moe.dispatch: bad argument #2 'r'", function() moe.dispatch(T.zeros({ 3, 2 }), r) end) -- 3 tokens, r has 4
    err("moe.combine: bad argument #1 'y_sorted'", function() moe.combine(T.zeros({ 3, 2 }), r) end)
    err("moe.combine: bad argument #1 'y_sorted': expected the dtype of r.weights", function() moe.combine(T.zeros({ 8, 2 }, "f32"), r) end)
    err("moe.update_bias: bad argument #2 'counts'", function() moe.update_bias(T.zeros({ 4 }), r.counts, 0.1) end)
    -- fuzzpass: r.opts / r.logits changed after moe.route gave NaN gradients without an error
    local r2 = moe.route(lg, { k = 2, temperature = 0.5 })
    local g = T.ones(r2.weights:shape())
    assert.is_true(moe.route_backward(g, r2):abs():max() < math.huge)
    r2.opts.temperature = 5e-324
    err("moe.route_backward: row 1: the logits or act(x)/temperature + noise are not finite", function() moe.route_backward(g, r2) end)
    r2.opts.temperature = 0.5
    r2.logits = lg:clone()
    r2.logits:set(3, 1, 0 / 0)
    err("moe.route_backward: row 3: the logits", function() moe.route_backward(g, r2) end)
  end)

  it("gaussian_moe: sigma, tau, k, sizes, gate names", function()
    local base = { beta0 = { 0, 0 }, beta1 = { 1, 0 }, a = { 1, 1 }, b = { 0, 0 }, sigma = { 1, 1 } }
    local function with(over)
      local p = {}
      for key, v in pairs(base) do p[key] = v end
      for key, v in pairs(over) do p[key] = v end
      return p
    end
    err("moe.gaussian_moe: bad argument #1 'sigma': expected finite numbers > 0", function() moe.gaussian_moe(with { sigma = { 1, 0 } }) end)
    err("moe.gaussian_moe: bad argument #1 'sigma'", function() moe.gaussian_moe(with { sigma = { -1, 1 } }) end)
    err("moe.gaussian_moe: bad argument #1 'tau': expected a finite number > 0", function() moe.gaussian_moe(with { gate = "temperature", tau = 0 }) end)
    err("moe.gaussian_moe: bad argument #1 'tau'", function() moe.gaussian_moe(with { gate = "activation", tau = -2 }) end)
    err("moe.gaussian_moe: bad argument #1 'k'", function() moe.gaussian_moe(with { gate = "topk", k = 3 }) end)
    err("moe.gaussian_moe: bad argument #1 'a': expected 2 x 1 numbers, got 3", function() moe.gaussian_moe(with { a = { 1, 1, 1 } }) end)
    err("moe.gaussian_moe: bad argument #1 'gate'", function() moe.gaussian_moe(with { gate = "soft" }) end)
    err("unknown option 'sigam' to moe.gaussian_moe (did you mean 'sigma'?)", function() moe.gaussian_moe(with { sigam = 1 }) end)
    err("moe.logpdf: bad argument #2 'X': expected [n,1]", function() m:logpdf(T.zeros({ 3, 2 }), T.zeros({ 3 })) end)
    err("moe.logpdf: bad argument #3 'Y'", function() m:logpdf(T.zeros({ 3, 1 }), T.zeros({ 4 })) end)
    err("moe.sample: bad argument #1 'n'", function() m:sample(0, { seed = 1 }) end)
  end)

  it("fit_em: empty, constant or mismatched data, bad options", function()
    local X = T.rand({ 10, 1 }, { seed = 1 })
    err("moe.fit_em: bad argument #1 'X': expected at least 2 data points, got 0", function() moe.fit_em({}, {}, { experts = 2 }) end)
    err("moe.fit_em: bad argument #3 'Y': expected non-constant data", function() moe.fit_em(X, T.ones({ 10 }), { experts = 2 }) end)
    err("moe.fit_em: bad argument #2 'X': column 1 is constant", function() moe.fit_em(T.ones({ 10, 1 }), T.rand({ 10 }, { seed = 2 }), { experts = 2 }) end)
    err("moe.fit_em: bad argument #3 'Y': expected [n] = [10]", function() moe.fit_em(X, T.rand({ 9 }, { seed = 2 }), { experts = 2 }) end)
    err("moe.fit_em: missing required option 'experts'", function() moe.fit_em(X, T.rand({ 10 }, { seed = 2 }), {}) end)
    err("moe.fit_em: init 'near_truth' needs option 'truth'", function() moe.fit_em(X, T.rand({ 10 }, { seed = 2 }), { init = "near_truth" }) end)
    err("unknown option 'tole' to moe.fit_em (did you mean 'tol'?)", function() moe.fit_em(X, T.rand({ 10 }, { seed = 2 }), { tole = 1 }) end)
    err("moe.fit_em: bad argument #3 'truth': expected 2 features like X, got 1", function()
      moe.fit_em(T.rand({ 10, 2 }, { seed = 1 }), T.rand({ 10 }, { seed = 2 }), { init = "near_truth", truth = m })
    end)
  end)

  it("voronoi_loss: features differ, unknown kind", function()
    local m2 = moe.gaussian_moe { beta0 = { 0, 0 }, beta1 = { { 1, 0 }, { 0, 0 } }, a = { { 1, 1 }, { 0, 0 } }, b = { 0, 0 }, sigma = { 1, 1 } }
    err("moe.voronoi_loss: bad argument #1 'fitted': expected 1 features like the truth, got 2", function() moe.voronoi_loss(m2, m, "D1") end)
    err("moe.voronoi_loss: bad argument #3 'kind'", function() moe.voronoi_loss(m, m, "D3") end)
  end)

  it("layer: sizes and inputs", function()
    err("moe.layer: bad argument #1 'k'", function() moe.layer { d_model = 4, d_ff = 3, experts = 2, k = 3 } end)
    err("moe.layer: missing required option 'd_ff'", function() moe.layer { d_model = 4, experts = 2 } end)
    local L = moe.layer { d_model = 4, d_ff = 3, experts = 3 }
    err("moe.layer:forward: bad argument #1 'x': expected a f32 tensor [T,4]", function() L:forward(T.zeros({ 2, 5 }, "f32")) end)
    err("moe.layer:forward: bad argument #1 'x'", function() L:forward(T.zeros({ 2, 4 })) end)
    local y, st = L:forward(T.zeros({ 2, 4 }, "f32"))
    err("moe.layer:backward: bad argument #1 'dy'", function() L:backward(T.zeros({ 3, 4 }, "f32"), st) end)
    err("moe.layer:backward: bad argument #2 'state'", function() L:backward(y, {}) end)
    local x = T.randn({ 2, 4 }, { seed = 1, dtype = "f32" })
    err("moe.layer:forward: route_scale = 1e+300 is beyond the f32 range", function()
      moe.layer({ d_model = 4, d_ff = 3, experts = 3, router = { route_scale = 1e300 } }):forward(x) end)
    err("moe.layer:forward: row 1: act(x)/temperature + noise is not finite", function()
      moe.layer({ d_model = 4, d_ff = 3, experts = 3, router = { temperature = 1e-40 } }):forward(x) end)
  end)
end)
