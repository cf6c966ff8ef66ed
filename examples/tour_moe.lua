-- Tour section: mixture of experts (moonlab.moe). Run by examples/tour.lua (`make demo`).
return function(ctx)
  local T = require "moonlab.tensor"
  local moe = require "moonlab.moe"
  local bench = require "moonlab.bench"
  local root = os.getenv("MOONLAB_ROOT") or "."

  ctx.log("Mixture of experts: the production routers, dispatch/combine and a SwiGLU MoE layer, and the Gaussian-MoE "
    .. "statistics of Nguyen et al. (top-K sparse softmax gating, arXiv 2309.13850; temperature and activation gates, "
    .. "arXiv 2401.13875).")

  -- 1. Routing with a capacity limit, then aux-loss-free balancing by the selection bias.
  local Tn, E = 4096, 16
  local skew = T.linspace(0, 1.5, E):reshape({ 1, E })
  local lg = T.randn({ Tn, E }, { seed = 1, dtype = "f32" }) + T.ones({ Tn, 1 }, "f32"):matmul(skew:astype("f32"))
  local r = moe.route(lg, { k = 2, capacity_factor = 1.25, pad_to = 16 })
  ctx.log(("`moe.route` (T=%d, E=%d, k=2, capacity factor 1.25, skewed logits): counts min %d / max %d, %d of %d "
    .. "assignments dropped, aux loss %.4f, z-loss %.4f, mean entropy %.3f nats."):format(Tn, E, r.counts:min(),
      r.counts:max(), r.dropped.count, Tn * 2, r.aux_loss, r.z_loss, r.entropy))
  local bias = T.zeros({ E })
  local first, last
  for step = 1, 60 do
    local rr = moe.route(lg, { k = 2, score = "sigmoid", bias = bias })
    if step == 1 then first = rr.counts:max() / rr.counts:min() end
    last = rr.counts:max() / math.max(rr.counts:min(), 1)
    moe.update_bias(bias, rr.counts, 0.01)
  end
  ctx.log(("Aux-loss-free balancing (sigmoid scores, selection bias updated by ±0.01 per step): max/min expert load "
    .. "%.2f at step 1, %.2f after 60 steps."):format(first, last))

  -- 2. The router gradient against a central difference.
  local small = T.randn({ 8, 6 }, { seed = 2 })
  local o = { k = 2, temperature = 0.7, activation = "tanh" }
  local rs = moe.route(small, o)
  local dw = T.randn(rs.weights:shape(), { seed = 3 })
  local g = moe.route_backward(dw, rs, { aux = 1 })
  local function loss() local q = moe.route(small, o); return (q.weights * dw):sum() + q.aux_loss end
  local x0, h = small:get(3, 2), 1e-6
  small:set(3, 2, x0 + h); local lp = loss()
  small:set(3, 2, x0 - h); local lm = loss()
  small:set(3, 2, x0)
  ctx.log(("`moe.route_backward` (tanh activation, temperature 0.7, aux loss): dL/dlogit[3,2] = %.10f, central "
    .. "difference %.10f."):format(g:get(3, 2), (lp - lm) / (2 * h)))

  -- 3. The MoE layer.
  local L = moe.layer { d_model = 256, d_ff = 512, experts = 8, k = 2, dtype = "f32", seed = 4 }
  local x = T.randn({ 1024, 256 }, { seed = 5, dtype = "f32" })
  local s = bench.median(function() local y, st = L:forward(x); L:backward(y, st) end, { runs = 3 })
  local sg = bench.gemm_gflops("f32", 512)
  local rate = L:flops(1024) / s / 1e9
  ctx.log(("`moe.layer` forward+backward (T=1024, d_model=256, d_ff=512, E=8, k=2, f32): %.1f GFLOP/s = %.2fx sgemm "
    .. "(%.1f GFLOP/s at n=512) in this run."):format(rate, rate / sg, sg))

  -- 4. EM on the papers' true model.
  local truth = moe.gaussian_moe { beta0 = { -8, 0 }, beta1 = { 25, 0 }, a = { -20, 20 }, b = { 15, -5 }, sigma = { 0.3, 0.4 } }
  local X, Y = truth:sample(20000, { seed = 6 })
  local fit = moe.fit_em(X, Y, { init = "near_truth", truth = truth, perturb = 0.3, seed = 7, quiet = true })
  local p = fit.model:params()
  ctx.log(("`moe.fit_em` (n=20000, softmax gate, near-truth start perturbed by 0.3): %d EM iterations (%s); "
    .. "beta0 = (%.2f, %.2f), beta1 = (%.2f, %.2f), a = (%.2f, %.2f), b = (%.2f, %.2f), sigma = (%.3f, %.3f) "
    .. "against the truth (-8, 0), (25, 0), (-20, 20), (15, -5), (0.3, 0.4); Voronoi D1 = %.4f."):format(
      fit.iterations, fit.reason, p.beta0[1], p.beta0[2], p.beta1[1][1], p.beta1[2][1], p.a[1][1], p.a[2][1], p.b[1],
      p.b[2], p.sigma[1], p.sigma[2], (moe.voronoi_loss(fit.model, truth, "D1"))))

  -- 5. A short version of the rate experiment (examples/moe_rates.lua has the full one).
  local rates = assert(loadfile(root .. "/examples/moe_rates.lua"))("--module")
  local res, wall = rates.run { gates = { "softmax" }, reps = 8, sizes = 6, nmax = 10000, quiet = true, bootstrap = 400 }
  ctx.log("Rate experiment, short version (softmax gate only, 6 sizes from 1e2 to 1e4, 8 replications; the full "
    .. "run is `lua5.4 examples/moe_rates.lua`):\n\n" .. rates.report(res, wall, 8))
  local f = rates.plot(res, ctx.outdir .. "/moe_rates_short.png")
  if f then ctx.figure(f, "mean Voronoi loss against n (softmax gate, short run)") end
end
