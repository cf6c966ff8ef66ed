-- Tour section: numerical Laplace inversion and the gas-chromatography column (moonlab.laplace, moonlab.chrom).
local T = require "moonlab.tensor"
local L = require "moonlab.laplace"

return function(ctx)
  local root = os.getenv("MOONLAB_ROOT") or "."
  local quiet = os.getenv("MOONLAB_QUIET")
  local k = 0
  local function step(what) -- one line of progress per step on stderr
    k = k + 1
    if not (quiet and quiet ~= "" and quiet ~= "0") then io.stderr:write(("   laplace step %d: %s\n"):format(k, what)) end
  end
  step("rating the six methods on the 21-pair suite")
  -- 1. the suite: worst error per method and kind
  local rows = { "| method | smooth | oscillatory | H(t-1) |", "|---|---:|---:|---:|" }
  for _, m in ipairs(L.methods) do
    local w = { smooth = 0, oscillatory = 0 }
    local jump_err
    for _, r in ipairs(L.rate({ method = m })) do
      if w[r.kind] then w[r.kind] = math.max(w[r.kind], r.err) end
      if r.name == "H(t-1)" then jump_err = r.err end
    end
    local function f(e) return e >= 1 and ">1" or ("%.0e"):format(e) end
    local label = (m == "euler" or m == "stehfest") and (m .. " (quad F)") or m
    rows[#rows + 1] = ("| %s | %s | %s | %s |"):format(label, f(w.smooth), f(w.oscillatory), f(jump_err))
  end
  ctx.log(("Worst relative error on the %d-pair suite (40 times in [0.5, 10]; full table in docs/laplace-accuracy.md):"):format(#L.suite()))
  ctx.log(table.concat(rows, "\n"))
  ctx.log("Euler and Gaver-Stehfest evaluate the suite's C transforms in quad precision by default (precision = \"auto\"); a Lua function F runs them in double.")
  -- 2. a Lua-function transform, the default method with its error estimate, and invert_many
  step("a Lua-function transform: default method, error estimate, shared F values")
  local function F(re, im) -- 1/(s^2+1)
    local ar, ai = re * re - im * im + 1, 2 * re * im
    local d = ar * ar + ai * ai
    return ar / d, -ai / d
  end
  local t = T.linspace(0.1, 10, 500)
  local f1, est = L.invert(F, t, { error_estimate = true })
  ctx.log(("`laplace.invert` with the default method (de Hoog, M = 24) on F(s) = 1/(s^2+1): max |f - sin t| = %.1e; "
    .. "`error_estimate = true` (|f_24 - f_18|) says at most %.1e."):format((f1 - t:sin()):abs():max(), est:max()))
  local f, nev = L.invert_many(F, t, { method = "dehoog" })
  ctx.log(("A Lua function F(s) = 1/(s^2+1) inverted at 500 times with %d calls of F (de Hoog, shared per band): max |f - sin t| = %.1e."):format(
    nev, (f - t:sin()):abs():max()))
  -- 3. the chromatography example (coarser grids to keep the tour short)
  step("chromatography: Laplace outlet against the finite-volume PDE solver (nx = 200, 400, 800)")
  local run = assert(loadfile(root .. "/examples/chromatography.lua"))()
  run(ctx.outdir, ctx.log, ctx.figure, { grids = { 200, 400, 800 }, step = step })
end
