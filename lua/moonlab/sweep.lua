--- moonlab.sweep: grid and random sweeps over option tables, run on a pool of forked worker processes (or MPI
--- ranks), every finished run written at once to the result store; resumable, each configuration recorded
--- exactly once. See docs/workflow.md.
local core = require "moonlab.core"
local store = require "moonlab.store"
local opts = require "moonlab.opts"

local proc = core.proc
local M = {}

---------------------------------------------------------------------------------------------------------------
-- Random numbers: splitmix64 (Steele, Lea & Flood 2014), the same stream on every machine.

local function mix(z)
  z = (z ~ (z >> 30)) * -4658895280553007687 -- 0xbf58476d1ce4e5b9
  z = (z ~ (z >> 27)) * -7723592293110705685 -- 0x94d049bb133111eb
  return z ~ (z >> 31)
end

local GOLDEN = -7046029254386353131 -- 0x9e3779b97f4a7c15

local function rng(seed)
  local state = mix(math.tointeger(seed) or 0)
  local r = {}
  function r.u64()
    state = state + GOLDEN
    return mix(state)
  end
  function r.uniform() return (r.u64() >> 11) * 2.0 ^ -53 end
  return r
end

-- FNV-1a 64 of a string (for derived seeds and file names).
local function fnv(s)
  local h = -3750763034362895579 -- 0xcbf29ce484222325
  for i = 1, #s do h = (h ~ s:byte(i)) * 1099511628211 end
  return h
end
M._hash = function(s) return ("%016x"):format(fnv(s)) end

