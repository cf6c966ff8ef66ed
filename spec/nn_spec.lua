local T = require "moonlab.tensor"
local nn = require "moonlab.nn"

local U = require "spec.helpers.nn_util"
local ids, batch, with, same_bits, gradcheck = U.ids, U.batch, U.with, U.same_bits, U.gradcheck

local tiny = { vocab = 11, context = 6, layers = 2, d_model = 8, heads = 2, d_ff = 12, dtype = "f64",
  init_std = 0.3, seed = 5 }


describe("nn gradients vs central finite differences (f64, every parameter)", function()
  local cases = {
    { "ungated, untied", {} },
    { "ungated, tied head", { tied = true } },
    { "G1 elementwise sigmoid, GQA kv_heads = 1", { gate = "elementwise", kv_heads = 1 } },
    { "headwise SiLU gate, tied", { gate = { placement = "headwise", act = "silu" }, tied = true } },
    { "elementwise SiLU gate, 4 heads, GQA 2", { gate = { placement = "elementwise", act = "silu" }, heads = 4,
      kv_heads = 2 } },
  }
  for _, c in ipairs(cases) do
    it(c[1], function()
      local worst, gmax, n = gradcheck(with(tiny, c[2]))
      assert.is_true(n > 500)
      assert.is_true(gmax > 1e-3)
      assert.is_true(worst < 1e-7 * math.max(1, gmax), ("max |fd - grad| = %g (max |grad| %g)"):format(worst, gmax))
    end)
  end
end)

