-- examples/gated_lm.lua — does a G1 gate (elementwise sigmoid after SDPA, Qiu et al. 2025 §2.2) lower the
-- loss, remove the attention sink (F-Attn) and shrink massive activations (M-Act) in a small byte-level
-- language model trained on Debian's fortunes?
--
-- Trains a baseline and a G1-gated model (optionally a headwise-gated one, --headwise) in lockstep with the
-- same seed, data and token budget; logs training and validation loss, F-Attn per layer and M-Act over
-- training; plots the curves (moonlab.plot, else CSV) and prints a table next to the paper's (15B MoE, 3.5T
-- tokens: F-Attn 0.467 -> 0.048, M-Act 1053 -> 94). The log (gated_lm_log.csv) and the table
-- (gated_lm_table.md) in outdir are rewritten at every evaluation, so an interrupted run is still usable.
--
-- Run: lua5.4 examples/gated_lm.lua [--full] [--moe] [--bos] [--headwise] [--steps N] [outdir]
--   default: 2 layers, d_model 64, context 64, 300 steps of 8 sequences (well under a minute on 2 cores);
--   --full:  6 layers, d_model 256, context 256, 800 steps of 16 sequences (3.3M tokens per model, about
--            30 min for both models on 2 idle cores);
--   --moe:   ffn = "moe" (8 experts of half the dense SwiGLU width, top-2, Switch aux loss 0.01) in every
--            block; the table adds the router load per expert of the last layer;
--   --bos:   every sequence starts with a fixed byte (0) instead of a random window byte, like the BOS
--            token of the paper's training data;
--   --steps: override the number of steps (the schedule follows it).
local nn = require "moonlab.nn"
local progress = require "moonlab.progress"

local function config(full)
  if full == "tour" then -- the make-demo section (examples/tour_nn.lua)
    return { layers = 2, d_model = 32, heads = 4, context = 32, batch = 8, steps = 150, lr = 3e-3, warmup = 10,
      eval_every = 50, eval_batches = 2 }
  end
  if full then
    return { layers = 6, d_model = 256, heads = 8, context = 256, batch = 16, steps = 800, lr = 1e-3,
      warmup = 40, eval_every = 25, eval_batches = 4 }
  end
  return { layers = 2, d_model = 64, heads = 4, context = 64, batch = 8, steps = 300, lr = 3e-3, warmup = 20,
    eval_every = 50, eval_batches = 4 }
end

local function mean(t)
  local s = 0
  for _, v in ipairs(t) do s = s + v end
  return s / #t
end

-- F-Attn of attention spread evenly over the causal prefix: the mean over queries t = 1..T of 1/t.
local function even_spread(T)
  local s = 0
  for t = 1, T do s = s + 1 / t end
  return s / T
end

