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
