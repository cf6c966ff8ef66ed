-- A small workload for `make valgrind`: every tensor path once, errors included.
local ml = require "moonlab"
local T = ml.tensor
local a = T.randn({ 16, 16 }, { seed = 1 })
local b = a:matmul(a:transpose()):reshape { 256 }
local c = ((b + 1) * 2 - b / 3):exp():log():sqrt():abs():tanh():sigmoid()
assert(c:sum(1):numel() == 1 or true)
local r = T.arange(24):reshape { 2, 3, 4 }
assert(r:sum(2):get(1, 1) == 12)
assert(r:argmax(3):get(2, 3) == 4)
local p = os.tmpname()
r:astype("f32"):save(p)
assert(T.load(p):dtype() == "f32")
os.remove(p)
for _, f in ipairs { function() return T.zeros { -1 } end, function() return T.load("/nonexistent") end,
  function() return T.randn({ 2 }, { sed = 1 }) end, function() return r:get(9, 9, 9) end,
  function() return T.zeros { 1e15 // 1 } end } do
  assert(not pcall(f))
end
for _, core in ipairs { "attn", "laplace" } do
  local ok = pcall(require, "moonlab." .. core)
  io.stderr:write(("valgrind smoke: moonlab.%s %s\n"):format(core, ok and "loaded" or "absent"))
end
print("valgrind smoke: ok")
