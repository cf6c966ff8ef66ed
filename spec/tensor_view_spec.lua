local T = require "moonlab.tensor"

local errmsg = require("spec.helpers.errors").errmsg

-- plain-Lua reference: element (1-based index list) of a nested table
local function at(t, idx)
  for _, i in ipairs(idx) do t = t[i] end
  return t
end

-- elements in row-major order, through totable (nested tables walked in Lua)
local function flat(t)
  local out = {}
  local function walk(x) if type(x) == "table" then for _, v in ipairs(x) do walk(v) end else out[#out + 1] = x end end
  walk(t:totable())
  return out
end

describe("tensor views share storage", function()
  it("select, narrow and slice are views with the right elements", function()
    local a = T.arange(24):reshape { 2, 3, 4 }
    local ref = a:totable()
    local s = a:select(2, 3)
    assert.same({ 2, 4 }, s:shape())
    assert.same({ ref[1][3], ref[2][3] }, s:totable())
    local n = a:narrow(3, 2, 2)
    assert.same({ 2, 3, 2 }, n:shape())
    assert.equal(ref[2][1][3], n:get(2, 1, 2))
    local sl = a:slice(3, 1, 4, 2) -- 1..4 every 2: elements 1, 3
    assert.same({ 2, 3, 2 }, sl:shape())
    assert.equal(ref[1][2][3], sl:get(1, 2, 2))
    assert.same({ 2, 3, 1 }, a:slice(3, -1, -1):shape())
    assert.equal(ref[2][3][4], a:slice(3, -1, -1):get(2, 3, 1))
    -- writes through a view reach the base
    s:fill(-5)
    assert.equal(-5, a:get(1, 3, 2))
    n:set(1, 1, 1, 99)
    assert.equal(99, a:get(1, 1, 2))
  end)

  it("transpose, permute, t and diagonal are views with permuted strides", function()
    local a = T.arange(24):reshape { 2, 3, 4 }
    local ref = a:totable()
    local p = a:permute(3, 1, 2)
    assert.same({ 4, 2, 3 }, p:shape())
    assert.is_false(p:is_contiguous())
    for i = 1, 4 do for j = 1, 2 do for k = 1, 3 do assert.equal(ref[j][k][i], p:get(i, j, k)) end end end
    assert.same({ 4, 3, 2 }, a:transpose(1, 3):shape())
    assert.same({ 2, 4, 3 }, a:transpose():shape())
    local m = T.arange(6):reshape { 2, 3 }
    assert.same({ { 0, 3 }, { 1, 4 }, { 2, 5 } }, m:t():totable())
    assert.same({ 1, 6, 2 }, m:t():strides() and { 1, 6, 2 } or nil)
    assert.same({ 0, 4 }, m:diagonal():totable())
    assert.same({ 0, 4, 8 }, T.arange(9):reshape { 3, 3 }:diagonal():totable())
    m:t():set(2, 1, 100)
    assert.equal(100, m:get(1, 2))
  end)

  it("unsqueeze, squeeze, expand and view", function()
    local a = T.new { 1, 2, 3 }
    assert.same({ 1, 3 }, a:unsqueeze(1):shape())
    assert.same({ 3, 1 }, a:unsqueeze(2):shape())
    assert.same({ 3, 1 }, a:unsqueeze(-1):shape())
    assert.same({ 3 }, a:unsqueeze(1):unsqueeze(3):squeeze():shape())
    assert.same({ 1, 3 }, a:unsqueeze(1):unsqueeze(3):squeeze(3):shape())
    local e = a:unsqueeze(1):expand { 4, 3 }
    assert.same({ 4, 3 }, e:shape())
    assert.same({ 0, 1 }, e:strides())
    assert.same({ { 1, 2, 3 }, { 1, 2, 3 }, { 1, 2, 3 }, { 1, 2, 3 } }, e:totable())
    assert.same({ 2, 4, 3 }, a:expand { 2, 4, -1 }:shape())
    local b = T.arange(12)
    local v = b:view(3, 4)
    v:set(3, 4, -1)
    assert.equal(-1, b:get(12))
    assert.same({ 2, 6 }, v:view { 2, -1 }:shape())
    -- a transposed tensor can be viewed only where strides allow it
    local t = T.arange(24):reshape { 2, 3, 4 }:transpose(2, 3) -- [2,4,3]
    assert.same({ 2, 12 }, t:reshape { 2, 12 }:shape())
    local sp = t:view { 2, 2, 2, 3 } -- splitting a dim never needs a copy
    assert.same({ 2, 2, 2, 3 }, sp:shape())
    assert.equal(t:get(2, 3, 2), sp:get(2, 2, 1, 2))
    assert.matches("tensor:view: bad argument #2 'shape': the strides of this tensor do not allow that shape",
      errmsg(t.view, t, { 2, 12 }))
    -- reshape copies when a view is impossible, with the right values
    local r = t:reshape { 24 }
    local tt = t:totable()
    local k = 0
    for i = 1, 2 do for j = 1, 4 do for l = 1, 3 do k = k + 1; assert.equal(tt[i][j][l], r:get(k)) end end end
  end)

  it("contiguous copies only when needed", function()
    local a = T.arange(6):reshape { 2, 3 }
    assert.is_true(a:is_contiguous())
    assert.equal(a, a:contiguous())
    local t = a:t()
    local c = t:contiguous()
    assert.is_true(c:is_contiguous())
    assert.same(t:totable(), c:totable())
    c:set(1, 1, 50)
    assert.equal(0, a:get(1, 1))
  end)

  it("views of views, and views that outlive a collected parent", function()
    local v
    do
      local base = T.arange(60):reshape { 3, 4, 5 }
      v = base:select(1, 2):t():narrow(1, 2, 3) -- [3,4] view of base[2][:, 2..4]^T
    end
    collectgarbage()
    collectgarbage()
    assert.same({ 3, 4 }, v:shape())
    -- base[2][j][i] = 20 + 5 (j-1) + (i-1); v[r][c] = base[2][c][r + 1]
    for r = 1, 3 do for c = 1, 4 do assert.equal(20 + 5 * (c - 1) + r, v:get(r, c)) end end
    local w = v:slice(2, 1, 4, 3):unsqueeze(1)
    assert.same({ 1, 3, 2 }, w:shape())
    assert.equal(20 + 15 + 2, w:get(1, 2, 2))
  end)

  it("a non-contiguous view passed to a C core arrives as a contiguous copy", function()
    local a = T.randn({ 4, 5 }, { seed = 3 })
    local t = a:t() -- [5,4], strided
    local b = T.randn({ 4, 3 }, { seed = 4 })
    local ref = t:contiguous():matmul(b)
    assert.equal(0, (t:matmul(b) - ref):abs():max())
    -- a core that reads through mlL_checktensor: laplace's tensor-valued time grid
    local laplace = require "moonlab.laplace"
    local grid = T.linspace(0.5, 2, 8):reshape { 2, 4 }:t()
    local f = function(s) return 1 / (s + 1) end
    local ok, res = pcall(laplace.invert, f, grid)
    if ok then
      local plain = laplace.invert(f, grid:contiguous())
      assert.same(plain:totable(), res:totable())
    end
  end)

  it("reshape of permuted, expanded and narrowed views reads the right elements (view when strides allow)", function()
    local a = T.randn({ 2, 1, 4, 5 }, { seed = 11 })
    local cases = {
      { a:permute { 2, 1, 3, 4 }:expand { 3, 2, 4, 5 }, { 3, 8, 5 } },
      { a:permute { 2, 1, 3, 4 }:expand { 3, 2, 4, 5 }, { 6, 20 } },
      { a:expand { 2, 3, 4, 5 }, { 6, 20 } },
      { a:narrow(3, 2, 2), { 2, 10 } },
      { a:view(2, 4, 5):transpose(2, 3), { 2, 20 } },
      { a:view(8, 5):narrow(2, 1, 4):view(2, 4, 4):permute { 2, 1, 3 }, { 4, 8 } },
    }
    for k, c in ipairs(cases) do
      local want = flat(c[1]:contiguous())
      assert.same(want, flat(c[1]:reshape(c[2])), "case " .. k)
      local ok, v = pcall(c[1].view, c[1], c[2])
      if ok then assert.same(want, flat(v), "view case " .. k) end
    end
  end)
end)

describe("tensor indexing syntax", function()
  it("t[i] selects along dim 1 (a number for 1-D), negatives count from the end", function()
    local a = T.arange(12):reshape { 3, 4 }
    assert.same({ 4, 5, 6, 7 }, a[2]:totable())
    assert.same({ 8, 9, 10, 11 }, a[-1]:totable())
    assert.equal(6, a[2][3])
    assert.equal(11, a[-1][-1])
    assert.equal("number", type(T.new { 1, 2 }[2]))
    assert.equal("function", type(a.sum)) -- method names still resolve
  end)

  it("t[{...}] takes Torch7-style ranges", function()
    local a = T.arange(24):reshape { 2, 3, 4 }
    local ref = a:totable()
    local v = a[{ { 1, 2 }, 2, {} }]
    assert.same({ 2, 4 }, v:shape())
    for i = 1, 2 do for k = 1, 4 do assert.equal(ref[i][2][k], v:get(i, k)) end end
    assert.same({ 2, 1, 4 }, a[{ {}, { 3 } }]:shape())
    assert.equal(ref[2][3][4], a[{ 2, 3, 4 }])
    assert.equal(ref[2][3][4], a[{ -1, -1, -1 }])
    assert.same({ 2, 3, 2 }, a[{ {}, {}, { 1, -1, 2 } }]:shape())
    assert.equal(ref[1][1][3], a[{ {}, {}, { 1, -1, 2 } }]:get(1, 1, 2))
    assert.same({ 2, 3, 0 }, a[{ {}, {}, { 3, 2 } }]:shape()) -- empty range
  end)

  it("t[i] = x and t[{...}] = x assign scalars and broadcast tensors", function()
    local a = T.zeros { 3, 4 }
    a[2] = 5
    a[{ {}, 1 }] = T.new { 1, 2, 3 }
    a[{ 3, { 2, 4 } }] = T.new { 7, 8, 9 }
    a[{ 1, -1 }] = -1
    assert.same({ { 1, 0, 0, -1 }, { 2, 5, 5, 5 }, { 3, 7, 8, 9 } }, a:totable())
    a[{ { 1, 2 }, { 2, 3 } }] = T.new { 10, 20 } -- broadcast over rows
    assert.same({ { 1, 10, 20, -1 }, { 2, 10, 20, 5 }, { 3, 7, 8, 9 } }, a:totable())
    -- overlapping source and destination are copied first
    local b = T.arange(5)
    b[{ { 2, 5 } }] = b[{ { 1, 4 } }]
    assert.same({ 0, 0, 1, 2, 3 }, b:totable())
    local i = T.zeros({ 3 }, "i64")
    i[2] = 7
    assert.same({ 0, 7, 0 }, i:totable())
  end)

  it("bool masks and index tensors index and assign", function()
    local a = T.new { { 1, -2, 3 }, { -4, 5, -6 } }
    local m = a:lt(0)
    assert.equal("bool", m:dtype())
    assert.same({ -2, -4, -6 }, a[m]:totable())
    assert.same({ -2, -4, -6 }, a:masked_select(m):totable())
    assert.same({ { 1, 0, 3 }, { 0, 5, 0 } }, a:masked_fill(m, 0):totable())
    assert.same({ { 1, -2, 3 }, { -4, 5, -6 } }, a:totable()) -- masked_fill copies
    a[m] = 0
    assert.same({ { 1, 0, 3 }, { 0, 5, 0 } }, a:totable())
    local rows = T.new({ 2, 1, 2 }, "i64")
    assert.same({ { 0, 5, 0 }, { 1, 0, 3 }, { 0, 5, 0 } }, a[rows]:totable())
    assert.same({ { 3, 1 }, { 0, 0 } }, a:index(2, { -1, 1 }):totable())
    a:index_put(2, { 1, 3 }, T.new { 8, 9 })
    assert.same({ { 8, 0, 9 }, { 8, 5, 9 } }, a:totable())
    a[T.new({ 2 }, "i64")] = -3
    assert.same({ { 8, 0, 9 }, { -3, -3, -3 } }, a:totable())
    -- a 1-D value with one entry per selected element is scattered in order (NumPy's a[m] = v)
    local c = T.new { { 1, -2, 3 }, { -4, 5, -6 } }
    local neg = c:lt(0)
    c[neg] = c[neg]:mul(10)
    assert.same({ { 1, -20, 3 }, { -40, 5, -60 } }, c:totable())
    assert.matches("tensor:masked_scatter_: bad argument #3 'src': %[2%] values for 3 selected elements", errmsg(function() c[c:lt(0)] = T.new { 1, 2 } end))
    -- a row mask broadcast over columns
    local rm = T.new({ { true }, { false } }, "bool")
    assert.same({ 8, 0, 9 }, a:masked_select(rm):totable())
  end)

  it("out-of-range and malformed indices raise clear errors", function()
    local a = T.zeros { 2, 3 }
    assert.matches("tensor.__index: bad argument #2 'index': index 3 out of range 1..2 %(or %-2..%-1%) for dim 1", errmsg(function() return a[3] end))
    assert.matches("index 0 out of range", errmsg(function() return a[0] end))
    assert.matches("index %-4 out of range 1..3", errmsg(function() return a[{ 1, -4 }] end))
    assert.matches("the index has 3 entries for a 2%-dim tensor", errmsg(function() return a[{ 1, 1, 1 }] end))
    assert.matches("range 2..5 out of 1..3 for dim 2", errmsg(function() return a[{ {}, { 2, 5 } }] end))
    assert.matches("expected a number, a table of ranges or a tensor, got boolean", errmsg(function() return a[true] end))
    assert.matches("tensor.__newindex: value of shape %[4%] does not broadcast to the indexed shape %[3%]",
      errmsg(function() a[1] = T.zeros { 4 } end))
    assert.matches("tensor:select: bad argument #2 'dim': expected a dim in 1..2", errmsg(a.select, a, 3, 1))
    assert.matches("tensor:narrow: bad argument #4 'length'", errmsg(a.narrow, a, 2, 2, 5))
    assert.matches("tensor:slice: bad argument #5 'step': expected a positive step", errmsg(a.slice, a, 1, 1, 2, 0))
    assert.matches("tensor:permute: bad argument #2 'dims': expected 2 dims", errmsg(a.permute, a, 1))
    assert.matches("tensor:permute: not a permutation", errmsg(a.permute, a, 1, 1))
    assert.matches("tensor:expand: bad argument #2 'shape': dim 2 has size 3, which cannot expand to 4", errmsg(a.expand, a, { 2, 4 }))
    assert.matches("tensor:squeeze: bad argument #2 'dim': dim 1 has size 2, not 1", errmsg(a.squeeze, a, 1))
    assert.matches("tensor:masked_select: bad argument #2 'mask': expected a bool tensor, got f64", errmsg(a.masked_select, a, a))
    assert.matches("tensor:index: bad argument #3 'index': index 4 out of range 1..3", errmsg(a.index, a, 2, { 4 }))
    assert.matches("tensor:index: bad argument #3 'index': expected an integer tensor", errmsg(a.index, a, 2, a))
  end)
end)
