-- moonlab.gp matrix assembly (tiled, per-point features for the inverse-distance kernel, huge pages and
-- streaming stores on large matrices) against a plain reference assembly written in Lua from
-- kernel:block, one block per pair of points (the lml gradient's feature path: spec/gp_spec.lua).
local T = require "moonlab.tensor"
local gp = require "moonlab.gp"
local ml = require "moonlab"

-- configurations of `atoms` atoms in `dim` dimensions: a jittered grid, no two atoms close
local function configs(n, atoms, dim, seed)
  local X = T.randn({ n, atoms * dim }, { seed = seed, std = 0.1 })
  for i = 1, n do
    for a = 1, atoms do
      for c = 1, dim do
        local d = (a - 1) * dim + c
        X:set(i, d, X:get(i, d) + ((c == 1) and (a - 1) % 3 or (c == 2) and (a - 1) // 3 or 0.3 * a))
      end
    end
  end
  return X
end

-- worst over the blocks of max|K_block - B| / max|B| (B = kernel:block); pairs: "upper" for the
-- blocks j >= i of a training matrix (the rest is checked by symmetry), "rows" for every block of
-- the block rows in `rows` of a training matrix, else every block of K(X, X2)
local function against_blocks(k, K, X, X2, deriv, pairs, rows)
  local n, n2, D = X:shape()[1], X2:shape()[1], X:shape()[2]
  local m = deriv and D + 1 or 1
  local worst = 0
  if not rows then
    rows = {}
    for i = 1, n do rows[i] = i end
  end
  for _, i in ipairs(rows) do
    for j = pairs == "upper" and i or 1, n2 do
      local B = k:block(X:select(1, i), X2:select(1, j), deriv, pairs and i == j)
      local got = K:narrow(1, (i - 1) * m + 1, m):narrow(2, (j - 1) * m + 1, m)
      local scale = B:abs():max()
      worst = math.max(worst, (got - B):abs():max() / (scale > 0 and scale or 1))
    end
  end
  return worst
end

-- the mirror blocks are copies; the diagonal blocks are symmetric up to rounding (as before)
local function symmetric(K) return (K - K:t()):abs():max() <= 1e-14 * K:abs():max() end

local function idk()
  return gp.kernel.inverse_distance { atoms = 3, dim = 3, frozen = T.new { { 0, 0, -1 }, { 1.5, 0, -1.2 } },
    types = { 1, 1, 2, 2, 2 }, pair_types = { { 1, 2 }, { 2, 3 } }, lengthscales = { 0.5, 0.8, 1.1 },
    variance = 1.5, constant = 2 }
end

describe("gp matrix assembly", function()
  it("inverse distance, 101 points with derivatives (1010², threaded): every block equals kernel:block, symmetric", function()
    local k, X = idk(), configs(101, 3, 3, 5)
    local K = k:matrix(X, { derivatives = true })
    assert.same({ 1010, 1010 }, K:shape())
    local w = against_blocks(k, K, X, X, true, "upper")
    assert.is_true(w <= 1e-13, ("worst relative block difference %.3g"):format(w))
    assert.is_true(symmetric(K))
  end)

  it("205 points (2050², written with streaming stores): block rows across tiles equal kernel:block", function()
    local k, X = idk(), configs(205, 3, 3, 13)
    local K = k:matrix(X, { derivatives = true })
    local w = against_blocks(k, K, X, X, true, "rows", { 1, 2, 8, 9, 64, 65, 100, 197, 204, 205 })
    assert.is_true(w <= 1e-13, ("worst relative block difference %.3g"):format(w))
    assert.is_true(symmetric(K))
  end)

  it("K(X, X2) with partial tiles, energy-only and with derivatives; 2-D single pair type", function()
    local k, X, X2 = idk(), configs(13, 3, 3, 6), configs(10, 3, 3, 7)
    for _, deriv in ipairs { true, false } do
      local w = against_blocks(k, k:matrix(X, X2, { derivatives = deriv }), X, X2, deriv)
      assert.is_true(w <= 1e-13, ("deriv %s: worst %.3g"):format(tostring(deriv), w))
    end
    local k2, Y = gp.kernel.inverse_distance { atoms = 4, dim = 2, lengthscales = 0.6 }, configs(17, 4, 2, 8)
    local K2 = k2:matrix(Y, { derivatives = true })
    assert.is_true(against_blocks(k2, K2, Y, Y, true, "upper") <= 1e-13)
    assert.is_true(symmetric(K2))
    local Ke = k:matrix(X)
    assert.is_true(against_blocks(k, Ke, X, X, false, "upper") <= 1e-13)
  end)

  it("kernel trees take the generic path: white noise only on the training diagonal, SE blocks", function()
    local k = idk() + gp.kernel.white { value = 0.3 }
    local X = configs(11, 3, 3, 9)
    local K = k:matrix(X, { derivatives = true })
    assert.is_true(against_blocks(k, K, X, X, true, "upper") <= 1e-13)
    assert.is_true(symmetric(K))
    local se = gp.kernel.se { lengthscales = { 0.7, 1.3, 2.0 }, variance = 2 }
    local Z = T.randn({ 19, 3 }, { seed = 10 })
    assert.is_true(against_blocks(se, se:matrix(Z, { derivatives = true }), Z, Z, true, "upper") <= 1e-13)
    -- energy-only: tiles of 180 x 180 points
    local Z2 = T.randn({ 400, 3 }, { seed = 14 })
    local Ke = se:matrix(Z2)
    assert.is_true(against_blocks(se, Ke, Z2, Z2, false, "rows", { 1, 180, 181, 361, 400 }) <= 1e-13)
    assert.is_true(symmetric(Ke))
  end)

  it("the same matrix on 1 and 2 threads, bit for bit", function()
    local k, X = idk(), configs(120, 3, 3, 11)
    local threads = ml.get_threads()
    ml.set_threads(1)
    local K1 = k:matrix(X, { derivatives = true })
    ml.set_threads(2)
    local K2 = k:matrix(X, { derivatives = true })
    ml.set_threads(threads)
    assert.equal(0, (K1 - K2):abs():max())
  end)
end)
