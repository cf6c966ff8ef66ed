-- Tour section: VolSDF (moonlab.sdf). Run by examples/tour.lua (`make demo`).
return function(ctx)
  local T = require "moonlab.tensor"
  local sdf = require "moonlab.sdf"
  local core = require "moonlab.core"
  local root = os.getenv("MOONLAB_ROOT") or "."

  ctx.log("VolSDF (Yariv et al. 2021): the density σ = α Ψ_β(−d) of a signed distance d, volume rendering along "
    .. "rays, and the error-bounded sampler that keeps the opacity error below ε by choosing samples and β+ "
    .. "(§3.3–3.4). Scenes are Lua trees compiled once to a flat C instruction list.")

  -- 1. the bound at work on one ray
  local s = sdf.union(sdf.sphere { r = 0.8 }, sdf.torus { R = 1.0, r = 0.2 }:rotate({ 1, 0, 0 }, 0.4))
  local o, u = T.new { { 0, 0.3, -2.9 } }, T.new { { 0, -0.05, 1 } }
  local lines = { "| β | rounds | evaluations | β+ | bound B |", "|---|---|---|---|---|" }
  for _, beta in ipairs { 0.1, 0.01, 0.001 } do
    local r = sdf.sample(s, o, u, { beta = beta })
    lines[#lines + 1] = ("| %g | %d | %d | %.4g | %.3g |"):format(beta, r.iters:get(1), r.sdf_evals:get(1),
      r.beta_plus:get(1), r.bound:get(1))
  end
  ctx.log("`sdf.sample` on one ray through a sphere ∪ torus (ε = 0.1, the reference code's defaults; B ≤ ε is "
    .. "guaranteed only when β+ = β):\n\n" .. table.concat(lines, "\n"))

  -- 2. renders at several β, a depth map, the samples along one ray, a mesh
  local run = assert(loadfile(root .. "/examples/volsdf_render.lua"))("--module")
  local t0 = core.now()
  local res = run(ctx.outdir .. "/sdf", { size = 80, betas = { 0.002, 0.05 }, mesh_res = 48, quiet = true })
  local rows = {}
  for _, b in ipairs(res.betas) do rows[#rows + 1] = ("β = %g: %.2f s"):format(b.beta, b.seconds) end
  ctx.log(("examples/volsdf_render.lua at 80×80 (%s; %.1f s in all). The scene:\n\n```\n%s\n```"):format(
    table.concat(rows, ", "), core.now() - t0, res.scene))
  for _, b in ipairs(res.betas) do ctx.figure(b.file, ("Rendered with the error-bounded sampler at β = %g"):format(b.beta)) end
  if res.depth_file then ctx.figure(res.depth_file, "Depth map (β = 0.002; near is bright)") end
  if res.plot_file then ctx.figure(res.plot_file, "Evaluated samples along one ray after each round, with the bound") end
  ctx.log(("Mesh by `sdf.marching_cubes` at resolution 48: %d vertices, %d faces (%s)."):format(
    res.mesh.vertices, res.mesh.faces, res.mesh.file:match("[^/]+$")))

  -- 3. volume rendering vs sphere tracing on the same camera
  local cam = { eye = { 0, 0.5, 3 }, width = 64, height = 64 }
  local ta = core.now()
  sdf.render(s, cam, { sphere_trace = true })
  local tb = core.now()
  sdf.render(s, cam, { beta = 0.01 })
  local tc = core.now()
  ctx.log(("64×64 render: error-bounded sampling %.3f s, sphere tracing %.3f s (%.0fx; full figures in `make bench`)."):format(
    tc - tb, tb - ta, (tc - tb) / (tb - ta)))

  -- 4. reconstruction: fit a grid SDF to rendered views alone (a reduced examples/volsdf_fit.lua)
  local fit = assert(loadfile(root .. "/examples/volsdf_fit.lua"))("--module")
  local td = core.now()
  local r = fit(ctx.outdir .. "/sdf", { views = 12, size = 24, res = 24, iters = 150, batch = 256, levels = 1,
    held = 2, mesh_res = 48, n_eval = 32, n_final = 16, n_extra = 8, quiet = true })
  ctx.log(("`sdf.fit_views` (VolSDF §3.5 on a dense grid): %d views of %d×%d of a torus, a sphere and a cut box, a %d³ "
    .. "grid, %d Adam steps (%.1f s in all): colour L1 loss %.3f -> %.3f, learned β = %.3g, Chamfer distance %.2f %% "
    .. "of the bounding-box diagonal, held-out PSNR %.1f dB (the full example, `lua5.4 examples/volsdf_fit.lua`, "
    .. "reaches the goals of < 2 %% and >= 25 dB).")
    :format(r.views, r.size, r.size, r.res, r.iters, core.now() - td, r.loss_first, r.loss_last, r.beta, r.chamfer_pct, r.psnr))
  ctx.figure(r.files[1], "Held-out view: truth (left) and the reconstruction rendered from the learned grid (right)")
end
