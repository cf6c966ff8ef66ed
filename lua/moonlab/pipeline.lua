--- moonlab.pipeline: named stages whose outputs are cached on disk under a content hash of their inputs, their
--- options and their function's source, so a rerun recomputes only what changed. See docs/workflow.md.
local core = require "moonlab.core"
local T = require "moonlab.tensor"
local store = require "moonlab.store"
local opts = require "moonlab.opts"

local proc = core.proc
local M = {}

local Pipeline = {}
Pipeline.__index = Pipeline

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function write_atomic(path, text)
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then error("pipeline: cannot write " .. path .. ": " .. err, 0) end
  f:write(text)
  f:close()
  assert(os.rename(tmp, path))
end

--- new(name, {dir = "pipeline-cache"}) -> pipeline. Cached outputs live in <dir>/<name>/.
function M.new(name, o)
  o = o or {}
  opts.check("pipeline.new", o, { "dir" }, 2)
  if type(name) ~= "string" or not name:find("^[%w_%-%.]+$") then
    error(("pipeline.new: bad argument #1 'name': expected letters, digits, '_', '-' or '.', got %s")
      :format(type(name) == "string" and ("%q"):format(name) or type(name)), 2)
  end
  if o.dir ~= nil and type(o.dir) ~= "string" then error("pipeline.new: option 'dir' must be a string", 2) end
  local dir = (o.dir or "pipeline-cache") .. "/" .. name
  return setmetatable({ name = name, dir = dir, stages = {}, byname = {}, report = {} }, Pipeline)
end

