-- bench/nn.lua — moonlab.nn training throughput (forward + backward + AdamW) of a 4-layer, d_model 256,
-- context 256 model as model FLOPs utilisation against cblas_sgemm measured in the same run, and against
-- the same model in PyTorch (bench/nn_torch.py, same threads) when python3-torch is installed; generation
-- tokens/s with the KV cache; peak memory per token of context during training against PyTorch's.
-- Run: make bench, or lua5.4 bench/nn.lua (NN_BENCH_RUNS=5 medians).
--      lua5.4 bench/nn.lua --mem (child: peak RSS growth of model creation + training steps, KiB)
local core = require "moonlab.core"
local nn = require "moonlab.nn"
local T = require "moonlab.tensor"
local bench = require "moonlab.bench"

local RUNS = tonumber(os.getenv("NN_BENCH_RUNS") or "5")
local L, D, H, FF, C, B, NGEN = 4, 256, 8, 680, 256, 4, 255

local function model()
  return nn.gpt { vocab = 256, context = C, layers = L, d_model = D, heads = H, d_ff = FF, seed = 1 }
end

local function data() -- random byte ids (the timing does not depend on them)
  local rows, s = {}, 12345
  local function one()
    local r = {}
    for i = 1, C do
      s = (s * 1103515245 + 12345) % 2147483648
      r[i] = s % 256
    end
    return r
  end
  for b = 1, 2 * B do rows[b] = one() end
  return T.new({ table.unpack(rows, 1, B) }, "i64"), T.new({ table.unpack(rows, B + 1, 2 * B) }, "i64")
end

local function train_step(m, x, y)
  m:loss(x, y)
  m:backward()
  m:step { lr = 3e-4, grad_clip = 1.0 }
end

if arg[1] == "--mem" then
  local before = bench.peak_rss_kib()
  local m = model()
  local x, y = data()
  for _ = 1, 3 do train_step(m, x, y) end
  print("MEM", bench.peak_rss_kib() - before)
  return
end

local info = core.info()
print(("bench/nn.lua: %d threads, %s (%s), medians of %d runs; the machine may be shared: read the ratios")
  :format(info.threads, info.blas, info.blas_core, RUNS))
local m = model()
local x, y = data()
-- matmul FLOPs per token: 6 × (weights touched by a GEMM) + causal attention 6 · layers · T · d
local pm = L * (4 * D * D + 3 * D * FF) + D * 256
local flops = (6 * pm + 6 * L * C * D) * B * C
local g1 = bench.gemm_gflops("f32", 1024)
local t = bench.median(function() train_step(m, x, y) end, { runs = RUNS, warmup = 1 })
local g2 = bench.gemm_gflops("f32", 1024)
local sg = math.max(g1, g2)
local ours_tps = B * C / t
bench.report("sgemm f32 1024", sg, "GFLOP/s", "reference, better of two medians around the training median")
bench.report("nn train 4x256 ctx256 B4 tokens/s", ours_tps, "tok/s",
  ("%.3g s/step, %.3g GFLOP/s, MFU vs sgemm %.3f"):format(t, flops / t / 1e9, flops / t / 1e9 / sg))

-- the same model with an MoE feed-forward: 8 experts of half the width, top-2 (the dense model's active FFN FLOPs)
local mm = nn.gpt { vocab = 256, context = C, layers = L, d_model = D, heads = H, d_ff = FF // 2, seed = 1,
  ffn = "moe", moe = { experts = 8, k = 2 } }
local tmoe = bench.median(function() train_step(mm, x, y) end, { runs = RUNS, warmup = 1 })
bench.report("nn train MoE 8x top-2 (d_ff 340 each) tokens/s", B * C / tmoe, "tok/s",
  ("%.3g s/step, %.2f x the dense model's time per step (same active FFN FLOPs)"):format(tmoe, tmoe / t))
mm = nil

local gt = bench.median(function() m:generate({ 1 }, { max_tokens = NGEN, temperature = 0 }) end,
  { runs = math.max(3, RUNS // 2), warmup = 1 })
bench.report("nn generate KV cache tokens/s", NGEN / gt, "tok/s", "greedy, 255 tokens from a 1-token prompt")

local p = io.popen((arg[-1] or "lua5.4") .. " " .. arg[0] .. " --mem")
local mem = tonumber((p:read("a") or ""):match("MEM%s+(%d+)"))
p:close()
if mem then bench.report("nn peak memory per token of context", mem / (B * C), "KiB/token",
  "peak RSS growth: model, AdamW state and activations of one step, / (B x context)") end

if bench.python_has("torch") then
  local cmd = ("/usr/bin/python3 %s/bench/nn_torch.py %d %d %d %d %d %d %d %d %d 2>&1"):format(
    os.getenv("MOONLAB_ROOT") or ".", info.threads, L, D, H, FF, C, B, RUNS, NGEN)
  local q = io.popen(cmd)
  local out = q:read("a")
  q:close()
  local tt, tg, tm = tonumber(out:match("TRAIN%s+(%S+)")), tonumber(out:match("GEN%s+(%S+)")),
    tonumber(out:match("MEM%s+(%S+)"))
  if tt then bench.report("nn train speed-up vs PyTorch (same threads)", tt / t, "x",
      ("torch %.3g s/step, ours %.3g s/step"):format(tt, t)) end
  if tg then bench.report("nn generation speed-up vs PyTorch KV cache", (NGEN / gt) / tg, "x",
      ("torch %.4g tok/s"):format(tg)) end
  if tm and mem then bench.report("nn peak memory per token vs PyTorch", mem / tm, "x",
      ("torch %.3g KiB/token"):format(tm / (B * C))) end
  if not tt then print("PyTorch run failed: " .. out) end
else
  print("nn: python3-torch not installed, PyTorch comparison skipped")
end