describe("nn model", function()
  it("an untrained model's loss is log(vocab) within 1%", function()
    for _, tied in ipairs { false, true } do
      local m = nn.gpt { vocab = 256, context = 32, layers = 2, d_model = 64, heads = 4, tied = tied, seed = 2 }
      local x, y = batch(4, 32, 256, 3)
      local loss = m:loss(x, y)
      assert.is_true(math.abs(loss / math.log(256) - 1) < 0.01, ("loss %g vs %g"):format(loss, math.log(256)))
    end
  end)

  it("overfits one small batch to near-zero loss (G1 gated, f32)", function()
    local m = nn.gpt { vocab = 32, context = 16, layers = 2, d_model = 32, heads = 4, gate = "elementwise", seed = 4 }
    local x, y = batch(2, 16, 32, 9)
    local first, loss = U.overfit(m, x, y, 150)
    assert.is_true(first > 3)
    assert.is_true(loss < 0.02, "final loss " .. loss)
  end)

  it("save -> load gives identical logits and continues training identically", function()
    local path = os.tmpname()
    local m = nn.gpt { vocab = 50, context = 12, layers = 2, d_model = 16, heads = 2, gate = "headwise", seed = 8 }
    local x, y = batch(2, 12, 50, 1)
    for _ = 1, 3 do m:loss(x, y); m:backward(); m:step { lr = 1e-3 } end
    m:save(path)
    local m2 = nn.load(path)
    os.remove(path)
    assert.same(m:config(), m2:config())
    assert.is_true(same_bits(m:forward(x), m2:forward(x)))
    m:loss(x, y); m:backward(); m:step { lr = 1e-3 }
    m2:loss(x, y); m2:backward(); m2:step { lr = 1e-3 }
    assert.is_true(same_bits(m:parameters(), m2:parameters()))
    for _, c in ipairs { { tied = true, gate = "elementwise", kv_heads = 1, dtype = "f64" }, { gate = "none" } } do
      local a = nn.gpt(with({ vocab = 50, context = 8, layers = 2, d_model = 16, heads = 4, seed = 2 }, c))
      a:save(path)
      local b = nn.load(path)
      os.remove(path)
      assert.is_true(same_bits(a:forward(x:narrow(2, 1, 8)), b:forward(x:narrow(2, 1, 8))))
    end
  end)

  it("training with the same seed is reproducible bit for bit", function()
    local function run()
      local m = nn.gpt { vocab = 64, context = 16, layers = 2, d_model = 32, heads = 4, kv_heads = 2,
        gate = "elementwise", seed = 11 }
      local x, y = batch(3, 16, 64, 2)
      for _ = 1, 4 do m:loss(x, y); m:backward(); m:step { lr = 3e-3, grad_clip = 0.5 } end
      return m:parameters()
    end
    local a, b = run(), run()
    assert.is_true(same_bits(a, b))
  end)

  it("greedy generation with the KV cache equals argmax of full forwards", function()
    local m = nn.gpt { vocab = 20, context = 12, layers = 2, d_model = 16, heads = 4, kv_heads = 2,
      gate = "elementwise", init_std = 0.5, seed = 6, dtype = "f64" }
    local got, want = U.greedy_vs_forward(m, { 3, 1, 4 }, 8, 20)
    assert.same(want, got)
  end)

  it("sampling is seeded and respects top_k = 1 (= greedy)", function()
    local m = nn.gpt { vocab = 30, context = 20, layers = 1, d_model = 16, heads = 2, init_std = 0.5, seed = 1 }
    local a = m:generate({ 1, 2 }, { max_tokens = 10, temperature = 1, seed = 5 })
    local b = m:generate({ 1, 2 }, { max_tokens = 10, temperature = 1, seed = 5 })
    assert.is_true(same_bits(a, b))
    local g = m:generate({ 1, 2 }, { max_tokens = 10, temperature = 0 })
    local k1 = m:generate({ 1, 2 }, { max_tokens = 10, temperature = 2, top_k = 1, seed = 9 })
    assert.is_true(same_bits(g, k1))
  end)

  it("stats: F-Attn is 1 with one token, in [0,1] otherwise; gate mean/sparsity from the gate", function()
    local m = nn.gpt { vocab = 30, context = 20, layers = 2, d_model = 16, heads = 2, gate = "elementwise", seed = 1 }
    local s1 = m:stats(T.new({ { 5 } }, "i64"))
    assert.near(1, s1.f_attn[1], 1e-6)
    local s = m:stats(T.new({ ids(20, 30, 1) }, "i64"))
    for l = 1, 2 do
      assert.is_true(s.f_attn[l] > 0 and s.f_attn[l] < 1)
      assert.equal(2, #s.f_attn_heads[l])
      assert.near(s.f_attn[l], (s.f_attn_heads[l][1] + s.f_attn_heads[l][2]) / 2, 1e-12)
      assert.near(1, s1.f_attn_heads[l][2], 1e-6)
      assert.is_true(s.m_act[l] > 0)
      -- untrained gate scores are near 0, so sigmoid gates are near 0.5 and none is below 0.1
      assert.near(0.5, s.gate_mean[l], 0.05)
      assert.equal(0, s.gate_sparsity[l])
    end
    local u = nn.gpt { vocab = 30, context = 20, layers = 1, d_model = 16, heads = 2, seed = 1 }:stats({ 1, 2, 3 })
    assert.is_true(u.gate_mean[1] ~= u.gate_mean[1])
  end)

  it("text_dataset reads the fortunes corpus and batches shifted windows", function()
    local ds = nn.text_dataset(nil, { context = 32, seed = 3 })
    assert.is_true(ds.size > 100000)
    local x, y = ds:batch("train", 4, 0)
    assert.same({ 4, 32 }, x:shape())
    for b = 1, 4 do
      for t = 1, 31 do assert.equal(x[{ b, t + 1 }], y[{ b, t }]) end
    end
    local x2 = ds:batch("train", 4, 0)
    assert.is_true(same_bits(x, x2))
  end)

  it("text_dataset{bos} starts every row with the byte and keeps the same windows' text", function()
    local plain = nn.text_dataset(nil, { context = 16, seed = 3 })
    local ds = nn.text_dataset(nil, { context = 16, seed = 3, bos = 0 })
    local x, y = ds:batch("val", 3, 5)
    local px, py = plain:batch("val", 3, 5)
    for b = 1, 3 do
      assert.equal(0, x[{ b, 1 }])
      for t = 2, 16 do assert.equal(px[{ b, t - 1 }], x[{ b, t }]) end
      for t = 1, 15 do assert.equal(x[{ b, t + 1 }], y[{ b, t }]) end
      assert.equal(py[{ b, 15 }], y[{ b, 16 }]) -- the window's 16th byte, hence its own next-byte target
    end
  end)
end)
