-- bench/workflow.lua — per-run overhead of moonlab.sweep with an empty fn on the local pool of worker processes
-- and on MPI (mpirun -n 3: rank 0 hands out and stores, ranks 1-2 run), against an in-process loop writing the
-- same rows to the same kind of store (the reference, interleaved in the same run); and the store's insert rate
-- against plain LuaSQL inserts. Medians of 5 runs after a warm-up. Usage: lua5.4 bench/workflow.lua
local sweep = require "moonlab.sweep"
local store = require "moonlab.store"
local bench = require "moonlab.bench"
local proc = require("moonlab.core").proc

local RUNS, N = 5, 2000
local dir = os.tmpname()
os.remove(dir)
assert(proc.mkdir(dir))
local count = 0
local function fresh()
  count = count + 1
  return ("%s/b%d.db"):format(dir, count)
end

local grid = {}
for i = 1, N do grid[i] = i end

-- 1. local pool, empty fn
local function pool_once()
  local s = sweep.run { name = "bench", params = { grid = { i = grid } }, store = fresh(), quiet = true,
    fn = function() return {} end }
  assert(s.ok == N)
end

-- reference: the same rows written by an in-process loop (fn called directly, no processes)
local function loop_once()
  local S = store.open(fresh())
  for i = 1, N do
    local cfg = store.encode { i = i }
    local t0 = proc.now()
    local m = store.encode((function() return {} end)())
    S:insert { sweep = "bench", key = cfg .. "#1", rep = 1, config = cfg, seed = i, status = "ok", metrics = m,
      started = t0, finished = proc.now(), host = "h", rank = 0, worker = 0 }
  end
  S:close()
end

local tp, tl, tc = {}, {}, {}
pool_once(); loop_once()
for r = 1, RUNS do
  local t0, c0 = bench.now(), os.clock(); pool_once(); tp[r], tc[r] = bench.now() - t0, os.clock() - c0
  t0 = bench.now(); loop_once(); tl[r] = bench.now() - t0
end
local mp, ml = bench.median_of(tp), bench.median_of(tl)
bench.report(("sweep.run local pool (%d workers) empty fn, %d runs"):format(proc.ncpu(), N), 1e3 * mp / N, "ms/run",
  ("%.0f runs/s; parent CPU %.3f ms/run; in-process loop with the same store writes %.3f ms/run, pool/loop %.1fx; " ..
    "goal <= 2 ms/run"):format(N / mp, 1e3 * bench.median_of(tc) / N, 1e3 * ml / N, mp / ml))

-- 2. store insert rate against plain LuaSQL (same WAL/synchronous=NORMAL settings, one commit per row)
local function store_once()
  local S = store.open(fresh())
  for i = 1, N do
    S:insert { sweep = "ins", key = tostring(i), rep = 1, config = "{}", status = "ok", metrics = '{"v":1.5}' }
  end
  S:close()
end
local function raw_once()
  local env = require("luasql.sqlite3").sqlite3()
  local c = env:connect(fresh())
  c:execute("PRAGMA journal_mode = WAL"):close()
  c:execute("PRAGMA synchronous = NORMAL")
  c:execute("CREATE TABLE t(k TEXT UNIQUE, v TEXT)")
  for i = 1, N do c:execute(("INSERT OR IGNORE INTO t VALUES ('%d', '{\"v\":1.5}')"):format(i)) end
  c:close()
  env:close()
end
local ts, tr = {}, {}
store_once(); raw_once()
for r = 1, RUNS do
  local t0 = bench.now(); store_once(); ts[r] = bench.now() - t0
  t0 = bench.now(); raw_once(); tr[r] = bench.now() - t0
end
local ms, mr = bench.median_of(ts), bench.median_of(tr)
bench.report(("store:insert (WAL, one commit per run), %d rows"):format(N), N / ms, "rows/s",
  ("plain LuaSQL insert %.0f rows/s, store/plain %.2fx"):format(N / mr, mr / ms))

-- 3. MPI: mpirun -n 3, empty fn, time measured by rank 0 (summary.seconds, launch excluded)
local have = os.execute("command -v mpirun >/dev/null 2>&1")
if (have == true or have == 0) and require("moonlab.mpi").built() then
  local uid = io.popen("id -u"):read("l")
  local script = dir .. "/mpi.lua"
  local f = assert(io.open(script, "w"))
  f:write(([[
local sweep = require "moonlab.sweep"
local g = {}
for i = 1, %d do g[i] = i end
local s = sweep.run { name = "bench", params = { grid = { i = g } }, store = arg[1], quiet = true,
  fn = function() return {} end }
if require("moonlab.mpi").rank() == 0 then print(s.seconds, s.ok) end
]]):format(N))
  f:close()
  local tm = {}
  for r = 0, RUNS do
    local p = io.popen(("mpirun -n 3 --oversubscribe %s lua5.4 %s %s 2>&1"):format(uid == "0" and "--allow-run-as-root" or "",
      script, fresh()))
    local out = p:read("a")
    p:close()
    local sec, ok = out:match("([%d%.e%-]+)%s+(%d+)")
    assert(tonumber(ok) == N, "MPI sweep failed: " .. out)
    if r > 0 then tm[r] = tonumber(sec) end
  end
  local mm = bench.median_of(tm)
  bench.report(("sweep.run MPI (mpirun -n 3: 2 worker ranks) empty fn, %d runs"):format(N), 1e3 * mm / N, "ms/run",
    ("%.0f runs/s; local pool %.3f ms/run, MPI/pool %.1fx"):format(N / mm, 1e3 * mp / N, mm / mp))
else
  print("sweep.run MPI: skipped (mpirun or moonlab.mpi_core missing)")
end
os.execute("rm -rf '" .. dir .. "'")
