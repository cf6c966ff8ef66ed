-- moonlab.chrom — the gas-chromatography column model (REFERENCE §3): transfer function in
-- Laplace space (C transform), outlet/profile by inversion, moments, the full-PDE
-- finite-volume solver, least-squares fitting of (Da, kappa) per analyte, CSV reading.
-- See docs/chrom.md.
local core = require "moonlab.core"
local T = require "moonlab.tensor"
local laplace = require "moonlab.laplace"

local M = {}

local function argerr(fname, n, name, fmt, ...)
  error(("%s: bad argument #%d '%s': " .. fmt):format(fname, n, name, ...), 3)
end

local function num(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end

local known = { Da = true, kappa = true, Pe = true, velocity = true, injection = true }
local inj_known = { kind = true, width = true, t0 = true, t = true, c = true }

-- Validates a column spec and returns the flat table the C side reads.
local function flatten(spec, fname)
  if type(spec) ~= "table" then argerr(fname, 1, "spec", "expected a table, got %s", type(spec)) end
  for k in pairs(spec) do
    if not known[k] then error(("unknown option '%s' to %s"):format(tostring(k), fname), 3) end
  end
  if not num(spec.Da) or spec.Da < 0 then argerr(fname, 1, "Da", "expected a number >= 0, got %s", tostring(spec.Da)) end
  if not num(spec.kappa) or spec.kappa <= 0 then argerr(fname, 1, "kappa", "expected a number > 0, got %s", tostring(spec.kappa)) end
  if spec.Pe ~= nil and (not num(spec.Pe) or spec.Pe <= 0) then
    argerr(fname, 1, "Pe", "expected nil (no dispersion) or a number > 0, got %s", tostring(spec.Pe))
  end
  local P = 1
  local v = spec.velocity or "constant"
  if type(v) == "table" then
    local pin, pout = v.inlet_pressure or v[1], v.outlet_pressure or v[2]
    if not num(pin) or not num(pout) or pout <= 0 or pin < pout then
      argerr(fname, 1, "velocity", "expected {inlet_pressure, outlet_pressure} with inlet >= outlet > 0, got {%s, %s}", tostring(pin), tostring(pout))
    end
    P = pin / pout
    if spec.Pe and P > 1 then argerr(fname, 1, "Pe", "dispersion with compressible flow is not supported") end
  elseif v ~= "constant" then
    argerr(fname, 1, "velocity", "expected \"constant\" or {inlet_pressure, outlet_pressure}, got %s", tostring(v))
  end
  local inj = spec.injection or { kind = "pulse", width = 0.05 }
  if type(inj) ~= "table" then argerr(fname, 1, "injection", "expected a table {kind=...}, got %s", type(inj)) end
  for k in pairs(inj) do
    if not inj_known[k] then error(("unknown option 'injection.%s' to %s"):format(tostring(k), fname), 3) end
  end
  local flat = { Da = spec.Da, kappa = spec.kappa, Pe = spec.Pe or 0, P = P, injection = inj.kind or "pulse" }
  if flat.injection == "pulse" or flat.injection == "gaussian" then
    local w = inj.width or 0.05
    if not num(w) or w <= 0 then argerr(fname, 1, "injection.width", "expected a number > 0, got %s", tostring(w)) end
    flat.width = w
    if flat.injection == "gaussian" then
      local t0 = inj.t0 or 5 * w
      if not num(t0) or t0 < 5 * w then argerr(fname, 1, "injection.t0", "expected a number >= 5*width = %g, got %s", 5 * w, tostring(t0)) end
      flat.t0 = t0
    end
  elseif flat.injection == "data" then
    local tt, cc = inj.t, inj.c
    if T.is_tensor(tt) then tt = tt:totable() end
    if T.is_tensor(cc) then cc = cc:totable() end
    if type(tt) ~= "table" or type(cc) ~= "table" or #tt ~= #cc or #tt < 2 then
      argerr(fname, 1, "injection", "kind \"data\" needs t and c of equal length >= 2")
    end
    for i = 1, #tt do
      if not num(tt[i]) or not num(cc[i]) or tt[i] < 0 or (i > 1 and tt[i] <= tt[i - 1]) then
        argerr(fname, 1, "injection", "data point %d: expected increasing times >= 0 and finite values", i)
      end
    end
    flat.inj_t, flat.inj_c = tt, cc
  else
    argerr(fname, 1, "injection.kind", "expected \"pulse\", \"gaussian\" or \"data\", got %s", tostring(inj.kind))
  end
  return flat
end

local Column = {}
Column.__index = Column
Column.__tostring = function(c)
  return ("chrom.column{Da=%g, kappa=%g, Pe=%s, P=%g, injection=%s}"):format(c.Da, c.kappa,
    tostring(c.Pe), c.flat.P, c.flat.injection)
end

--- Column model for one analyte. spec: Da (>= 0), kappa (> 0), Pe (nil = no dispersion),
-- velocity ("constant" | {inlet_pressure, outlet_pressure}), injection ({kind="pulse", width=0.05}
-- | {kind="gaussian", width=, t0=5*width} | {kind="data", t=, c=}). Times are in units of the
-- hold-up time, positions in units of the column length.
function M.column(spec)
  local flat = flatten(spec, "chrom.column")
  local col = setmetatable({ Da = spec.Da, kappa = spec.kappa, Pe = spec.Pe, flat = flat }, Column)
  col.F = core.chrom_transfer(flat, 1)
  return col
end

--- The transfer function C(x, s) at position x as a C transform (LaplaceFn).
function Column:transfer(x) return core.chrom_transfer(self.flat, x or 1) end

local function default_inv(opts)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.method = o.method or "dehoog"
  return o
end

--- Outlet concentration at time(s) t (> 0) by numerical inversion (de Hoog by default;
-- opts are laplace.invert_many options).
function Column:outlet(t, opts)
  return (laplace.invert_many(self.F, t, default_inv(opts)))
end

--- Concentration inside the column at position(s) x (number or tensor) at time t.
function Column:profile(x, t, opts)
  local o = default_inv(opts)
  if type(x) == "number" then return laplace.invert(self:transfer(x), t, o) end
  local n = x:numel()
  local out = T.zeros({ n })
  for i = 1, n do out:set(i, laplace.invert(self:transfer(x:get(i)), t, o)) end
  return out:reshape(x:shape())
end

--- {mass, mean, variance} of the outlet response (or at position x), from the Taylor
-- coefficients of the transfer function at s = 0.
function Column:moments(x)
  local m0, mu, var = core.chrom_moments(self.flat, x or 1)
  return { mass = m0, mean = mu, variance = var }
end

--- Inlet concentration c_in(t).
function Column:inlet(t) return core.chrom_inlet(self.flat, t) end

--- Full-PDE finite-volume solution. opts: t (tensor of output times) or t_end (default
-- mean + 6 sd) and nt (400); nx (400), dt (0 = from cfl), cfl (0.4), scheme ("koren" |
-- "upwind" | "kappa3"). Returns {t=, c= (outlet), profile= (cells at the last time), seconds=}.
function M.solve_fd(col, opts)
  if getmetatable(col) ~= Column then argerr("chrom.solve_fd", 1, "col", "expected a chrom.column, got %s", type(col)) end
  opts = opts or {}
  local fo, t = {}, opts.t
  for k, v in pairs(opts) do
    if k ~= "t" and k ~= "t_end" and k ~= "nt" then fo[k] = v end
  end
  if t == nil then
    local m = col:moments()
    local t_end = opts.t_end or (m.mean + 6 * math.sqrt(m.variance))
    local nt = opts.nt or 400
    t = T.linspace(t_end / nt, t_end, nt)
  elseif not T.is_tensor(t) then
    argerr("chrom.solve_fd", 2, "t", "expected a tensor of output times, got %s", type(t))
  end
  local c, prof, secs = core.chrom_fd(col.flat, t, fo)
  return { t = t, c = c, profile = prof, seconds = secs }
end

-- Parameter vector and opts for the C fit from the analyte list.
local function pack(fname, opts)
  local an = opts.analytes
  if type(an) ~= "table" or #an < 1 then argerr(fname, 3, "opts.analytes", "expected a list of initial guesses {Da=, kappa=, A=}") end
  local p, A = {}, {}
  for k, a in ipairs(an) do
    if not num(a.Da) or a.Da < 0 or not num(a.kappa) or a.kappa <= 0 then
      argerr(fname, 3, "opts.analytes", "analyte %d: expected Da >= 0 and kappa > 0", k)
    end
    p[#p + 1], p[#p + 2] = a.Da, a.kappa
    A[k] = a.A or 1
    if opts.fit_scale then p[#p + 1] = A[k] end
  end
  if opts.fit_hold then p[#p + 1] = opts.t_hold or 1 end
  local base = opts.column
  if base == nil then base = { Da = 1, kappa = 1 } end
  local flat
  if getmetatable(base) == Column then flat = base.flat
  else
    local spec = {}
    for k, v in pairs(base) do spec[k] = v end
    spec.Da, spec.kappa = spec.Da or 1, spec.kappa or 1
    flat = flatten(spec, fname)
  end
  local co = { A = A }
  for _, k in ipairs { "fit_scale", "fit_hold", "t_hold", "use_fd", "nx", "scheme", "max_iter", "tol", "method", "M" } do
    co[k] = opts[k]
  end
  return flat, #an, p, co
end

local fit_known = { analytes = true, column = true, fit_scale = true, fit_hold = true, t_hold = true,
  use_fd = true, nx = true, scheme = true, max_iter = true, tol = true, method = true, M = true }

local function check_opts(fname, opts)
  if type(opts) ~= "table" then argerr(fname, 3, "opts", "expected an options table with analytes, got %s", type(opts)) end
  for k in pairs(opts) do
    if not fit_known[k] then error(("unknown option '%s' to %s"):format(tostring(k), fname), 3) end
  end
end

--- Fits Da, kappa (and scale A, hold-up time when asked) of every analyte to a chromatogram.
-- opts: analytes = {{Da=, kappa=, A=}, ...} (initial guesses), column = spec or chrom.column
-- (injection, Pe, velocity), fit_scale (false), fit_hold (false), t_hold (1), use_fd (false:
-- Laplace model), nx/scheme (FD model), method/M (inversion, de Hoog), max_iter (100), tol (1e-10).
-- Returns {analytes = {{Da=, kappa=, A=, se = {Da=, kappa=, A=}}, ...}, t_hold=, t_hold_se=,
-- residuals= tensor, model= tensor, iterations=, ssr=, seconds=}.
function M.fit(t, signal, opts)
  local fname = "chrom.fit"
  if not T.is_tensor(t) then argerr(fname, 1, "t", "expected a tensor of times, got %s", type(t)) end
  if not T.is_tensor(signal) then argerr(fname, 2, "signal", "expected a tensor, got %s", type(signal)) end
  check_opts(fname, opts)
  local flat, K, p, co = pack(fname, opts)
  local est, se, resid, iters, ssr, secs = core.chrom_fit(flat, K, t, signal, p, co)
  local res = { analytes = {}, residuals = resid, iterations = iters, ssr = ssr, seconds = secs }
  local per = opts.fit_scale and 3 or 2
  for k = 1, K do
    local i = (k - 1) * per
    local a = { Da = est[i + 1], kappa = est[i + 2], se = { Da = se[i + 1], kappa = se[i + 2] } }
    if opts.fit_scale then a.A, a.se.A = est[i + 3], se[i + 3] else a.A = co.A[k] end
    res.analytes[k] = a
  end
  res.t_hold = opts.fit_hold and est[#est] or (opts.t_hold or 1)
  res.t_hold_se = opts.fit_hold and se[#se] or 0
  res.model = signal - resid
  return res
end

--- The fit's model y(t) = sum_k A_k c_k(t / t_hold) for given analytes (same opts as fit).
function M.model(t, opts)
  local fname = "chrom.model"
  if not T.is_tensor(t) then argerr(fname, 1, "t", "expected a tensor of times, got %s", type(t)) end
  check_opts(fname, opts)
  local flat, K, p, co = pack(fname, opts)
  return core.chrom_model(flat, K, t, nil, p, co)
end

--- Reads a chromatogram: lines "time, signal" (comma, semicolon, tab or spaces; one optional
-- header line; '#' comments). Returns t, signal tensors. Errors name the file and line.
function M.read_csv(path)
  local fname = "chrom.read_csv"
  if type(path) ~= "string" then argerr(fname, 1, "path", "expected a file name, got %s", type(path)) end
  local f, err = io.open(path, "r")
  if not f then error(("%s: cannot open '%s': %s"):format(fname, path, tostring(err)), 2) end
  local ts, ys, lineno, header_ok = {}, {}, 0, true
  for line in f:lines() do
    lineno = lineno + 1
    local s = line:gsub("#.*$", ""):gsub("^%s+", ""):gsub("%s+$", "")
    if s ~= "" then
      local a, b, rest = s:match("^([^,;%s]+)[,;%s]+([^,;%s]+)(.*)$")
      local x, y = tonumber(a), tonumber(b)
      if x == nil or y == nil or (rest and rest:match("%S")) then
        if header_ok and #ts == 0 and not tonumber(a or "") then
          header_ok = false -- one header line allowed
        else
          f:close()
          error(("%s: %s:%d: expected two numbers (time, signal), got '%s'"):format(fname, path, lineno, line), 2)
        end
      else
        if not num(x) or not num(y) then
          f:close()
          error(("%s: %s:%d: non-finite value in '%s'"):format(fname, path, lineno, line), 2)
        end
        if #ts > 0 and x <= ts[#ts] then
          f:close()
          error(("%s: %s:%d: time %g does not increase (previous %g)"):format(fname, path, lineno, x, ts[#ts]), 2)
        end
        header_ok = false
        ts[#ts + 1], ys[#ys + 1] = x, y
      end
    end
  end
  f:close()
  if #ts < 2 then error(("%s: %s: expected at least 2 data rows, got %d"):format(fname, path, #ts), 2) end
  return T.new(ts), T.new(ys)
end

return M
