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

-- mpirun's command line, or nil after a pending test that says what is missing.
local function mpirun_or_pending()
  local cmd = mpirun()
  if cmd and require("moonlab.mpi").built() then return cmd end
  it("needs Open MPI", function()
    pending(not cmd and "mpirun not installed: MPI specs skipped" or "moonlab.mpi_core not built: MPI specs skipped")
  end)
end

-- A fresh temporary name base and the script base.lua holding code -> base, store path base.db, script path.
local function script_file(code)
  local base = os.tmpname()
  local db, script = base .. ".db", base .. ".lua"
  local h = assert(io.open(script, "w"))
  h:write(code)
  h:close()
  return base, db, script
end

describe("sweep.run on MPI", function()
  local cmd = mpirun_or_pending()
  if not cmd then return end

  it("runs every configuration exactly once across ranks; a run killed twice is recorded as crashed", function()
    local base, db, script = script_file(DRIVER)
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
    -- abort ends every rank at once (mpirun fails; it usually reports the code, 3 here)
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
    assert.is_true(code ~= 0 and code ~= 124, "mpirun should end at once with a failure, got " .. tostring(code))
    os.remove(s2)
    for _, s in ipairs { "", "-wal", "-shm" } do os.remove(db .. s) end
    os.remove(script)
    os.remove(base)
  end)
end)

describe("sweep.run on MPI when a rank dies", function()
  local cmd = mpirun_or_pending()
  if not cmd then return end

  it("retries the dead rank's run once on another rank, then records it as crashed; the others finish", function()
    -- run 5 kills the rank process running it (not only its worker), every time it runs
    local base, db, script = script_file([[
local sweep = require "moonlab.sweep"
local proc = require("moonlab.core").proc
local g = {}
for i = 1, 12 do g[i] = i end
local sum = sweep.run { name = "dead", params = { grid = { a = g } }, store = arg[1], quiet = true, timeout = 0.3,
  grace = 1, fn = function(c, ctx)
    if c.a == 5 then proc.kill(proc.getppid(), 9) proc.sleep(5) end
    proc.sleep(0.02)
    return { v = 10 * c.a, rank = ctx.rank }
  end }
if require("moonlab.mpi").rank() == 0 then
  local f = assert(io.open(arg[1] .. ".sum", "w"))
  f:write(("%d %d %d %d"):format(sum.ok, sum.crashed, sum.ran, #sum.dead_ranks))
  f:close()
end
]])
    -- Open MPI ends the whole job when a rank dies unless recovery is enabled
    local cmd4 = cmd:gsub("%-n 3", "-n 4") .. " --enable-recovery"
    assert(os.execute(("timeout 60 %s lua5.4 %s %s >/dev/null 2>&1"):format(cmd4, script, db)))
    local f = assert(io.open(db .. ".sum"))
    assert.equal("11 1 12 2", f:read("a"))
    f:close()
    local S = store.open(db)
    local runs = S:runs { name = "dead" }
    S:close()
    assert.equal(12, #runs)
    local seen = {}
    for _, r in ipairs(runs) do
      assert.is_nil(seen[r.key]); seen[r.key] = true
      if r.config.a == 5 then
        assert.same({ "crashed", 2 }, { r.status, r.attempts })
        assert.matches("stopped answering during the run %(presumed dead; attempt 2 of 2%)", r.error)
      else
        assert.same({ "ok", 10 * r.config.a }, { r.status, r.metrics.v })
      end
    end
    for _, x in ipairs { "", "-wal", "-shm", ".sum" } do os.remove(db .. x) end
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
