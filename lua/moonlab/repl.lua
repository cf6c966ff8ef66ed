--- moonlab.repl: the command line behind bin/moonlab: the REPL (readline editing, Tab completion of names,
--- history in ~/.moonlab_history, readable printing of tables), `moonlab run script.lua` and
--- `moonlab runs results.db [name]`. See docs/workflow.md.
local M = {}

local KEYWORDS = { "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
  "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while" }

---------------------------------------------------------------------------------------------------------------
-- Printing

local function is_ident(k) return type(k) == "string" and k:find("^[%a_][%w_]*$") ~= nil end

local function scalar(v)
  local t = type(v)
  if t == "string" then return (("%q"):format(v):gsub("\\\n", "\\n")) end
  if t == "function" then return "function" end
  if t == "number" then
    if v ~= v then return "nan" end
    if math.type(v) == "integer" then return tostring(v) end
    return ("%.6g"):format(v)
  end
  return tostring(v)
end

--- pretty(v, [width = 100]) -> text: a table printed readably (sorted keys, lists on one line when short, nested
--- tables indented, long lists elided in the middle, cycles marked); other values as tostring.
local function argcheck(fname, i, name, v, kind, optional)
  if (v == nil and optional) or type(v) == kind then return end
  error(("repl.%s: bad argument #%d '%s': expected a %s%s, got %s"):format(fname, i, name, kind,
    optional and " or nil" or "", type(v)), 3)
end

