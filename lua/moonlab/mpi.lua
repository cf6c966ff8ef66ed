--- moonlab.mpi: MPI for sweeps across ranks and machines (rank, size, send/recv of strings, probe, barrier,
--- allreduce of numbers, abort), a thin binding built with mpicc when Open MPI is installed. See docs/workflow.md.
local M = {}

local C, why

local function arg(fname, i, name, v, kind, optional)
  if v == nil and optional then return end
  if kind == "integer" and math.type(v) == "integer" then return end
  if kind ~= "integer" and type(v) == kind then return end
  error(("mpi.%s: bad argument #%d '%s': expected %s%s, got %s"):format(fname, i, name,
    kind == "integer" and "an integer" or ("a " .. kind), optional and " or nil" or "",
    math.type(v) == "float" and "a float" or type(v)), 3)
end

local function none(fname, ...)
  if select("#", ...) > 0 then
    error(("mpi.%s: takes no arguments, got %s"):format(fname, type((...))), 3)
  end
end


local function load()
  if C or why then return C end
  local ok, mod = pcall(require, "moonlab.mpi_core")
  if ok then C = mod else why = tostring(mod):match("^[^\n]*") end
  return C
end

--- available() -> true when the MPI module was built and loads (loading it initialises MPI).
function M.available(...) none("available", ...) return load() ~= nil end

--- built() -> true when the MPI module file exists (without loading it, so without initialising MPI).
function M.built(...) none("built", ...) return C ~= nil or package.searchpath("moonlab.mpi_core", package.cpath) ~= nil end

--- why() -> why the MPI module is unavailable (nil when it is available).
function M.why(...)
  none("why", ...)
  load()
  return why and ("moonlab.mpi_core did not load: " .. why) or nil
end

local function need(fname)
  if not load() then
    error(("mpi.%s: MPI is not available (%s); install Open MPI (make deps) and run make"):format(fname, M.why()), 3)
  end
  return C
end

--- rank() -> this process's rank in MPI_COMM_WORLD (0-based).
function M.rank(...) none("rank", ...) return need("rank").rank() end
--- size() -> the number of ranks.
function M.size(...) none("size", ...) return need("size").size() end
--- send(dest, s, [tag = 0]): blocking send of the string s to rank dest.
function M.send(dest, s, tag)
  arg("send", 1, "dest", dest, "integer")
  arg("send", 2, "s", s, "string")
  arg("send", 3, "tag", tag, "integer", true)
  return need("send").send(dest, s, tag)
end
-- The function mpi.<fname>([src], [tag]): checks both (optional integers) and calls the binding's fname.
local function by_src_tag(fname)
  return function(src, tag)
    arg(fname, 1, "src", src, "integer", true)
    arg(fname, 2, "tag", tag, "integer", true)
    return need(fname)[fname](src, tag)
  end
end
--- recv([src = -1 (any)], [tag = -1 (any)]) -> s, src, tag: blocking receive of a string.
M.recv = by_src_tag("recv")
--- probe([src], [tag]) -> src, tag, bytes: waits for a message without receiving it.
M.probe = by_src_tag("probe")
--- iprobe([src], [tag]) -> src, tag, bytes | nil when nothing is waiting.
M.iprobe = by_src_tag("iprobe")
--- barrier(): waits for every rank.
function M.barrier(...) none("barrier", ...) return need("barrier").barrier() end
--- allreduce(x, [op = "sum"|"max"|"min"|"prod"]) -> the reduction over ranks of a number or a list of numbers.
function M.allreduce(x, op)
  if type(x) ~= "number" and type(x) ~= "table" then
    error(("mpi.allreduce: bad argument #1 'x': expected a number or a list of numbers, got %s"):format(type(x)), 2)
  end
  arg("allreduce", 2, "op", op, "string", true)
  if op ~= nil and op ~= "sum" and op ~= "max" and op ~= "min" and op ~= "prod" then
    error(("mpi.allreduce: bad argument #2 'op': expected \"sum\", \"max\", \"min\" or \"prod\", got %q"):format(op), 2)
  end
  local ok, r = pcall(need("allreduce").allreduce, x, op)
  if not ok then error((tostring(r):gsub("^[^\n]-%.lua:%d+: ", "")), 2) end
  return r
end
--- abort([code = 1]): ends every rank of the job.
function M.abort(code)
  arg("abort", 1, "code", code, "integer", true)
  return need("abort").abort(code)
end
--- finalize(): MPI_Finalize (also done when the Lua state closes or the process exits).
function M.finalize(...) none("finalize", ...) return need("finalize").finalize() end

local TASK, RESULT, STOP = 1, 2, 3

