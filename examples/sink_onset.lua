-- examples/sink_onset.lua — at what scale and training length does an attention sink (F-Attn, the mean
-- attention on the first token, well above the even spread over the causal prefix) start to form in the
-- baseline of examples/gated_lm.lua, and does the G1 gate remove it there?
--
-- Each study trains a baseline (and with --g1 the G1-gated model in lockstep) on Debian's fortunes and logs,
-- every eval_every steps, F-Attn per layer against the even-spread value H_T/T (mean over queries t of 1/t)
-- and M-Act. "bos" studies start every sequence with the fixed byte 0 (nn.text_dataset{bos = 0}); the others
-- use windows starting at random bytes, so position 1 holds a different byte in every sequence.
--
-- Run: lua5.4 examples/sink_onset.lua [--g1 | --g1-only] [--out DIR] [study ...]   (no study: all, in order)
-- --g1 trains the G1 model in lockstep with the baseline; --g1-only trains it alone (the baseline of the same
-- study is bit for bit the same run at the same thread count, so a baseline-only log can be reused).
-- Each study writes its log sink_onset_<study>[_g1|_g1only].csv to DIR (default "."), rewritten at every
-- evaluation, and the script prints a table of every second evaluation at the end.
local root = os.getenv("MOONLAB_ROOT") or "."
local ex = assert(loadfile(root .. "/examples/gated_lm.lua"))("--module")

-- {name, config overrides, bos}; sizes chosen so each baseline costs a few CPU minutes or less.
-- study(name, layers, d_model, context, steps, lr, warmup, eval_every, eval_batches, bos): 4 heads, batch 8.
local function study(name, layers, d_model, context, steps, lr, warmup, eval_every, eval_batches, bos)
  return { name, { layers = layers, d_model = d_model, heads = 4, context = context, batch = 8, steps = steps, lr = lr,
    warmup = warmup, eval_every = eval_every, eval_batches = eval_batches }, bos }
end
local STUDIES = {
  study("L2d64T64",      2,  64,  64, 1200, 3e-3, 20, 100, 4, false),
  study("L2d64T64bos",   2,  64,  64, 1200, 3e-3, 20, 100, 4, true),
  study("L2d64T64bos4k", 2,  64,  64, 4000, 3e-3, 20, 250, 4, true),
  study("L2d64T64_4k",   2,  64,  64, 4000, 3e-3, 20, 250, 4, false),
  study("L2d64T128bos",  2,  64, 128, 2000, 3e-3, 20, 200, 4, true),
  study("L4d64T256bos",  4,  64, 256,  800, 3e-3, 20, 100, 2, true),
  study("L4d128T128bos", 4, 128, 128, 1000, 2e-3, 40, 100, 2, true),
  study("L4d128T128",    4, 128, 128, 1000, 2e-3, 40, 100, 2, false),
}

local g1, out, pick = false, ".", {}
local args = { ... }
local i = 1
while i <= #args do
  if args[i] == "--g1" then g1 = true
  elseif args[i] == "--g1-only" then g1 = "only"
  elseif args[i] == "--out" then i = i + 1; out = args[i]
  else pick[args[i]] = true end
  i = i + 1
end
assert(os.execute("mkdir -p '" .. out:gsub("'", "'\\''") .. "'"), "cannot create " .. out)

local function fmt_layers(t)
  local s = {}
  for l, v in ipairs(t) do s[l] = ("%.3f"):format(v) end
  return table.concat(s, " ")
end

local function write_csv(path, res, c)
  local fh = assert(io.open(path, "w"))
  local even = ex.even_spread(c.context)
  fh:write("model,step,tokens,val,f_attn_per_layer,f_attn_max_layer,f_attn_max_head_per_layer,even_spread,m_act\n")
  for _, r in ipairs(res) do
    for _, h in ipairs(r.hist) do
      fh:write(("%s,%d,%d,%.4f,%s,%.4f,%s,%.4f,%.2f\n"):format(r.name, h.step, h.step * c.batch * c.context, h.val,
        fmt_layers(h.f_attn), math.max(table.unpack(h.f_attn)), fmt_layers(h.f_attn_head_max), even, h.m_act))
    end
  end
  fh:close()
end

local rows = { "| study | BOS | model | tokens | val loss | F-Attn per layer | even spread | max layer / even | "
  .. "max head F-Attn per layer | M-Act |", "|---|---|---|---|---|---|---|---|---|---|" }
for _, st in ipairs(STUDIES) do
  local name, cfg, bos = st[1], st[2], st[3]
  if next(pick) == nil or pick[name] then
    local t0 = os.time()
    local variants = g1 == "only" and { ex.VARIANTS[2] } or g1 and { ex.VARIANTS[1], ex.VARIANTS[2] }
      or { ex.VARIANTS[1] }
    local csv = ("%s/sink_onset_%s%s.csv"):format(out, name, g1 == "only" and "_g1only" or g1 and "_g1" or "")
    local res, c = ex.experiment(false, variants, true, { config = cfg, bos = bos,
      on_eval = function(res, c) write_csv(csv, res, c) end })
    local even = ex.even_spread(c.context)
    for _, r in ipairs(res) do
      for _, h in ipairs(r.hist) do
        if h.step % (2 * c.eval_every) == 0 or h.step == c.steps then
          rows[#rows + 1] = ("| %s | %s | %s | %d | %.4f | %s | %.3f | %.2f | %s | %.1f |"):format(name,
            bos and "yes" or "no", r.name, h.step * c.batch * c.context, h.val, fmt_layers(h.f_attn), even,
            math.max(table.unpack(h.f_attn)) / even, fmt_layers(h.f_attn_head_max), h.m_act)
        end
      end
    end
    io.stderr:write(("sink_onset: %s done in %d s\n"):format(name, os.time() - t0))
  end
end
print(table.concat(rows, "\n"))
