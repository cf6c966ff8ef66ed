-- bin/moonlab: the REPL and script runner, and help(fn) from docs/.
local root = os.getenv("MOONLAB_ROOT") or "."
local help = require "moonlab.help"
local T = require "moonlab.tensor"
local sh_file = require("spec.helpers.shell").sh_file

local function run(input, args)
  local _, out = sh_file(input, function(f) return ("%s/bin/moonlab %s < %s"):format(root, args or "", f) end)
  return out
end

describe("bin/moonlab", function()
  it("starts a REPL with moonlab loaded and pretty-prints tensors", function()
    local out = run("T.arange(100)\nml.version\n")
    assert.matches("tensor f64 [100]\n[0, 1, 2, ..., 97, 98, 99]", out, 1, true)
    assert.matches(require("moonlab").version, out, 1, true)
  end)

  it("prints the docs of a function with help(fn)", function()
    local out = run("help(T.linspace)\n")
    assert.matches("### tensor.linspace(start, stop, n, [dtype])", out, 1, true)
    assert.matches("both ends included", out, 1, true)
  end)

  it("runs a script with the same globals", function()
    local _, out = sh_file("print((T.ones{3} * 2):sum())\n",
      function(f) return ("%s/bin/moonlab %s"):format(root, f) end)
    assert.equal("6.0\n", out)
  end)
end)

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(require("moonlab.core").proc.mkdir(d))
  return d
end

