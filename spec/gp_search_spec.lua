-- moonlab.gp: the GPR-dimer's safeguards (trust region over the kernel's moving-frozen pairs,
-- adaptive trust, step rejection, length-scale floor, initial rotations on true images, farthest-point
-- subsets for the MAP) against
-- the plain loop and the dimer, on the Morse heptamer, LJ7 2-D and Müller–Brown; saddles verified
-- by the finite-difference Hessian (one negative eigenvalue) and the published Müller–Brown saddle.
local T = require "moonlab.tensor"
local gp = require "moonlab.gp"

local function gnorm(pot, x)
  local _, G = pot:energy_gradient(x)
  return math.sqrt((G * G):sum())
end

-- LJ7 2-D: the potential, a start 0.05 per coordinate from the hexagon's minimum, a random mode
local function lj2_start()
  local lj = gp.potential.lj { n = 7, dim = 2 }
  local x = { 0, 0 }
  for k = 0, 5 do x[#x + 1] = 1.12 * math.cos(k * math.pi / 3); x[#x + 1] = 1.12 * math.sin(k * math.pi / 3) end
  local m = gp.minimize(lj, T.new(x), { quiet = true }).x
  return lj, m + T.randn({ 14 }, { seed = 3 }) * 0.05, T.randn({ 14 }, { seed = 103 })
end

describe("gp.gpr_dimer safeguards", function()
  it("Morse heptamer on a frozen slab: a first-order saddle with far fewer true evaluations than the dimer", function()
    local pot, x0, frozen = gp.potential.morse {}
    local near = {}
    for i = 1, frozen:shape()[1] do
      local fx, fy = frozen:get(i, 1), frozen:get(i, 2)
      if math.sqrt(fx * fx + fy * fy) < 5 and frozen:get(i, 3) > -1 then near[#near + 1] = { fx, fy, frozen:get(i, 3) } end
    end
    local types = {}
    for i = 1, 7 do types[i] = 1 end
    for i = 1, #near do types[7 + i] = 2 end
    local k = gp.kernel.inverse_distance { atoms = 7, dim = 3, frozen = T.new(near), types = types,
      pair_types = { { 1, 2 }, { 2, 2 } }, lengthscales = { 0.5, 0.5 }, variance = 1 }
    local m = gp.minimize(pot, x0, { quiet = true }).x
    -- start 18 of examples/saddle_search.lua, one the paper's loop did not solve in 60 evaluations
    local seed = 100 * 18 + 7
    local xs, m0 = m + T.randn({ 21 }, { seed = seed }) * 0.05, T.randn({ 21 }, { seed = seed + 1 })
    local d = gp.dimer(pot, xs, m0, { quiet = true, max_calls = 2000 })
    local o = { quiet = true, kernel = k, max_outer = 60, hyper_maxit = 40, hyper_points = 10, ratio_lo = 0.9, ratio_hi = 1.1 }
    local r = gp.gpr_dimer(pot, xs, m0, o)
    assert.is_true(d.converged and r.converged, ("dimer %s, gpr %s"):format(d.reason, r.reason))
    assert.is_true(gnorm(pot, r.x) < 0.01)
    assert.equals(1, gp.hessian(pot, r.x).negative)
    assert.is_true(r.calls * 5 < d.calls, ("gpr %d calls, dimer %d"):format(r.calls, d.calls))
    -- the plain loop (safeguards off) does no better
    o.trust_adapt, o.reject, o.length_floor = false, false, 0
    local p = gp.gpr_dimer(pot, xs, m0, o)
    local p_ok = p.converged and gp.hessian(pot, p.x).negative == 1
    assert.is_true(not p_ok or p.calls >= r.calls, ("plain %d calls, safeguards %d"):format(p.calls, r.calls))
  end)
  it("LJ7 2-D: the safeguards on (default for inverse-distance kernels) and off both reach first-order saddles", function()
    local lj, x0, m0 = lj2_start()
    local base = { quiet = true, ratio_lo = 0.9, ratio_hi = 1.1, hyper_points = 6, max_outer = 60, hyper_maxit = 40 }
    local on = gp.gpr_dimer(lj, x0, m0, base)
    local off = { trust_adapt = false, reject = false, length_floor = 0 }
    for key, v in pairs(base) do off[key] = v end
    local plain = gp.gpr_dimer(lj, x0, m0, off)
    for _, r in ipairs { on, plain } do
      assert.is_true(r.converged, r.reason)
      assert.is_true(gnorm(lj, r.x) < 0.01)
      assert.equals(1, gp.hessian(lj, r.x).negative)
    end
  end)
  it("hyper_select = 'fps': MAP on a farthest-point subset reaches a first-order saddle; one point is 'latest'", function()
    local lj, x0, m0 = lj2_start()
    local function opts(select, points)
      return { quiet = true, ratio_lo = 0.9, ratio_hi = 1.1, hyper_points = points, hyper_select = select,
        max_outer = 60, hyper_maxit = 40 }
    end
    local fps = gp.gpr_dimer(lj, x0, m0, opts("fps", 6))
    assert.is_true(fps.converged, fps.reason)
    assert.is_true(gnorm(lj, fps.x) < 0.01)
    assert.equals(1, gp.hessian(lj, fps.x).negative)
    -- the subset changes the hyperparameters, so the searches part ways
    local latest = gp.gpr_dimer(lj, x0, m0, opts("latest", 6))
    assert.is_true(latest.calls ~= fps.calls or (latest.x - fps.x):norm() > 1e-9)
    -- a subset of one point is the newest point either way (FPS starts from it): the same search, bit for bit
    local a, b = gp.gpr_dimer(lj, x0, m0, opts("fps", 1)), gp.gpr_dimer(lj, x0, m0, opts("latest", 1))
    assert.equals(a.calls, b.calls)
    assert.equals(0, (a.x - b.x):norm())
  end)
  it("Müller–Brown with initial rotations on true images reaches the published saddle", function()
    local pot = gp.potential.muller_brown()
    local r = gp.gpr_dimer(pot, T.new { -0.5, 1.4 }, T.new { 1, 0.3 }, { quiet = true, init_rot = 5 })
    local plain = gp.gpr_dimer(pot, T.new { -0.5, 1.4 }, T.new { 1, 0.3 }, { quiet = true })
    assert.is_true(r.converged, r.reason)
    local s = gp.muller_brown_points.saddles[1]
    assert.is_close({ r.x:get(1), r.x:get(2), r.energy }, s, { atol = 2e-3 })
    assert.equals(1, gp.hessian(pot, r.x).negative)
    -- the image evaluations count as true calls but are not midpoints on the path
    assert.is_true(r.calls > r.path.x:shape()[1], ("%d calls, %d midpoints"):format(r.calls, r.path.x:shape()[1]))
    assert.equals(plain.calls, plain.path.x:shape()[1])
  end)
end)
