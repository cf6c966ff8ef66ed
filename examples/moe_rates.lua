-- The simulation of Nguyen et al. (top-K sparse softmax gating, arXiv 2309.13850; temperature and activation
-- gates, arXiv 2401.13875): sample n points from a 2-expert Gaussian MoE (d = 1, X ~ U[0,1]), fit by EM from a
-- perturbed near-truth start (exactly specified: 2 experts, loss D1; over-specified: 3 experts, loss D2), for
-- n log-spaced from 1e2 to 1e5, and report the log-log slope of the mean Voronoi loss against n with a
-- bootstrap 95% interval, for the softmax, top-K, temperature and activation gates.
--
-- Usage: lua5.4 examples/moe_rates.lua [--full] [--reps R] [--sizes S] [--nmax N] [--gates softmax,topk,...]
--                                     [--temperature default|zero_bias] [--out DIR] [--quiet]
--   default: 12 sizes, 20 replications; --full: the papers' 40 replications.
-- As a module (the tour): local run = dofile("examples/moe_rates.lua")("--module"); run{...} -> results
local moe = require "moonlab.moe"
local T = require "moonlab.tensor"
local progress = require "moonlab.progress"

-- temperature = "default": the shared truth with tau = 1; "zero_bias": beta0 = (0, 0), beta1 = (5, 0), tau = 1 --
-- the gate biases vanish at the truth, so the scale symmetry (beta1, beta0, tau) -> c (beta1, beta0, tau) of
-- softmax((beta1 x + beta0)/tau) moves beta1 of an expert with weight e^0 = 1 (the temperature paper's
-- interaction beta1 dl/dbeta1 = -tau dl/dtau, Nguyen et al. 2024 Sec. 3), instead of one hidden by e^-8.
local function truths(temperature)
  local base = moe.gaussian_moe { beta0 = { -8, 0 }, beta1 = { 25, 0 }, a = { -20, 20 }, b = { 15, -5 },
    sigma = { 0.3, 0.4 } }
  return {
    softmax = base,
    -- top-2 of 2 experts is the softmax gate; the over-specified fit is top-2 of 3
    topk = base:copy { gate = "topk", k = 2 },
    temperature = temperature == "zero_bias" and base:copy { gate = "temperature", tau = 1, beta0 = { 0, 0 }, beta1 = { 5, 0 } }
      or base:copy { gate = "temperature", tau = 1 },
    -- Softmax(tanh(beta1 x)/tau + beta0): beta1 = 2.5 puts the gate's switch inside [0, 1]
    activation = base:copy { gate = "activation", act = "tanh", tau = 0.1, beta1 = { 2.5, 0 } },
  }
end

