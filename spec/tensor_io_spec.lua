local T = require "moonlab.tensor"

local errmsg = require("spec.helpers.errors").errmsg

local function have_numpy() return require("moonlab.bench").python_has("numpy") end

describe(".npz archives", function()
  it("round-trips every dtype, stored and deflated", function()
    for _, compressed in ipairs { false, true } do
      local arrays = {
        a = T.randn({ 3, 4 }, { seed = 1 }), b = T.randn({ 5 }, { seed = 2, dtype = "f32" }),
        c = T.new({ 1, -2, 3 }, "i32"), d = T.new({ 7, 8 }, "i64"), e = T.new({ 255, 0 }, "u8"),
        f = T.new({ true, false }, "bool"), g = T.arange(12):reshape { 3, 4 }:t(), -- a strided view
      }
      local p = os.tmpname()
      T.save_npz(p, arrays, { compressed = compressed })
      local back = T.load_npz(p)
      local same = T.load(p) -- load detects the zip signature
      os.remove(p)
      for k, v in pairs(arrays) do
        assert.equal(v:dtype(), back[k]:dtype())
        assert.same(v:shape(), back[k]:shape())
        assert.same(v:totable(), back[k]:totable())
        assert.same(v:totable(), same[k]:totable())
      end
    end
  end)

  it("compressed archives are smaller for redundant data", function()
    local z = T.zeros { 10000 }
    local p1, p2 = os.tmpname(), os.tmpname()
    T.save_npz(p1, { z = z })
    T.save_npz(p2, { z = z }, { compressed = true })
    local s1 = io.open(p1, "rb"):seek("end")
    local s2 = io.open(p2, "rb"):seek("end")
    os.remove(p1)
    os.remove(p2)
    assert.is_true(s2 < s1 / 10)
  end)

  it("reads NumPy's savez and savez_compressed and NumPy reads ours (skipped without python3-numpy)", function()
    if not have_numpy() then
      pending("python3-numpy not installed: .npz cross-check skipped")
      return
    end
    local p1, p2 = os.tmpname() .. ".npz", os.tmpname() .. ".npz"
    local ok = os.execute(("/usr/bin/python3 -c \"import numpy as np; np.savez_compressed('%s', x=np.arange(6, dtype=np.int64).reshape(2, 3), "
      .. "y=np.array([True, False]), z=np.array([1.5], dtype=np.float32))\""):format(p1))
    assert.is_truthy(ok)
    local t = T.load(p1)
    assert.same({ { 0, 1, 2 }, { 3, 4, 5 } }, t.x:totable())
    assert.equal("i64", t.x:dtype())
    assert.same({ true, false }, t.y:totable())
    assert.equal("f32", t.z:dtype())
    T.save_npz(p2, { w = T.new { { 1, 2 }, { 3, 4 } }, m = T.new({ true }, "bool") }, { compressed = true })
    local pipe = io.popen(("/usr/bin/python3 -c \"import numpy as np; d = np.load('%s'); print(int(d['w'].sum()), d['w'].dtype, d['m'].dtype)\""):format(p2))
    local out = pipe:read("a")
    pipe:close()
    assert.matches("10 float64 bool", out)
    os.remove(p1)
    os.remove(p2)
  end)

  it("reports corrupt archives", function()
    local p = os.tmpname()
    T.save_npz(p, { a = T.arange(100) }, { compressed = true })
    local f = io.open(p, "rb")
    local s = f:read("a")
    f:close()
    -- flip a byte inside the deflated member
    local i = 60
    s = s:sub(1, i - 1) .. string.char((s:byte(i) + 1) % 256) .. s:sub(i + 1)
    f = io.open(p, "wb")
    f:write(s)
    f:close()
    local e = errmsg(T.load_npz, p)
    assert.matches("^tensor.load_npz: ", e)
    assert.is_truthy(e:find("corrupt deflate data", 1, true) or e:find("CRC mismatch", 1, true) or e:find("malformed", 1, true))
    f = io.open(p, "wb")
    f:write("PK\3\4 not really a zip")
    f:close()
    assert.matches("tensor.load: .*not a .npz %(zip%) file", errmsg(T.load, p))
    os.remove(p)
    assert.matches("tensor.save_npz: bad argument #2 'arrays': 'x' is number, expected an open tensor", errmsg(T.save_npz, p, { x = 1 }))
  end)
end)

