local T = require "moonlab.tensor"
local attn = require "moonlab.attn"
local ref = require "spec.helpers.naive_attention"

local ASAN = os.getenv("MOONLAB_ASAN") ~= nil

local function rnd(shape, seed, dtype, std)
  return T.randn(shape, { seed = seed, dtype = dtype or "f64", std = std or 1 })
end

local function maxabs(x)
  local m = 0
  local function walk(t)
    if type(t) == "table" then for i = 1, #t do walk(t[i]) end
    elseif t == t and t ~= math.huge and t ~= -math.huge and math.abs(t) > m then m = math.abs(t) end
  end
  walk(T.is_tensor(x) and x:totable() or x)
  return m
end

-- f64: rel 1e-12 with an absolute floor of 1e-12·max|ref| (outputs that cancel to ~0).
local function close64(a, e, rtol)
  rtol = rtol or 1e-12
  assert.is_close(a, e, { rtol = rtol, atol = rtol * maxabs(e) })
end
local function close32(a, e)
  assert.is_close(a, e, { rtol = 1e-5, atol = 1e-5 * maxabs(e) })
end

local function problem(B, Hq, Hkv, L, S, E, Ev, dtype, seed)
  seed = seed or 1
  return rnd({ B, Hq, L, E }, seed, dtype), rnd({ B, Hkv, S, E }, seed + 1, dtype),
    rnd({ B, Hkv, S, Ev }, seed + 2, dtype)
end

describe("attn.sdpa forward vs naive f64 reference", function()
  -- odd sizes: two query blocks, three key blocks, E and Ev not multiples of any tile
  local B, Hq, Hkv, L, S, E, Ev = 2, 4, 2, 70, 131, 24, 20
  local q, k, v = problem(B, Hq, Hkv, L, S, E, Ev, "f64", 11)
  local gate_e = rnd({ B, Hq, L, Ev }, 21)
  local gate_h = rnd({ B, Hq, L, 1 }, 22)
  local cases = {
    { name = "plain GQA" },
    { name = "scale", opts = { scale = 0.37 } },
    { name = "causal top_left", opts = { causal = true } },
    { name = "causal bottom_right", opts = { causal = true, causal_align = "bottom_right" } },
    { name = "window 17 top_left", opts = { window = 17 } },
    { name = "window 40 bottom_right", opts = { window = 40, causal_align = "bottom_right" } },
    { name = "elementwise sigmoid gate, causal", opts = { causal = true, gate = gate_e } },
    { name = "headwise silu additive gate", opts = { gate = gate_h, gate_act = "silu", gate_op = "add" } },
    { name = "elementwise ns_sigmoid gate, window", opts = { window = 9, gate = gate_e, gate_act = "ns_sigmoid" } },
  }
  for _, c in ipairs(cases) do
    it("f64 " .. c.name, function()
      local out, ex = attn.sdpa(q, k, v, c.opts)
      local ro, rl = ref.sdpa(q, k, v, c.opts)
      close64(out, ro)
      close64(ex.lse, rl)
    end)
  end

  it("f32 inputs (fp32 accumulation) within 1e-5 of the f64 reference on the same values", function()
    local q32, k32, v32 = q:astype("f32"), k:astype("f32"), v:astype("f32")
    for _, c in ipairs(cases) do
      local o = {}
      for key, val in pairs(c.opts or {}) do o[key] = val end
      if o.gate then o.gate = o.gate:astype("f32") end
      local out, ex = attn.sdpa(q32, k32, v32, o)
      assert.equal("f32", out:dtype())
      local ro, rl = ref.sdpa(q32, k32, v32, o)
      close32(out, ro)
      close32(ex.lse, rl)
    end
  end)

  it("additive float mask broadcast from [L,S] and [B,1,1,S]", function()
    local m1 = T.zeros({ L, S })
    local m2 = T.zeros({ B, 1, 1, S })
    for i = 1, L do for j = 1, S do
      if (i * 7 + j * 3) % 5 == 0 then m1:set(i, j, -math.huge) else m1:set(i, j, ((i + j) % 7) * 0.1) end
    end end
    for j = 100, S do m2:set(2, 1, 1, j, -math.huge) end
    for _, m in ipairs { m1, m2 } do
      local out, ex = attn.sdpa(q, k, v, { mask = m, causal = true, causal_align = "bottom_right" })
      local ro, rl = ref.sdpa(q, k, v, { mask = m, causal = true, causal_align = "bottom_right" })
      close64(out, ro)
      close64(ex.lse, rl)
    end
  end)

  it("keep-mask tensor ([Hq,1,S], f32) and boolean table mask", function()
    local m = T.zeros({ Hq, 1, S }, "f32")
    for h = 1, Hq do for j = 1, S do m:set(h, 1, j, ((h + j) % 3 ~= 0) and 1 or 0) end end
    local out = attn.sdpa(q, k, v, { mask = m, mask_mode = "keep" })
    close64(out, (ref.sdpa(q, k, v, { mask = m, mask_mode = "keep" })))
    local bt = {}
    for i = 1, L do bt[i] = {}; for j = 1, S do bt[i][j] = (i + 2 * j) % 4 ~= 1 end end
    local out2 = attn.sdpa(q, k, v, { mask = bt })
    close64(out2, (ref.sdpa(q, k, v, { mask = bt })))
  end)

  it("f32 with additive and keep masks (with gate, GQA, bottom-right causal) within 1e-5", function()
    local q32, k32, v32 = q:astype("f32"), k:astype("f32"), v:astype("f32")
    local add = T.zeros({ L, S }, "f32")
    for i = 1, L do for j = 1, S do
      if (i * 5 + j) % 7 == 0 then add:set(i, j, -math.huge) else add:set(i, j, ((i * j) % 5) * 0.3 - 0.6) end
    end end
    local keep = T.zeros({ B, Hq, 1, S }, "f32")
    for b = 1, B do for h = 1, Hq do for j = 1, S do keep:set(b, h, 1, j, ((b + h + j) % 4 ~= 0) and 1 or 0) end end end
    local g32 = gate_e:astype("f32")
    for _, o in ipairs {
      { mask = add },
      { mask = add, causal = true, causal_align = "bottom_right", gate = g32 },
      { mask = keep, mask_mode = "keep", window = 33, gate = g32, gate_act = "silu" },
    } do
      local out, ex = attn.sdpa(q32, k32, v32, o)
      local ro, rl = ref.sdpa(q32, k32, v32, o)
      close32(out, ro)
      close32(ex.lse, rl)
    end
  end)

  it("return_probs gives the reference weights; rows sum to 1", function()
    local _, ex = attn.sdpa(q, k, v, { causal = true, window = 30, return_probs = true })
    local _, _, rp = ref.sdpa(q, k, v, { causal = true, window = 30 })
    close64(ex.probs, rp)
    local sums = ex.probs:sum(4)
    close64(sums, T.ones(sums:shape()))
  end)

  it("extras.y is the pre-gate output", function()
    local _, ex = attn.sdpa(q, k, v, { gate = gate_e })
    local _, _, _, ry = ref.sdpa(q, k, v, { gate = gate_e })
    close64(ex.y, ry)
  end)
end)

