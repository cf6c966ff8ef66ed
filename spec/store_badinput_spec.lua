-- The store and the sweep on bad input: unknown options, configurations that are not serialisable, an unwritable
-- path, a locked database (retries with back-off, then a clear error), a corrupt or foreign file (left untouched).
local store = require "moonlab.store"
local sweep = require "moonlab.sweep"

local tmpdb, cleanup = require("spec.helpers.store_util").tmpdb, require("spec.helpers.store_util").cleanup


local function fn() return {} end

describe("sweep.run bad input", function()
  it("rejects unknown and malformed options", function()
    assert.has_error(function() sweep.run { name = "a", params = { grid = { x = { 1 } } }, store = "/tmp/a.db", fn = fn, worker = 2 } end,
      "unknown option 'worker' to sweep.run (did you mean 'workers'?)")
    assert.has_error(function() sweep.run { params = { grid = {} }, store = "/tmp/a.db", fn = fn } end,
      "sweep.run: missing required option 'name'")
    assert.has_error(function() sweep.run { name = "a", params = { grid = { x = { 1 } } }, store = "/tmp/a.db", fn = 3 } end,
      "sweep.run: option 'fn' must be a function, got number")
    assert.has_error(function() sweep.run { name = "a", params = { gird = {} }, store = "/tmp/a.db", fn = fn } end,
      "unknown option 'gird' to sweep.run params (did you mean 'grid'?)")
    assert.has_error(function() sweep.run { name = "a", params = { grid = { x = {} } }, store = "/tmp/a.db", fn = fn } end,
      "sweep.run: params.grid.x must be a non-empty list of values")
    assert.has_error(function() sweep.run { name = "a", params = { random = { x = { "gauss", 0, 1 } }, n = 3 }, store = "/tmp/a.db", fn = fn } end,
      "sweep.run: params.random.x must be {\"uniform\"|\"loguniform\"|\"int\"|\"normal\"|\"choice\", ...}, got gauss")
    assert.has_error(function() sweep.run { name = "a", params = { random = { x = { "uniform", 0, 1 } } }, store = "/tmp/a.db", fn = fn } end,
      "sweep.run: params.n (the number of random draws) must be an integer >= 1, got nil")
    assert.has_error(function() sweep.run { name = "a", params = { grid = { x = { 1 } } }, store = "/tmp/a.db", fn = fn, timeout = -1 } end,
      "sweep.run: option 'timeout' must be a number of seconds > 0, got -1")
    assert.has_error(function() sweep.run { name = "a", params = { grid = { x = { 1 } } }, store = "/tmp/a.db", fn = fn, workers = 0 } end,
      "sweep.run: option 'workers' must be an integer >= 1, got 0")
    assert.has_error(function() sweep.run { name = "a", params = { grid = { x = { 1 } } }, store = "/tmp/a.db", fn = fn, backend = "slurm" } end,
      "sweep.run: option 'backend' must be \"auto\", \"local\" or \"mpi\", got slurm")
  end)

  it("rejects configurations that are not serialisable", function()
    assert.has_error(function() sweep.run { name = "a", params = { grid = { f = { print } } }, store = "/tmp/a.db", fn = fn } end,
      "sweep.run: configuration is not serialisable: configuration.f is a function (configuration 1)")
    local cyc = {}
    cyc.self = cyc
    assert.has_error(function() sweep.run { name = "a", params = { grid = { c = { cyc } } }, store = "/tmp/a.db", fn = fn } end,
      "sweep.run: configuration is not serialisable: configuration.c.self refers to itself (configuration 1)")
    assert.has_error(function() sweep.run { name = "a", params = { grid = { m = { { 1, x = 2 } } } }, store = "/tmp/a.db", fn = fn } end,
      "sweep.run: configuration is not serialisable: configuration.m mixes list and named entries (configuration 1)")
  end)
end)

describe("workflow errors", function()
  it("carry the caller's position, never a moonlab-internal file", function()
    local plot, pipeline = require "moonlab.plot", require "moonlab.pipeline"
    local cases = {
      function() sweep.run { params = { grid = {} }, store = "/tmp/a.db", fn = fn } end,
      function() sweep.run { name = "a", params = { grid = { x = {} } }, store = "/tmp/a.db", fn = fn } end,
      function() sweep.run { name = "a", params = { grid = { f = { print } } }, store = "/tmp/a.db", fn = fn } end,
      function() plot.lines { file = "/tmp/x.png", series = { { x = { 1 }, y = { 1 }, lable = 1 } } } end,
      function() plot.from_store("/tmp/x.db", { x = "n", file = "/tmp/x.png" }) end,
      function() pipeline.new("x"):stage("s", print, { deps = { "no" } }) end,
      function() store.open("/nonexistent/x.db") end,
    }
    for i, c in ipairs(cases) do
      local ok, e = pcall(c)
      assert.is_false(ok)
      assert.is_nil(e:find("lua/moonlab/", 1, true), ("case %d: %s"):format(i, e))
      assert.matches("^[^\n]-store_badinput_spec%.lua:%d+: ", e)
    end
  end)
end)

