--- moonlab.help: help(fn) prints the docs section of a moonlab function (REPL helper).
local M = {}

local function docs_dir()
  local env = os.getenv("MOONLAB_DOCS")
  if env then return env end
  local here = package.searchpath("moonlab.help", package.path)
  if here then
    local root = here:gsub("[^/]*$", ""):gsub("lua/moonlab/$", "")
    local f = io.open(root .. "docs/tensor.md")
    if f then f:close() return root .. "docs/" end
  end
  for _, d in ipairs { "/usr/local/share/doc/moonlab/", "/usr/share/doc/moonlab/" } do
    local f = io.open(d .. "tensor.md")
    if f then f:close() return d end
  end
end

-- Finds "module", "name" for a function value among the loaded moonlab modules.
local function locate(fn)
  for modname, mod in pairs(package.loaded) do
    if type(modname) == "string" and modname:match("^moonlab%.?") and modname ~= "moonlab.core" and type(mod) == "table" then
      for k, v in pairs(mod) do
        if v == fn then return (modname:match("^moonlab%.(.+)$") or "moonlab"), k end
      end
    end
  end
  local mt = require "moonlab.tensor".Tensor
  for k, v in pairs(mt.__index) do
    if v == fn then return "tensor", k, true end
  end
end

-- The markdown section whose heading mentions `name(` (module-qualified or a method).
local function section(file, mod, name, method)
  local f = io.open(file)
  if not f then return nil end
  local lines = {}
  for l in f:lines() do lines[#lines + 1] = l end
  f:close()
  local pats = method and { ":" .. name .. "%(" } or { mod .. "%." .. name .. "%(", "^#+ " .. name .. "%(", "%f[%w_]" .. name .. "%(" }
  for _, pat in ipairs(pats) do
    for i, l in ipairs(lines) do
      local level = l:match("^(#+) ")
      if level and l:find(pat) then
        local out = { l }
        for j = i + 1, #lines do
          local lv = lines[j]:match("^(#+) ")
          if lv and #lv <= #level then break end
          out[#out + 1] = lines[j]
        end
        return table.concat(out, "\n")
      end
    end
  end
  -- pages that list functions in a table: | `mod.name(args)` | what it returns |
  for _, pat in ipairs(pats) do
    for _, l in ipairs(lines) do
      if l:match("^|") and l:find(pat) then
        local cells = {}
        for c in l:gmatch("|([^|]*)") do
          c = c:match("^%s*(.-)%s*$")
          if c ~= "" then cells[#cells + 1] = c end
        end
        return table.concat(cells, "\n  ")
      end
    end
  end
end

-- help() without an argument: the moonlab modules (the files beside this one) and their functions.
local function index(dir)
  local here = package.searchpath("moonlab.help", package.path)
  local names = {}
  local ok, proc = pcall(function() return require("moonlab.core").proc end)
  for _, f in ipairs(ok and here and proc.listdir(here:match("^(.*)/")) or {}) do
    local m = f:match("^([%w_]+)%.lua$")
    if m and m ~= "init" and m ~= "help" and m ~= "repl" then names[#names + 1] = m end
  end
  table.sort(names)
  local out = { "moonlab modules (help(fn) or help(\"sweep.run\") prints one entry; docs: " .. (dir or "not found") .. ")" }
  for _, m in ipairs(names) do
    local mok, mod = pcall(require, "moonlab." .. m)
    if mok and type(mod) == "table" then
      local fns = {}
      for k, v in pairs(mod) do if type(v) == "function" and k:find("^%l") then fns[#fns + 1] = k end end
      table.sort(fns)
      out[#out + 1] = ("  %-9s %s"):format(m, table.concat(fns, ", "))
    end
  end
  return table.concat(out, "\n")
end

--- text(fn_or_name) -> the documentation of a moonlab function, as a string.
function M.text(x)
  local dir = docs_dir()
  if x == nil then return index(dir) end
  local mod, name, method
  if type(x) == "string" then
    mod, name = x:match("^([%w_]+)[%.:]([%w_]+)$")
    if not mod then mod, name = "moonlab", x end
    method = x:find(":", 1, true) ~= nil
  else
    mod, name, method = locate(x)
  end
  if not mod then
    return "help: not a moonlab function"
  end
  local page = ({ sweep = "workflow", store = "workflow", pipeline = "workflow", mpi = "workflow" })[mod] or mod
  local text = dir and (section(dir .. page .. ".md", mod, name, method) or section(dir .. "moonlab.md", mod, name, method))
  return text or ("help: no documentation found for %s.%s"):format(mod, name)
end

--- help(fn_or_name): prints the documentation of a moonlab function.
function M.help(x) print(M.text(x)) end

setmetatable(M, { __call = function(_, x) return M.help(x) end })
return M
