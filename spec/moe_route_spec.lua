-- moe.route / dispatch / combine / route_backward against a brute-force Lua reference, the dense loop and
-- central finite differences.
local T = require "moonlab.tensor"
local moe = require "moonlab.moe"
local ref = require "spec.helpers.moe_ref"

local function rows(t)
  local out, tt = {}, t:totable()
  for i = 1, #tt do out[i] = tt[i] end
  return out
end

local function normal_fn(Tn, E)
  local cache = {}
  return function(seed, c)
    if not cache[seed] then cache[seed] = T.randn({ Tn * E }, { seed = seed }):totable() end
    return cache[seed][c + 1]
  end
end

local Tn, E = 37, 8
local CASES = {
  { k = 2 },
  { k = 1 },
  { k = 3, renormalize = false },
  { k = 2, order = "topk_then_softmax" },
  { k = 2, score = "sigmoid" },
  { k = 3, score = "sigmoid", renormalize = false, route_scale = 2.5 },
  { k = 2, temperature = 0.6 },
  { k = 2, activation = "tanh", temperature = 0.5 },
  { k = 2, activation = "sigmoid", order = "topk_then_softmax" },
  { k = 2, activation = "gelu" },
  { k = 2, activation = "relu", temperature = 2 },
  { k = 2, bias = { 0.3, -0.2, 0.1, 0, 0.5, -0.4, 0.2, -0.1 } },
  { k = 3, score = "sigmoid", bias = { 0.3, -0.2, 0.1, 0, 0.5, -0.4, 0.2, -0.1 }, groups = 4, group_topk = 2 },
  { k = 2, groups = 2, group_topk = 1 },
  { k = 2, noise = { std = 0.7, seed = 11 } },
  { k = 2, capacity_factor = 1.0, drop = "probs" },
  { k = 2, capacity_factor = 0.8, drop = "position" },
  { k = 3, capacity_factor = 1.0, drop = "probs", pad_to = 4 },
  { k = 2, pad_to = 8 },
  { expert_choice = true, capacity = 7 },
  { expert_choice = true, capacity = 5, renormalize = false, pad_to = 4 },
  { k = 2, route_scale = 1.7, aux_coef = 0.1, z_coef = 0.01 },
}

