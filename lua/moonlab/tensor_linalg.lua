--- moonlab.tensor_linalg: T.linalg — the LAPACK calls of csrc/lua/ltensor_linalg.c extended over leading
--- batch dims as NumPy's numpy.linalg does (a [..., m, n] stack of matrices; lstsq stays 2-D, as in NumPy).
--- Each matrix of a stack is one LAPACK call. See docs/tensor.md. Internal to moonlab.tensor: the module
--- returns a builder, called once by tensor.lua, so the API enumeration (tools/moonlab_api.lua) sees these
--- functions only as tensor.linalg.*.
local core = require "moonlab.core"

local function argerr(fname, n, name, msg)
  error(("%s: bad argument #%d '%s': %s"):format(fname, n, name, msg), 0)
end

local function shape_str(s) return "[" .. table.concat(s, ",") .. "]" end

-- Leading dims of shape s (all but the last k) and their product.
local function batch_of(s, k)
  local b, n = {}, 1
  for i = 1, #s - k do b[i] = s[i]; n = n * s[i] end
  return b, n
end

local function concat(a, b)
  local r = { table.unpack(a) }
  for _, v in ipairs(b) do r[#r + 1] = v end
  return r
end

-- A float stack [..., m, n] with at least one batch dim (else nil: the 2-D function handles it).
local function stack_arg(fname, n, name, A)
  if not core.tensor_is(A) or A:ndim() <= 2 then return nil end
  local dt = A:dtype()
  if dt ~= "f32" and dt ~= "f64" then argerr(fname, n, name, ("expected f32 or f64, got %s (use astype)"):format(dt)) end
  return A:shape()
end

-- out tensors (shapes bsh .. per-matrix shape) filled by f(b) -> one result per out, for b = 1..B.
local function fill(B, outs, f)
  local flat = {}
  for k, o in ipairs(outs) do
    local s = o.shape
    flat[k] = core.tensor_zeros(concat({ B }, s), o.dtype)
  end
  for b = 1, B do
    local r = table.pack(f(b))
    for k = 1, #outs do flat[k][b] = r[k] end
  end
  local res = {}
  for k, o in ipairs(outs) do res[k] = flat[k]:reshape(concat(o.batch, o.shape)) end
  return table.unpack(res)
end

-- The matrices of A [..., m, n] as a [B, m, n] tensor (after broadcasting to batch dims bsh).
local function as3(A, bsh, B)
  local s = A:shape()
  local m, n = s[#s - 1], s[#s]
  return A:expand(concat(bsh, { m, n })):reshape { B, m, n }
end

-- Broadcast of two batch shapes (NumPy rules) or nil.
local function broadcast(a, b)
  local n, r = math.max(#a, #b), {}
  for d = 1, n do
    local x, y = a[d - (n - #a)] or 1, b[d - (n - #b)] or 1
    if x ~= y and x ~= 1 and y ~= 1 then return nil end
    r[d] = x == 1 and y or x
  end
  return r
end

local function build()
  local M = {}

  --- solve(A, b): A [..., n, n]; b [n] (one right-hand side for every matrix) or [..., n, k] with batch dims
  --- broadcast against A's (NumPy 2's rule).
  function M.solve(...)
    local A, b = ...
    local fn = "tensor.linalg.solve"
    local sa = stack_arg(fn, 1, "A", A)
    local bs = core.tensor_is(b) and b:ndim() > 2 and b:shape() or nil
    if not sa and not bs then return core.tensor_linalg_solve(...) end
    if not sa then sa = stack_arg(fn, 1, "A", A:reshape(concat({ 1 }, A:shape()))) end
    if not core.tensor_is(b) then argerr(fn, 2, "b", "expected a tensor, got " .. type(b)) end
    local ba = batch_of(sa, 2)
    local bsh = ba
    if b:ndim() >= 2 then
      bsh = broadcast(ba, (batch_of(b:shape(), 2)))
      if not bsh then
        argerr(fn, 2, "b", ("batch dims of %s do not broadcast with A's %s"):format(shape_str(b:shape()), shape_str(sa)))
      end
    end
    local B = 1
    for _, v in ipairs(bsh) do B = B * v end
    local A3 = as3(A, bsh, B)
    local b3 = b:ndim() >= 2 and as3(b, bsh, B) or nil
    local dt = (A:dtype() == "f32" and b:dtype() == "f32") and "f32" or "f64"
    local xs = b:ndim() == 1 and { b:shape()[1] } or { b:shape()[b:ndim() - 1], b:shape()[b:ndim()] }
    return fill(B, { { batch = bsh, shape = xs, dtype = dt } },
      function(k) return core.tensor_linalg_solve(A3[k], b3 and b3[k] or b) end)
  end

  -- cholesky, inv, det, eigh: one square matrix in, fixed result shapes out.
  local function square(name, outs)
    local fn = "tensor.linalg." .. name
    local f = core["tensor_linalg_" .. name]
    return function(...)
      local A = ...
      local sa = stack_arg(fn, 1, "A", A)
      if not sa then return f(...) end
      local n = sa[#sa]
      if sa[#sa - 1] ~= n then argerr(fn, 1, "A", "expected a stack of square [..., n, n] matrices, got " .. shape_str(sa)) end
      local bsh, B = batch_of(sa, 2)
      local A3 = as3(A, bsh, B)
      local spec = {}
      for k, o in ipairs(outs(sa)) do spec[k] = { batch = bsh, shape = o, dtype = A:dtype() } end
      return fill(B, spec, function(k) return f(A3[k]) end)
    end
  end

  --- cholesky(A): lower factors [..., n, n].
  M.cholesky = square("cholesky", function(s) return { { s[#s], s[#s] } } end)
  --- inv(A): inverses [..., n, n].
  M.inv = square("inv", function(s) return { { s[#s], s[#s] } } end)
  --- det(A): a number for [n, n], a tensor of the batch shape for a stack.
  M.det = square("det", function() return { {} } end)
  --- eigh(A): eigenvalues [..., n] (ascending) and eigenvectors [..., n, n].
  M.eigh = square("eigh", function(s) return { { s[#s] }, { s[#s], s[#s] } } end)

  --- svd(A, {full_matrices = false}): U [..., m, k or m], S [..., k], Vt [..., k or n, n].
  function M.svd(...)
    local A, o = ...
    local fn = "tensor.linalg.svd"
    local sa = stack_arg(fn, 1, "A", A)
    if not sa then return core.tensor_linalg_svd(...) end
    local full = type(o) == "table" and o.full_matrices
    local m, n = sa[#sa - 1], sa[#sa]
    local k = math.min(m, n)
    local bsh, B = batch_of(sa, 2)
    local A3 = as3(A, bsh, B)
    local dt = A:dtype()
    return fill(B, {
      { batch = bsh, shape = { m, full and m or k }, dtype = dt },
      { batch = bsh, shape = { k }, dtype = dt },
      { batch = bsh, shape = { full and n or k, n }, dtype = dt },
    }, function(b) return core.tensor_linalg_svd(A3[b], o) end)
  end

  --- lstsq(A, b, {rcond}): 2-D only, as NumPy's.
  M.lstsq = core.tensor_linalg_lstsq

  return M
end

return build