describe("store.open bad input", function()
  it("refuses an unwritable path", function()
    assert.has_error(function() store.open("/nonexistent-dir/x/results.db") end,
      "store.open: cannot create /nonexistent-dir/x/results.db: directory /nonexistent-dir/x does not exist")
    assert.has_error(function() store.open("/proc/results.db") end)
    local ok, err = pcall(store.open, "/proc/results.db")
    assert.matches("^store.open: cannot open /proc/results.db", err)
    assert.has_error(function() store.open(3) end, "store.open: bad argument #1 'path': expected a file name, got number")
    assert.has_error(function() store.open("/tmp/x.db", { timout = 1 }) end, "unknown option 'timout' to store.open (did you mean 'timeout'?)")
  end)

  it("refuses a corrupt file or another program's database and leaves it untouched", function()
    local db = tmpdb()
    local junk = ("not a database\n"):rep(100)
    local f = assert(io.open(db, "wb")); f:write(junk); f:close()
    assert.has_error(function() store.open(db) end, "store.open: " .. db .. " is not a moonlab store (not an SQLite file); it was left untouched")
    assert.has_error(function() sweep.run { name = "a", params = { grid = { x = { 1 } } }, store = db, fn = fn } end,
      "sweep.run: store.open: " .. db .. " is not a moonlab store (not an SQLite file); it was left untouched")
    f = assert(io.open(db, "rb")); assert.equal(junk, f:read("a")); f:close()
    cleanup(db)
    -- another program's SQLite file
    local drv = require("luasql.sqlite3").sqlite3()
    local c = drv:connect(db)
    c:execute("CREATE TABLE people(name TEXT)")
    c:close()
    f = assert(io.open(db, "rb")); local before = f:read("a"); f:close()
    assert.has_error(function() store.open(db) end,
      "store.open: " .. db .. " is an SQLite database of another program (no moonlab_meta table); it was left untouched")
    f = assert(io.open(db, "rb")); assert.equal(before, f:read("a")); f:close()
    cleanup(db)
    -- a newer schema
    local S = store.open(db)
    S:exec("UPDATE moonlab_meta SET value = '99' WHERE key = 'schema_version'")
    S:close()
    assert.has_error(function() store.open(db) end, "store.open: " .. db .. " has schema version 99; this moonlab reads version 1")
    cleanup(db)
  end)

  it("retries a locked database with back-off, then gives a clear error; the runs are not lost", function()
    local db = tmpdb()
    local S = store.open(db, { timeout = 0.3 })
    local drv = require("luasql.sqlite3").sqlite3()
    local other = drv:connect(db)
    assert(other:execute("BEGIN EXCLUSIVE"))
    local ok, err = pcall(S.insert, S, { sweep = "s", key = "k", rep = 1, config = "{}", status = "ok" })
    assert.is_false(ok)
    assert.matches("store: database " .. db:gsub("%p", "%%%0") .. " is locked by another process %(gave up after 0%.%d s of retries%)", err)
    other:execute("COMMIT")
    other:close()
    -- a lock held by another process for 0.3 s: the insert waits it out
    local proc = require("moonlab.core").proc
    local r, w = proc.pipe()
    local pid = proc.fork()
    if pid == 0 then
      local c2 = require("luasql.sqlite3").sqlite3():connect(db)
      c2:execute("BEGIN EXCLUSIVE")
      proc.send(w, "locked")
      proc.sleep(0.3)
      c2:execute("COMMIT")
      proc.exit(0)
    end
    assert.equal("locked", proc.recv(r))
    S.timeout = 5
    assert.is_true(S:insert { sweep = "s", key = "k", rep = 1, config = "{}", status = "ok" })
    proc.waitpid(pid)
    proc.close(r); proc.close(w)
    assert.equal(1, #S:runs { name = "s" })
    S:close()
    cleanup(db)
  end)
end)
