--- moonlab.tensor: the dense n-d array shared by every core. See docs/tensor.md.
local core = require "moonlab.core"

local M = {}

--- The metatable of every tensor (methods live in Tensor.methods; __index resolves them and t[i]).
M.Tensor = core.Tensor
local methods = core.Tensor.methods

--- new(nested_table, [dtype]) or new(d1, d2, ..., [dtype]) (zeros of that shape).
M.new = core.tensor_new
--- from_table(flat, [shape], [dtype]): a flat Lua sequence in one pass.
M.from_table = core.tensor_from_table
--- zeros(shape, [dtype])
M.zeros = core.tensor_zeros
--- ones(shape, [dtype])
M.ones = core.tensor_ones
--- full(shape, value, [dtype])
M.full = core.tensor_full

--- arange(stop) or arange(start, stop, [step], [dtype]): start, start+step, ... below stop.
function M.arange(a, b, step, dtype)
  if b == nil or type(b) == "string" then a, b, dtype = 0, a, b end
  if type(step) == "string" then step, dtype = nil, step end
  return core.tensor_arange(a, b, step, dtype)
end

--- linspace(start, stop, n, [dtype]): n evenly spaced points, both ends included.
M.linspace = core.tensor_linspace
--- rand(shape, {seed=, dtype="f64", lo=0, hi=1}): uniform on [lo, hi).
M.rand = core.tensor_rand
--- randn(shape, {seed=, dtype="f64", mean=0, std=1}): normal samples.
M.randn = core.tensor_randn
--- load(path): a .npy file as a tensor, or a .npz archive as a table name -> tensor.
M.load = core.tensor_load
--- load_npz(path): a .npz archive as a table name -> tensor.
M.load_npz = core.tensor_load_npz
--- save_npz(path, {name = tensor, ...}, [{compressed = false}])
M.save_npz = core.tensor_save_npz
--- read_csv(path, {header = true, delimiter = ",", dtype = "f64"}) -> tensor [rows, cols], column names
M.read_csv = core.tensor_read_csv
--- set_printoptions{precision = 6, threshold = 64, edgeitems = 3}: returns the previous options.
M.set_printoptions = core.tensor_set_printoptions
--- memory() -> {live = bytes of tensor storage in use, cached = bytes of freed storage kept for reuse}
M.memory = core.tensor_memory
--- is_tensor(x): true when x is a moonlab tensor.
M.is_tensor = core.tensor_is
--- where(cond, a, b, [{out = t}]): a where cond is true, else b (tensors or numbers, broadcast).
M.where = core.tensor_where
--- cat(list, [dim = 1]): tensors joined along dim.
M.cat = core.tensor_cat

local function is_tensor(x) return core.tensor_is(x) end

local opts = require "moonlab.opts"

-- Errors carry no position prefix so that they start with the public function's name.
local function check_opts(fname, o, allowed)
  if o == nil then return {} end
  if type(o) ~= "table" or is_tensor(o) then
    error(("%s: bad argument 'opts': expected an options table, got %s"):format(fname, type(o)), 0)
  end
  for k in pairs(o) do
    local known = false
    for _, a in ipairs(allowed) do if a == k then known = true end end
    if not known then
      local hint = type(k) == "string" and opts.suggest(k, allowed)
      error(("unknown option '%s' to %s%s"):format(tostring(k), fname, hint and (" (did you mean '%s'?)"):format(hint) or ""), 0)
    end
  end
  return o
end

local function argerr(fname, n, name, msg)
  error(("%s: bad argument #%d '%s': %s"):format(fname, n, name, msg), 0)
end

local function need_tensor(fname, n, name, x)
  if not is_tensor(x) then argerr(fname, n, name, "expected a tensor, got " .. type(x)) end
end

