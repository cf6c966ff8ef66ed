-- Closed-form moments of the column response (independent of moonlab's C code):
-- ln C(s) = ln C_in(s) + ln G(s); mean = -(ln C)'(0), variance = (ln C)''(0).
-- Without dispersion ln G = -tau h(s), h = s + Da s/(s+kappa): h'(0) = 1 + Da/kappa,
-- h''(0) = -2 Da/kappa^2. With dispersion ln G = x (Pe/2)(1 - sqrt(1 + 4h/Pe)):
-- (ln G)'' = (2/Pe) h'^2 - h'' per unit x.
local M = {}

function M.tau(P, x)
  if P <= 1 then return x end
  local P2, P3 = P * P, P * P * P
  return (P3 - (P2 - (P2 - 1) * x) ^ 1.5) / (P3 - 1)
end

-- spec as for chrom.column; returns mass, mean, variance at position x (default 1)
function M.moments(spec, x)
  x = x or 1
  local Da, k = spec.Da, spec.kappa
  local P = 1
  if type(spec.velocity) == "table" then P = spec.velocity.inlet_pressure / spec.velocity.outlet_pressure end
  local tau = M.tau(P, x)
  local inj = spec.injection
  local mu_in, var_in
  if inj.kind == "pulse" then mu_in, var_in = inj.width / 2, inj.width ^ 2 / 12
  else mu_in, var_in = inj.t0, inj.width ^ 2 end
  local h1, h2 = 1 + Da / k, -2 * Da / k ^ 2
  local mean, var
  if spec.Pe then
    mean = mu_in + x * h1
    var = var_in + x * (2 / spec.Pe * h1 ^ 2 - h2)
  else
    mean = mu_in + tau * h1
    var = var_in - tau * h2
  end
  -- concentration scales with u(0)/u(x) = p(x)/p(0) = sqrt(P^2 - (P^2 - 1) x)/P
  local mass = math.sqrt(P * P - (P * P - 1) * x) / P
  return mass, mean, var
end

return M
