-- The energy-only fast path of stationary kernels (csrc/gp/stationary_fast.c): lml, its gradient and the
-- posterior equal the generic block code (MOONLAB_GP_FAST=0, a child process) to 1e-12 relative for every kernel
-- kind it covers; every instruction-set path (MOONLAB_ISA) gives the same bits; the gradient matches central
-- differences; jitter escalation refills the matrix; kernels it does not cover keep the generic path.
local gp = require "moonlab.gp"
local T = require "moonlab.tensor"
local moonlab = require "moonlab"
local H = require "spec.helpers.isa"
local sh_file = require("spec.helpers.shell").sh_file

-- One script for this process and the children: fits every kernel on seeded data and prints, per kernel,
-- "name fast lml g1 g2 ... | posterior energies and variances" with %.17g.
local SCRIPT = [==[
local gp = require "moonlab.gp"
local T = require "moonlab.tensor"
local ls5 = { 0.7, 1.1, 1.3, 0.9, 2.0 }
local K = {
  { "se_ard", function() return gp.kernel.se { lengthscales = ls5, variance = 1.3 } end },
  { "se_iso", function() return gp.kernel.se { lengthscales = 0.8, variance = 0.6 } end },
  { "matern15_ard", function() return gp.kernel.matern { nu = 1.5, lengthscales = ls5, variance = 1.3 } end },
  { "matern25_iso", function() return gp.kernel.matern { nu = 2.5, lengthscales = 0.9, variance = 1.3 } end },
  { "matern25_ard", function() return gp.kernel.matern { nu = 2.5, lengthscales = ls5, variance = 0.7 } end },
  { "rq_ard", function() return gp.kernel.rq { lengthscales = ls5, variance = 1.3, alpha = 0.7 } end },
  { "rq_iso", function() return gp.kernel.rq { lengthscales = 1.2, variance = 2.0, alpha = 3.0 } end },
  { "const_se_white", function()
    return gp.kernel.constant { value = 2.0 } * gp.kernel.se { lengthscales = ls5, variance = 1.3 } + gp.kernel.white { value = 0.01 }
  end },
  { "white_rq_const", function()
    return gp.kernel.white { value = 0.02 } + gp.kernel.rq { lengthscales = 0.8, variance = 1.3, alpha = 1.5 } * gp.kernel.constant { value = 0.5 }
  end },
}
local n = tonumber(os.getenv("GP_FAST_SPEC_N") or "157") -- 157: not a multiple of the 8 lanes
local X = T.rand({ n, 5 }, { seed = 11 }) * 2
-- targets summed in Lua (tensor reductions may add in another order on another instruction set)
local noise = T.randn({ n }, { seed = 12, std = 0.05 })
local y = T.zeros { n }
for i = 1, n do
  local s = 0
  for d = 1, 5 do s = s + X:get(i, d) end
  y:set(i, math.sin(s) + noise:get(i))
end
local Xs = T.rand({ 6, 5 }, { seed = 13 }) * 2
for _, e in ipairs(K) do
  local m = gp.GP { kernel = e[2](), noise = 1e-3, mean = "constant" }:fit(X, y)
  local l, g = m:lml { gradient = true }
  local out = { e[1], tostring(m:info().fast_path), ("%.17g"):format(l) }
  for i = 1, #g do out[#out + 1] = ("%.17g"):format(g[i]) end
  out[#out + 1] = "|"
  local p = m:predict(Xs, { variance = true })
  for i = 1, 6 do
    out[#out + 1] = ("%.17g"):format(p.energy:get(i))
    out[#out + 1] = ("%.17g"):format(p.variance:get(i))
  end
  print(table.concat(out, " "))
end
]==]

-- name -> {fast = bool, lml, grad = {...}, post = {...}}
local function parse(out)
  local res = {}
  for line in out:gmatch("[^\n]+") do
    local name, fast, rest = line:match("^(%S+) (%a+) (.*)$")
    if name and (fast == "true" or fast == "false") then
      local head, post = rest:match("^(.-) |(.*)$")
      local nums, p = {}, {}
      for v in head:gmatch("%S+") do nums[#nums + 1] = tonumber(v) end
      for v in post:gmatch("%S+") do p[#p + 1] = tonumber(v) end
      res[name] = { fast = fast == "true", lml = nums[1], grad = { table.unpack(nums, 2) }, post = p, line = line }
    end
  end
  return res
end

-- SCRIPT's output in a child process with the environment settings env
local function run_child(env)
  local _, out = sh_file(SCRIPT, function(path) return ("%s %s %s"):format(env, H.lua_bin(), path) end)
  return out
end

describe("gp energy-only stationary fast path", function()
  local here = run_child("MOONLAB_GP_FAST=1")
  local fast = parse(here)
  local generic = parse(run_child("MOONLAB_GP_FAST=0"))
  local names = { "se_ard", "se_iso", "matern15_ard", "matern25_iso", "matern25_ard", "rq_ard", "rq_iso",
    "const_se_white", "white_rq_const" }

  it("takes the fast path for every covered kernel, and MOONLAB_GP_FAST=0 turns it off", function()
    for _, name in ipairs(names) do
      assert.is_truthy(fast[name], name .. ": no output\n" .. here)
      assert.is_true(fast[name].fast, name)
      assert.is_false(generic[name].fast, name)
    end
  end)

  it("lml, gradient and posterior equal the generic block code to 1e-12 relative", function()
    for _, name in ipairs(names) do
      local a, b = fast[name], generic[name]
      assert.is_true(math.abs(a.lml - b.lml) <= 1e-12 * math.abs(b.lml), ("%s lml %.17g vs %.17g"):format(name, a.lml, b.lml))
      assert.equal(#b.grad, #a.grad)
      -- components relative to the largest one (a component can be a sum that cancels to near zero)
      local scale = 0
      for i = 1, #b.grad do scale = math.max(scale, math.abs(b.grad[i])) end
      for i = 1, #b.grad do
        assert.is_true(math.abs(a.grad[i] - b.grad[i]) <= 1e-12 * scale,
          ("%s grad[%d] %.17g vs %.17g"):format(name, i, a.grad[i], b.grad[i]))
      end
      for i = 1, #b.post do
        assert.is_true(math.abs(a.post[i] - b.post[i]) <= 1e-12 * math.max(1, math.abs(b.post[i])),
          ("%s posterior[%d] %.17g vs %.17g"):format(name, i, a.post[i], b.post[i]))
      end
    end
  end)

  it("gives the same bits on every instruction-set path (MOONLAB_ISA) and thread count", function()
    local best = H.best()
    for _, isa in ipairs(H.ORDER) do
      if H.RANK[isa] <= H.RANK[best] then
        local other = parse(run_child("MOONLAB_GP_FAST=1 MOONLAB_ISA=" .. isa))
        for _, name in ipairs(names) do assert.equal(fast[name].line, other[name].line, isa .. " " .. name) end
      end
    end
    -- threads: 450 points (the column loops run in parallel from about 400), OpenBLAS on one thread in both
    local one = parse(run_child("GP_FAST_SPEC_N=450 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1"))
    local two = parse(run_child("GP_FAST_SPEC_N=450 OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1"))
    for _, name in ipairs(names) do
      assert.is_truthy(one[name] and two[name], name)
      assert.equal(one[name].line, two[name].line, "1 vs 2 threads " .. name)
    end
  end)

  it("gradient matches central differences of the lml (rq ARD plus white, and Matern 1.5 times a constant)", function()
    local X = T.rand({ 40, 3 }, { seed = 5 }) * 2
    local y = X:sum(2):cos()
    for _, k in ipairs {
      gp.kernel.rq { lengthscales = { 0.6, 1.0, 1.4 }, variance = 1.1, alpha = 0.8 } + gp.kernel.white { value = 0.03 },
      gp.kernel.constant { value = 1.7 } * gp.kernel.matern { nu = 1.5, lengthscales = 0.7, variance = 0.9 },
    } do
      local m = gp.GP { kernel = k, noise = 1e-3 }:fit(X, y)
      assert.is_true(m:info().fast_path)
      local _, grad = m:lml { gradient = true }
      local theta = m:params()
      local h = 1e-5
      for p = 1, #theta do
        local tp, tm = { table.unpack(theta) }, { table.unpack(theta) }
        tp[p], tm[p] = theta[p] + h, theta[p] - h
        local fd = (m:set_params(tp):lml() - m:set_params(tm):lml()) / (2 * h)
        m:set_params(theta)
        assert.is_true(math.abs(fd - grad[p]) <= 1e-6 * math.max(1, math.abs(fd)), ("param %d: %.12g vs fd %.12g"):format(p, grad[p], fd))
      end
    end
  end)

  it("after add (the factor extended by a rank-k block) lml and gradient equal a full refit's", function()
    local X = T.rand({ 67, 3 }, { seed = 21 }) * 2
    local y = X:sum(2):sin()
    local k = gp.kernel.constant { value = 1.5 } * gp.kernel.se { lengthscales = { 0.6, 0.9, 1.4 } } + gp.kernel.white { value = 0.01 }
    local inc = gp.GP { kernel = k, noise = 1e-3 }:fit(X:narrow(1, 1, 60), y:narrow(1, 1, 60))
    inc:lml { gradient = true } -- K^-1 once in the old factor's storage before the extension
    inc:add(X:narrow(1, 61, 7), y:narrow(1, 61, 7))
    local full = gp.GP { kernel = k, noise = 1e-3 }:fit(X, y)
    assert.is_true(inc:info().fast_path and full:info().fast_path)
    local li, gi = inc:lml { gradient = true }
    local lf, gf = full:lml { gradient = true }
    assert.is_close(li, lf, { rtol = 1e-10 })
    local scale = 0
    for i = 1, #gf do scale = math.max(scale, math.abs(gf[i])) end
    for i = 1, #gf do assert.is_true(math.abs(gi[i] - gf[i]) <= 1e-10 * scale, ("grad[%d] %.17g vs %.17g"):format(i, gi[i], gf[i])) end
  end)

  it("escalates jitter on duplicate points without noise, refilling the matrix as the generic path does", function()
    local X = T.rand({ 30, 2 }, { seed = 3 })
    local Xd = T.zeros { 60, 2 }
    for i = 1, 30 do for d = 1, 2 do Xd:set(i, d, X:get(i, d)); Xd:set(30 + i, d, X:get(i, d)) end end
    local y = Xd:sum(2)
    local m = gp.GP { kernel = gp.kernel.se { lengthscales = 0.5, variance = 1 }, noise = 0 }:fit(Xd, y)
    local info = m:info()
    assert.is_true(info.fast_path)
    assert.is_true(info.jitter > 0)
    -- the same matrix from kernel:matrix plus the reported jitter, factorised in Lua's tensor linalg
    local K = m:kernel():matrix(Xd)
    for i = 1, 60 do K:set(i, i, K:get(i, i) + info.jitter) end
    local L = T.linalg.cholesky(K)
    local logdet, z, quad = 0, {}, 0
    for i = 1, 60 do -- L z = y by forward substitution: y^T K^-1 y = |z|^2
      logdet = logdet + 2 * math.log(L:get(i, i))
      local s = y:get(i)
      for j = 1, i - 1 do s = s - L:get(i, j) * z[j] end
      z[i] = s / L:get(i, i)
      quad = quad + z[i] * z[i]
    end
    assert.is_close(m:lml(), -0.5 * quad - 0.5 * logdet - 30 * math.log(2 * math.pi), { rtol = 1e-8 })
  end)

  it("keeps the generic path for derivative observations, inverse-distance and uncovered sums and products", function()
    local X = T.rand({ 12, 2 }, { seed = 9 })
    local E, G = X:sum(2), T.ones { 12, 2 }
    local se = gp.kernel.se { lengthscales = 0.5, variance = 1 }
    assert.is_false(gp.GP { kernel = se }:fit(X, E, G):info().fast_path)
    assert.is_false(gp.GP { kernel = se + se }:fit(X, E):info().fast_path)
    assert.is_false(gp.GP { kernel = se * se }:fit(X, E):info().fast_path)
    assert.is_false(gp.GP { kernel = se + gp.kernel.constant { value = 1 } }:fit(X, E):info().fast_path)
    local inv = gp.kernel.inverse_distance { atoms = 2, dim = 3, lengthscales = 1, variance = 1 }
    assert.is_false(gp.GP { kernel = inv }:fit(T.rand({ 5, 6 }, { seed = 2 }), T.rand({ 5 }, { seed = 4 })):info().fast_path)
    assert.is_true(gp.GP { kernel = se }:fit(X, E):info().fast_path)
    assert.is_true(moonlab.get_threads() >= 1)
  end)
end)
