local pipeline = require "moonlab.pipeline"
local T = require "moonlab.tensor"

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  return d
end

describe("moonlab.pipeline", function()
  it("caches outputs and recomputes only the stages whose inputs, options or source changed", function()
    local dir = tmpdir()
    local calls = {}
    local scale = 2
    local function build(n, src_variant)
      local P = pipeline.new("exp", { dir = dir })
      P:stage("data", function(_, o)
        calls.data = (calls.data or 0) + 1
        return T.arange(o.n)
      end, { options = { n = n } })
      P:stage("stats", function(inp)
        calls.stats = (calls.stats or 0) + 1
        return { sum = inp.data:sum(), n = inp.data:numel(), sq = inp.data * inp.data }
      end, { deps = { "data" } })
      P:stage("report", src_variant and function(inp)
        calls.report = (calls.report or 0) + 1
        return inp.stats.sum * scale + 1
      end or function(inp)
        calls.report = (calls.report or 0) + 1
        return inp.stats.sum * scale
      end, { deps = { "stats" } })
      return P
    end
    local P = build(5)
    assert.same({ { name = "data", state = "stale" }, { name = "stats", state = "stale" },
      { name = "report", state = "stale" } }, P:status())
    local out, rep = P:run()
    assert.same({ data = "computed", stats = "computed", report = "computed" }, rep)
    assert.equal(10.0, out.stats.sum)
    assert.equal(5, out.stats.n)
    assert.is_close(out.stats.sq, { 0, 1, 4, 9, 16 })
    assert.equal(20.0, out.report)
    assert.same({ "fresh", "fresh", "fresh" }, { P:status()[1].state, P:status()[2].state, P:status()[3].state })
    -- a new pipeline object with the same definition: everything cached, same values
    local out2, rep2 = build(5):run()
    assert.same({ data = "cached", stats = "cached", report = "cached" }, rep2)
    assert.is_close(out2.data, T.arange(5))
    assert.equal(20.0, out2.report)
    assert.same({ data = 1, stats = 1, report = 1 }, calls)
    -- changed options: everything downstream recomputes
    local _, rep3 = build(6):run()
    assert.same({ data = "computed", stats = "computed", report = "computed" }, rep3)
    -- changed source of the last stage only
    local _, rep4 = build(6, true):run()
    assert.same({ data = "cached", stats = "cached", report = "computed" }, rep4)
    -- changed upvalue
    scale = 3
    local o5, rep5 = build(6, true):run()
    assert.same({ data = "cached", stats = "cached", report = "computed" }, rep5)
    assert.equal(46.0, o5.report)
    -- clean removes every cached file
    assert.is_true(P:clean() > 0)
    assert.same("stale", build(6, true):status()[1].state)
    os.remove(dir .. "/exp")
    os.remove(dir)
  end)

  it("an upstream stage recomputed to the same content leaves downstream cached", function()
    local dir = tmpdir()
    local function build(tag)
      local P = pipeline.new("c", { dir = dir })
      P:stage("a", function(_, o) return { v = 1, tag_len = #o.tag * 0 } end, { options = { tag = tag } })
      P:stage("b", function(inp) return inp.a.v + 1 end, { deps = { "a" } })
      return P
    end
    build("x"):run()
    local _, rep = build("y"):run()
    assert.same({ a = "computed", b = "cached" }, rep)
    build("y"):clean()
    os.remove(dir .. "/c")
    os.remove(dir)
  end)

  it("rejects bad definitions and reports failing stages", function()
    assert.has_error(function() pipeline.new("a b") end,
      "pipeline.new: bad argument #1 'name': expected letters, digits, '_', '-' or '.', got \"a b\"")
    assert.has_error(function() pipeline.new("x", { dri = "/tmp" }) end, "unknown option 'dri' to pipeline.new (did you mean 'dir'?)")
    local P = pipeline.new("x", { dir = tmpdir() })
    assert.has_error(function() P:stage("s", 3) end, "pipeline:stage: bad argument #2 'fn': expected a function, got number")
    assert.has_error(function() P:stage("s", print, { deps = { "nope" } }) end,
      "pipeline:stage: stage 's' depends on 'nope', which is not defined before it")
    assert.has_error(function() P:stage("s", print, { dep = {} }) end, "unknown option 'dep' to pipeline:stage (did you mean 'deps'?)")
    P:stage("f", function() error("bad data") end)
    local ok, err = pcall(P.run, P)
    assert.is_false(ok)
    assert.matches("pipeline x: stage 'f' failed: .*bad data", err)
    local Q = pipeline.new("y", { dir = tmpdir() })
    Q:stage("g", function() return { f = print } end)
    ok, err = pcall(Q.run, Q)
    assert.matches("pipeline y: stage 'g': the output of stage 'g' is not serialisable: the output of stage 'g'.f is a function", err, 1, true)
  end)
end)
