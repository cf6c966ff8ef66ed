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
    error("moe.route_backward: bad argument #2 'r': expected the result of moe.route, got " .. type(r), 0)
  end
  o = opts.check("moe.route_backward", o or {}, { "aux", "z" }) or {}
  return core.moe_route_backward(dweights, r.logits, r.experts, r.weights, r.opts, o.aux or 0, o.z or 0)
end

--- update_bias(bias [E], counts [E], rate): bias_e += rate * sign(mean(counts) - counts_e), in place.
function M.update_bias(bias, counts, rate)
  return core.moe_update_bias(bias, counts, rate)
end

--- dispatch(x [T,D], r) -> x_sorted [N,D] (rows in r.order; zero rows for padding).
function M.dispatch(x, r)
  if type(r) ~= "table" or r.order == nil then
    error("moe.dispatch: bad argument #2 'r': expected the result of moe.route, got " .. type(r), 0)
  end
  return core.moe_dispatch(x, r.order)
end

--- combine(y_sorted [N,D], r) -> y [T,D] = sum over slots of weight * row (dropped slots add 0).
function M.combine(y_sorted, r)
  if type(r) ~= "table" or r.order == nil or r.weights == nil then
    error("moe.combine: bad argument #2 'r': expected the result of moe.route, got " .. type(r), 0)
  end
  return core.moe_combine(y_sorted, r.order, r.weights)
end

-- ---------------------------------------------------------------- MoE layer

local Layer = {}
Layer.__index = Layer
Layer.__name = "moonlab.MoELayer"

local LAYER_OPTS = { "d_model", "d_ff", "experts", "k", "dtype", "seed", "std", "router" }

--- layer{d_model, d_ff, experts, k = 2, dtype = "f32", seed = 0, std = 0.02, router = {route options}}
--- -> a SwiGLU MoE feed-forward layer with parameters wr [D,E], w1 [E,D,F], w3 [E,D,F], w2 [E,F,D].
function M.layer(o)
  local fname = "moe.layer"
  opts.check(fname, o, LAYER_OPTS)
  for _, key in ipairs({ "d_model", "d_ff", "experts" }) do
    local v = opts.need(fname, o, key, "number")
    if math.type(v) ~= "integer" or v < 1 then
      error(("%s: bad argument #1 '%s': expected an integer >= 1, got %s"):format(fname, key, tostring(v)), 0)
    end
  end
  local k = o.k or 2
  if math.type(k) ~= "integer" or k < 1 or k > o.experts then
    error(("%s: bad argument #1 'k': expected an integer in [1, experts = %d], got %s"):format(fname, o.experts, tostring(k)), 0)
  end
  local dt = o.dtype or "f32"
  if dt ~= "f32" and dt ~= "f64" then error(fname .. ": bad argument #1 'dtype': expected 'f32' or 'f64', got " .. tostring(dt), 0) end
  local router = {}
  if o.router ~= nil then
    opts.check(fname .. " router", o.router, ROUTE_OPTS)
    for key, v in pairs(o.router) do router[key] = v end
  end
  router.k = k
  local D, F, E, seed, std = o.d_model, o.d_ff, o.experts, o.seed or 0, o.std or 0.02
  return setmetatable({
    d_model = D, d_ff = F, experts = E, k = k, dtype = dt, router = router,
    wr = T.randn({ D, E }, { seed = seed, std = std, dtype = dt }),
    w1 = T.randn({ E, D, F }, { seed = seed + 1, std = std, dtype = dt }),
    w3 = T.randn({ E, D, F }, { seed = seed + 2, std = std, dtype = dt }),
    w2 = T.randn({ E, F, D }, { seed = seed + 3, std = std, dtype = dt }),
  }, Layer)
end

