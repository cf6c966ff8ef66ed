-- The error-bounded sampler on every kernel path (MOONLAB_ISA = scalar, avx2, avx512; each in a child process
-- running spec/helpers/sdf_isa_child.lua): the bound is honest against Simpson quadrature on each path, and the
-- paths agree on β+, rounds and evaluations ray by ray (their exponentials differ in the last bits only).
local H = require "spec.helpers.isa"

local function run(isa)
  local root = os.getenv("MOONLAB_ROOT") or "."
  local out, ok = H.child(isa, root .. "/spec/helpers/sdf_isa_child.lua")
  assert.is_true(ok == true, out)
  local rays = {}
  for bp, it, ev, bd in out:gmatch("RAY (%S+) (%d+) (%d+) (%S+)") do
    rays[#rays + 1] = { tonumber(bp), tonumber(it), tonumber(ev), tonumber(bd) }
  end
  local total, conv = out:match("HONEST (%d+) (%d+)")
  assert.is_truthy(total, out)
  return out:match("ISA (%w+)"), rays, tonumber(total), tonumber(conv)
end

describe("sdf.sample on every kernel path (MOONLAB_ISA)", function()
  it("is honest on each path, and the paths agree ray by ray", function()
    local base
    for _, isa in ipairs { "scalar", "avx2", "avx512" } do
      local got, rays, total, conv = run(isa)
      assert.is_truthy(got == isa or (isa ~= "scalar" and got ~= nil), got)
      assert.equal(160, total)
      assert.is_true(conv >= total / 2, ("%s: only %d of %d rays reached bound <= eps"):format(isa, conv, total))
      if base then
        local same = 0
        for i, r in ipairs(rays) do
          local b = base[i]
          if r[1] == b[1] and r[2] == b[2] and r[3] == b[3] and math.abs(r[4] - b[4]) <= 1e-6 then same = same + 1 end
        end
        assert.is_true(same >= #rays - 2, ("%s: only %d of %d rays agree with the scalar path"):format(isa, same, #rays))
      else
        base = rays
      end
    end
  end)
end)