local function log_sizes(count, lo, hi)
  local s, seen = {}, {}
  for i = 0, count - 1 do
    local n = math.floor(10 ^ (math.log(lo, 10) + (math.log(hi, 10) - math.log(lo, 10)) * i / (count - 1)) + 0.5)
    if not seen[n] then s[#s + 1] = n; seen[n] = true end
  end
  return s
end

-- Least-squares slope of log(y) on log(x).
local function slope(xs, ys)
  local n, sx, sy, sxx, sxy = #xs, 0, 0, 0, 0
  for i = 1, n do
    local x, y = math.log(xs[i]), math.log(ys[i])
    sx, sy, sxx, sxy = sx + x, sy + y, sxx + x * x, sxy + x * y
  end
  return (n * sxy - sx * sy) / (n * sxx - sx * sx)
end

local function mean(l)
  local s = 0
  for _, v in ipairs(l) do s = s + v end
  return s / #l
end

local function median(l)
  local c = {}
  for i, v in ipairs(l) do c[i] = v end
  table.sort(c)
  local n = #c
  return n % 2 == 1 and c[(n + 1) // 2] or 0.5 * (c[n // 2] + c[n // 2 + 1])
end

-- Slope of stat(loss) against n with a bootstrap 95% interval (replications resampled within each n).
local function slope_ci(sizes, losses, B, seed, stat)
  local vals = {}
  for i, l in ipairs(losses) do vals[i] = stat(l) end
  local est = slope(sizes, vals)
  local u = T.rand({ B * #sizes * #losses[1] }, { seed = seed }):totable()
  local c, bs = 0, {}
  for b = 1, B do
    local m = {}
    for i, l in ipairs(losses) do
      local r = {}
      for j = 1, #l do
        c = c + 1
        r[j] = l[math.floor(u[c] * #l) + 1]
      end
      m[i] = stat(r)
    end
    bs[b] = slope(sizes, m)
  end
  table.sort(bs)
  return est, bs[math.max(1, math.floor(0.025 * B))], bs[math.ceil(0.975 * B)], vals
end

local function run(o)
  o = o or {}
  local reps = o.reps or 20
  local sizes = log_sizes(o.sizes or 12, o.nmin or 100, o.nmax or 100000)
  local gates = o.gates or { "softmax", "topk", "temperature", "activation" }
  assert(o.temperature == nil or o.temperature == "default" or o.temperature == "zero_bias",
    "moe_rates: temperature must be 'default' or 'zero_bias'")
  local tr = truths(o.temperature)
  local specs = { { name = "exact", experts = 2, loss = "D1" }, { name = "over", experts = 3, loss = "D2" } }
  local total = #gates * #specs * #sizes
  local bar = progress.new { label = "moe_rates", total = total, quiet = o.quiet }
  local results, done = {}, 0
  local t0 = os.time()
  for gi, g in ipairs(gates) do
    for si, sp in ipairs(specs) do
      local truth = tr[g]
      local start = moe.near_truth_start(truth, sp.experts)
      local losses, losses_d1, iters, notconv = {}, {}, 0, 0
      for ni, n in ipairs(sizes) do
        local l1, it, conv, l2 = moe.replicate(truth, { start = start, perturb = o.perturb or 0.1, n = n, reps = reps,
          seed = 1000 * gi + 100 * si + ni, loss = sp.loss, maxit = o.maxit or 2000, quiet = true })
        losses[ni] = (l2 or l1):totable()
        losses_d1[ni] = l1:totable()
        for r = 1, reps do
          iters = iters + it[r]
          if not conv[r] then notconv = notconv + 1 end
        end
        done = done + 1
        bar:update(done, ("%s/%s n=%d"):format(g, sp.name, n))
      end
      local est, lo, hi, means = slope_ci(sizes, losses, o.bootstrap or 1000, 77 + gi * 10 + si, mean)
      local mest, mlo, mhi, medians = slope_ci(sizes, losses, o.bootstrap or 1000, 78 + gi * 10 + si, median)
      results[#results + 1] = { gate = g, spec = sp.name, loss = sp.loss, slope = est, lo = lo, hi = hi,
        means = means, median_slope = mest, median_lo = mlo, median_hi = mhi, medians = medians, sizes = sizes,
        mean_iters = iters / (reps * #sizes), not_converged = notconv, losses = losses }
      if sp.loss == "D2" then -- the same over-specified fits measured by D1 (first powers: the parameters' own rate)
        local e1, l1, h1, m1 = slope_ci(sizes, losses_d1, o.bootstrap or 1000, 79 + gi * 10 + si, mean)
        local me1, ml1, mh1, md1 = slope_ci(sizes, losses_d1, o.bootstrap or 1000, 80 + gi * 10 + si, median)
        results[#results + 1] = { gate = g, spec = sp.name, loss = "D1", slope = e1, lo = l1, hi = h1, means = m1,
          median_slope = me1, median_lo = ml1, median_hi = mh1, medians = md1, sizes = sizes,
          mean_iters = iters / (reps * #sizes), not_converged = notconv, losses = losses_d1 }
      end
    end
  end
  bar:finish()
  local wall = os.time() - t0
  return results, wall
end

local function report(results, wall, reps)
  local sz = results[1].sizes
  local lines = { ("| gate | fit | loss | slope of mean | 95%% bootstrap | slope of median | 95%% bootstrap | slope of mean, last decade | mean loss n=%d | mean loss n=%d | EM iters | not converged |")
    :format(sz[1], sz[#sz]), "|---|---|---|---|---|---|---|---|---|---|---|---|" }
  for _, r in ipairs(results) do
    -- the local slope over n >= n_max / 10 shows a plateau that the whole range averages away
    local xs, ys = {}, {}
    for i, n in ipairs(r.sizes) do
      if n >= r.sizes[#r.sizes] / 10 - 0.5 then xs[#xs + 1], ys[#ys + 1] = n, r.means[i] end
    end
    lines[#lines + 1] = ("| %s | %s | %s | %.3f | [%.3f, %.3f] | %.3f | [%.3f, %.3f] | %s | %.3g | %.3g | %.1f | %d/%d |"):format(
      r.gate, r.spec, r.loss, r.slope, r.lo, r.hi, r.median_slope, r.median_lo, r.median_hi,
      #xs >= 2 and ("%.3f"):format(slope(xs, ys)) or "-", r.means[1], r.means[#r.means], r.mean_iters, r.not_converged,
      reps * #r.sizes)
  end
  lines[#lines + 1] = ("(%d replications per n, %d sizes, wall %d s)"):format(reps, #results[1].sizes, wall)
  return table.concat(lines, "\n")
end

local function plot(results, file)
  local ok, pl = pcall(require, "moonlab.plot")
  if not ok or not pl.available() then return nil end
  local series = {}
  for _, r in ipairs(results) do
    series[#series + 1] = { x = r.sizes, y = r.means, label = ("%s %s (%s) slope %.2f"):format(r.gate, r.spec, r.loss, r.slope),
      style = "linespoints" }
  end
  return pl.loglog { file = file, title = "Gaussian MoE: mean Voronoi loss vs n", xlabel = "n",
    ylabel = "mean loss", series = series }
end

local M = { run = run, report = report, plot = plot, truths = truths }

if arg and arg[1] == "--module" then return M end
if ... == "--module" then return M end

local o = { reps = 20 }
local out = "build"
local i = 1
while arg and arg[i] do
  local a = arg[i]
  if a == "--full" then o.reps = 40
  elseif a == "--reps" then i = i + 1; o.reps = tonumber(arg[i])
  elseif a == "--sizes" then i = i + 1; o.sizes = tonumber(arg[i])
  elseif a == "--nmax" then i = i + 1; o.nmax = tonumber(arg[i])
  elseif a == "--gates" then
    i = i + 1
    o.gates = {}
    for g in arg[i]:gmatch("[^,]+") do o.gates[#o.gates + 1] = g end
  elseif a == "--temperature" then i = i + 1; o.temperature = arg[i]
  elseif a == "--out" then i = i + 1; out = arg[i]
  elseif a == "--quiet" then o.quiet = true
  else error("moe_rates: unknown argument " .. a) end
  i = i + 1
end
local results, wall = run(o)
print(report(results, wall, o.reps))
os.execute("mkdir -p '" .. out .. "'")
local f = plot(results, out .. "/moe_rates.png")
if f then print("figure: " .. f) end
