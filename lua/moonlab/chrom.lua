-- moonlab.chrom — the gas-chromatography column model of "Mathematical modelling of flow and
-- adsorption in a gas chromatograph": transfer function in Laplace space (C transform),
-- outlet/profile by inversion, moments, the full-PDE finite-volume solver, least-squares
-- fitting of (Da, kappa, amplitude) per analyte, CSV reading. See docs/chrom.md.
local core = require "moonlab.core"
local T = require "moonlab.tensor"
local laplace = require "moonlab.laplace"
local opts_ = require "moonlab.opts"

local M = {}

local function argerr(fname, n, name, fmt, ...)
  error(("%s: bad argument #%d '%s': " .. fmt):format(fname, n, name, ...), 0)
end

local function num(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end

local function fmtv(v) return type(v) == "number" and ("%.17g"):format(v):gsub("^%-?nan$", "nan") or tostring(v) end

local column_keys = { "Da", "kappa", "Pe", "velocity", "injection" }
local inj_keys = { "kind", "width", "t0", "t", "c" }

-- Copies a list (table or tensor) of finite numbers; never trusts __len or __index.
local function numlist(fname, what, v)
  if T.is_tensor(v) then v = v:totable() end
  if type(v) ~= "table" then argerr(fname, 1, "injection", "%s must be a list or tensor of numbers, got %s", what, type(v)) end
  local out, n = {}, 0
  while true do
    local x = rawget(v, n + 1)
    if x == nil then break end
    if not num(x) then argerr(fname, 1, "injection", "%s[%d] = %s, expected a finite number", what, n + 1, fmtv(x)) end
    n = n + 1
    if n > 10000000 then argerr(fname, 1, "injection", "%s has more than 1e7 points", what) end
    out[n] = x
  end
  return out
end

-- Validates a column spec and returns a fresh flat table that only the C side reads
-- (it is never handed to user code).
local function flatten(spec, fname)
  if type(spec) ~= "table" then argerr(fname, 1, "spec", "expected a table, got %s", type(spec)) end
  opts_.check(fname, spec, column_keys, -1)
  if spec.Da == nil then argerr(fname, 1, "Da", "missing (a number >= 0)") end
  if spec.kappa == nil then argerr(fname, 1, "kappa", "missing (a number > 0)") end
  if not num(spec.Da) or spec.Da < 0 then argerr(fname, 1, "Da", "expected a number >= 0, got %s", fmtv(spec.Da)) end
  if not num(spec.kappa) or spec.kappa <= 0 then argerr(fname, 1, "kappa", "expected a number > 0, got %s", fmtv(spec.kappa)) end
  if spec.Pe ~= nil and (not num(spec.Pe) or spec.Pe <= 0) then
    argerr(fname, 1, "Pe", "expected nil (no dispersion) or a number > 0, got %s", fmtv(spec.Pe))
  end
  local P = 1
  local v = spec.velocity or "constant"
  if type(v) == "table" then
    for k in pairs(v) do
      if k ~= 1 and k ~= 2 and k ~= "inlet_pressure" and k ~= "outlet_pressure" then
        local s = type(k) == "string" and opts_.suggest(k, { "inlet_pressure", "outlet_pressure" })
        error(("unknown option 'velocity.%s' to %s%s"):format(tostring(k), fname, s and (" (did you mean '%s'?)"):format(s) or ""), 0)
      end
    end
    local pin, pout = rawget(v, "inlet_pressure") or rawget(v, 1), rawget(v, "outlet_pressure") or rawget(v, 2)
    if not num(pin) or not num(pout) or pout <= 0 or pin < pout then
      argerr(fname, 1, "velocity", "expected {inlet_pressure, outlet_pressure} with inlet >= outlet > 0, got {%s, %s}", fmtv(pin), fmtv(pout))
    end
    P = pin / pout
    if spec.Pe and P > 1 then argerr(fname, 1, "Pe", "dispersion with compressible flow is not supported") end
  elseif v ~= "constant" then
    argerr(fname, 1, "velocity", "expected \"constant\" or {inlet_pressure, outlet_pressure}, got %s", fmtv(v))
  end
  local inj = spec.injection or { kind = "pulse", width = 0.05 }
  if type(inj) ~= "table" then argerr(fname, 1, "injection", "expected a table {kind=...}, got %s", type(inj)) end
  opts_.check(fname .. " injection", inj, inj_keys, -1)
  local flat = { Da = spec.Da, kappa = spec.kappa, Pe = spec.Pe or 0, P = P, injection = inj.kind or "pulse" }
  if flat.injection == "pulse" or flat.injection == "gaussian" then
    local w = inj.width or 0.05
    if not num(w) or w <= 0 then argerr(fname, 1, "injection.width", "expected a number > 0, got %s", fmtv(w)) end
    flat.width = w
    if flat.injection == "gaussian" then
      local t0 = inj.t0 or 5 * w
      if not num(t0) or t0 < 5 * w then argerr(fname, 1, "injection.t0", "expected a number >= 5*width = %g, got %s", 5 * w, fmtv(t0)) end
      flat.t0 = t0
    end
  elseif flat.injection == "data" then
    local tt, cc = numlist(fname, "t", inj.t), numlist(fname, "c", inj.c)
    if #tt ~= #cc or #tt < 2 then
      argerr(fname, 1, "injection", "kind \"data\" needs t and c of equal length >= 2, got %d and %d", #tt, #cc)
    end
    for i = 1, #tt do
      if tt[i] < 0 or (i > 1 and tt[i] <= tt[i - 1]) then
        argerr(fname, 1, "injection", "data point %d: expected increasing times >= 0, got %s", i, fmtv(tt[i]))
      end
    end
    flat.inj_t, flat.inj_c = tt, cc
  else
    argerr(fname, 1, "injection.kind", "expected \"pulse\", \"gaussian\" or \"data\", got %s", fmtv(inj.kind))
  end
  return flat
end

-- column -> its flat parameter table (weak keys: private to this module)
local flat_of = setmetatable({}, { __mode = "k" })

local Column = {}
Column.__index = Column
core.public_methods("chrom.column", Column)
Column.__tostring = function(c)
  local f = flat_of[c]
  return ("chrom.column{Da=%g, kappa=%g, Pe=%s, P=%g, injection=%s}"):format(c.Da, c.kappa,
    tostring(c.Pe), f.P, f.injection)
end

--- Column model for one analyte. spec: Da (>= 0), kappa (> 0), Pe (nil = no dispersion),
-- velocity ("constant" | {inlet_pressure, outlet_pressure}), injection ({kind="pulse", width=0.05}
-- | {kind="gaussian", width=, t0=5*width} | {kind="data", t=, c=}). Times are in units of the
-- hold-up time, positions in units of the column length.
function M.column(spec)
  local flat = flatten(spec, "chrom.column")
  local col = setmetatable({ Da = spec.Da, kappa = spec.kappa, Pe = spec.Pe }, Column)
  flat_of[col] = flat
  col.F = core.chrom_transfer(flat, 1)
  return col
end

local function self_check(fname, col)
  if getmetatable(col) ~= Column or not flat_of[col] then
    argerr(fname, 1, "col", "expected a chrom.column (call it as col:method(...)), got %s", type(col))
  end
  return flat_of[col]
end

local function check_x(fname, n, x)
  if not num(x) or x <= 0 or x > 1 then argerr(fname, n, "x", "expected a position 0 < x <= 1, got %s", fmtv(x)) end
end

--- The transfer function C(x, s) at position x as a C transform (LaplaceFn).
function Column:transfer(x)
  local flat = self_check("chrom.transfer", self)
  if x ~= nil then check_x("chrom.transfer", 1, x) end
  return core.chrom_transfer(flat, x or 1)
end

local function inv_opts(fname, n, opts)
  if opts ~= nil and type(opts) ~= "table" then argerr(fname, n, "opts", "expected an options table, got %s", type(opts)) end
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.method = o.method or "dehoog"
  return o
end

-- Calls a laplace function; its errors are reported under the public name fname.
local function as(fname, fn, ...)
  local r = table.pack(pcall(fn, ...))
  if not r[1] then
    local msg = tostring(r[2]):gsub("laplace%.invert_many", fname, 1):gsub("laplace%.invert", fname, 1)
    error(msg, 0)
  end
  return table.unpack(r, 2, r.n)
end

local function check_times(fname, n, t)
  if type(t) == "number" then
    if not (t > 0) or not num(t) then argerr(fname, n, "t", "expected a finite time > 0, got %s", fmtv(t)) end
  elseif not T.is_tensor(t) then
    argerr(fname, n, "t", "expected a number or a tensor of times > 0, got %s", type(t))
  end
end

--- Outlet concentration at time(s) t (> 0). Without opts (<= 1e-11 relative to the peak): the Fourier
-- series summed by one FFT when t is a uniform grid and the injection Gaussian; otherwise without
-- dispersion the closed-form impulse response integrated over the inlet, with dispersion de Hoog
-- (invert_many, M = 40); with opts: laplace.invert_many with those options (method default "dehoog").
function Column:outlet(t, opts)
  local flat = self_check("chrom.outlet", self)
  check_times("chrom.outlet", 1, t)
  if opts ~= nil and type(opts) ~= "table" then argerr("chrom.outlet", 2, "opts", "expected an options table, got %s", type(opts)) end
  if opts == nil or next(opts) == nil then
    if type(t) == "number" then return core.chrom_outlet(flat, T.new { t }):get(1) end
    return core.chrom_outlet(flat, t)
  end
  return (as("chrom.outlet", laplace.invert_many, self.F, t, inv_opts("chrom.outlet", 2, opts)))
end

--- Concentration inside the column at position(s) x (number or tensor) at time t.
function Column:profile(x, t, opts)
  local flat = self_check("chrom.profile", self)
  if type(t) ~= "number" or not (t > 0) or not num(t) then argerr("chrom.profile", 2, "t", "expected a finite time > 0, got %s", fmtv(t)) end
  local o = inv_opts("chrom.profile", 3, opts)
  if type(x) == "number" then
    check_x("chrom.profile", 1, x)
    return (as("chrom.profile", laplace.invert, core.chrom_transfer(flat, x), t, o))
  end
  if not T.is_tensor(x) then argerr("chrom.profile", 1, "x", "expected a number or a tensor of positions, got %s", type(x)) end
  local n = x:numel()
  local out, xf = T.zeros({ n }), x:reshape({ n })
  for i = 1, n do
    local xi = xf:get(i)
    check_x("chrom.profile", 1, xi)
    out:set(i, (as("chrom.profile", laplace.invert, core.chrom_transfer(flat, xi), t, o)))
  end
  return out:reshape(x:shape())
end

--- {mass, mean, variance} of the outlet response (or at position x), from the Taylor
-- coefficients of the transfer function at s = 0.
function Column:moments(x)
  local flat = self_check("chrom.moments", self)
  if x ~= nil then check_x("chrom.moments", 1, x) end
  local m0, mu, var = core.chrom_moments(flat, x or 1)
  return { mass = m0, mean = mu, variance = var }
end

--- Inlet concentration c_in(t).
function Column:inlet(t)
  local flat = self_check("chrom.inlet", self)
  if not num(t) then argerr("chrom.inlet", 1, "t", "expected a finite number, got %s", fmtv(t)) end
  return core.chrom_inlet(flat, t)
end

local fd_keys = { "t", "t_end", "nt", "nx", "dt", "cfl", "scheme", "kinetics", "max_work", "quiet" }

--- Full-PDE finite-volume solution. opts: t (tensor of output times) or t_end (default
-- mean + 6 sd) and nt (400); nx (400), dt (0 = from cfl), cfl (0.4), scheme ("koren" |
-- "upwind" | "kappa3"), kinetics ("auto"), max_work (2e10 cell updates; 0 = no limit), quiet.
-- Returns {t=, c= (outlet), profile= (cells at the last time), seconds=}.
function M.solve_fd(col, opts)
  local fname = "chrom.solve_fd"
  if getmetatable(col) ~= Column then argerr(fname, 1, "col", "expected a chrom.column, got %s", type(col)) end
  opts = opts or {}
  if type(opts) ~= "table" then argerr(fname, 2, "opts", "expected an options table, got %s", type(opts)) end
  opts_.check(fname, opts, fd_keys, -1)
  local fo, t = {}, opts.t
  for _, k in ipairs { "nx", "dt", "cfl", "scheme", "kinetics", "max_work", "quiet" } do fo[k] = opts[k] end
  if t == nil then
    local m = col:moments()
    local t_end = opts.t_end or (m.mean + 6 * math.sqrt(m.variance))
    local nt = opts.nt or 400
    if not num(t_end) or t_end <= 0 then argerr(fname, 2, "opts.t_end", "expected a finite time > 0, got %s", fmtv(t_end)) end
    if math.type(nt) ~= "integer" or nt < 1 or nt > 1e8 then argerr(fname, 2, "opts.nt", "expected an integer in [1, 1e8], got %s", fmtv(nt)) end
    t = T.linspace(t_end / nt, t_end, nt)
  elseif not T.is_tensor(t) then
    argerr(fname, 2, "opts.t", "expected a tensor of output times, got %s", type(t))
  end
  local c, prof, secs = core.chrom_fd(flat_of[col], t, fo)
  return { t = t, c = c, profile = prof, seconds = secs }
end

local fit_keys = { "analytes", "column", "fit_scale", "fit_hold", "t_hold", "use_fd", "nx", "scheme",
  "max_iter", "tol", "method", "M", "noise", "quiet" }
local analyte_keys = { "Da", "kappa", "A", "name" }

-- Parameter vector and opts for the C fit from the analyte list.
local function pack(fname, opts, fit_scale)
  local an = opts.analytes
  if type(an) ~= "table" or rawget(an, 1) == nil then
    argerr(fname, 3, "opts.analytes", "expected a list of initial guesses {Da=, kappa=, A=}, got %s", type(an))
  end
  local p, A, K = {}, {}, 0
  while rawget(an, K + 1) ~= nil do
    K = K + 1
    if K > 64 then argerr(fname, 3, "opts.analytes", "expected at most 64 analytes") end
    local a = rawget(an, K)
    if type(a) ~= "table" then argerr(fname, 3, "opts.analytes", "analyte %d: expected a table {Da=, kappa=, A=}, got %s", K, type(a)) end
    opts_.check(("%s analyte %d"):format(fname, K), a, analyte_keys, -1)
    if not num(a.Da) or a.Da < 0 then argerr(fname, 3, "opts.analytes", "analyte %d: Da = %s, expected a number >= 0", K, fmtv(a.Da)) end
    if not num(a.kappa) or a.kappa <= 0 then argerr(fname, 3, "opts.analytes", "analyte %d: kappa = %s, expected a number > 0", K, fmtv(a.kappa)) end
    if a.A ~= nil and not num(a.A) then argerr(fname, 3, "opts.analytes", "analyte %d: A = %s, expected a finite number", K, fmtv(a.A)) end
    p[#p + 1], p[#p + 2] = a.Da, a.kappa
    A[K] = a.A or 1
    if fit_scale then p[#p + 1] = A[K] end
  end
  local th = opts.t_hold or 1
  if not num(th) or th <= 0 then argerr(fname, 3, "opts.t_hold", "expected a finite number > 0, got %s", fmtv(th)) end
  if opts.fit_hold then p[#p + 1] = th end
  local base = opts.column
  if base == nil then base = { Da = 1, kappa = 1 } end
  local flat
  if getmetatable(base) == Column then flat = flat_of[base]
  elseif type(base) == "table" then
    local spec = {}
    for k, v in pairs(base) do spec[k] = v end
    spec.Da, spec.kappa = spec.Da or 1, spec.kappa or 1
    flat = flatten(spec, fname)
  else
    argerr(fname, 3, "opts.column", "expected a chrom.column or a column spec table, got %s", type(base))
  end
  local co = { A = A, fit_scale = fit_scale }
  for _, k in ipairs { "fit_hold", "t_hold", "use_fd", "nx", "scheme", "max_iter", "tol", "method", "M", "quiet" } do
    co[k] = opts[k]
  end
  return flat, K, p, co
end

local function check_opts(fname, opts)
  if type(opts) ~= "table" then argerr(fname, 3, "opts", "expected an options table with analytes, got %s", type(opts)) end
  opts_.check(fname, opts, fit_keys, -1)
  for _, k in ipairs { "fit_scale", "fit_hold", "use_fd", "quiet" } do
    if opts[k] ~= nil and type(opts[k]) ~= "boolean" then
      argerr(fname, 3, "opts." .. k, "expected a boolean, got %s", type(opts[k]))
    end
  end
  if opts.noise ~= nil and (not num(opts.noise) or opts.noise <= 0) then
    argerr(fname, 3, "opts.noise", "expected the noise standard deviation (a number > 0), got %s", fmtv(opts.noise))
  end
end

local function check_data(fname, t, signal, need_signal)
  if not T.is_tensor(t) then argerr(fname, 1, "t", "expected a tensor of times, got %s", type(t)) end
  if (need_signal or signal ~= nil) and not T.is_tensor(signal) then
    argerr(fname, 2, "signal", "expected a tensor, got %s", type(signal))
  end
  if signal ~= nil and signal:numel() ~= t:numel() then
    argerr(fname, 2, "signal", "expected %d values like t, got %d", t:numel(), signal:numel())
  end
end

--- Fits Da, kappa and the amplitude A of every analyte (and the hold-up time when asked) to a
-- chromatogram. opts: analytes = {{Da=, kappa=, A=}, ...} (initial guesses), column = spec or
-- chrom.column (injection, Pe, velocity), fit_scale (true), fit_hold (false), t_hold (1), use_fd
-- (false), nx/scheme (FD model), method/M (inversion; default: the Fourier series on uniform
-- grids with a Gaussian injection, else de Hoog), max_iter (100), tol (1e-10), noise (the noise
-- sd if known; else estimated), quiet (false).
-- Returns {analytes = {{Da=, kappa=, A=, se = {Da=, kappa=, A=}}, ...}, t_hold=, t_hold_se=,
-- residuals=, model=, converged=, reason=, iterations=, warnings=, ssr=, rms=, noise=,
-- noise_source=, seconds=, model_method=}.
function M.fit(t, signal, opts)
  local fname = "chrom.fit"
  check_data(fname, t, signal, true)
  check_opts(fname, opts)
  local fit_scale = opts.fit_scale ~= false
  local flat, K, p, co = pack(fname, opts, fit_scale)
  local est, se, resid, info = core.chrom_fit(flat, K, t, signal, p, co)
  local res = { analytes = {}, residuals = resid, iterations = info.iterations, ssr = info.ssr,
    seconds = info.seconds, converged = info.converged, reason = info.reason,
    model_method = info.model_method, warnings = {} }
  local per = fit_scale and 3 or 2
  for k = 1, K do
    local i = (k - 1) * per
    local a = { Da = est[i + 1], kappa = est[i + 2], se = { Da = se[i + 1], kappa = se[i + 2] } }
    if fit_scale then a.A, a.se.A = est[i + 3], se[i + 3] else a.A = co.A[k] end
    local name = rawget(rawget(opts.analytes, k), "name")
    if name ~= nil then a.name = name end
    res.analytes[k] = a
  end
  res.t_hold = opts.fit_hold and est[#est] or (opts.t_hold or 1)
  res.t_hold_se = opts.fit_hold and se[#se] or 0
  res.model = signal - resid
  local n = t:numel()
  res.rms = math.sqrt(info.ssr / n)
  if opts.noise then res.noise, res.noise_source = opts.noise, "given"
  else res.noise, res.noise_source = core.chrom_noise(signal), "estimated" end
  if not res.converged then
    opts_.warn(res, fname, ("did not converge: stopped after %d iterations (%s)"):format(res.iterations,
      res.reason == "max_iters" and "max_iter reached" or "no step reduced the residual"), opts.quiet)
  end
  if res.noise > 0 and res.rms > 1.5 * res.noise then
    opts_.warn(res, fname, ("residual RMS %.3g is %.1fx the noise level %.3g (%s): the model does not describe the data (starting values, a missing analyte%s?)"):format(
      res.rms, res.rms / res.noise, res.noise, res.noise_source, fit_scale and "" or ", fit_scale = false with wrong amplitudes"), opts.quiet)
  end
  return res
end

--- The fit's model y(t) = sum_k A_k c_k(t / t_hold) for given analytes (same opts as fit; the
-- amplitudes are the analytes' A, default 1).
function M.model(t, opts)
  local fname = "chrom.model"
  check_data(fname, t)
  check_opts(fname, opts)
  local flat, K, p, co = pack(fname, opts, false)
  co.fit_scale = false
  return core.chrom_model(flat, K, t, nil, p, co)
end

--- Reads a chromatogram: lines "time, signal" (comma, semicolon, tab or spaces; one optional
-- header line; '#' comments). Returns t, signal tensors. Errors name the file and line.
function M.read_csv(path)
  local fname = "chrom.read_csv"
  if type(path) ~= "string" then argerr(fname, 1, "path", "expected a file name, got %s", type(path)) end
  local f, err = io.open(path, "r")
  if not f then error(("%s: cannot open '%s': %s"):format(fname, path, tostring(err)), 0) end
  local text, rerr = f:read("a")
  f:close()
  if not text then error(("%s: cannot read '%s': %s"):format(fname, path, tostring(rerr)), 0) end
  local ts, ys, lineno, header_ok = {}, {}, 0, true
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    line = line:gsub("\r$", "")
    lineno = lineno + 1
    local s = line:gsub("#.*$", ""):gsub("^%s+", ""):gsub("%s+$", "")
    if s ~= "" then
      local a, b, rest = s:match("^([^,;%s]+)[,;%s]+([^,;%s]+)(.*)$")
      local x, y = tonumber(a), tonumber(b)
      if x == nil or y == nil or (rest and rest:match("%S")) then
        if header_ok and #ts == 0 and not tonumber(a or "") then
          header_ok = false -- one header line allowed
        else
          error(("%s: %s:%d: expected two numbers (time, signal), got '%s'"):format(fname, path, lineno, line), 0)
        end
      else
        if not num(x) or not num(y) then
          error(("%s: %s:%d: non-finite value in '%s'"):format(fname, path, lineno, line), 0)
        end
        if #ts > 0 and x <= ts[#ts] then
          error(("%s: %s:%d: time %g does not increase (previous %g)"):format(fname, path, lineno, x, ts[#ts]), 0)
        end
        header_ok = false
        ts[#ts + 1], ys[#ys + 1] = x, y
      end
    end
  end
  if #ts < 2 then error(("%s: %s: expected at least 2 data rows, got %d"):format(fname, path, #ts), 0) end
  return T.new(ts), T.new(ys)
end

return M