local function desc(o)
  local parts = {}
  for key, v in pairs(o) do
    parts[#parts + 1] = key .. "=" .. (type(v) == "table" and "{..}" or tostring(v))
  end
  table.sort(parts)
  return table.concat(parts, " ")
end

local function to_opts(o)
  local c = {}
  for key, v in pairs(o) do c[key] = v end
  if o.bias then c.bias = T.new(o.bias) end
  return c
end

describe("moe.route", function()
  for _, dt in ipairs({ "f64", "f32" }) do
    local rtol = dt == "f64" and 1e-12 or 3e-6
    local lg = T.randn({ Tn, E }, { seed = 5, dtype = dt })
    local L = rows(lg)
    for _, o in ipairs(CASES) do
      it(("matches the brute-force reference (%s, %s)"):format(dt, desc(o)), function()
        local r = moe.route(lg, to_opts(o))
        local e = ref.route(L, o, normal_fn(Tn, E))
        for _, f in ipairs({ "experts", "counts", "offsets", "order" }) do assert.equal("i64", r[f]:dtype()) end
        assert.same(e.experts, r.experts:totable())
        assert.is_close(r.weights, e.weights, { rtol = rtol, atol = 1e-14 })
        assert.same(e.counts, r.counts:totable())
        assert.same(e.offsets, r.offsets:totable())
        assert.same(e.order, r.order:numel() > 0 and r.order:totable() or {})
        assert.equal(#e.dropped, r.dropped.count)
        assert.same(e.dropped, r.dropped.count > 0 and r.dropped.which:totable() or {})
        assert.is_close(r.aux_loss, e.aux_loss, { rtol = dt == "f64" and 1e-12 or 1e-5 })
        assert.is_close(r.z_loss, e.z_loss, { rtol = dt == "f64" and 1e-12 or 1e-5 })
        assert.is_close(r.entropy, e.entropy, { rtol = dt == "f64" and 1e-12 or 1e-5 })
      end)
    end
  end

  -- Wide rows and 600 tokens (two token chunks of 256+): the fused f32 AVX-512 pass when the CPU has it
  -- (one to four vectors held in registers, a partial last vector, the general loop past 64 experts), the
  -- template otherwise; spec/moe_isa_spec.lua reruns this file on the lower paths.
  local WIDE = {
    { E = 64, o = { k = 2 } },
    { E = 40, o = { k = 3, renormalize = false, route_scale = 1.3 } },
    { E = 16, o = { k = 1, temperature = 0.7 } },
    { E = 64, o = { k = 4, groups = 4, group_topk = 2 } },
    { E = 96, o = { k = 8, groups = 6, group_topk = 3, aux_coef = 0.1 } },
    { E = 60, o = { k = 3, groups = 5, group_topk = 2 } },
    { E = 96, o = { k = 5 } },
    { E = 72, o = { k = 2, bias = "b", capacity_factor = 1.0, drop = "probs" } },
    { E = 33, o = { expert_choice = true, capacity = 20 } },
    { E = 64, o = { k = 2, bias = "b", temperature = 1.3 } },
    { E = 48, o = { k = 5, capacity_factor = 1.0, drop = "probs", route_scale = 2.0 } },
    { E = 64, o = { k = 8, renormalize = false } },
    { E = 20, o = { k = 4, bias = "b" } },
    { E = 256, o = { k = 8, groups = 8, group_topk = 4 } },
    { E = 200, o = { k = 6, groups = 8, group_topk = 5, bias = "b" } },
    { E = 288, o = { k = 4, groups = 18, group_topk = 7 } },
  }
  for _, c in ipairs(WIDE) do
    it(("matches the brute-force reference on wide rows (f32, T=600, E=%d, %s)"):format(c.E, desc(c.o)), function()
      local Tw = 600
      local o = {}
      for key, v in pairs(c.o) do o[key] = v end
      if o.bias then
        o.bias = {}
        for e = 1, c.E do o.bias[e] = 0.01 * ((e * 7) % 11 - 5) end
      end
      local lg = T.randn({ Tw, c.E }, { seed = 9, dtype = "f32" })
      local r = moe.route(lg, to_opts(o))
      local e = ref.route(rows(lg), o, normal_fn(Tw, c.E))
      assert.same(e.experts, r.experts:totable())
      assert.is_close(r.weights, e.weights, { rtol = 3e-6, atol = 1e-14 })
      assert.same(e.counts, r.counts:totable())
      assert.same(e.offsets, r.offsets:totable())
      assert.same(e.order, r.order:totable())
      assert.same(e.dropped, r.dropped.count > 0 and r.dropped.which:totable() or {})
      assert.is_close(r.aux_loss, e.aux_loss, { rtol = 1e-5 })
      assert.is_close(r.z_loss, e.z_loss, { rtol = 1e-5 })
      assert.is_close(r.entropy, e.entropy, { rtol = 1e-5 })
    end)
  end

  -- return_probs: the softmax of z = logits / temperature, row by row, against a plain Lua softmax; the routing
  -- is the same as without it (the fused pass then normalises in place instead of scaling the kept values).
  for _, c in ipairs { { E = 64, dt = "f32" }, { E = 20, dt = "f32" }, { E = 8, dt = "f32" }, { E = 64, dt = "f64" } } do
    it(("return_probs gives softmax(logits / temperature) (%s, T=600, E=%d)"):format(c.dt, c.E), function()
      local lg = T.randn({ 600, c.E }, { seed = 21, dtype = c.dt })
      local o = { k = 3, temperature = 0.8 }
      local r = moe.route(lg, { k = 3, temperature = 0.8, return_probs = true })
      local plain = moe.route(lg, o)
      assert.same(plain.experts:totable(), r.experts:totable())
      assert.is_close(r.weights, plain.weights, { rtol = 1e-6, atol = 0 })
      local L, P = rows(lg), r.probs:totable()
      for t = 1, 600 do
        local m, s = -math.huge, 0
        for e = 1, c.E do m = math.max(m, L[t][e] / 0.8) end
        for e = 1, c.E do s = s + math.exp(L[t][e] / 0.8 - m) end
        for e = 1, c.E do
          local want = math.exp(L[t][e] / 0.8 - m) / s
          assert(math.abs(P[t][e] - want) <= 3e-6 * want + 1e-12, ("row %d expert %d: %.9g vs %.9g"):format(t, e, P[t][e], want))
        end
      end
    end)
  end

  it("gives the same routing and losses on one and two threads (token chunks reduced in order)", function()
    local ml = require "moonlab"
    local lg = T.randn({ 3000, 64 }, { seed = 12, dtype = "f32" })
    local before = ml.get_threads()
    local out = {}
    for _, n in ipairs { 1, 2 } do
      ml.set_threads(n)
      local ok, r = pcall(moe.route, lg, { k = 2, pad_to = 4 })
      ml.set_threads(before)
      assert(ok, r)
      out[n] = r
    end
    for _, f in ipairs { "experts", "weights", "counts", "offsets", "order" } do
      assert.same(out[1][f]:totable(), out[2][f]:totable())
    end
    for _, f in ipairs { "aux_loss", "z_loss", "entropy" } do assert.equal(out[1][f], out[2][f]) end
  end)

  it("names the first row holding a non-finite value on wide rows", function()
    local lg = T.randn({ 600, 64 }, { seed = 3, dtype = "f32" })
    lg[{ 457, 33 }] = math.huge
    lg[{ 512, 2 }] = 0 / 0
    local ok, err = pcall(moe.route, lg, { k = 2 })
    assert.is_false(ok)
    assert.truthy(tostring(err):match("row 457"), tostring(err))
  end)

  -- API fuzzer pass (fuzzpass): finite logits whose z = act(x)/temperature + noise is not finite (a tiny
  -- temperature, 1/temperature overflowing to inf so that 0/temperature is NaN, huge noise) reached the top-k
  -- with NaN scores: ctz(0) and an out-of-range expert index on the fused AVX-512 pass, a UBSan shift in the
  -- f32 exp of the template, NaN weights and losses in f64. Now the row is named.
  it("raises on rows whose transformed logits are not finite (tiny temperature, huge noise)", function()
    local cases = {
      { dt = "f32", E = 64, o = { k = 2, temperature = 1e-40 } },              -- 16-row pass
      { dt = "f32", E = 100, o = { k = 3, temperature = 1e-40 } },             -- general loop
      { dt = "f32", E = 64, o = { k = 2, temperature = 1e-40, bias = true } },
      { dt = "f32", E = 64, o = { k = 4, groups = 4, group_topk = 2, temperature = 1e-40 } },
      { dt = "f32", E = 8, o = { k = 2, score = "sigmoid", temperature = 1e-40 } },
      { dt = "f32", E = 8, o = { expert_choice = true, capacity = 4, temperature = 1e-40 } },
      { dt = "f32", E = 8, o = { k = 2, noise = { std = 1e300, seed = 1 } } },
      { dt = "f64", E = 8, o = { k = 2, temperature = 5e-324 } },
    }
    for _, c in ipairs(cases) do
      local lg = T.randn({ 40, c.E }, { seed = 5, dtype = c.dt })
      if c.o.bias then c.o.bias = T.zeros({ c.E }) end
      local ok, err = pcall(moe.route, lg, c.o)
      assert.is_false(ok, c.dt .. " E = " .. c.E)
      assert.truthy(tostring(err):find("moe.route: bad argument #1 'logits': row 1: act(x)/temperature + noise is not finite", 1, true), tostring(err))
    end
    -- one row only overflows: x/temperature > 3.4e38 in f32 at row 457 (rows 1..456 are fine)
    local lg = T.randn({ 600, 64 }, { seed = 3, dtype = "f32" })
    lg[{ 457, 9 }] = 1e10
    local ok, err = pcall(moe.route, lg, { k = 2, temperature = 1e-30 })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("row 457: act(x)/temperature", 1, true), tostring(err))
    lg[{ 457, 9 }] = 1e7 -- 1e37: finite, and routed to expert 9
    local r = moe.route(lg, { k = 2, temperature = 1e-30 })
    assert.equal(9, r.experts[{ 457, 1 }])
    assert.equal(1, r.weights[{ 457, 1 }])
  end)

  it("raises when the z-loss overflows (f64 logits near 1e200)", function()
    local lg = T.randn({ 5, 8 }, { seed = 1 }) * 1e200
    local ok, err = pcall(moe.route, lg, { k = 2 })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("moe.route: bad argument #1 'logits': the z-loss", 1, true), tostring(err))
    local r = moe.route(T.randn({ 5, 8 }, { seed = 1 }) * 1e100, { k = 2 }) -- lse^2 ~ 1e200: finite
    for _, f in ipairs { "aux_loss", "z_loss", "entropy" } do
      assert.truthy(r[f] == r[f] and math.abs(r[f]) < math.huge, f)
    end
  end)

  it("breaks ties by the lowest expert index", function()
    local lg = T.new({ { 1, 3, 3, 3, 0 }, { 2, 2, 2, 2, 2 } })
    local r = moe.route(lg, { k = 2 })
    assert.same({ { 2, 3 }, { 1, 2 } }, r.experts:totable())
    local ec = moe.route(T.new({ { 1, 1 }, { 1, 1 }, { 1, 1 } }), { expert_choice = true, capacity = 2 })
    assert.same({ { 1, 2 }, { 1, 2 }, { 0, 0 } }, ec.experts:totable())
    assert.same({ { 3, 0 } }, ec.dropped.which:totable())
  end)

  it("drops by position and by probability on a hand-computed case", function()
    -- 4 tokens, 2 experts, k = 1: every token prefers expert 1; capacity ceil(4*1/2*1) = 2
    local lg = T.new({ { 1.0, 0 }, { 3.0, 0 }, { 2.0, 0 }, { 0.5, 0 } })
    local rp = moe.route(lg, { k = 1, capacity_factor = 1, drop = "position" })
    assert.same({ 2, 0 }, rp.counts:totable())
    assert.same({ { 1, 1 }, { 2, 1 } }, rp.order:totable())
    assert.same({ { 3, 1 }, { 4, 1 } }, rp.dropped.which:totable())
    assert.same({ { 1 }, { 1 }, { 0 }, { 0 } }, rp.weights:totable())
    local rq = moe.route(lg, { k = 1, capacity_factor = 1, drop = "probs" })
    assert.same({ { 2, 1 }, { 3, 1 } }, rq.order:totable())
    assert.same({ { 1, 1 }, { 4, 1 } }, rq.dropped.which:totable())
    local pad = moe.route(lg, { k = 1, capacity_factor = 1, drop = "probs", pad_to = 4 })
    assert.same({ 0, 4, 4 }, pad.offsets:totable())
    assert.same({ { 2, 1 }, { 3, 1 }, { 0, 0 }, { 0, 0 } }, pad.order:totable())
  end)

  it("update_bias moves the selection bias against the load", function()
    local b = T.zeros({ 4 })
    moe.update_bias(b, moe.route(T.new({ { 5, 0, 0, 0 }, { 5, 1, 0, 0 } }), { k = 1 }).counts, 0.1)
    assert.is_close(b, { -0.1, 0.1, 0.1, 0.1 })
  end)
end)

