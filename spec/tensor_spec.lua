local T = require "moonlab.tensor"
local U = require "spec.helpers.util"

-- Independent references: plain Lua loops over nested tables.
local function naive_matmul(a, b)
  local m, k, n = #a, #b, #b[1]
  local c = {}
  for i = 1, m do
    c[i] = {}
    for j = 1, n do
      local s = 0
      for l = 1, k do s = s + a[i][l] * b[l][j] end
      c[i][j] = s
    end
  end
  return c
end

describe("tensor construction", function()
  it("builds from nested tables, row-major, with shape and dtype", function()
    local t = T.new { { 1, 2, 3 }, { 4, 5, 6 } }
    assert.same({ 2, 3 }, t:shape())
    assert.equal("f64", t:dtype())
    assert.equal(6, t:numel())
    assert.equal(2, t:ndim())
    assert.equal(6, t:get(2, 3))
    assert.equal(2, t:get(1, 2))
    assert.same({ { 1, 2, 3 }, { 4, 5, 6 } }, t:totable())
  end)

  it("stores f32 with single precision rounding", function()
    local t = T.new({ 0.1, 1 / 3 }, "f32")
    assert.equal("f32", t:dtype())
    assert.are_not.equal(0.1, t:get(1))
    assert.is_true(math.abs(t:get(1) - 0.1) < 1e-8)
    assert.equal(string.unpack("f", string.pack("f", 1 / 3)), t:get(2))
  end)

  it("creates by shape: new(d1, d2, dtype), zeros, ones, full", function()
    local t = T.new(2, 3, 4, "f32")
    assert.same({ 2, 3, 4 }, t:shape())
    assert.equal("f32", t:dtype())
    assert.equal(0, t:sum())
    assert.equal(6, T.ones({ 2, 3 }):sum())
    assert.equal(0, T.zeros({ 5 }):max())
    assert.equal(-7.5 * 12, T.full({ 3, 4 }, -7.5):sum())
  end)

  it("arange follows NumPy (stop excluded) and linspace includes both ends", function()
    assert.same({ 0, 1, 2, 3, 4 }, T.arange(5):totable())
    assert.same({ 2, 2.5, 3, 3.5 }, T.arange(2, 4, 0.5):totable())
    assert.same({ 5, 3, 1 }, T.arange(5, 0, -2):totable())
    local l = T.linspace(0, 1, 11)
    assert.equal(11, l:numel())
    assert.equal(0, l:get(1))
    assert.equal(1, l:get(11))
    assert.is_close(l:get(4), 0.3, { rtol = 1e-15 })
  end)

  it("seeded rand/randn are reproducible and have the right moments", function()
    local a = T.randn({ 200000 }, { seed = 42 })
    local b = T.randn({ 200000 }, { seed = 42 })
    local c = T.randn({ 200000 }, { seed = 43 })
    assert.equal(0, (a - b):abs():max())
    assert.is_true((a - c):abs():max() > 0)
    -- mean 0 +- 5 sigma/sqrt(n), variance 1 +- 5 * sqrt(2/n)
    assert.is_true(math.abs(a:mean()) < 5 / math.sqrt(200000))
    assert.is_true(math.abs((a * a):mean() - 1) < 5 * math.sqrt(2 / 200000))
    local u = T.rand({ 100000 }, { seed = 7, lo = -2, hi = 3 })
    assert.is_true(u:min() >= -2 and u:max() < 3)
    assert.is_true(math.abs(u:mean() - 0.5) < 5 * 5 / math.sqrt(12 * 100000))
    local n = T.randn({ 1000 }, { seed = 3, mean = 10, std = 0.01, dtype = "f32" })
    assert.equal("f32", n:dtype())
    assert.is_true(math.abs(n:mean() - 10) < 0.01)
  end)

  it("gives the same random numbers for any thread count", function()
    local ml = require "moonlab"
    local saved = ml.get_threads()
    ml.set_threads(1)
    local a = T.randn({ 300000 }, { seed = 9 })
    ml.set_threads(2)
    local b = T.randn({ 300000 }, { seed = 9 })
    ml.set_threads(saved)
    assert.equal(0, (a - b):abs():max())
    -- the documented generator: SplitMix64 of (seed, counter); first uniform for seed 0
    assert.is_close(T.rand({ 1 }, { seed = 0 }):get(1), T.rand({ 5 }, { seed = 0 }):get(1), { rtol = 0 })
  end)
end)

