local T = require "moonlab.tensor"

local function have_numpy() return require("moonlab.bench").python_has("numpy") end

local function raw_npy(header, data)
  local p = os.tmpname()
  local f = assert(io.open(p, "wb"))
  f:write("\147NUMPY\1\0", string.pack("<I2", #header), header, data or "")
  f:close()
  return p
end

local function padded(dict)
  return dict .. (" "):rep((64 - (10 + #dict + 1) % 64) % 64) .. "\n"
end

local function load_err(header, data)
  local p = raw_npy(header, data)
  local ok, e = pcall(T.load, p)
  os.remove(p)
  assert.is_false(ok, "expected an error for header " .. header)
  return tostring(e)
end

describe(".npy header validation (what NumPy rejects is rejected)", function()
  it("a header that ends right after 'descr': is an error, not a read past the end", function()
    assert.matches("^tensor.load: .*malformed .npy header", load_err("{'descr':"))
    assert.matches("malformed .npy header", load_err("{'descr': "))
    assert.matches("malformed .npy header", load_err("{'descr'"))
    assert.matches("malformed .npy header", load_err("{"))
  end)

  it("rejects malformed dtype strings and unsupported ones with different messages", function()
    local d8 = ("\0"):rep(16)
    for _, descr in ipairs { "<f8x", "<>f8", "xyz", "", "<", "f", "<f", "<f8 " } do
      local m = load_err(padded(("{'descr': '%s', 'fortran_order': False, 'shape': (2,), }"):format(descr)), d8)
      assert.matches("malformed .npy header %(invalid descr", m)
    end
    assert.matches("unsupported dtype '<c16'", load_err(padded("{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }"), d8))
    assert.matches("unsupported dtype '|i1'", load_err(padded("{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }"), d8))
  end)

  it("rejects junk, extra or missing keys and non-tuple shapes", function()
    local d8 = ("\0"):rep(16)
    assert.matches("junk after the dict", load_err(padded("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), } junk"), d8))
    assert.matches("unexpected key 'extra'", load_err(padded("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'extra': 1}"), d8))
    assert.matches("needs descr, fortran_order, shape", load_err(padded("{'descr': '<f8', 'shape': (2,), }"), d8))
    assert.matches("shape %(n%) is not a tuple", load_err(padded("{'descr': '<f8', 'fortran_order': False, 'shape': (2), }"), d8))
    assert.matches("shape is not a tuple of sizes", load_err(padded("{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }"), d8))
    assert.matches("shape is not a tuple of sizes", load_err(padded("{'descr': '<f8', 'fortran_order': False, 'shape': (2 3), }"), d8))
    assert.matches("fortran_order is not True or False", load_err(padded("{'descr': '<f8', 'fortran_order': 0, 'shape': (2,), }"), d8))
    assert.matches("bool array holds byte 2", load_err(padded("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }"), "\1\2"))
  end)

  it("reads big-endian, Fortran-order, native-order and zero-size arrays as NumPy does", function()
    local p = raw_npy(padded("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }"), string.pack(">d>d", 1.5, -2))
    assert.same({ 1.5, -2 }, T.load(p):totable())
    os.remove(p)
    p = raw_npy(padded("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }"), string.pack("<i4<i4<i4<i4<i4<i4", 1, 4, 2, 5, 3, 6))
    assert.same({ { 1, 2, 3 }, { 4, 5, 6 } }, T.load(p):totable())
    os.remove(p)
    p = raw_npy(padded("{\"descr\": \"f8\", \"fortran_order\": False, \"shape\": (1,)}"), string.pack("<d", 7))
    assert.same({ 7 }, T.load(p):totable())
    os.remove(p)
    p = raw_npy(padded("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3), }"))
    local e = T.load(p)
    os.remove(p)
    assert.same({ 0, 3 }, e:shape())
    assert.equal(0, e:numel())
  end)
end)

describe(".npy I/O", function()
  it("round-trips f32 and f64 of several shapes bit-exactly", function()
    for _, dt in ipairs { "f32", "f64" } do
      for _, shape in ipairs { { 7 }, { 2, 3 }, { 2, 1, 4, 3 } } do
        local a = T.randn(shape, { seed = 11, dtype = dt })
        local p = os.tmpname()
        a:save(p)
        local b = T.load(p)
        os.remove(p)
        assert.equal(dt, b:dtype())
        assert.same(shape, b:shape())
        assert.equal(0, (a - b):abs():max())
      end
    end
  end)

  it("writes the NumPy v1.0 header with 64-byte aligned data", function()
    local p = os.tmpname()
    T.new({ { 1, 2, 3 }, { 4, 5, 6 } }, "f32"):save(p)
    local f = assert(io.open(p, "rb"))
    local s = f:read("a")
    f:close()
    os.remove(p)
    assert.equal("\147NUMPY\1\0", s:sub(1, 8))
    local hlen = string.unpack("<I2", s, 9)
    assert.equal(0, (10 + hlen) % 64)
    assert.truthy(s:find("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 1, true))
    assert.equal(10 + hlen + 24, #s)
    assert.equal(6, string.unpack("<f", s, 10 + hlen + 21))
  end)

  it("reads a v2.0 header", function()
    local dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"
    local h = dict .. (" "):rep((64 - (12 + #dict + 1) % 64) % 64) .. "\n"
    local p = os.tmpname()
    local f = assert(io.open(p, "wb"))
    f:write("\147NUMPY\2\0", string.pack("<I4", #h), h, string.pack("<dd", 1.25, -3))
    f:close()
    assert.same({ 1.25, -3 }, T.load(p):totable())
    os.remove(p)
  end)

  it("cross-checks with NumPy both ways (skipped when python3-numpy is absent)", function()
    if not have_numpy() then
      pending("python3-numpy not installed: NumPy cross-check skipped")
      return
    end
    local a = T.randn({ 3, 4 }, { seed = 5 })
    local p1, p2 = os.tmpname() .. ".npy", os.tmpname() .. ".npy"
    a:save(p1)
    local cmd = ("/usr/bin/python3 -c \"import numpy as np; x = np.load('%s'); "
      .. "np.save('%s', (x @ x.T).astype(np.float32)); print(repr(float(x.sum())))\""):format(p1, p2)
    local pipe = io.popen(cmd)
    local out = pipe:read("a")
    assert.is_true(pipe:close())
    assert.is_close(tonumber(out), a:sum(), { rtol = 1e-14 })
    local b = T.load(p2)
    assert.equal("f32", b:dtype())
    assert.is_close(b, a:matmul(a:transpose()), { rtol = 1e-6, atol = 1e-6 })
    os.remove(p1)
    os.remove(p2)
  end)

  it("overwrites an existing file in place: longer, shorter and equal files end with the new bytes only", function()
    local p = os.tmpname()
    local function bytes()
      local f = assert(io.open(p, "rb"))
      local s = f:read("a")
      f:close()
      return s
    end
    local big, small = T.randn({ 5000 }, { seed = 1 }), T.new({ 7, 8, 9 }, "i32")
    big:save(p)
    local n_big = #bytes()
    small:save(p) -- over a longer file: cut to the new length
    local s = bytes()
    assert.equal(10 + string.unpack("<I2", s, 9) + 12, #s) -- header + 3 i32, nothing of the old file after them
    assert.same({ 7, 8, 9 }, T.load(p):totable())
    big:save(p) -- over a shorter file
    assert.equal(n_big, #bytes())
    assert.equal(0, (T.load(p) - big):abs():max())
    local other = T.randn({ 5000 }, { seed = 2 })
    other:save(p) -- same length: every byte replaced
    assert.equal(0, (T.load(p) - other):abs():max())
    os.remove(p)
  end)

  it("loads files above 16 MiB (read split among the threads) of every dtype bit-exactly, and truncated ones fail", function()
    local ml = require "moonlab"
    local saved = ml.get_threads()
    local n = 5 * 1048576 -- 20 MiB of f32 / i32, 40 MiB of f64 / i64; u8 and bool stay below the split
    for _, dt in ipairs { "f32", "f64", "i32", "i64", "u8", "bool" } do
      local a = dt == "bool" and T.rand({ n }, { seed = 3 }):gt(0.5)
        or dt == "u8" and (T.rand({ n }, { seed = 3 }) * 255):astype(dt)
        or (T.randn({ n }, { seed = 3 }) * 100):astype(dt)
      local p = os.tmpname()
      a:save(p)
      for _, th in ipairs { 1, 2 } do
        ml.set_threads(th)
        local b = T.load(p)
        assert.equal(dt, b:dtype())
        assert.is_true(b:eq(a):all(), dt .. " threads " .. th)
        b:close()
      end
      ml.set_threads(saved)
      if dt == "f64" then -- cut the file short by one element: an error, not garbage
        local f = assert(io.open(p, "rb"))
        local s = f:read("a")
        f:close()
        f = assert(io.open(p, "wb"))
        f:write(s:sub(1, #s - 8))
        f:close()
        local ok, e = pcall(T.load, p)
        assert.is_false(ok)
        assert.matches("truncated .npy file", tostring(e))
      end
      os.remove(p)
    end
  end)

  it("loads an empty Fortran-order array (a libFuzzer find: division by zero in the tiled copy)", function()
    local root = os.getenv("MOONLAB_ROOT") or "."
    local t = T.load(root .. "/fuzz/corpus/npy/fortran_zero_rows.npy")
    assert.same({ 0, 3 }, t:shape())
    assert.equal(0, t:numel())
  end)
end)
