-- The attention checks of spec/attn_spec.lua and spec/attn_badinput_spec.lua under every kernel path
-- below the best one of this CPU (MOONLAB_ISA = avx2, scalar), each in a child process; this process
-- runs them on the best path. Also checks that MOONLAB_ISA selects and caps the path.
local core = require "moonlab.core"

local H = require "spec.helpers.isa"

describe("attn kernel paths (MOONLAB_ISA)", function()
  local best = H.best()

  it("MOONLAB_ISA forces a lower path and never a path the CPU lacks", function()
    assert.is_truthy(best == "scalar" or best == "avx2" or best == "avx512", tostring(best))
    if os.getenv("MOONLAB_ISA") == nil then assert.equal(best, core.info().isa) end
    for _, want in ipairs(H.ORDER) do
      local out = H.child(want, [[-e 'print(require("moonlab.core").info().isa)']])
      local got = out:match("(%w+)%s*$")
      local expect = H.RANK[want] <= H.RANK[best] and want or best
      assert.equal(expect, got)
    end
    local out = H.child("bogus", [[-e 'print(require("moonlab.core").info().isa)']])
    assert.equal(best, out:match("(%w+)%s*$"))
  end)

  for _, isa in ipairs { "scalar", "avx2" } do
    it("attention specs pass on the " .. isa .. " path (child process)", function()
      if H.RANK[isa] >= H.RANK[best] then
        pending(("%s is this CPU's best path (%s): covered by the other attn specs in this process"):format(isa, best))
        return
      end
      local ok, out = H.busted(isa, "spec/attn_spec.lua spec/attn_badinput_spec.lua")
      assert.is_true(ok, out)
    end)
  end
end)

describe("OpenMP spin default set by the library (csrc/core/runtime.c)", function()
  local function spin(env)
    local cmd = ("env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY %s OMP_DISPLAY_ENV=verbose %s -e 'require \"moonlab.core\"' 2>&1")
      :format(env, H.lua_bin())
    local p = assert(io.popen(cmd))
    local out = p:read("a")
    p:close()
    return out:match("GOMP_SPINCOUNT = '(%d+)'")
  end
  it("is 3000 when unset, before libgomp reads its environment; a user's setting wins", function()
    assert.equal("3000", spin(""))
    assert.equal("123", spin("GOMP_SPINCOUNT=123"))
    assert.are_not.equal("3000", spin("OMP_WAIT_POLICY=active"))
  end)
end)
