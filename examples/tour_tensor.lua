-- Tour section: the tensor foundation.
local ml = require "moonlab"
local T = ml.tensor
local plot = require "moonlab.plot"

return function(ctx)
  local a = T.randn({ 256, 256 }, { seed = 1 })
  local g = a:matmul(a:transpose()) / 256
  ctx.log(("A Gram matrix of 256 seeded normal vectors: mean diagonal %.4f (expected 1), mean |off-diagonal| %.4f"):format(
    (function() local s = 0 for i = 1, 256 do s = s + g:get(i, i) end return s / 256 end)(), (g:abs():sum() - 256) / (256 * 255)))
  local x = T.linspace(-6, 6, 121)
  ctx.log("Elementwise maths in C: `x:sigmoid()`, `x:tanh()`, `x:silu()` on 121 points.")
  local p = a:reshape { 65536 }
  ctx.log(("Seeded normals: mean %.4f, variance %.4f over 65536 draws; same seed, same numbers on any thread count."):format(
    p:mean(), (p * p):mean() - p:mean() ^ 2))
  local path = ctx.outdir .. "/tensor_activations.png"
  plot.lines { file = path, title = "activations computed by moonlab.tensor", xlabel = "x",
    series = { { x = x, y = x:sigmoid(), label = "sigmoid" }, { x = x, y = x:tanh(), label = "tanh" },
      { x = x, y = x:silu() / 6, label = "silu / 6" } } }
  ctx.figure(path, "sigmoid, tanh and SiLU")
  local npy = ctx.outdir .. "/gram.npy"
  g:save(npy)
  ctx.log(("Saved the Gram matrix to %s (np.load reads it)."):format(npy))
end
