-- moonlab.sdf reconstruction (grid SDF, differentiable rendering, sdf.fit_views) against independent references:
-- trilinear interpolation written plainly in Lua, central finite differences of the rendered colour, the
-- Lipschitz constant by brute force over corner gradients, the opacity error bound checked by quadrature, and a
-- small fit judged by the distance of its mesh to the true sphere and by the PSNR of a held-out view.
local T = require "moonlab.tensor"
local sdf = require "moonlab.sdf"
local ml = require "moonlab"

local rng = require "spec.helpers.lcg"

local B = { { -1, -1, -1 }, { 1, 1, 1 } }

-- a res³ grid of a sphere of radius 0.55 plus noise, random colours
local function noisy_grid(res, seed, amp)
  local r = rng(seed)
  local v, c = T.zeros { res, res, res }, T.zeros { res, res, res, 3 }
  for i = 1, res do for j = 1, res do for k = 1, res do
    local x, y, z = -1 + 2 * (i - 1) / (res - 1), -1 + 2 * (j - 1) / (res - 1), -1 + 2 * (k - 1) / (res - 1)
    v:set(i, j, k, math.sqrt(x * x + y * y + z * z) - 0.55 + amp * r(-1, 1))
    for a = 1, 3 do c:set(i, j, k, a, r(0.1, 0.9)) end
  end end end
  return v, c
end

local function trilinear(v, res, p)
  local f, i0 = {}, {}
  for a = 1, 3 do
    local q = math.min(math.max(p[a], -1), 1)
    local s = (q + 1) / 2 * (res - 1)
    local i = math.min(math.floor(s), res - 2)
    i0[a], f[a] = i, s - i
  end
  local d = 0
  for a = 0, 1 do for b = 0, 1 do for e = 0, 1 do
    local w = (a == 1 and f[1] or 1 - f[1]) * (b == 1 and f[2] or 1 - f[2]) * (e == 1 and f[3] or 1 - f[3])
    d = d + w * v:get(i0[1] + a + 1, i0[2] + b + 1, i0[3] + e + 1)
  end end end
  local out = 0
  for a = 1, 3 do out = out + (p[a] - math.min(math.max(p[a], -1), 1)) ^ 2 end
  return d + math.sqrt(out)
end

