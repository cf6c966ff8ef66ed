-- The attention checks of spec/attn_spec.lua and spec/attn_badinput_spec.lua under every kernel path
-- below the best one of this CPU (MOONLAB_ISA = avx2, scalar), each in a child process; this process
-- runs them on the best path. Also checks that MOONLAB_ISA selects and caps the path.
local core = require "moonlab.core"

local ORDER = { "scalar", "avx2", "avx512" }

local function lua_bin()
  local i, exe = -1, nil
  while arg and arg[i] do exe = arg[i]; i = i - 1 end
  return exe or "lua5.4"
end

-- Runs `lua5.4 <code>` with MOONLAB_ISA=isa (the rest of the environment inherited); returns stdout.
local function child(isa, args)
  local cmd = ("MOONLAB_ISA=%s %s %s 2>&1"):format(isa, lua_bin(), args)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok, code
end

-- The best path this CPU supports (what ml_cpu_isa() picks without MOONLAB_ISA).
local function supported()
  local out = child("avx512", [[-e 'print(require("moonlab.core").info().isa)']])
  return out:match("(%w+)%s*$")
end

describe("attn kernel paths (MOONLAB_ISA)", function()
  local best = supported()

  it("MOONLAB_ISA forces a lower path and never a path the CPU lacks", function()
    assert.is_truthy(best == "scalar" or best == "avx2" or best == "avx512", tostring(best))
    if os.getenv("MOONLAB_ISA") == nil then assert.equal(best, core.info().isa) end
    local rank = {}
    for i, n in ipairs(ORDER) do rank[n] = i end
    for _, want in ipairs(ORDER) do
      local out = child(want, [[-e 'print(require("moonlab.core").info().isa)']])
      local got = out:match("(%w+)%s*$")
      local expect = rank[want] <= rank[best] and want or best
      assert.equal(expect, got)
    end
    local out = child("bogus", [[-e 'print(require("moonlab.core").info().isa)']])
    assert.equal(best, out:match("(%w+)%s*$"))
  end)

  for _, isa in ipairs { "scalar", "avx2" } do
    it("attention specs pass on the " .. isa .. " path (child process)", function()
      local rank = { scalar = 1, avx2 = 2, avx512 = 3 }
      if rank[isa] >= rank[best] then
        pending(("%s is this CPU's best path (%s): covered by the other attn specs in this process"):format(isa, best))
        return
      end
      local out, ok = child(isa, "/usr/bin/busted --helper=spec/helpers/init.lua -o TAP spec/attn_spec.lua spec/attn_badinput_spec.lua")
      assert.is_true(ok == true, out)
      assert.is_truthy(out:match("\n1%.%.%d+") or out:match("^1%.%.%d+"), out)
      assert.is_falsy(out:match("not ok"), out)
    end)
  end
end)

describe("OpenMP spin default set by the library (csrc/core/runtime.c)", function()
  local function spin(env)
    local cmd = ("env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY %s OMP_DISPLAY_ENV=verbose %s -e 'require \"moonlab.core\"' 2>&1")
      :format(env, lua_bin())
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
