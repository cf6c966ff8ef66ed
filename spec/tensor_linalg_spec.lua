local T = require "moonlab.tensor"

local errmsg = require("spec.helpers.errors").errmsg

local function have_numpy() return require("moonlab.bench").python_has("numpy") end

local function naive_matmul(a, b)
  local c = {}
  for i = 1, #a do
    c[i] = {}
    for j = 1, #b[1] do
      local s = 0
      for l = 1, #b do s = s + a[i][l] * b[l][j] end
      c[i][j] = s
    end
  end
  return c
end

local function eye(n)
  local e = T.zeros { n, n }
  e:diagonal():fill(1)
  return e
end

describe("matmul shapes", function()
  it("handles 1-D sides, batches with a shared right matrix, and strided operands", function()
    local A = T.randn({ 4, 3 }, { seed = 1 })
    local v = T.randn({ 3 }, { seed = 2 })
    local Av = A:matmul(v)
    assert.same({ 4 }, Av:shape())
    assert.is_close(Av, naive_matmul(A:totable(), v:unsqueeze(2):totable()), { rtol = 1e-13 })
    local w = T.randn({ 4 }, { seed = 3 })
    assert.same({ 3 }, w:matmul(A):shape())
    assert.is_close(v:matmul(v), (v * v):sum(), { rtol = 1e-14 })
    local B = T.randn({ 2, 4, 3 }, { seed = 4 })
    local BA = B:matmul(A:t())
    assert.same({ 2, 4, 4 }, BA:shape())
    assert.is_close(BA[2], naive_matmul(B[2]:totable(), A:t():totable()), { rtol = 1e-13 })
  end)
end)

describe("einsum", function()
  local a = T.randn({ 3, 4 }, { seed = 5 })
  local b = T.randn({ 4, 5 }, { seed = 6 })
  local at, bt = a:totable(), b:totable()
  it("matmul, batched matmul, outer, trace, transpose, sums and diagonals", function()
    assert.is_close(T.einsum("ij,jk->ik", a, b), naive_matmul(at, bt), { rtol = 1e-13 })
    local P = T.randn({ 2, 3, 4 }, { seed = 7 })
    local Q = T.randn({ 2, 4, 2 }, { seed = 8 })
    local R = T.einsum("bij,bjk->bik", P, Q)
    for k = 1, 2 do assert.is_close(R[k], naive_matmul(P[k]:totable(), Q[k]:totable()), { rtol = 1e-13 }) end
    local x, y = T.new { 1, 2, 3 }, T.new { 4, 5 }
    assert.same({ { 4, 5 }, { 8, 10 }, { 12, 15 } }, T.einsum("i,j->ij", x, y):totable())
    local sq = T.arange(9):reshape { 3, 3 }
    assert.equal(12, T.einsum("ii->", sq))
    assert.equal(12, T.einsum("ii", sq))
    assert.same({ 0, 4, 8 }, T.einsum("ii->i", sq):totable())
    assert.same(a:t():totable(), T.einsum("ij->ji", a):totable())
    assert.is_close(T.einsum("ij->", a), a:sum(), { rtol = 1e-14 })
    assert.is_close(T.einsum("ij->j", a), a:sum(1), { rtol = 1e-14 })
    assert.is_close(T.einsum("i,i->", x, x), 14, { rtol = 0 })
    assert.is_close(T.einsum("ij,jk", a, b), naive_matmul(at, bt), { rtol = 1e-13 }) -- implicit output
    -- three operands, contracted left to right
    local c = T.randn({ 5, 2 }, { seed = 9 })
    assert.is_close(T.einsum("ij,jk,kl->il", a, b, c), naive_matmul(naive_matmul(at, bt), c:totable()), { rtol = 1e-12 })
  end)
  it("reports malformed specs", function()
    assert.matches("tensor.einsum: bad argument #1 'spec': has 2 operands, 1 tensors given", errmsg(T.einsum, "ij,jk->ik", a))
    assert.matches("term 'ijk' has 3 labels, the tensor 2 dims", errmsg(T.einsum, "ijk,jk->ik", a, b))
    assert.matches("label 'j' has size 5 here and 4 elsewhere", errmsg(T.einsum, "ij,kj->ik", a, b))
    assert.matches("output label 'z' is not in any input", errmsg(T.einsum, "ij,jk->iz", a, b))
  end)
end)

