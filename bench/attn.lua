-- bench/attn.lua — gated SDPA forward/backward rates (f32 and f64) against cblas_sgemm/dgemm in the
-- same run, PyTorch CPU (f32 and f64, forward and autograd backward) when Debian's python3-torch is
-- installed, calls after an idle pause, and peak memory at L = S = 16384. Medians of RUNS runs.
-- Usage: lua5.4 bench/attn.lua            (full report)
--        lua5.4 bench/attn.lua --coretype (child: forward + sgemm only, run with OPENBLAS_CORETYPE)
--        lua5.4 bench/attn.lua --mem L    (child: one forward at L = S, prints RSS figures)
local core = require "moonlab.core"
local T = require "moonlab.tensor"
local attn = require "moonlab.attn"
local bench = require "moonlab.bench"

local RUNS = tonumber(os.getenv("ATTN_BENCH_RUNS") or "5") -- at least 5 for reported figures
local E, H = 64, 8

local function inputs(B, Hq, Hkv, L, S, gated, dtype)
  dtype = dtype or "f32"
  local q = T.randn({ B, Hq, L, E }, { seed = 1, dtype = dtype })
  local k = T.randn({ B, Hkv, S, E }, { seed = 2, dtype = dtype })
  local v = T.randn({ B, Hkv, S, E }, { seed = 3, dtype = dtype })
  local g = gated and T.randn({ B, Hq, L, E }, { seed = 4, dtype = dtype }) or nil
  return q, k, v, g
end

