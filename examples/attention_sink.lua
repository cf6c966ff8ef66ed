-- examples/attention_sink.lua — why the G1 gate removes the attention sink (Qiu et al. 2025, §4.3).
--
-- A one-layer, 4-head causal attention is trained (Adam, gradients from attn.sdpa_backward) on a
-- task where many queries must stay quiet: head h returns the mean of a fixed linear map of the
-- earlier tokens (BOS excluded) when the query carries flag h, and only a tenth of it otherwise
-- (flag h is on for 80/60/40/20 % of the tokens). Softmax weights sum to 1, so an ungated head can
-- only scale its output down by parking 90 % of its weight on the first (BOS) token, whose value it
-- learns to make 0: an attention sink. With a sigmoid gate on the SDPA output (G1) the head scales
-- its output with the gate instead and keeps its weights on the real tokens.
-- We report the first-token share (F-Attn) per head, measured with attn.sink_stats, for no gate, a
-- headwise gate and an elementwise gate, and plot it (moonlab.plot when available, else CSV).
--
-- Run: lua5.4 examples/attention_sink.lua [outdir]
-- Trains three models for 1500 Adam steps each (STEPS=n to change): about 10 s of CPU on a Zen3
-- core, longer on a busy machine. A progress line per model goes to stderr; the results are printed
-- before the figure is written into outdir (created when missing; default ".").
local T = require "moonlab.tensor"
local attn = require "moonlab.attn"
local progress = require "moonlab.progress"

local B, L, D, H, E = 4, 24, 10, 4, 6 -- sequences, tokens, model width, heads, head dim
local FLAG_P = { 0.8, 0.6, 0.4, 0.2 }  -- share of tokens carrying flag h (dims 1..4)
local QUIET = 0.1                      -- output scale of a head on queries without its flag
local WD = 0.01                        -- decoupled weight decay (AdamW)

-- Deterministic data: token 1 is BOS (dimension D only), others: flags in dims 1..H, content in
-- H+1..D-2, and 1 in dimension D-1.
local function make_data(seed)
  local x = T.zeros({ B, L, D })
  local u = T.rand({ B, L, D }, { seed = seed })
  local n = T.randn({ B, L, D }, { seed = seed + 1 })
  for b = 1, B do
    x:set(b, 1, D, 1)
    for t = 2, L do
      for h = 1, H do x:set(b, t, h, u:get(b, t, h) < FLAG_P[h] and 1 or 0) end
      for d = H + 1, D - 2 do x:set(b, t, d, n:get(b, t, d)) end
      x:set(b, t, D - 1, 1) -- a constant direction (a bias) on every real token
    end
  end
  -- target: Y[b,h,t,:] = (flag_h(t) ? 1 : QUIET) * mean_{2<=s<=t} x_s M_h  (M_h reads content dims)
  local M = T.randn({ H, D, E }, { seed = seed + 2, std = 0.5 })
  local y = T.zeros({ B, H, L, E })
  for b = 1, B do
    for h = 1, H do
      local acc = {}
      for e = 1, E do acc[e] = 0 end
      for t = 2, L do
        for e = 1, E do
          local s = 0
          for d = H + 1, D - 2 do s = s + x:get(b, t, d) * M:get(h, d, e) end
          acc[e] = acc[e] + s
        end
        local scale = x:get(b, t, h) > 0 and 1 or QUIET
        for e = 1, E do y:set(b, h, t, e, scale * acc[e] / (t - 1)) end
      end
    end
  end
  return x, y
end

-- dW [D, H*G] = Σ_{b,t} x[b,t,:]ᵀ dZ[b,h,t,:] for a per-head projection Z = gate_scores(x, W).
local function proj_grad(x, dz)
  local s = dz:shape()
  local Hh, G = s[2], s[4]
  local dzt, rows = dz:totable(), {}
  for b = 1, B do for t = 1, L do
    local row = {}
    for h = 1, Hh do for g = 1, G do row[(h - 1) * G + g] = dzt[b][h][t][g] end end
    rows[(b - 1) * L + t] = row
  end end
  return x:reshape { B * L, D }:transpose():matmul(T.new(rows))
end

local function proj(x, w, G)
  return (attn.gate_scores(x, w, { heads = H, head_dim = G }))
end

