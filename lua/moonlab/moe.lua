-- moonlab.moe — mixture of experts: production routers, dispatch/combine, a SwiGLU MoE layer, and the
-- Gaussian-MoE statistics of Nguyen et al. (arXiv 2309.13850, 2401.13875). Numbers are crunched in C
-- (csrc/moe); this module adds result tables, objects and conveniences. See docs/moe.md.
local core = require "moonlab.core"
local T = require "moonlab.tensor"
local opts = require "moonlab.opts"

local M = {}

local ROUTE_OPTS = { "k", "score", "order", "renormalize", "temperature", "activation", "bias", "groups",
  "group_topk", "route_scale", "noise", "expert_choice", "capacity", "capacity_factor", "drop", "pad_to",
  "aux_coef", "z_coef", "return_probs" }
M.route_options = ROUTE_OPTS

--- route(logits [T,E], opts) -> r: experts [T,k] (i64, 1-based), weights [T,k], counts [E], offsets [E+1],
--- order [N,2] (token, slot), dropped {count, which}, aux_loss, z_loss, entropy (and probs [T,E] on request).
function M.route(logits, o)
  o = o or {}
  local r = core.moe_route(logits, o)
  r.logits, r.opts = logits, o
  return r
end

--- route_backward(dweights [T,k], r, {aux = daux, z = dz}) -> dlogits [T,E].
function M.route_backward(dweights, r, o)
  if type(r) ~= "table" or r.logits == nil then
    error("moe.route_backward: bad argument #2 'r': expected the result of moe.route, got " .. type(r), 2)
  end
  o = opts.check("moe.route_backward", o or {}, { "aux", "z" }, 2) or {}
  return core.moe_route_backward(dweights, r.logits, r.experts, r.weights, r.opts, o.aux or 0, o.z or 0)
end

--- update_bias(bias [E], counts [E], rate): bias_e += rate * sign(mean(counts) - counts_e), in place.
function M.update_bias(bias, counts, rate)
  return core.moe_update_bias(bias, counts, rate)
end

--- dispatch(x [T,D], r) -> x_sorted [N,D] (rows in r.order; zero rows for padding).
function M.dispatch(x, r)
  if type(r) ~= "table" or r.order == nil then
    error("moe.dispatch: bad argument #2 'r': expected the result of moe.route, got " .. type(r), 2)
  end
  return core.moe_dispatch(x, r.order)
end

--- combine(y_sorted [N,D], r) -> y [T,D] = sum over slots of weight * row (dropped slots add 0).
function M.combine(y_sorted, r)
  if type(r) ~= "table" or r.order == nil or r.weights == nil then
    error("moe.combine: bad argument #2 'r': expected the result of moe.route, got " .. type(r), 2)
  end
  return core.moe_combine(y_sorted, r.order, r.weights)
end

return M