-- With MoE each expert gets half the dense SwiGLU width, so top-2 routing costs the dense model's FFN FLOPs.
local function model_for(v, c)
  local dense_ff = (8 * c.d_model // 3) // 8 * 8
  return nn.gpt { vocab = 256, context = c.context, layers = c.layers, d_model = c.d_model, heads = c.heads,
    gate = v[2], seed = 1, ffn = c.moe and "moe" or "swiglu", moe = c.moe or nil,
    d_ff = c.moe and math.max(8, dense_ff // 2 // 8 * 8) or dense_ff }
end

-- Trains the variants in lockstep on the same batches; returns {name, hist} per variant, each history a list of
-- {step, train, val, f_attn = {per layer}, m_act, router_load}. on_eval(res, c) runs after each evaluation.
local function train_all(variants, c, ds, quiet, on_eval)
  local res = {}
  for i, v in ipairs(variants) do res[i] = { name = v[1], model = model_for(v, c), hist = {}, recent = {} } end
  local p = progress.new { label = "gated_lm", total = c.steps, quiet = quiet }
  local probe = ds:batch("val", 4, 10 ^ 6) -- a fixed validation batch for the statistics
  local sched = { lr = c.lr, warmup = c.warmup, total_steps = c.steps, min_lr = c.lr / 10, weight_decay = 0.1 }
  for s = 1, c.steps do
    local x, y = ds:batch("train", c.batch, s)
    for _, r in ipairs(res) do
      r.recent[#r.recent + 1] = r.model:loss(x, y)
      r.model:backward()
      r.model:step(sched)
    end
    if s % c.eval_every == 0 or s == c.steps then
      for _, r in ipairs(res) do
        local val = 0
        for i = 1, c.eval_batches do
          local vx, vy = ds:batch("val", c.batch, i)
          val = val + r.model:loss(vx, vy)
        end
        local st = r.model:stats(probe)
        local hmax = {}
        for l, hs in ipairs(st.f_attn_heads) do hmax[l] = math.max(table.unpack(hs)) end
        r.hist[#r.hist + 1] = { step = s, train = mean(r.recent), val = val / c.eval_batches, f_attn = st.f_attn,
          f_attn_head_max = hmax, m_act = st.max_act, gate_mean = st.gate_mean, router_load = st.router_load }
        r.recent = {}
      end
      if on_eval then on_eval(res, c) end
    end
    p:update(s)
  end
  p:finish()
  return res
end

local function experiment(full, variants, quiet, o)
  o = o or {}
  local c = config(full)
  for k, v in pairs(o.config or {}) do c[k] = v end
  if o.steps then c.steps = o.steps end
  if o.moe then c.moe = { experts = 8, k = 2, aux = 0.01 } end
  local ds = nn.text_dataset(nil, { context = c.context, seed = 7, bos = o.bos and 0 or nil })
  return train_all(variants, c, ds, quiet, o.on_eval), c
end

-- Router load of the last layer as shares of the routed tokens, e.g. "0.12 0.13 ...".
local function load_shares(rl)
  if not rl then return nil end
  local last, tot, out = rl[#rl], 0, {}
  for _, v in ipairs(last) do tot = tot + v end
  for e, v in ipairs(last) do out[e] = ("%.3f"):format(v / tot) end
  return table.concat(out, " ")
end

local function summary(res, c)
  local moe = res[1].hist[#res[1].hist].router_load ~= nil
  local lines = { "| model | step | val loss | train loss | F-Attn (mean over layers) | F-Attn per layer | M-Act |"
    .. (moe and " router load (last layer, share per expert) |" or ""),
    "|---|---|---|---|---|---|---|" .. (moe and "---|" or "") }
  for _, r in ipairs(res) do
    local last = r.hist[#r.hist]
    local per = {}
    for l, v in ipairs(last.f_attn) do per[l] = ("%.3f"):format(v) end
    lines[#lines + 1] = ("| %s | %d | %.4f | %.4f | %.3f | %s | %.1f |"):format(r.name, last.step, last.val,
      last.train, mean(last.f_attn), table.concat(per, ", "), last.m_act)
      .. (moe and (" %s |"):format(load_shares(last.router_load)) or "")
  end
  if c then
    lines[#lines + 1] = ("| even spread over the causal prefix (context %d) | | | | %.3f | | |"):format(c.context,
      even_spread(c.context)) .. (moe and (" %.3f each |"):format(1 / c.moe.experts) or "")
  end
  lines[#lines + 1] = "| paper (15B MoE, 3.5T tokens): baseline / G1 elementwise | | | | 0.467 / 0.048 | | 1053 / 94 |"
    .. (moe and " |" or "")
  return table.concat(lines, "\n")
end

local function write_log(res, c, outdir)
  local fh = assert(io.open(outdir .. "/gated_lm_log.csv", "w"))
  fh:write("model,step,train,val,f_attn_mean,m_act,f_attn_per_layer,f_attn_max_head_per_layer,router_load_last_layer\n")
  for _, r in ipairs(res) do
    for _, h in ipairs(r.hist) do
      local per, hm = {}, {}
      for l, v in ipairs(h.f_attn) do per[l], hm[l] = ("%.4f"):format(v), ("%.4f"):format(h.f_attn_head_max[l]) end
      fh:write(("%s,%d,%.6f,%.6f,%.6f,%.4f,%s,%s,%s\n"):format(r.name, h.step, h.train, h.val, mean(h.f_attn), h.m_act,
        table.concat(per, " "), table.concat(hm, " "), load_shares(h.router_load) or ""))
    end
  end
  fh:close()
  fh = assert(io.open(outdir .. "/gated_lm_table.md", "w"))
  fh:write(summary(res, c), "\n")
  fh:close()
end

local function write_figures(res, outdir)
  outdir = outdir or "."
  assert(os.execute("mkdir -p '" .. outdir:gsub("'", "'\\''") .. "'"), "cannot create " .. outdir)
  local ok, plot = pcall(require, "moonlab.plot")
  local files = {}
  if ok and plot.available and plot.available() then
    local loss, fa, ma = {}, {}, {}
    for _, r in ipairs(res) do
      local xs, vs, ts, fs, ms = {}, {}, {}, {}, {}
      for i, h in ipairs(r.hist) do
        xs[i], vs[i], ts[i], fs[i], ms[i] = h.step, h.val, h.train, mean(h.f_attn), h.m_act
      end
      loss[#loss + 1] = { x = xs, y = vs, label = r.name .. " val", style = "linespoints" }
      loss[#loss + 1] = { x = xs, y = ts, label = r.name .. " train", style = "lines" }
      fa[#fa + 1] = { x = xs, y = fs, label = r.name, style = "linespoints" }
      ma[#ma + 1] = { x = xs, y = ms, label = r.name, style = "linespoints" }
    end
    files[1] = outdir .. "/gated_lm_loss.png"
    plot.lines { file = files[1], title = "Byte-level LM on fortunes: loss", xlabel = "step", ylabel = "nats/byte",
      series = loss }
    files[2] = outdir .. "/gated_lm_fattn.png"
    plot.lines { file = files[2], title = "First-token attention share (F-Attn, mean over layers)", xlabel = "step",
      ylabel = "F-Attn", yrange = { 0, 1 }, series = fa }
    files[3] = outdir .. "/gated_lm_mact.png"
    plot.lines { file = files[3], title = "Largest hidden-state activation (M-Act)", xlabel = "step",
      ylabel = "M-Act", series = ma }
  else
    files[1] = outdir .. "/gated_lm.csv"
    local fh = assert(io.open(files[1], "w"))
    fh:write("model,step,train,val,f_attn,m_act\n")
    for _, r in ipairs(res) do
      for _, h in ipairs(r.hist) do
        fh:write(("%s,%d,%.6f,%.6f,%.6f,%.4f\n"):format(r.name, h.step, h.train, h.val, mean(h.f_attn), h.m_act))
      end
    end
    fh:close()
  end
  return files
end

local VARIANTS = { { "baseline", "none" }, { "G1 elementwise sigmoid", "elementwise" } }

if select(1, ...) == "--module" then
  return { experiment = experiment, summary = summary, write_figures = write_figures, VARIANTS = VARIANTS,
    even_spread = even_spread, mean = mean }
end

local full, outdir, o = false, ".", {}
local variants = { VARIANTS[1], VARIANTS[2] }
local args = { ... }
local i = 1
while i <= #args do
  local a = args[i]
  if a == "--full" then full = true
  elseif a == "--headwise" then variants[#variants + 1] = { "G1 headwise sigmoid", "headwise" }
  elseif a == "--moe" then o.moe = true
  elseif a == "--bos" then o.bos = true
  elseif a == "--steps" then
    i = i + 1
    o.steps = math.tointeger(tonumber(args[i] or ""))
    if not o.steps or o.steps < 1 then error("gated_lm: --steps expects a positive integer, got " .. tostring(args[i])) end
  elseif a:sub(1, 2) == "--" then error("gated_lm: unknown option " .. a)
  else outdir = a end
  i = i + 1
end
assert(os.execute("mkdir -p '" .. outdir:gsub("'", "'\\''") .. "'"), "cannot create " .. outdir)
local t0 = os.time()
o.on_eval = function(res, c)
  write_log(res, c, outdir)
  local parts = {}
  for _, r in ipairs(res) do
    local h = r.hist[#r.hist]
    parts[#parts + 1] = ("%s: val %.4f F-Attn %.3f M-Act %.1f"):format(r.name, h.val, mean(h.f_attn), h.m_act)
  end
  io.stderr:write(("step %d (%d s): %s\n"):format(res[1].hist[#res[1].hist].step, os.time() - t0,
    table.concat(parts, "; ")))
end
local res, c = experiment(full, variants, false, o)
print(("%d layers, d_model %d, context %d%s%s, %d steps x %d sequences (%d tokens per model), %d s"):format(c.layers,
  c.d_model, c.context, c.moe and ", MoE 8 experts top-2" or "", o.bos and ", BOS byte 0" or "", c.steps, c.batch,
  c.steps * c.batch * c.context, os.time() - t0))
for _, r in ipairs(res) do
  print(r.name)
  for _, h in ipairs(r.hist) do
    local per = {}
    for l, v in ipairs(h.f_attn) do per[l] = ("%.3f"):format(v) end
    print(("  step %5d  train %.4f  val %.4f  F-Attn [%s]  M-Act %.1f%s"):format(h.step, h.train, h.val,
      table.concat(per, " "), h.m_act, h.router_load and ("  load " .. load_shares(h.router_load)) or ""))
  end
end
print(summary(res, c))
for _, f in ipairs(write_figures(res, outdir)) do print("figure: " .. f) end
