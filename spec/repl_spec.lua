-- bin/moonlab: the REPL and script runner, and help(fn) from docs/.
local root = os.getenv("MOONLAB_ROOT") or "."
local help = require "moonlab.help"
local T = require "moonlab.tensor"

local function run(input, args)
  local f = os.tmpname()
  local h = assert(io.open(f, "w"))
  h:write(input)
  h:close()
  local p = io.popen(("%s/bin/moonlab %s < %s 2>&1"):format(root, args or "", f))
  local out = p:read("a")
  p:close()
  os.remove(f)
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
    local f = os.tmpname()
    local h = assert(io.open(f, "w"))
    h:write("print((T.ones{3} * 2):sum())\n")
    h:close()
    local p = io.popen(("%s/bin/moonlab %s 2>&1"):format(root, f))
    local out = p:read("a")
    p:close()
    os.remove(f)
    assert.equal("6.0\n", out)
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
