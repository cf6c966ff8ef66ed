-- A synthetic BTEX chromatogram (benzene, toluene, ethylbenzene, xylene) with 1% noise: the Laplace
-- solution against the finite-difference solution of the full PDEs, a fit of (Da, kappa) per analyte,
-- and a figure of data, fit and residuals (PNG via moonlab.plot, CSV when gnuplot is absent).
-- Usage: lua5.4 examples/chromatography.lua [outdir]      (also run by `make demo` via tour_laplace.lua)
local T = require "moonlab.tensor"
local chrom = require "moonlab.chrom"

-- Scaled units: time in hold-up times, retention factor k' = Da/kappa.
local ANALYTES = {
  { name = "benzene", Da = 40, kappa = 20, A = 1.0 },
  { name = "toluene", Da = 100, kappa = 25, A = 1.2 },
  { name = "ethylbenzene", Da = 180, kappa = 30, A = 0.9 },
  { name = "xylene", Da = 280, kappa = 35, A = 1.1 },
}
local INJ = { kind = "gaussian", width = 0.05, t0 = 0.3 }

local function l2rel(a, b)
  local d = a - b
  return math.sqrt((d * d):sum() / (b * b):sum())
end

local function run(outdir, log, figure, opts)
  opts = opts or {}
  local n = 1400
  local t = T.linspace(0.01, 14, n)
  -- exact (Laplace) chromatogram and its FD counterpart
  local cols, y = {}, T.zeros { n }
  for i, a in ipairs(ANALYTES) do
    cols[i] = chrom.column { Da = a.Da, kappa = a.kappa, injection = INJ }
    y = y + cols[i]:outlet(t) * a.A
  end
  log("Four analytes, Da/kappa = " .. table.concat((function()
    local s = {}
    for _, a in ipairs(ANALYTES) do s[#s + 1] = ("%s %g/%g"):format(a.name, a.Da, a.kappa) end
    return s
  end)(), ", ") .. "; Gaussian injection (width 0.05, centre 0.3), no dispersion, constant velocity.")
  local rows = { "| nx | L2 relative difference FD vs Laplace | observed order | FD time (s) |", "|---:|---:|---:|---:|" }
  local prev
  for _, nx in ipairs(opts.grids or { 200, 400, 800, 1600 }) do
    if opts.step then opts.step(("finite-volume solution of four analytes at nx = %d"):format(nx)) end
    local yf, secs = T.zeros { n }, 0
    for i, a in ipairs(ANALYTES) do
      local r = chrom.solve_fd(cols[i], { t = t, nx = nx, scheme = "kappa3" })
      yf = yf + r.c * a.A
      secs = secs + r.seconds
    end
    local e = l2rel(yf, y)
    rows[#rows + 1] = ("| %d | %.2e | %s | %.2f |"):format(nx, e, prev and ("%.2f"):format(math.log(prev / e, 2)) or "", secs)
    prev = e
  end
  log(table.concat(rows, "\n"))
  log(("Goal: L2 relative difference <= 1e-4 at the finest grid: %s (%.1e)."):format(prev <= 1e-4 and "met" or "NOT met", prev))

  -- noisy data, saved and read back as CSV
  local noise = T.randn({ n }, { seed = 2024 }) * (0.01 * y:max())
  local data = y + noise
  local csv = outdir .. "/btex_chromatogram.csv"
  local f = assert(io.open(csv, "w"))
  f:write("time,signal\n")
  for i = 1, n do f:write(("%.10g,%.10g\n"):format(t:get(i), data:get(i))) end
  f:close()
  local tc, yc = chrom.read_csv(csv)

  -- fit Da, kappa and the amplitude of each analyte from guesses 10% / 8% / 5% off
  if opts.step then opts.step("fitting (Da, kappa, A) of four analytes to the noisy chromatogram") end
  local init = {}
  for i, a in ipairs(ANALYTES) do init[i] = { Da = a.Da * 1.1, kappa = a.kappa * 0.92, A = a.A * 1.05 } end
  local r = chrom.fit(tc, yc, { analytes = init, column = { Da = 1, kappa = 1, injection = INJ } })
  local fr = { "| analyte | Da (true) | Da fit ± se | kappa (true) | kappa fit ± se | A (true) | A fit ± se | within 3 se |",
    "|---|---:|---:|---:|---:|---:|---:|---|" }
  local worst, all_in = 0, true
  for i, a in ipairs(ANALYTES) do
    local e = r.analytes[i]
    local ok = true
    for _, k in ipairs { "Da", "kappa", "A" } do
      worst = math.max(worst, math.abs(e[k] / a[k] - 1))
      ok = ok and math.abs(e[k] - a[k]) <= 3 * e.se[k]
    end
    all_in = all_in and ok
    fr[#fr + 1] = ("| %s | %g | %.3f ± %.3f | %g | %.4f ± %.4f | %g | %.4f ± %.4f | %s |"):format(a.name, a.Da, e.Da, e.se.Da,
      a.kappa, e.kappa, e.se.kappa, a.A, e.A, e.se.A, ok and "yes" or "NO")
  end
  log(table.concat(fr, "\n"))
  log(("Fit (%s model): %s after %d Levenberg-Marquardt iterations (%s), %.1f ms; residual RMS %.3g against the noise level %.3g (%s; true sd %.3g); "
    .. "warnings: %s; every parameter within 3 standard errors of the truth: %s (worst relative error %.2f%%)."):format(
    r.model_method, r.converged and "converged" or "NOT converged", r.iterations, r.reason, 1e3 * r.seconds, r.rms, r.noise,
    r.noise_source, 0.01 * y:max(), #r.warnings == 0 and "none" or table.concat(r.warnings, "; "), all_in and "yes" or "NO", 100 * worst))

  if opts.step then opts.step("plotting data, fit and residuals") end
  local ok, plot = pcall(require, "moonlab.plot")
  if ok and plot.available and plot.available() then
    local path = outdir .. "/chromatography_fit.png"
    plot.lines { file = path, title = "BTEX chromatogram: data, Laplace fit, residuals (offset -0.1)", xlabel = "t / t_hold",
      ylabel = "signal", series = {
        { x = tc, y = yc, label = "data (1% noise)", style = "points" },
        { x = tc, y = r.model, label = "fit" },
        { x = tc, y = r.residuals - 0.1, label = "residuals - 0.1" } } }
    figure(path, "synthetic BTEX chromatogram, fit and residuals")
  else
    local path = outdir .. "/chromatography_fit.csv"
    local g = assert(io.open(path, "w"))
    g:write("time,data,fit,residual\n")
    for i = 1, n do g:write(("%g,%g,%g,%g\n"):format(tc:get(i), yc:get(i), r.model:get(i), r.residuals:get(i))) end
    g:close()
    log("moonlab.plot unavailable: wrote " .. path)
  end
  return { l2 = prev, worst = worst, fit_seconds = r.seconds }
end

local is_main = arg and arg[0] and arg[0]:match("chromatography%.lua$")
if is_main then
  local outdir = arg[1] or "."
  run(outdir, print, function(p, c) print(("figure: %s (%s)"):format(p, c)) end,
    { step = function(what) io.stderr:write("chromatography: ", what, "\n") end })
else
  return run
end