describe("bin/moonlab (usability)", function()
  it("prints plain tables readably", function()
    local out = run("{shape = {2, 3}, converged = true, reason = 'tolerance', warnings = {}}\n")
    assert.matches('{converged = true, reason = "tolerance", shape = {2, 3}, warnings = {}}', out, 1, true)
    local long = run("(function() local t = {} for i = 1, 100 do t[i] = i end return t end)()\n")
    assert.matches("{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ... (87 more) ..., 98, 99, 100}", long, 1, true)
    local R = require "moonlab.repl"
    assert.equal('{[3.5] = nan, a = 1, b = {x = "y"}}', R.pretty { a = 1, b = { x = "y" }, [3.5] = 0 / 0 })
    local cyc = {}
    cyc.me = cyc
    assert.equal("{me = <cycle>}", R.pretty(cyc))
  end)

  it("completes names of globals, module fields and tensor methods", function()
    local R = require "moonlab.repl"
    local env = { ml = require "moonlab", sweep = require "moonlab.sweep", t = T.ones { 2 } }
    assert.same({ "ml.tensor" }, R.complete("ml.tens", env))
    assert.same({ "sweep.run" }, R.complete("sweep.ru", env))
    assert.same({ "t:reshape" }, R.complete("t:resh", env))
    assert.same({ "sweep" }, R.complete("swe", env))
    assert.same({ "while" }, R.complete("whi", env))
  end)

  it("completes with Tab and keeps history across sessions (through a pty)", function()
    local ok = os.execute("command -v script >/dev/null 2>&1")
    if not (ok == true or ok == 0) then
      pending("util-linux script not installed: pty spec skipped")
      return
    end
    local home = tmpdir()
    local cmd = ("HOME=%s timeout 20 script -qec %s/bin/moonlab /dev/null"):format(home, root)
    local out = sh(("(printf 'sweep.ru\\t\\n'; sleep 0.5; printf '6*7\\n'; sleep 0.5; printf '\\004') | %s"):format(cmd))
    assert.matches("function", out, 1, true)    -- sweep.ru<Tab> became sweep.run, a function
    assert.matches("42", out, 1, true)
    local h = assert(io.open(home .. "/.moonlab_history"))
    local hist = h:read("a")
    h:close()
    assert.matches("sweep.run\n6*7", hist, 1, true)
    -- a second session recalls the last line with the up arrow
    out = sh(("(sleep 0.3; printf '\\033[A\\n'; sleep 0.5; printf '\\004') | %s"):format(cmd))
    assert.matches("42", out, 1, true)
    -- Ctrl-C stops a running evaluation and the session goes on
    out = sh(("(printf 'for i = 1, 1e13 do end\\n'; sleep 0.7; printf '\\003'; sleep 0.3; printf '7*8\\n'; sleep 0.4; printf '\\004') | %s")
      :format(cmd))
    assert.matches("interrupted", out, 1, true)
    assert.matches("56", out, 1, true)
    os.execute("rm -rf '" .. home .. "'")
  end)

  it("works through a symlink and runs `run` and `runs` subcommands", function()
    local d = tmpdir()
    assert.is_true(os.execute(("ln -s %s/bin/moonlab %s/ml"):format(root, d)))
    local f = assert(io.open(d .. "/s.lua", "w"))
    f:write("print(select('#', ...), table.concat({...}, ','), arg[0] ~= nil, T ~= nil, sweep ~= nil, store ~= nil, plot ~= nil, pipeline ~= nil)\n")
    f:close()
    local out, code = sh(("cd / && %s/ml run %s/s.lua a b"):format(d, d))
    assert.equal(0, code)
    assert.equal("2\ta,b\ttrue\ttrue\ttrue\ttrue\ttrue\ttrue\n", out)
    local sweep = require "moonlab.sweep"
    sweep.run { name = "cli", params = { grid = { k = { 1, 2, 3 } } }, store = d .. "/r.db", quiet = true, workers = 1,
      fn = function(c) if c.k == 3 then error("bad k") end return { sq = c.k * c.k } end }
    out, code = sh(("%s/ml runs %s/r.db"):format(d, d))
    assert.equal(0, code)
    assert.matches("cli%s+3%s+2%s+1", out)
    out = sh(("%s/ml runs %s/r.db cli"):format(d, d))
    assert.matches("id%s+rep%s+seed%s+status%s+duration%s+k%s+sq%s+error", out)
    assert.matches("\n2%s+1%s+%d+%s+ok%s+%S+%s+2%s+4", out)
    assert.matches("bad k", out, 1, true)
    assert.matches("3 runs: 2 ok, 1 failed", out, 1, true)
    out, code = sh(("%s/ml runs %s/none.db"):format(d, d))
    assert.equal(1, code)
    assert.equal("moonlab runs: store.open: " .. d .. "/none.db does not exist\n", out)
    os.execute("rm -rf '" .. d .. "'")
  end)

  it("in a tree where make has not run, says to run make", function()
    local d = tmpdir()
    os.execute(("mkdir -p %s/bin %s/lua/moonlab && cp %s/bin/moonlab %s/bin/ && cp %s/lua/moonlab/init.lua %s/lua/moonlab/")
      :format(d, d, root, d, root, d))
    local out, code = sh(("env -u LUA_PATH -u LUA_CPATH %s/bin/moonlab"):format(d))
    assert.equal(1, code)
    assert.equal("moonlab: the C module is not built yet: run `make` in " .. d .. " first\n", out)
    os.execute("rm -rf '" .. d .. "'")
  end)

  it("help() lists the modules and their functions", function()
    local out = run("help()\n")
    assert.matches("\n  sweep%s+derived_seed, expand, run\n", out)
    assert.matches("\n  store%s+decode, encode, open\n", out)
    assert.matches("\n  plot%s+.*from_store, grid", out)
    assert.matches("\n  pipeline%s+new\n", out)
    assert.matches("^## sweep%.run%(opts%)", help.text(require("moonlab.sweep").run))
    assert.matches("^`store%.open%(path, opts%)`", help.text(require("moonlab.store").open))
    assert.matches("^### plot%.surface%(opts%)", help.text(require("moonlab.plot").surface))
  end)
end)

describe("moonlab.help", function()
  it("finds functions, methods and names in docs/", function()
    assert.matches("^### tensor%.randn%(shape, opts%)", help.text(T.randn))
    assert.matches("^### t:reshape%(shape%)", help.text(T.ones { 1 }.reshape))
    assert.matches("^### moonlab%.info%(%)", help.text(require("moonlab").info))
    assert.matches("^### tensor%.load%(path%)", help.text("tensor.load"))
    assert.equal("help: not a moonlab function", help.text(print))
    assert.matches("^### attn%.sdpa%(q, k, v, opts%)", help.text(require("moonlab.attn").sdpa))
    -- pages that list functions in a table give that row
    assert.matches("^`laplace%.invert%(F, t, opts%)`\n  f%(t%)", help.text(require("moonlab.laplace").invert))
  end)
end)