describe("moe.dispatch / moe.combine", function()
  for _, dt in ipairs({ "f64", "f32" }) do
    it("combine(f(dispatch(x))) equals the dense loop over tokens and experts (" .. dt .. ")", function()
      local Tt, Ee, D = 23, 6, 5
      local lg = T.randn({ Tt, Ee }, { seed = 3, dtype = dt })
      local x = T.randn({ Tt, D }, { seed = 4, dtype = dt })
      local r = moe.route(lg, { k = 2, capacity_factor = 1.1, pad_to = 3 })
      local xs = moe.dispatch(x, r)
      -- f: expert e scales its rows by e (padding rows stay 0)
      local ord = r.order:totable()
      local ys = xs:clone()
      for i = 1, #ord do
        local t, j = ord[i][1], ord[i][2]
        local e = t > 0 and r.experts:get(t, j) or 0
        for d = 1, D do
          ys:set(i, d, xs:get(i, d) * e)
          if t > 0 then assert.equal(x:get(t, d), xs:get(i, d)) else assert.equal(0, xs:get(i, d)) end
        end
      end
      local y = moe.combine(ys, r)
      local dense = {}
      for t = 1, Tt do
        dense[t] = {}
        for d = 1, D do
          local s = 0
          for j = 1, 2 do s = s + r.weights:get(t, j) * r.experts:get(t, j) * x:get(t, d) end
          dense[t][d] = s
        end
      end
      assert.is_close(y, dense, { rtol = dt == "f64" and 1e-13 or 1e-5, atol = 1e-6 })
    end)
  end
end)