describe("sdf.grid", function()
  it("interpolates trilinearly inside and adds the distance to the box outside", function()
    local v, c = noisy_grid(5, 1, 0.1)
    local g = sdf.grid { res = 5, bounds = B, values = v, colors = c }
    local r, P = rng(2), {}
    for i = 1, 40 do P[i] = { r(-1.3, 1.3), r(-1.3, 1.3), r(-1.3, 1.3) } end
    local d = g:eval(T.new(P))
    for i = 1, 40 do assert.near(trilinear(v, 5, P[i]), d:get(i), 1e-12) end
  end)

  it("has the gradient of its interpolant (central differences) and reports its exact Lipschitz constant", function()
    local v = noisy_grid(4, 3, 0.2)
    local g = sdf.grid { res = 4, bounds = B, values = v }
    local r, P = rng(4), {}
    for i = 1, 20 do P[i] = { r(-0.95, 0.95), r(-0.95, 0.95), r(-0.95, 0.95) } end
    local G = g:grad(T.new(P))
    local h, Lmax = 1e-6, 0
    for i = 1, 20 do
      for a = 1, 3 do
        local p1, p2 = { table.unpack(P[i]) }, { table.unpack(P[i]) }
        p1[a], p2[a] = p1[a] + h, p2[a] - h
        assert.near((trilinear(v, 4, p1) - trilinear(v, 4, p2)) / (2 * h), G:get(i, a), 1e-6)
      end
    end
    -- brute force: |∇d| on a dense lattice of points in every cell never exceeds the reported constant, and the
    -- maximum over the lattice (which includes the cell corners) reaches it
    local info = sdf.grid_info(g)
    local n, Q = 12, {}
    for i = 0, n do for j = 0, n do for k = 0, n do
      Q[#Q + 1] = { -1 + 2 * i / n, -1 + 2 * j / n, -1 + 2 * k / n }
    end end end
    local GQ = g:grad(T.new(Q))
    for i = 1, #Q do
      Lmax = math.max(Lmax, math.sqrt(GQ:get(i, 1) ^ 2 + GQ:get(i, 2) ^ 2 + GQ:get(i, 3) ^ 2))
    end
    assert.is_true(Lmax <= info.lipschitz + 1e-12)
    assert.is_true(Lmax >= info.lipschitz * 0.9)
  end)

  it("is a scene for render, sample and marching_cubes, and cannot be combined", function()
    local g = sdf.grid { res = 24, bounds = B, from = sdf.sphere { r = 0.6, color = { 0.9, 0.2, 0.1 } } }
    local v, f = sdf.marching_cubes(g, { resolution = 24, bounds = B, quiet = true })
    for i = 1, v:shape()[1], 7 do
      local x, y, z = v:get(i, 1), v:get(i, 2), v:get(i, 3)
      assert.near(0.6, math.sqrt(x * x + y * y + z * z), 0.01)
    end
    assert.is_true(f:shape()[1] > 100)
    local img = sdf.render(g, { eye = { 0, 0, 3 }, width = 8, height = 8, fov = 40 }, { quiet = true })
    assert.near(0.9, img:get(4, 4, 1) / math.max(img:get(4, 4, 1), img:get(4, 4, 2)) * 0.9, 1e-9)
    assert.has_error(function() sdf.union(g, sdf.sphere {}) end)
  end)
end)

describe("sdf.render_rays", function()
  local res, R, N = 5, 4, 20
  local v, c = noisy_grid(res, 7, 0.05)
  local r = rng(8)
  local O, U, TT, GC = {}, {}, {}, {}
  for i = 1, R do
    local dir = { r(-0.2, 0.2), r(-0.2, 0.2), 1 }
    local l = math.sqrt(dir[1] ^ 2 + dir[2] ^ 2 + 1)
    O[i] = { r(-0.3, 0.3), r(-0.3, 0.3), -2.5 }
    U[i] = { dir[1] / l, dir[2] / l, dir[3] / l }
    TT[i] = {}
    for j = 1, N do TT[i][j] = 0.9 + 3.2 * (j - 1) / (N - 1) + r(0, 0.02) end
    GC[i] = { r(-1, 1), r(-1, 1), r(-1, 1) }
  end
  O, U, TT, GC = T.new(O), T.new(U), T.new(TT), T.new(GC)
  local op = { beta = 0.15, light = { 0.3, 0.9, -0.4 }, ambient = 0.3, background = { 1, 0.9, 0.8 } }
  local function f(vv, cc, beta)
    local g = sdf.grid { res = res, bounds = B, values = vv, colors = cc }
    local o2 = { beta = beta or op.beta, light = op.light, ambient = op.ambient, background = op.background }
    return (sdf.render_rays(g, O, U, TT, o2) * GC):sum()
  end

  it("matches central differences for the node values, the colours and β", function()
    local g = sdf.grid { res = res, bounds = B, values = v, colors = c }
    local _, grad = sdf.render_rays(g, O, U, TT, op, GC)
    local h, checked = 1e-6, 0
    for i = 1, res do for j = 1, res do for k = 1, res do
      local an = grad.values:get(i, j, k)
      if math.abs(an) > 1e-4 and checked < 25 then
        checked = checked + 1
        local vp, vm = v:clone(), v:clone()
        vp:set(i, j, k, v:get(i, j, k) + h)
        vm:set(i, j, k, v:get(i, j, k) - h)
        assert.near(an, (f(vp, c) - f(vm, c)) / (2 * h), 1e-6 + 1e-5 * math.abs(an))
      end
    end end end
    assert.is_true(checked >= 10)
    checked = 0
    for i = 2, res - 1 do for j = 2, res - 1 do for k = 1, res do for a = 1, 3 do
      local an = grad.colors:get(i, j, k, a)
      if math.abs(an) > 1e-4 and checked < 15 then
        checked = checked + 1
        local cp, cm = c:clone(), c:clone()
        cp:set(i, j, k, a, c:get(i, j, k, a) + h)
        cm:set(i, j, k, a, c:get(i, j, k, a) - h)
        assert.near(an, (f(v, cp) - f(v, cm)) / (2 * h), 1e-7 + 1e-6 * math.abs(an))
      end
    end end end end
    assert.is_true(checked >= 5)
    local fd = (f(v, c, op.beta + h) - f(v, c, op.beta - h)) / (2 * h)
    assert.is_true(math.abs(grad.beta) > 1e-3)
    assert.near(grad.beta, fd, 1e-5 * math.abs(fd) + 1e-7)
  end)

  it("renders the background where the density vanishes", function()
    local g = sdf.grid { res = 3, bounds = B, values = T.full({ 3, 3, 3 }, 5.0) }
    local rgb = sdf.render_rays(g, O, U, TT, op)
    for i = 1, R do
      assert.near(1, rgb:get(i, 1), 1e-9); assert.near(0.9, rgb:get(i, 2), 1e-9); assert.near(0.8, rgb:get(i, 3), 1e-9)
    end
  end)
end)

describe("sdf.fit_views", function()
  local truth = sdf.sphere { r = 0.55, color = { 0.85, 0.35, 0.2 } }
  local function cams(n, w, off)
    local out = {}
    for i = 0, n - 1 do
      local y = 1 - 2 * (i + 0.5) / n
      local rr, th = math.sqrt(1 - y * y), i * 2.399963 + (off or 0)
      out[#out + 1] = { eye = { 2.8 * rr * math.cos(th), 2.8 * y, 2.8 * rr * math.sin(th) }, fov = 45, width = w, height = w }
    end
    return out
  end
  local C = cams(8, 20)
  local imgs = {}
  for i, cam in ipairs(C) do imgs[i] = sdf.render(truth, cam, { quiet = true }) end

  it("recovers a sphere from 8 views (mesh distance, held-out PSNR) and the learned grid keeps the error bound", function()
    local g, res = sdf.fit_views(imgs, C, { res = 16, bounds = B, iters = 120, batch = 256, lr = 0.02,
      seed = 3, quiet = true, n_eval = 32, n_final = 16, n_extra = 8 })
    assert.equal(120, res.iterations)
    assert.is_true(res.converged)
    assert.equal("max_iters", res.reason)
    assert.is_true(res.loss:get(120) < 0.5 * res.loss:get(1))
    local v = sdf.marching_cubes(g, { resolution = 16, bounds = B, quiet = true })
    local err, n = 0, v:shape()[1]
    for i = 1, n do
      err = err + math.abs(math.sqrt(v:get(i, 1) ^ 2 + v:get(i, 2) ^ 2 + v:get(i, 3) ^ 2) - 0.55)
    end
    -- mean distance of the mesh to the true sphere below 3 % of the box diagonal (2√3)
    assert.is_true(err / n < 0.03 * 2 * math.sqrt(3), ("mean distance %g"):format(err / n))
    local held = cams(1, 20, 1.0)[1]
    local a = sdf.render(truth, held, { quiet = true })
    local b = sdf.render(g, held, { quiet = true, beta = res.beta })
    local mse = ((a - b) * (a - b)):mean()
    assert.is_true(-10 * math.log(mse, 10) > 18, ("held-out PSNR %g dB"):format(-10 * math.log(mse, 10)))
    -- the error bound on the learned grid made 1-Lipschitz (values / L): rays inside the box
    local info = sdf.grid_info(g)
    local L = math.max(info.lipschitz, 1)
    local g1 = sdf.grid { res = 16, bounds = B, values = info.values / L, colors = info.colors }
    assert.is_true(sdf.grid_info(g1).lipschitz <= 1 + 1e-12)
    local r, O, U = rng(11), {}, {}
    for i = 1, 6 do
      O[i] = { -0.98, r(-0.4, 0.4), r(-0.4, 0.4) }
      local dy, dz = r(-0.2, 0.2), r(-0.2, 0.2)
      local l = math.sqrt(1 + dy * dy + dz * dz)
      U[i] = { 1 / l, dy / l, dz / l }
    end
    O, U = T.new(O), T.new(U)
    local s = sdf.sample(g1, O, U, { beta = 0.02, eps = 0.1, near = 0, far = 1.9, keep_eval = true, last_delta = 0 })
    local Oref = sdf.opacity_reference(g1, O, U, s.t_eval, s.beta_plus, 20000)
    local checked = 0
    for i = 1, 6 do
      if s.bound:get(i) <= 0.1 then
        checked = checked + 1
        -- the opacity of the quadrature at β+ on the evaluated samples vs the exact opacity
        local te, n2 = {}, 0
        for j = 1, s.t_eval:shape()[2] do
          local x = s.t_eval:get(i, j)
          if x ~= x then break end
          n2 = j
          te[j] = x
        end
        local tt, dd = T.new(te):reshape { 1, n2 }, nil
        local P = {}
        for j = 1, n2 do P[j] = { O:get(i, 1) + te[j] * U:get(i, 1), O:get(i, 2) + te[j] * U:get(i, 2), O:get(i, 3) + te[j] * U:get(i, 3) } end
        dd = g1:eval(T.new(P))
        local w = sdf.render_weights(tt, sdf.density(dd:reshape { 1, n2 }, s.beta_plus:get(i)), { last_delta = 0 })
        local acc = 0
        for j = 1, n2 - 1 do
          acc = acc + w.weights:get(1, j)
          assert.is_true(math.abs(acc - Oref:get(i, j + 1)) <= 0.1 + 1e-6)
        end
      end
    end
    assert.is_true(checked >= 4, ("%d rays with B <= eps"):format(checked))
  end)

  it("gives the same result for the same seed on 1 and 2 threads", function()
    local o = { res = 8, bounds = B, iters = 6, batch = 64, seed = 5, quiet = true, n_eval = 16, n_final = 8, n_extra = 4 }
    local before = ml.get_threads and ml.get_threads() or 2
    ml.set_threads(1)
    local g1, r1 = sdf.fit_views(imgs, C, o)
    ml.set_threads(2)
    local g2, r2 = sdf.fit_views(imgs, C, o)
    ml.set_threads(before)
    for i = 1, 6 do assert.equal(r1.loss:get(i), r2.loss:get(i)) end
    assert.equal(0, (sdf.grid_info(g1).values - sdf.grid_info(g2).values):abs():max())
    assert.equal(r1.beta, r2.beta)
  end)

  -- the regularisers and the schedule change what is learned, in the direction they should
  local small = { res = 10, bounds = B, iters = 40, batch = 128, seed = 2, quiet = true, n_eval = 16, n_final = 8,
    n_extra = 4, lambda_eikonal = 0 }
  local function with(extra)
    local o = {}
    for k, v in pairs(small) do o[k] = v end
    for k, v in pairs(extra) do o[k] = v end
    return o
  end
  local function mean_grad_dev(g)
    local r, P = rng(21), {}
    for i = 1, 400 do P[i] = { r(-0.9, 0.9), r(-0.9, 0.9), r(-0.9, 0.9) } end
    local G = g:grad(T.new(P))
    local dev = 0
    for i = 1, 400 do dev = dev + (math.sqrt(G:get(i, 1) ^ 2 + G:get(i, 2) ^ 2 + G:get(i, 3) ^ 2) - 1) ^ 2 / 400 end
    return dev
  end
  local function tv(g)
    local v, n, s2 = sdf.grid_info(g).values, 10, 0
    for i = 1, n - 1 do for j = 1, n - 1 do for k = 1, n - 1 do
      local x = v:get(i, j, k)
      s2 = s2 + (v:get(i + 1, j, k) - x) ^ 2 + (v:get(i, j + 1, k) - x) ^ 2 + (v:get(i, j, k + 1) - x) ^ 2
    end end end
    return s2
  end

  it("the eikonal term pulls |∇d| towards 1 and the TV term smooths the grid", function()
    local g0 = sdf.fit_views(imgs, C, with { init_radius = 0.3 })
    local ge = sdf.fit_views(imgs, C, with { init_radius = 0.3, lambda_eikonal = 1 })
    assert.is_true(mean_grad_dev(ge) < mean_grad_dev(g0))
    local gt = sdf.fit_views(imgs, C, with { init_radius = 0.3, lambda_tv = 0.05 })
    assert.is_true(tv(gt) < tv(g0))
  end)

  it("coarse-to-fine returns a grid at the final resolution and keeps learning", function()
    local g, r = sdf.fit_views(imgs, C, with { levels = 2, iters = 40 })
    assert.equal(10, sdf.grid_info(g).res)
    assert.equal(40, r.iterations)
    assert.is_true(r.loss:get(40) < r.loss:get(1))
  end)
end)
