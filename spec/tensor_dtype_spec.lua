local T = require "moonlab.tensor"

local errmsg = require("spec.helpers.errors").errmsg

local function have_numpy() return require("moonlab.bench").python_has("numpy") end

local DTYPES = { "f32", "f64", "i32", "i64", "u8", "bool" }

describe("tensor dtypes", function()
  it("allocates every dtype, zeroed, with its name", function()
    for _, dt in ipairs(DTYPES) do
      local t = T.zeros({ 2, 3 }, dt)
      assert.equal(dt, t:dtype())
      assert.same({ 2, 3 }, t:shape())
      local z = 0
      if dt == "bool" then z = false end
      assert.same({ { z, z, z }, { z, z, z } }, t:totable())
    end
    assert.equal("i64", T.zeros({ 1 }, "int64"):dtype())
    assert.equal("u8", T.zeros({ 1 }, "uint8"):dtype())
    assert.equal("i32", T.zeros({ 1 }, "int32"):dtype())
  end)

  it("stores integers exactly and returns Lua integers and booleans", function()
    local big = (1 << 53) + 1
    local t = T.new({ big, -7, math.maxinteger, math.mininteger }, "i64")
    assert.equal(big, t:get(1))
    assert.equal("integer", math.type(t:get(1)))
    assert.equal(math.maxinteger, t:get(3))
    assert.equal(math.mininteger, t:get(4))
    local b = T.new({ true, false, 1, 0 }, "bool")
    assert.same({ true, false, true, false }, b:totable())
    assert.equal(true, b:get(1))
    local u = T.new({ 0, 255, 7.9 }, "u8")
    assert.same({ 0, 255, 7 }, u:totable())
    local i = T.new({ -2147483648, 2147483647, -3.7 }, "i32")
    assert.same({ -2147483648, 2147483647, -3 }, i:totable())
    i:set(2, 5)
    assert.equal(5, i:get(2))
    b:set(2, true)
    assert.equal(true, b:get(2))
  end)

  it("refuses values that do not fit an integer dtype", function()
    assert.matches("tensor.new: value 256 does not fit dtype u8 %(out of range%)", errmsg(T.new, { 256 }, "u8"))
    assert.matches("value %-1 does not fit dtype u8", errmsg(T.new, { -1 }, "u8"))
    assert.matches("value 2147483648 does not fit dtype i32", errmsg(T.new, { 2147483648 }, "i32"))
    assert.matches("does not fit dtype i64 %(nan%)", errmsg(T.new, { 0 / 0 }, "i64"))
    assert.matches("does not fit dtype i64 %(out of range%)", errmsg(T.new, { 1e19 }, "i64"))
    local t = T.zeros({ 2 }, "i32")
    assert.matches("tensor:set: value 10000000000.0 does not fit dtype i32", errmsg(t.set, t, 1, 1e10))
  end)

  it("astype converts between every pair like a C cast, refusing floats that do not fit", function()
    local src = { 0, 1, 2, 5, 100 }
    local function expect(v, dt)
      if dt == "bool" then return v ~= 0 end
      return v
    end
    for _, from in ipairs(DTYPES) do
      local vals = {}
      for i, v in ipairs(src) do vals[i] = from == "bool" and (v ~= 0) or v end
      local a = T.new(vals, from)
      for _, to in ipairs(DTYPES) do
        local b = a:astype(to)
        assert.equal(to, b:dtype())
        local want = {}
        for i, v in ipairs(src) do
          local x = from == "bool" and (v ~= 0 and 1 or 0) or v
          want[i] = expect(x, to)
        end
        assert.same(want, b:totable(), from .. " -> " .. to)
      end
    end
    assert.same({ -2, 2, 0 }, T.new { -2.9, 2.9, -0.5 }:astype("i64"):totable())
    assert.same({ true, false, true }, T.new { 0.5, 0, 0 / 0 }:astype("bool"):totable())
    assert.matches("tensor:astype: cannot convert a non%-finite or out%-of%-range f64 value to i32",
      errmsg(function() return T.new { 1, 0 / 0 }:astype("i32") end))
    assert.matches("out%-of%-range f64 value to u8", errmsg(function() return T.new { 256 }:astype("u8") end))
    assert.matches("to i64", errmsg(function() return T.new { 1 / 0 }:astype("i64") end))
    -- integer narrowing wraps as in NumPy's astype
    assert.same({ 44, 255 }, T.new({ 300, -1 }, "i64"):astype("u8"):totable())
  end)

  it("prints integers and booleans", function()
    assert.equal("tensor i64 [3]\n[1, -2, 3]", tostring(T.new({ 1, -2, 3 }, "i64")))
    assert.equal("tensor bool [2]\n[true, false]", tostring(T.new({ true, false }, "bool")))
    assert.equal("tensor u8 [2,1]\n[[7],\n [9]]", tostring(T.new({ { 7 }, { 9 } }, "u8")))
  end)

  it("reduces integers exactly: sums are i64, means f64, argmax/argmin i64 indices", function()
    local t = T.new({ { 1, 5, 3 }, { 4, 2, 6 } }, "i32")
    assert.equal(21, t:sum())
    assert.equal("integer", math.type(t:sum()))
    assert.equal(3.5, t:mean())
    assert.equal(6, t:max())
    assert.equal("i64", t:sum(1):dtype())
    assert.same({ 5, 7, 9 }, t:sum(1):totable())
    assert.equal("f64", t:mean(2):dtype())
    assert.equal("i32", t:max(2):dtype())
    assert.equal("i64", t:argmax(2):dtype())
    assert.same({ 2, 3 }, t:argmax(2):totable())
    assert.equal(3, T.new({ true, false, true, true }, "bool"):sum())
  end)

  it("argmax of an f32 tensor longer than 2^24 returns the exact index", function()
    local n = (1 << 24) + 3
    local t = T.zeros({ n }, "f32")
    t:set(n, 1)
    assert.equal(n, t:argmax())
    assert.equal("integer", math.type(t:argmax()))
    t:set(n, -1)
    assert.equal(n, t:argmin())
  end)

  it("linspace near the largest doubles stays finite", function()
    assert.same({ -1e308, 0, 1e308 }, T.linspace(-1e308, 1e308, 3):totable())
  end)

  it("saves and loads .npy for every dtype", function()
    for _, dt in ipairs(DTYPES) do
      local vals = dt == "bool" and { true, false, true, true, false, false } or { 1, 2, 3, 4, 5, 6 }
      local a = T.new(vals, dt):reshape { 2, 3 }
      local p = os.tmpname()
      a:save(p)
      local b = T.load(p)
      os.remove(p)
      assert.equal(dt, b:dtype())
      assert.same(a:totable(), b:totable())
    end
  end)

  it("reads and writes every dtype as NumPy does (skipped when python3-numpy is absent)", function()
    if not have_numpy() then
      pending("python3-numpy not installed: NumPy dtype cross-check skipped")
      return
    end
    local np = { f32 = "float32", f64 = "float64", i32 = "int32", i64 = "int64", u8 = "uint8", bool = "bool_" }
    for _, dt in ipairs(DTYPES) do
      local vals = dt == "bool" and { true, false, true } or { 3, 1, 2 }
      local p1, p2 = os.tmpname() .. ".npy", os.tmpname() .. ".npy"
      T.new(vals, dt):save(p1)
      local cmd = ("/usr/bin/python3 -c \"import numpy as np; x = np.load('%s'); assert x.dtype == np.%s, x.dtype; "
        .. "np.save('%s', x[::-1].copy()); print(x.tolist())\""):format(p1, np[dt], p2)
      local pipe = io.popen(cmd)
      local out = pipe:read("a")
      assert.is_true(pipe:close())
      local want = (dt == "bool" and "True, False, True") or ((dt == "f32" or dt == "f64") and "3.0, 1.0, 2.0") or "3, 1, 2"
      assert.truthy(out:find(want, 1, true), out)
      local b = T.load(p2)
      assert.equal(dt, b:dtype())
      local rev = { vals[3], vals[2], vals[1] }
      assert.same(rev, b:totable())
      os.remove(p1)
      os.remove(p2)
    end
  end)
end)
