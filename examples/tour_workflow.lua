-- Tour section: a sweep over Laplace-inversion methods × orders on a pool of worker processes, written to the
-- result store build/demo/results.db, run again to show that nothing reruns, and plotted from the store
-- (moonlab.sweep, moonlab.store, moonlab.plot).
local T = require "moonlab.tensor"
local L = require "moonlab.laplace"
local sweep = require "moonlab.sweep"
local store = require "moonlab.store"
local plot = require "moonlab.plot"

return function(ctx)
  local db = ctx.outdir .. "/results.db"
  for _, s in ipairs { "", "-wal", "-shm" } do os.remove(db .. s) end
  local pairs_ = {}
  for _, e in ipairs(L.suite()) do
    if e.name == "J0(t)" or e.name == "exp(-t)*sin(t)" then pairs_[#pairs_ + 1] = e end
  end
  local t = T.linspace(0.5, 10, 200)
  local spec = {
    name = "laplace_orders", store = db, seed = 1, quiet = true,
    params = { grid = { method = { "talbot", "dehoog", "euler", "weeks" }, M = { 8, 16, 24, 32 },
      pair = { "J0(t)", "exp(-t)*sin(t)" } } },
    fn = function(c)
      local e
      for _, p in ipairs(pairs_) do if p.name == c.pair then e = p end end
      local M = c.M
      if c.method == "weeks" then M = 4 * c.M end -- Weeks needs more terms; its order is scaled
      local f = L.invert(e.F, t, { method = c.method, M = M, precision = "double" })
      return { err = ((f - e.exact(t)):abs():max()), order = M }
    end,
  }
  io.stderr:write("tour: sweep of 4 methods x 4 orders x 2 transforms on a worker pool\n")
  local s1 = sweep.run(spec)
  ctx.log(("First run: %d configurations, %d ran (%d ok, %d failed) in %.2f s on %d worker processes."):format(
    s1.total, s1.ran, s1.ok, s1.failed + s1.timeout + s1.crashed, s1.seconds, s1.workers))
  local s2 = sweep.run(spec)
  ctx.log(("Run again (resumed): %d skipped, %d ran: finished runs are never repeated."):format(s2.skipped, s2.ran))
  local S <close> = store.open(db)
  local rows = { "| method | M=8 | M=16 | M=24 | M=32 |", "|---|---:|---:|---:|---:|" }
  for _, m in ipairs { "talbot", "dehoog", "euler", "weeks" } do
    local cells = {}
    for i, M in ipairs { 8, 16, 24, 32 } do
      local r = S:runs { name = "laplace_orders", where = { method = m, M = M, pair = "J0(t)" } }[1]
      cells[i] = r.status == "ok" and ("%.0e"):format(r.metrics.err) or r.status
    end
    rows[#rows + 1] = ("| %s | %s |"):format(m == "weeks" and "weeks (order 4M)" or m, table.concat(cells, " | "))
  end
  ctx.log("Max abs error for J0(t), 200 times in [0.5, 10], double precision (from the store):")
  ctx.log(table.concat(rows, "\n"))
  if plot.available() then
    local fig = ctx.outdir .. "/workflow_orders.png"
    plot.from_store(S, { name = "laplace_orders", x = "M", y = "err", by = "method", file = fig, logy = true,
      title = "Laplace inversion: max error vs order (mean ± sd over J0 and e^-t sin t)", xlabel = "order M" })
    ctx.figure(fig, "error vs order per method, drawn from the store")
  end
  ctx.log(("The store is plain SQLite: `sqlite3 %s 'select status, count(*) from runs group by status'`, or " ..
    "`bin/moonlab runs %s laplace_orders`."):format(db, db))
end