--- layer:forward(x [T,D]) -> y [T,D], state {cache, aux_loss, z_loss, counts}
function Layer:forward(x)
  if not T.is_tensor(x) or x:dtype() ~= self.dtype or x:ndim() ~= 2 or x:shape()[2] ~= self.d_model then
    error(("moe.layer:forward: bad argument #1 'x': expected a %s tensor [T,%d], got %s"):format(self.dtype, self.d_model,
      T.is_tensor(x) and (x:dtype() .. " [" .. table.concat(x:shape(), ",") .. "]") or type(x)), 0)
  end
  local y, cache, aux, z, counts = core.moe_layer_forward(x, self.wr, self.w1, self.w3, self.w2, self.router)
  return y, { cache = cache, aux_loss = aux, z_loss = z, counts = counts, x = x }
end

--- layer:backward(dy [T,D], state, {aux = 0, z = 0}) -> dx [T,D], grads {wr, w1, w3, w2}
function Layer:backward(dy, state, o)
  o = opts.check("moe.layer:backward", o or {}, { "aux", "z" }) or {}
  if type(state) ~= "table" or state.cache == nil then
    error("moe.layer:backward: bad argument #2 'state': expected the state returned by forward", 0)
  end
  local dx, dwr, dw1, dw3, dw2 = core.moe_layer_backward(dy, state.x, self.wr, self.w1, self.w3, self.w2, state.cache,
    self.router, o.aux or 0, o.z or 0)
  return dx, { wr = dwr, w1 = dw1, w3 = dw3, w2 = dw2 }
end

--- layer:parameters() -> {wr = ..., w1 = ..., w3 = ..., w2 = ...}
function Layer:parameters() return { wr = self.wr, w1 = self.w1, w3 = self.w3, w2 = self.w2 } end

--- layer:flops(T) -> floating-point operations of forward + backward for T tokens (GEMMs only, no drops).
function Layer:flops(Tn)
  local D, F, E = self.d_model, self.d_ff, self.experts
  return 18 * Tn * self.k * D * F + 6 * Tn * D * E
end

function Layer:__tostring()
  return ("MoELayer(d_model=%d, d_ff=%d, experts=%d, k=%d, %s)"):format(self.d_model, self.d_ff, self.experts, self.k, self.dtype)
end
M.Layer = Layer

-- ---------------------------------------------------------------- Gaussian MoE

local GMOE_OPTS = { "beta0", "beta1", "a", "b", "sigma", "gate", "k", "tau", "act", "bias_placement" }
local GATES = { softmax = true, topk = true, temperature = true, activation = true }

local Model = {}
Model.__index = Model
Model.__name = "moonlab.GaussianMoE"

local function as_tensor(fname, name, v, K, d)
  if v == nil then error(("%s: missing required option '%s'"):format(fname, name), 0) end
  local t = v
  if not T.is_tensor(v) then
    if type(v) ~= "table" then
      error(("%s: bad argument #1 '%s': expected a tensor or a table of numbers, got %s"):format(fname, name, type(v)), 0)
    end
    t = T.new(v, "f64")
  end
  t = t:astype("f64")
  if d then
    if t:numel() ~= K * d then
      error(("%s: bad argument #1 '%s': expected %d x %d numbers, got %d"):format(fname, name, K, d, t:numel()), 0)
    end
    return t:reshape({ K, d })
  end
  if t:numel() ~= K then
    error(("%s: bad argument #1 '%s': expected %d numbers (one per expert), got %d"):format(fname, name, K, t:numel()), 0)
  end
  return t:reshape({ K })
end