describe("CSV", function()
  it("writes and reads a 2-D tensor with a header", function()
    local t = T.new { { 1.5, -2, 1e-300 }, { 0.1, 3, 4 } }
    local p = os.tmpname()
    t:to_csv(p, { header = { "a", "b,c", "d" } })
    local f = io.open(p)
    local text = f:read("a")
    f:close()
    assert.equal('a,"b,c",d\n1.5,-2,1e-300\n0.10000000000000001,3,4\n', text)
    local r, names = T.read_csv(p)
    assert.same({ "a", "b,c", "d" }, names)
    assert.same(t:totable(), r:totable()) -- %.17g round-trips doubles exactly
    assert.matches("row 1, column 1: 1.5 is not an integer for dtype i64", errmsg(T.read_csv, p, { dtype = "i64" }))
    T.new({ { 1, 2 }, { 3, 4 } }, "i64"):to_csv(p)
    local i = T.read_csv(p, { dtype = "i64", header = false })
    os.remove(p)
    assert.equal("i64", i:dtype())
    assert.same({ { 1, 2 }, { 3, 4 } }, i:totable())
  end)

  it("other delimiters, no header, missing values as NaN, clear errors", function()
    local p = os.tmpname()
    local f = io.open(p, "w")
    f:write("1;2\n3;\n")
    f:close()
    local r, names = T.read_csv(p, { header = false, delimiter = ";" })
    assert.is_nil(names)
    assert.equal(3, r:get(2, 1))
    assert.is_true(r:get(2, 2) ~= r:get(2, 2))
    f = io.open(p, "w")
    f:write("x,y\n1,2\n3,abc\n")
    f:close()
    assert.matches("tensor.read_csv: .*line 3, column 2: 'abc' is not a number", errmsg(T.read_csv, p))
    f = io.open(p, "w")
    f:write("x,y\n1,2\n3\n")
    f:close()
    assert.matches("line 3 has 1 columns, expected 2", errmsg(T.read_csv, p))
    os.remove(p)
    assert.matches("tensor:to_csv: bad argument #1 'self': expected a 2%-D tensor", errmsg(function() T.zeros { 3 }:to_csv(p) end))
    assert.matches("option 'header' must be a list of 2 column names", errmsg(function() T.zeros { 1, 2 }:to_csv(p, { header = { "a" } }) end))
    assert.matches("tensor.read_csv: cannot open /nonexistent", errmsg(T.read_csv, "/nonexistent/x.csv"))
  end)
end)

describe("conversions and printing", function()
  it("from_table builds from a flat table quickly and exactly", function()
    local t = {}
    for i = 1, 100000 do t[i] = i * 0.5 end
    local x = T.from_table(t)
    assert.same({ 100000 }, x:shape())
    assert.equal(50000, x:get(100000))
    local m = T.from_table({ 1, 2, 3, 4, 5, 6 }, { 2, -1 }, "i64")
    assert.same({ { 1, 2, 3 }, { 4, 5, 6 } }, m:totable())
    assert.matches("tensor.from_table: bad argument #1 'data': element %[2%] is a string", errmsg(T.from_table, { 1, "x" }))
    assert.matches("tensor.from_table: bad argument #2 'shape': cannot infer", errmsg(T.from_table, { 1, 2, 3 }, { 2, -1 }))
    local back = x:totable()
    assert.equal(100000, #back)
    assert.equal(0.5, back[1])
  end)

  it("set_printoptions controls precision, threshold and edge items", function()
    local old = T.set_printoptions { precision = 3 }
    assert.equal(6, old.precision)
    assert.equal("tensor f64 [2]\n[3.14, 2.72]", tostring(T.new { math.pi, math.exp(1) }))
    T.set_printoptions { precision = 6, threshold = 5, edgeitems = 1 }
    assert.equal("tensor f64 [6]\n[0, ..., 5]", tostring(T.arange(6)))
    T.set_printoptions(old)
    assert.equal("tensor f64 [6]\n[0, 1, 2, 3, 4, 5]", tostring(T.arange(6)))
    assert.equal("tensor f64 [3]\n[nan, inf, -inf]", tostring(T.new { 0 / 0, 1 / 0, -1 / 0 }))
    assert.equal("tensor f64 [2,2]\n[[0, 2],\n [1, 3]]", tostring(T.arange(4):reshape { 2, 2 }:t()))
    assert.matches("tensor.set_printoptions: bad argument #1 'precision'", errmsg(T.set_printoptions, { precision = 0 }))
    assert.matches("unknown option 'precison' to tensor.set_printoptions %(did you mean 'precision'%?%)", errmsg(T.set_printoptions, { precison = 3 }))
  end)
end)