--- stack(list, [dim = 1]): tensors of one shape joined along a new dim.
function M.stack(list, dim)
  if type(list) ~= "table" or #list == 0 then argerr("tensor.stack", 1, "tensors", "expected a non-empty list of tensors") end
  dim = dim or 1
  local parts = {}
  for i, t in ipairs(list) do
    if not is_tensor(t) then argerr("tensor.stack", 1, "tensors", ("element %d is a %s, expected a tensor"):format(i, type(t))) end
    local d = dim < 0 and t:ndim() + 2 + dim or dim
    if math.type(d) ~= "integer" or d < 1 or d > t:ndim() + 1 then
      argerr("tensor.stack", 2, "dim", ("expected a dim in 1..%d, got %s"):format(t:ndim() + 1, tostring(dim)))
    end
    if i > 1 then
      local s1, s2 = list[1]:shape(), t:shape()
      if #s1 ~= #s2 then argerr("tensor.stack", 1, "tensors", ("element %d has %d dims, element 1 has %d"):format(i, #s2, #s1)) end
      for k = 1, #s1 do
        if s1[k] ~= s2[k] then
          argerr("tensor.stack", 1, "tensors", ("element %d has shape [%s], element 1 [%s] (stack needs equal shapes)"):format(
            i, table.concat(s2, ","), table.concat(s1, ",")))
        end
      end
    end
    parts[i] = t:unsqueeze(d)
  end
  local d = dim < 0 and list[1]:ndim() + 2 + dim or dim
  return core.tensor_cat(parts, d)
end

