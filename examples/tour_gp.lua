-- Tour section: GP regression on energies and gradients, dimer and GPR-dimer (moonlab.gp).
-- Run by examples/tour.lua (`make demo`).
return function(ctx)
  local T = require "moonlab.tensor"
  local gp = require "moonlab.gp"
  local root = os.getenv("MOONLAB_ROOT") or "."

  ctx.log("GP-accelerated saddle searches (Goswami et al. 2025, arXiv 2505.12519): a Gaussian process fitted to "
    .. "energies *and gradients* (joint covariance with first and mixed second kernel derivatives) replaces most "
    .. "true evaluations of a minimum-mode-following (dimer) search.")

  -- 1. Gradient observations: one kernel derivative against a central difference, and what gradients buy.
  local k = gp.kernel.inverse_distance { atoms = 3, dim = 3, lengthscales = 0.7 }
  local x, y = T.new { 0, 0, 0, 1.1, 0, 0, 0.3, 1.0, 0.1 }, T.new { 0.1, 0, 0, 1.0, 0.1, 0, 0.2, 1.1, 0 }
  local B = k:block(x, y, true)
  local h = 1e-6
  local yp, ym = y:clone(), y:clone()
  yp:set(4, y:get(4) + h); ym:set(4, y:get(4) - h)
  local fd = (k:block(x, yp, true):get(2, 1) - k:block(x, ym, true):get(2, 1)) / (2 * h)
  ctx.log(("Inverse-distance kernel (3 atoms): d²k/dx₁dy₄ = %.10f analytic, %.10f by central difference."):format(
    B:get(2, 5), fd))

  -- 2. Müller–Brown: dimer vs GPR-dimer from one start, verified against the published saddle.
  local pot = gp.potential.muller_brown()
  local x0, m0 = T.new { -0.5, 1.4 }, T.new { 1, 0.3 }
  local d = gp.dimer(pot, x0, m0, { quiet = true })
  local g = gp.gpr_dimer(pot, x0, m0, { quiet = true })
  local H = gp.hessian(pot, g.x)
  local s = gp.muller_brown_points.saddles[1]
  ctx.log(("Müller–Brown from (−0.5, 1.4): `gp.dimer` %d true evaluations → (%.6f, %.6f), E = %.3f; "
    .. "`gp.gpr_dimer` %d → (%.6f, %.6f), E = %.3f (fit %.0f ms, MAP %.0f ms, surrogate dimer %.0f ms); "
    .. "published saddle (%.6f, %.6f), E = %.3f; Hessian eigenvalues at the GPR-dimer result %.1f, %.1f "
    .. "(one negative: a first-order saddle)."):format(d.calls, d.x:get(1), d.x:get(2), d.energy, g.calls,
    g.x:get(1), g.x:get(2), g.energy, 1e3 * g.seconds.fit, 1e3 * g.seconds.hyper, 1e3 * g.seconds.dimer, s[1], s[2],
    s[3], H.eigenvalues[1], H.eigenvalues[2]))

  -- 3. A few seeded starts per method (the full table: examples/saddle_search.lua).
  local ex = assert(loadfile(root .. "/examples/saddle_search.lua"))("--module")
  local rows = ex.run { n = 4, systems = { "mb" }, max_outer = 40, max_calls = 1000 }
  ctx.log("Four seeded starts near the deep Müller–Brown minimum (random displacement 0.1 and random initial mode; "
    .. "success = converged with exactly one negative Hessian eigenvalue; calls of successful runs):\n\n" .. ex.table_md(rows))
  local f = ex.plot_mb({ dimer = d.path, gpr_dimer = g.path }, ctx.outdir)
  if f then ctx.figure(f, "Müller–Brown iso-energy lines with the dimer and GPR-dimer midpoints") end
end
