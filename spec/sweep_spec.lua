local sweep = require "moonlab.sweep"
local store = require "moonlab.store"
local T = require "moonlab.tensor"

local tmpdb, cleanup = require("spec.helpers.store_util").tmpdb, require("spec.helpers.store_util").cleanup


describe("sweep.expand", function()
  it("takes the grid's product with the last name varying fastest", function()
    local c = sweep.expand { grid = { b = { 1, 2 }, a = { "x", "y", "z" } } }
    local got = {}
    for i, x in ipairs(c) do got[i] = x.a .. x.b end
    assert.same({ "x1", "x2", "y1", "y2", "z1", "z2" }, got)
    local f = sweep.expand { grid = { a = { 1, 2 } }, fixed = { n = 8 } }
    assert.same({ { a = 1, n = 8 }, { a = 2, n = 8 } }, f)
  end)

  it("draws random configurations from the documented distributions, reproducibly by seed", function()
    local n = 20000
    local c = sweep.expand({ random = { u = { "uniform", 2, 6 }, l = { "loguniform", 1e-3, 1e1 }, i = { "int", 1, 4 },
      g = { "normal", 3, 2 }, k = { "choice", { "a", "b" } } }, n = n }, 7)
    assert.equal(n, #c)
    local su, sl, sg, sg2, ci, ck = 0, 0, 0, 0, {}, 0
    for _, x in ipairs(c) do
      assert.is_true(x.u >= 2 and x.u < 6 and x.l >= 1e-3 and x.l < 10)
      su, sl = su + x.u, sl + math.log(x.l)
      sg, sg2 = sg + x.g, sg2 + x.g * x.g
      assert.equal("integer", math.type(x.i))
      ci[x.i] = (ci[x.i] or 0) + 1
      if x.k == "a" then ck = ck + 1 end
    end
    -- closed-form means: (a+b)/2; E log = (log a + log b)/2; normal mean 3, sd 2; int and choice uniform
    local se = 4 * n ^ -0.5
    assert.is_close(su / n, 4, { atol = 2 * se })
    assert.is_close(sl / n, (math.log(1e-3) + math.log(10)) / 2, { atol = 3 * se })
    assert.is_close(sg / n, 3, { atol = 2 * se })
    assert.is_close(math.sqrt(sg2 / n - (sg / n) ^ 2), 2, { atol = 2 * se })
    for v = 1, 4 do assert.is_close(ci[v] / n, 0.25, { atol = 0.02 }) end
    assert.is_nil(ci[0]); assert.is_nil(ci[5])
    assert.is_close(ck / n, 0.5, { atol = 0.02 })
    assert.same(sweep.expand({ random = { u = { "uniform", 0, 1 } }, n = 5 }, 3),
      sweep.expand({ random = { u = { "uniform", 0, 1 } }, n = 5 }, 3))
    assert.are_not.same(sweep.expand({ random = { u = { "uniform", 0, 1 } }, n = 5 }, 3),
      sweep.expand({ random = { u = { "uniform", 0, 1 } }, n = 5 }, 4))
  end)
end)

describe("sweep.run", function()
  it("runs every configuration and repeat once, writes config, metrics, seeds and tensors to the store", function()
    local db = tmpdb()
    local s = sweep.run { name = "sq", params = { grid = { x = { 1, 2, 3 }, k = { "a", "b" } } }, repeats = 3, seed = 11,
      store = db, workers = 2, quiet = true,
      fn = function(c, ctx)
        return { y = c.x * c.x, k2 = c.k .. c.k, seed = ctx.seed, rep = ctx.rep, v = T.full({ 2, 2 }, c.x), t = { 1, c.x } }
      end }
    assert.same({ 18, 18, 0, 0, 0, 0 }, { s.total, s.ran, s.skipped, s.failed, s.timeout, s.crashed })
    local S = store.open(db)
    local runs = S:runs { name = "sq" }
    assert.equal(18, #runs)
    local seen, seeds = {}, {}
    for _, r in ipairs(runs) do
      local id = r.config.x .. r.config.k .. r.rep
      assert.is_nil(seen[id]); seen[id] = true
      assert.equal("ok", r.status)
      assert.equal(r.config.x * r.config.x, r.metrics.y)
      assert.equal(r.config.k .. r.config.k, r.metrics.k2)
      assert.equal(r.rep, r.metrics.rep)
      assert.equal(r.seed, r.metrics.seed)
      assert.equal(sweep.derived_seed(11, r.key), r.seed)
      assert.is_nil(seeds[r.seed]); seeds[r.seed] = true
      assert.same({ 1, r.config.x }, r.metrics.t)
      assert.is_close(r.metrics.v, T.full({ 2, 2 }, r.config.x))
      assert.is_true(r.finished >= r.started)
    end
    -- summary: mean and sample sd per group against a plain computation
    local g = S:summary("sq", { by = { "x" }, metric = "y" })
    assert.equal(3, #g)
    for i, row in ipairs(g) do assert.same({ i, i * i, 0.0, 6 }, { row.x, row.mean, row.sd, row.n }) end
    local gs = S:summary("sq", { metric = "seed" })[1]
    local m, ss = 0, 0
    for _, r in ipairs(runs) do m = m + r.seed / 18 end
    for _, r in ipairs(runs) do ss = ss + (r.seed - m) ^ 2 end
    assert.is_close(gs.mean, m, { rtol = 1e-12 })
    assert.is_close(gs.sd, math.sqrt(ss / 17), { rtol = 1e-9 })
    -- table and CSV
    local tab = S:table("sq")
    assert.equal(18, #tab)
    assert.equal(tab[1].x * tab[1].x, tab[1].y)
    assert.equal(1, tab[1]["t.1"])
    local csv = os.tmpname()
    S:to_csv(csv, "sq")
    local h = assert(io.open(csv))
    local header = h:read("l")
    local lines = 0
    for _ in h:lines() do lines = lines + 1 end
    h:close()
    os.remove(csv)
    assert.equal("id,sweep,rep,seed,status,duration,error,k,k2,m.rep,m.seed,t.1,t.2,v,x,y", header)
    assert.equal(18, lines)
    assert.equal(6, #S:runs { name = "sq", where = { x = 2 } })
    assert.equal(12, #S:runs { name = "sq", where = { x = { 1, 3 } } })
    assert.equal(12, #S:runs { name = "sq", where = { x = function(v) return v > 1 end } })
    assert.equal(3, #S:runs { name = "sq", where = { x = 2, k = "a" } })
    assert.same({ { name = "sq", n = 18, ok = 18, failed = 0 } }, S:sweeps())
    S:close()
    -- a value listed twice runs once
    local dup = sweep.run { name = "dup", params = { grid = { x = { 1, 1, 2 } } }, store = db, quiet = true,
      fn = function(c) return { x = c.x } end }
    assert.same({ 2, 2 }, { dup.total, dup.ran })
    -- resumed: nothing reruns
    local again = sweep.run { name = "sq", params = { grid = { x = { 1, 2, 3 }, k = { "a", "b" } } }, repeats = 3, seed = 11,
      store = db, quiet = true, fn = function() error("must not run") end }
    assert.same({ 18, 0, 18 }, { again.total, again.ran, again.skipped })
    cleanup(db)
  end)

  it("records failing, crashing (os.exit) and hanging runs without stopping the sweep", function()
    local db = tmpdb()
    local s = sweep.run { name = "bad", params = { grid = { i = { 1, 2, 3, 4, 5, 6 } } }, store = db, timeout = 0.5,
      workers = 2, quiet = true,
      fn = function(c)
        if c.i == 2 then error("boom " .. c.i) end
        if c.i == 3 then os.exit(7) end
        if c.i == 4 then while true do end end
        if c.i == 5 then return 42 end
        return { i = c.i }
      end }
    assert.same({ 6, 2, 2, 1, 1 }, { s.ran, s.ok, s.failed, s.timeout, s.crashed })
    local S = store.open(db)
    local by = {}
    for _, r in ipairs(S:runs { name = "bad" }) do by[r.config.i] = r end
    assert.equal("ok", by[1].status); assert.equal("ok", by[6].status)
    assert.equal("failed", by[2].status)
    assert.matches("boom 2", by[2].error)
    assert.matches("stack traceback", by[2].traceback)
    assert.equal("crashed", by[3].status)
    assert.matches("exited with status 7", by[3].error)
    assert.equal("timeout", by[4].status)
    assert.matches("timed out after 0.5 s", by[4].error)
    assert.equal("failed", by[5].status)
    assert.matches("fn returned a number; expected a table of metrics", by[5].error)
    assert.equal(4, #S:runs { name = "bad", status = "failed" } + #S:runs { name = "bad", status = "ok" })
    S:close()
    -- retry_failed reruns only those
    local r = sweep.run { name = "bad", params = { grid = { i = { 1, 2, 3, 4, 5, 6 } } }, store = db, quiet = true,
      retry_failed = true, fn = function(c) return { i = -c.i } end }
    assert.same({ 4, 2 }, { r.ran, r.skipped })
    S = store.open(db)
    assert.equal(6, #S:runs { name = "bad", status = "ok" })
    S:close()
    cleanup(db)
  end)

  it("runs OpenMP/BLAS work with threads > 1 in workers forked after the parent used OpenMP", function()
    local attn = require "moonlab.attn"
    local q = T.randn({ 1, 2, 64, 16 }, { seed = 2 })
    local ref = {}
    for i = 1, 3 do
      local x = T.randn({ 64, 64 }, { seed = i })
      ref[i] = (x:matmul(x)):sum() + attn.sdpa(q, q, q, { causal = true }):sum()
    end
    local db = tmpdb()
    local s = sweep.run { name = "omp", params = { grid = { i = { 1, 2, 3 } } }, store = db, threads = 2, workers = 2,
      timeout = 30, quiet = true,
      fn = function(c)
        local x = T.randn({ 64, 64 }, { seed = c.i })
        return { v = (x:matmul(x)):sum() + attn.sdpa(q, q, q, { causal = true }):sum(), threads = require("moonlab").get_threads() }
      end }
    assert.same({ 3, 0 }, { s.ok, s.timeout })
    local S = store.open(db)
    for _, r in ipairs(S:runs { name = "omp" }) do
      assert.is_close(r.metrics.v, ref[r.config.i], { rtol = 1e-12 })
      assert.equal(2, r.metrics.threads)
    end
    S:close()
    cleanup(db)
  end)

  it("replaces a worker killed while idle without charging the next run", function()
    -- A worker runs its work on a second thread (proc.thread_call), so the leader turns zombie ("Z") before the
    -- process is gone: until the last thread exits, its pipes stay open, a task sent to it is accepted and then
    -- charged as a retry. Wait until the zombie leader is the only thread left (the whole process has exited).
    local proc = require("moonlab.core").proc
    local pool = sweep.Pool.new { n = 1, fn = function(c) return { v = c.x + 1 } end, files = "/tmp", name = "p" }
    local pid = pool.workers[1].pid
    proc.kill(pid, 9)
    for _ = 1, 6000 do -- up to 60 s on a loaded machine
      local f = io.open(("/proc/%d/status"):format(pid))
      local s = f and f:read("a")
      if f then f:close() end
      local st, threads = s and s:match("State:%s*(%a)"), s and tonumber(s:match("Threads:%s*(%d+)"))
      if st == nil or (st == "Z" and threads == 1) then break end
      proc.sleep(0.01)
    end
    pool:submit { id = 1, key = "k1", config = { x = 41 }, rep = 1, seed = 0 }
    local done = {}
    while pool:pending() > 0 do
      for _, r in ipairs(pool:wait()) do done[#done + 1] = r end
    end
    pool:close()
    assert.equal(1, #done)
    assert.same({ "ok", 1, '{"v":42}' }, { done[1].status, done[1].attempts, done[1].metrics })
  end)

  it("never queues a run behind a long one while another worker is free", function()
    local proc = require("moonlab.core").proc
    local db = tmpdb()
    sweep.run { name = "tail", params = { grid = { i = { 1, 2, 3, 4 } } }, store = db, workers = 2, quiet = true,
      fn = function(c) proc.sleep(c.i == 1 and 1.0 or 0.1) return { w = 0 } end }
    local S = store.open(db)
    local on = {}
    for _, r in ipairs(S:runs { name = "tail" }) do on[r.config.i] = r.worker end
    S:close()
    -- runs 2, 3 and 4 all went to the worker that was not busy with run 1
    assert.are_not.equal(on[1], on[2])
    assert.equal(on[2], on[3])
    assert.equal(on[2], on[4])
    cleanup(db)
  end)
end)
