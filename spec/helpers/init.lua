-- Loaded before every spec (busted --helper): shared assertions and utilities.
local assert = require "luassert"
local say = require "say"
local T = require "moonlab.tensor"

local function flat(x, out, path)
  if T.is_tensor(x) then
    local n = x:numel()
    local f = x:reshape { n }
    for i = 1, n do out[#out + 1] = f:get(i) end
  elseif type(x) == "table" then
    for i = 1, #x do flat(x[i], out) end
  else
    out[#out + 1] = x
  end
  return out
end

local function shape_of(x)
  if T.is_tensor(x) then return "[" .. table.concat(x:shape(), ",") .. "]" end
  return type(x)
end

-- is_close(actual, expected, {rtol=1e-12, atol=0}): |a - e| <= atol + rtol * |e| elementwise,
-- on numbers, nested tables or tensors; NaN only matches NaN, inf only the same inf.
local function is_close(state, args)
  local actual, expected, tol = args[1], args[2], args[3] or {}
  local rtol, atol = tol.rtol or 1e-12, tol.atol or 0
  local a, e = flat(actual, {}), flat(expected, {})
  if #a ~= #e then
    state.failure_message = ("expected %d values (%s), got %d (%s)"):format(#e, shape_of(expected), #a, shape_of(actual))
    return false
  end
  local worst, wi, wa, we = -1, nil, nil, nil
  for i = 1, #a do
    local x, y = a[i], e[i]
    local bad
    if type(x) ~= "number" then
      bad = math.huge
    elseif y ~= y then
      bad = (x == x) and math.huge or -1
    elseif y == math.huge or y == -math.huge then
      bad = (x == y) and -1 or math.huge
    elseif x ~= x then
      bad = math.huge
    else
      local err = math.abs(x - y)
      bad = err - (atol + rtol * math.abs(y))
      if bad <= 0 then bad = -1 else bad = err / (atol + rtol * math.abs(y) + 1e-300) end
    end
    if bad > worst then worst, wi, wa, we = bad, i, x, y end
  end
  if worst > 0 then
    state.failure_message = ("worst element %d of %d: got %.17g, expected %.17g (|diff| %.3g, rtol %g, atol %g)")
      :format(wi, #a, tonumber(wa) or 0 / 0, we, math.abs((tonumber(wa) or 0 / 0) - we), rtol, atol)
    return false
  end
  return true
end

say:set("assertion.is_close.positive", "values not close")
say:set("assertion.is_close.negative", "values unexpectedly close")
assert:register("assertion", "is_close", is_close, "assertion.is_close.positive", "assertion.is_close.negative")

-- Max relative error of actual against expected (flat), for reporting.
local H = {}
function H.max_rel_err(actual, expected)
  local a, e = flat(actual, {}), flat(expected, {})
  local m = 0
  for i = 1, #a do
    local d = math.abs(a[i] - e[i]) / math.max(math.abs(e[i]), 1e-300)
    if d > m then m = d end
  end
  return m
end
function H.under_asan() return os.getenv("MOONLAB_ASAN") ~= nil end
package.loaded["spec.helpers.util"] = H
return H
