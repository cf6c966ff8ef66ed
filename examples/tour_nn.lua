-- Tour section: the transformer trainer (moonlab.nn). Run by examples/tour.lua (`make demo`).
return function(ctx)
  local root = os.getenv("MOONLAB_ROOT") or "."
  local nn = require "moonlab.nn"
  io.stderr:write("tour nn 1/2: a G1-gated byte-level model on fortunes against the baseline\n")
  ctx.log("A small decoder-only transformer trained in C from Lua (`moonlab.nn`): RMSNorm, RoPE, SwiGLU, "
    .. "attention through the gated SDPA core, AdamW. Baseline against the paper's G1 gate (elementwise "
    .. "sigmoid after SDPA), same seed, data and token budget (150 steps of 8 × 32 bytes of Debian's fortunes).")
  local ex = assert(loadfile(root .. "/examples/gated_lm.lua"))("--module")
  local res, c = ex.experiment("tour", ex.VARIANTS, true)
  ctx.log(ex.summary(res, c))
  local np = nn.gpt { vocab = 256, context = 32, layers = 2, d_model = 32, heads = 4 }:config().params
  ctx.log(("At this scale (%d parameters, %d training tokens) no sink forms in the baseline: a uniform causal "
    .. "attention over 32 positions would already put ≈0.13 on the first token, far from the paper's 0.467; "
    .. "the comparison shows the loss effect only (see docs/nn.md)."):format(np, 150 * 8 * 32))
  for i, f in ipairs(ex.write_figures(res, ctx.outdir)) do
    ctx.figure(f, ({ "gated_lm: loss", "gated_lm: F-Attn", "gated_lm: M-Act" })[i])
  end
  io.stderr:write("tour nn 2/2: sampling with the KV cache\n")
  local m = nn.gpt { vocab = 256, context = 32, layers = 1, d_model = 32, heads = 4, seed = 1 }
  local out = m:generate("The ", { max_tokens = 16, temperature = 0.8, seed = 3 })
  ctx.log(("An untrained model samples noise bytes: %d tokens generated."):format(out:numel()))
end
