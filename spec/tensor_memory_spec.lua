-- tensor.memory(): storage accounting, and the collector keeping garbage tensors bounded in loops (mlL_account
-- runs a full collection after max(16 MiB, live, 8 x Lua heap) of tensor allocations).
local T = require "moonlab.tensor"

describe("tensor.memory", function()
  it("counts live storage exactly; views share it; close releases it", function()
    collectgarbage()
    local m0 = T.memory().live
    local x = T.zeros({ 1024, 1024 })
    assert.equal(8 * 1024 * 1024, T.memory().live - m0)
    local v = x:narrow(1, 1, 10)
    assert.equal(8 * 1024 * 1024, T.memory().live - m0)
    x:close()
    assert.equal(8 * 1024 * 1024, T.memory().live - m0) -- the view keeps the storage
    v:close()
    assert.equal(0, T.memory().live - m0)
    assert.is_true(T.memory().cached >= 0)
  end)

  it("bounds the garbage of a loop that drops two 1 MiB tensors per iteration", function()
    collectgarbage()
    local base = T.memory().live
    local heap = collectgarbage("count") * 1024
    local bound = base + 2 * math.max(16 * 2 ^ 20, 8 * heap) + 4 * 2 ^ 20
    local peak = 0
    for _ = 1, 400 do -- 800 MiB in all
      local r = { a = T.zeros({ 131072 }), b = T.zeros({ 131072 }) }
      r.a[1] = 1
      peak = math.max(peak, T.memory().live)
    end
    assert.is_true(bound < 700 * 2 ^ 20, "Lua heap too large for this check")
    assert.is_true(peak <= bound, ("peak %.1f MiB > bound %.1f MiB"):format(peak / 2 ^ 20, bound / 2 ^ 20))
  end)

  it("does not collect while the collector is stopped (the user's choice)", function()
    collectgarbage()
    local base = T.memory().live
    collectgarbage("stop")
    for _ = 1, 40 do local _ = T.zeros({ 131072 * 4 }) end -- 160 MiB
    local held = T.memory().live - base
    collectgarbage("restart")
    collectgarbage()
    assert.is_true(held >= 160 * 2 ^ 20)
    assert.is_true(T.memory().live - base < 4 * 2 ^ 20)
  end)
end)