local function build(fname, o)
  if type(o) ~= "table" then error(("%s: bad argument #1 'opts': expected an options table, got %s"):format(fname, type(o)), 0) end
  opts.check(fname, o, GMOE_OPTS)
  local gate = o.gate or "softmax"
  if not GATES[gate] then
    error(("%s: bad argument #1 'gate': expected softmax, topk, temperature or activation, got %s"):format(fname, tostring(gate)), 0)
  end
  if o.beta0 == nil then error(fname .. ": missing required option 'beta0'", 0) end
  if type(o.beta0) ~= "table" then
    error(("%s: bad argument #1 'beta0': expected a tensor or a table of numbers, got %s"):format(fname, type(o.beta0)), 0)
  end
  local b0 = T.is_tensor(o.beta0) and o.beta0:astype("f64") or T.new(o.beta0, "f64")
  local K = b0:numel()
  b0 = b0:reshape({ K })
  local b1raw = o.beta1
  if b1raw == nil then error(fname .. ": missing required option 'beta1'", 0) end
  local n1 = T.is_tensor(b1raw) and b1raw:numel() or #b1raw * (type(b1raw[1]) == "table" and #b1raw[1] or 1)
  local d = n1 // K
  if d < 1 or d * K ~= n1 then
    error(("%s: bad argument #1 'beta1': expected K x d numbers with K = %d experts, got %d"):format(fname, K, n1), 0)
  end
  local m = setmetatable({
    K = K, d = d, gate = gate, k = o.k or K, tau = o.tau or 1, act = o.act or "tanh",
    bias_placement = o.bias_placement or "outside",
    beta0 = b0, beta1 = as_tensor(fname, "beta1", o.beta1, K, d), a = as_tensor(fname, "a", o.a, K, d),
    b = as_tensor(fname, "b", o.b, K), sigma = as_tensor(fname, "sigma", o.sigma, K),
  }, Model)
  for i = 1, K do
    local s = m.sigma:get(i)
    if not (s > 0) or s == math.huge then
      error(("%s: bad argument #1 'sigma': expected finite numbers > 0, got sigma[%d] = %s"):format(fname, i, tostring(s)), 0)
    end
  end
  if gate == "topk" and (math.type(m.k) ~= "integer" or m.k < 1 or m.k > K) then
    error(("%s: bad argument #1 'k': expected an integer in [1, %d], got %s"):format(fname, K, tostring(o.k)), 0)
  end
  if (gate == "temperature" or gate == "activation") and (type(m.tau) ~= "number" or not (m.tau > 0) or m.tau == math.huge) then
    error(("%s: bad argument #1 'tau': expected a finite number > 0, got %s"):format(fname, tostring(o.tau)), 0)
  end
  if gate == "activation" and not ({ tanh = 1, sigmoid = 1, relu = 1, gelu = 1, none = 1 })[m.act] then
    error(("%s: bad argument #1 'act': expected tanh, sigmoid, relu or gelu, got %s"):format(fname, tostring(m.act)), 0)
  end
  if m.bias_placement ~= "outside" and m.bias_placement ~= "inside" then
    error(("%s: bad argument #1 'bias_placement': expected 'outside' or 'inside', got %s"):format(fname, tostring(m.bias_placement)), 0)
  end
  return m
end

local function from_params(p)
  local m = setmetatable(p, Model)
  m.K, m.d = p.beta1:shape()[1], p.beta1:shape()[2]
  return m
end

--- gaussian_moe{beta0, beta1, a, b, sigma, gate = "softmax", k, tau = 1, act = "tanh", bias_placement = "outside"}
--- -> a Gaussian MoE p(y|x) = sum_i g_i(x) N(y | a_i.x + b_i, sigma_i^2).
function M.gaussian_moe(o)
  return build("moe.gaussian_moe", o)
end

local function xin(X)
  if T.is_tensor(X) then return X end
  if type(X) == "number" then return T.new({ { X } }, "f64") end
  if type(X) == "table" then return T.new(X, "f64") end
  return X
end

local function yin(Y)
  if type(Y) == "number" then return T.new({ Y }, "f64") end
  if type(Y) == "table" and not T.is_tensor(Y) then return T.new(Y, "f64") end
  return Y
end

local function xfix(m, X)
  X = xin(X)
  if T.is_tensor(X) and X:ndim() == 1 and m.d == 1 then X = X:reshape({ X:numel(), 1 }) end
  return X
end