describe("T.linalg through LAPACK", function()
  local A = T.new { { 4, 1, 2 }, { 1, 5, 3 }, { 2, 3, 6 } } -- symmetric positive definite
  local At = A:totable()
  it("solve, inv and det", function()
    local b = T.new { 1, 2, 3 }
    local x = T.linalg.solve(A, b)
    assert.is_close(A:matmul(x), { 1, 2, 3 }, { rtol = 1e-14, atol = 1e-14 })
    local X = T.linalg.solve(A, T.new { { 1, 0 }, { 0, 1 }, { 1, 1 } })
    assert.same({ 3, 2 }, X:shape())
    assert.is_close(A:matmul(X), { { 1, 0 }, { 0, 1 }, { 1, 1 } }, { rtol = 1e-14, atol = 1e-14 })
    assert.is_close(A:matmul(T.linalg.inv(A)), eye(3), { rtol = 0, atol = 1e-14 })
    -- det by the rule of Sarrus
    local d = At[1][1] * (At[2][2] * At[3][3] - At[2][3] * At[3][2]) - At[1][2] * (At[2][1] * At[3][3] - At[2][3] * At[3][1])
      + At[1][3] * (At[2][1] * At[3][2] - At[2][2] * At[3][1])
    assert.is_close(T.linalg.det(A), d, { rtol = 1e-14 })
    assert.equal(0, T.linalg.det(T.new { { 1, 2 }, { 2, 4 } }))
    assert.is_close(T.linalg.det(T.new { { 0, 1 }, { 1, 0 } }), -1, { rtol = 1e-15 })
    assert.matches("tensor.linalg.solve: the matrix is singular", errmsg(T.linalg.solve, T.new { { 1, 2 }, { 2, 4 } }, T.new { 1, 1 }))
    local Af = A:astype("f32")
    assert.equal("f32", T.linalg.inv(Af):dtype())
  end)

  it("cholesky, eigh, svd and lstsq reconstruct their input", function()
    local L = T.linalg.cholesky(A)
    assert.equal(0, L:get(1, 2))
    assert.is_close(L:matmul(L:t()), At, { rtol = 1e-14 })
    assert.matches("not positive definite", errmsg(T.linalg.cholesky, T.new { { 1, 2 }, { 2, 1 } }))
    local w, V = T.linalg.eigh(A)
    assert.is_true(w:get(1) <= w:get(2) and w:get(2) <= w:get(3))
    assert.is_close(A:matmul(V), V * w, { rtol = 1e-13, atol = 1e-13 })
    assert.is_close(V:t():matmul(V), eye(3), { rtol = 0, atol = 1e-14 })
    local M = T.randn({ 5, 3 }, { seed = 10 })
    local U, S, Vt = T.linalg.svd(M)
    assert.same({ 5, 3 }, U:shape())
    assert.same({ 3, 3 }, Vt:shape())
    assert.is_close((U * S):matmul(Vt), M, { rtol = 1e-13, atol = 1e-13 })
    local Uf = T.linalg.svd(M, { full_matrices = true })
    assert.same({ 5, 5 }, Uf:shape())
    -- least squares against the normal equations
    local b = T.randn({ 5 }, { seed = 11 })
    local x, rank, sv = T.linalg.lstsq(M, b)
    assert.equal(3, rank)
    assert.same({ 3 }, sv:shape())
    local xn = T.linalg.solve(M:t():matmul(M), M:t():matmul(b))
    assert.is_close(x, xn, { rtol = 1e-12 })
  end)

  it("agrees with NumPy (skipped when python3-numpy is absent)", function()
    if not have_numpy() then
      pending("python3-numpy not installed: NumPy linalg cross-check skipped")
      return
    end
    local p = os.tmpname() .. ".npy"
    A:save(p)
    local pipe = io.popen(("/usr/bin/python3 -c \"import numpy as np; a = np.load('%s'); "
      .. "print(repr(float(np.linalg.det(a))), repr(float(np.linalg.eigvalsh(a)[0])), repr(float(np.linalg.svd(a)[1][0])))\""):format(p))
    local det, e1, s1 = pipe:read("n", "n", "n")
    pipe:close()
    os.remove(p)
    assert.is_close(T.linalg.det(A), det, { rtol = 1e-13 })
    assert.is_close(T.linalg.eigh(A):get(1), e1, { rtol = 1e-13 })
    local _, S = T.linalg.svd(A)
    assert.is_close(S:get(1), s1, { rtol = 1e-13 })
  end)

  it("rejects bad shapes and dtypes naming the function", function()
    assert.matches("tensor.linalg.inv: bad argument #1 'A': expected a square %[n,n%] matrix, got %[2,3%]", errmsg(T.linalg.inv, T.zeros { 2, 3 }))
    assert.matches("tensor.linalg.det: bad argument #1 'A': expected f32 or f64, got i64", errmsg(T.linalg.det, T.zeros({ 2, 2 }, "i64")))
    assert.matches("tensor.linalg.solve: bad argument #2 'b': has 2 rows", errmsg(T.linalg.solve, A, T.zeros { 2 }))
    assert.matches("tensor.linalg.svd: bad argument #1 'A': expected a tensor, got no value", errmsg(T.linalg.svd))
  end)
end)