describe("tensor views and copies", function()
  it("reshape aliases the storage and outlives the original", function()
    local base = T.arange(12)
    local v = base:reshape { 3, 4 }
    v:set(2, 1, 100)
    assert.equal(100, base:get(5))
    local w = T.arange(6):reshape(2, 3)
    collectgarbage()
    collectgarbage()
    assert.same({ { 0, 1, 2 }, { 3, 4, 5 } }, w:totable())
  end)

  it("clone and astype copy", function()
    local a = T.new { 1.5, 2.5 }
    local c = a:clone()
    c:set(1, 9)
    assert.equal(1.5, a:get(1))
    local f = a:astype("f32")
    assert.equal("f32", f:dtype())
    assert.same({ 1.5, 2.5 }, f:totable())
    assert.equal("f64", f:astype("f64"):dtype())
  end)

  it("fill writes in place and returns the tensor", function()
    local a = T.zeros { 2, 2 }
    assert.equal(a, a:fill(3))
    assert.equal(12, a:sum())
  end)

  it("closes with <close> and then refuses use", function()
    local t
    do
      local x <close> = T.ones { 3 }
      t = x
      assert.equal(3, x:sum())
    end
    assert.has_error(function() t:sum() end, "tensor:sum: bad argument #1 'self': tensor was closed")
    assert.equal("tensor (closed)", tostring(t))
  end)
end)

describe("tensor arithmetic", function()
  local a = T.new { { 1, -2 }, { 3, 4 } }
  local b = T.new { { 0.5, 2 }, { -1, 8 } }

  it("elementwise ops with tensors and scalars on either side", function()
    assert.same({ { 1.5, 0 }, { 2, 12 } }, (a + b):totable())
    assert.same({ { 0.5, -4 }, { 4, -4 } }, (a - b):totable())
    assert.same({ { 0.5, -4 }, { -3, 32 } }, (a * b):totable())
    assert.same({ { 2, -1 }, { -3, 0.5 } }, (a / b):totable())
    assert.same({ { 3, 0 }, { 5, 6 } }, (a + 2):totable())
    assert.same({ { 1, 4 }, { -1, -2 } }, (2 - a):totable())
    assert.same({ { 12, -6 }, { 4, 3 } }, (12 / a):totable())
    assert.same({ { -1, 2 }, { -3, -4 } }, (-a):totable())
    assert.same({ { 1, 4 }, { 9, 16 } }, (a ^ 2):totable())
    assert.same({ { 1, 2 }, { 3, 8 } }, a:maximum(b):totable())
  end)

  it("unary math matches Lua's math library", function()
    local x = T.linspace(-3, 3, 13)
    local xs = x:totable()
    local function map(f) local r = {} for i, v in ipairs(xs) do r[i] = f(v) end return r end
    assert.is_close(x:exp(), map(math.exp), { rtol = 1e-15 })
    assert.is_close(x:abs(), map(math.abs), { rtol = 0 })
    assert.is_close(x:tanh(), map(function(v) return (math.exp(2 * v) - 1) / (math.exp(2 * v) + 1) end), { rtol = 1e-14, atol = 1e-16 })
    assert.is_close(x:sigmoid(), map(function(v) return 1 / (1 + math.exp(-v)) end), { rtol = 1e-15 })
    assert.is_close(x:sin(), map(math.sin), { rtol = 1e-15, atol = 1e-16 })
    local p = T.linspace(0.5, 4, 8)
    local ps = p:totable()
    assert.is_close(p:log(), (function() local r = {} for i, v in ipairs(ps) do r[i] = math.log(v) end return r end)(), { rtol = 1e-15, atol = 1e-16 })
    assert.is_close(p:sqrt(), (function() local r = {} for i, v in ipairs(ps) do r[i] = math.sqrt(v) end return r end)(), { rtol = 1e-15 })
  end)

  it("sigmoid does not overflow for large |x|", function()
    local x = T.new { -1000, 1000 }
    assert.same({ 0, 1 }, x:sigmoid():totable())
  end)

  it("reductions over everything and along a dim (1-based)", function()
    local t = T.new { { 1, 5, 3 }, { 4, 2, 6 } }
    assert.equal(21, t:sum())
    assert.equal(3.5, t:mean())
    assert.equal(6, t:max())
    assert.equal(1, t:min())
    assert.equal(6, t:argmax())
    assert.equal(1, t:argmin())
    assert.same({ 5, 7, 9 }, t:sum(1):totable())
    assert.same({ 9, 12 }, t:sum(2):totable())
    assert.same({ 2.5, 3.5, 4.5 }, t:mean(1):totable())
    assert.same({ 5, 6 }, t:max(2):totable())
    assert.same({ 2, 3 }, t:argmax(2):totable())
    assert.same({ 1, 2, 1 }, t:argmin(1):totable())
    local c = T.arange(24):reshape { 2, 3, 4 }
    assert.same({ { 12, 15, 18, 21 }, { 48, 51, 54, 57 } }, c:sum(2):totable())
  end)

  it("matmul matches a naive triple loop (2-D and batched, f32 and f64)", function()
    local A = T.randn({ 7, 5 }, { seed = 1 })
    local B = T.randn({ 5, 9 }, { seed = 2 })
    assert.is_close(A:matmul(B), naive_matmul(A:totable(), B:totable()), { rtol = 1e-12, atol = 1e-13 })
    local Af, Bf = A:astype("f32"), B:astype("f32")
    assert.is_close(Af:matmul(Bf), naive_matmul(Af:totable(), Bf:totable()), { rtol = 1e-5, atol = 1e-5 })
    local P = T.randn({ 3, 4, 6 }, { seed = 3 })
    local Q = T.randn({ 3, 6, 2 }, { seed = 4 })
    local R = P:matmul(Q):totable()
    local Pt, Qt = P:totable(), Q:totable()
    for b = 1, 3 do assert.is_close(R[b], naive_matmul(Pt[b], Qt[b]), { rtol = 1e-12, atol = 1e-13 }) end
  end)

  it("transpose swaps the last two dims", function()
    local t = T.arange(6):reshape { 2, 3 }
    assert.same({ { 0, 3 }, { 1, 4 }, { 2, 5 } }, t:transpose():totable())
    local b = T.arange(24):reshape { 2, 3, 4 }:transpose()
    assert.same({ 2, 4, 3 }, b:shape())
    assert.equal(13, b:get(2, 2, 1))
  end)
end)