--- The distributions of params.random (each drawn with the sweep's seed):
M.distributions = {
  -- {"uniform", a, b}: uniform on [a, b)
  uniform = function(r, d) return d[2] + (d[3] - d[2]) * r.uniform() end,
  -- {"loguniform", a, b}: exp of uniform on [log a, log b), 0 < a < b
  loguniform = function(r, d) return math.exp(math.log(d[2]) + (math.log(d[3]) - math.log(d[2])) * r.uniform()) end,
  -- {"int", a, b}: integers a..b, each with probability 1/(b-a+1)
  int = function(r, d) return d[2] + math.tointeger((r.u64() >> 11) % (d[3] - d[2] + 1)) end,
  -- {"normal", mean, sd}: Box-Muller
  normal = function(r, d)
    local u1, u2 = 1 - r.uniform(), r.uniform()
    return d[2] + d[3] * math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
  end,
  -- {"choice", {v1, v2, ...}}: one of the values, equally likely
  choice = function(r, d) return d[2][1 + math.tointeger((r.u64() >> 11) % #d[2])] end,
}

local function check_dist(k, d)
  local fname = "sweep.run"
  if type(d) ~= "table" or type(d[1]) ~= "string" or not M.distributions[d[1]] then
    error(("%s: params.random.%s must be {\"uniform\"|\"loguniform\"|\"int\"|\"normal\"|\"choice\", ...}, got %s")
      :format(fname, k, type(d) == "table" and tostring(d[1]) or type(d)), 4)
  end
  local kind = d[1]
  if kind == "choice" then
    if type(d[2]) ~= "table" or #d[2] == 0 then
      error(("%s: params.random.%s: choice needs a non-empty list of values"):format(fname, k), 4)
    end
  elseif kind == "normal" and (type(d[2]) ~= "number" or type(d[3]) ~= "number" or not (d[3] >= 0)) then
    error(("%s: params.random.%s: normal needs a mean and an sd >= 0, got %s, %s"):format(fname, k,
      tostring(d[2]), tostring(d[3])), 4)
  elseif kind ~= "normal" and (type(d[2]) ~= "number" or type(d[3]) ~= "number" or not (d[2] <= d[3])) then
    error(("%s: params.random.%s: %s needs two numbers a <= b, got %s, %s"):format(fname, k, kind,
      tostring(d[2]), tostring(d[3])), 4)
  elseif kind == "loguniform" and d[2] <= 0 then
    error(("%s: params.random.%s: loguniform needs 0 < a"):format(fname, k), 4)
  elseif kind == "int" and (math.tointeger(d[2]) == nil or math.tointeger(d[3]) == nil) then
    error(("%s: params.random.%s: int needs integer bounds"):format(fname, k), 4)
  end
  if kind == "int" then d = { "int", math.tointeger(d[2]), math.tointeger(d[3]) } end
  return d
end

local function sorted_keys(t, fname)
  local ks = {}
  for k in pairs(t) do
    if type(k) ~= "string" then error(fname .. ": parameter names must be strings, got " .. type(k), 0) end
    ks[#ks + 1] = k
  end
  table.sort(ks)
  return ks
end

--- expand(params, [seed]) -> list of configurations. params = {grid = {name = {values...}}, random = {name =
--- distribution}, n = draws, fixed = {name = value}}: the grid's product (last name in alphabetical order varies
--- fastest), each crossed with n random draws when `random` is given; `fixed` is added to every configuration.
local function expand(params, seed, fname)
  if type(params) ~= "table" then
    error((fname .. ": bad argument #1 'params': expected a table, got %s"):format(type(params)), 2)
  end
  if seed ~= nil and math.type(seed) ~= "integer" then
    error((fname .. ": bad argument #2 'seed': expected an integer or nil, got %s"):format(type(seed)), 2)
  end
  opts.check(fname .. " params", params, { "grid", "random", "n", "fixed" }, 2)
  local configs = { {} }
  if params.grid ~= nil then
    if type(params.grid) ~= "table" then error(fname .. ": params.grid must be a table of value lists", 3) end
    for _, k in ipairs(sorted_keys(params.grid, fname)) do
      local vals = params.grid[k]
      if type(vals) ~= "table" or #vals == 0 then
        error((fname .. ": params.grid.%s must be a non-empty list of values"):format(k), 3)
      end
      local nxt = {}
      for _, c in ipairs(configs) do
        for _, v in ipairs(vals) do
          local d = {}
          for a, b in pairs(c) do d[a] = b end
          d[k] = v
          nxt[#nxt + 1] = d
        end
      end
      configs = nxt
    end
  end
  if params.random ~= nil then
    if type(params.random) ~= "table" then error(fname .. ": params.random must be a table of distributions", 3) end
    local n = params.n
    if math.type(n) ~= "integer" or n < 1 then
      error((fname .. ": params.n (the number of random draws) must be an integer >= 1, got %s"):format(tostring(n)), 3)
    end
    local names, dists = sorted_keys(params.random, fname), {}
    for i, k in ipairs(names) do dists[i] = check_dist(k, params.random[k]) end
    local r = rng(fnv("random") ~ (math.tointeger(seed) or 0))
    local draws = {}
    for i = 1, n do
      local d = {}
      for j, k in ipairs(names) do d[k] = M.distributions[dists[j][1]](r, dists[j]) end
      draws[i] = d
    end
    local nxt = {}
    for _, d in ipairs(draws) do
      for _, c in ipairs(configs) do
        local e = {}
        for a, b in pairs(c) do e[a] = b end
        for a, b in pairs(d) do e[a] = b end
        nxt[#nxt + 1] = e
      end
    end
    configs = nxt
  elseif params.n ~= nil then
    error(fname .. ": params.n is the number of random draws; give params.random too", 3)
  end
  if params.fixed ~= nil then
    if type(params.fixed) ~= "table" then error(fname .. ": params.fixed must be a table", 3) end
    for _, c in ipairs(configs) do
      for k, v in pairs(params.fixed) do
        if c[k] ~= nil then error((fname .. ": parameter '%s' is both fixed and swept"):format(k), 3) end
        c[k] = v
      end
    end
  end
  return configs
end
function M.expand(params, seed) return expand(params, seed, "sweep.expand") end

-- derived_seed(seed, key) -> the run's seed in 0 .. 2^53-1, a function of the sweep seed and the run's key only
-- (so a resumed or reordered sweep gives every run the same seed).
local function derived_seed(seed, key) return mix(mix(math.tointeger(seed) or 0) ~ fnv(key)) >> 11 end

--- derived_seed(seed, key) -> the ctx.seed of the run with that key in a sweep with that seed.
function M.derived_seed(seed, key)
  if math.type(seed) ~= "integer" then
    error(("sweep.derived_seed: bad argument #1 'seed': expected an integer, got %s"):format(type(seed)), 2)
  end
  if type(key) ~= "string" then
    error(("sweep.derived_seed: bad argument #2 'key': expected a string, got %s"):format(type(key)), 2)
  end
  return derived_seed(seed, key)
end

---------------------------------------------------------------------------------------------------------------
-- Messages between processes: Lua literals, read back with load() in an empty environment.

local function ser(v)
  local t = type(v)
  if t == "string" then return ("%q"):format(v) end
  if t == "number" then
    if math.type(v) == "integer" then return ("%d"):format(v) end
    if v ~= v then return "(0/0)" end
    return ("%q"):format(v)
  end
  if t == "boolean" or t == "nil" then return tostring(v) end
  if t == "table" then
    local out = {}
    for k, x in pairs(v) do out[#out + 1] = "[" .. ser(k) .. "]=" .. ser(x) end
    return "{" .. table.concat(out, ",") .. "}"
  end
  error("cannot send a " .. t, 0)
end

local function unser(s)
  local f = assert(load("return " .. s, "=message", "t", {}))
  return f()
end
M._ser, M._unser = ser, unser

---------------------------------------------------------------------------------------------------------------
-- The worker side: runs fn on each task received, answers with one result message.

local function first_line(e) return (tostring(e):match("^[^\n]*")) end

local function execute(fn, task, files, name)
  local ctx = { seed = task.seed, rep = task.rep, key = task.key, name = name, worker = task.worker,
    rank = task.rank }
  local out = { id = task.id, started = proc.now() }
  local ok, res = xpcall(fn, function(e)
    return { msg = type(e) == "string" and e or tostring(e), tb = debug.traceback(tostring(e), 2) }
  end, task.config, ctx)
  out.finished = proc.now()
  if ok and res ~= nil and type(res) ~= "table" then
    ok, res = false, { msg = ("fn returned a %s; expected a table of metrics"):format(type(res)) }
  end
  if ok then
    local runid = M._hash(task.key)
    local eok, json = pcall(store._encode, res or {}, store._tensor_saver(files, name, runid), "metrics")
    if eok then
      out.status, out.metrics = "ok", json
    else
      out.status, out.error = "failed", "fn returned " .. first_line(json)
    end
  else
    out.status, out.error, out.traceback = "failed", first_line(res.msg), res.tb
  end
  return out
end

local function worker_main(fn, rfd, wfd, files, name, threads)
  local ml = require "moonlab"
  pcall(ml.set_threads, threads)
  while true do
    local msg = proc.recv(rfd)
    if not msg then proc.exit(0) end
    local task = unser(msg)
    local ok, out = pcall(execute, fn, task, files, name)
    if not ok then out = { id = task.id, status = "failed", error = "worker: " .. first_line(out) } end
    if not proc.send(wfd, ser(out)) then proc.exit(0) end
  end
end

---------------------------------------------------------------------------------------------------------------
-- The local pool: N forked workers, each with its own copy of the Lua state (and of fn).

local Pool = {}
Pool.__index = Pool

-- Short runs (mean under SHORT seconds so far) are sent two ahead to each worker: the next one waits in the pipe
-- while the current one runs, so the worker never idles for the parent's round trip. Longer runs go one at a
-- time, so that no run waits behind a long one while another worker is free. A worker's tasks run in order; the
-- timeout runs for the first.
local SHORT = 0.05

local function spawn(pool, slot)
  local tr, tw = proc.pipe()
  local rr, rw = proc.pipe()
  local pid, err = proc.fork()
  if not pid then error("sweep.run: cannot start a worker: " .. err, 0) end
  if pid == 0 then
    proc.close(tw)
    proc.close(rr)
    for _, w in pairs(pool.workers) do
      proc.close(w.tw)
      proc.close(w.rr)
    end
    local ok, e = proc.thread_call(worker_main, pool.fn, tr, rw, pool.files, pool.name, pool.threads)
    io.stderr:write("moonlab sweep worker: ", tostring(e), "\n")
    proc.exit(ok and 0 or 70)
  end
  proc.close(tr)
  proc.close(rw)
  local w = { pid = pid, tw = tw, rr = rr, slot = slot, q = {}, deadline = math.huge }
  pool.workers[slot] = w
  pool.byfd[rr] = w
  return w
end

local function reap(pool, w, kill)
  if kill then proc.kill(w.pid, 9) end
  proc.close(w.tw)
  proc.close(w.rr)
  pool.byfd[w.rr] = nil
  pool.workers[w.slot] = nil
  local _, how, code = proc.waitpid(w.pid)
  return how, code
end

function Pool.new(o)
  proc.ignore_sigpipe()
  local pool = setmetatable({ fn = o.fn, files = o.files, name = o.name, threads = o.threads or 1,
    timeout = o.timeout, retries = o.retries or 1, rank = o.rank or 0, n = o.n, workers = {}, byfd = {},
    queue = {}, qhead = 1, qtail = 0, busy = 0, attempts = {}, nrun = 0, trun = 0 }, Pool)
  for i = 1, o.n do spawn(pool, i) end
  return pool
end

function Pool:submit(task)
  self.qtail = self.qtail + 1
  self.queue[self.qtail] = task
end

-- puts a task back at the front of the queue (it runs next, on any worker)
local function requeue(self, task)
  self.qhead = self.qhead - 1
  self.queue[self.qhead] = task
end

function Pool:pending() return self.qtail - self.qhead + 1 + self.busy end

function Pool:close()
  local ws = {}
  for _, w in pairs(self.workers) do ws[#ws + 1] = w end
  for _, w in ipairs(ws) do reap(self, w, true) end
  self.workers = {}
end
Pool.__close = Pool.close

local function start_clock(self, w)
  w.deadline = (self.timeout and #w.q > 0) and (proc.mono() + self.timeout) or math.huge
end

-- A worker that died or was killed: its first task is recorded (or retried when a signal killed it), the tasks
-- queued behind it go back to the queue uncharged, and a new worker takes the slot.
local function lost(self, w, done, why_status, why)
  local slot = w.slot
  local task = table.remove(w.q, 1)
  for i = #w.q, 1, -1 do requeue(self, w.q[i]) end
  self.busy = self.busy - #w.q - (task and 1 or 0)
  w.q = {}
  spawn(self, slot)
  if not task then return end
  local n = (self.attempts[task.key] or 1)
  if why_status == "retry" and n <= self.retries then
    self.attempts[task.key] = n + 1
    requeue(self, task)
    return
  end
  if n > 1 then why = ("%s (attempt %d of %d)"):format(why, n, n) end
  done[#done + 1] = { id = task.id, task = task, status = why_status == "retry" and "crashed" or why_status,
    error = why, attempts = n, worker = slot }
end

local function dispatch(self)
  local depth = (self.nrun >= 4 and self.trun < SHORT * self.nrun) and 2 or 1
  for slot = 1, self.n do
    local w = self.workers[slot]
    while w and not w.dead and #w.q < depth and self.qhead <= self.qtail do
      if #w.q == 0 and proc.waitpid(w.pid, true) == w.pid then
        -- died while idle (reaped just now, so never signalled again): replace it, nothing is charged
        proc.close(w.tw)
        proc.close(w.rr)
        self.byfd[w.rr] = nil
        self.workers[slot] = nil
        w = spawn(self, slot)
      end
      local task = self.queue[self.qhead]
      self.queue[self.qhead] = nil
      self.qhead = self.qhead + 1
      task.worker, task.rank = slot, self.rank
      if not proc.send(w.tw, ser(task)) then
        requeue(self, task)
        if #w.q == 0 then
          -- died while idle: replace it, nothing is charged
          reap(self, w, true)
          w = spawn(self, slot)
        else
          w.dead = true -- its end of file is seen by wait(), which handles its tasks
        end
      else
        w.q[#w.q + 1] = task
        self.busy = self.busy + 1
        if #w.q == 1 then start_clock(self, w) end
      end
    end
  end
end

--- wait() -> list of finished results ({id, task, status, metrics, error, traceback, started, finished, worker}).
function Pool:wait()
  dispatch(self)
  local done = {}
  while #done == 0 and self.busy > 0 do
    local fds, soonest = {}, math.huge
    for slot = 1, self.n do
      local w = self.workers[slot]
      if w and #w.q > 0 then
        fds[#fds + 1] = w.rr
        if w.deadline < soonest then soonest = w.deadline end
      end
    end
    local wait = soonest == math.huge and 1 or math.max(0, soonest - proc.mono())
    for _, fd in ipairs(proc.poll(fds, math.min(wait, 1))) do
      local w = self.byfd[fd]
      local msg = w and proc.recv(fd)
      if msg then
        local r = unser(msg)
        local task = table.remove(w.q, 1)
        assert(task and task.id == r.id, "sweep: a worker answered out of order")
        r.task, r.worker, r.attempts = task, w.slot, self.attempts[task.key] or 1
        self.busy = self.busy - 1
        if r.started and r.finished then self.nrun, self.trun = self.nrun + 1, self.trun + (r.finished - r.started) end
        start_clock(self, w)
        done[#done + 1] = r
      elseif w then
        local how, code = reap(self, w, false)
        if how == "exited" then
          lost(self, w, done, "crashed", ("the worker process exited with status %d during the run (fn called " ..
            "os.exit?)"):format(code))
        else
          lost(self, w, done, "retry", ("the worker process was killed by signal %d during the run"):format(code or -1))
        end
      end
    end
    local now = proc.mono()
    for slot = 1, self.n do
      local w = self.workers[slot]
      if w and #w.q > 0 and now >= w.deadline then
        reap(self, w, true)
        lost(self, w, done, "timeout", ("timed out after %g s"):format(self.timeout))
      end
    end
    dispatch(self)
  end
  return done
end

M.Pool = Pool

---------------------------------------------------------------------------------------------------------------

local OPTIONS = { "name", "params", "repeats", "seed", "fn", "store", "workers", "timeout", "backend", "quiet",
  "threads", "retry_failed", "retries", "grace" }

local function record(S, name, r, host, rank)
  local t = r.task
  return S:insert { sweep = name, key = t.key, rep = t.rep, config = t.json, seed = t.seed, status = r.status,
    metrics = r.metrics, error = r.error, traceback = r.traceback, started = r.started, finished = r.finished,
    host = r.host or host, rank = r.rank or rank, worker = r.worker, attempts = r.attempts }
end

local function check(o)
  opts.check("sweep.run", o, OPTIONS, 3)
  if type(o) ~= "table" then error("sweep.run: expected an options table", 3) end
  opts.need("sweep.run", o, "name", "string")
  opts.need("sweep.run", o, "fn", "function")
  opts.need("sweep.run", o, "params", "table")
  opts.need("sweep.run", o, "store", "string")
  local function int(k, lo)
    local v = o[k]
    if v ~= nil and (math.type(v) ~= "integer" or v < lo) then
      error(("sweep.run: option '%s' must be an integer >= %d, got %s"):format(k, lo, tostring(v)), 4)
    end
  end
  int("repeats", 1); int("workers", 1); int("threads", 1); int("retries", 0)
  if o.seed ~= nil and math.type(o.seed) ~= "integer" then
    error(("sweep.run: option 'seed' must be an integer, got %s"):format(tostring(o.seed)), 3)
  end
  if o.timeout ~= nil and (type(o.timeout) ~= "number" or not (o.timeout > 0)) then
    error(("sweep.run: option 'timeout' must be a number of seconds > 0, got %s"):format(tostring(o.timeout)), 3)
  end
  if o.grace ~= nil and (type(o.grace) ~= "number" or not (o.grace > 0)) then
    error(("sweep.run: option 'grace' must be a number of seconds > 0, got %s"):format(tostring(o.grace)), 3)
  end
  local b = o.backend or "auto"
  if b ~= "auto" and b ~= "local" and b ~= "mpi" then
    error(("sweep.run: option 'backend' must be \"auto\", \"local\" or \"mpi\", got %s"):format(tostring(b)), 3)
  end
end

-- The runs of the sweep: {key, json, config, rep, seed}, in expansion order.
local function tasks_of(o)
  local configs = expand(o.params, o.seed, "sweep.run")
  local out, seen = {}, {}
  for i, c in ipairs(configs) do
    local ok, json = pcall(store._encode, c, nil, "configuration")
    if not ok then error(("sweep.run: %s (configuration %d)"):format(json, i), 3) end
    if seen[json] then goto next end -- a value listed twice: the configuration runs once
    seen[json] = true
    for rep = 1, o.repeats or 1 do
      local key = json .. "#" .. rep
      out[#out + 1] = { key = key, json = json, config = c, rep = rep, seed = derived_seed(o.seed or 0, key) }
    end
    ::next::
  end
  return out
end

local function new_summary(o, total)
  return { name = o.name, store = o.store, total = total, skipped = 0, ran = 0, ok = 0, failed = 0, timeout = 0,
    crashed = 0, failures = {}, seconds = 0 }
end

local function count(sum, r)
  sum.ran = sum.ran + 1
  sum[r.status] = sum[r.status] + 1
  if r.status ~= "ok" then
    sum.failures[#sum.failures + 1] = { config = r.task.config, rep = r.task.rep, status = r.status, error = r.error }
  end
end

local function progress_bar(o, total)
  local progress = require "moonlab.progress"
  return progress.new { label = "sweep " .. o.name, total = total, quiet = o.quiet and true or false }
end

local function fail_text(sum)
  local nf = sum.failed + sum.timeout + sum.crashed
  return nf > 0 and (nf .. " failed") or nil
end

local function open_and_plan(o)
  local tasks = tasks_of(o)
  local ok, S = pcall(store.open, o.store)
  if not ok then error("sweep.run: " .. tostring(S):gsub("^[^\n]-%.lua:%d+: ", ""), 0) end
  if o.retry_failed then
    S:exec(("DELETE FROM runs WHERE sweep = '%s' AND status <> 'ok'"):format(o.name:gsub("'", "''")), "sweep.run")
  end
  local have = S:done(o.name)
  local todo = {}
  for _, t in ipairs(tasks) do
    if not have[t.key] then todo[#todo + 1] = t; t.id = #todo end
  end
  local sum = new_summary(o, #tasks)
  sum.skipped = #tasks - #todo
  return S, todo, sum
end

local function run_local(o)
  local t0 = proc.mono()
  local S, todo, sum = open_and_plan(o)
  local host = proc.hostname()
  if #todo == 0 then
    S:close()
    sum.seconds = proc.mono() - t0
    return sum
  end
  local n = math.min(o.workers or proc.ncpu(), #todo)
  sum.workers = n
  local bar = progress_bar(o, #todo)
  local pool <close> = Pool.new { n = n, fn = o.fn, files = S.files, name = o.name, threads = o.threads,
    timeout = o.timeout, retries = o.retries, rank = 0 }
  for _, t in ipairs(todo) do pool:submit(t) end
  local ok, err = pcall(function()
    while pool:pending() > 0 do
      for _, r in ipairs(pool:wait()) do
        record(S, o.name, r, host, 0)
        count(sum, r)
        bar:update(sum.ran, fail_text(sum))
      end
    end
  end)
  if not ok then
    pool:close()
    bar:finish(fail_text(sum))
    S:close()
    if tostring(err):find("interrupted!?$") then
      error(("sweep.run: interrupted after %d of %d runs; they are in %s: run the same call again to resume")
        :format(sum.ran, #todo, o.store), 3)
    end
    error(err, 0)
  end
  bar:finish(fail_text(sum))
  S:close()
  sum.seconds = proc.mono() - t0
  return sum
end

--- run{name, params, fn, store, repeats = 1, seed = 0, workers = cores, timeout = none, backend = "auto",
---     threads = 1, retries = 1, retry_failed = false, grace = 10 (MPI), quiet = false} -> summary
--- {name, store, total, skipped, ran, ok, failed, timeout, crashed, failures = {{config, rep, status, error}},
--- seconds, workers (local pool) or ranks (MPI)}. See docs/workflow.md.
function M.run(o)
  check(o)
  local backend = o.backend or "auto"
  if backend == "auto" then
    backend = (os.getenv("OMPI_COMM_WORLD_SIZE") or os.getenv("PMI_SIZE")) and "mpi" or "local"
  end
  if backend == "mpi" then
    local mpi = require "moonlab.mpi"
    if not mpi.available() then
      error("sweep.run: backend \"mpi\" needs moonlab's MPI module, which was not built (" .. mpi.why() ..
        "); install Open MPI (make deps) and run make, or use backend = \"local\"", 2)
    end
    return mpi._sweep(o, { tasks_of = tasks_of, open_and_plan = open_and_plan,
      record = record, count = count, progress_bar = progress_bar, fail_text = fail_text, Pool = Pool,
      new_summary = new_summary, run_local = run_local })
  end
  return run_local(o)
end

M.run = store._public(M.run)
M.expand = store._public(M.expand)

return M