describe("einsum with '...' (NumPy's broadcasting rules)", function()
  it("batched matmul with broadcast batch dims, diagonals, sums and implicit output", function()
    local a = T.randn({ 2, 1, 4, 5 }, { seed = 21 })
    local b = T.randn({ 3, 5, 6 }, { seed = 22 })
    local r = T.einsum("...ij,...jk->...ik", a, b)
    assert.same({ 2, 3, 4, 6 }, r:shape())
    for p = 1, 2 do
      for q = 1, 3 do assert.is_close(r[p][q], naive_matmul(a[p][1]:totable(), b[q]:totable()), { rtol = 1e-13 }) end
    end
    local c = T.randn({ 3, 4, 4 }, { seed = 23 })
    local d = T.einsum("...ii->...i", c)
    for k = 1, 3 do assert.same(c[k]:diagonal():totable(), d[k]:totable()) end
    local s = T.einsum("i...->...", c)
    assert.is_close(s, c:sum(1), { rtol = 1e-14 })
    local im = T.einsum("...ij,jk", T.randn({ 2, 4, 5 }, { seed = 24 }), b[1]) -- implicit: '...' first, then ik
    assert.same({ 2, 4, 6 }, im:shape())
    assert.same({ 4, 2, 3 }, T.einsum("ij...", T.zeros { 2, 3, 4 }):shape())
    local x, y = T.randn({ 3, 1 }, { seed = 25 }), T.randn({ 4 }, { seed = 26 })
    local o = T.einsum("...,...->...", x, y)
    assert.same({ 3, 4 }, o:shape())
    assert.is_close(o, x * y, { rtol = 0 })
  end)

  it("agrees with numpy.einsum (skipped when python3-numpy is absent)", function()
    if not have_numpy() then
      pending("python3-numpy not installed: NumPy einsum cross-check skipped")
      return
    end
    local a, b = T.randn({ 2, 1, 3, 4 }, { seed = 27 }), T.randn({ 5, 4, 2 }, { seed = 28 })
    local pa, pb = os.tmpname() .. ".npy", os.tmpname() .. ".npy"
    a:save(pa)
    b:save(pb)
    local pipe = io.popen(("/usr/bin/python3 -c \"import numpy as np; r = np.einsum('...ij,...jk->...ik', np.load('%s'), np.load('%s')); "
      .. "print(r.ndim, float(r.sum()), float((r * r).sum()))\""):format(pa, pb))
    local nd, s1, s2 = pipe:read("n", "n", "n")
    pipe:close()
    os.remove(pa)
    os.remove(pb)
    local r = T.einsum("...ij,...jk->...ik", a, b)
    assert.equal(nd, r:ndim())
    assert.is_close(r:sum(), s1, { rtol = 1e-12, atol = 1e-12 })
    assert.is_close((r * r):sum(), s2, { rtol = 1e-12 })
  end)

  it("reports malformed '...' specs", function()
    local a = T.zeros { 2, 3, 4 }
    assert.matches("tensor.einsum: bad argument #1 'spec': term '%.%.%.i%.%.%.': at most one '%.%.%.'", errmsg(T.einsum, "...i...->i", a))
    assert.matches("tensor.einsum: bad argument #2 'operand 1': term 'ijkl%.%.%.' names 4 dims, the tensor has 3", errmsg(T.einsum, "ijkl...", a))
    assert.matches("the output needs '%.%.%.'", errmsg(T.einsum, "...ij->ij", a))
    assert.matches("tensor.einsum: bad argument #3 'operand 2'", errmsg(T.einsum, "...ij,...jk->...ik", T.zeros { 2, 4, 5 }, T.zeros { 3, 5, 6 }))
  end)
end)