describe("attn.sdpa edge cases", function()
  it("all-masked rows give 0 and lse = -inf, never NaN (mask, bottom-right with L > S)", function()
    local q, k, v = problem(1, 2, 1, 9, 5, 4, 3, "f64", 5)
    local m = T.zeros({ 9, 5 })
    for j = 1, 5 do m:set(3, j, -math.huge) end
    local g = rnd({ 1, 2, 9, 3 }, 8)
    local out, ex = attn.sdpa(q, k, v, { mask = m, gate = g })
    for h = 1, 2 do
      assert.equal(-math.huge, ex.lse:get(1, h, 3))
      for e = 1, 3 do assert.equal(0, out:get(1, h, 3, e)) end
    end
    close64(out, (ref.sdpa(q, k, v, { mask = m, gate = g })))
    -- bottom-right with L > S: the first L - S queries see no key
    for _, dt in ipairs { "f64", "f32" } do
      local qq, kk, vv = problem(1, 2, 1, 9, 5, 4, 3, dt, 6)
      local o2, e2 = attn.sdpa(qq, kk, vv, { causal = true, causal_align = "bottom_right" })
      for i = 1, 4 do
        assert.equal(-math.huge, e2.lse:get(1, 1, i))
        assert.equal(0, o2:get(1, 1, i, 1))
      end
      local ro = ref.sdpa(qq, kk, vv, { causal = true, causal_align = "bottom_right" })
      if dt == "f64" then close64(o2, ro) else close32(o2, ro) end
    end
  end)

  it("L = 1 and S = 1", function()
    for _, dims in ipairs { { 1, 9 }, { 9, 1 }, { 1, 1 } } do
      local q, k, v = problem(2, 2, 2, dims[1], dims[2], 5, 3, "f64", 40)
      for _, o in ipairs { {}, { causal = true }, { causal = true, causal_align = "bottom_right" } } do
        local out, ex = attn.sdpa(q, k, v, o)
        local ro, rl = ref.sdpa(q, k, v, o)
        close64(out, ro)
        close64(ex.lse, rl)
      end
    end
  end)

  it("scores of ±1e4 do not overflow (f64 and f32)", function()
    -- integer-valued inputs: the scores are exact in both precisions
    local L, S, E = 6, 67, 4
    local function ints(shape, seed, amp)
      local t = T.rand(shape, { seed = seed, lo = -amp, hi = amp })
      local n = t:numel()
      local f = t:reshape { n }
      for i = 1, n do f:set(i, math.floor(f:get(i) + 0.5)) end
      return t
    end
    local q = ints({ 1, 1, L, E }, 1, 50) * 20
    local k = ints({ 1, 1, S, E }, 2, 5)
    local v = ints({ 1, 1, S, 3 }, 3, 9)
    for _, dt in ipairs { "f64", "f32" } do
      local out, ex = attn.sdpa(q:astype(dt), k:astype(dt), v:astype(dt), { scale = 1 })
      local ro, rl = ref.sdpa(q, k, v, { scale = 1 })
      assert.is_true(maxabs(rl) > 1000)
      for i = 1, L do assert.is_true(ex.lse:get(1, 1, i) == ex.lse:get(1, 1, i)) end
      if dt == "f64" then close64(out, ro); close64(ex.lse, rl) else close32(out, ro); close32(ex.lse, rl) end
    end
  end)

  it("larger f32 problem (E = Ev = 64, several blocks) matches the reference", function()
    local B, H, L, S = 1, 2, ASAN and 65 or 130, ASAN and 70 or 200
    local q, k, v = problem(B, H, 1, L, S, 64, 64, "f32", 70)
    local g = rnd({ B, H, L, 64 }, 71, "f32")
    for _, o in ipairs { { causal = true, gate = g }, { window = 50, causal_align = "bottom_right" } } do
      local out = attn.sdpa(q, k, v, o)
      close32(out, (ref.sdpa(q, k, v, o)))
    end
  end)

  it("f32 with Ev = 40 and E = 20 (whole, half and masked vector tiles of V) matches the reference", function()
    local q, k, v = problem(1, 2, 1, 37, 45, 20, 40, "f32", 72)
    local g = rnd({ 1, 2, 37, 40 }, 73, "f32")
    for _, o in ipairs { { causal = true, causal_align = "bottom_right", gate = g }, { window = 9 } } do
      local out, ex = attn.sdpa(q, k, v, o)
      local ro, rl = ref.sdpa(q, k, v, o)
      close32(out, ro)
      close32(ex.lse, rl)
    end
  end)
end)

