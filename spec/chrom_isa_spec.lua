-- The closed-form outlet's kernel (csrc/laplace/chrom_kvec.c) on every path below this CPU's best
-- (MOONLAB_ISA = avx2, scalar; each in a child process): chrom.i1e on both branches and the default
-- outlet of pulse, Gaussian and data injections agree with this process's path (which
-- spec/chrom_outlet_spec.lua checks against mpmath and SciPy) to 1e-14.
local core = require "moonlab.core"

local CODE = [[
local T = require "moonlab.tensor"
local chrom = require "moonlab.chrom"
local core = require "moonlab.core"
local out = {}
for _, x in ipairs { 1e-3, 0.5, 3, 9, 24.9, 25.1, 60, 700 } do out[#out + 1] = core.chrom_i1e(x) end
local t = T.linspace(0.7, 9, 57)
for _, inj in ipairs { { kind = "pulse", width = 0.05 }, { kind = "gaussian", width = 0.05, t0 = 0.3 },
    { kind = "data", t = { 0.01, 0.03, 0.06, 0.1 }, c = { 2, 9, 6, 1 } } } do
  local c = chrom.column { Da = 12, kappa = 6, injection = inj }:outlet(t + 0.0123)
  for i = 1, c:numel() do out[#out + 1] = c:get(i) end
end
for _, v in ipairs(out) do io.write(("%.17g\n"):format(v)) end
]]

local H = require "spec.helpers.isa"
local sh_file = require("spec.helpers.shell").sh_file

local function run(isa)
  local _, out = sh_file(CODE, function(f)
    return ("%s%s %s"):format(isa and ("MOONLAB_ISA=" .. isa .. " ") or "", H.lua_bin(), f)
  end)
  local v = {}
  for s in out:gmatch("[^\n]+") do v[#v + 1] = assert(tonumber(s), out) end
  return v
end

describe("chrom kernel paths (MOONLAB_ISA)", function()
  it("scalar and avx2 paths agree with this CPU's path to 1e-14", function()
    local ref = run(nil)
    assert.equal(8 + 3 * 57, #ref)
    local pk = 0
    for i = 9, #ref do pk = math.max(pk, math.abs(ref[i])) end
    assert.is_true(pk > 0.1 and ref[1] > 0, "the outlets and i1e are not trivial")
    for _, isa in ipairs { "scalar", "avx2" } do
      local v = run(isa)
      assert.equal(#ref, #v)
      for i = 1, #ref do
        local scale = i <= 8 and math.abs(ref[i]) or pk
        assert.is_true(math.abs(v[i] - ref[i]) <= 1e-14 * scale, ("%s #%d: %.17g vs %.17g"):format(isa, i, v[i], ref[i]))
      end
    end
    assert.is_truthy(core.info().isa)
  end)
end)
