--- moonlab.store: the result store of sweeps, one SQLite file (WAL mode) read and written through Debian's
--- LuaSQL-SQLite3. The schema is documented and versioned (docs/workflow.md), so `sqlite3 results.db` works too.
local core = require "moonlab.core"
local T = require "moonlab.tensor"
local opts = require "moonlab.opts"

local proc = core.proc
local M = {}

M.SCHEMA_VERSION = 1

local SCHEMA = {
  [[CREATE TABLE IF NOT EXISTS moonlab_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)]],
  [[CREATE TABLE IF NOT EXISTS runs(
      id INTEGER PRIMARY KEY,
      sweep TEXT NOT NULL,
      key TEXT NOT NULL,
      rep INTEGER NOT NULL,
      config TEXT NOT NULL,
      seed INTEGER,
      status TEXT NOT NULL CHECK(status IN ('ok', 'failed', 'timeout', 'crashed')),
      metrics TEXT,
      error TEXT,
      traceback TEXT,
      started REAL,
      finished REAL,
      host TEXT,
      rank INTEGER,
      worker INTEGER,
      attempts INTEGER NOT NULL DEFAULT 1,
      UNIQUE(sweep, key))]],
  [[CREATE INDEX IF NOT EXISTS runs_sweep_status ON runs(sweep, status)]],
}

---------------------------------------------------------------------------------------------------------------
-- JSON: exact round trip (integers stay integers, floats keep 17 digits, nan/inf as NaN/Infinity), object keys
-- sorted so that equal tables give equal text (the configuration key of a run is its canonical JSON).

local function json_string(s)
  return '"' .. s:gsub('[%c"\\\127]', function(c)
    if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" elseif c == "\n" then return "\\n" end
    return ("\\u%04x"):format(c:byte())
  end) .. '"'
end

local function json_number(x)
  if math.type(x) == "integer" then return tostring(x) end
  if x ~= x then return "NaN" end
  if x == math.huge then return "Infinity" elseif x == -math.huge then return "-Infinity" end
  local s = ("%.17g"):format(x)
  if tonumber(("%.15g"):format(x)) == x then s = ("%.15g"):format(x) end
  if not s:find("[%.eEn]") then s = s .. ".0" end
  return s
end

