-- nn.gpt with ffn = "moe": each block's MLP is moonlab's MoE layer (top-k router, per-expert SwiGLU,
-- Switch load-balancing aux loss and router z-loss added to the training loss).
local T = require "moonlab.tensor"
local nn = require "moonlab.nn"
local E = require "spec.helpers.errors"

local U = require "spec.helpers.nn_util"
local ids, batch, with, same_bits, gradcheck = U.ids, U.batch, U.with, U.same_bits, U.gradcheck

local tiny = { vocab = 11, context = 6, layers = 2, d_model = 8, heads = 2, d_ff = 6, dtype = "f64",
  init_std = 0.3, seed = 5, ffn = "moe" }

-- The top-k selection is piecewise constant: with the FD step h = 1e-5 no routing decision flips for these
-- seeds (a flip would show as an O(1/h) error), and k = E has no selection at all.

describe("nn MoE feed-forward", function()
  for _, c in ipairs {
    { "top-2 of 4 experts, aux 0.1, z 0.01", { moe = { experts = 4, k = 2, aux = 0.1, z = 0.01 } } },
    { "k = E = 3 (no selection), G1 gate, tied", { moe = { experts = 3, k = 3, aux = 0.05 }, gate = "elementwise",
      tied = true } },
    { "top-1 of 3 experts", { moe = { experts = 3, k = 1, aux = 0.02 }, seed = 3 } },
  } do
    it("whole-model gradient vs central finite differences (f64): " .. c[1], function()
      local worst, gmax, n = gradcheck(with(tiny, c[2]))
      assert.is_true(n > 1000)
      assert.is_true(gmax > 1e-3)
      assert.is_true(worst < 1e-7 * math.max(1, gmax), ("max |fd - grad| = %g (max |grad| %g)"):format(worst, gmax))
    end)
  end

  it("adds the aux loss to the training loss, linearly in its coefficient", function()
    local x, y = batch(2, 6, 11, 3)
    local function loss(a) return nn.gpt(with(tiny, { moe = { experts = 4, k = 2, aux = a } })):loss(x, y) end
    local l0, l1, l2 = loss(0), loss(0.1), loss(0.2)
    assert.near(2 * (l1 - l0), l2 - l0, 1e-12)
    -- Switch loss E * sum_i f_i P_i is about 1 per layer near uniform routing (2 layers)
    assert.is_true((l1 - l0) / 0.1 > 1 and (l1 - l0) / 0.1 < 3, "aux per unit coefficient " .. (l1 - l0) / 0.1)
  end)

  it("overfits one small batch (f32)", function()
    local m = nn.gpt { vocab = 32, context = 16, layers = 2, d_model = 32, heads = 4, d_ff = 32, seed = 4,
      ffn = "moe", moe = { experts = 4, k = 2 } }
    local x, y = batch(2, 16, 32, 9)
    local first, loss = U.overfit(m, x, y, 150)
    assert.is_true(first > 3)
    assert.is_true(loss < 0.1, "final loss " .. loss)
  end)

  it("save -> load gives identical logits and the config records ffn/moe (f32 and f64)", function()
    local path = os.tmpname()
    local x, y = batch(2, 8, 40, 1)
    for _, dt in ipairs { "f32", "f64" } do
      local m = nn.gpt { vocab = 40, context = 8, layers = 2, d_model = 16, heads = 2, d_ff = 16, dtype = dt,
        seed = 8, ffn = "moe", moe = { experts = 5, k = 2, aux = 0.03, z = 0.001 } }
      for _ = 1, 2 do m:loss(x, y); m:backward(); m:step { lr = 1e-3 } end
      m:save(path)
      local m2 = nn.load(path)
      os.remove(path)
      local c = m2:config()
      assert.same(m:config(), c)
      assert.equal("moe", c.ffn)
      assert.same({ experts = 5, k = 2, aux = 0.03, z = 0.001 }, c.moe)
      assert.is_true(same_bits(m:forward(x), m2:forward(x)))
      assert.is_true(same_bits(m:parameters(), m2:parameters()))
    end
  end)

  it("a version-1 checkpoint (written before the MoE option) still loads as a SwiGLU model", function()
    local path = os.tmpname()
    local m = nn.gpt { vocab = 20, context = 4, layers = 1, d_model = 8, heads = 2, seed = 3 }
    m:save(path)
    local f = assert(io.open(path, "rb")); local v2 = f:read("a"); f:close()
    -- v1 = v2 without the 40 bytes of ffn/moe fields after the header (131 bytes), version 1, FNV-1a recomputed
    local body = string.pack("<I4", 1) .. v2:sub(16, 131) .. v2:sub(172, -9)
    local h = -3750763034362895579 -- 14695981039346656037 as a wrapped 64-bit integer
    for i = 1, #body do h = (h ~ body:byte(i)) * 1099511628211 end
    f = assert(io.open(path, "wb")); f:write(v2:sub(1, 11), body, string.pack("<i8", h)); f:close()
    local m1 = nn.load(path)
    os.remove(path)
    assert.equal("swiglu", m1:config().ffn)
    assert.is_true(same_bits(m:forward({ 1, 2, 3 }), m1:forward({ 1, 2, 3 })))
  end)

  it("stats: router load per expert and layer sums to tokens x k", function()
    local m = nn.gpt { vocab = 30, context = 20, layers = 3, d_model = 16, heads = 2, d_ff = 8, seed = 1,
      ffn = "moe", moe = { experts = 6, k = 2 } }
    local s = m:stats(T.new({ ids(20, 30, 1), ids(20, 30, 2) }, "i64"))
    assert.equal(3, #s.router_load)
    for l = 1, 3 do
      assert.equal(6, #s.router_load[l])
      local sum = 0
      for e = 1, 6 do
        assert.is_true(math.type(s.router_load[l][e]) == "integer" and s.router_load[l][e] >= 0)
        sum = sum + s.router_load[l][e]
      end
      assert.equal(40 * 2, sum)
    end
    -- the other statistics keep their meaning next to the router load (ungated: gate mean NaN)
    assert.near(1, m:stats(T.new({ { 5 } }, "i64")).f_attn[2], 1e-6)
    for l = 1, 3 do
      assert.is_true(s.f_attn[l] > 0 and s.f_attn[l] < 1 and s.m_act[l] > 0)
      assert.is_true(s.gate_mean[l] ~= s.gate_mean[l] and s.gate_sparsity[l] ~= s.gate_sparsity[l])
    end
    local g = nn.gpt { vocab = 30, context = 20, layers = 2, d_model = 16, heads = 2, d_ff = 8, seed = 1,
      gate = "elementwise", ffn = "moe", moe = { experts = 4, k = 1 } }:stats({ 1, 2, 3, 4 })
    for l = 1, 2 do
      assert.near(0.5, g.gate_mean[l], 0.05)
      assert.is_true(g.m_act[l] > 0 and g.max_act >= g.m_act[l])
    end
    assert.is_nil(nn.gpt { vocab = 30, context = 4, layers = 1, d_model = 8, heads = 2 }:stats({ 1, 2 }).router_load)
  end)

  it("greedy generation with the KV cache equals argmax of full forwards", function()
    local m = nn.gpt { vocab = 20, context = 12, layers = 2, d_model = 16, heads = 4, init_std = 0.5, seed = 6,
      dtype = "f64", ffn = "moe", moe = { experts = 4, k = 2 } }
    local got, want = U.greedy_vs_forward(m, { 3, 1, 4 }, 8, 20)
    assert.same(want, got)
  end)

  it("bad input: clear errors naming nn.gpt", function()
    local base = { vocab = 20, context = 8, layers = 1, d_model = 8, heads = 2, ffn = "moe" }
    E.fails_with(function() nn.gpt(with(base, { moe = { experts = 4, k = 5 } })) end, "nn.gpt", "moe.k",
      "expected 1..experts (4), got 5")
    E.fails_with(function() nn.gpt(with(base, { moe = { experts = 0 } })) end, "nn.gpt", "moe.experts")
    E.fails_with(function() nn.gpt(with(base, { moe = { experts = 4, aux = -1 } })) end, "nn.gpt", "moe.aux")
    E.fails_with(function() nn.gpt(with(base, { moe = { experts = 4, kk = 1 } })) end, "kk", "did you mean 'k'")
    E.fails_with(function() nn.gpt(with(base, { ffn = "dense" })) end, "nn.gpt", "ffn", "dense")
    E.fails_with(function() nn.gpt { vocab = 20, moe = { experts = 2 } } end, "nn.gpt", "needs ffn = 'moe'")
    E.fails_with(function() nn.gpt(with(base, { moe = 3 })) end, "nn.gpt", "'moe'", "expected a table")
  end)
end)