--- m:logpdf(X [n,d], Y [n]) -> log p(Y|X) [n]
function Model:logpdf(X, Y) return core.gmoe_logpdf(self, xfix(self, X), yin(Y), "moe.logpdf") end
--- m:density(X, Y) -> p(Y|X) [n]
function Model:density(X, Y) return core.gmoe_logpdf(self, xfix(self, X), yin(Y), "moe.density"):exp() end
--- m:gate_probs(X [n,d]) -> g [n,K]
function Model:gate_probs(X) return core.gmoe_gate_probs(self, xfix(self, X)) end
--- m:sample(n, {seed = 0, x = "uniform" | X}) -> X [n,d], Y [n]
function Model:sample(n, o)
  o = opts.check("moe.sample", o or {}, { "seed", "x" }) or {}
  if math.type(n) ~= "integer" or n < 1 then
    error("moe.sample: bad argument #1 'n': expected an integer >= 1, got " .. tostring(n), 0)
  end
  local x = o.x
  if x == "uniform" then x = nil end
  if x ~= nil then x = xfix(self, x) end
  return core.gmoe_sample(self, n, o.seed or 0, x)
end
--- m:params() -> plain Lua tables {beta0, beta1, a, b, sigma, gate, k, tau, act, bias_placement}
function Model:params()
  return {
    beta0 = self.beta0:totable(), beta1 = self.beta1:totable(), a = self.a:totable(), b = self.b:totable(),
    sigma = self.sigma:totable(), gate = self.gate, k = self.k, tau = self.tau, act = self.act,
    bias_placement = self.bias_placement,
  }
end
--- m:copy{overrides} -> a new model with some fields replaced
function Model:copy(over)
  local p = self:params()
  for key, v in pairs(over or {}) do p[key] = v end
  return build("moe.gaussian_moe", p)
end
function Model:__tostring()
  return ("GaussianMoE(K=%d, d=%d, gate=%s%s)"):format(self.K, self.d, self.gate,
    self.gate == "topk" and (", k=" .. self.k) or (self.gate ~= "softmax" and (", tau=" .. self.tau) or ""))
end
M.Model = Model

-- The start of a fit with `experts` experts from the truth: the last true expert is split into copies
-- (beta0 - log m each), then the gate is translated so the last expert has beta = 0 (translation-invariant
-- gates only).
local function split_truth(truth, experts, gate_over)
  local p = truth:params()
  for key, v in pairs(gate_over) do p[key] = v end
  local K = truth.K
  if experts < K then error("moe.fit_em: bad argument #3 'experts': fewer experts than the truth is not supported by near_truth", 0) end
  local m = experts - K + 1
  local function rep(list, f)
    local out = {}
    for i = 1, K - 1 do out[i] = list[i] end
    for i = K, experts do out[i] = f and f(list[K]) or list[K] end
    return out
  end
  p.beta0 = rep(p.beta0, function(v) return v - math.log(m) end)
  p.beta1, p.a, p.b, p.sigma = rep(p.beta1), rep(p.a), rep(p.b), rep(p.sigma)
  local inv = not (p.gate == "activation" and p.bias_placement == "inside")
  if inv then
    local s0, s1 = p.beta0[experts], p.beta1[experts]
    for i = 1, experts do
      p.beta0[i] = p.beta0[i] - s0
      local row = {}
      for j = 1, #s1 do row[j] = p.beta1[i][j] - s1[j] end
      p.beta1[i] = row
    end
  end
  return build("moe.fit_em", p)
end

local function perturb(m, amount, seed, fix_last)
  if amount == 0 then return m end
  local p = m:params()
  local z = T.randn({ m.K * (2 * m.d + 3) + 1 }, { seed = seed }):totable()
  local c = 0
  local function nz() c = c + 1; return z[c] end
  local inv = not (p.gate == "activation" and p.bias_placement == "inside")
  for i = 1, m.K do
    local free = not (fix_last and inv and i == m.K)
    for j = 1, m.d do
      local u = nz()
      if free then p.beta1[i][j] = p.beta1[i][j] + amount * u end
      p.a[i][j] = p.a[i][j] + amount * nz()
    end
    local u = nz()
    if free then p.beta0[i] = p.beta0[i] + amount * u end
    p.b[i] = p.b[i] + amount * nz()
    p.sigma[i] = p.sigma[i] * math.exp(amount * nz())
  end
  if p.gate == "temperature" or p.gate == "activation" then p.tau = p.tau * math.exp(amount * nz()) end
  return build("moe.fit_em", p)