describe("tensor printing", function()
  it("shows dtype, shape and values", function()
    local s = tostring(T.new { { 1, 2 }, { 3, 4.5 } })
    assert.equal("tensor f64 [2,2]\n[[1, 2],\n [3, 4.5]]", s)
  end)
  it("elides the middle of large tensors", function()
    local s = tostring(T.arange(1001))
    assert.equal("tensor f64 [1001]\n[0, 1, 2, ..., 998, 999, 1000]", s)
    local big = tostring(T.zeros { 100, 100 })
    assert.is_true(#big < 800)
    assert.truthy(big:find("...", 1, true))
  end)
end)

describe("tensor.rand against SplitMix64 written in Lua", function()
  -- Lua 5.4 integers wrap modulo 2^64 and >> is a logical shift: the generator of csrc/core/rng.c verbatim.
  local G = 0x9e3779b97f4a7c15
  local function mix64(z)
    z = (z ~ (z >> 30)) * 0xbf58476d1ce4e5b9
    z = (z ~ (z >> 27)) * 0x94d049bb133111eb
    return z ~ (z >> 31)
  end
  local function uniform(seed, i) return (mix64(mix64(seed + G) + (i + 1) * G) >> 11) * 2.0 ^ -53 end
  local function f32(v) return (string.unpack("f", string.pack("f", v))) end

  it("gives exactly lo + (hi - lo) u for every element, on the vectorised path and across thread chunks", function()
    local ml = require "moonlab"
    local saved = ml.get_threads()
    local n = 200003
    for _, th in ipairs { 1, 2 } do
      ml.set_threads(th)
      for _, dt in ipairs { "f64", "f32" } do
        local x = T.rand({ n }, { seed = 9, dtype = dt, lo = -2, hi = 3 }):totable()
        for _, i in ipairs { 0, 1, 15, 16, 17, 65535, 65536, 131071, n - 1 } do
          local want = -2 + 5 * uniform(9, i)
          if dt == "f32" then want = f32(want) end
          assert.equal(want, x[i + 1], ("%s element %d, %d threads"):format(dt, i, th))
        end
      end
    end
    ml.set_threads(saved)
  end)
end)