-- Trains one model; gate = nil | "headwise" | "elementwise". Returns per-head F-Attn and loss.
-- label names the model on the progress line (stderr); quiet silences it.
local function train(gate, steps, x, y, label, quiet)
  local params = {
    q = T.randn({ D, H * E }, { seed = 11, std = 0.3 }),
    k = T.randn({ D, H * E }, { seed = 12, std = 0.3 }),
    v = T.randn({ D, H * E }, { seed = 13, std = 0.3 }),
  }
  local G = gate == "headwise" and 1 or E
  if gate then params.g = T.randn({ D, H * G }, { seed = 14, std = 0.3 }) end
  local m, v2 = {}, {}
  for name, p in pairs(params) do m[name] = T.zeros(p:shape()); v2[name] = T.zeros(p:shape()) end
  local lr, b1, b2, eps = 0.03, 0.9, 0.999, 1e-8
  local loss
  local N = y:numel()
  local function forward()
    local q, k, v = proj(x, params.q, E), proj(x, params.k, E), proj(x, params.v, E)
    local o = { causal = true }
    if gate then o.gate = attn.gate_scores(x, params.g, { heads = H, head_dim = E, granularity = gate }) end
    local out, ex = attn.sdpa(q, k, v, o)
    return q, k, v, o, out, ex
  end
  local bar = progress.new { label = "attention_sink: training " .. label, total = steps, quiet = quiet }
  for step = 1, steps do
    if step % 50 == 0 then bar:update(step) end
    local q, k, v, o, out, ex = forward()
    local diff = out - y
    loss = (diff * diff):sum() / N
    local grads = attn.sdpa_backward(diff * (2 / N), q, k, v, out, ex, o)
    local g = { q = proj_grad(x, grads.dq), k = proj_grad(x, grads.dk), v = proj_grad(x, grads.dv) }
    if gate then g.g = proj_grad(x, grads.dgate) end
    for name, p in pairs(params) do
      m[name] = m[name] * b1 + g[name] * (1 - b1)
      v2[name] = v2[name] * b2 + g[name] * g[name] * (1 - b2)
      local mh = m[name] * (1 / (1 - b1 ^ step))
      local vh = v2[name] * (1 / (1 - b2 ^ step))
      params[name] = p * (1 - lr * WD) - mh * lr / (vh:sqrt() + eps)
    end
  end
  bar:finish(("loss %.2e"):format(loss))
  local q, k, _, _, out = forward()
  local st = attn.sink_stats(q, k, { causal = true })
  local share = {}
  for h = 1, H do share[h] = st.first_token:get(h) end
  return { share = share, f_attn = st.f_attn, loss = loss, m_act = attn.massive_activation(out) }
end

-- Runs the three variants (opts.steps, opts.quiet). Returns the results.
local function experiment(o)
  o = o or {}
  local steps = o.steps or tonumber(os.getenv("STEPS") or "1500")
  local x, y = make_data(7)
  local res = {}
  local t0 = os.clock()
  for i, m in ipairs { { "no gate" }, { "headwise sigmoid gate", "headwise" }, { "elementwise sigmoid gate", "elementwise" } } do
    if not (o.quiet or os.getenv("MOONLAB_QUIET") == "1") then
      io.stderr:write(("attention_sink: model %d/3, %s: %d Adam steps (%.0f s CPU so far)\n"):format(i, m[1], steps,
        os.clock() - t0))
    end
    res[i] = { name = m[1], r = train(m[2], steps, x, y, m[1], o.quiet) }
  end
  return res
end

-- One line per model.
local function summary(res)
  local lines = {}
  for i, v in ipairs(res) do
    local s = {}
    for h = 1, H do s[h] = ("%.3f"):format(v.r.share[h]) end
    lines[i] = ("%-26s F-Attn %.3f  per head {%s}  loss %.2e  max|out| %.2f"):format(v.name, v.r.f_attn,
      table.concat(s, ", "), v.r.loss, v.r.m_act)
  end
  return table.concat(lines, "\n")
end

-- Writes the figure (or a CSV when gnuplot is missing) into outdir, created when missing. Returns its path.
local function write_figure(res, outdir)
  outdir = outdir or "."
  assert(os.execute("mkdir -p '" .. outdir:gsub("'", "'\\''") .. "'"), "cannot create " .. outdir)
  local ok, plot = pcall(require, "moonlab.plot")
  local file
  local heads = {}
  for h = 1, H do heads[h] = h end
  if ok and plot.available and plot.available() then
    local series = {}
    for i, v in ipairs(res) do
      series[i] = { x = heads, y = v.r.share, label = v.name, style = "linespoints" }
    end
    file = outdir .. "/attention_sink.png"
    plot.lines { file = file, title = "First-token attention share per head (F-Attn)",
      xlabel = "head (flag on for 80/60/40/20 % of queries)", ylabel = "mean weight on token 1",
      yrange = { 0, 1 }, series = series }
  else
    file = outdir .. "/attention_sink.csv"
    local fh = assert(io.open(file, "w"))
    fh:write("head,no_gate,headwise,elementwise\n")
    for h = 1, H do
      fh:write(("%d,%.6f,%.6f,%.6f\n"):format(h, res[1].r.share[h], res[2].r.share[h], res[3].r.share[h]))
    end
    fh:close()
  end
  return file
end

if select(1, ...) == "--module" then
  return { experiment = experiment, summary = summary, write_figure = write_figure }
end

local outdir = select(1, ...) or "."
local res = experiment()
print(summary(res))
io.stdout:flush()
print("wrote " .. write_figure(res, outdir))
