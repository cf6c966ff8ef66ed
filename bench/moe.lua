-- bench/moe.lua — MoE routers against memcpy of the logits and PyTorch, EM against a vectorised NumPy EM
-- (bench/moe_em_numpy.py), and the MoE layer's forward+backward against cblas_sgemm. Every figure is a median
-- over ROUNDS interleaved rounds (ours, then the reference, in each round) and is printed with its goal.
-- Usage: lua5.4 bench/moe.lua
local core = require "moonlab.core"
local T = require "moonlab.tensor"
local moe = require "moonlab.moe"
local bench = require "moonlab.bench"

local ROUNDS = 5
local info = core.info()
print(("# moe bench: %d threads, BLAS %s (core %s); medians of %d interleaved rounds; load average %s"):format(
  info.threads, info.blas, info.blas_core, ROUNDS, bench.loadavg()))

local torch_ok = bench.python_has("torch")
local numpy_ok = bench.python_has("numpy")

local function python(script)
  local p = io.popen("/usr/bin/python3 - <<'EOF'\n" .. script .. "\nEOF\n")
  local out = p:read("a")
  p:close()
  return out
end

-- PyTorch router: softmax -> topk -> renormalise -> stable argsort of the expert ids -> bincount, on
-- `threads` intra-op threads (the thread count of our side of the same round).
local function torch_route(Tn, E, k, groups, gtop, threads)
  local out = python(([[
import time, torch
torch.set_num_threads(%d)
torch.manual_seed(0)
T,E,k,G,GK=%d,%d,%d,%d,%d
x=torch.randn(T,E)
def f():
    # the same outputs as moe.route: renormalised top-k weights, stable dispatch order, counts
    with torch.no_grad():
        s=torch.softmax(x,dim=-1)
        if G>1:
            gs=s.view(T,G,E//G).topk(2,dim=-1).values.sum(-1)
            gi=gs.topk(GK,dim=-1).indices
            m=torch.zeros(T,G,dtype=torch.bool).scatter_(1,gi,True)
            s2=s.masked_fill(~m.repeat_interleave(E//G,dim=1),0.0)
            w,i=s2.topk(k,dim=-1)
        else:
            w,i=s.topk(k,dim=-1)
        w=w/w.sum(-1,keepdim=True)
        flat=i.reshape(-1)
        order=torch.sort(flat,stable=True).indices
        counts=torch.bincount(flat,minlength=E)
        return w,order,counts
f()
ts=[]
for _ in range(%d):
    t0=time.perf_counter(); f(); ts.append(time.perf_counter()-t0)
ts.sort()
print("TORCH", ts[len(ts)//2])
]]):format(threads, Tn, E, k, groups or 1, gtop or 1, 3))
  return tonumber(out:match("TORCH%s+(%S+)"))
end

-- One route figure on `threads` OpenMP threads (PyTorch on as many); memcpy is the single-threaded libc copy of
-- the logits' bytes (read + write), measured in the same rounds.
local function route_line(E, k, groups, gtop, goal, threads)
  local Tn = 65536
  core.set_threads(threads)
  local lg = T.randn({ Tn, E }, { seed = 1, dtype = "f32" })
  local o = { k = k, groups = groups, group_topk = gtop }
  local bytes = Tn * E * 4
  local ours, copy, torch = {}, {}, {}
  moe.route(lg, o)
  core.bench_memcpy(bytes, 1)
  for r = 1, ROUNDS do
    ours[r] = bench.median(function() moe.route(lg, o) end, { runs = 3, warmup = 0 })
    copy[r] = bench.median_of(core.bench_memcpy(bytes, 3))
    if torch_ok then torch[r] = torch_route(Tn, E, k, groups, gtop, threads) end
  end
  local s, t_copy = bench.median_of(ours), bench.median_of(copy)
  local refs = ("%.2f of memcpy of the logits (%.2f ms vs %.2f ms)"):format(t_copy / s, t_copy * 1e3, s * 1e3)
  if torch_ok and #torch == ROUNDS then
    local tt = bench.median_of(torch)
    refs = refs .. ("; %.1fx torch (%.2f ms)"):format(tt / s, tt * 1e3)
  elseif torch_ok then
    refs = refs .. "; torch failed"
  else
    refs = refs .. "; skipped torch: python3-torch not installed"
  end
  core.set_threads(info.threads)
  bench.report(("moe.route f32 T=%d E=%d k=%d%s, %d thread%s"):format(Tn, E, k,
    groups and (" groups=%d group_topk=%d"):format(groups, gtop) or "", threads, threads > 1 and "s" or ""),
    Tn / s / 1e6, "Mtokens/s", refs .. "; goal: " .. goal)
end

local thread_counts = info.threads > 1 and { 1, info.threads } or { 1 }
for _, n in ipairs(thread_counts) do
  route_line(64, 2, nil, nil, ">= 0.3 of memcpy, >= 10x torch", n)
  route_line(256, 8, 8, 4, "none set (reported)", n)
end

-- EM: n = 1e5, 3 experts (over-specified softmax start), d = 1, 200 iterations.
do
  local truth = moe.gaussian_moe { beta0 = { -8, 0 }, beta1 = { 25, 0 }, a = { -20, 20 }, b = { 15, -5 }, sigma = { 0.3, 0.4 } }
  local X, Y = truth:sample(100000, { seed = 1 })
  local start = moe.near_truth_start(truth, 3):copy { b = { 15, -5.2, -4.8 } }
  local iters = 200
  local res
  local run_ours = function() res = moe.fit_em(X, Y, { init = start, tol = -1, maxit = iters, quiet = true }) end
  run_ours()
  local dir
  if numpy_ok then
    dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    X:save(dir .. "/X.npy")
    Y:save(dir .. "/Y.npy")
    local p = start:params()
    local rows = {}
    for i = 1, 3 do rows[i] = { p.beta0[i], p.beta1[i][1], p.a[i][1], p.b[i], p.sigma[i] } end
    T.new(rows):save(dir .. "/start.npy")
  end
  local root = os.getenv("MOONLAB_ROOT") or "."
  local ours, theirs, ll = {}, {}, nil
  for r = 1, ROUNDS do
    ours[r] = bench.median(run_ours, { runs = 3, warmup = 1 }) -- a warm run first: each round follows a 10 s NumPy process
    if numpy_ok then
      local p2 = io.popen(("/usr/bin/python3 %s/bench/moe_em_numpy.py %s/X.npy %s/Y.npy %s/start.npy %d 1"):format(
        root, dir, dir, dir, iters))
      local out = p2:read("a")
      p2:close()
      local tn, l = out:match("NUMPY%s+(%S+)%s+(%S+)")
      theirs[#theirs + 1], ll = tonumber(tn), tonumber(l)
    end
  end
  if dir then os.execute("rm -rf " .. dir) end
  local s = bench.median_of(ours)
  local refs
  if numpy_ok then
    local tn = #theirs == ROUNDS and bench.median_of(theirs)
    refs = tn and ("%.1fx NumPy EM (%.1f it/s); final log-likelihood %.6f vs NumPy %.6f"):format(tn / s, iters / tn, res.loglik, ll)
      or "NumPy EM failed"
  else
    refs = "skipped NumPy: python3-numpy not installed"
  end
  bench.report(("moe.fit_em n=1e5 K=3 d=1 %d iterations"):format(res.iterations), res.iterations / s, "it/s",
    refs .. "; goal: >= 30x NumPy")
end

-- MoE layer forward + backward, f32, T = 4096, d_model = 512, d_ff = 1024, E = 8, k = 2.
do
  local L = moe.layer { d_model = 512, d_ff = 1024, experts = 8, k = 2, dtype = "f32", seed = 1 }
  local x = T.randn({ 4096, 512 }, { seed = 2, dtype = "f32" })
  local dy = T.randn({ 4096, 512 }, { seed = 3, dtype = "f32" })
  local step = function()
    local _, st = L:forward(x)
    L:backward(dy, st)
  end
  step()
  local ours, sg = {}, {}
  for r = 1, ROUNDS do
    ours[r] = bench.median(step, { runs = 1, warmup = 0 })
    sg[r] = bench.gemm_gflops("f32", 1024, 3)
  end
  local s, g = bench.median_of(ours), bench.median_of(sg)
  local rate = L:flops(4096) / s / 1e9
  bench.report("moe.layer fwd+bwd f32 T=4096 d_model=512 d_ff=1024 E=8 k=2", rate, "GFLOP/s",
    ("%.2fx sgemm %.1f GFLOP/s (n=1024); %.1f ms; goal: >= 0.6x sgemm"):format(rate / g, g, s * 1e3))
end
print("# load average at the end: " .. bench.loadavg())
