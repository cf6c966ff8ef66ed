--- moonlab.mpi: MPI for sweeps across ranks and machines (rank, size, send/recv of strings, probe, barrier,
--- allreduce of numbers, abort), a thin binding built with mpicc when Open MPI is installed. See docs/workflow.md.
local M = {}

local C, why

local function load()
  if C or why then return C end
  local ok, mod = pcall(require, "moonlab.mpi_core")
  if ok then C = mod else why = tostring(mod):match("^[^\n]*") end
  return C
end

--- available() -> true when the MPI module was built and loads (loading it initialises MPI).
function M.available() return load() ~= nil end

--- built() -> true when the MPI module file exists (without loading it, so without initialising MPI).
function M.built() return C ~= nil or package.searchpath("moonlab.mpi_core", package.cpath) ~= nil end

--- why() -> why the MPI module is unavailable (nil when it is available).
function M.why()
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
function M.rank() return need("rank").rank() end
--- size() -> the number of ranks.
function M.size() return need("size").size() end
--- send(dest, s, [tag = 0]): blocking send of the string s to rank dest.
function M.send(dest, s, tag) return need("send").send(dest, s, tag) end
--- recv([src = -1 (any)], [tag = -1 (any)]) -> s, src, tag: blocking receive of a string.
function M.recv(src, tag) return need("recv").recv(src, tag) end
--- probe([src], [tag]) -> src, tag, bytes: waits for a message without receiving it.
function M.probe(src, tag) return need("probe").probe(src, tag) end
--- iprobe([src], [tag]) -> src, tag, bytes | nil when nothing is waiting.
function M.iprobe(src, tag) return need("iprobe").iprobe(src, tag) end
--- barrier(): waits for every rank.
function M.barrier() return need("barrier").barrier() end
--- allreduce(x, [op = "sum"|"max"|"min"|"prod"]) -> the reduction over ranks of a number or a list of numbers.
function M.allreduce(x, op) return need("allreduce").allreduce(x, op) end
--- abort([code = 1]): ends every rank of the job.
function M.abort(code) return need("abort").abort(code) end
--- finalize(): MPI_Finalize (also done when the Lua state closes or the process exits).
function M.finalize() return need("finalize").finalize() end

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
  local next, active = 1, 0
  for r = 1, size - 1 do
    if next <= #todo then
      mpi.send(r, sweep._ser(todo[next]), TASK)
      next, active = next + 1, active + 1
    end
  end
  local ok, err = pcall(function()
    while active > 0 do
      local msg, src = mpi.recv(-1, RESULT)
      local r = sweep._unser(msg)
      r.task = todo[r.id]
      h.record(S, o.name, r)
      h.count(sum, r)
      bar:update(sum.ran, h.fail_text(sum))
      active = active - 1
      if next <= #todo then
        mpi.send(src, sweep._ser(todo[next]), TASK)
        next, active = next + 1, active + 1
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
  for r = 1, size - 1 do mpi.send(r, sweep._ser(plain), STOP) end
  return sum
end

return M
