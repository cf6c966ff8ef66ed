--- tools/moonlab_api.lua: enumerates every public function and method of every moonlab module, and the
--- naming rule for their error messages. Used by tools/fuzz_api.lua and spec/public_names_spec.lua.
--- New modules are found automatically (every lua/moonlab/*.lua file); objects whose methods are public
--- are listed in `objects` below (add the constructor of a new object type there).
local A = {}

--- Modules: every file lua/moonlab/<name>.lua (init.lua is the module "moonlab").
function A.module_names(root)
  local names = {}
  local p = io.popen(("ls %s/lua/moonlab/*.lua 2>/dev/null"):format(root))
  for f in p:lines() do
    local n = f:match("([%w_]+)%.lua$")
    if n == "init" then n = nil end
    if n then names[#names + 1] = n end
  end
  p:close()
  table.sort(names)
  return names
end

-- Objects with public methods: the list moonlab.help keeps ({type name, constructor expression}).
A.objects = require("moonlab.help").objects

--- The Lua expression that names f (for reproducers): require('moonlab.tensor').zeros, or for a
--- method the constructor expression (the call is then written obj:method(...)).
function A.expr(f)
  if f.method then return f.self_code end
  if f.mod == "moonlab" then return ("require('moonlab').%s"):format(f.name:match("%.([%w_]+)$")) end
  return ("require('moonlab.%s').%s"):format(f.mod, f.name:match("%.([%w_]+)$"))
end

--- functions(root) -> sorted list of {name = "tensor.zeros" | "tensor:clone", fn, mod, method (bool),
--- self_code / make_self (constructor for methods), nparams (nil: C function or vararg)}.
function A.functions(root)
  local list, seen = {}, {}
  local function add(name, fn, mod, method, self_code)
    if seen[name] then return end
    seen[name] = true
    local info = debug.getinfo(fn, "Su")
    local np = (info.what == "Lua" and not info.isvararg) and info.nparams or nil
    list[#list + 1] = { name = name, fn = fn, mod = mod, method = method, self_code = self_code, nparams = np,
      make_self = self_code and assert(load("return " .. self_code)) }
  end
  -- names starting with "_" are internal by convention (mpi._sweep, store._columns): not public
  local function scan(prefix, tbl)
    for k, v in pairs(tbl) do
      if type(k) == "string" and type(v) == "function" and k:sub(1, 1) ~= "_" then
        add(prefix .. "." .. k, v, prefix, false)
      end
    end
  end
  scan("moonlab", require "moonlab")
  for _, n in ipairs(A.module_names(root)) do
    local ok, mod = pcall(require, "moonlab." .. n)
    if ok and type(mod) == "table" then scan(n, mod) end
  end
  for _, o in ipairs(A.objects) do
    local ok, obj = pcall(assert(load("return " .. o[2])))
    local mt = ok and getmetatable(obj)
    local idx = mt and (type(mt.__index) == "table" and mt.__index or mt.methods)
    if type(idx) == "table" then
      for k, v in pairs(idx) do
        if type(k) == "string" and type(v) == "function" and not k:match("^__") then
          add(o[1] .. ":" .. k, v, o[1], true, o[2])
        end
      end
    end
  end
  table.sort(list, function(a, b) return a.name < b.name end)
  return list
end

--- Whether an error message names the function f the user called: it starts with f's public name
--- ("tensor.zeros: ...", "tensor:clone: ..."; for a method, "<module>[.Type]:<method>" or
--- "<module>.<method>"), or is the house's unknown-option message "unknown option 'x' to <name>".
function A.names(f, msg)
  if type(msg) ~= "string" then return false end
  local head = msg:match("^unknown option '[^']*' to ([%w_.:]+)") or msg:match("^([%w_.:]+):")
  if not head then return false end
  if head == f.name then return true end
  if f.method then
    local mod = f.mod:match("^[%w_]+")
    local meth = f.name:match(":([%w_]+)$")
    return head:match("^" .. mod .. "[%w_.:]*[.:]" .. meth .. "$") ~= nil
  end
  return false
end

return A
