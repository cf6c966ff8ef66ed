-- moonlab.progress (the bar drawn for long Lua loops and C calls) and moonlab.opts (option checking, warnings).
local progress = require "moonlab.progress"
local opts = require "moonlab.opts"

local root = os.getenv("MOONLAB_ROOT") or "."

-- Runs a Lua snippet in a child lua5.4 with the given environment prefix; returns its stderr.
local function child_stderr(env, code)
  local f, script = os.tmpname(), os.tmpname()
  local sh = assert(io.open(script, "w"))
  sh:write(code)
  sh:close()
  local cmd = ("%s LUA_PATH=%q LUA_CPATH=%q lua5.4 %s 2>%s >/dev/null"):format(env, package.path,
    package.cpath, script, f)
  os.execute(cmd)
  os.remove(script)
  local fh = assert(io.open(f))
  local s = fh:read("a")
  fh:close()
  os.remove(f)
  return s
end

local loop = [[
local p = require("moonlab.progress").new{label = "work", total = 4}
for i = 1, 4 do p:update(i, i .. " ok") end
p:finish()]]

describe("moonlab.progress", function()
  it("prints plain lines with percent, count and a final line when stderr is not a terminal", function()
    local s = child_stderr("MOONLAB_PROGRESS=plain MOONLAB_PROGRESS_DELAY=0", loop)
    assert.matches("^work: 25%% %(1/4%) [%d.]+ s, ETA [%d.?]+ s?, 1 ok\n", s)
    assert.matches("work: 100%% %(4/4%) [%d.]+ s%s*%(done%)\n$", s)
  end)

  it("rewrites one line in place on a terminal and ends it with a newline", function()
    local s = child_stderr("MOONLAB_PROGRESS=tty MOONLAB_PROGRESS_DELAY=0", loop)
    assert.matches("^\r\27%[Kwork %[#####...............%]  25%%", s)
    assert.matches("\r\27%[Kwork %[####################%] 100%% [%d.]+ s\n$", s)
    assert.is_nil(s:sub(1, -2):find("\n", 1, true))
  end)

  it("stays silent when quiet, with MOONLAB_QUIET=1, and before the delay", function()
    assert.equal("", child_stderr("MOONLAB_PROGRESS=tty MOONLAB_PROGRESS_DELAY=0",
      [[local p = require("moonlab.progress").new{label = "w", total = 2, quiet = true}
        p:update(1) p:finish()]]))
    assert.equal("", child_stderr("MOONLAB_QUIET=1 MOONLAB_PROGRESS=tty MOONLAB_PROGRESS_DELAY=0", loop))
    assert.equal("", child_stderr("MOONLAB_PROGRESS=tty MOONLAB_PROGRESS_DELAY=100", loop))
  end)

  it("shows the count when the total is unknown", function()
    local s = child_stderr("MOONLAB_PROGRESS=plain MOONLAB_PROGRESS_DELAY=0",
      [[local p = require("moonlab.progress").new{label = "scan"} p:update(7)]])
    assert.matches("^scan: 7 done, [%d.]+ s\n$", s)
  end)

  it("checks its options", function()
    assert.has_error(function() progress.new { lable = "x" } end,
      "unknown option 'lable' to progress.new (did you mean 'label'?)")
    assert.has_error(function() progress.new { total = -1 } end,
      "progress.new: option 'total' must be a number >= 0, got -1")
  end)
end)

describe("moonlab.opts", function()
  it("accepts known keys and suggests the closest name for an unknown one", function()
    assert.equal(5, opts.check("chrom.column", { kappa = 5 }, { "L", "Da", "kappa" }).kappa)
    assert.has_error(function() opts.check("chrom.column", { kapa = 5 }, { "L", "Da", "kappa" }) end,
      "unknown option 'kapa' to chrom.column (did you mean 'kappa'?)")
    assert.has_error(function() opts.check("f", { zzzzzz = 1 }, { "a", "b" }) end, "unknown option 'zzzzzz' to f")
    assert.has_error(function() opts.check("f", { 1 }, { "a" }) end, "f: option keys must be strings, got number")
    assert.has_error(function() opts.check("f", 3, { "a" }) end, "f: expected an options table, got number")
    assert.is_nil(opts.check("f", nil, { "a" }))
  end)

  it("says 'missing' for an absent required option and names the wrong type", function()
    assert.has_error(function() opts.need("gp.GP", {}, "kernel") end, "gp.GP: missing required option 'kernel'")
    assert.has_error(function() opts.need("f", { n = "3" }, "n", "number") end,
      "f: option 'n' must be a number, got string")
    assert.equal(3, opts.need("f", { n = 3 }, "n", "number"))
  end)

  it("collects warnings in the result and prints them unless quiet", function()
    local r = opts.warn({}, "gp.optimize", "did not converge", true)
    assert.same({ "did not converge" }, r.warnings)
    local s = child_stderr("", [[require("moonlab.opts").warn({}, "x.fit", "stalled")]])
    assert.equal("moonlab: x.fit: stalled\n", s)
    assert.equal("", child_stderr("MOONLAB_QUIET=1", [[require("moonlab.opts").warn({}, "x.fit", "stalled")]]))
  end)
end)