function M.pretty(v, width)
  argcheck("pretty", 2, "width", width, "number", true)
  width = width or 100
  local seen = {}
  local function fmt(x, indent, depth)
    if type(x) ~= "table" or getmetatable(x) and getmetatable(x).__tostring then
      local s = type(x) == "table" and tostring(x) or scalar(x)
      return (s:gsub("\n", "\n" .. indent))
    end
    if seen[x] then return "<cycle>" end
    if depth > 2 then return "{...}" end
    seen[x] = true
    local n = rawlen(x) -- a __len metamethod is not asked (it may lie: 2^60)
    local items, keys = {}, {}
    local shown = n
    if n > 24 then shown = 10 end
    for i = 1, shown do items[#items + 1] = fmt(x[i], indent .. "  ", depth + 1) end
    if n > 24 then
      items[#items + 1] = ("... (%d more) ..."):format(n - 13)
      for i = n - 2, n do items[#items + 1] = fmt(x[i], indent .. "  ", depth + 1) end
    end
    for k in pairs(x) do
      if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
    end
    table.sort(keys, function(a, b)
      if type(a) == type(b) and (type(a) == "string" or type(a) == "number") then return a < b end
      return type(a) < type(b)
    end)
    for _, k in ipairs(keys) do
      local name = is_ident(k) and k or ("[" .. scalar(k) .. "]")
      items[#items + 1] = name .. " = " .. fmt(x[k], indent .. "  ", depth + 1)
    end
    seen[x] = nil
    if #items == 0 then return "{}" end
    local one = "{" .. table.concat(items, ", ") .. "}"
    if #one + #indent <= width and not one:find("\n") then return one end
    return "{\n" .. indent .. "  " .. table.concat(items, ",\n" .. indent .. "  ") .. "\n" .. indent .. "}"
  end
  return fmt(v, "", 0)
end

---------------------------------------------------------------------------------------------------------------
-- Completion

local function keys_of(t, out, seen)
  if type(t) ~= "table" or seen[t] then return end
  seen[t] = true
  for k in pairs(t) do if type(k) == "string" then out[k] = true end end
  local mt = getmetatable(t)
  if mt and type(mt.__index) == "table" then keys_of(mt.__index, out, seen) end
end

--- complete(word, env) -> sorted candidates for a partial name such as "ml.ten", "sweep.r" or "t:resh".
function M.complete(word, env)
  argcheck("complete", 1, "word", word, "string")
  argcheck("complete", 2, "env", env, "table", true)
  env = env or _G
  local path, sep, last = word:match("^(.-)([%.:])([%w_]*)$")
  local names, obj = {}, env
  if path then
    for part in path:gmatch("[^%.:]+") do
      local ok, v = pcall(function() return obj[part] end)
      if not ok or v == nil then return {} end
      obj = v
    end
    if sep == ":" then
      local T = package.loaded["moonlab.tensor"]
      if T and T.is_tensor(obj) then obj = T.Tensor.methods end
    end
    local ok = pcall(keys_of, obj, names, {})
    if not ok and type(obj) ~= "table" then
      local mt = getmetatable(obj)
      if mt and type(mt.__index) == "table" then keys_of(mt.__index, names, {}) end
    end
    if type(obj) ~= "table" then
      local mt = getmetatable(obj)
      if mt and type(mt.__index) == "table" then keys_of(mt.__index, names, {}) end
    end
  else
    last = word
    keys_of(env, names, {})
    for _, k in ipairs(KEYWORDS) do names[k] = true end
  end
  local out = {}
  for k in pairs(names) do
    if k:sub(1, #last) == last and (path == nil or is_ident(k)) then
      out[#out + 1] = (path and (path .. sep) or "") .. k
    end
  end
  table.sort(out)
  return out
end

---------------------------------------------------------------------------------------------------------------
-- The loop

local function history_file()
  local home = os.getenv("HOME")
  return home and (home .. "/.moonlab_history") or nil
end

local function report(err)
  io.stderr:write(tostring(err), "\n")
end

local function eval(chunk, env)
  local f, err = load("return " .. chunk, "=stdin", "t", env)
  if not f then
    f, err = load(chunk, "=stdin", "t", env)
    if not f then return false, err, err:find("<eof>$") ~= nil end
  end
  local res = table.pack(xpcall(f, function(e)
    local tb = debug.traceback(tostring(e), 2)
    return (tb:gsub("\n%s*%[C%]: in function 'xpcall'.*$", ""))
  end))
  if not res[1] then return false, res[2] end
  local parts = {}
  for i = 2, res.n do parts[#parts + 1] = M.pretty(res[i]) end
  if #parts > 0 then print(table.concat(parts, "\t")) end
  return true
end

--- repl([banner]): reads and evaluates lines until end of input. With a terminal and the readline module: line
--- editing, Tab completion and ~/.moonlab_history; otherwise plain lines from stdin (prompts on stdout).
function M.repl(banner)
  argcheck("repl", 1, "banner", banner, "string", true)
  if banner then print(banner) end
  local ok, rl = pcall(require, "moonlab.readline")
  local tty = false
  local pok, progress = pcall(require, "moonlab.progress")
  if pok and progress.isatty then tty = progress.isatty(0) end
  local hist = history_file()
  local read
  if ok and tty then
    if hist then rl.read_history(hist) end
    rl.set_completer(function(word) return M.complete(word, _G) end)
    read = function(prompt)
      local line = rl.readline(prompt)
      if line and line:find("%S") then
        rl.add_history(line)
        if hist then rl.append_history(1, hist) end
      end
      return line
    end
  else
    read = function(prompt)
      io.stdout:write(prompt)
      io.stdout:flush()
      return io.read("l")
    end
  end
  local buf
  local function step()
    local line = read(buf and ">> " or "> ")
    if not line then
      if tty then io.stdout:write("\n") end
      return false
    end
    buf = buf and (buf .. "\n" .. line) or line
    local good, err, more = eval(buf, _G)
    if good or not more then
      if not good then report(err) end
      buf = nil
    end
    return true
  end
  while true do
    -- Ctrl-C raises "interrupted!" wherever Lua runs next (lua5.4's handler): report it and carry on
    local ok, going = pcall(step)
    if not ok then
      report(tostring(going):find("interrupted") and "interrupted" or going)
      buf = nil
    elseif not going then
      break
    end
  end
end

--- runs(path, [name]): prints the sweeps of a store, or the runs of one sweep as a table with a summary line.
function M.runs(path, name)
  argcheck("runs", 1, "path", path, "string")
  argcheck("runs", 2, "name", name, "string", true)
  local store = require "moonlab.store"
  local ok, S = pcall(store.open, path, { readonly = true })
  if not ok then error("repl.runs: " .. tostring(S), 2) end
  if not name then
    local okq, sw = pcall(S.sweeps, S)
    S:close()
    if not okq then error("repl.runs: " .. tostring(sw), 0) end
    print(("%-24s %8s %8s %8s"):format("sweep", "runs", "ok", "failed"))
    for _, s in ipairs(sw) do print(("%-24s %8d %8d %8d"):format(s.name, s.n, s.ok, s.failed)) end
    return
  end
  local okq, tab = pcall(S.table, S, name)
  S:close()
  if not okq then error("repl.runs: " .. tostring(tab), 0) end
  if #tab == 0 then
    print(("no runs of sweep '%s' in %s"):format(name, path))
    return
  end
  local cols = {}
  for _, c in ipairs(store._columns(tab)) do if c ~= "sweep" and c ~= "error" then cols[#cols + 1] = c end end
  cols[#cols + 1] = "error"
  local function cell(v)
    if v == nil then return "" end
    if type(v) == "table" then return v["$npy"] or "{...}" end
    local s = type(v) == "number" and scalar(v) or tostring(v)
    return #s > 40 and (s:sub(1, 37) .. "...") or s
  end
  local wid = {}
  for i, c in ipairs(cols) do wid[i] = #c end
  for _, r in ipairs(tab) do
    for i, c in ipairs(cols) do wid[i] = math.max(wid[i], #cell(r[c])) end
  end
  local function line(vals)
    local out = {}
    for i, v in ipairs(vals) do out[i] = ("%-" .. wid[i] .. "s"):format(v) end
    print((table.concat(out, "  "):gsub("%s+$", "")))
  end
  line(cols)
  local counts = {}
  for _, r in ipairs(tab) do
    local vals = {}
    for i, c in ipairs(cols) do vals[i] = cell(r[c]) end
    line(vals)
    counts[r.status] = (counts[r.status] or 0) + 1
  end
  local parts = {}
  for _, s in ipairs { "ok", "failed", "timeout", "crashed" } do
    if counts[s] then parts[#parts + 1] = counts[s] .. " " .. s end
  end
  print(("%d runs: %s"):format(#tab, table.concat(parts, ", ")))
end

local USAGE = [[
usage: moonlab                          the REPL (ml, T, sweep, store, plot, pipeline, help loaded)
       moonlab script.lua [args]        run a script with the same globals
       moonlab run script.lua [args]    the same
       moonlab runs results.db [name]   the sweeps in a store, or the runs of one sweep and a summary]]

local function run_script(script, args)
  local f, err = loadfile(script)
  if not f then
    io.stderr:write("moonlab: ", err, "\n")
    os.exit(1)
  end
  local a = { [0] = script }
  for i, v in ipairs(args) do a[i] = v end
  _G.arg = a
  local ok, e = xpcall(f, function(x) return debug.traceback(tostring(x), 2) end, table.unpack(args))
  if not ok then
    io.stderr:write("moonlab: ", e, "\n")
    os.exit(1)
  end
end

--- main(arg): the entry point of bin/moonlab.
function M.main(argv)
  argcheck("main", 1, "argv", argv, "table")
  local a = {}
  for i = 1, #argv do a[i] = argv[i] end
  local cmd = a[1]
  if cmd == nil then
    M.repl(("moonlab %s: ml, T = ml.tensor, sweep, store, plot, pipeline; help() lists modules, help(fn). ml.info() " ..
      "for the build."):format(require("moonlab").version))
  elseif cmd == "-h" or cmd == "--help" or cmd == "help" then
    print(USAGE)
  elseif cmd == "runs" then
    if not a[2] then
      io.stderr:write(USAGE, "\n")
      os.exit(2)
    end
    local ok, err = pcall(M.runs, a[2], a[3])
    if not ok then
      io.stderr:write("moonlab runs: ", (tostring(err):gsub("^[^\n]-%.lua:%d+: ", ""):gsub("^repl%.runs: ", "")), "\n")
      os.exit(1)
    end
  elseif cmd == "run" then
    if not a[2] then
      io.stderr:write(USAGE, "\n")
      os.exit(2)
    end
    run_script(a[2], { table.unpack(a, 3) })
  else
    run_script(cmd, { table.unpack(a, 2) })
  end
  os.exit(0, true)
end

return M
