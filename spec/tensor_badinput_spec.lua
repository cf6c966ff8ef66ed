local T = require "moonlab.tensor"
local ml = require "moonlab"

local errmsg = require("spec.helpers.errors").errmsg

local function tmpfile(bytes)
  local p = os.tmpname()
  local f = assert(io.open(p, "wb"))
  f:write(bytes)
  f:close()
  return p
end

local function npy_header(dict, version)
  version = version or 1
  local total = 10 + #dict + 1
  local pad = (64 - total % 64) % 64
  local h = dict .. (" "):rep(pad) .. "\n"
  return "\147NUMPY" .. string.char(version, 0) .. string.pack("<I2", #h) .. h
end

describe("tensor bad input", function()
  it("rejects wrong argument types with the function and argument named", function()
    assert.matches("tensor.new: bad argument #1 'data': expected a %(nested%) table", errmsg(T.new, "abc"))
    assert.matches("tensor.zeros: bad argument #1 'shape': expected a table of sizes, got string", errmsg(T.zeros, "2x3"))
    assert.matches("element %[2%] is a string, expected a number", errmsg(T.new, { 1, "x", 3 }))
    assert.matches("ragged table", errmsg(T.new, { { 1, 2 }, { 3 } }))
    assert.matches("element %[2%] is a number, expected a table", errmsg(T.new, { { 1, 2 }, 3 }))
    assert.matches("empty table", errmsg(T.new, {}))
  end)

  it("rejects negative and fractional sizes (zero sizes make empty tensors)", function()
    assert.same({ 3, 0 }, T.zeros({ 3, 0 }):shape())
    assert.matches("size 1 must be positive or 0, got %-4", errmsg(T.zeros, { -4 }))
    assert.matches("size 1 must be an integer, got 2.5", errmsg(T.zeros, { 2.5 }))
    assert.matches("tensor.new: bad argument #2 'shape': size 2 must be positive or 0", errmsg(T.new, 3, -1))
    assert.matches("at most 8 dims", errmsg(T.zeros, { 1, 1, 1, 1, 1, 1, 1, 1, 1 }))
    assert.matches("tensor.linspace: bad argument #3 'n'", errmsg(T.linspace, 0, 1, 0))
    assert.matches("tensor.arange: bad argument #3 'step': must not be 0", errmsg(T.arange, 0, 1, 0))
    assert.matches("empty range", errmsg(T.arange, 5, 1))
    assert.matches("expected a finite number", errmsg(T.arange, 0, 1 / 0))
  end)

  it("rejects unknown dtypes", function()
    assert.matches("tensor.zeros: bad argument #2 'dtype': expected one of 'f32', 'f64', 'i32', 'i64', 'u8', 'bool', got 'int8'", errmsg(T.zeros, { 2 }, "int8"))
    assert.matches("expected 'f32' or 'f64', got 'f16'", errmsg(T.randn, { 2 }, { seed = 1, dtype = "f16" }))
    assert.matches("tensor:astype: bad argument #2 'dtype'", errmsg(function() return T.ones { 2 }:astype("complex") end))
  end)

  it("requires an explicit seed and catches option typos", function()
    assert.matches("explicit non%-negative integer seed is required", errmsg(T.randn, { 3 }))
    assert.matches("explicit non%-negative integer seed is required", errmsg(T.rand, { 3 }, {}))
    assert.equal("unknown option 'sed' to tensor.randn (did you mean 'seed'?)", errmsg(T.randn, { 3 }, { sed = 1 }):match("unknown.*"))
    assert.matches("option 'seed' must be an integer, got 1.5", errmsg(T.rand, { 3 }, { seed = 1.5 }))
    assert.matches("option 'std' must be a number, got string", errmsg(T.randn, { 3 }, { seed = 1, std = "big" }))
    assert.matches("lo and hi must be finite with lo < hi", errmsg(T.rand, { 3 }, { seed = 1, lo = 2, hi = 1 }))
  end)

  it("rejects mismatched shapes and dtypes in arithmetic and matmul", function()
    local a, b = T.ones { 2, 3 }, T.ones { 3, 2 }
    assert.matches("tensor:add: bad argument #2 'other': shapes %[2,3%] and %[3,2%] do not broadcast", errmsg(function() return a + b end))
    assert.equal("f64", (a * a:astype("f32")):dtype()) -- promoted, as in NumPy
    assert.matches("tensor:matmul: expected f32 or f64 tensors, got i64 and i32", errmsg(function() return a:astype("i64"):matmul(b:astype("i32")) end))
    assert.matches("expected a tensor or a number, got string", errmsg(function() return a + "1" end))
    assert.matches("tensor:matmul: bad argument #2 'other': expected %[M,K%]x%[K,N%]", errmsg(function() return a:matmul(a) end))
    assert.matches("tensor:transpose: bad argument #1 'self': needs at least 2 dims", errmsg(function() return T.ones { 3 }:transpose() end))
    assert.matches("cannot view 6 elements as a shape of 8 elements", errmsg(function() return a:reshape { 2, 4 } end))
  end)

  it("rejects out-of-range and malformed indices", function()
    local t = T.zeros { 2, 3 }
    assert.matches("tensor:get: bad argument #3 'index': index 4 out of range 1..3 for dim 2", errmsg(t.get, t, 1, 4))
    assert.matches("index 0 out of range 1..2 for dim 1", errmsg(t.get, t, 0, 1))
    assert.matches("expected 2 indices for a 2%-dim tensor, got 1", errmsg(t.get, t, 1))
    assert.matches("expected an integer index for dim 1", errmsg(t.get, t, 1.5, 1))
    assert.matches("tensor:set: bad argument #4 'value': expected a number", errmsg(t.set, t, 1, 1, "x"))
    assert.matches("expected a dim in 1..2", errmsg(t.sum, t, 3))
    assert.matches("expected a tensor, got number", errmsg(t.get, 5, 1, 1))
  end)

  it("refuses allocations that cannot succeed instead of crashing", function()
    assert.matches("tensor.zeros: bad argument #1 'shape': cannot allocate 1000000000000000 elements of f64", errmsg(T.zeros, { 1e15 // 1 }))
    assert.matches("tensor.randn: bad argument #1 'shape': cannot allocate", errmsg(T.randn, { 1e14 // 1, 100 }, { seed = 1 }))
    assert.matches("more than 2%^63 elements", errmsg(T.zeros, { 2 ^ 40 // 1, 2 ^ 40 // 1 }))
    assert.matches("tensor.new: bad argument #1 'shape': cannot allocate", errmsg(T.new, 100000, 100000, 1000))
    -- fuzzpass (npy harness, seed 7): with a zero dim the other dims went unchecked and the contiguous strides
    -- (products of the other dims) overflowed int64 (UBSan); an empty tensor of that shape is now refused too
    assert.matches("tensor.zeros: bad argument #1 'shape': tensor of that shape has more than 2%^63 elements %(not counting its zero dims%)",
      errmsg(T.zeros, { 0, 2 ^ 62 // 1, 4 }))
    assert.matches("more than 2%^63 elements", errmsg(T.zeros, { 2 ^ 62 // 1, 4, 0 }))
    local z = T.zeros({ 0, 3 })
    assert.matches("tensor:reshape: bad argument #2 'shape': tensor of that shape has more than 2%^63", errmsg(z.reshape, z, { 0, 2 ^ 62 // 1, 2 ^ 62 // 1 }))
    assert.same({ 0, 2 ^ 31 // 1, 2 ^ 31 // 1 }, T.zeros({ 0, 2 ^ 31 // 1, 2 ^ 31 // 1 }):shape()) -- in range: fine
    local p = tmpfile("\x93NUMPY\x01\x00v\x00{'descr': 'b1', 'fortran_order': True, 'shape': (5, 3, 1, 32222222222222222, 10, 0, 10, 2), }" .. (" "):rep(40) .. "\n")
    assert.matches("tensor.load: .*more than 2%^63 elements", errmsg(T.load, p))
    os.remove(p)
  end)

  it("reports malformed and truncated .npy files", function()
    assert.matches("tensor.load: cannot open /nonexistent/x.npy", errmsg(T.load, "/nonexistent/x.npy"))
    local p = tmpfile("hello world, not numpy")
    assert.matches("not a .npy file %(bad magic%)", errmsg(T.load, p))
    os.remove(p)
    p = tmpfile("\147NUM")
    assert.matches("not a .npy file", errmsg(T.load, p))
    os.remove(p)
    p = tmpfile(npy_header("{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }") .. ("\0"):rep(16))
    assert.matches("unsupported dtype '<i2' %(expected f4, f8, i4, i8, u1 or b1%)", errmsg(T.load, p))
    os.remove(p)
    p = tmpfile(npy_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1000,), }") .. ("\0"):rep(80))
    assert.matches("truncated .npy file", errmsg(T.load, p))
    os.remove(p)
    p = tmpfile(npy_header("{'descr': '<f8', 'shape': (2,), }") .. ("\0"):rep(16))
    assert.matches("malformed .npy header", errmsg(T.load, p))
    os.remove(p)
    p = tmpfile("\147NUMPY\1\0\200\0{'descr'")
    assert.matches("truncated .npy file", errmsg(T.load, p))
    os.remove(p)
    p = tmpfile("\147NUMPY\9\0\10\0abcdefghij")
    assert.matches("unsupported .npy version 9.0", errmsg(T.load, p))
    os.remove(p)
    assert.matches("tensor:save: cannot open /nonexistent/dir/x.npy for writing",
      errmsg(function() return T.ones { 2 }:save("/nonexistent/dir/x.npy") end))
  end)
end)

describe("umbrella bad input", function()
  it("set_threads rejects non-positive and non-integer counts", function()
    assert.matches("moonlab.set_threads: bad argument #1 'n': expected an integer in 1..4096, got 0", errmsg(ml.set_threads, 0))
    assert.matches("got 1.5", errmsg(ml.set_threads, 1.5))
    assert.matches("got no value", errmsg(ml.set_threads))
  end)
end)
