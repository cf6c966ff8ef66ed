-- moonlab.laplace — numerical inverse Laplace transforms.
-- Six methods (talbot, euler, stehfest, dehoog, weeks, fourier) in C (csrc/laplace);
-- F is a Lua function F(s_re, s_im) -> re, im or a C transform (a LaplaceFn userdata,
-- e.g. from laplace.suite() or chrom.column). See docs/laplace.md.
local core = require "moonlab.core"
local T = require "moonlab.tensor"

local M = {}

--- Method names, in the order of the table in docs/laplace-accuracy.md.
M.methods = { "talbot", "euler", "stehfest", "dehoog", "weeks", "fourier" }

--- f(t) = L^-1[F](t) for a number t or a tensor of times t > 0.
-- opts: method ("dehoog"), M (method default, see M.defaults()), abscissa (F's own, or 0),
-- sigma, b (Weeks; automatic), tol (de Hoog 1e-14, Fourier 1e-8), T (period; automatic),
-- precision ("auto" | "double" | "quad"; auto = quad for euler/stehfest when F is a C transform
-- with a quad evaluator, see F:has_quad(); the default M then is M_quad of M.defaults()),
-- error_estimate (false; true: also returns |f_M - f_M'|, M' ~ 3M/4, per time).
-- Returns f (and the error estimate when asked).
function M.invert(F, t, opts)
  local f, _, err = core.laplace_invert(F, t, opts, false)
  if err then return f, err end
  return f
end

--- Like invert, reusing one set of F values for many times where the method allows
-- (Talbot on common contours, de Hoog per band, Weeks, Fourier). Returns f, the number of F
-- evaluations used (and the error estimate when opts.error_estimate).
function M.invert_many(F, t, opts)
  return core.laplace_invert(F, t, opts, true)
end

--- Default order M and its valid range per method: {talbot = {M=24, M_quad=40, M_min=4, M_max=200}, ...}
-- (M_quad: default when the method runs in quad precision).
function M.defaults() return core.laplace_defaults() end

--- Gaver–Stehfest weights V_1..V_N (computed in long double, returned as doubles).
function M.stehfest_weights(N) return core.laplace_stehfest_weights(N) end

--- Weeks' Laguerre coefficients a_0..a_{N-1} for given (sigma, b).
function M.weeks_coeffs(F, N, sigma, b) return core.laplace_weeks_coeffs(F, N, sigma, b) end

--- Fourier-series inversion on its own grid t_j = j*2T/M (j = 0..n-1), one FFT.
function M.fourier_grid(F, Tp, n, opts) return core.laplace_fourier_grid(F, Tp, n, opts) end

local suite_cache
--- The standard test pairs: list of {name, F_text, kind ("smooth"|"oscillatory"|"jump"),
-- abscissa, F (C transform), exact(t), jump_distance(t)}.
function M.suite()
  if suite_cache then return suite_cache end
  local list = {}
  for i = 1, core.laplace_suite_count() do
    local e = core.laplace_suite_info(i)
    e.index = i
    e.exact = function(t) return core.laplace_suite_exact(i, t) end
    e.jump_distance = function(t) return core.laplace_suite_jumpdist(i, t) end
    list[i] = e
  end
  suite_cache = list
  return list
end

--- Error measure used by the accuracy table and the specs:
-- max over t of |f~ - f| / max(|f(t)|, 1e-2 * max_t |f|), skipping points within
-- 5% of t of a jump. Returns the error and the number of points used.
function M.suite_error(entry, t, f)
  if type(entry) ~= "table" or type(entry.exact) ~= "function" then
    error(("laplace.suite_error: bad argument #1 'entry': expected an entry of laplace.suite(), got %s"):format(type(entry)), 0)
  end
  if not T.is_tensor(t) then error(("laplace.suite_error: bad argument #2 't': expected a tensor, got %s"):format(type(t)), 0) end
  if not T.is_tensor(f) or f:numel() ~= t:numel() then
    error(("laplace.suite_error: bad argument #3 'f': expected a tensor like t (%d values), got %s"):format(t:numel(),
      T.is_tensor(f) and ("%d values"):format(f:numel()) or type(f)), 0)
  end
  local ex = entry.exact(t)
  local jd = entry.jump_distance(t)
  local n = t:numel()
  local fmax = 0
  for i = 1, n do fmax = math.max(fmax, math.abs(ex:get(i))) end
  local worst, used = 0, 0
  for i = 1, n do
    local ti = t:get(i)
    if jd:get(i) > 0.05 * ti then
      local e = ex:get(i)
      local d = math.abs(f:get(i) - e) / math.max(math.abs(e), 1e-2 * fmax)
      if d ~= d then d = math.huge end
      worst = math.max(worst, d)
      used = used + 1
    end
  end
  return worst, used
end

--- The default rating grid: 40 times evenly spaced in [0.5, 10].
function M.rating_grid() return T.linspace(0.5, 10, 40) end

--- Rates a method on the whole suite: list of {name, kind, err} (err = math.huge when the
-- method raised an error, e.g. Talbot on a delay; the message is in .msg).
function M.rate(opts, t, many)
  if opts ~= nil and type(opts) ~= "table" then
    error(("laplace.rate: bad argument #1 'opts': expected an options table, got %s"):format(type(opts)), 0)
  end
  if t ~= nil and not T.is_tensor(t) then
    error(("laplace.rate: bad argument #2 't': expected a tensor of times, got %s"):format(type(t)), 0)
  end
  t = t or M.rating_grid()
  local out = {}
  for i, e in ipairs(M.suite()) do
    local ok, f = pcall(many and M.invert_many or M.invert, e.F, t, opts)
    local err, msg = math.huge, nil
    if ok then err = M.suite_error(e, t, f) else msg = f end
    out[i] = { name = e.name, kind = e.kind, err = err, msg = msg }
  end
  return out
end

return M