end

local FIT_OPTS = { "experts", "k", "gate", "tau", "act", "bias_placement", "init", "truth", "perturb", "tol",
  "maxit", "restarts", "seed", "gate_steps", "fix_last", "sigma_floor", "quiet" }

--- fit_em(X [n,d], Y [n], opts) -> result {model, loglik, trace, iterations, converged, reason, warnings}
--- opts: experts, k, gate, tau, act, bias_placement, init (a model | "near_truth" | "kmeans"), truth, perturb,
--- tol = 1e-6, maxit = 2000, restarts = 1, seed = 0, gate_steps = 1, fix_last = true, sigma_floor = 1e-3, quiet.
function M.fit_em(X, Y, o)
  local fname = "moe.fit_em"
  o = opts.check(fname, o or {}, FIT_OPTS) or {}
  if type(X) == "table" and not T.is_tensor(X) and #X == 0 then
    error(fname .. ": bad argument #1 'X': expected at least 2 data points, got 0", 0)
  end
  X, Y = xin(X), yin(Y)
  if not T.is_tensor(X) then error(fname .. ": bad argument #1 'X': expected a tensor [n,d], got " .. type(X), 0) end
  if X:ndim() == 1 then X = X:reshape({ X:numel(), 1 }) end
  if X:numel() == 0 then error(fname .. ": bad argument #1 'X': expected at least 2 data points, got 0", 0) end
  local init = o.init or "kmeans"
  local truth = o.truth
  local d = X:shape()[2]
  if truth ~= nil and getmetatable(truth) ~= Model then
    error(fname .. ": bad argument #3 'truth': expected a moe.gaussian_moe model", 0)
  end
  if truth and truth.d ~= d then
    error(("%s: bad argument #3 'truth': expected %d features like X, got %d"):format(fname, d, truth.d), 0)
  end
  local gate_over = {}
  for _, key in ipairs({ "gate", "k", "tau", "act", "bias_placement" }) do
    if o[key] ~= nil then gate_over[key] = o[key] end
  end
  local experts = o.experts
  if experts ~= nil and (math.type(experts) ~= "integer" or experts < 1) then
    error(fname .. ": bad argument #3 'experts': expected an integer >= 1, got " .. tostring(experts), 0)
  end
  local restarts = o.restarts or 1
  if math.type(restarts) ~= "integer" or restarts < 1 then
    error(fname .. ": bad argument #3 'restarts': expected an integer >= 1, got " .. tostring(restarts), 0)
  end
  local amount = o.perturb or 0
  if type(amount) ~= "number" or not (amount >= 0) then
    error(fname .. ": bad argument #3 'perturb': expected a number >= 0, got " .. tostring(o.perturb), 0)
  end
  local seed = o.seed or 0
  local function start(r)
    if getmetatable(init) == Model then
      local m = next(gate_over) and init:copy(gate_over) or init
      return r == 1 and m or perturb(m, amount > 0 and amount or 0.1, seed + r, o.fix_last ~= false)
    elseif init == "near_truth" then
      if not truth then error(fname .. ": init 'near_truth' needs option 'truth'", 0) end
      return perturb(split_truth(truth, experts or truth.K, gate_over), amount, seed + r, o.fix_last ~= false)
    elseif init == "kmeans" then
      if not experts then error(fname .. ": missing required option 'experts'", 0) end
      local K = experts
      local z = {}
      for i = 1, K do z[i] = 0 end
      local zz = {}
      for i = 1, K do local row = {}; for j = 1, d do row[j] = 0 end; zz[i] = row end
      local p = { beta0 = z, beta1 = zz, a = zz, b = z, sigma = (function() local s = {} for i = 1, K do s[i] = 1 end return s end)() }
      for key, v in pairs(gate_over) do p[key] = v end
      local m0 = build(fname, p)
      return from_params(core.gmoe_kmeans(m0, X, Y, seed + r))
    end
    error(fname .. ": bad argument #3 'init': expected a model, 'near_truth' or 'kmeans', got " .. tostring(init), 0)
  end
  local em = { tol = o.tol, maxit = o.maxit, gate_steps = o.gate_steps, fix_last = o.fix_last,
    sigma_floor = o.sigma_floor, quiet = o.quiet }
  local best
  for r = 1, restarts do
    local m0 = start(r)
    local p, trace, iters, conv, reason, floored = core.gmoe_fit_em(m0, X, Y, em)
    for _, key in ipairs({ "gate", "k", "tau", "act", "bias_placement" }) do if key ~= "tau" then p[key] = p[key] end end
    local res = { model = from_params(p), trace = trace, loglik = trace:get(trace:numel()), iterations = iters,
      converged = conv, reason = reason, warnings = {}, sigma_floored = floored, start = m0 }
    if not best or res.loglik > best.loglik then best = res end
  end
  best.restarts = restarts
  if not best.converged then
    opts.warn(best, fname, ("did not converge in %d iterations (%s)"):format(best.iterations, best.reason), o.quiet)
  end
  if best.sigma_floored then
    opts.warn(best, fname, "a sigma reached its floor (sigma_floor * sd(Y)): an expert collapsed onto few points", o.quiet)
  end
  return best
