-- Tour section: gated attention (moonlab.attn). Run by examples/tour.lua (`make demo`).
return function(ctx)
  local T = require "moonlab.tensor"
  local attn = require "moonlab.attn"
  local bench = require "moonlab.bench"
  local root = os.getenv("MOONLAB_ROOT") or "."
  local function step(i, what) io.stderr:write(("tour attn %d/4: %s\n"):format(i, what)) end

  ctx.log("Gated scaled-dot-product attention (Qiu et al. 2025): `Y' = SDPA(Q,K,V) ⊙ sigmoid(X W_θ)`, "
    .. "computed by a tiled online-softmax kernel that never forms the L×S weight matrix.")

  -- 1. From hidden states to gated output, f32 kernel against the f64 kernel.
  step(1, "gate scores and gated SDPA, f32 against f64")
  local B, L, D, H, Hkv, Dh = 1, 300, 32, 4, 2, 16
  local x = T.randn({ B, L, D }, { seed = 1 })
  local w = T.randn({ D, H * (Dh + Dh) }, { seed = 2, std = 0.2 })
  local z, q = attn.gate_scores(x, w, { heads = H, head_dim = Dh, layout = "per_head" })
  local k = T.randn({ B, Hkv, L, Dh }, { seed = 3 })
  local v = T.randn({ B, Hkv, L, Dh }, { seed = 4 })
  local opts = { causal = true, gate = z }
  local out, ex = attn.sdpa(q, k, v, opts)
  local out32 = attn.sdpa(q:astype("f32"), k:astype("f32"), v:astype("f32"),
    { causal = true, gate = z:astype("f32") })
  local err = (out32:astype("f64") - out):abs():max() / out:abs():max()
  ctx.log(("`attn.gate_scores` → `attn.sdpa` (B=%d, Hq=%d, Hkv=%d, L=%d, head_dim=%d, causal, elementwise gate): "
    .. "f32 kernel vs f64 kernel max relative difference %.2e; lse range [%.2f, %.2f]."):format(
      B, H, Hkv, L, Dh, err, ex.lse:min(), ex.lse:max()))

  -- 2. Backward: one gradient checked against a central difference.
  step(2, "backward against a central difference")
  local dout = T.randn(out:shape(), { seed = 5 })
  local g = attn.sdpa_backward(dout, q, k, v, out, ex, opts)
  local function loss() return ((attn.sdpa(q, k, v, opts)) * dout):sum() end
  local h, x0 = 1e-6, q:get(1, 2, 100, 3)
  q:set(1, 2, 100, 3, x0 + h); local lp = loss()
  q:set(1, 2, 100, 3, x0 - h); local lm = loss()
  q:set(1, 2, 100, 3, x0)
  ctx.log(("`attn.sdpa_backward`: dL/dq[1,2,100,3] = %.10f, central difference %.10f."):format(
    g.dq:get(1, 2, 100, 3), (lp - lm) / (2 * h)))

  -- 3. Speed snapshot (the full figures are in `make bench`).
  step(3, "speed snapshot, L = 1024")
  local n = 1024
  local q2 = T.randn({ 1, 8, n, 64 }, { seed = 6, dtype = "f32" })
  local k2 = T.randn({ 1, 8, n, 64 }, { seed = 7, dtype = "f32" })
  local v2 = T.randn({ 1, 8, n, 64 }, { seed = 8, dtype = "f32" })
  local g2 = T.randn({ 1, 8, n, 64 }, { seed = 9, dtype = "f32" })
  local o2 = { causal = true, gate = g2 }
  local s = bench.median(function() attn.sdpa(q2, k2, v2, o2) end, { runs = 5 })
  local sg = bench.gemm_gflops("f32", 1024)
  local rate = attn.flops(1, 8, n, n, 64, o2) / s / 1e9
  ctx.log(("Forward f32, B=1, H=8, L=S=%d, E=64, causal, elementwise gate: %.1f GFLOP/s = %.2fx sgemm (%.1f GFLOP/s) in this run."):format(
    n, rate, rate / sg, sg))

  -- 4. The attention sink with and without the G1 gate.
  local STEPS = 800
  step(4, ("attention-sink toy: 3 models x %d Adam steps (about 5 s)"):format(STEPS))
  local sink = assert(loadfile(root .. "/examples/attention_sink.lua"))("--module")
  local res = sink.experiment { steps = STEPS }
  local lines = { "| model | F-Attn | head 1 | head 2 | head 3 | head 4 | final loss |", "|---|---|---|---|---|---|---|" }
  for _, r in ipairs(res) do
    local sh = r.r.share
    lines[#lines + 1] = ("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.1e |"):format(r.name, r.r.f_attn,
      sh[1], sh[2], sh[3], sh[4], r.r.loss)
  end
  ctx.log("Toy attention-sink experiment (examples/attention_sink.lua, " .. STEPS .. " steps here, 1500 there): 4 causal heads trained with Adam on "
    .. "gradients from `attn.sdpa_backward`; head h must scale its output down to 10 % on queries without "
    .. "its flag (flag on for 80/60/40/20 % of queries). Without a gate the head parks weight on token 1 to do "
    .. "that; with a G1 sigmoid gate it can scale with the gate instead. F-Attn measured by `attn.sink_stats`.\n\n"
    .. table.concat(lines, "\n"))
  local file = sink.write_figure(res, ctx.outdir)
  if file:match("%.png$") then ctx.figure(file, "First-token attention share per head, with and without the G1 gate")
  else ctx.log("(gnuplot not available: data in " .. file .. ")") end
end
