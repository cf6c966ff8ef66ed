-- Every public tensor function and method, called with wrong argument types, raises an error that starts
-- with its public name (tensor.xxx or tensor:xxx), never an internal one, and never crashes.
local T = require "moonlab.tensor"

local skip = { Tensor = true, linalg = true }
local bad_values = { "nil", "string", "table", "number", "boolean", "function" }
local function value(kind)
  if kind == "string" then return "/nonexistent-moonlab-dir/zz" end
  if kind == "table" then return { "q" } end
  if kind == "number" then return 0.5 end
  if kind == "boolean" then return true end
  if kind == "function" then return print end
  return nil
end

local bad = {}
local function check(name, prefix, f, args)
  local ok, e = pcall(f, table.unpack(args, 1, 4))
  if ok then return end
  e = tostring(e)
  local good = e:sub(1, #prefix) == prefix or e:match("^unknown option '.-' to " .. prefix:gsub("[%.:]", "%%%0"))
  if not good and not bad[name] then bad[name] = ("%s: error does not start with '%s': %s"):format(name, prefix, e) end
end
local function report()
  local lines = {}
  for _, v in pairs(bad) do lines[#lines + 1] = v end
  table.sort(lines)
  bad = {}
  assert(#lines == 0, table.concat(lines, "\n"))
end

describe("tensor errors name the public function", function()
  it("module functions with wrong argument types", function()
    local names = {}
    for k, v in pairs(T) do if type(v) == "function" and not skip[k] then names[#names + 1] = k end end
    for k, v in pairs(T.linalg) do names[#names + 1] = "linalg." .. k end
    table.sort(names)
    for _, n in ipairs(names) do
      local f = n:match("^linalg%.") and T.linalg[n:sub(8)] or T[n]
      local prefix = "tensor." .. n
      if n == "is_tensor" then goto continue end
      for pos = 1, 3 do
        for _, kind in ipairs(bad_values) do
          local args = { T.ones { 2, 2 }, T.ones { 2, 2 }, T.ones { 2, 2 } }
          args[pos] = value(kind)
          check(n, prefix, f, args)
        end
      end
      ::continue::
    end
    report()
  end)

  it("methods with wrong argument types", function()
    local t = T.ones { 2, 3 }
    local names = {}
    for k, v in pairs(T.Tensor.methods) do if type(v) == "function" then names[#names + 1] = k end end
    table.sort(names)
    for _, n in ipairs(names) do
      local f = t[n]
      local prefix = "tensor:" .. n
      -- self of the wrong type
      for _, kind in ipairs(bad_values) do check(n, prefix, f, { value(kind) }) end
      for pos = 2, 4 do
        for _, kind in ipairs(bad_values) do
          local args = { T.ones { 2, 3 }, 1, 1, 1 }
          args[pos] = value(kind)
          if n ~= "close" then check(n, prefix, f, args) end
        end
      end
    end
    report()
  end)

  it("allocation failures name the operation", function()
    local big = T.zeros({ 1 }, "u8"):expand { 1 << 21, 1 << 20 } -- 2^41 elements (over the 1 TiB cap), no memory behind it
    for _, c in ipairs {
      { "tensor:clone", function() return big:clone() end },
      { "tensor:add", function() return big + 1 end },
      { "tensor:astype", function() return big:astype("f64") end },
      { "tensor:contiguous", function() return big:contiguous() end },
      { "tensor:exp", function() return big:exp() end },
    } do
      local ok, e = pcall(c[2])
      assert.is_false(ok)
      assert.matches("^" .. c[1]:gsub("[%.:]", "%%%0") .. ": .*allocat", tostring(e))
    end
    local ok, e = pcall(function() return T.ones { 1 << 20, 1 }:matmul(T.ones { 1, 1 << 20 }) end)
    assert.is_false(ok)
    assert.matches("^tensor:matmul: .*allocat", tostring(e))
  end)
end)
