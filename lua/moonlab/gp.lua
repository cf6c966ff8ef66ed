-- moonlab.gp — Gaussian-process regression on energies and gradients, the dimer method and the
-- GPR-accelerated dimer (Goswami et al. 2025, arXiv 2505.12519). Numerics in C (csrc/gp).
-- Conventions: targets are gradients G = dE/dx (not forces); hyperparameters in log space.
-- See docs/gp.md.
local core = require "moonlab.core"
local T = require "moonlab.tensor"

local M = { kernel = {}, potential = {} }

local has_opts, mopts = pcall(require, "moonlab.opts")

local function check(fname, o, keys)
  if o == nil then return {} end
  if type(o) ~= "table" then error(("%s: expected an options table, got %s"):format(fname, type(o)), 3) end
  if has_opts and mopts.check then
    mopts.check(fname, o, keys)
  else
    local ok = {}
    for _, k in ipairs(keys) do ok[k] = true end
    for k in pairs(o) do
      if not ok[k] then error(("unknown option '%s' to %s"):format(tostring(k), fname), 3) end
    end
  end
  return o
end

local function warn(res, fname, msg, quiet)
  res.warnings = res.warnings or {}
  if has_opts and mopts.warn then return mopts.warn(res, fname, msg, quiet) end
  res.warnings[#res.warnings + 1] = msg
  if not quiet and os.getenv("MOONLAB_QUIET") ~= "1" then
    io.stderr:write(("moonlab: %s: %s\n"):format(fname, msg))
  end
end
M._warn = warn

local function positive(fname, name, v)
  if type(v) ~= "number" or not (v > 0) or v == math.huge then
    error(("%s: option '%s' must be a finite number > 0, got %s"):format(fname, name, tostring(v)), 3)
  end
  return v
end

local function lengths(fname, ls, default)
  if ls == nil then return default end
  if type(ls) == "number" then positive(fname, "lengthscales", ls) return ls end
  if type(ls) ~= "table" or #ls == 0 then
    error(("%s: option 'lengthscales' must be a number or a list of numbers > 0"):format(fname), 3)
  end
  for i, v in ipairs(ls) do
    if type(v) ~= "number" or not (v > 0) or v == math.huge then
      error(("%s: option 'lengthscales' element %d must be a finite number > 0, got %s"):format(fname, i, tostring(v)), 3)
    end
  end
  return ls
end

local function finish(k, o)
  if o.fixed then k:set_fixed(true) end
  return k
end

------------------------------------------------------------------------------------------ kernels
--- gp.kernel.se{lengthscales = 1 | {l1, ..., lD}, variance = 1, fixed = false}
function M.kernel.se(o)
  local f = "gp.kernel.se"
  o = check(f, o, { "lengthscales", "variance", "fixed" })
  return finish(core.gp_kernel_stationary("se", positive(f, "variance", o.variance or 1),
    lengths(f, o.lengthscales, 1), 1, f), o)
end

--- gp.kernel.matern{nu = 2.5 | 1.5, lengthscales = 1, variance = 1, fixed = false}
function M.kernel.matern(o)
  local f = "gp.kernel.matern"
  o = check(f, o, { "nu", "lengthscales", "variance", "fixed" })
  local nu = o.nu or 2.5
  if nu ~= 1.5 and nu ~= 2.5 then error(("%s: option 'nu' must be 1.5 or 2.5, got %s"):format(f, tostring(nu)), 2) end
  return finish(core.gp_kernel_stationary(nu == 1.5 and "matern15" or "matern25",
    positive(f, "variance", o.variance or 1), lengths(f, o.lengthscales, 1), 1, f), o)
end

--- gp.kernel.rq{alpha = 1, lengthscales = 1, variance = 1, fixed = false}
function M.kernel.rq(o)
  local f = "gp.kernel.rq"
  o = check(f, o, { "alpha", "lengthscales", "variance", "fixed" })
  return finish(core.gp_kernel_stationary("rq", positive(f, "variance", o.variance or 1),
    lengths(f, o.lengthscales, 1), positive(f, "alpha", o.alpha or 1), f), o)
end

--- gp.kernel.constant{value = 1, fixed = false}
function M.kernel.constant(o)
  local f = "gp.kernel.constant"
  o = check(f, o, { "value", "fixed" })
  return finish(core.gp_kernel_simple(positive(f, "value", o.value or 1), false), o)
end

--- gp.kernel.white{value = 1e-5, fixed = false}: noise on the diagonal of a training matrix
function M.kernel.white(o)
  local f = "gp.kernel.white"
  o = check(f, o, { "value", "fixed" })
  return finish(core.gp_kernel_simple(positive(f, "value", o.value or 1e-5), true), o)
end

--- gp.kernel.inverse_distance{atoms, dim = 3, frozen = nil ([nf, dim] tensor), types = nil
--- (list of atom types, moving then frozen), pair_types = nil (symmetric table of length-scale
--- indices), lengthscales = 1, variance = 1, constant = 1 (fixed sigma_c^2), fixed = false}
function M.kernel.inverse_distance(o)
  local f = "gp.kernel.inverse_distance"
  o = check(f, o, { "atoms", "dim", "frozen", "types", "pair_types", "lengthscales", "variance", "constant", "fixed" })
  if math.type(o.atoms) ~= "integer" or o.atoms < 1 then
    error(("%s: option 'atoms' must be a positive integer, got %s"):format(f, tostring(o.atoms)), 2)
  end
  local dim = o.dim or 3
  if dim ~= 2 and dim ~= 3 then error(("%s: option 'dim' must be 2 or 3, got %s"):format(f, tostring(dim)), 2) end
  if (o.types == nil) ~= (o.pair_types == nil) then
    error(("%s: options 'types' and 'pair_types' go together"):format(f), 2)
  end
  local c = o.constant or 1
  if type(c) ~= "number" or not (c >= 0) or c == math.huge then
    error(("%s: option 'constant' must be a finite number >= 0, got %s"):format(f, tostring(c)), 2)
  end
  return finish(core.gp_kernel_invdist(o.atoms, dim, o.frozen, o.types, o.pair_types,
    lengths(f, o.lengthscales, 1), positive(f, "variance", o.variance or 1), c), o)
end

-- Methods added to every kernel userdata (which also has + and * from C).
local KM = core.gp_kernel_methods()

local function as2d(X)
  if T.is_tensor(X) and #X:shape() == 1 then return X:reshape { 1, X:numel() } end
  return X
end

--- kernel:matrix(X, X2 = X, {derivatives = false}) -> K (joint energy+gradient covariance with
--- derivatives: each point contributes 1 + D rows [E, dE/dx_1..D])
function KM.matrix(self, X, X2, o)
  if type(X2) == "table" and not T.is_tensor(X2) then X2, o = nil, X2 end
  o = check("kernel:matrix", o, { "derivatives" })
  return self:matrix_raw(as2d(X), X2 and as2d(X2) or nil, o.derivatives and true or false)
end

--- kernel:params() -> list of log-hyperparameters; also names, fixed flags
function KM.params(self) return self:params_raw() end

--- kernel:set_params(theta) sets the log-hyperparameters (returns the kernel)
function KM.set_params(self, theta) return self:set_params_raw(theta) end

------------------------------------------------------------------------------------------ GP
local GP = {}
GP.__index = GP

local function prior_flat(fname, p)
  if p == false then return { use = false } end
  if p == nil then return { use = true } end
  check(fname .. " prior", p, { "magnitude", "lengthscale" })
  local m = check(fname .. " prior.magnitude", p.magnitude, { "nu", "mu", "scale" })
  local l = check(fname .. " prior.lengthscale", p.lengthscale, { "mu", "scale" })
  return { use = true, mag_nu = m.nu, mag_mu = m.mu, mag_scale = m.scale, len_mu = l.mu, len_scale = l.scale }
end
M._prior_flat = prior_flat

--- gp.GP{kernel, noise = 1e-5, mean = "zero" | "constant"}
function M.GP(o)
  local f = "gp.GP"
  o = check(f, o, { "kernel", "noise", "mean" })
  if has_opts and mopts.need then mopts.need(f, o, "kernel")
  elseif o.kernel == nil then error(f .. ": missing required option 'kernel'", 2) end
  if getmetatable(o.kernel) == nil or type(o.kernel.matrix_raw) ~= "function" then
    error(("%s: option 'kernel' must be a gp kernel, got %s"):format(f, type(o.kernel)), 2)
  end
  local noise = o.noise or 1e-5
  if type(noise) ~= "number" or not (noise >= 0) or noise == math.huge then
    error(("%s: option 'noise' must be a finite number >= 0, got %s"):format(f, tostring(noise)), 2)
  end
  local mean = o.mean or "zero"
  if mean ~= "zero" and mean ~= "constant" then
    error(("%s: option 'mean' must be 'zero' or 'constant', got %s"):format(f, tostring(mean)), 2)
  end
  return setmetatable({ kernel0 = o.kernel:clone(), noise = noise, mean = mean }, GP)
end

local function cgp(self, D)
  if self.c and self.D ~= D then
    error(("gp.GP: the GP holds %d-dimensional points, got %d"):format(self.D, D), 3)
  end
  if not self.c then
    self.c = core.gp_new(self.kernel0, D, self.noise, self.mean == "constant")
    self.D = D
  end
  return self.c
end

local function need(self, fname)
  if not self.c then error(fname .. ": the GP has no data: call fit first", 3) end
  return self.c
end

local function dimof(fname, X)
  if not T.is_tensor(X) or #X:shape() ~= 2 then
    error(("%s: bad argument #1 'X': expected a [n,D] tensor, got %s"):format(fname,
      T.is_tensor(X) and ("[" .. table.concat(X:shape(), ",") .. "]") or type(X)), 3)
  end
  return X:shape()[2]
end

--- gp:fit(X [n,D], E [n], G [n,D] | nil) -> gp  (energy-only when G is nil)
function GP:fit(X, E, G)
  local c = cgp(self, dimof("gp.GP:fit", X))
  c:fit(X, E, G)
  return self
end

--- gp:add(X, E, G) -> gp: new data with unchanged hyperparameters (rank-k Cholesky extension)
function GP:add(X, E, G)
  local c = cgp(self, dimof("gp.GP:add", X))
  c:add(X, E, G)
  return self
end

--- gp:lml({gradient = false}) -> lml, grad (list, d lml / d log-parameter)
function GP:lml(o)
  o = check("gp.GP:lml", o, { "gradient" })
  return need(self, "gp.GP:lml"):lml(o.gradient and true or false)
end

--- gp:predict(Xs [m,D] or [D], {variance = false, gradient = false}) -> {energy, variance, gradient, gradient_variance}
function GP:predict(Xs, o)
  o = check("gp.GP:predict", o, { "variance", "gradient" })
  local c = need(self, "gp.GP:predict")
  local E, Ev, G, Gv = c:predict_raw(as2d(Xs), o.variance and true or false, o.gradient and true or false)
  return { energy = E, variance = Ev, gradient = G, gradient_variance = Gv }
end

--- gp:optimize{prior = {magnitude = {nu = 3, mu = start, scale = 1}, lengthscale = {mu = start,
--- scale = 1}} | false, maxit = 200, restarts = 0, seed = 0, xtol = 1e-8, bound = 10, quiet = false}
--- -> {objective, lml, params, converged, reason, iterations, warnings}
function GP:optimize(o)
  local f = "gp.GP:optimize"
  o = check(f, o, { "prior", "maxit", "restarts", "seed", "xtol", "bound", "quiet" })
  local c = need(self, f)
  local r = c:optimize_raw({ maxit = o.maxit, restarts = o.restarts, seed = o.seed, xtol = o.xtol, bound = o.bound },
    prior_flat(f, o.prior), o.quiet and true or false)
  r.warnings = {}
  r.params = (c:kernel():params())
  if not r.converged then warn(r, "gp.optimize", ("did not converge (%s after %d evaluations)"):format(r.reason, r.iterations), o.quiet) end
  local info = c:info()
  if info.jitter > 0 then warn(r, "gp.optimize", ("Cholesky needed jitter %.3g"):format(info.jitter), o.quiet) end
  return r
end

--- gp:params() -> log-hyperparameters, names, fixed flags; gp:set_params(theta) refits
function GP:params() return (self.c and self.c:kernel() or self.kernel0):params() end
function GP:set_params(theta)
  if self.c then self.c:set_params_raw(theta) else self.kernel0:set_params(theta) end
  return self
end
--- gp:kernel() -> a copy of the current kernel
function GP:kernel() return self.c and self.c:kernel() or self.kernel0:clone() end
--- gp:info() -> {n, D, jitter (absolute jitter the last factorisation needed), gradients, mean}
function GP:info() return self.c and self.c:info() or { n = 0, jitter = 0 } end

------------------------------------------------------------------------------------------ potentials
--- gp.potential.muller_brown(), gp.potential.leps(): 2-D test surfaces
function M.potential.muller_brown() return core.gp_pot_builtin("muller_brown") end
function M.potential.leps() return core.gp_pot_builtin("leps") end

--- gp.potential.lj{n = 7, dim = 3}: Lennard-Jones cluster (epsilon = sigma = 1), a free cluster
function M.potential.lj(o)
  o = check("gp.potential.lj", o, { "n", "dim" })
  return core.gp_pot_lj(o.n or 7, o.dim or 3)
end

--- Frozen fcc(111) slab under a hexagonal heptamer (the optbench.org Pt heptamer geometry,
--- Morse parameters De = 0.7102 eV, a = 1.6047 1/Å, r0 = 2.897 Å).
local function heptamer_geometry(o)
  local r0 = o.r0
  local nx, ny, layers = o.slab[1], o.slab[2], o.slab[3]
  local dz = r0 * math.sqrt(2 / 3)
  local fr = {}
  local shifts = { { 0, 0 }, { 0.5, math.sqrt(3) / 6 }, { 1.0, math.sqrt(3) / 3 } }
  for l = 1, layers do
    local sh = shifts[(l - 1) % 3 + 1]
    for j = 0, ny - 1 do
      for i = 0, nx - 1 do
        local x = (i + 0.5 * j + sh[1]) * r0 - (nx + 0.5 * ny) * r0 / 2
        local y = (j * math.sqrt(3) / 2 + sh[2]) * r0 - ny * r0 * math.sqrt(3) / 4
        fr[#fr + 1] = { x, y, -(l - 1) * dz }
      end
    end
  end
  -- the adatoms sit in hollow sites above the top layer: a centre and its six neighbours
  local top = fr[1]
  local best, cx, cy = math.huge, 0, 0
  for _, p in ipairs(fr) do
    if p[3] == 0 then
      local d = p[1] ^ 2 + p[2] ^ 2
      if d < best then best, cx, cy = d, p[1], p[2] end
    end
  end
  _ = top
  local h = { { cx + 0.5 * r0, cy + r0 * math.sqrt(3) / 6 } }
  for k = 0, 5 do
    local a = k * math.pi / 3
    h[#h + 1] = { h[1][1] + r0 * math.cos(a), h[1][2] + r0 * math.sin(a) }
  end
  local ad = {}
  for _, p in ipairs(h) do ad[#ad + 1] = p[1]; ad[#ad + 1] = p[2]; ad[#ad + 1] = dz end
  return fr, ad
end

--- gp.potential.morse{atoms = 7, frozen = [nf,3] | nil (the default slab), De = 0.7102,
--- a = 1.6047, r0 = 2.897, cutoff = 9.5, slab = {8, 8, 2}} -> potential, x0 (heptamer start)
--- The energy leaves out the frozen-frozen pairs (a constant).
function M.potential.morse(o)
  local f = "gp.potential.morse"
  o = check(f, o, { "atoms", "frozen", "De", "a", "r0", "cutoff", "slab" })
  local r0 = o.r0 or 2.897
  local frozen, x0 = o.frozen, nil
  local atoms = o.atoms or 7
  if frozen == nil then
    local fr, ad = heptamer_geometry { r0 = r0, slab = o.slab or { 8, 8, 2 } }
    frozen = T.new(fr)
    if atoms == 7 then x0 = T.new(ad) end
  end
  local p = core.gp_pot_morse(atoms, frozen, o.De or 0.7102, o.a or 1.6047, r0, o.cutoff or 9.5)
  return p, x0, frozen
end

--- gp.potential.fn(function(x) return E, G end, {dim, atoms = 0, atom_dim = 3, rigid = false}):
--- a Lua potential with a call counter (pot:calls()); G is a [D] tensor or a list.
function M.potential.fn(fn, o)
  local f = "gp.potential.fn"
  if type(fn) ~= "function" then error(("%s: bad argument #1 'fn': expected a function, got %s"):format(f, type(fn)), 2) end
  o = check(f, o, { "dim", "atoms", "atom_dim", "rigid" })
  if math.type(o.dim) ~= "integer" then error(("%s: option 'dim' must be an integer, got %s"):format(f, tostring(o.dim)), 2) end
  local na = o.atoms or 0
  return core.gp_pot_lua(fn, o.dim, na, (type(na) ~= "number" or na > 0) and (o.atom_dim or 3) or 0, o.rigid and true or false)
end

------------------------------------------------------------------------------------------ searches
local dimer_keys = { "delta", "gtol", "max_rot", "rot_tol", "memory", "max_step", "convex_step", "lbfgs_init",
  "maxit", "max_calls", "rigid", "quiet" }

local function result(fname, r, o, calls_key)
  r.warnings = r.warnings or {}
  if not r.converged then
    warn(r, fname, ("did not converge (%s after %d iterations, %d calls)"):format(r.reason, r.iterations, r.calls), o.quiet)
  end
  _ = calls_key
  return r
end

--- gp.dimer(pot, x0, mode0, opts) -> {x, energy, calls, converged, reason, iterations, warnings,
--- curvature, mode, path = {x [k,D], energy [k]}}. Options and defaults in docs/gp.md.
function M.dimer(pot, x0, mode0, o)
  o = check("gp.dimer", o, dimer_keys)
  return result("gp.dimer", core.gp_dimer(pot, x0, mode0, o), o)
end

local gpr_keys = { "noise", "max_outer", "trust_radius", "ratio_lo", "ratio_hi", "inner_maxit", "hyper_maxit",
  "hyper_every", "hyper_points", "hyper_select", "anchor_prior", "init_rot", "init_rot_tol", "trust_adapt", "reject", "reject_tol", "length_floor", "restarts", "seed", "kernel", "prior" }
for _, k in ipairs(dimer_keys) do gpr_keys[#gpr_keys + 1] = k end

--- The default kernel of gpr_dimer for a potential: inverse-distance for atoms (one pair type),
--- squared exponential plus a fixed constant sigma_c^2 in Cartesian coordinates otherwise.
local function checkpot(fname, pot)
  if type(pot) ~= "userdata" or type(pot.info) ~= "function" then
    error(("%s: bad argument #1 'pot': expected a gp potential, got %s"):format(fname, type(pot)), 3)
  end
  return pot
end

function M.default_kernel(pot)
  local info = checkpot("gp.default_kernel", pot):info()
  if info.atoms > 0 and info.atom_dim > 0 then
    return M.kernel.inverse_distance { atoms = info.atoms, dim = info.atom_dim, lengthscales = 0.5, variance = 1 }
  end
  return M.kernel.se { lengthscales = 0.3, variance = 100 } + M.kernel.constant { value = 1, fixed = true }
end

--- gp.gpr_dimer(pot, x0, mode0, opts) -> like gp.dimer (calls = true evaluations) plus seconds =
--- {fit, hyper, dimer}. opts: the dimer's (for the surrogate; rot_tol 0.01 rad) and kernel, noise =
--- 1e-5, max_outer = 300, trust_radius = 0.2, ratio_lo = 2/3, ratio_hi = 3/2, inner_maxit = 200,
--- hyper_maxit = 100, restarts = 0, seed = 0, prior (as gp:optimize); safeguards (docs/gp.md):
--- length_floor = 1 / trust_adapt = true / reject = true for inverse-distance kernels (0 / false /
--- false otherwise), reject_tol = 0.5, init_rot = 0, init_rot_tol = 5 degrees (radians).
function M.gpr_dimer(pot, x0, mode0, o)
  local f = "gp.gpr_dimer"
  checkpot(f, pot)
  o = check(f, o, gpr_keys)
  local k = o.kernel or M.default_kernel(pot)
  return result(f, core.gp_gpr_dimer(pot, k, x0, mode0, o, prior_flat(f, o.prior)), o)
end

--- gp.hessian(pot, x, {h = 1e-4, rigid = pot's}) -> {H, eigenvalues, eigenvectors, negative}
--- (rigid: translations and rotations of a free cluster projected out and left out of eigenvalues)
function M.hessian(pot, x, o)
  o = check("gp.hessian", o, { "h", "rigid" })
  local H, ev, vec, nev = core.gp_hessian(pot, x, o.h, o.rigid)
  local vals, neg = {}, 0
  local scale = 0
  for i = 1, nev do scale = math.max(scale, math.abs(ev:get(i))) end
  for i = 1, nev do
    vals[i] = ev:get(i)
    if vals[i] < -1e-6 * scale then neg = neg + 1 end
  end
  return { H = H, eigenvalues = vals, eigenvectors = vec, negative = neg }
end

--- gp.minimize(pot, x0, {gtol = 1e-6, maxit = 10000, quiet}) -> {x, energy, converged, reason, iterations, calls, warnings}
function M.minimize(pot, x0, o)
  local f = "gp.minimize"
  o = check(f, o, { "gtol", "maxit", "quiet" })
  local x, E, conv, reason, it, calls = core.gp_minimize(pot, x0, o.gtol or 1e-6, o.maxit or 10000, o.quiet and true or false)
  local r = { x = x, energy = E, converged = conv, reason = reason, iterations = it, calls = calls, warnings = {} }
  return result(f, r, o)
end

--- Published Müller–Brown stationary points (Müller & Brown 1979).
M.muller_brown_points = {
  minima = { { -0.558224, 1.441726, -146.700 }, { 0.623499, 0.028038, -108.167 } },
  saddles = { { -0.822002, 0.624313, -40.665 }, { 0.212487, 0.292988, -72.249 } },
}

return M
