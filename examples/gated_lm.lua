-- examples/gated_lm.lua — does a G1 gate (elementwise sigmoid after SDPA, Qiu et al. 2025 §2.2) lower the
-- loss, remove the attention sink (F-Attn) and shrink massive activations (M-Act) in a small byte-level
-- language model trained on Debian's fortunes?
--
-- Trains a baseline and a G1-gated model (optionally a headwise-gated one, --headwise) with the same seed,
-- data and token budget; logs training and validation loss, F-Attn per layer and M-Act over training;
-- plots the curves (moonlab.plot, else CSV) and prints a table next to the paper's (15B MoE, 3.5T tokens:
-- F-Attn 0.467 -> 0.048, M-Act 1053 -> 94).
--
-- Run: lua5.4 examples/gated_lm.lua [--full] [--headwise] [outdir]
--   default: 2 layers, d_model 64, context 64, 300 steps of 8 sequences (well under a minute on 2 cores);
--   --full:  6 layers, d_model 256, context 256, 3000 steps of 16 sequences (about 30 min on 2 idle cores).
local nn = require "moonlab.nn"
local progress = require "moonlab.progress"

local function config(full)
  if full == "tour" then -- the make-demo section (examples/tour_nn.lua)
    return { layers = 2, d_model = 32, heads = 4, context = 32, batch = 8, steps = 150, lr = 3e-3, warmup = 10,
      eval_every = 50, eval_batches = 2 }
  end
  if full then
    return { layers = 6, d_model = 256, heads = 8, context = 256, batch = 16, steps = 3000, lr = 1e-3,
      warmup = 100, eval_every = 250, eval_batches = 8 }
  end
  return { layers = 2, d_model = 64, heads = 4, context = 64, batch = 8, steps = 300, lr = 3e-3, warmup = 20,
    eval_every = 50, eval_batches = 4 }
end

-- Trains one variant; returns its history {step, train, val, f_attn = {per layer}, m_act}.
local function train(name, gate, c, ds, quiet)
  local m = nn.gpt { vocab = 256, context = c.context, layers = c.layers, d_model = c.d_model, heads = c.heads,
    gate = gate, seed = 1 }
  local hist = {}
  local p = progress.new { label = "gated_lm " .. name, total = c.steps, quiet = quiet }
  local probe = ds:batch("val", 4, 10 ^ 6) -- a fixed validation batch for the statistics
  local recent = {}
  for s = 1, c.steps do
    local x, y = ds:batch("train", c.batch, s)
    local loss = m:loss(x, y)
    m:backward()
    m:step { lr = c.lr, warmup = c.warmup, total_steps = c.steps, min_lr = c.lr / 10, weight_decay = 0.1 }
    recent[#recent + 1] = loss
    if s % c.eval_every == 0 or s == c.steps then
      local val = 0
      for i = 1, c.eval_batches do
        local vx, vy = ds:batch("val", c.batch, i)
        val = val + m:loss(vx, vy)
      end
      local tr = 0
      for _, v in ipairs(recent) do tr = tr + v end
      local st = m:stats(probe)
      hist[#hist + 1] = { step = s, train = tr / #recent, val = val / c.eval_batches, f_attn = st.f_attn,
        m_act = st.max_act, gate_mean = st.gate_mean }
      recent = {}
    end
    p:update(s)
  end
  p:finish()
  return hist, m
end

local function mean(t)
  local s = 0
  for _, v in ipairs(t) do s = s + v end
  return s / #t
end

local function experiment(full, variants, quiet)
  local c = config(full)
  local ds = nn.text_dataset(nil, { context = c.context, seed = 7 })
  local res = {}
  for _, v in ipairs(variants) do
    local h = train(v[1], v[2], c, ds, quiet)
    res[#res + 1] = { name = v[1], hist = h }
  end
  return res, c
end

local function summary(res)
  local lines = { "| model | val loss | train loss | F-Attn (mean over layers) | F-Attn per layer | M-Act |",
    "|---|---|---|---|---|---|" }
  for _, r in ipairs(res) do
    local last = r.hist[#r.hist]
    local per = {}
    for l, v in ipairs(last.f_attn) do per[l] = ("%.3f"):format(v) end
    lines[#lines + 1] = ("| %s | %.4f | %.4f | %.3f | %s | %.1f |"):format(r.name, last.val, last.train,
      mean(last.f_attn), table.concat(per, ", "), last.m_act)
  end
  lines[#lines + 1] = "| paper (15B MoE, 3.5T tokens): baseline / G1 elementwise | | | 0.467 / 0.048 | | 1053 / 94 |"
  return table.concat(lines, "\n")
end

local function write_figures(res, outdir)
  outdir = outdir or "."
  assert(os.execute("mkdir -p '" .. outdir:gsub("'", "'\\''") .. "'"), "cannot create " .. outdir)
  local ok, plot = pcall(require, "moonlab.plot")
  local files = {}
  if ok and plot.available and plot.available() then
    local loss, fa = {}, {}
    for _, r in ipairs(res) do
      local xs, vs, ts, fs = {}, {}, {}, {}
      for i, h in ipairs(r.hist) do xs[i], vs[i], ts[i], fs[i] = h.step, h.val, h.train, mean(h.f_attn) end
      loss[#loss + 1] = { x = xs, y = vs, label = r.name .. " val", style = "linespoints" }
      loss[#loss + 1] = { x = xs, y = ts, label = r.name .. " train", style = "lines" }
      fa[#fa + 1] = { x = xs, y = fs, label = r.name, style = "linespoints" }
    end
    files[1] = outdir .. "/gated_lm_loss.png"
    plot.lines { file = files[1], title = "Byte-level LM on fortunes: loss", xlabel = "step", ylabel = "nats/byte",
      series = loss }
    files[2] = outdir .. "/gated_lm_fattn.png"
    plot.lines { file = files[2], title = "First-token attention share (F-Attn, mean over layers)", xlabel = "step",
      ylabel = "F-Attn", yrange = { 0, 1 }, series = fa }
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
  return { experiment = experiment, summary = summary, write_figures = write_figures, VARIANTS = VARIANTS }
end

local full, outdir = false, "."
local variants = { VARIANTS[1], VARIANTS[2] }
for _, a in ipairs { ... } do
  if a == "--full" then full = true
  elseif a == "--headwise" then variants[#variants + 1] = { "G1 headwise sigmoid", "headwise" }
  else outdir = a end
end
local t0 = os.time()
local res, c = experiment(full, variants, false)
print(("%d layers, d_model %d, context %d, %d steps x %d sequences (%d tokens per model), %d s"):format(c.layers,
  c.d_model, c.context, c.steps, c.batch, c.steps * c.batch * c.context, os.time() - t0))
for _, r in ipairs(res) do
  print(r.name)
  for _, h in ipairs(r.hist) do
    local per = {}
    for l, v in ipairs(h.f_attn) do per[l] = ("%.3f"):format(v) end
    print(("  step %5d  train %.4f  val %.4f  F-Attn [%s]  M-Act %.1f"):format(h.step, h.train, h.val,
      table.concat(per, " "), h.m_act))
  end
end
print(summary(res))
for _, f in ipairs(write_figures(res, outdir)) do print("figure: " .. f) end