describe("moe.route_backward", function()
  local GRAD_CASES = {
    { k = 2 }, { k = 2, renormalize = false }, { k = 3, order = "topk_then_softmax" },
    { k = 2, score = "sigmoid" }, { k = 2, score = "sigmoid", renormalize = false, route_scale = 2 },
    { k = 2, temperature = 0.7, activation = "tanh" }, { k = 2, activation = "sigmoid", temperature = 1.5 },
    { k = 2, activation = "gelu", order = "topk_then_softmax" }, { k = 2, noise = { std = 0.5, seed = 3 } },
    { k = 2, capacity_factor = 0.9 }, { expert_choice = true, capacity = 4 },
    { k = 2, bias = { 0.2, 0, -0.1, 0.3, 0, 0.1 }, groups = 3, group_topk = 2 },
  }
  for _, o in ipairs(GRAD_CASES) do
    it("matches central differences (" .. desc(o) .. ")", function()
      local Tt, Ee = 9, 6
      local lg = T.randn({ Tt, Ee }, { seed = 8 })
      local oo = to_opts(o)
      local r = moe.route(lg, oo)
      local dw = T.randn(r.weights:shape(), { seed = 9 })
      local daux, dz = 3.0, 5.0
      local g = moe.route_backward(dw, r, { aux = daux, z = dz })
      local function loss(l)
        local rr = moe.route(l, oo)
        -- keep the selection of r (finite differences of the smooth part)
        assert.same(r.experts:totable(), rr.experts:totable())
        return (rr.weights * dw):sum() + daux * rr.aux_loss + dz * rr.z_loss
      end
      local h = 1e-6
      local fd = {}
      for t = 1, Tt do
        fd[t] = {}
        for e = 1, Ee do
          local l2 = lg:clone()
          l2:set(t, e, lg:get(t, e) + h)
          local lp = loss(l2)
          l2:set(t, e, lg:get(t, e) - h)
          local lm = loss(l2)
          fd[t][e] = (lp - lm) / (2 * h)
        end
      end
      assert.is_close(g, fd, { rtol = 1e-6, atol = 1e-8 })
    end)
  end
end)