end

--- voronoi_loss(fitted, truth, "D1" | "D2", {normalize = true}) -> loss, cells [K_fit] (i64, 1-based), terms [K_true]
function M.voronoi_loss(fitted, truth, kind, o)
  local fname = "moe.voronoi_loss"
  o = opts.check(fname, o or {}, { "normalize" }) or {}
  if getmetatable(fitted) ~= Model then error(fname .. ": bad argument #1 'fitted': expected a Gaussian MoE model", 0) end
  if getmetatable(truth) ~= Model then error(fname .. ": bad argument #2 'truth': expected a Gaussian MoE model", 0) end
  kind = kind or "D1"
  if kind ~= "D1" and kind ~= "D2" then
    error(fname .. ": bad argument #3 'kind': expected 'D1' or 'D2', got " .. tostring(kind), 0)
  end
  return core.gmoe_voronoi(fitted, truth, kind == "D2", o.normalize ~= false)
end

--- replicate(truth, {start, perturb, n, reps, seed, loss = "D1", tol, maxit, gate_steps, quiet}) -> losses [reps],
--- iterations (table), converged (table), d2 losses [reps] (loss = "D2": the first result holds D1, the fourth
--- D2): sample n points, fit by EM from the perturbed start, Voronoi losses, in parallel over replications.
function M.replicate(truth, o)
  local fname = "moe.replicate"
  o = opts.check(fname, o, { "start", "perturb", "n", "reps", "seed", "loss", "tol", "maxit", "gate_steps",
    "fix_last", "sigma_floor", "quiet" })
  opts.need(fname, o, "n", "number")
  opts.need(fname, o, "reps", "number")
  local start = o.start or truth
  return core.gmoe_replicate(truth, start, o.perturb or 0, o.n, o.reps, o.seed or 0, (o.loss or "D1") == "D2",
    { tol = o.tol, maxit = o.maxit, gate_steps = o.gate_steps, fix_last = o.fix_last, sigma_floor = o.sigma_floor },
    o.quiet)
end

--- near_truth_start(truth, experts, {gate overrides}) -> the unperturbed start used by fit_em's "near_truth".
function M.near_truth_start(truth, experts, over)
  if getmetatable(truth) ~= Model then
    error("moe.near_truth_start: bad argument #1 'truth': expected a moe.gaussian_moe model, got " .. type(truth), 0)
  end
  if math.type(experts) ~= "integer" or experts < truth.K then
    error(("moe.near_truth_start: bad argument #2 'experts': expected an integer >= %d, got %s"):format(truth.K, tostring(experts)), 0)
  end
  if over ~= nil and type(over) ~= "table" then
    error("moe.near_truth_start: bad argument #3 'over': expected a table of gate options, got " .. type(over), 0)
  end
  return split_truth(truth, experts, over or {})
end

return M
