-- moonlab.gp on bad input: clear errors naming the function and argument, or a documented recovery.
local T = require "moonlab.tensor"
local gp = require "moonlab.gp"

local function err(f, pat)
  local ok, e = pcall(f)
  assert.is_false(ok, "expected an error matching " .. pat)
  assert.matches(pat, tostring(e), 1, true)
end

describe("gp bad input", function()
  it("kernels: non-positive length scales, variances, bad nu, typos", function()
    err(function() gp.kernel.se { lengthscales = { 1, -1 } } end, "gp.kernel.se: option 'lengthscales' element 2 must be a finite number > 0")
    err(function() gp.kernel.se { lengthscales = 0 } end, "gp.kernel.se: option 'lengthscales' must be a finite number > 0")
    err(function() gp.kernel.se { variance = 0 } end, "gp.kernel.se: option 'variance' must be a finite number > 0")
    err(function() gp.kernel.matern { nu = 0.5 } end, "gp.kernel.matern: option 'nu' must be 1.5 or 2.5")
    err(function() gp.kernel.rq { alpha = -2 } end, "gp.kernel.rq: option 'alpha'")
    err(function() gp.kernel.se { lengthscale = 1 } end, "lengthscale")
    err(function() gp.kernel.white { value = 0 / 0 } end, "gp.kernel.white: option 'value'")
  end)
  it("inverse-distance: atoms, pair types and frozen atoms must agree", function()
    err(function() gp.kernel.inverse_distance { atoms = 0 } end, "gp.kernel.inverse_distance: option 'atoms' must be a positive integer")
    err(function() gp.kernel.inverse_distance { atoms = 3, dim = 4 } end, "option 'dim' must be 2 or 3")
    err(function() gp.kernel.inverse_distance { atoms = 3, types = { 1, 1, 2 } } end, "'types' and 'pair_types' go together")
    err(function() gp.kernel.inverse_distance { atoms = 3, types = { 1, 1 }, pair_types = { { 1 } } } end,
      "bad argument #1 'types': expected 3 entries (atoms + frozen), got 2")
    err(function()
      gp.kernel.inverse_distance { atoms = 3, types = { 1, 1, 2 }, pair_types = { { 1, 2 }, { 2, 3 } }, lengthscales = { 1, 1 } }
    end, "pair_types[2][2] = 3, expected 1..2 (one length scale per pair type)")
    err(function()
      gp.kernel.inverse_distance { atoms = 3, types = { 1, 1, 2 }, pair_types = { { 1, 2 }, { 1, 2 } }, lengthscales = { 1, 1 } }
    end, "pair_types must be symmetric")
    err(function() gp.kernel.inverse_distance { atoms = 3, lengthscales = { 1, 2 } } end, "2 length scales but no pair types")
    err(function() gp.kernel.inverse_distance { atoms = 2, frozen = T.zeros { 2, 2 } } end, "bad argument #3 'frozen': expected 3 columns")
    err(function() gp.kernel.inverse_distance { atoms = 1 } end, "need at least 2 atoms")
  end)
  it("kernel combinations and matrices check dimensions", function()
    err(function() return gp.kernel.se { lengthscales = { 1, 1 } } + gp.kernel.se { lengthscales = { 1, 1, 1 } } end,
      "gp.kernel '+': kernels need different input dimensions (2 and 3)")
    err(function() return gp.kernel.se {} + 3 end, "expected a gp kernel, got number")
    local k = gp.kernel.se { lengthscales = { 1, 1 } }
    err(function() k:matrix(T.zeros { 3, 3 }) end, "kernel:matrix: bad argument #2 'X': expected 2 columns")
    err(function() k:set_params { 1 } end, "kernel:set_params: bad argument #2 'theta': expected 3 log-parameters, got 1")
    err(function() k:set_params { 1, 0 / 0, 1 } end, "expected a finite number")
  end)
  it("GP: options, mismatched shapes, non-finite data, no data", function()
    local k = gp.kernel.se {}
    err(function() gp.GP {} end, "gp.GP: missing required option 'kernel'")
    err(function() gp.GP { kernel = k, noise = -1 } end, "gp.GP: option 'noise' must be a finite number >= 0")
    err(function() gp.GP { kernel = k, mean = "linear" } end, "gp.GP: option 'mean' must be 'zero' or 'constant'")
    err(function() gp.GP { kernel = k, nois = 1 } end, "nois")
    local m = gp.GP { kernel = k }
    err(function() m:predict(T.zeros { 1, 2 }) end, "gp.GP:predict: the GP has no data: call fit first")
    err(function() m:lml() end, "gp.GP:lml: the GP has no data")
    err(function() m:fit(T.zeros { 3 }, T.zeros { 3 }) end, "gp.GP:fit: bad argument #1 'X': expected a [n,D] tensor")
    err(function() m:fit(T.zeros { 3, 2 }, T.zeros { 2 }) end, "gp.GP:fit: bad argument #3 'E': expected 3 energies (one per row of X), got 2")
    err(function() m:fit(T.zeros { 3, 2 }, T.zeros { 3 }, T.zeros { 3, 3 }) end, "gp.GP:fit: bad argument #4 'G': expected 2 columns")
    local X = T.new { { 0, 0 }, { 1, 0 / 0 } }
    err(function() gp.GP { kernel = k }:fit(X, T.zeros { 2 }) end, "gp.GP:fit: X[2] is not finite")
    err(function() gp.GP { kernel = k }:fit(T.new { { 0, 0 } }, T.new { 1 / 0 }) end, "gp.GP:fit: E[1] is not finite")
    m:fit(T.new { { 0, 0 }, { 1, 1 } }, T.new { 1, 2 })
    err(function() m:fit(T.zeros { 2, 3 }, T.zeros { 2 }) end, "the GP holds 2-dimensional points, got 3")
    err(function() m:add(T.new { { 2, 2 } }, T.new { 1 }, T.new { { 1, 1 } }) end,
      "gp.GP:add: the GP was fitted without gradients: add points without them")
    err(function() m:predict(T.zeros { 2, 3 }) end, "gp.GP:predict: bad argument #2 'Xs': expected 2 columns")
    err(function() m:optimize { maxit = 0 } end, "gp.GP:optimize: bad argument #2 'maxit'")
    err(function() m:optimize { prior = { magnitude = { scale = -1 } } } end, "prior scales and nu must be > 0")
    err(function() m:optimize { prio = false } end, "prio")
  end)
  it("duplicate points without noise: jitter escalation is reported; the prediction stays finite", function()
    local m = gp.GP { kernel = gp.kernel.se {}, noise = 0 }
    m:fit(T.new { { 0, 0 }, { 0, 0 }, { 0, 0 } }, T.new { 1, 1, 1 }, T.new { { 0, 0 }, { 0, 0 }, { 0, 0 } })
    assert.is_true(m:info().jitter > 0)
    local p = m:predict(T.new { { 0.1, 0 } }, { variance = true, gradient = true })
    assert.is_true(p.energy:get(1) == p.energy:get(1))
    local r = m:optimize { quiet = true }
    local found = false
    for _, w in ipairs(r.warnings) do if w:find("jitter", 1, true) then found = true end end
    assert.is_true(found)
  end)
  it("potentials: NaN, errors, wrong returns; searches: zero mode, bad options", function()
    local nanpot = gp.potential.fn(function() return 0 / 0, { 0, 0 } end, { dim = 2 })
    err(function() gp.dimer(nanpot, T.zeros { 2 }, T.new { 1, 0 }) end, "gp.dimer: potential returned a non-finite energy")
    local bad = gp.potential.fn(function() error("boom") end, { dim = 2 })
    err(function() gp.gpr_dimer(bad, T.zeros { 2 }, T.new { 1, 0 }) end, "gp.gpr_dimer: potential raised an error:")
    err(function() gp.minimize(bad, T.zeros { 2 }) end, "boom")
    local wrong = gp.potential.fn(function() return 1, { 1 } end, { dim = 2 })
    err(function() wrong:energy_gradient(T.zeros { 2 }) end, "as a [2] tensor or a list of 2 numbers")
    local nang = gp.potential.fn(function() return 1, { 0 / 0, 1 } end, { dim = 2 })
    err(function() gp.hessian(nang, T.zeros { 2 }) end, "gp.hessian: potential returned a non-finite gradient component 1")
    local mb = gp.potential.muller_brown()
    err(function() gp.dimer(mb, T.zeros { 2 }, T.zeros { 2 }) end, "gp.dimer: bad argument #3 'mode0': expected a non-zero initial mode")
    err(function() gp.dimer(mb, T.zeros { 3 }, T.new { 1, 0 }) end, "gp.dimer: bad argument #2 'x0': expected 2 columns")
    err(function() gp.dimer(mb, T.zeros { 2 }, T.new { 1, 0 }, { max_step = -1 }) end, "gp.dimer: bad argument #4 'max_step'")
    err(function() gp.dimer(mb, T.zeros { 2 }, T.new { 1, 0 }, { rigid = true }) end, "needs a potential with atoms")
    err(function() gp.gpr_dimer(mb, T.zeros { 2 }, T.new { 1, 0 }, { kernel = gp.kernel.se { lengthscales = { 1, 1, 1 } } }) end,
      "gp.gpr_dimer: bad argument #2 'kernel': kernel needs 3 coordinates, the potential has 2")
    err(function() gp.gpr_dimer(mb, T.zeros { 2 }, T.new { 1, 0 }, { ratio_lo = 2 }) end, "ratio_lo")
    err(function() gp.gpr_dimer(mb, T.zeros { 2 }, T.new { 1, 0 }, { hyper_every = 0 }) end,
      "gp.gpr_dimer: bad argument #5 'hyper_every': expected >= 1, got 0")
    err(function() gp.gpr_dimer(mb, T.zeros { 2 }, T.new { 1, 0 }, { hyper_points = -1 }) end,
      "gp.gpr_dimer: bad argument #5 'hyper_points': expected >= 0, got -1")
    err(function() gp.gpr_dimer(mb, T.zeros { 2 }, T.new { 1, 0 }, { hyper_select = "fsp" }) end,
      "gp.gpr_dimer: option 'hyper_select' = 'fsp' is not one of 'latest', 'fps'")
    err(function() gp.gpr_dimer(mb, T.zeros { 2 }, T.new { 1, 0 }, { init_rot = -1 }) end,
      "gp.gpr_dimer: bad argument #5 'init_rot': expected >= 0, got -1")
    err(function() gp.gpr_dimer(mb, T.zeros { 2 }, T.new { 1, 0 }, { init_rot_tol = 0 }) end,
      "gp.gpr_dimer: bad argument #5 'init_rot_tol': expected a finite angle > 0")
    err(function() gp.gpr_dimer(mb, T.zeros { 2 }, T.new { 1, 0 }, { reject_tol = -1 }) end,
      "gp.gpr_dimer: bad argument #5 'reject_tol': expected a finite number > 0")
    err(function() gp.gpr_dimer(mb, T.zeros { 2 }, T.new { 1, 0 }, { length_floor = -2 }) end,
      "gp.gpr_dimer: bad argument #5 'length_floor': expected a finite number >= 0")
    err(function() gp.gpr_dimer(mb, T.zeros { 2 }, T.new { 1, 0 }, { reject = 1 }) end, "reject")
    err(function() gp.dimer(mb, T.zeros { 2 }, T.new { 1, 0 }, { max_stp = 1 }) end, "max_stp")
    err(function() gp.potential.lj { n = 1 } end, "gp.potential.lj: bad argument #1 'n'")
    err(function() gp.potential.fn(42, { dim = 2 }) end, "gp.potential.fn: bad argument #1 'fn'")
    err(function() gp.potential.fn(function() end, { dim = 7, atoms = 2 }) end, "atoms * atom_dim must equal dim")
    err(function() gp.hessian(mb, T.zeros { 2 }, { h = 0 }) end, "gp.hessian: bad argument #3 'h'")
    local lj = gp.potential.lj { n = 2, dim = 3 }
    err(function() lj:energy_gradient(T.zeros { 6 }) end, "atoms 1 and 2 coincide")
  end)
  it("a search that runs out of budget says so in reason and warnings", function()
    local mb = gp.potential.muller_brown()
    local r = gp.dimer(mb, T.new { -0.5, 1.4 }, T.new { 1, 0.3 }, { maxit = 3, quiet = true })
    assert.is_false(r.converged)
    assert.equals("max_iters", r.reason)
    assert.equals(1, #r.warnings)
  end)
end)
