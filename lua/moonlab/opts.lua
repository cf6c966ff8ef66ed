--- moonlab.opts: checks option tables in Lua modules the way the C bindings do, and the warnings of
--- iterative routines. See docs/moonlab.md ("Options, errors and warnings").
local M = {}

local function distance(a, b)
  if #a > 63 or #b > 63 then return 99 end
  local row = {}
  for j = 0, #b do row[j] = j end
  for i = 1, #a do
    local prev = row[0]
    row[0] = i
    for j = 1, #b do
      local cur = row[j]
      local sub = prev + ((a:byte(i) ~= b:byte(j)) and 1 or 0)
      row[j] = math.min(sub, row[j] + 1, row[j - 1] + 1)
      prev = cur
    end
  end
  return row[#b]
end

--- suggest(key, names) -> the closest name within edit distance 2, or nil.
function M.suggest(key, names)
  if type(key) ~= "string" or type(names) ~= "table" then
    error(("opts.suggest: expected a string and a list of names, got %s and %s"):format(type(key), type(names)), 0)
  end
  local best, bestd = nil, 3
  for _, n in ipairs(names) do
    local d = type(n) == "string" and distance(key, n) or 99
    if d < bestd then best, bestd = n, d end
  end
  return best
end

-- A frame of moonlab's own Lua modules (".../moonlab/<name>.lua").
local function internal(info)
  return info and info.what ~= "C" and info.source:find("moonlab/[%w_]+%.lua$") ~= nil
end

--- raise(msg, [level]): error(msg, level) for messages that start with the public name: the position is
--- that of the first frame at or above `level` (counted from raise's caller, as error counts) outside
--- moonlab's own modules, and none when that is a C function (pcall) or level is 0. So a helper at any
--- depth never prefixes "sdf.lua:92:" to a message.
function M.raise(msg, level)
  if type(msg) ~= "string" then
    error(("opts.raise: bad argument #1 'msg': expected a string, got %s"):format(type(msg)), 0)
  end
  if level ~= nil and math.type(level) ~= "integer" then
    error(("opts.raise: bad argument #2 'level': expected an integer or nil, got %s"):format(type(level)), 0)
  end
  level = level or 1
  if level <= 0 then error(msg, 0) end
  local l = level + 1 -- counted from raise itself
  while internal(debug.getinfo(l, "S")) do l = l + 1 end
  local info = debug.getinfo(l, "S")
  if not info or info.what == "C" then error(msg, 0) end
  error(msg, l)
end
local raise = M.raise

--- check(fname, tbl, names, [level]): raises "unknown option 'kapa' to fname (did you mean 'kappa'?)" for a
--- key of tbl not in the list names; a non-table tbl raises "fname: expected an options table". Returns tbl.
--- Keys are read with rawget-free pairs, so proxy tables are checked by what they enumerate.
function M.check(fname, tbl, names, level)
  level = level or 0 -- messages start with the public name, not a file position
  local lv = (math.type(level) == "integer" and level > 0) and level or 0 -- raise counts levels as error does
  if tbl == nil then return tbl end
  if type(fname) ~= "string" or type(names) ~= "table" then
    error(("opts.check: bad arguments: expected (fname string, tbl, names list), got (%s, %s, %s)"):format(
      type(fname), type(tbl), type(names)), 0)
  end
  -- "sweep.expand params" (a table inside the options) reads "sweep.expand: params: ..." in messages
  local head = fname:gsub("^(%S+) ", "%1: ", 1)
  if type(tbl) ~= "table" then
    raise(("%s: expected an options table, got %s"):format(head, type(tbl)), lv)
  end
  local known = {}
  for _, n in ipairs(names) do known[n] = true end
  for k in pairs(tbl) do
    if type(k) ~= "string" then
      raise(("%s: option keys must be strings, got %s"):format(head, type(k)), lv)
    end
    if not known[k] then
      local s = M.suggest(k, names)
      if s then
        raise(("unknown option '%s' to %s (did you mean '%s'?)"):format(k, fname, s), lv)
      end
      raise(("unknown option '%s' to %s"):format(k, fname), lv)
    end
  end
  return tbl
end

--- need(fname, tbl, key, [kind]): raises "fname: missing required option 'key'" when tbl[key] is nil, and
--- "fname: option 'key' must be a <kind>, got <type>" when kind ("number", "string", "table", ...) differs.
function M.need(fname, tbl, key, kind)
  if type(fname) ~= "string" or type(key) ~= "string" then
    error(("opts.need: bad arguments: expected (fname string, tbl, key string), got (%s, %s, %s)"):format(
      type(fname), type(tbl), type(key)), 0)
  end
  local v = type(tbl) == "table" and tbl[key] or nil
  if v == nil then error(("%s: missing required option '%s'"):format(fname, key), 0) end
  if kind and type(v) ~= kind then
    error(("%s: option '%s' must be a %s, got %s"):format(fname, key, kind, type(v)), 0)
  end
  return v
end

--- warn(result, fname, msg, quiet): appends msg to result.warnings and, unless quiet (or MOONLAB_QUIET=1),
--- prints "moonlab: fname: msg" on stderr. Returns result.
function M.warn(result, fname, msg, quiet)
  if type(result) ~= "table" then
    error(("opts.warn: bad argument #1 'result': expected a result table, got %s"):format(type(result)), 0)
  end
  fname, msg = tostring(fname), tostring(msg)
  result.warnings = result.warnings or {}
  result.warnings[#result.warnings + 1] = msg
  local env = os.getenv("MOONLAB_QUIET")
  if not quiet and not (env and env ~= "" and env ~= "0") then
    io.stderr:write(("moonlab: %s: %s\n"):format(fname, msg))
  end
  return result
end

return M