-- Finite differences of loss = Σ dout ⊙ out against attn.sdpa_backward, f64.
local function fd_check(B, Hq, Hkv, L, S, E, Ev, opts, seed)
  local q, k, v = problem(B, Hq, Hkv, L, S, E, Ev, "f64", seed)
  local o = {}
  for key, val in pairs(opts) do o[key] = val end
  if o.gate == "elementwise" then o.gate = rnd({ B, Hq, L, Ev }, seed + 10)
  elseif o.gate == "headwise" then o.gate = rnd({ B, Hq, L, 1 }, seed + 10) end
  local dout = rnd({ B, Hq, L, Ev }, seed + 20)
  local out, ex = attn.sdpa(q, k, v, o)
  local g = attn.sdpa_backward(dout, q, k, v, out, ex, o)
  local f = function() return (attn.sdpa(q, k, v, o)) end
  local function cmp(analytic, x)
    local num = ref.fd_grad(x, dout, f, 1e-6)
    local a = analytic:reshape { analytic:numel() }
    assert.is_close(a, num, { rtol = 1e-6, atol = 1e-6 * maxabs(num) })
  end
  cmp(g.dq, q); cmp(g.dk, k); cmp(g.dv, v)
  if o.gate then cmp(g.dgate, o.gate) else assert.is_nil(g.dgate) end
  return g
end