-- Median time of fn (after a warm-up) bracketed by two sgemm-1024 measurements; the reference is
-- the better of the two (conservative: the VM is shared, and OpenMP/OpenBLAS worker threads spinning
-- after each other's regions would depress a strictly interleaved reference). Returns s, GFLOP/s.
local function interleaved(fn, dtype)
  local before = bench.gemm_gflops(dtype or "f32", 1024)
  local s = bench.median(fn, { runs = RUNS, warmup = 1 })
  local after = bench.gemm_gflops(dtype or "f32", 1024)
  return s, math.max(before, after)
end

local function fwd_rate(Hkv, gated, L)
  L = L or 2048
  local q, k, v, g = inputs(1, H, Hkv, L, L, gated)
  local o = { causal = true, gate = g }
  local fl = attn.flops(1, H, L, L, E, o)
  local s, sg = interleaved(function() attn.sdpa(q, k, v, o) end)
  return fl / s / 1e9, s, sg
end

local function self_cmd(args, env)
  local lua = arg[-1] or "lua5.4"
  return (env or "") .. " " .. lua .. " " .. arg[0] .. " " .. args
end

-- Child: forward at L = S = n with RSS before (inputs allocated) and peak after.
if arg[1] == "--mem" then
  local n, gated = tonumber(arg[2]), arg[3] == "gated"
  local q, k, v, g = inputs(1, H, H, n, n, gated)
  collectgarbage(); collectgarbage()
  local before = bench.peak_rss_kib()
  local t0 = bench.now()
  local out, ex = attn.sdpa(q, k, v, { gate = g, causal = gated })
  local dt = bench.now() - t0
  local after = bench.peak_rss_kib()
  local outkib = (out:numel() + ex.lse:numel()) * 4 / 1024
  print(("MEM %d %d %d %.3f"):format(before, after, math.floor(outkib), dt))
  os.exit(0)
end

-- Child: the headline forward and sgemm under the inherited OPENBLAS_CORETYPE.
if arg[1] == "--coretype" then
  local r, _, sg = fwd_rate(H, true)
  print(("CORETYPE %.3f %.3f"):format(r, sg))
  os.exit(0)
end

local info = core.info()
print(("# attn bench: %d threads, BLAS %s (core %s), kernels %s; medians of %d runs on a possibly shared machine"):format(
  info.threads, info.blas, info.blas_core, info.isa, RUNS))
local sg = bench.gemm_gflops("f32", 1024)
bench.report("sgemm f32 1024", sg, "GFLOP/s",
  "reference; each ratio below uses the better of two gemm medians of its dtype taken just before and after it")

-- PyTorch peer: matmul -> softmax -> matmul (-> sigmoid gate), same thread count; forward under no_grad,
-- backward = autograd's y.backward(dout) after an untimed forward. Returns median seconds, peak RSS KiB.
local torch_ok = bench.python_has("torch")
local function torch_time(c)
  local script = ([[
import time, resource, torch
torch.set_num_threads(%d)
torch.manual_seed(0)
dt = torch.float64 if "%s" == "f64" else torch.float32
B,H,Hkv,L,E = 1,%d,%d,%d,64
causal, window, gated, backward = %s, %d, %s, %s
q=torch.randn(B,H,L,E,dtype=dt); k=torch.randn(B,Hkv,L,E,dtype=dt); v=torch.randn(B,Hkv,L,E,dtype=dt)
g=torch.randn(B,H,L,E,dtype=dt); dout=torch.randn(B,H,L,E,dtype=dt)
mask=None
if causal or window:
    mask=torch.ones(L,L,dtype=torch.bool).tril()
    if window: mask=mask & ~torch.ones(L,L,dtype=torch.bool).tril(-window)
def f(q,k,v,g):
    if Hkv!=H:
        k=k.repeat_interleave(H//Hkv,dim=1); v=v.repeat_interleave(H//Hkv,dim=1)
    s=(q@k.transpose(-1,-2))*(E**-0.5)
    if mask is not None: s=s.masked_fill(~mask,float('-inf'))
    y=torch.softmax(s,dim=-1)@v
    return y*torch.sigmoid(g) if gated else y
if backward:
    for t in (q,k,v,g): t.requires_grad_(True)
def run():
    if backward:
        for t in (q,k,v,g): t.grad=None
        y=f(q,k,v,g)
        t0=time.perf_counter(); y.backward(dout); return time.perf_counter()-t0
    with torch.no_grad():
        t0=time.perf_counter(); f(q,k,v,g); return time.perf_counter()-t0
base=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
run()
ts=sorted(run() for _ in range(%d))
peak=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("TORCH", ts[len(ts)//2], peak-base)
]]):format(info.threads, c.dtype, H, c.Hkv, c.L, c.causal and "True" or "False", c.window or 0,
    c.gated and "True" or "False", c.backward and "True" or "False", RUNS)
  local p = io.popen("/usr/bin/python3 - 2>&1 <<'EOF'\n" .. script .. "\nEOF\n")
  local outp = p:read("a")
  p:close()
  local t, mem = outp:match("TORCH%s+(%S+)%s+(%S+)")
  return tonumber(t), tonumber(mem)
end

-- Our peak RSS growth for the L=2048 causal gated forward (outputs included, as for torch).
local function own_peak_mib()
  local p = io.popen(self_cmd("--mem 2048 gated"))
  local outp = p:read("a")
  p:close()
  local before, after = outp:match("MEM%s+(%d+)%s+(%d+)")
  return before and (tonumber(after) - tonumber(before)) / 1024 or nil
end

-- One configuration: c = {dtype, Hkv, causal, window, gated, backward, L, memory}. Prints
-- GFLOP/s (backward: 2.5x the forward's FLOPs), the ratio to the same-dtype gemm and to torch.
local function line(name, c)
  c.L = c.L or 2048
  local q, k, v, g = inputs(1, H, c.Hkv, c.L, c.L, c.gated, c.dtype)
  local o = { causal = c.causal, window = c.window, gate = g }
  local fl = attn.flops(1, H, c.L, c.L, E, o) * (c.backward and 2.5 or 1)
  local fn
  if c.backward then
    local out, ex = attn.sdpa(q, k, v, o)
    local dout = T.randn(out:shape(), { seed = 5, dtype = c.dtype })
    fn = function() attn.sdpa_backward(dout, q, k, v, out, ex, o) end
  else
    fn = function() attn.sdpa(q, k, v, o) end
  end
  local s, ref = interleaved(fn, c.dtype)
  local r = fl / s / 1e9
  local refs = ("%.2fx %sgemm %.1f; %.1f ms"):format(r / ref, c.dtype == "f64" and "d" or "s", ref, s * 1e3)
  if torch_ok then
    local tt, tmem = torch_time(c)
    if tt then
      refs = refs .. ("; %.2fx torch (%.1f GFLOP/s)"):format(tt / s, fl / tt / 1e9)
      if c.memory then
        local own = own_peak_mib()
        if own and tmem then
          refs = refs .. ("; peak memory +%.1f MiB vs torch +%.0f MiB = 1/%.0f"):format(own, tmem / 1024,
            tmem / 1024 / math.max(own, 0.1))
        end
      end
    else
      refs = refs .. "; torch failed"
    end
  else
    refs = refs .. "; torch skipped: python3-torch not installed"
  end
  bench.report(name, r, "GFLOP/s", refs)
  collectgarbage()
end

local W = 512 -- sliding window of the window lines
line("attn.sdpa fwd f32 L=2048 causal gated", { dtype = "f32", Hkv = H, causal = true, gated = true, memory = true })
line("attn.sdpa fwd f32 L=2048 causal gated GQA Hkv=2", { dtype = "f32", Hkv = 2, causal = true, gated = true })
line("attn.sdpa fwd f32 L=2048 causal ungated", { dtype = "f32", Hkv = H, causal = true })
line("attn.sdpa fwd f32 L=2048 window=512", { dtype = "f32", Hkv = H, window = W })
line("attn.sdpa_backward f32 L=2048 causal gated", { dtype = "f32", Hkv = H, causal = true, gated = true, backward = true })
line("attn.sdpa_backward f32 L=2048 full", { dtype = "f32", Hkv = H, backward = true })
line("attn.sdpa_backward f32 L=2048 window=512", { dtype = "f32", Hkv = H, window = W, backward = true })
for _, c in ipairs {
  { "causal", { causal = true, Hkv = H } }, { "full", { Hkv = H } },
  { "causal GQA Hkv=2", { causal = true, Hkv = 2 } }, { "window=512", { window = W, Hkv = H } },
} do
  for _, bwd in ipairs { false, true } do
    local cfg = { dtype = "f64", Hkv = c[2].Hkv, causal = c[2].causal, window = c[2].window, backward = bwd }
    line(("attn.sdpa%s f64 L=2048 %s"):format(bwd and "_backward" or " fwd", c[1]), cfg)
  end
end

-- Short calls after an idle pause: f32 causal forward at L = 512, each timed right after a 0.5 s
-- sleep and again immediately after (back to back); the ratio of the two medians.
do
  local L, N = 512, 9
  local q, k, v = inputs(1, H, H, L, L, false)
  local o = { causal = true }
  local function call() local t0 = bench.now(); attn.sdpa(q, k, v, o); return bench.now() - t0 end
  for _ = 1, 3 do call() end
  local after, b2b = {}, {}
  for i = 1, N do
    local p = io.popen("sleep 0.5")
    p:read("a")
    p:close()
    after[i] = call()
    b2b[i] = call()
  end
  local ma, mb = bench.median_of(after), bench.median_of(b2b)
  table.sort(after)
  local all = {}
  for i, x in ipairs(after) do all[i] = ("%.1f"):format(x * 1e3) end
  bench.report("attn.sdpa fwd f32 L=512 causal after a 0.5 s pause", ma * 1e3, "ms",
    ("%.2fx the back-to-back call %.2f ms; goal <= 1.3x; after-pause times %s ms; GOMP_SPINCOUNT=%s"):format(
      ma / mb, mb * 1e3, table.concat(all, " "), os.getenv("GOMP_SPINCOUNT") or "unset"))
end

-- One thread, CPU time: kernel efficiency that other processes on a shared machine hardly disturb (time
-- stolen by them is not counted). Rates are GFLOP per CPU-second against the same-dtype gemm's.
do
  local ml = require "moonlab"
  local threads = ml.get_threads()
  ml.set_threads(1)
  local function gemm(dt)
    core.bench_gemm(dt, 1024, 1)
    local c0 = os.clock()
    core.bench_gemm(dt, 1024, RUNS)
    return RUNS * 2 * 1024 ^ 3 / (os.clock() - c0) / 1e9
  end
  local function cpu_rate(fn, fl, n)
    fn()
    local c0 = os.clock()
    for _ = 1, n do fn() end
    return fl * n / (os.clock() - c0) / 1e9
  end
  for _, dt in ipairs { "f32", "f64" } do
    local gm = gemm(dt)
    for _, c in ipairs {
      { "causal", { causal = true }, H }, { "full", {}, H }, { "causal GQA Hkv=2", { causal = true }, 2 },
      { "window=512", { window = 512 }, H }, { "causal gated", { causal = true, gated = true }, H },
    } do
      local q, k, v, g = inputs(1, H, c[3], 2048, 2048, c[2].gated, dt)
      local o = { causal = c[2].causal, window = c[2].window, gate = g }
      local fl = attn.flops(1, H, 2048, 2048, E, o)
      local rf = cpu_rate(function() attn.sdpa(q, k, v, o) end, fl, 2)
      local out, ex = attn.sdpa(q, k, v, o)
      local rb = cpu_rate(function() attn.sdpa_backward(out, q, k, v, out, ex, o) end, 2.5 * fl, 1)
      bench.report(("attn 1 thread CPU time %s L=2048 %s"):format(dt, c[1]), rf / gm, "x gemm (fwd)",
        ("backward %.2fx; fwd %.1f, bwd %.1f, %sgemm %.1f GFLOP per CPU-second"):format(rb / gm, rf, rb,
          dt == "f64" and "d" or "s", gm))
      collectgarbage()
    end
  end
  ml.set_threads(threads)
end

-- Same headline figure with OPENBLAS_CORETYPE set for this CPU (a fresh process: OpenBLAS reads it at load).
do
  local ct = info.coretype_hint or info.blas_core or "Haswell"
  if ct == "" then ct = "Haswell" end
  local p = io.popen(self_cmd("--coretype", "OPENBLAS_CORETYPE=" .. ct))
  local outp = p:read("a")
  p:close()
  local r, sgc = outp:match("CORETYPE%s+(%S+)%s+(%S+)")
  if r then
    bench.report("attn.sdpa fwd f32 L=2048 causal gated [OPENBLAS_CORETYPE=" .. ct .. "]", tonumber(r),
      "GFLOP/s", ("%.2fx sgemm %.1f"):format(tonumber(r) / tonumber(sgc), tonumber(sgc)))
  else
    print("attn.sdpa fwd [OPENBLAS_CORETYPE=" .. ct .. "]: child failed")
  end
end

-- Memory: L = S = 16384, Hq = 8, E = 64 forward in its own process.
do
  local n = 16384
  local p = io.popen(self_cmd("--mem " .. n))
  local outp = p:read("a")
  p:close()
  local before, after, outkib, dt = outp:match("MEM%s+(%d+)%s+(%d+)%s+(%d+)%s+(%S+)")
  if before then
    local extra = (tonumber(after) - tonumber(before) - tonumber(outkib)) / 1024
    bench.report(("attn.sdpa fwd f32 L=S=%d memory beyond inputs and outputs"):format(n), extra, "MiB",
      ("peak RSS %.0f MiB, inputs-only %.0f MiB, outputs %.0f MiB, goal < 64 MiB; %.1f s, %.1f GFLOP/s"):format(
        tonumber(after) / 1024, tonumber(before) / 1024, tonumber(outkib) / 1024, tonumber(dt),
        attn.flops(1, H, n, n, E) / tonumber(dt) / 1e9))
  else
    print("attn.sdpa memory child failed")
  end
end
