-- moe.layer: forward against a dense plain-Lua loop over tokens and experts, gradients by central differences.
local T = require "moonlab.tensor"
local moe = require "moonlab.moe"

local function silu(v) return v / (1 + math.exp(-v)) end

-- y_t = sum_j w_tj (silu(x_t W1_e) * (x_t W3_e)) W2_e with e = experts[t][j] (routing from moe.route)
local function dense(layer, x)
  local X, W1, W3, W2 = x:totable(), layer.w1:totable(), layer.w3:totable(), layer.w2:totable()
  local r = moe.route(x:matmul(layer.wr:astype("f64")), layer.router)
  local ex, w = r.experts:totable(), r.weights:totable()
  local D, F = layer.d_model, layer.d_ff
  local out = {}
  for t = 1, #X do
    local y = {}
    for d = 1, D do y[d] = 0 end
    for j = 1, #ex[t] do
      local e = ex[t][j]
      if e > 0 and w[t][j] ~= 0 then
        local act = {}
        for f = 1, F do
          local h1, h3 = 0, 0
          for d = 1, D do h1 = h1 + X[t][d] * W1[e][d][f]; h3 = h3 + X[t][d] * W3[e][d][f] end
          act[f] = silu(h1) * h3
        end
        for d = 1, D do
          local s = 0
          for f = 1, F do s = s + act[f] * W2[e][f][d] end
          y[d] = y[d] + w[t][j] * s
        end
      end
    end
    out[t] = y
  end
  return out
end

describe("moe.layer", function()
  for _, case in ipairs({
    { k = 2 }, { k = 1, router = { score = "sigmoid" } }, { k = 2, router = { capacity_factor = 0.7, pad_to = 4 } },
    { k = 3, router = { order = "topk_then_softmax", temperature = 0.8 } },
  }) do
    local label = ("k=%d %s"):format(case.k, case.router and next(case.router) or "")
    it("forward equals the dense loop over tokens and experts (f64 and f32, " .. label .. ")", function()
      local L = moe.layer { d_model = 6, d_ff = 5, experts = 4, k = case.k, dtype = "f64", seed = 3, std = 0.6,
        router = case.router }
      local x = T.randn({ 11, 6 }, { seed = 4 })
      local y = L:forward(x)
      assert.is_close(y, dense(L, x), { rtol = 1e-12, atol = 1e-14 })
      local L32 = moe.layer { d_model = 6, d_ff = 5, experts = 4, k = case.k, dtype = "f32", seed = 3, std = 0.6,
        router = case.router }
      local y32 = L32:forward(x:astype("f32"))
      assert.is_close(y32, dense(L32, x:astype("f32"):astype("f64")), { rtol = 2e-5, atol = 2e-6 })
    end)

    it("backward matches central differences (" .. label .. ")", function()
      local L = moe.layer { d_model = 5, d_ff = 4, experts = 4, k = case.k, dtype = "f64", seed = 7, std = 0.6,
        router = case.router }
      local x = T.randn({ 9, 5 }, { seed = 8 })
      local dy = T.randn({ 9, 5 }, { seed = 9 })
      local y, st = L:forward(x)
      local dx, g = L:backward(dy, st, { aux = 2, z = 3 })
      local function loss()
        local yy, s = L:forward(x)
        return (yy * dy):sum() + 2 * s.aux_loss + 3 * s.z_loss
      end
      local h = 1e-6
      local function check(p, grad)
        local n = p:numel()
        local flat, gf = p:reshape({ n }), grad:reshape({ n })
        local got, want = {}, {}
        for i = 1, n, 3 do
          local v = flat:get(i)
          flat:set(i, v + h); local lp = loss()
          flat:set(i, v - h); local lm = loss()
          flat:set(i, v)
          got[#got + 1], want[#want + 1] = gf:get(i), (lp - lm) / (2 * h)
        end
        assert.is_close(got, want, { rtol = 1e-5, atol = 1e-7 })
      end
      for _, name in ipairs({ "wr", "w1", "w3", "w2" }) do check(L[name], g[name]) end
      check(x, dx)
      assert.equal(y:numel(), dx:numel())
    end)
  end

  it("reports the router losses and per-expert counts", function()
    local L = moe.layer { d_model = 8, d_ff = 4, experts = 4, k = 2, seed = 1 }
    local _, st = L:forward(T.randn({ 32, 8 }, { seed = 2, dtype = "f32" }))
    assert.equal(64, st.counts:sum())
    assert.is_true(st.aux_loss > 0 and st.z_loss > 0)
  end)
end)
