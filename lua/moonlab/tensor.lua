--- moonlab.tensor: the dense n-d array shared by every core. See docs/tensor.md.
local core = require "moonlab.core"

local M = {}

--- The metatable of every tensor (methods live in Tensor.__index).
M.Tensor = core.Tensor

--- new(nested_table, [dtype]) or new(d1, d2, ..., [dtype]) (zeros of that shape).
M.new = core.tensor_new

--- zeros(shape, [dtype])
M.zeros = core.tensor_zeros

--- ones(shape, [dtype])
function M.ones(shape, dtype) return core.tensor_full(shape, 1, dtype) end

--- full(shape, value, [dtype])
M.full = core.tensor_full

--- arange(stop) or arange(start, stop, [step], [dtype]): start, start+step, ... below stop.
function M.arange(a, b, step, dtype)
  if b == nil then a, b = 0, a end
  return core.tensor_arange(a, b, step, dtype)
end

--- linspace(start, stop, n, [dtype]): n evenly spaced points, both ends included.
M.linspace = core.tensor_linspace

--- rand(shape, {seed=, dtype="f64", lo=0, hi=1}): uniform on [lo, hi).
M.rand = core.tensor_rand

--- randn(shape, {seed=, dtype="f64", mean=0, std=1}): normal samples.
M.randn = core.tensor_randn

--- load(path): reads a .npy file.
M.load = core.tensor_load

--- is_tensor(x): true when x is a moonlab tensor.
M.is_tensor = core.tensor_is

return M
