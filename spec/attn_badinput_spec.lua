local T = require "moonlab.tensor"
local attn = require "moonlab.attn"

local function rnd(shape, seed, dtype)
  return T.randn(shape, { seed = seed, dtype = dtype or "f64" })
end

local fails_with = require("spec.helpers.errors").fails_with

describe("attn bad input", function()
  local q, k, v = rnd({ 2, 4, 5, 3 }, 1), rnd({ 2, 2, 7, 3 }, 2), rnd({ 2, 2, 7, 6 }, 3)

  it("sanity: the good call works", function()
    local out = attn.sdpa(q, k, v)
    assert.same({ 2, 4, 5, 6 }, out:shape())
  end)

  it("rejects non-tensors and wrong ranks", function()
    fails_with(function() attn.sdpa({ 1, 2 }, k, v) end, "attn.sdpa: bad argument #1 'q'", "expected a tensor")
    fails_with(function() attn.sdpa(rnd({ 4, 5, 3 }, 1), k, v) end, "attn.sdpa: bad argument #1 'q'", "[B,Hq,L,E]", "[4,5,3]")
    fails_with(function() attn.sdpa(q, nil, v) end, "bad argument #2 'k'")
  end)

  it("rejects Hq not a multiple of Hkv and mismatched E / B / S", function()
    fails_with(function() attn.sdpa(rnd({ 2, 3, 5, 3 }, 1), k, v) end,
      "attn.sdpa: bad argument #2 'k': expected [B,Hkv,S,E]", "Hq % Hkv == 0", "got [2,2,7,3]")
    fails_with(function() attn.sdpa(q, rnd({ 2, 2, 7, 4 }, 2), v) end, "bad argument #2 'k'")
    fails_with(function() attn.sdpa(q, rnd({ 1, 2, 7, 3 }, 2), v) end, "bad argument #2 'k'")
    fails_with(function() attn.sdpa(q, k, rnd({ 2, 2, 8, 6 }, 3)) end, "bad argument #3 'v'", "[2,2,7,Ev]", "got [2,2,8,6]")
  end)

  it("rejects wrong and mixed dtypes", function()
    fails_with(function() attn.sdpa(q, k:astype("f32"), v) end, "bad argument #2 'k'", "dtype f64", "f32")
    fails_with(function() attn.sdpa(q, k, v:astype("f32")) end, "bad argument #3 'v'", "dtype")
    fails_with(function() attn.sdpa(q, k, v, { gate = rnd({ 2, 4, 5, 6 }, 4, "f32") }) end, "bad argument #4 'gate'", "dtype")
  end)

  it("rejects a gate of the wrong shape", function()
    fails_with(function() attn.sdpa(q, k, v, { gate = rnd({ 2, 4, 5, 3 }, 4) }) end,
      "attn.sdpa: bad argument #4 'gate': expected [B,Hq,L,Ev]", "[2,4,5,1] (headwise)", "got [2,4,5,3]")
    fails_with(function() attn.sdpa(q, k, v, { gate = rnd({ 4, 5, 6 }, 4) }) end, "'gate'")
    fails_with(function() attn.sdpa(q, k, v, { gate = "sigmoid" }) end, "option 'gate' must be a tensor")
  end)

  it("rejects window <= 0, non-finite or non-numeric scale, bad enums, typos", function()
    fails_with(function() attn.sdpa(q, k, v, { window = 0 }) end, "bad argument #4 'window': expected a positive integer, got 0")
    fails_with(function() attn.sdpa(q, k, v, { window = -3 }) end, "'window'")
    fails_with(function() attn.sdpa(q, k, v, { window = 2.5 }) end, "window")
    fails_with(function() attn.sdpa(q, k, v, { scale = 0 / 0 }) end, "bad argument #4 'scale': expected a finite number")
    fails_with(function() attn.sdpa(q, k, v, { scale = math.huge }) end, "'scale'", "finite")
    fails_with(function() attn.sdpa(q, k, v, { scale = "big" }) end, "'scale'")
    -- fuzzpass: a finite scale beyond the f32 range became inf in the f32 kernels (NaN output, no error)
    fails_with(function() attn.sdpa(q:astype("f32"), k:astype("f32"), v:astype("f32"), { scale = 1e300 }) end,
      "attn.sdpa: bad argument #4 'scale': expected |scale| <= 3.40282e+38 for f32, got 1e+300")
    local hard = attn.sdpa(q, k, v, { scale = 1e300 }):sum() -- f64: in range (a hard max)
    assert.is_true(hard == hard and math.abs(hard) < math.huge)
    fails_with(function() attn.sdpa(q, k, v, { causal_align = "bottom" }) end, "causal_align", "'top_left', 'bottom_right'")
    fails_with(function() attn.sdpa(q, k, v, { gate_act = "relu" }) end, "gate_act")
    fails_with(function() attn.sdpa(q, k, v, { casual = true }) end, "unknown option 'casual' to attn.sdpa (did you mean 'causal'?)")
    fails_with(function() attn.sdpa(q, k, v, 5) end, "opts")
  end)

  it("large finite f32 scores give the f64 answer; scores beyond the f32 range raise naming the row", function()
    -- the SIMD kernels share one float shift per row (its max in log2 units); from |score| ~ 2^21 its rounding
    -- exceeds the exponent's range (wrong weights from 3e8, NaN from 1e10 before): such calls take the portable
    -- kernel, which subtracts the max exactly
    for _, m in ipairs { 1e2, 3e4, 1e6, 1e18 } do
      local qq = T.randn({ 2, 2, 9, 8 }, { seed = 11 }) * m
      local kk = T.randn({ 2, 2, 13, 8 }, { seed = 12 }) * m
      local vv = T.randn({ 2, 2, 13, 8 }, { seed = 13 })
      local ref = attn.sdpa(qq, kk, vv, { causal = true })
      local got = attn.sdpa(qq:astype("f32"), kk:astype("f32"), vv:astype("f32"), { causal = true })
      local err = (got:astype("f64") - ref):abs():max()
      assert.is_true(err < 1e-5, ("scale of q, k %g: max error %g"):format(m, err))
    end
    local big = T.randn({ 1, 2, 4, 8 }, { seed = 14, dtype = "f32" }) * 1e19
    fails_with(function() attn.sdpa(big, big, big) end,
      "attn.sdpa: the attention scores of row (", "overflow f32", "|q.k| * scale must stay below 3.40282e+38")
  end)

  it("rejects masks that do not broadcast", function()
    fails_with(function() attn.sdpa(q, k, v, { mask = rnd({ 5, 6 }, 5) }) end,
      "bad argument #4 'mask': expected a mask broadcastable to [B,Hq,L,S] = [2,4,5,7]", "got [5,6]")
    fails_with(function() attn.sdpa(q, k, v, { mask = rnd({ 3, 5, 7 }, 5) }) end, "'mask'")
    fails_with(function() attn.sdpa(q, k, v, { mask = { { 1, 2 } } }) end, "'mask'", "booleans")
  end)

  it("backward rejects missing extras, mismatched dout and gradients of another call", function()
    local out, ex = attn.sdpa(q, k, v)
    local dout = rnd({ 2, 4, 5, 6 }, 9)
    fails_with(function() attn.sdpa_backward(dout, q, k, v, out, nil) end, "attn.sdpa_backward: bad argument #6 'extras'")
    fails_with(function() attn.sdpa_backward(dout, q, k, v, out, {}) end, "'extras'", "lse")
    fails_with(function() attn.sdpa_backward(rnd({ 2, 4, 5, 5 }, 9), q, k, v, out, ex) end, "bad argument #1 'dout'")
    fails_with(function() attn.sdpa_backward(dout:astype("f32"), q, k, v, out, ex) end, "'dout'")
    fails_with(function() attn.sdpa_backward(dout, q, k, v, rnd({ 2, 4, 5, 5 }, 9), ex) end, "bad argument #5 'out'")
    fails_with(function() attn.sdpa_backward(dout, q, k, v, out, { lse = rnd({ 2, 4, 6 }, 1) }) end, "'extras'", "lse")
    fails_with(function() attn.sdpa_backward(dout, q, k, v, out, ex, { window = 0 }) end, "'window'")
  end)

  it("gate_scores rejects bad layouts and shapes", function()
    local x = rnd({ 2, 3, 5 }, 1)
    fails_with(function() attn.gate_scores(x, rnd({ 5, 11 }, 2), { heads = 4, head_dim = 3 }) end,
      "attn.gate_scores: bad argument #2 'w_gate'", "[5,12]")
    fails_with(function() attn.gate_scores(x, rnd({ 6, 12 }, 2), { heads = 4, head_dim = 3 }) end, "'w_gate'")
    fails_with(function() attn.gate_scores(x, rnd({ 5, 12 }, 2), { head_dim = 3 }) end, "'heads'")
    fails_with(function() attn.gate_scores(x, rnd({ 5, 12 }, 2), { heads = 4, head_dim = 3, kv_heads = 3 }) end, "'kv_heads'")
    fails_with(function() attn.gate_scores(x, rnd({ 5, 12 }, 2), { heads = 4, head_dim = 3, layout = "fused" }) end, "layout")
    fails_with(function() attn.gate_scores(x, rnd({ 5, 24 }, 2), { heads = 4, head_dim = 3, layout = "per_head", shared = true }) end, "'shared'")
    fails_with(function() attn.gate_scores(rnd({ 5 }, 1), rnd({ 5, 12 }, 2), { heads = 4, head_dim = 3 }) end, "'x'")
  end)

  it("sink_stats and massive_activation reject bad input", function()
    fails_with(function() attn.sink_stats(rnd({ 2, 3, 5, 3 }, 1), k) end, "attn.sink_stats: bad argument #2 'k'")
    fails_with(function() attn.sink_stats(q, k, { gate = rnd({ 2, 4, 5, 1 }, 2) }) end, "'gate'")
    fails_with(function() attn.massive_activation({}) end, "attn.massive_activation: bad argument #1 'h'")
    fails_with(function() attn.massive_activation({ q, 3 }) end, "'h'", "[2]")
    fails_with(function() attn.massive_activation("x") end, "'h'")
  end)

  -- Regression (fuzzing, issue 13): window = math.maxinteger with bottom-right alignment overflowed
  -- d(i) - window + 1 in the mask geometry (UBSan under make asan). Such a window restricts
  -- nothing, so every result equals plain causal attention with the same alignment.
  it("window = math.maxinteger equals no window (any alignment, S < L and S > L)", function()
    for _, dt in ipairs { "f64", "f32" } do
      for _, S in ipairs { 3, 7, 9 } do
        local qd = rnd({ 1, 2, 5, 3 }, 11, dt)
        local kd, vd = rnd({ 1, 2, S, 3 }, 12, dt), rnd({ 1, 2, S, 4 }, 13, dt)
        for _, al in ipairs { "top_left", "bottom_right" } do
          local o1 = { causal = true, causal_align = al, window = math.maxinteger }
          local o2 = { causal = true, causal_align = al }
          local a, ea = attn.sdpa(qd, kd, vd, o1)
          local b, eb = attn.sdpa(qd, kd, vd, o2)
          assert.equal(0, (a - b):abs():max())
          local ga = attn.sdpa_backward(a, qd, kd, vd, a, ea, o1)
          local gb = attn.sdpa_backward(b, qd, kd, vd, b, eb, o2)
          assert.equal(0, (ga.dk - gb.dk):abs():max())
          local sa, sb = attn.sink_stats(qd, kd, o1), attn.sink_stats(qd, kd, o2)
          assert.equal(0, (sa.per_query - sb.per_query):abs():max())
          assert.equal(attn.flops(1, 2, 5, S, 3, o2), attn.flops(1, 2, 5, S, 3, o1))
        end
      end
    end
  end)

  it("gate_scores refuses head counts whose column count overflows", function()
    local x = rnd({ 1, 2, 5 }, 1)
    fails_with(function() attn.gate_scores(x, rnd({ 5, 12 }, 2), { heads = 2 ^ 62 // 1, head_dim = 2 ^ 62 // 1, layout = "per_head" }) end,
      "attn.gate_scores")
  end)

  it("gate_act and flops name themselves and the argument", function()
    fails_with(function() attn.gate_act("x") end, "attn.gate_act: bad argument #1 'z'")
    fails_with(function() attn.gate_act(1, "relu") end, "attn.gate_act: bad argument #2 'act'", "'silu'")
    fails_with(function() attn.gate_act(1, 3) end, "attn.gate_act: bad argument #2 'act'")
    fails_with(function() attn.flops(1, 2, "x", 4, 8) end, "attn.flops: bad argument #3 'L'")
    fails_with(function() attn.flops(1, 2, 3, 4, 0) end, "attn.flops: bad argument #5 'E'")
    fails_with(function() attn.flops(1, 2, 3, 4, 8, 5) end, "attn.flops: bad argument #6 'opts'")
  end)

  it("mask errors name the function called (sdpa_backward, sink_stats)", function()
    local out, ex = attn.sdpa(q, k, v)
    local dout = rnd({ 2, 4, 5, 6 }, 9)
    fails_with(function() attn.sdpa_backward(dout, q, k, v, out, ex, { mask = { { 1, 2 } } }) end,
      "attn.sdpa_backward: bad argument #7 'mask'", "booleans")
    fails_with(function() attn.sdpa_backward(dout, q, k, v, out, ex, { mask = rnd({ 5, 6 }, 5) }) end,
      "attn.sdpa_backward: bad argument #7 'mask'")
    fails_with(function() attn.sink_stats(q, k, { mask = { { 1, 2 } } }) end, "attn.sink_stats: bad argument #3 'mask'", "booleans")
    fails_with(function() attn.sink_stats(q, k, { mask = rnd({ 5, 6 }, 5) }) end, "attn.sink_stats: bad argument #3 'mask'")
    fails_with(function() attn.sink_stats(q, k, { mask = { { true } }, mask_mode = "add" }) end, "attn.sink_stats: bad argument #3 'mask_mode'")
    fails_with(function() attn.sink_stats(q, k, 5) end, "attn.sink_stats: bad argument #3 'opts'")
  end)

  it("non-finite inputs give non-finite outputs, not crashes", function()
    for _, dt in ipairs { "f64", "f32" } do
      local qd, kd, vd = q:astype(dt), k:astype(dt), v:astype(dt)
      local qn = qd:clone()
      qn:set(1, 1, 1, 1, 0 / 0)
      local out, ex = attn.sdpa(qn, kd, vd)
      local x, l = out:get(1, 1, 1, 1), ex.lse:get(1, 1, 1)
      assert.is_true(x ~= x and l ~= l)
      assert.equal(out:get(1, 1, 2, 1), attn.sdpa(qd, kd, vd):get(1, 1, 2, 1))
    end
  end)
end)
