-- The router specs (spec/moe_route_spec.lua: brute-force reference for every option combination, wide rows,
-- non-finite rows) under every kernel path below this CPU's best (MOONLAB_ISA = avx2, scalar; each in a
-- child process); this process runs them on the best path (the fused AVX-512 pass on an AVX-512 CPU).
local isa = require "spec.helpers.isa"

describe("moe.route kernel paths (MOONLAB_ISA)", function()
  local best = isa.best()
  for _, path in ipairs { "scalar", "avx2" } do
    it("router specs pass on the " .. path .. " path (child process)", function()
      if isa.RANK[path] >= (isa.RANK[best] or 0) then
        pending(("%s is this CPU's best path (%s): covered by spec/moe_route_spec.lua in this process"):format(path, tostring(best)))
        return
      end
      local ok, out = isa.busted(path, "spec/moe_route_spec.lua")
      assert.is_true(ok, out)
    end)
  end
end)