describe("T.linalg over leading batch dims (NumPy's stacks)", function()
  local A = T.randn({ 2, 3, 4, 4 }, { seed = 31 })
  local I4 = eye(4) * 4
  local S = T.einsum("...ij,...kj->...ik", A, A) + I4 -- symmetric positive definite stack

  it("solve, inv, det, cholesky, eigh and svd match the 2-D call on every matrix", function()
    local b = T.randn({ 3, 4, 2 }, { seed = 32 }) -- batch dims [3] broadcast against [2,3]
    local v = T.randn({ 4 }, { seed = 33 })
    local X, Xv = T.linalg.solve(A, b), T.linalg.solve(A, v)
    assert.same({ 2, 3, 4, 2 }, X:shape())
    assert.same({ 2, 3, 4 }, Xv:shape())
    local inv, det, L = T.linalg.inv(A), T.linalg.det(A), T.linalg.cholesky(S)
    local w, V = T.linalg.eigh(S)
    local R = T.randn({ 2, 3, 5, 3 }, { seed = 34 })
    local U, Sv, Vt = T.linalg.svd(R)
    assert.same({ 2, 3, 5, 3 }, U:shape())
    assert.same({ 2, 3, 5, 5 }, (T.linalg.svd(R, { full_matrices = true })):shape())
    for p = 1, 2 do
      for q = 1, 3 do
        local a = A[p][q]
        assert.is_close(a:matmul(X[p][q]), b[q], { rtol = 1e-12, atol = 1e-12 })
        assert.is_close(a:matmul(Xv[p][q]), v, { rtol = 1e-12, atol = 1e-12 })
        assert.is_close(inv[p][q], T.linalg.inv(a), { rtol = 1e-14, atol = 1e-14 })
        assert.is_close(det[p][q], T.linalg.det(a), { rtol = 1e-14 })
        assert.is_close(L[p][q]:matmul(L[p][q]:t()), S[p][q], { rtol = 1e-13 })
        assert.is_close(S[p][q]:matmul(V[p][q]), V[p][q] * w[p][q], { rtol = 1e-12, atol = 1e-12 })
        assert.is_close((U[p][q] * Sv[p][q]):matmul(Vt[p][q]), R[p][q], { rtol = 1e-12, atol = 1e-12 })
      end
    end
    assert.equal(0, T.linalg.det(T.zeros { 0, 3, 3 }):numel())
    assert.equal("f32", T.linalg.inv(A:astype("f32")):dtype())
  end)

  it("agrees with numpy.linalg on stacks (skipped when python3-numpy is absent)", function()
    if not have_numpy() then
      pending("python3-numpy not installed: NumPy batched linalg cross-check skipped")
      return
    end
    local pa, ps = os.tmpname() .. ".npy", os.tmpname() .. ".npy"
    A:save(pa)
    S:save(ps)
    local pipe = io.popen(("/usr/bin/python3 -c \"import numpy as np; a = np.load('%s'); s = np.load('%s'); "
      .. "print(float(np.linalg.det(a).sum()), float(np.linalg.inv(a).sum()), float(np.linalg.eigh(s)[0].sum()), "
      .. "float(np.linalg.cholesky(s).sum()), float(np.linalg.svd(a)[1].sum()))\""):format(pa, ps))
    local det, inv, ev, ch, sv = pipe:read("n", "n", "n", "n", "n")
    pipe:close()
    os.remove(pa)
    os.remove(ps)
    assert.is_close(T.linalg.det(A):sum(), det, { rtol = 1e-12 })
    assert.is_close(T.linalg.inv(A):sum(), inv, { rtol = 1e-10 })
    assert.is_close(T.linalg.eigh(S):sum(), ev, { rtol = 1e-13 })
    assert.is_close(T.linalg.cholesky(S):sum(), ch, { rtol = 1e-13 })
    local _, s = T.linalg.svd(A)
    assert.is_close(s:sum(), sv, { rtol = 1e-13 })
  end)

  it("rejects stacks that are not square, do not broadcast, or are not float", function()
    assert.matches("tensor.linalg.inv: bad argument #1 'A': expected a stack of square %[%.%.%., n, n%] matrices, got %[2,3,4%]",
      errmsg(T.linalg.inv, T.zeros { 2, 3, 4 }))
    assert.matches("tensor.linalg.solve: bad argument #2 'b': batch dims of %[2,4,1%] do not broadcast with A's %[2,3,4,4%]",
      errmsg(T.linalg.solve, A, T.zeros { 2, 4, 1 }))
    assert.matches("tensor.linalg.det: bad argument #1 'A': expected f32 or f64, got i64", errmsg(T.linalg.det, T.zeros({ 2, 2, 2 }, "i64")))
    assert.matches("tensor.linalg.cholesky: .*not positive definite", errmsg(T.linalg.cholesky, T.zeros { 2, 3, 3 }))
  end)
end)
