-- Tour section: the tensor foundation.
local ml = require "moonlab"
local T = ml.tensor
local plot = require "moonlab.plot"

return function(ctx)
  local a = T.randn({ 256, 256 }, { seed = 1 })
  local g = a:matmul(a:t()) / 256 -- a:t() is a strided view: no copy
  ctx.log(("A Gram matrix of 256 seeded normal vectors: mean diagonal %.4f (expected 1), mean |off-diagonal| %.4f"):format(
    g:diagonal():mean(), (g:abs():sum() - g:diagonal():abs():sum()) / (256 * 255)))
  -- views, indexing and broadcasting: centre the columns of a block, NumPy style
  local block = a[{ { 1, 100 }, { 1, 8 } }]
  local centred = block - block:mean(1, { keepdim = true })
  ctx.log(("Views and broadcasting: a[{ {1,100}, {1,8} }] minus its column means; largest |column mean| left %.2e."):format(
    centred:mean(1):abs():max()))
  -- dtypes: integer ids, bool masks, sorting
  local ids = a[1]:argsort({ descending = true }):narrow(1, 1, 5)
  local pos = a:gt(0)
  ctx.log(("Integer and bool dtypes: top-5 ids of row 1 %s (i64); %d of %d entries are positive (a bool mask)."):format(
    table.concat(ids:totable(), ", "), pos:sum(), pos:numel()))
  a[a:lt(-3)] = -3 -- masked assignment clips the far tail
  ctx.log(("Masked assignment a[a:lt(-3)] = -3: minimum now %.1f."):format(a:min()))
  -- linear algebra through LAPACK and einsum through BLAS
  local w = T.linalg.eigh(g)
  ctx.log(("T.linalg.eigh of the Gram matrix: eigenvalues %.3f .. %.3f (Marchenko-Pastur edges 0 .. 4); trace by einsum %.2f."):format(
    w:min(), w:max(), T.einsum("ii->", g)))
  local x = T.linspace(-6, 6, 121)
  ctx.log("Elementwise maths in vectorised C: `x:sigmoid()`, `x:tanh()`, `x:silu()` on 121 points.")
  local p = a:reshape { 65536 }
  ctx.log(("Seeded normals: mean %.4f, variance %.4f over 65536 draws; same seed, same numbers on any thread count."):format(
    p:mean(), p:var()))
  local path = ctx.outdir .. "/tensor_activations.png"
  plot.lines { file = path, title = "activations computed by moonlab.tensor", xlabel = "x",
    series = { { x = x, y = x:sigmoid(), label = "sigmoid" }, { x = x, y = x:tanh(), label = "tanh" },
      { x = x, y = x:silu() / 6, label = "silu / 6" } } }
  ctx.figure(path, "sigmoid, tanh and SiLU")
  local npz = ctx.outdir .. "/gram.npz"
  T.save_npz(npz, { gram = g, eigenvalues = w }, { compressed = true })
  ctx.log(("Saved the Gram matrix and its eigenvalues to %s (np.load reads it)."):format(npz))
end