-- The source text of a Lua function (its lines in the file it was loaded from, or the chunk string) plus the
-- values of its number, string and boolean upvalues: what the cache key covers of the function (tables it
-- reads through upvalues are not covered: pass such data as options).
local function fn_source(fn)
  local info = debug.getinfo(fn, "S")
  local src
  if info.what == "C" then
    src = "C function " .. tostring(fn)
  elseif info.source:sub(1, 1) == "@" then
    local text = read(info.source:sub(2))
    if text then
      local lines, i = {}, 0
      for line in (text .. "\n"):gmatch("([^\n]*)\n") do
        i = i + 1
        if i >= info.linedefined and i <= info.lastlinedefined then lines[#lines + 1] = line end
      end
      src = table.concat(lines, "\n")
    end
  elseif info.source:sub(1, 1) ~= "=" then
    src = info.source .. "#" .. info.linedefined
  end
  src = src or string.dump(fn, true)
  local ups = {}
  for i = 1, 255 do
    local n, v = debug.getupvalue(fn, i)
    if not n then break end
    local tv = type(v)
    ups[#ups + 1] = n .. "=" .. ((tv == "number" or tv == "string" or tv == "boolean") and store._encode(v) or tv)
  end
  return src .. "\n--upvalues: " .. table.concat(ups, ", ")
end
M._fn_source = fn_source

--- stage(name, fn, {deps = {...}, options = {...}}) -> pipeline. fn(inputs, options) receives the outputs of its
--- deps by name and returns a tensor, a number/string/boolean, or a table of them (tensors inside included).
function Pipeline:stage(name, fn, o)
  o = o or {}
  opts.check("pipeline:stage", o, { "deps", "options" }, 2)
  if type(name) ~= "string" or not name:find("^[%w_%-]+$") then
    error("pipeline:stage: bad argument #1 'name': expected letters, digits, '_' or '-'", 2)
  end
  if self.byname[name] then error(("pipeline:stage: stage '%s' is defined twice"):format(name), 2) end
  if type(fn) ~= "function" then
    error(("pipeline:stage: bad argument #2 'fn': expected a function, got %s"):format(type(fn)), 2)
  end
  local deps = o.deps or {}
  if type(deps) ~= "table" then error("pipeline:stage: option 'deps' must be a list of stage names", 2) end
  for _, d in ipairs(deps) do
    if not self.byname[d] then
      error(("pipeline:stage: stage '%s' depends on '%s', which is not defined before it"):format(name, tostring(d)), 2)
    end
  end
  local ok, otext = pcall(store._encode, o.options or {}, nil, "options")
  if not ok then error("pipeline:stage: " .. otext, 2) end
  local st = { name = name, fn = fn, deps = deps, options = o.options or {}, otext = otext, src = fn_source(fn) }
  self.stages[#self.stages + 1] = st
  self.byname[name] = st
  return self
end

-- key of a stage given the content hashes of its deps' outputs (nil when a dep has no current output).
local function stage_key(st, content)
  local parts = { "stage " .. st.name, st.src, st.otext }
  for _, d in ipairs(st.deps) do
    if not content[d] then return nil end
    parts[#parts + 1] = d .. "=" .. content[d]
  end
  return proc.hash(table.concat(parts, "\n\0"))
end

local function paths(self, st, key)
  local base = self.dir .. "/" .. st.name .. "-" .. key
  return base .. ".json", base .. ".hash", base
end

local function save(self, st, key, value)
  local ok, err = proc.mkdir(self.dir)
  if not ok then error("pipeline: cannot create " .. self.dir .. ": " .. err, 0) end
  local main, hashfile, base = paths(self, st, key)
  local written = {}
  local text = store._encode(value, function(t, path)
    local file = base .. "." .. path:gsub("[^%w_%-]", "_") .. ".npy"
    t:save(file)
    written[#written + 1] = read(file)
    return { ["$npy"] = file:match("[^/]*$") }
  end, "the output of stage '" .. st.name .. "'")
  local content = proc.hash(text .. "\0" .. table.concat(written, "\0"))
  write_atomic(main, text)
  write_atomic(hashfile, content)
  return content
end

local function load_value(self, file)
  local function fix(v)
    if type(v) ~= "table" then return v end
    if v["$npy"] then return T.load(self.dir .. "/" .. v["$npy"]) end
    for k, x in pairs(v) do v[k] = fix(x) end
    return v
  end
  return fix(store._decode(read(file)))
end

-- state of every stage: {name, key, state = "fresh"|"stale", content}.
local function states(self)
  local content, out = {}, {}
  for _, st in ipairs(self.stages) do
    local key = stage_key(st, content)
    local s = { name = st.name, key = key, state = "stale" }
    if key then
      local main, hashfile = paths(self, st, key)
      local c = read(hashfile)
      if c and read(main) then s.state, s.content = "fresh", c end
    end
    content[st.name] = s.content
    out[#out + 1] = s
  end
  return out
end

--- status() -> list of {name, state = "fresh"|"stale"} in stage order: fresh when the cache holds the output
--- for the current inputs, options and source; stale otherwise (also when an input is stale).
function Pipeline:status()
  local out = {}
  for i, s in ipairs(states(self)) do out[i] = { name = s.name, state = s.state } end
  return out
end

--- run() -> outputs by stage name, report {stage = "cached"|"computed"}: computes the stale stages in order,
--- loads the fresh ones from the cache.
function Pipeline:run(o)
  opts.check("pipeline:run", o, {}, 2)
  local outputs, content, report = {}, {}, {}
  for _, st in ipairs(self.stages) do
    local key = stage_key(st, content)
    local main, hashfile = paths(self, st, key)
    local c = read(hashfile)
    if c and read(main) then
      outputs[st.name] = load_value(self, main)
      content[st.name], report[st.name] = c, "cached"
    else
      local inputs = {}
      for _, d in ipairs(st.deps) do inputs[d] = outputs[d] end
      local ok, v = pcall(st.fn, inputs, st.options)
      if not ok then error(("pipeline %s: stage '%s' failed: %s"):format(self.name, st.name, tostring(v)), 2) end
      local sok, sc = pcall(save, self, st, key, v)
      if not sok then error(("pipeline %s: stage '%s': %s"):format(self.name, st.name, tostring(sc)), 2) end
      -- downstream stages see exactly what a later cached run will load
      outputs[st.name] = load_value(self, main)
      content[st.name], report[st.name] = sc, "computed"
    end
  end
  self.report = report
  return outputs, report
end

--- clean() -> number of cached files removed (every output of this pipeline, current or old).
function Pipeline:clean()
  local n = 0
  for _, f in ipairs(proc.listdir(self.dir) or {}) do
    local stage = f:match("^([%w_%-]+)%-%x+%.")
    if stage and self.byname[stage] and os.remove(self.dir .. "/" .. f) then n = n + 1 end
  end
  return n
end

M.new = store._public(M.new)
for _, k in ipairs { "stage", "run", "status", "clean" } do Pipeline[k] = store._public(Pipeline[k]) end

return M
