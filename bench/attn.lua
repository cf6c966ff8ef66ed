-- bench/attn.lua — gated SDPA forward/backward rates against cblas_sgemm in the same run,
-- PyTorch CPU when Debian's python3-torch is installed, and peak memory at L = S = 16384.
-- Usage: lua5.4 bench/attn.lua            (full report)
--        lua5.4 bench/attn.lua --coretype (child: forward + sgemm only, run with OPENBLAS_CORETYPE)
--        lua5.4 bench/attn.lua --mem L    (child: one forward at L = S, prints RSS figures)
local core = require "moonlab.core"
local T = require "moonlab.tensor"
local attn = require "moonlab.attn"
local bench = require "moonlab.bench"

local RUNS = 5
local E, H = 64, 8

local function inputs(B, Hq, Hkv, L, S, gated)
  local q = T.randn({ B, Hq, L, E }, { seed = 1, dtype = "f32" })
  local k = T.randn({ B, Hkv, S, E }, { seed = 2, dtype = "f32" })
  local v = T.randn({ B, Hkv, S, E }, { seed = 3, dtype = "f32" })
  local g = gated and T.randn({ B, Hq, L, E }, { seed = 4, dtype = "f32" }) or nil
  return q, k, v, g
end

-- Median time of fn (after a warm-up) bracketed by two sgemm-1024 measurements; the reference is
-- the better of the two (conservative: the VM is shared, and OpenMP/OpenBLAS worker threads spinning
-- after each other's regions would depress a strictly interleaved reference). Returns s, GFLOP/s.
local function interleaved(fn)
  local before = bench.gemm_gflops("f32", 1024)
  local s = bench.median(fn, { runs = RUNS, warmup = 1 })
  local after = bench.gemm_gflops("f32", 1024)
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
print(("# attn bench: %d threads, BLAS %s (core %s), AVX2 %s"):format(info.threads, info.blas,
  info.blas_core, tostring(info.cpu_avx2)))
local sg = bench.gemm_gflops("f32", 1024)
bench.report("sgemm f32 1024", sg, "GFLOP/s",
  "reference; each ratio below uses the better of two sgemm medians taken just before and after it")

-- PyTorch reference: matmul -> softmax -> matmul -> sigmoid gate, same thread count.
local torch_ok = bench.python_has("torch")
local function torch_fwd(Hkv, gated)
  local script = ([[
import time, resource, torch
torch.set_num_threads(%d)
torch.manual_seed(0)
B,H,Hkv,L,E=1,%d,%d,2048,64
q=torch.randn(B,H,L,E); k=torch.randn(B,Hkv,L,E); v=torch.randn(B,Hkv,L,E); g=torch.randn(B,H,L,E)
if Hkv!=H:
    k=k.repeat_interleave(H//Hkv,dim=1); v=v.repeat_interleave(H//Hkv,dim=1)
mask=torch.ones(L,L,dtype=torch.bool).tril()
gated=%s
def f():
    with torch.no_grad():
        s=(q@k.transpose(-1,-2))*(E**-0.5)
        s=s.masked_fill(~mask,float('-inf'))
        p=torch.softmax(s,dim=-1)
        y=p@v
        return y*torch.sigmoid(g) if gated else y
base=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
f()
ts=[]
for _ in range(%d):
    t0=time.perf_counter(); f(); ts.append(time.perf_counter()-t0)
ts.sort()
peak=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("TORCH", ts[len(ts)//2], peak-base)
]]):format(info.threads, H, Hkv, gated and "True" or "False", RUNS)
  local p = io.popen("/usr/bin/python3 - <<'EOF'\n" .. script .. "\nEOF\n")
  local outp = p:read("a")
  p:close()
  local t, mem = outp:match("TORCH%s+(%S+)%s+(%S+)")
  return tonumber(t), tonumber(mem)
end

local fl2048 = attn.flops(1, H, 2048, 2048, E, { causal = true })

-- Our peak RSS growth for the L=2048 causal gated forward (outputs included, as for torch).
local function own_peak_mib()
  local p = io.popen(self_cmd("--mem 2048 gated"))
  local outp = p:read("a")
  p:close()
  local before, after = outp:match("MEM%s+(%d+)%s+(%d+)")
  return before and (tonumber(after) - tonumber(before)) / 1024 or nil
end
local function fwd_line(name, Hkv, gated)
  local r, s, sgi = fwd_rate(Hkv, gated)
  local refs = ("%.2fx sgemm %.1f"):format(r / sgi, sgi)
  if torch_ok then
    local tt, tmem = torch_fwd(Hkv, gated)
    if tt then
      local tr = fl2048 / tt / 1e9
      refs = refs .. ("; %.2fx torch %.1f"):format(tt / s, tr)
      if gated and Hkv == H then
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
    refs = refs .. "; skipped: python3-torch not installed"
  end
  bench.report(name, r, "GFLOP/s", refs)
  return r
end

fwd_line("attn.sdpa fwd f32 L=2048 causal gated", H, true)
fwd_line("attn.sdpa fwd f32 L=2048 causal gated GQA Hkv=2", 2, true)
fwd_line("attn.sdpa fwd f32 L=2048 causal ungated", H, false)

-- Backward: FLOPs counted as 2.5x the forward (the usual convention: five block products vs two).
do
  local q, k, v, g = inputs(1, H, H, 2048, 2048, true)
  local o = { causal = true, gate = g }
  local out, ex = attn.sdpa(q, k, v, o)
  local dout = T.randn(out:shape(), { seed = 5, dtype = "f32" })
  local s, sgi = interleaved(function() attn.sdpa_backward(dout, q, k, v, out, ex, o) end)
  local r = 2.5 * fl2048 / s / 1e9
  bench.report("attn.sdpa_backward f32 L=2048 causal gated", r, "GFLOP/s",
    ("%.2fx sgemm %.1f; 2.5x forward FLOPs in %.1f ms"):format(r / sgi, sgi, s * 1e3))
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
