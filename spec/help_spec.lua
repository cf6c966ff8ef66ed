-- help(): finds every public function and method (by value and by name), prints the full entry with its
-- options, says so for unknown names, and says where it looked when the docs are missing.
local root = os.getenv("MOONLAB_ROOT") or "."
package.path = root .. "/tools/?.lua;" .. package.path
local help = require "moonlab.help"
local T = require "moonlab.tensor"
local chrom = require "moonlab.chrom"

-- Public functions still without a docs entry, with their owner (cleared by the lead after merging).
-- Whole groups (Lua patterns on the public name), each with its owner:
local UNDOCUMENTED_GROUPS = {
  ["^tensor:"] = "tensor: the view/ops methods of the views merge (split, squeeze, topk, ...) are not in docs/tensor.md yet",
  ["^tensor%.[%a_]+$"] = "tensor: allclose, cat, einsum, from_table, isclose, load_npz, meshgrid, read_csv, save_npz, "
    .. "set_printoptions, stack, where are not in docs/tensor.md yet (the older constructors are, and pass)",
  ["^repl%."] = "workflow: repl.complete/main/pretty/repl/runs have no docs entry",
}
local function undocumented(name)
  for pat in pairs(UNDOCUMENTED_GROUPS) do
    if name:match(pat) and not ({ ["tensor.new"] = 1, ["tensor.zeros"] = 1, ["tensor.ones"] = 1, ["tensor.full"] = 1,
      ["tensor.arange"] = 1, ["tensor.linspace"] = 1, ["tensor.rand"] = 1, ["tensor.randn"] = 1, ["tensor.load"] = 1,
      ["tensor.is_tensor"] = 1 })[name] then return true end
  end
end

local UNDOCUMENTED = {
  ["mpi.why"] = "workflow: mpi.why is not in the docs",
  ["LaplaceFn:abscissa"] = "laplace: F:abscissa() is not in docs/laplace.md",
  ["bench.median_of"] = "bench (lead): not in docs/bench.md",
  ["bench.now"] = "bench (lead): not in docs/bench.md",
  ["laplace.rating_grid"] = "laplace: not in docs/laplace.md",
}

describe("help", function()
  it("finds methods by value, constructors by value, and names with module aliases", function()
    local t = T.zeros { 2 }
    assert.matches("t:mean%(%[dim%]%)", help.text(t.mean))
    assert.matches("^`chrom%.column{Da, kappa", help.text(chrom.column))
    assert.matches("^### tensor%.linspace%(start, stop, n", help.text("T.linspace"))
    assert.matches("^### tensor%.linspace", help.text(T.linspace))
    assert.matches("^`col:outlet%(t, opts%)`", help.text("col:outlet"))
    local col = chrom.column { Da = 1, kappa = 1 }
    assert.matches("^`col:outlet%(t, opts%)`", help.text(col.outlet))
    assert.matches("^### moonlab%.set_threads", help.text("set_threads"))
  end)

  it("prints the full entry with the options and their defaults", function()
    local inv = help.text("laplace.invert")
    assert.matches("`laplace.invert(F, t, opts)`", inv, 1, true)
    assert.matches("| `method` | `\"", inv, 1, true)       -- the options table with defaults follows
    assert.matches("| `precision` | `\"auto\"` |", inv, 1, true)
    local fit = help.text(chrom.fit)
    assert.matches("**fit options.**", fit, 1, true)
    assert.matches("`max_iter`", fit, 1, true)
    local col = help.text(chrom.column) -- the spec paragraph and its list of injections
    assert.matches("**Column spec.**", col, 1, true)
    assert.matches('{kind = "data", t = {...}, c = {...}}', col, 1, true)
    local sdpa = help.text("attn.sdpa")
    assert.matches("| `causal` | `false` |", sdpa, 1, true)
  end)

  it("says so for unknown names and for values that are not moonlab functions", function()
    assert.matches("^help: no moonlab function or method named xyz%.abc", help.text("xyz.abc"))
    assert.matches("^help: no moonlab function or method named tensor%.nosuch", help.text("T.nosuch"))
    assert.matches("^help: not a moonlab function", help.text(print))
    assert.matches("^help: expected a moonlab function or its name, got number", help.text(3))
    assert.matches("^moonlab modules %(.*\n  tensor +[%w_, ]*zeros", help.text())
  end)

  it("every public function and method has an entry (by value and by name)", function()
    local A = require "moonlab_api"
    local missing = {}
    for _, f in ipairs(A.functions(root)) do
      if not UNDOCUMENTED[f.name] and not undocumented(f.name) then
        local a, b = help.text(f.fn), help.text(f.name)
        if a:match("^help:") then missing[#missing + 1] = f.name .. " (by value): " .. a end
        if b:match("^help:") then missing[#missing + 1] = f.name .. " (by name): " .. b end
      end
    end
    assert.are.same({}, missing)
  end)

  it("says where it looked when the docs are missing (an installed copy without docs)", function()
    local dir = os.tmpname()
    os.remove(dir)
    os.execute(("mkdir -p %s/x/moonlab && cp %s/lua/moonlab/*.lua %s/x/moonlab/"):format(dir, root, dir))
    local p = io.popen(("cd /tmp && env -u MOONLAB_DOCS LUA_PATH='%s/x/?.lua;%s/x/?/init.lua;;' lua5.4 -e "
      .. "\"print(require('moonlab.help').text('tensor.zeros'))\" 2>&1"):format(dir, dir))
    local out = p:read("a")
    p:close()
    os.execute("rm -rf " .. dir)
    if io.open("/usr/local/share/doc/moonlab/moonlab.md") or io.open("/usr/share/doc/moonlab/moonlab.md") then
      pending("moonlab's docs are installed system-wide on this machine")
      return
    end
    assert.matches("help: the moonlab docs were not found (looked in", out, 1, true)
    assert.matches("set MOONLAB_DOCS", out, 1, true)
  end)
end)