-- encode(v, [on_tensor], [what]) -> text. on_tensor(t, path) returns a replacement value for a tensor (the
-- store writes {"$npy": file}); without it tensors are not serialisable. Errors name the offending path.
local function encode(v, on_tensor, what)
  local seen = {}
  local function enc(x, path)
    local tx = type(x)
    if tx == "number" then return json_number(x)
    elseif tx == "string" then return json_string(x)
    elseif tx == "boolean" then return tostring(x)
    elseif T.is_tensor(x) and on_tensor then
      local r = on_tensor(x, path)
      if T.is_tensor(r) then
        error(("%s is not serialisable: on_tensor returned a tensor for %s (it must return a plain value)")
          :format(what or "value", path), 0)
      end
      return enc(r, path)
    elseif tx ~= "table" then
      error(("%s is not serialisable: %s is a %s"):format(what or "value", path, T.is_tensor(x) and "tensor" or tx), 0)
    end
    if seen[x] then error(("%s is not serialisable: %s refers to itself"):format(what or "value", path), 0) end
    seen[x] = true
    local n, count, keys = #x, 0, {}
    for k in pairs(x) do
      count = count + 1
      if type(k) == "string" then keys[#keys + 1] = k
      elseif math.type(k) ~= "integer" or k < 1 or k > n then
        error(("%s is not serialisable: %s has a key %s (only strings or 1..n)"):format(what or "value", path,
          tostring(k)), 0)
      end
    end
    local out = {}
    if count == n and n > 0 then
      for i = 1, n do out[i] = enc(x[i], path .. "[" .. i .. "]") end
      seen[x] = nil
      return "[" .. table.concat(out, ",") .. "]"
    end
    if #keys ~= count then
      error(("%s is not serialisable: %s mixes list and named entries"):format(what or "value", path), 0)
    end
    table.sort(keys)
    for i, k in ipairs(keys) do out[i] = json_string(k) .. ":" .. enc(x[k], path .. "." .. k) end
    seen[x] = nil
    return "{" .. table.concat(out, ",") .. "}"
  end
  return enc(v, what or "value")
end

local function decode(s)
  local pos = 1
  local function fail(msg) error(("store: bad JSON at byte %d: %s"):format(pos, msg), 0) end
  local function ws() pos = s:find("[^ \t\r\n]", pos) or #s + 1 end
  local val
  local esc = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }
  local function str()
    local out, i = {}, pos + 1
    while true do
      local j = s:find('["\\]', i)
      if not j then fail("unterminated string") end
      out[#out + 1] = s:sub(i, j - 1)
      if s:sub(j, j) == '"' then pos = j + 1; return table.concat(out) end
      local c = s:sub(j + 1, j + 1)
      if c == "u" then
        out[#out + 1] = utf8.char(tonumber(s:sub(j + 2, j + 5), 16) or fail("bad \\u escape"))
        i = j + 6
      else
        out[#out + 1] = esc[c] or fail("bad escape")
        i = j + 2
      end
    end
  end
  function val()
    ws()
    local c = s:sub(pos, pos)
    if c == "{" then
      local t = {}
      pos = pos + 1; ws()
      if s:sub(pos, pos) == "}" then pos = pos + 1; return t end
      while true do
        ws()
        if s:sub(pos, pos) ~= '"' then fail("expected a key") end
        local k = str(); ws()
        if s:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        t[k] = val(); ws()
        local d = s:sub(pos, pos); pos = pos + 1
        if d == "}" then return t elseif d ~= "," then fail("expected ',' or '}'") end
      end
    elseif c == "[" then
      local t = {}
      pos = pos + 1; ws()
      if s:sub(pos, pos) == "]" then pos = pos + 1; return t end
      while true do
        t[#t + 1] = val(); ws()
        local d = s:sub(pos, pos); pos = pos + 1
        if d == "]" then return t elseif d ~= "," then fail("expected ',' or ']'") end
      end
    elseif c == '"' then return str()
    elseif s:find("^true", pos) then pos = pos + 4; return true
    elseif s:find("^false", pos) then pos = pos + 5; return false
    elseif s:find("^null", pos) then pos = pos + 4; return nil
    elseif s:find("^NaN", pos) then pos = pos + 3; return 0 / 0
    elseif s:find("^Infinity", pos) then pos = pos + 8; return math.huge
    elseif s:find("^%-Infinity", pos) then pos = pos + 9; return -math.huge
    end
    local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
    if not num or num == "" then fail("unexpected character") end
    pos = pos + #num
    if num:find("[%.eE]") then return tonumber(num) end
    return math.tointeger(tonumber(num)) or tonumber(num)
  end
  local v = val()
  ws()
  if pos <= #s then fail("trailing characters") end
  return v
end

M._encode, M._decode = encode, decode

--- encode(v, [on_tensor], [what]) -> canonical JSON text of v (sorted keys, exact numbers, NaN/Infinity);
--- on_tensor(t, path) returns what to write for a tensor (tensors are refused without it).
function M.encode(v, on_tensor, what)
  if on_tensor ~= nil and type(on_tensor) ~= "function" then
    error(("store.encode: bad argument #2 'on_tensor': expected a function or nil, got %s"):format(type(on_tensor)), 2)
  end
  if what ~= nil and type(what) ~= "string" then
    error(("store.encode: bad argument #3 'what': expected a string or nil, got %s"):format(type(what)), 2)
  end
  local ok, r = pcall(encode, v, on_tensor, what)
  if not ok then error("store.encode: " .. tostring(r), 2) end
  return r
end

--- decode(s) -> the value of the JSON text s (integers stay integers).
function M.decode(s)
  if type(s) ~= "string" then error(("store.decode: bad argument #1 's': expected a string, got %s"):format(type(s)), 2) end
  local ok, r = pcall(decode, s)
  if not ok then error((tostring(r):gsub("^store: ", "store.decode: ")), 2) end
  return r
end

-- _public(f) -> f whose errors carry the caller's position instead of a moonlab-internal one (messages then
-- start with the public function name, e.g. "sweep.run: ..."). Used by the workflow modules.
function M._public(f)
  return function(...)
    local r = table.pack(pcall(f, ...))
    if r[1] then return table.unpack(r, 2, r.n) end
    local e = r[2]
    if type(e) == "string" then e = e:gsub("^[^\n]-moonlab/[%w_]+%.lua:%d+: ", "") end
    error(e, 2)
  end
end

---------------------------------------------------------------------------------------------------------------

local function sql_quote(v)
  if v == nil then return "NULL" end
  if type(v) == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    if v ~= v or v == math.huge or v == -math.huge then return "NULL" end
    return ("%.17g"):format(v)
  end
  return "'" .. tostring(v):gsub("%z", ""):gsub("'", "''") .. "'"
end

local Store = {}
Store.__index = Store

local function is_busy(err) return err and (err:find("locked", 1, true) or err:find("busy", 1, true)) end

-- exec(sql) with retries while another process holds the lock: back-off from 5 ms doubling to 0.5 s, for at
-- most self.timeout seconds, then a clear error.
function Store:exec(sql, fname, keep)
  if not self.conn then error((fname or "store") .. ": the store is closed", 3) end
  local wait, t0 = 0.005, proc.mono()
  while true do
    local r, err = self.conn:execute(sql)
    if r then
      if type(r) == "userdata" and not keep then r:close(); return true end
      return r
    end
    if not is_busy(err) then
      error(("%s: %s: %s"):format(fname or "store", self.path, (tostring(err):gsub("^LuaSQL: ", ""))), 3)
    end
    local waited = proc.mono() - t0
    if waited >= self.timeout then
      error(("%s: database %s is locked by another process (gave up after %.1f s of retries)")
        :format(fname or "store", self.path, waited), 3)
    end
    proc.sleep(math.min(wait, self.timeout - waited + 1e-3))
    wait = math.min(wait * 2, 0.5)
  end
end

local function rows(self, sql, fname)
  local cur = self:exec(sql, fname, true)
  local out = {}
  if type(cur) ~= "userdata" then return out end
  while true do
    local r = cur:fetch({}, "a")
    if not r then break end
    out[#out + 1] = r
  end
  cur:close()
  return out
end

local function check_header(path)
  local f = io.open(path, "rb")
  if not f then return end
  local head = f:read(16)
  f:close()
  if head and #head > 0 and head ~= "SQLite format 3\0" then
    error(("store.open: %s is not a moonlab store (not an SQLite file); it was left untouched"):format(path), 3)
  end
end

--- open(path, {timeout = 10, readonly = false}) -> store. Creates the file (WAL mode, schema version 1) when
--- absent; refuses (without writing) a file that is not an SQLite database, a database of another program,
--- or a newer schema.
function M.open(path, o)
  o = o or {}
  opts.check("store.open", o, { "timeout", "readonly" }, 2)
  if type(path) ~= "string" or path == "" then
    error(("store.open: bad argument #1 'path': expected a file name, got %s"):format(type(path)), 2)
  end
  if o.timeout ~= nil and (type(o.timeout) ~= "number" or o.timeout < 0) then
    error("store.open: option 'timeout' must be a number of seconds >= 0", 2)
  end
  check_header(path)
  local exists = io.open(path, "rb")
  if exists then exists:close() end
  if o.readonly and not exists then error(("store.open: %s does not exist"):format(path), 2) end
  local dir = path:match("^(.*)/[^/]*$")
  if not exists and dir and dir ~= "" then
    local ok = io.open(dir, "rb")
    if not ok then error(("store.open: cannot create %s: directory %s does not exist"):format(path, dir), 2) end
    ok:close()
  end
  local driver = require "luasql.sqlite3"
  local env = driver.sqlite3()
  local conn, err = env:connect(path)
  if not conn then
    error(("store.open: cannot open %s: %s"):format(path, tostring(err):gsub("^LuaSQL: ", "")), 2)
  end
  local self = setmetatable({ path = path, env = env, conn = conn, timeout = o.timeout or 10, pid = proc.getpid(),
    files = path .. ".files" }, Store)
  local ok, e = pcall(function()
    local tabs = rows(self, "SELECT name FROM sqlite_master WHERE type = 'table'", "store.open")
    local names = {}
    for _, r in ipairs(tabs) do names[r.name] = true end
    if next(names) and not names.moonlab_meta then
      error(("store.open: %s is an SQLite database of another program (no moonlab_meta table); it was left " ..
        "untouched"):format(path), 0)
    end
    if names.moonlab_meta then
      local v = rows(self, "SELECT value FROM moonlab_meta WHERE key = 'schema_version'", "store.open")[1]
      local ver = v and tonumber(v.value)
      if not ver or ver > M.SCHEMA_VERSION then
        error(("store.open: %s has schema version %s; this moonlab reads version %d"):format(path,
          tostring(v and v.value), M.SCHEMA_VERSION), 0)
      end
    end
    if o.readonly then return end
    local mode = rows(self, "PRAGMA journal_mode = WAL", "store.open")[1]
    if not mode or (mode.journal_mode ~= "wal") then
      error(("store.open: %s: cannot switch to WAL mode (%s)"):format(path, mode and mode.journal_mode or "?"), 0)
    end
    self:exec("PRAGMA synchronous = NORMAL", "store.open")
    self:exec("PRAGMA busy_timeout = 20", "store.open")
    if not names.moonlab_meta then
      self:exec("BEGIN IMMEDIATE", "store.open")
      for _, sql in ipairs(SCHEMA) do self:exec(sql, "store.open") end
      self:exec(("INSERT OR IGNORE INTO moonlab_meta VALUES ('schema_version', '%d'), ('created', %s)")
        :format(M.SCHEMA_VERSION, sql_quote(os.date("!%Y-%m-%dT%H:%M:%SZ"))), "store.open")
      self:exec("COMMIT", "store.open")
    end
  end)
  if not ok then
    pcall(function() conn:close(); env:close() end)
    error(tostring(e):gsub("^store: ", "store.open: "), 2)
  end
  return self
end

-- A forked worker inherits the parent's connection: only the process that opened it may close it.
function Store:close()
  if self.conn and self.pid == proc.getpid() then
    self.conn:close()
    self.env:close()
  end
  self.conn = nil
end
Store.__close = Store.close
Store.__gc = Store.close

function Store:__tostring()
  return ("moonlab store %s%s"):format(self.path, self.conn and "" or " (closed)")
end

-- The keys of the runs of a sweep already in the store: {key = status}.
function Store:done(sweep)
  local out = {}
  for _, r in ipairs(rows(self, "SELECT key, status FROM runs WHERE sweep = " .. sql_quote(sweep), "sweep.run")) do
    out[r.key] = r.status
  end
  return out
end

-- Saves a metric tensor as .npy beside the store: <store>.files/<sweep>/<run id>/<path>.npy; returns the
-- reference {"$npy" = relative file}.
function M._tensor_saver(base, sweep, runid)
  return function(t, path)
    local rel = (sweep .. "/" .. runid):gsub("[^%w%-_./]", "_") .. "/" .. path:gsub("[^%w%-_]", "_") .. ".npy"
    local file = base .. "/" .. rel
    local ok, err = proc.mkdir(file:match("^(.*)/"))
    if not ok then error("store: cannot create the tensor folder: " .. err, 0) end
    t:save(file)
    return { ["$npy"] = rel }
  end
end

-- insert(run): one row, committed at once; a second insert of the same (sweep, key) is ignored (the first
-- result stays: exactly once). Returns true when the row was new.
function Store:insert(r)
  local sql = ("INSERT OR IGNORE INTO runs(sweep, key, rep, config, seed, status, metrics, error, traceback, " ..
    "started, finished, host, rank, worker, attempts) VALUES (%s)"):format(table.concat({
      sql_quote(r.sweep), sql_quote(r.key), sql_quote(r.rep), sql_quote(r.config), sql_quote(r.seed),
      sql_quote(r.status), sql_quote(r.metrics), sql_quote(r.error), sql_quote(r.traceback), sql_quote(r.started),
      sql_quote(r.finished), sql_quote(r.host), sql_quote(r.rank), sql_quote(r.worker), sql_quote(r.attempts or 1),
    }, ", "))
  return (self:exec(sql, "store")) == 1
end

local function load_tensors(self, v)
  if type(v) ~= "table" then return v end
  if v["$npy"] then return T.load(self.files .. "/" .. v["$npy"]) end
  for k, x in pairs(v) do v[k] = load_tensors(self, x) end
  return v
end

local function matches(cfg, where)
  for k, want in pairs(where) do
    local have = cfg[k]
    if type(want) == "table" and not (type(have) == "table") then
      local any = false
      for _, w in ipairs(want) do if have == w then any = true end end
      if not any then return false end
    elseif type(want) == "function" then
      if not want(have) then return false end
    elseif have ~= want then return false end
  end
  return true
end

local function tonum(x) return x ~= nil and tonumber(x) or nil end

--- runs{name =, where = {key = value | {v1, v2} | function(v) -> bool}, status = "ok"|"failed"|...,
---      tensors = true} -> list of runs {id, sweep, rep, config, metrics, seed, status, error, traceback,
---      started, finished, duration, host, rank, worker, attempts}, in insertion order.
function Store:runs(o)
  o = o or {}
  opts.check("store:runs", o, { "name", "where", "status", "tensors" }, 2)
  local cond = {}
  if o.name ~= nil then cond[#cond + 1] = "sweep = " .. sql_quote(o.name) end
  if o.status ~= nil then cond[#cond + 1] = "status = " .. sql_quote(o.status) end
  local sql = "SELECT * FROM runs" .. (#cond > 0 and (" WHERE " .. table.concat(cond, " AND ")) or "") ..
    " ORDER BY id"
  local out = {}
  for _, r in ipairs(rows(self, sql, "store:runs")) do
    local run = {
      id = math.tointeger(tonum(r.id)), sweep = r.sweep, key = r.key, rep = math.tointeger(tonum(r.rep)),
      config = decode(r.config), seed = math.tointeger(tonum(r.seed)), status = r.status,
      metrics = r.metrics and decode(r.metrics) or {}, error = r.error, traceback = r.traceback,
      started = tonum(r.started), finished = tonum(r.finished), host = r.host,
      rank = math.tointeger(tonum(r.rank)), worker = math.tointeger(tonum(r.worker)),
      attempts = math.tointeger(tonum(r.attempts)),
    }
    if run.started and run.finished then run.duration = run.finished - run.started end
    if not o.where or matches(run.config, o.where) then
      if o.tensors ~= false then load_tensors(self, run.metrics) end
      out[#out + 1] = run
    end
  end
  return out
end

local function flatten(t, prefix, out)
  for k, v in pairs(t) do
    local key = prefix and (prefix .. "." .. tostring(k)) or tostring(k)
    if type(v) == "table" and not (v["$npy"]) then flatten(v, key, out) else out[key] = v end
  end
  return out
end

--- table([name]) -> rows {id, sweep, rep, seed, status, duration, error, <config keys>, <metric keys>}: config
--- and metrics flattened ("a.b" for nested tables); a metric named like a config key is stored as "m.<name>".
--- Tensor metrics stay references ({"$npy" = file}).
function Store:table(name)
  local out = {}
  for _, r in ipairs(self:runs { name = name, tensors = false }) do
    local row = { id = r.id, sweep = r.sweep, rep = r.rep, seed = r.seed, status = r.status,
      duration = r.duration, error = r.error }
    flatten(r.config, nil, row)
    for k, v in pairs(flatten(r.metrics, nil, {})) do
      if row[k] ~= nil then k = "m." .. k end
      row[k] = v
    end
    out[#out + 1] = row
  end
  return out
end

--- sweeps() -> list of {name, n, ok, failed} for the sweeps in the store.
function Store:sweeps()
  local out = {}
  for _, r in ipairs(rows(self, "SELECT sweep, count(*) AS n, sum(status = 'ok') AS ok FROM runs GROUP BY sweep " ..
    "ORDER BY min(id)", "store:sweeps")) do
    local n, ok = math.tointeger(tonum(r.n)), math.tointeger(tonum(r.ok)) or 0
    out[#out + 1] = { name = r.sweep, n = n, ok = ok, failed = n - ok }
  end
  return out
end

local FIXED = { "id", "sweep", "rep", "seed", "status", "duration", "error" }

local function columns(tab)
  local fixed, seen, extra = {}, {}, {}
  for _, c in ipairs(FIXED) do fixed[c] = true end
  for _, r in ipairs(tab) do
    for k in pairs(r) do
      if not fixed[k] and not seen[k] then seen[k] = true; extra[#extra + 1] = k end
    end
  end
  table.sort(extra)
  local cols = {}
  for _, c in ipairs(FIXED) do cols[#cols + 1] = c end
  for _, c in ipairs(extra) do cols[#cols + 1] = c end
  return cols
end
M._columns = columns

local function csv_field(v)
  if v == nil then return "" end
  if type(v) == "table" then v = v["$npy"] or encode(v) end
  if type(v) == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    return ("%.17g"):format(v)
  end
  v = tostring(v)
  if v:find('[,"\r\n]') then v = '"' .. v:gsub('"', '""') .. '"' end
  return v
end

--- to_csv(path, [name]) -> path: the rows of :table(name) with a header line (fixed columns, then config and
--- metric keys in alphabetical order).
function Store:to_csv(path, name)
  if type(path) ~= "string" then error("store:to_csv: bad argument #1 'path': expected a file name", 2) end
  local tab = self:table(name)
  local cols = columns(tab)
  local f, err = io.open(path, "w")
  if not f then error("store:to_csv: " .. err, 2) end
  f:write(table.concat(cols, ","), "\n")
  for _, r in ipairs(tab) do
    local line = {}
    for i, c in ipairs(cols) do line[i] = csv_field(r[c]) end
    f:write(table.concat(line, ","), "\n")
  end
  f:close()
  return path
end

--- summary(name, {by = {"key", ...}, metric = "name"}) -> list of groups {by = {key = value...}, mean, sd, n}
--- sorted by the group keys, over the runs with status "ok" whose metric is a number (sd is the sample standard
--- deviation, 0 for n = 1). The group keys are also copied into the group itself unless they are named mean,
--- sd, n or by.
function Store:summary(name, o)
  o = o or {}
  opts.check("store:summary", o, { "by", "metric" }, 2)
  opts.need("store:summary", o, "metric", "string")
  local by = o.by or {}
  if type(by) == "string" then by = { by } end
  local groups, order = {}, {}
  for _, r in ipairs(self:table(name)) do
    local v = r[o.metric]
    if r.status == "ok" and type(v) == "number" then
      local kv = {}
      for i, k in ipairs(by) do kv[i] = encode(r[k] == nil and "" or r[k]) end
      local gk = table.concat(kv, "\0")
      local g = groups[gk]
      if not g then
        g = { by = {}, vals = {} }
        for _, k in ipairs(by) do g.by[k] = r[k] end
        groups[gk] = g
        order[#order + 1] = g
      end
      g.vals[#g.vals + 1] = v
    end
  end
  for _, g in ipairs(order) do
    local n, sum, ss = #g.vals, 0, 0
    for _, v in ipairs(g.vals) do sum = sum + v end
    g.mean = sum / n
    for _, v in ipairs(g.vals) do ss = ss + (v - g.mean) ^ 2 end
    g.sd = n > 1 and math.sqrt(ss / (n - 1)) or 0
    g.n, g.vals = n, nil
    for k, v in pairs(g.by) do
      if k ~= "mean" and k ~= "sd" and k ~= "n" and k ~= "by" then g[k] = v end
    end
  end
  table.sort(order, function(a, b)
    for _, k in ipairs(by) do
      local x, y = a.by[k], b.by[k]
      if x ~= y then
        if type(x) == "number" and type(y) == "number" then return x < y end
        return tostring(x) < tostring(y)
      end
    end
    return false
  end)
  return order
end

M.open = M._public(M.open)
for _, k in ipairs { "runs", "table", "to_csv", "summary", "sweeps" } do Store[k] = M._public(Store[k]) end

return M