describe("attn.sdpa_backward vs central finite differences (f64)", function()
  it("plain GQA", function() fd_check(2, 4, 2, 5, 7, 3, 4, {}, 100) end)
  it("causal bottom_right, elementwise sigmoid gate", function()
    fd_check(1, 2, 1, 6, 9, 3, 2, { causal = true, causal_align = "bottom_right", gate = "elementwise" }, 200)
  end)
  it("window + additive mask with -inf, headwise silu additive gate", function()
    local m = T.zeros({ 1, 1, 6, 9 })
    m:set(1, 1, 2, 1, -math.huge); m:set(1, 1, 4, 3, 0.7)
    fd_check(1, 2, 2, 6, 9, 3, 2, { window = 4, causal_align = "bottom_right", mask = m,
      gate = "headwise", gate_act = "silu", gate_op = "add" }, 300)
  end)
  it("ns_sigmoid elementwise gate, multiple 64-blocks, GQA", function()
    if ASAN then fd_check(1, 2, 1, 66, 67, 2, 2, { causal = true, gate = "elementwise", gate_act = "ns_sigmoid" }, 400)
    else fd_check(1, 2, 1, 70, 80, 3, 2, { causal = true, gate = "elementwise", gate_act = "ns_sigmoid" }, 400) end
  end)
  it("elementwise silu additive and sigmoid gates with Ev = 17 (vector gate kernels and their tails)", function()
    fd_check(1, 2, 1, 4, 5, 3, 17, { causal = true, gate = "elementwise", gate_act = "silu", gate_op = "add" }, 500)
    fd_check(1, 1, 1, 3, 4, 2, 17, { gate = "elementwise" }, 600)
  end)
  it("all-masked rows get zero gradient and no NaN", function()
    local q, k, v = problem(1, 1, 1, 9, 5, 4, 3, "f64", 9)
    local o = { causal = true, causal_align = "bottom_right", gate = rnd({ 1, 1, 9, 3 }, 3) }
    local dout = rnd({ 1, 1, 9, 3 }, 4)
    local out, ex = attn.sdpa(q, k, v, o)
    local g = attn.sdpa_backward(dout, q, k, v, out, ex, o)
    for i = 1, 4 do for e = 1, 4 do assert.equal(0, g.dq:get(1, 1, i, e)) end end
    assert.is_true(maxabs(g.dk) > 0 and g.dk:sum() == g.dk:sum())
  end)
  it("recomputes the pre-gate output when extras.y is absent", function()
    local q, k, v = problem(1, 2, 1, 8, 8, 3, 3, "f64", 31)
    local o = { gate = rnd({ 1, 2, 8, 3 }, 32) }
    local dout = rnd({ 1, 2, 8, 3 }, 33)
    local out, ex = attn.sdpa(q, k, v, o)
    local g1 = attn.sdpa_backward(dout, q, k, v, out, ex, o)
    local g2 = attn.sdpa_backward(dout, q, k, v, out, { lse = ex.lse }, o)
    close64(g2.dq, g1.dq); close64(g2.dgate, g1.dgate)
  end)
  it("f32 backward agrees with the f64 backward", function()
    local q, k, v = problem(1, 2, 1, 70, 75, 16, 8, "f64", 50)
    local o = { causal = true, gate = rnd({ 1, 2, 70, 8 }, 51) }
    local dout = rnd({ 1, 2, 70, 8 }, 52)
    local out, ex = attn.sdpa(q, k, v, o)
    local g = attn.sdpa_backward(dout, q, k, v, out, ex, o)
    local o32 = { causal = true, gate = o.gate:astype("f32") }
    local q3, k3, v3, d3 = q:astype("f32"), k:astype("f32"), v:astype("f32"), dout:astype("f32")
    local out3, ex3 = attn.sdpa(q3, k3, v3, o32)
    local g3 = attn.sdpa_backward(d3, q3, k3, v3, out3, ex3, o32)
    for _, n in ipairs { "dq", "dk", "dv", "dgate" } do
      assert.is_close(g3[n], g[n], { rtol = 1e-4, atol = 1e-4 * maxabs(g[n]) })
    end
  end)
end)

describe("attn.sink_stats", function()
  it("matches the materialised reference weights", function()
    local B, Hq, L, S = 2, 3, 20, 20
    local q, k = problem(B, Hq, 3, L, S, 5, 1, "f64", 60)
    -- make key 1 a sink for head 1: align it with every query
    for i = 1, L do for e = 1, 5 do q:set(1, 1, i, e, math.abs(q:get(1, 1, i, e)) + 1) end end
    for e = 1, 5 do k:set(1, 1, 1, e, 3) end
    local opts = { causal = true }
    local st = attn.sink_stats(q, k, opts)
    local v = T.zeros({ B, 3, S, 1 })
    local _, _, rp = ref.sdpa(q, k, v, opts)
    local ft, ent, pq = {}, {}, {}
    for h = 1, Hq do
      local s, se = 0, 0
      for b = 1, B do
        pq[b] = pq[b] or {}; pq[b][h] = {}
        for i = 1, L do
          local p = rp[b][h][i]
          pq[b][h][i] = p[1]
          s = s + p[1]
          for j = 1, S do if p[j] > 0 then se = se - p[j] * math.log(p[j]) end end
        end
      end
      ft[h] = s / (B * L); ent[h] = se / (B * L)
    end
    close64(st.first_token, ft)
    close64(st.per_query, pq)
    close64(st.entropy, ent)
    assert.is_true(st.first_token:get(1) > st.first_token:get(2))
    close64(st.f_attn, (ft[1] + ft[2] + ft[3]) / 3)
  end)
end)

