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

  -- fuzzpass: the collector runs finalizers inside moonlab calls (mlL_account steps it for every tensor of
  -- 64 KiB or more), so a __gc that closed its object's tensors freed an operand the call was reading:
  -- tensor.cat joined zeroed operands into a wrong result, matmul/add/sort raised "dtypes differ (f32 and f32)"
  -- style messages. close() inside a finalizer now leaves the freeing to the tensor's own __gc.
  it("a finalizer closing a tensor in use by a call neither breaks the call nor leaks", function()
    collectgarbage()
    local base = T.memory().live
    for i = 1, 30 do
      local x = { T.randn({ 256, 256 }, { seed = i }), T.randn({ 256, 256 }, { seed = i + 100 }) }
      local s = x[1]:sum() + x[2]:sum()
      setmetatable({}, { __gc = function() for _, t in ipairs(x) do t:close() end end }) -- garbage at once
      local c = T.cat(x, 1)
      assert.is_true(math.abs(c:sum() - s) < 1e-9, "cat of iteration " .. i)
      local p = x[1]:matmul(x[2])
      assert.same({ 256, 256 }, p:shape())
      assert.equal(x[1]:dtype(), (x[1] + x[2]):dtype())
    end
    collectgarbage()
    collectgarbage()
    assert.is_true(T.memory().live - base < 2 ^ 20, "tensors closed by finalizers are freed once collected")
    local t = T.zeros { 3 }
    t:close() -- outside a finalizer: at once
    assert.has_error(function() t:sum() end)
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