-- The sweep across ranks: rank 0 plans, hands out one configuration at a time to each other rank as it becomes
-- free, and writes every result to the store; the other ranks run fn in a forked worker process (so a run that
-- crashes or hangs is recorded, retried once when killed by a signal, and the rank carries on).
function M._sweep(o, h)
  local mpi = need("sweep")
  local sweep = require "moonlab.sweep"
  local proc = require("moonlab.core").proc
  local rank, size = mpi.rank(), mpi.size()
  if size == 1 then return h.run_local(o) end
  if rank ~= 0 then
    local pool <close> = h.Pool.new { n = 1, fn = o.fn, files = o.store .. ".files", name = o.name,
      threads = o.threads, timeout = o.timeout, retries = o.retries, rank = rank }
    local host = proc.hostname()
    while true do
      local msg, _, tag = mpi.recv(0, -1)
      if tag == STOP then
        local sum = sweep._unser(msg)
        if sum.error then error(sum.error, 0) end
        if #sum.dead_ranks > 0 then mpi.skip_finalize() end
        return sum
      end
      pool:submit(sweep._unser(msg))
      while pool:pending() > 0 do
        for _, r in ipairs(pool:wait()) do
          r.task, r.rank, r.host = nil, rank, host
          mpi.send(0, sweep._ser(r), RESULT)
        end
      end
    end
  end
  local t0 = proc.mono()
  local pok, S, todo, sum = pcall(h.open_and_plan, o)
  if not pok then
    -- the other ranks wait for work: tell them, so every rank raises the same error
    for r = 1, size - 1 do mpi.send(r, sweep._ser { error = tostring(S) }, STOP) end
    error(S, 0)
  end
  local bar = h.progress_bar(o, #todo)
  -- work to hand out: the planned runs in order, and runs of dead ranks to retry first
  local next, retry = 1, {}
  local inflight, idle, dead, tries = {}, {}, {}, {}
  local grace = o.timeout and (o.timeout + (o.grace or 10))
  local function give(r)
    local t = table.remove(retry, 1)
    if not t and next <= #todo then t, next = todo[next], next + 1 end
    if not t then idle[r] = true; return end
    idle[r] = nil
    inflight[r] = { task = t, sent = proc.mono() }
    mpi.send(r, sweep._ser(t), TASK)
  end
  local function busy()
    for _ in pairs(inflight) do return true end
    return false
  end
  -- a rank silent for `timeout` + `grace` is presumed dead (its own pool answers every run within `timeout`): its
  -- run is retried once on another rank, then recorded as crashed. A rank presumed dead that answers after all
  -- is taken back (its result is stored unless the retry's already is: one row per run in any case).
  local function check_dead()
    local now = proc.mono()
    for r, f in pairs(inflight) do
      if now - f.sent > grace then
        dead[r], inflight[r] = true, nil
        local key = f.task.key
        tries[key] = (tries[key] or 1) + 1
        if tries[key] <= 2 then
          retry[#retry + 1] = f.task
        else
          local res = { id = f.task.id, task = f.task, status = "crashed", attempts = 2, rank = r,
            error = ("rank %d stopped answering during the run (presumed dead; attempt 2 of 2)"):format(r) }
          h.record(S, o.name, res)
          h.count(sum, res)
        end
      end
    end
    for r in pairs(idle) do if #retry > 0 and not dead[r] then give(r) end end
  end
  local ok, err = pcall(function()
    for r = 1, size - 1 do give(r) end
    while busy() do
      local msg, src
      if grace then
        local s2 = mpi.iprobe(-1, RESULT)
        if s2 then msg, src = mpi.recv(s2, RESULT) else check_dead(); proc.sleep(2e-4) end
      else
        msg, src = mpi.recv(-1, RESULT)
      end
      if msg then
        local r = sweep._unser(msg)
        r.task = todo[r.id]
        r.attempts = math.max(r.attempts or 1, tries[r.task.key] or 1)
        inflight[src], dead[src] = nil, nil
        if h.record(S, o.name, r) then
          h.count(sum, r)
          bar:update(sum.ran, h.fail_text(sum))
        end
        give(src)
      end
    end
  end)
  if not ok then
    io.stderr:write("moonlab: sweep.run: rank 0 failed: ", tostring(err), "\n")
    mpi.abort(1)
  end
  bar:finish(h.fail_text(sum))
  S:close()
  sum.seconds = proc.mono() - t0
  sum.ranks = size
  local plain = {}
  for k, v in pairs(sum) do plain[k] = v end
  local lost = {}
  for r in pairs(dead) do lost[#lost + 1] = r end
  table.sort(lost)
  plain.dead_ranks, sum.dead_ranks = lost, lost
  for r = 1, size - 1 do if not dead[r] then mpi.send(r, sweep._ser(plain), STOP) end end
  -- with ranks gone, MPI_Finalize at exit can wait for them forever: leave without it
  if #lost > 0 then mpi.skip_finalize() end
  return sum
end

return M
