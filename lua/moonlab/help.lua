--- moonlab.help: help(fn) prints the docs entry of a moonlab function or method (REPL helper).
--- help(T.linspace), help(t.mean), help(chrom.column), help("T.linspace"), help("col:outlet"), help().
local M = {}

local function readable(path)
  local f = io.open(path)
  if f then f:close() return true end
  return false
end

-- Folders that may hold the docs, in order: $MOONLAB_DOCS, next to this file (LuaRocks: moonlab/docs/),
-- the source tree (lua/moonlab/ -> docs/), make install (share/lua/5.4/moonlab/ -> share/doc/moonlab/).
function M.candidates()
  local list = {}
  local env = os.getenv("MOONLAB_DOCS")
  if env and env ~= "" then list[#list + 1] = env:gsub("/?$", "/") end
  local here = package.searchpath("moonlab.help", package.path)
  local dir = here and here:match("^(.*)/[^/]*$")
  if dir then
    list[#list + 1] = dir .. "/docs/"
    list[#list + 1] = dir .. "/../../docs/"
    list[#list + 1] = dir .. "/../../../doc/moonlab/"
  end
  list[#list + 1] = "/usr/local/share/doc/moonlab/"
  list[#list + 1] = "/usr/share/doc/moonlab/"
  return list
end

--- docs_dir() -> the folder with moonlab's docs (moonlab.md), or nil.
function M.docs_dir()
  for _, d in ipairs(M.candidates()) do
    if readable(d .. "moonlab.md") then return d end
  end
end

local function lines_of(file)
  local f = io.open(file)
  if not f then return nil end
  local t = {}
  for l in f:lines() do t[#t + 1] = l end
  f:close()
  return t
end

local function pages(dir)
  local list = {}
  local p = io.popen(("ls '%s' 2>/dev/null"):format(dir))
  for f in p:lines() do
    if f:match("%.md$") then list[#list + 1] = f:gsub("%.md$", "") end
  end
  p:close()
  return list
end

--- Object types with public methods: {type name, Lua expression constructing one}. Their methods are the
--- functions of the object's metatable __index table (help(col.outlet) finds them; tools/fuzz_api.lua
--- fuzzes them). Add a line here for a new object type.
M.objects = {
  { "tensor", "require('moonlab.tensor').linspace(1, 2, 4)" },
  { "chrom.column", "require('moonlab.chrom').column { Da = 1, kappa = 1 }" },
  { "LaplaceFn", "require('moonlab.laplace').suite()[1].F" },
  { "progress", "require('moonlab.progress').new { label = 'x', total = 1, quiet = true }" },
  { "nn.model", "require('moonlab.nn').gpt { vocab = 16, context = 8, layers = 1, d_model = 8, heads = 2 }" },
  { "nn.dataset", "require('moonlab.nn').text_dataset(nil, { context = 16 })" },
}

-- The method table of each object type: {type, __index table}.
local function method_tables()
  local list = {}
  for _, o in ipairs(M.objects) do
    local ok, obj = pcall(function() return assert(load("return " .. o[2]))() end)
    local mt = ok and getmetatable(obj)
    local methods = mt and (type(mt.__index) == "table" and mt.__index or mt.methods)
    if type(methods) == "table" then list[#list + 1] = { o[1], methods } end
    if ok and type(obj) == "userdata" and type(obj.close) == "function" then pcall(obj.close, obj) end
  end
  return list
end

-- Finds "module", "name", is_method for a function value among the loaded moonlab modules and the
-- methods of moonlab's object types.
local function locate(fn)
  local best
  for modname, mod in pairs(package.loaded) do
    if type(modname) == "string" and (modname == "moonlab" or modname:match("^moonlab%.")) and
      modname ~= "moonlab.core" and type(mod) == "table" then
      for k, v in pairs(mod) do
        if v == fn and type(k) == "string" then
          local m = modname:match("^moonlab%.(.+)$") or "moonlab"
          if not best or m ~= "help" then best = { m, k, false } end
        end
      end
    end
  end
  if best then return best[1], best[2], best[3] end
  for _, mt in ipairs(method_tables()) do
    for k, v in pairs(mt[2]) do
      if v == fn and type(k) == "string" then return mt[1], k, true end
    end
  end
end

-- The section that starts at line i (a heading) and runs to the next heading of the same or higher level.
local function section_at(lines, i)
  local level = lines[i]:match("^(#+) ")
  local out = { lines[i] }
  for j = i + 1, #lines do
    local lv = lines[j]:match("^(#+) ")
    if lv and #lv <= #level then break end
    out[#out + 1] = lines[j]
  end
  while #out > 1 and out[#out]:match("^%s*$") do out[#out] = nil end
  return table.concat(out, "\n"), i
end

local function row_cells(l)
  local cells = {}
  for c in l:gmatch("|([^|]*)") do
    c = c:match("^%s*(.-)%s*$")
    if c ~= "" and not c:match("^%-+$") then cells[#cells + 1] = c end
  end
  return table.concat(cells, "\n  ")
end

-- Text about the options of `name` elsewhere on the page: a "**<name> options.**" paragraph, or a section
-- whose heading names options (e.g. "## Options (every method)") when the signature takes opts.
local function options_text(lines, name, takes_opts)
  local out = {}
  -- "**fit options.**", "**Column spec.**", "**read_csv.**": a bold paragraph lead naming the function
  local first = name:sub(1, 1)
  local lead = "^%*%*[" .. first:lower() .. first:upper() .. "]" .. name:sub(2):gsub("%p", "%%%0") .. "[%w ]*%.%*%*"
  for i, l in ipairs(lines) do
    if l:match(lead) then
      local para = { l }
      for j = i + 1, #lines do
        -- the paragraph, and a list that follows it after a blank line
        if lines[j]:match("^%s*$") and not (lines[j + 1] or ""):match("^%s*[-*] ") then break end
        if lines[j]:match("^#") or lines[j]:match("^%*%*") then break end
        para[#para + 1] = lines[j]
      end
      out[#out + 1] = table.concat(para, "\n")
    end
  end
  if #out == 0 and takes_opts then
    for i, l in ipairs(lines) do
      if l:match("^#+ Options") then out[#out + 1] = (section_at(lines, i)) end
    end
  end
  return out
end

-- The entry for a call pattern on one page: a heading, a table row, or (not strict) the section whose text
-- mentions it.
local function entry(lines, pats, strict)
  for _, pat in ipairs(pats) do
    for i, l in ipairs(lines) do
      if l:match("^#+ ") and l:find(pat) then return (section_at(lines, i)) end
    end
  end
  for _, pat in ipairs(pats) do -- a table row whose first cell is the call
    for _, l in ipairs(lines) do
      local first = l:match("^|([^|]*)|")
      if first and first:find(pat) then return row_cells(l) end
    end
  end
  for _, pat in ipairs(strict and {} or pats) do
    for i, l in ipairs(lines) do
      if not l:match("^#") and not l:match("^```") and l:find(pat) then
        for h = i, 1, -1 do
          if lines[h]:match("^#+ ") then return (section_at(lines, h)) end
        end
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

local function esc(s) return (s:gsub("%p", "%%%0")) end

-- Looks up (mod, name, method) in the docs folder: the entry plus the options text that belongs to it.
local function lookup(dir, mod, name, method)
  local order = {}
  if mod and readable(dir .. mod .. ".md") then order[1] = mod end
  for _, p in ipairs(pages(dir)) do
    if p ~= mod then order[#order + 1] = p end
  end
  local pats
  if method then
    pats = { ":" .. esc(name) .. "%f[^%w_]" }
    mod = mod and mod:match("^[%w_]+") -- "chrom.column" -> the chrom page first
  else
    pats = {}
    if mod then pats[#pats + 1] = "%f[%w_.]" .. esc(mod) .. "%." .. esc(name) .. "%f[^%w_]" end
    pats[#pats + 1] = "^#+ " .. esc(name) .. "%f[^%w_]"
    if mod == "moonlab" then pats[#pats + 1] = "%f[%w_.]" .. esc(name) .. "%(" end
    if mod == nil then pats[#pats + 1] = "%f[%w_]" .. esc(name) .. "%f[^%w_]" end
  end
  for _, strict in ipairs { true, false } do -- headings and table rows on every page first
    for _, page in ipairs(order) do
      local lines = lines_of(dir .. page .. ".md")
      local text = lines and entry(lines, pats, strict)
      if text then
        local extra = options_text(lines, name, text:find("opts", 1, true) ~= nil)
        if #extra > 0 then text = text .. "\n\n" .. table.concat(extra, "\n\n") end
        return text, page
      end
    end
  end
end

-- "T.linspace", "ml.attn.sdpa", "moonlab.info", "t:mean", "col:outlet", "linspace" -> mod, name, method.
local function parse_name(s)
  s = s:gsub("^ml%.", ""):gsub("^moonlab%.([%w_]+%.)", "%1"):gsub("^[%w_]+%.([%w_]+:)", "%1")
  local a, sep, b = s:match("^([%w_]+)([%.:])([%w_]+)$")
  if not a then
    if s:match("^[%w_]+$") then return nil, s, false end
    return nil
  end
  if a == "T" then a = "tensor" end
  if sep == ":" then
    if a == "t" or a == "tensor" then return "tensor", b, true end
    return nil, b, true
  end
  return a, b, false
end

--- text(fn_or_name) -> the documentation of a moonlab function or method, as a string.
function M.text(x)
  local dir = M.docs_dir()
  if x == nil then return index(dir) end
  local mod, name, method
  if type(x) == "string" then
    mod, name, method = parse_name(x)
    if not name then return ("help: '%s' is not a function name (try help('attn.sdpa') or help(T.linspace))"):format(x) end
  elseif type(x) == "function" then
    mod, name, method = locate(x)
    if not mod then return "help: not a moonlab function" end
  else
    return ("help: expected a moonlab function or its name, got %s"):format(type(x))
  end
  local label = (mod and (mod .. (method and ":" or ".")) or (method and ":" or "")) .. name
  if not dir then
    return ("help: the moonlab docs were not found (looked in %s); set MOONLAB_DOCS to the folder with "
      .. "moonlab's docs/*.md"):format(table.concat(M.candidates(), ", "))
  end
  local text = lookup(dir, mod, name, method)
  if text then return text end
  return ("help: no moonlab function or method named %s in the docs (%s)"):format(label, dir)
end

--- help(fn_or_name): prints the documentation of a moonlab function or method.
function M.help(x) print(M.text(x)) end

setmetatable(M, { __call = function(_, x) return M.help(x) end })
return M
