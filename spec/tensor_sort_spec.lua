-- t:sort / t:argsort against a brute-force stable reference written in Lua (table.sort on positions with ties
-- broken by position): every dtype, lines short (insertion sort) and long (radix, split among 2 threads above
-- 65536 elements), both directions, -0.0/+0.0 (tie; each keeps its sign), infinities, NaN (last; first when
-- descending), duplicates, all-equal lines, sorts along the first and the last dim, argsort alone.
local ml = require "moonlab"
local T = require "moonlab.tensor"

local function num(v)
  if v == true then return 1 elseif v == false then return 0 end
  return v
end

-- stable reference order of the Lua array xs (1-based positions)
local function ref_order(xs, desc)
  local order = {}
  for k = 1, #xs do order[k] = k end
  table.sort(order, function(a, b)
    local xa, xb = xs[a], xs[b]
    local na, nb = xa ~= xa, xb ~= xb
    if na ~= nb then if desc then return na else return nb end end
    if not na and xa ~= xb then if desc then return xa > xb else return xa < xb end end
    return a < b
  end)
  return order
end

-- same bits: NaN matches NaN, zeros must agree in sign
local function same_value(a, b)
  if a ~= a then return b ~= b end
  if a == 0 and b == 0 then return 1 / a == 1 / b end
  return a == b
end

-- checks a line: values vs the source at the reference positions, indices equal to the reference
local function check_line(xs, vals, idx, desc, what, order)
  order = order or ref_order(xs, desc)
  for k = 1, #xs do
    if idx and idx[k] ~= order[k] then
      error(("%s: index %d is %s, expected %d"):format(what, k, tostring(idx[k]), order[k]))
    end
    if vals and not same_value(num(vals[k]), xs[order[k]]) then
      error(("%s: value %d is %s, expected %s"):format(what, k, tostring(vals[k]), tostring(xs[order[k]])))
    end
  end
end

-- n elements of dtype dt with ties, both zeros, infinities and NaN (floats), extremes (integers)
local function sample(n, dt, seed)
  local x
  if dt == "u8" then
    x = (T.rand({ n }, { seed = seed }) * 256):astype("i64"):astype("u8")
  elseif dt == "bool" then
    x = T.rand({ n }, { seed = seed }):gt(0.5)
  elseif dt == "i32" or dt == "i64" then
    x = (T.randn({ n }, { seed = seed }) * 1e4):astype(dt)
    x[1] = dt == "i32" and -2147483648 or math.mininteger
    x[2] = dt == "i32" and 2147483647 or math.maxinteger
    x[3] = 0; x[n] = -1
  else
    x = ((T.randn({ n }, { seed = seed }) * 8):astype("i64"):astype(dt) / 8):astype(dt)
    x[3] = 0 / 0; x[n] = 0 / 0; x[5] = 1 / 0; x[6] = -1 / 0; x[7] = -0.0; x[8] = 0.0; x[9] = -0.0
    x[10] = -(0 / 0) -- a NaN with the sign bit set
    x[11] = 1e-300; x[12] = -1e-300 -- subnormal in f32, tiny in f64
  end
  return x
end

local function flat(t)
  local out = {}
  for k, v in ipairs(t:totable()) do out[k] = num(v) end
  return out
end

local dtypes = { "f64", "f32", "i64", "i32", "u8", "bool" }

describe("tensor sort against a brute-force stable reference", function()
  local saved
  before_each(function() saved = ml.get_threads() end)
  after_each(function() ml.set_threads(saved) end)

  for _, dt in ipairs(dtypes) do
    it(dt .. ": short and long lines, both directions, 1 and 2 threads", function()
      for _, n in ipairs { 1, 2, 40, 64, 65, 3000, 70000 } do
        local x = n >= 12 and sample(n, dt, n) or T.new({ 3, 1, 2 }, "i64"):astype(dt):narrow(1, 1, math.min(n, 3))
        local xs = flat(x)
        local orders = { [false] = ref_order(xs, false), [true] = ref_order(xs, true) }
        for _, threads in ipairs((n == 70000 and dt:match("^f")) and { 1, 2 } or { 2 }) do
          ml.set_threads(threads)
          for _, desc in ipairs { false, true } do
            local what = ("%s n=%d threads=%d%s"):format(dt, n, threads, desc and " descending" or "")
            local v, i = x:sort(1, { descending = desc })
            assert.equal(dt, v:dtype())
            assert.equal("i64", i:dtype())
            check_line(xs, flat(v), flat(i), desc, what, orders[desc])
            check_line(xs, nil, flat(x:argsort({ descending = desc })), desc, what .. " argsort", orders[desc])
          end
        end
      end
    end)
  end

  it("sorts along the first and the last dim of 2-D tensors (strided and contiguous lines)", function()
    for _, dt in ipairs { "f64", "f32", "i32" } do
      local x = sample(3 * 700, dt, 5):view(3, 700)
      local xt = x:totable()
      local v, i = x:sort(2)
      local vt, it_ = v:totable(), i:totable()
      for r = 1, 3 do check_line(xt[r], vt[r], it_[r], false, dt .. " dim 2 row " .. r) end
      local y = x:t():contiguous() -- [700, 3]: sort along dim 1 reads and writes strided lines
      local yv, yi = y:sort(1, { descending = true })
      local ya = y:argsort(1)
      for c = 1, 3 do
        local col, cv, ci, ca = {}, {}, {}, {}
        for r = 1, 700 do
          col[r] = y:get(r, c); cv[r] = yv:get(r, c); ci[r] = yi:get(r, c); ca[r] = ya:get(r, c)
        end
        check_line(col, cv, ci, true, dt .. " dim 1 col " .. c)
        check_line(col, nil, ca, false, dt .. " dim 1 argsort col " .. c)
      end
      -- a non-contiguous view sorts like its contiguous copy
      local tv, ti = x:t():sort(1)
      local cv, ci = y:sort(1)
      local a, b = flat(tv:reshape(2100)), flat(cv:reshape(2100))
      for k = 1, 2100 do assert.is_true(same_value(a[k], b[k]), dt .. " view value " .. k) end
      assert.same(ci:totable(), ti:totable())
    end
  end)

  it("keeps the order of all-equal lines and of lines whose keys share digits", function()
    ml.set_threads(2)
    for _, dt in ipairs { "f64", "f32", "i64" } do
      for _, n in ipairs { 100, 70000 } do
        local z = T.zeros({ n }, dt)
        if dt ~= "i64" then z[2] = -0.0; z[n] = -0.0 end
        local v, i = z:sort()
        check_line(flat(z), flat(v), flat(i), false, dt .. " zeros " .. n)
        local st = {}
        for k = 1, n do st[k] = (k * 5 % 7) * 4096 end
        local s = T.new(st, dt) -- only the digit at bits 12..14 varies (integers; floats: the exponent's)
        local sv, si = s:sort(1, { descending = true })
        check_line(flat(s), flat(sv), flat(si), true, dt .. " shared digits " .. n)
      end
    end
  end)
end)
