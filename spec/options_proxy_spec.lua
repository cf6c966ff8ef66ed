-- Issue #13 item 2: option tables whose values come from __index (proxy tables) and that build
-- tensors or strings and collect garbage while the shared reader (mlL_opts) runs. Each binding that
-- takes options must give the same result as with a plain table; under `make asan` a value freed
-- before use is a heap-use-after-free (it was, for attn's mask and tensor.rand's dtype).
local T = require "moonlab.tensor"
local attn = require "moonlab.attn"
local laplace = require "moonlab.laplace"
local chrom = require "moonlab.chrom"

-- A proxy: reading key k returns make[k]() (a fresh value nothing else references) and runs a full
-- collection on every access, so a value fetched earlier and not anchored is freed.
local function proxy(make)
  return setmetatable({}, {
    __index = function(_, k)
      collectgarbage()
      local f = make[k]
      local v = f and f()
      collectgarbage()
      return v
    end,
  })
end

local function plain(make)
  local t = {}
  for k, f in pairs(make) do t[k] = f() end
  return t
end

local function max_diff(a, b)
  return (a - b):abs():max()
end

local function qkv(seed)
  return T.randn({ 1, 2, 5, 4 }, { seed = seed }), T.randn({ 1, 2, 6, 4 }, { seed = seed + 1 }),
    T.randn({ 1, 2, 6, 4 }, { seed = seed + 2 })
end

describe("option tables with __index (proxy) values", function()
  it("tensor.rand / randn: a dtype string built by __index survives the collection of the other keys", function()
    for _, fn in ipairs { "rand", "randn" } do
      local make = {
        seed = function() return 7 end,
        dtype = function() return ("f" .. tostring(30 + 2)) end, -- a fresh string each time
        lo = function() return fn == "rand" and -2 or nil end,
        hi = function() return fn == "rand" and 3 or nil end,
        mean = function() return fn == "randn" and 1.5 or nil end,
        std = function() return fn == "randn" and 0.5 or nil end,
      }
      local a = T[fn]({ 40 }, proxy(make))
      local b = T[fn]({ 40 }, plain(make))
      assert.equal("f32", a:dtype())
      assert.equal(0, max_diff(a, b))
    end
  end)

  it("attn.sdpa: a mask tensor built by __index and a gate survive collections on the other keys", function()
    local q, k, v = qkv(1)
    local make = {
      causal = function() return true end,
      causal_align = function() return ("bottom" .. "_right") end,
      mask = function() return T.randn({ 5, 6 }, { seed = 3 }) end,
      mask_mode = function() return "add" end,
      gate = function() return T.randn({ 1, 2, 5, 4 }, { seed = 4 }) end,
      gate_act = function() return "sig" .. "moid" end,
      scale = function() return 0.3 end,
    }
    local o1, e1 = attn.sdpa(q, k, v, proxy(make))
    local o2, e2 = attn.sdpa(q, k, v, plain(make))
    assert.equal(0, max_diff(o1, o2))
    assert.equal(0, max_diff(e1.lse, e2.lse))
    -- backward and sink statistics read the same options
    local dout = T.randn({ 1, 2, 5, 4 }, { seed = 9 })
    local g1 = attn.sdpa_backward(dout, q, k, v, o1, e1, proxy(make))
    local g2 = attn.sdpa_backward(dout, q, k, v, o2, e2, plain(make))
    for _, key in ipairs { "dq", "dk", "dv", "dgate" } do assert.equal(0, max_diff(g1[key], g2[key])) end
    make.gate = nil
    local s1 = attn.sink_stats(q, k, proxy(make))
    local s2 = attn.sink_stats(q, k, plain(make))
    assert.equal(0, max_diff(s1.per_query, s2.per_query))
  end)

  it("attn.gate_scores: integer and enum options from __index", function()
    local x, w = T.randn({ 1, 3, 8 }, { seed = 5 }), T.randn({ 8, 2 * 4 }, { seed = 6 })
    local make = {
      heads = function() return 2 end,
      head_dim = function() return 4 end,
      granularity = function() return "element" .. "wise" end,
      layout = function() return "sep" .. "arate" end,
    }
    local z1 = attn.gate_scores(x, w, proxy(make))
    local z2 = attn.gate_scores(x, w, plain(make))
    assert.equal(0, max_diff(z1, z2))
  end)

  it("laplace.invert / invert_many / fourier_grid: method strings and numbers from __index", function()
    local F = function(re, im) -- 1/(s+1)
      local dr, di = re + 1, im
      local d = dr * dr + di * di
      return dr / d, -di / d
    end
    local t = T.linspace(0.5, 2, 4)
    for _, m in ipairs { "talbot", "dehoog", "euler" } do
      local make = { method = function() return m:sub(1, 3) .. m:sub(4) end, M = function() return nil end }
      local f1 = laplace.invert(F, t, proxy(make))
      local f2 = laplace.invert(F, t, plain(make))
      assert.equal(0, max_diff(f1, f2))
      for i = 1, 4 do assert.near(math.exp(-t:get(i)), f1:get(i), 1e-6) end
      local g1 = laplace.invert_many(F, t, proxy(make))
      assert.equal(0, max_diff(g1, laplace.invert_many(F, t, plain(make))))
    end
    local mk = { tol = function() return 1e-8 end }
    local t1, f1 = laplace.fourier_grid(F, 4, 8, proxy(mk))
    local t2, f2 = laplace.fourier_grid(F, 4, 8, plain(mk))
    assert.equal(0, max_diff(t1, t2))
    assert.equal(0, max_diff(f1, f2))
  end)

  it("chrom: solve_fd and fit options from __index", function()
    local col = chrom.column { Da = 2, kappa = 1 }
    local t = T.linspace(0.2, 6, 30)
    -- (chrom.solve_fd copies its options with pairs(), which does not see __index keys: only `t`
    -- is read by name; reported to the laplace/chrom owner)
    local mk = { t = function() return T.linspace(0.2, 6, 30) end }
    local r1 = chrom.solve_fd(col, proxy(mk))
    local r2 = chrom.solve_fd(col, plain(mk))
    assert.equal(0, max_diff(r1.c, r2.c))
    local y = col:outlet(t, { method = "dehoog" }) -- the default outlet is exact at the pulse's jump (t = 1)
    local fk = { analytes = function() return { { Da = 1.8, kappa = 1.1 } } end,
      max_iter = function() return 30 end, method = function() return "de" .. "hoog" end }
    local a = chrom.fit(t, y, proxy(fk))
    local b = chrom.fit(t, y, plain(fk))
    assert.equal(a.analytes[1].Da, b.analytes[1].Da)
    assert.near(2, a.analytes[1].Da, 0.02) -- de Hoog model vs de Hoog outlet: same truth
  end)
end)