describe("attn.gate_scores", function()
  local B, L, D, Hq, Hkv, Dh = 2, 3, 5, 4, 2, 3
  local x = rnd({ B, L, D }, 80)
  local function proj(w, col) -- Σ_d x[b,t,d] w[d,col] as a function of (b,t)
    return function(b, t)
      local s = 0
      for d = 1, D do s = s + x:get(b, t, d) * w:get(d, col) end
      return s
    end
  end
  local function expect(w, G, colf)
    local z = {}
    for b = 1, B do z[b] = {}; for h = 1, Hq do z[b][h] = {}; for t = 1, L do z[b][h][t] = {}
      for g = 1, G do z[b][h][t][g] = proj(w, colf(h, g))(b, t) end end end end
    return z
  end
  it("separate head-specific elementwise and headwise, head-shared", function()
    local w = rnd({ D, Hq * Dh }, 81)
    close64(attn.gate_scores(x, w, { heads = Hq, head_dim = Dh }), expect(w, Dh, function(h, g) return (h - 1) * Dh + g end))
    local wh = rnd({ D, Hq }, 82)
    close64(attn.gate_scores(x, wh, { heads = Hq, head_dim = Dh, granularity = "headwise" }), expect(wh, 1, function(h) return h end))
    local ws = rnd({ D, Dh }, 83)
    close64(attn.gate_scores(x, ws, { heads = Hq, head_dim = Dh, shared = true }), expect(ws, Dh, function(_, g) return g end))
  end)
  it("per-head [q | z] and per-KV-group (paper code) layouts also return q", function()
    local w = rnd({ D, Hq * (Dh + 1) }, 84)
    local z, q = attn.gate_scores(x, w, { heads = Hq, head_dim = Dh, granularity = "headwise", layout = "per_head" })
    close64(z, expect(w, 1, function(h) return (h - 1) * (Dh + 1) + Dh + 1 end))
    close64(q, expect(w, Dh, function(h, e) return (h - 1) * (Dh + 1) + e end))
    local R = Hq // Hkv
    local w2 = rnd({ D, Hkv * (R * Dh + R * Dh) }, 85)
    local z2, q2 = attn.gate_scores(x, w2, { heads = Hq, kv_heads = Hkv, head_dim = Dh, layout = "kv_group" })
    local function base(h) return ((h - 1) // R) * (2 * R * Dh) end
    close64(z2, expect(w2, Dh, function(h, g) return base(h) + R * Dh + ((h - 1) % R) * Dh + g end))
    close64(q2, expect(w2, Dh, function(h, e) return base(h) + ((h - 1) % R) * Dh + e end))
  end)
  it("feeds attn.sdpa: hidden states to gated output", function()
    local w = rnd({ D, Hq * (Dh + Dh) }, 86)
    local z, q = attn.gate_scores(x, w, { heads = Hq, head_dim = Dh, layout = "per_head" })
    local k, v = rnd({ B, Hkv, L, Dh }, 87), rnd({ B, Hkv, L, Dh }, 88)
    local out = attn.sdpa(q, k, v, { gate = z, causal = true })
    close64(out, (ref.sdpa(q, k, v, { gate = z, causal = true })))
  end)
end)

describe("attn.massive_activation", function()
  it("is max |h| per tensor and the mean over layers", function()
    local a, b = rnd({ 3, 4 }, 90), rnd({ 5 }, 91)
    a:set(2, 3, -1234.5)
    assert.equal(1234.5, attn.massive_activation(a))
    local r = attn.massive_activation { a, b }
    local mb = 0
    for i = 1, 5 do mb = math.max(mb, math.abs(b:get(i))) end
    close64(r.per_layer, { 1234.5, mb })
    close64(r.mean, (1234.5 + mb) / 2)
  end)
end)