--- meshgrid(x1, x2, ..., [{indexing = "ij"}]): coordinate grids of 1-D tensors (expanded views).
function M.meshgrid(...)
  local args = { ... }
  local o = {}
  if type(args[#args]) == "table" and not is_tensor(args[#args]) then o = table.remove(args) end
  if #args == 1 and type(args[1]) == "table" and not is_tensor(args[1]) then args = args[1] end
  check_opts("tensor.meshgrid", o, { "indexing" })
  local indexing = o.indexing or "ij"
  if indexing ~= "ij" and indexing ~= "xy" then
    argerr("tensor.meshgrid", #args + 1, "indexing", ("expected 'ij' or 'xy', got '%s'"):format(tostring(indexing)))
  end
  local n = #args
  if n == 0 then argerr("tensor.meshgrid", 1, "x1", "expected at least one 1-D tensor") end
  local sizes = {}
  for i, x in ipairs(args) do
    if not is_tensor(x) or x:ndim() ~= 1 then argerr("tensor.meshgrid", i, "x" .. i, "expected a 1-D tensor") end
    sizes[i] = x:numel()
  end
  local order = {}
  for i = 1, n do order[i] = i end
  if indexing == "xy" and n >= 2 then order[1], order[2] = 2, 1 end
  local shape = {}
  for k = 1, n do shape[k] = sizes[order[k]] end
  local out = {}
  for i, x in ipairs(args) do
    local pos
    for k = 1, n do if order[k] == i then pos = k end end
    local vs = {}
    for k = 1, n do vs[k] = 1 end
    vs[pos] = sizes[i]
    out[i] = x:reshape(vs):expand(shape)
  end
  return table.unpack(out)
end

local function isclose(fname, a, b, o)
  o = check_opts(fname, o, { "rtol", "atol", "equal_nan" })
  local rtol, atol = o.rtol or 1e-5, o.atol or 1e-8
  if type(rtol) ~= "number" or rtol < 0 then argerr(fname, 3, "rtol", "expected a non-negative number") end
  if type(atol) ~= "number" or atol < 0 then argerr(fname, 3, "atol", "expected a non-negative number") end
  if not is_tensor(a) and type(a) ~= "number" then argerr(fname, 1, "a", "expected a tensor or a number, got " .. type(a)) end
  if not is_tensor(b) and type(b) ~= "number" then argerr(fname, 2, "b", "expected a tensor or a number, got " .. type(b)) end
  if not is_tensor(a) and not is_tensor(b) then argerr(fname, 1, "a", "expected a tensor") end
  local ta = is_tensor(a) and a or M.full({}, a, "f64")
  local tb = is_tensor(b) and b or M.full({}, b, "f64")
  if ta:dtype() ~= "f32" and ta:dtype() ~= "f64" then ta = ta:astype("f64") end
  if tb:dtype() ~= "f32" and tb:dtype() ~= "f64" then tb = tb:astype("f64") end
  local diff = ta:sub(tb):abs()
  local tol = tb:abs():mul(rtol):add(atol)
  local close = diff:le(tol)
  -- equal infinities are close; NaN is close to NaN only with equal_nan
  close = M.where(ta:eq(tb), true, close)
  if o.equal_nan then close = M.where(ta:ne(ta):mul(tb:ne(tb)):astype("bool"), true, close) end
  return close
end

--- isclose(a, b, {rtol = 1e-5, atol = 1e-8, equal_nan = false}): bool tensor |a - b| <= atol + rtol |b|.
-- (not a tail call, so error messages from inside name tensor.isclose: see mlL_throw)
function M.isclose(a, b, o) return (isclose("tensor.isclose", a, b, o)) end

--- allclose(a, b, {rtol, atol, equal_nan}): true when every element is close (shapes must broadcast).
function M.allclose(a, b, o)
  local c = isclose("tensor.allclose", a, b, o)
  return c:numel() == 0 or c:all()
end

-- einsum's '...' (NumPy's rules): each '...' stands for the dims of its operand not named by letters;
-- they get fresh labels, right-aligned across operands (so they broadcast), and an implicit output
-- starts with them. Returns the spec with letters only.
local function einsum_ellipsis(spec, ops)
  if not spec:find(".", 1, true) then return spec end
  local lhs, rhs = spec:match("^([^%-]*)%->(.*)$")
  lhs = lhs or spec
  local used, terms, ranks, E = {}, {}, {}, 0
  for c in spec:gmatch("%a") do used[c] = true end
  for t in (lhs .. ","):gmatch("([^,]*),") do terms[#terms + 1] = t end
  for i, t in ipairs(terms) do
    local letters, n = t:gsub("%.%.%.", "")
    if n > 1 or letters:find(".", 1, true) then
      argerr("tensor.einsum", 1, "spec", ("term '%s': at most one '...' and no other dots"):format(t))
    end
    if n == 1 and is_tensor(ops[i]) then
      ranks[i] = ops[i]:ndim() - #letters
      if ranks[i] < 0 then
        argerr("tensor.einsum", i + 1, "operand " .. i,
          ("term '%s' names %d dims, the tensor has %d"):format(t, #letters, ops[i]:ndim()))
      end
      E = math.max(E, ranks[i])
    end
  end
  local fresh = {}
  for c in ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"):gmatch(".") do
    if #fresh < E and not used[c] then fresh[#fresh + 1] = c end
  end
  if #fresh < E then argerr("tensor.einsum", 1, "spec", "too many labels for the '...' dims") end
  fresh = table.concat(fresh)
  for i, t in ipairs(terms) do
    if ranks[i] then terms[i] = t:gsub("%.%.%.", fresh:sub(E - ranks[i] + 1)) end
  end
  if rhs then
    local r, n = rhs:gsub("%.%.%.", fresh)
    if n > 1 or r:find(".", 1, true) then argerr("tensor.einsum", 1, "spec", "the output has more than one '...'") end
    if n == 0 and E > 0 then
      argerr("tensor.einsum", 1, "spec", "the output needs '...' for the dims the inputs' '...' stand for")
    end
    rhs = r
  else
    local count, once = {}, {}
    for c in lhs:gmatch("%a") do count[c] = (count[c] or 0) + 1 end
    for c, k in pairs(count) do if k == 1 then once[#once + 1] = c end end
    table.sort(once)
    rhs = fresh .. table.concat(once)
  end
  return table.concat(terms, ",") .. "->" .. rhs
end

--- einsum(spec, a, b, ...): Einstein summation, e.g. "ij,jk->ik" (matmul), "bij,bjk->bik", "i,j->ij",
--- "ii->" (trace), "ij->ji", "...ij,...jk->...ik" ('...' broadcasts leading dims as in NumPy).
--- Contractions of two operands go through BLAS (matmul); more operands are contracted left to right.
function M.einsum(spec, ...)
  local ops = { ... }
  if type(spec) ~= "string" then argerr("tensor.einsum", 1, "spec", "expected a string such as 'ij,jk->ik'") end
  spec = einsum_ellipsis((spec:gsub("%s", "")), ops)
  local lhs, rhs = spec:match("^([^%-]*)%->(.*)$")
  if not lhs then
    -- implicit output: labels appearing once, in alphabetical order (NumPy's rule)
    lhs = spec:gsub("%s", "")
    local count = {}
    for c in lhs:gmatch("%a") do count[c] = (count[c] or 0) + 1 end
    local once = {}
    for c, k in pairs(count) do if k == 1 then once[#once + 1] = c end end
    table.sort(once)
    rhs = table.concat(once)
  end
  local terms = {}
  for t in (lhs .. ","):gmatch("([^,]*),") do terms[#terms + 1] = t end
  if #terms ~= #ops then
    argerr("tensor.einsum", 1, "spec", ("has %d operands, %d tensors given"):format(#terms, #ops))
  end
  if not rhs:match("^%a*$") then argerr("tensor.einsum", 1, "spec", "labels must be letters or '...'") end
  local size = {}
  for i, t in ipairs(terms) do
    local x = ops[i]
    need_tensor("tensor.einsum", i + 1, "operand " .. i, x)
    if not t:match("^%a*$") then argerr("tensor.einsum", 1, "spec", ("term '%s' must be letters or '...'"):format(t)) end
    if #t ~= x:ndim() then
      argerr("tensor.einsum", i + 1, "operand " .. i, ("term '%s' has %d labels, the tensor %d dims"):format(t, #t, x:ndim()))
    end
    local sh = x:shape()
    for k = 1, #t do
      local c = t:sub(k, k)
      if size[c] and size[c] ~= sh[k] and size[c] ~= 1 and sh[k] ~= 1 then
        argerr("tensor.einsum", i + 1, "operand " .. i, ("label '%s' has size %d here and %d elsewhere"):format(c, sh[k], size[c]))
      end
      size[c] = math.max(size[c] or 1, sh[k])
    end
  end
  for c in rhs:gmatch("%a") do
    if not size[c] then argerr("tensor.einsum", 1, "spec", ("output label '%s' is not in any input"):format(c)) end
  end
  -- one operand: take diagonals of repeated labels, sum labels not kept, permute to `keep`
  local function reduce_to(x, labels, keep)
    local i = 1
    while i <= #labels do
      local c = labels:sub(i, i)
      local j = labels:find(c, i + 1, true)
      if j then
        x = x:diagonal(i, j)
        labels = labels:sub(1, i - 1) .. labels:sub(i + 1, j - 1) .. labels:sub(j + 1) .. c
      else
        i = i + 1
      end
    end
    for k = #labels, 1, -1 do
      local c = labels:sub(k, k)
      if not keep:find(c, 1, true) then
        x = x:sum(k)
        labels = labels:sub(1, k - 1) .. labels:sub(k + 1)
      end
    end
    return x, labels
  end
  local function permute_to(x, labels, order)
    if labels == order or #order <= 1 then return x end
    local perm = {}
    for k = 1, #order do perm[k] = labels:find(order:sub(k, k), 1, true) end
    return x:permute(perm)
  end
  local function product_shape(labels)
    local n = 1
    for c in labels:gmatch("%a") do n = n * size[c] end
    return n
  end
  -- contract two operands into the labels `out` (those needed later or in the output)
  local function contract(x, lx, y, ly, needed)
    local keepx, keepy = "", ""
    for c in lx:gmatch("%a") do if ly:find(c, 1, true) or needed:find(c, 1, true) then keepx = keepx .. c end end
    for c in ly:gmatch("%a") do if lx:find(c, 1, true) or needed:find(c, 1, true) then keepy = keepy .. c end end
    x, lx = reduce_to(x, lx, keepx)
    y, ly = reduce_to(y, ly, keepy)
    local batch, con, onlyx, onlyy = "", "", "", ""
    for c in lx:gmatch("%a") do
      if ly:find(c, 1, true) then
        if needed:find(c, 1, true) then batch = batch .. c else con = con .. c end
      else
        onlyx = onlyx .. c
      end
    end
    for c in ly:gmatch("%a") do if not lx:find(c, 1, true) then onlyy = onlyy .. c end end
    local B, Mm, K, N = product_shape(batch), product_shape(onlyx), product_shape(con), product_shape(onlyy)
    local xs = {}
    for c in (batch .. onlyx .. con):gmatch("%a") do xs[#xs + 1] = size[c] end
    x = permute_to(x, lx, batch .. onlyx .. con):expand(#xs > 0 and xs or {}):reshape { B, Mm, K }
    local ys = {}
    for c in (batch .. con .. onlyy):gmatch("%a") do ys[#ys + 1] = size[c] end
    y = permute_to(y, ly, batch .. con .. onlyy):expand(#ys > 0 and ys or {}):reshape { B, K, N }
    if x:dtype() ~= y:dtype() or (x:dtype() ~= "f32" and x:dtype() ~= "f64") then
      local dt = (x:dtype() == "f32" and y:dtype() == "f32") and "f32" or "f64"
      x, y = x:astype(dt), y:astype(dt)
    end
    local r = x:matmul(y)
    local rs = {}
    for c in (batch .. onlyx .. onlyy):gmatch("%a") do rs[#rs + 1] = size[c] end
    return r:reshape(#rs > 0 and rs or { 1 }):reshape(rs), batch .. onlyx .. onlyy
  end
  local x, lx = ops[1], terms[1]
  for i = 2, #ops do
    local needed = rhs
    for j = i + 1, #terms do needed = needed .. terms[j] end
    x, lx = contract(x, lx, ops[i], terms[i], needed)
  end
  x, lx = reduce_to(x, lx, rhs)
  x = permute_to(x, lx, rhs)
  if #rhs == 0 then
    if is_tensor(x) then return x:item() end
    return x
  end
  return x:contiguous()
end

--- The LAPACK-backed linear algebra: solve, cholesky, inv, det, eigh, svd (over leading batch dims, as
--- NumPy's) and lstsq (2-D).
M.linalg = require "moonlab.tensor_linalg"()

-- ---- methods written in Lua on top of the C kernels ----

local function dim_arg(fname, t, dim, n)
  if dim == nil then return nil end
  local nd = t:ndim()
  if math.type(dim) ~= "integer" or dim == 0 or dim > nd or dim < -nd then
    argerr(fname, n, "dim", ("expected a dim in 1..%d (or -%d..-1), got %s"):format(nd, nd, tostring(dim)))
  end
  return dim < 0 and nd + 1 + dim or dim
end

--- t:clamp(lo, hi): elements limited to [lo, hi] (either may be nil; numbers or tensors, broadcast).
local function bound(fname, n, name, v)
  if v ~= nil and type(v) ~= "number" and not is_tensor(v) then
    argerr(fname, n, name, "expected a number, a tensor or nil, got " .. type(v))
  end
end

function methods.clamp(t, lo, hi)
  need_tensor("tensor:clamp", 1, "self", t)
  bound("tensor:clamp", 2, "lo", lo)
  bound("tensor:clamp", 3, "hi", hi)
  if lo == nil and hi == nil then argerr("tensor:clamp", 2, "lo", "expected lo and/or hi") end
  local r = t
  if lo ~= nil then r = r:maximum(lo) end
  if hi ~= nil then r = r:minimum(hi) end
  return r
end

--- t:clamp_(lo, hi): in place.
function methods.clamp_(t, lo, hi)
  need_tensor("tensor:clamp_", 1, "self", t)
  bound("tensor:clamp_", 2, "lo", lo)
  bound("tensor:clamp_", 3, "hi", hi)
  if lo == nil and hi == nil then argerr("tensor:clamp_", 2, "lo", "expected lo and/or hi") end
  if lo ~= nil then t:maximum_(lo) end
  if hi ~= nil then t:minimum_(hi) end
  return t
end

--- t:var([dim], {ddof = 0, keepdim = false}) and t:std(...): two-pass variance (NumPy's ddof; Torch7 uses ddof = 1).
local function var(fname, t, dim, o)
  need_tensor(fname, 1, "self", t)
  if type(dim) == "table" then dim, o = nil, dim end
  o = check_opts(fname, o, { "ddof", "keepdim" })
  local ddof = o.ddof or 0
  if math.type(ddof) ~= "integer" or ddof < 0 then argerr(fname, 3, "ddof", "expected a non-negative integer") end
  if o.keepdim ~= nil and type(o.keepdim) ~= "boolean" then argerr(fname, 3, "keepdim", "expected a boolean") end
  dim = dim_arg(fname, t, dim, 2)
  local x = (t:dtype() == "f32" or t:dtype() == "f64") and t or t:astype("f64")
  local n = dim and t:shape()[dim] or t:numel()
  if n - ddof <= 0 then argerr(fname, 1, "self", ("%d elements leave no degrees of freedom with ddof = %d"):format(n, ddof)) end
  if not dim then
    local d = x - x:mean()
    local v = (d * d):sum() / (n - ddof)
    if not o.keepdim then return v end
    local ones = {}
    for i = 1, t:dim() do ones[i] = 1 end
    return M.full(ones, v, x:dtype())
  end
  local d = x - x:mean(dim, { keepdim = true })
  return (d * d):sum(dim, { keepdim = o.keepdim or false }) / (n - ddof)
end
function methods.var(t, dim, o) return (var("tensor:var", t, dim, o)) end -- not a tail call: errors name tensor:var
function methods.std(t, dim, o)
  local v = var("tensor:std", t, dim, o)
  if type(v) == "number" then return math.sqrt(v) end
  return v:sqrt()
end

--- t:norm([p = 2], [dim], {keepdim}): vector p-norm over everything or along dim (p = 1, 2, math.huge, -math.huge, 0 or any p > 0).
function methods.norm(t, p, dim, o)
  local fname = "tensor:norm"
  need_tensor(fname, 1, "self", t)
  p = p or 2
  if type(p) ~= "number" or p ~= p then argerr(fname, 2, "p", "expected a number") end
  if type(dim) == "table" then dim, o = nil, dim end
  o = check_opts(fname, o, { "keepdim" })
  dim = dim_arg(fname, t, dim, 3)
  local x = (t:dtype() == "f32" or t:dtype() == "f64") and t or t:astype("f64")
  local a = x:abs()
  local ko = dim and { keepdim = o.keepdim or false } or nil
  if p == math.huge then return a:max(dim, ko) end
  if p == -math.huge then return a:min(dim, ko) end
  if p == 0 then
    local nz = a:ne(0):astype(x:dtype())
    return nz:sum(dim, ko)
  end
  if p < 0 then argerr(fname, 2, "p", "expected p >= 0 or +-math.huge") end
  if p == 1 then return a:sum(dim, ko) end
  if p == 2 then
    -- scaled by the largest magnitude so that huge or tiny elements neither overflow nor underflow
    local m = dim and a:max(dim, { keepdim = true }) or a:max()
    if not dim then
      if m == 0 or m ~= m or m == math.huge then return m end
      local s = a / m
      return m * math.sqrt((s * s):sum())
    end
    local safe = M.where(m:gt(0), m, 1)
    local s = a / safe
    local r = (s * s):sum(dim, { keepdim = true }):sqrt() * safe
    return o.keepdim and r or r:squeeze(dim)
  end
  local s = (a ^ p):sum(dim, ko)
  if type(s) == "number" then return s ^ (1 / p) end
  return s ^ (1 / p)
end

--- t:split(size, [dim = 1]): views of `size` elements along dim (the last may be shorter);
--- t:split({s1, s2, ...}, dim) splits into those sizes.
function methods.split(t, size, dim)
  local fname = "tensor:split"
  need_tensor(fname, 1, "self", t)
  dim = dim_arg(fname, t, dim or 1, 3)
  local n = t:shape()[dim]
  local out, start = {}, 1
  if type(size) == "table" then
    local total = 0
    for i, s in ipairs(size) do
      if math.type(s) ~= "integer" or s < 0 then argerr(fname, 2, "size", ("entry %d must be a non-negative integer"):format(i)) end
      total = total + s
    end
    if total ~= n then argerr(fname, 2, "size", ("sizes add up to %d, dim %d has %d"):format(total, dim, n)) end
    for i, s in ipairs(size) do
      out[i] = t:narrow(dim, start <= n and start or n, s)
      start = start + s
    end
    return out
  end
  if math.type(size) ~= "integer" or size < 1 then argerr(fname, 2, "size", "expected a positive integer or a list of sizes") end
  while start <= n do
    out[#out + 1] = t:narrow(dim, start, math.min(size, n - start + 1))
    start = start + size
  end
  return out
end

--- t:chunk(n, [dim = 1]): n views of (nearly) equal size along dim, as torch.chunk.
function methods.chunk(t, n, dim)
  local fname = "tensor:chunk"
  need_tensor(fname, 1, "self", t)
  if math.type(n) ~= "integer" or n < 1 then argerr(fname, 2, "n", "expected a positive integer") end
  local d = dim_arg(fname, t, dim or 1, 3)
  local len = t:shape()[d]
  return methods.split(t, math.max(1, (len + n - 1) // n), d)
end

--- t:expand_as(other) and t:type_as(other)
function methods.expand_as(t, other)
  need_tensor("tensor:expand_as", 1, "self", t)
  need_tensor("tensor:expand_as", 2, "other", other)
  return t:expand(other:shape())
end
function methods.type_as(t, other)
  need_tensor("tensor:type_as", 1, "self", t)
  need_tensor("tensor:type_as", 2, "other", other)
  return t:astype(other:dtype())
end

--- t:isclose(b, opts), t:allclose(b, opts)
function methods.isclose(t, b, o)
  need_tensor("tensor:isclose", 1, "self", t)
  return (isclose("tensor:isclose", t, b, o))
end
function methods.allclose(t, b, o)
  need_tensor("tensor:allclose", 1, "self", t)
  local c = isclose("tensor:allclose", t, b, o)
  return c:numel() == 0 or c:all()
end

return M
