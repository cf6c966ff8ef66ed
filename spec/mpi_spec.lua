-- The sweep on MPI: `mpirun -n 3 --oversubscribe` (plus --allow-run-as-root as root, as in CI) runs a script whose
-- rank 0 hands out configurations and writes the store, and whose ranks 1 and 2 run them; the binding's
-- collectives are checked in the same job.
local store = require "moonlab.store"

local DRIVER = [[
local mpi = require "moonlab.mpi"
local sweep = require "moonlab.sweep"
local proc = require("moonlab.core").proc
local rank, size = mpi.rank(), mpi.size()
-- the binding: allreduce, a ring of send/recv with probe, barrier
local s = mpi.allreduce(rank + 1, "sum")
local v = mpi.allreduce({ rank, -rank, 2.5 }, "max")
local nxt, prev = (rank + 1) % size, (rank - 1) % size
if rank % 2 == 0 then mpi.send(nxt, "from " .. rank, 7) end
local src, tag, n = mpi.probe(prev, 7)
local msg = mpi.recv(src, tag)
if rank % 2 == 1 then mpi.send(nxt, "from " .. rank, 7) end
mpi.barrier()
assert(mpi.iprobe() == nil, "no message should be pending")
local sum = sweep.run { name = "mpi", params = { grid = { a = { 1, 2, 3, 4, 5, 6, 7 }, b = { 10, 20 } } }, repeats = 2,
  seed = 3, store = arg[1], quiet = true, timeout = 2,
  fn = function(c, ctx)
    if c.a == 7 and c.b == 20 and ctx.rep == 1 then proc.kill(proc.getpid(), 9) end
    return { v = c.a * c.b + ctx.rep, rank = ctx.rank }
  end }
local f = assert(io.open(arg[1] .. "." .. rank, "w"))
f:write(("%d %d %g %g %g %g %s %d %d %d %d\n"):format(rank, size, s, v[1], v[2], v[3], msg, n, sum.total, sum.ok,
  sum.crashed))
f:close()
]]

local function mpirun()
  local ok = os.execute("command -v mpirun >/dev/null 2>&1")
  if not (ok == true or ok == 0) then return nil end
  local p = io.popen("id -u")
  local uid = p:read("l")
  p:close()
  return "mpirun -n 3 --oversubscribe" .. (uid == "0" and " --allow-run-as-root" or "")
end

describe("sweep.run on MPI", function()
  local cmd = mpirun()
  if not cmd or not require("moonlab.mpi").built() then
    it("needs Open MPI", function()
      pending(not cmd and "mpirun not installed: MPI specs skipped" or "moonlab.mpi_core not built: MPI specs skipped")
    end)
    return
  end

  it("runs every configuration exactly once across ranks; a run killed twice is recorded as crashed", function()
    local base = os.tmpname()
    local db, script = base .. ".db", base .. ".lua"
    local h = assert(io.open(script, "w"))
    h:write(DRIVER)
    h:close()
    local log = base .. ".log"
    local ok = os.execute(("%s lua5.4 %s %s >%s 2>&1"):format(cmd, script, db, log))
    local lf = io.open(log)
    local out = lf and lf:read("a") or ""
    if lf then lf:close() end
    os.remove(log)
    assert(ok, "mpirun failed:\n" .. out)
    local lines = {}
    for r = 0, 2 do
      local f = assert(io.open(db .. "." .. r))
      lines[r] = f:read("l")
      f:close()
      os.remove(db .. "." .. r)
    end
    -- allreduce: 1+2+3 = 6; max of {r, -r, 2.5} = {2, 0, 2.5}; ring messages; every rank gets the summary
    assert.equal("0 3 6 2 0 2.5 from 2 6 28 27 1", lines[0])
    assert.equal("1 3 6 2 0 2.5 from 0 6 28 27 1", lines[1])
    assert.equal("2 3 6 2 0 2.5 from 1 6 28 27 1", lines[2])
    local S = store.open(db)
    local runs = S:runs { name = "mpi" }
    S:close()
    assert.equal(28, #runs)
    local seen, ranks = {}, {}
    for _, r in ipairs(runs) do
      local id = r.key
      assert.is_nil(seen[id]); seen[id] = true
      if r.config.a == 7 and r.config.b == 20 and r.rep == 1 then
        assert.equal("crashed", r.status)
        assert.equal(2, r.attempts)
        assert.matches("killed by signal 9 during the run %(attempt 2 of 2%)", r.error)
      else
        assert.equal("ok", r.status)
        assert.equal(r.config.a * r.config.b + r.rep, r.metrics.v)
        assert.equal(r.rank, r.metrics.rank)
        ranks[r.rank] = true
      end
    end
    assert.is_nil(ranks[0])
    assert.is_true(ranks[1] and ranks[2])
    -- a store rank 0 cannot open: every rank raises the error, none waits forever
    local bad = base .. ".bad.db"
    local bf = assert(io.open(bad, "w"))
    bf:write("not sqlite")
    bf:close()
    local s2 = base .. ".2.lua"
    h = assert(io.open(s2, "w"))
    h:write([[
local ok, err = pcall(require("moonlab.sweep").run, { name = "x", params = { grid = { a = { 1 } } }, store = arg[1],
  quiet = true, fn = function() return {} end })
local f = assert(io.open(arg[1] .. "." .. require("moonlab.mpi").rank(), "w"))
f:write(tostring(ok), " ", tostring(err))
f:close()
]])
    h:close()
    assert(os.execute(("timeout 60 %s lua5.4 %s %s >/dev/null 2>&1"):format(cmd, s2, bad)))
    for r = 0, 2 do
      local f = assert(io.open(bad .. "." .. r))
      assert.matches("^false sweep.run: store.open: .* is not a moonlab store", f:read("a"))
      f:close()
      os.remove(bad .. "." .. r)
    end
    os.remove(bad)
    -- abort ends every rank with the code
    h = assert(io.open(s2, "w"))
    h:write([[
local mpi = require "moonlab.mpi"
if mpi.rank() == 1 then mpi.abort(3) end
mpi.barrier()
os.exit(0)
]])
    h:close()
    local ok2, _, code = os.execute(("timeout 60 %s lua5.4 %s >/dev/null 2>&1"):format(cmd, s2))
    assert.is_falsy(ok2)
    assert.equal(3, code)
    os.remove(s2)
    for _, s in ipairs { "", "-wal", "-shm" } do os.remove(db .. s) end
    os.remove(script)
    os.remove(base)
  end)
end)

describe("sweep.run without MPI", function()
  it("fails clearly with backend = \"mpi\"", function()
    local saved_mpi, saved_core = package.loaded["moonlab.mpi"], package.preload["moonlab.mpi_core"]
    local loaded_core = package.loaded["moonlab.mpi_core"]
    package.loaded["moonlab.mpi"], package.loaded["moonlab.mpi_core"] = nil, nil
    package.preload["moonlab.mpi_core"] = function() error("module 'moonlab.mpi_core' not found") end
    local ok, err = pcall(require("moonlab.sweep").run, { name = "x", params = { grid = { a = { 1 } } }, store = "/tmp/x.db",
      backend = "mpi", fn = function() return {} end })
    package.loaded["moonlab.mpi"], package.preload["moonlab.mpi_core"] = saved_mpi, saved_core
    package.loaded["moonlab.mpi_core"] = loaded_core
    assert.is_false(ok)
    assert.matches("sweep.run: backend \"mpi\" needs moonlab's MPI module, which was not built", err, 1, true)
    assert.matches("use backend = \"local\"", err, 1, true)
  end)
end)
