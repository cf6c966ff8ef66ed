-- A small workload for `make valgrind`: every tensor path once, errors included.
local ml = require "moonlab"
local T = ml.tensor
local a = T.randn({ 16, 16 }, { seed = 1 })
local b = a:matmul(a:transpose()):reshape { 256 }
local c = ((b + 1) * 2 - b / 3):exp():log():sqrt():abs():tanh():sigmoid()
assert(c:sum(1):numel() == 1 or true)
local r = T.arange(24):reshape { 2, 3, 4 }
assert(r:sum(2):get(1, 1) == 12)
assert(r:argmax(3):get(2, 3) == 4)
local p = os.tmpname()
r:astype("f32"):save(p)
assert(T.load(p):dtype() == "f32")
os.remove(p)
for _, f in ipairs { function() return T.zeros { -1 } end, function() return T.load("/nonexistent") end,
  function() return T.randn({ 2 }, { sed = 1 }) end, function() return r:get(9, 9, 9) end,
  function() return T.zeros { 1e15 // 1 } end } do
  assert(not pcall(f))
end
-- tensor step 2: dtypes, views, indexing, broadcasting, sorting, files, linear algebra
do
  local x = T.arange(24):reshape { 2, 3, 4 }
  local v = x:permute(3, 1, 2):narrow(1, 2, 2)
  v[{ 1, {}, 2 }] = T.new { -1, -2 }
  local m = x:gt(5)
  x[m] = x[m]:mul(2)
  local s, i = (x + T.new { 1, 2, 3, 4 }):astype("f32"):sort(3, { descending = true })
  assert(i:dtype() == "i64" and s:numel() == 24)
  -- radix sorts: 8-byte keys (buffered scatter, chunks per thread above 65536) and packed 4-byte keys, strided lines
  local r64 = T.randn({ 70000 }, { seed = 2 })
  r64[5] = 0 / 0; r64[6] = -0.0
  local rv, ri = r64:sort(1, { descending = true })
  assert(rv:get(1) ~= rv:get(1) and ri:get(1) == 5)
  assert(T.randn({ 300, 3 }, { seed = 3, dtype = "f32" }):argsort(1):get(1, 1) >= 1)
  local rp = os.tmpname()
  r64:save(rp); T.new({ 1, 2 }, "i32"):save(rp) -- saved over a longer file: cut to length
  assert(T.load(rp):numel() == 2)
  os.remove(rp)
  assert(T.where(m, x, 0):sum() > 0)
  local ids = T.new({ 3, 1 }, "i64")
  assert(x:index(2, ids):shape()[2] == 2)
  x:index_put(2, ids, 0)
  assert(T.cat({ x, x }, 3):shape()[3] == 8 and T.stack({ x, x }):ndim() == 4)
  local A = T.new { { 4, 1 }, { 1, 3 } }
  T.linalg.solve(A, T.new { 1, 2 })
  T.linalg.eigh(A)
  T.linalg.svd(A)
  T.linalg.lstsq(A, T.new { 1, 2 })
  assert(T.einsum("ij,jk->ik", A, A):sum() > 0)
  local q = os.tmpname()
  T.save_npz(q, { a = A, b = T.new({ true }, "bool") }, { compressed = true })
  assert(T.load_npz(q).b:item() == true)
  A:to_csv(q)
  assert(T.read_csv(q, { header = false }):numel() == 4)
  os.remove(q)
  assert(tostring(x:transpose():flip(1)):find("tensor", 1, true))
  for _, f in ipairs { function() return x[{ 9 }] end, function() return x:view(5, 5) end,
    function() return x + T.zeros { 5 } end, function() return T.linalg.cholesky(T.new { { 1, 2 }, { 2, 1 } }) end } do
    assert(not pcall(f))
  end
end
-- attention: forward and backward with a gate, GQA, a window, and a bad call
local attn = ml.attn
for _, dt in ipairs { "f32", "f64" } do
  local q = T.randn({ 1, 4, 7, 5 }, { seed = 1, dtype = dt })
  local k = T.randn({ 1, 2, 9, 5 }, { seed = 2, dtype = dt })
  local v = T.randn({ 1, 2, 9, 3 }, { seed = 3, dtype = dt })
  local g = T.randn({ 1, 4, 7, 3 }, { seed = 4, dtype = dt })
  local opts = { causal = true, causal_align = "bottom_right", window = 4, gate = g }
  local out, ex = attn.sdpa(q, k, v, opts)
  local grads = attn.sdpa_backward(out * 0 + 1, q, k, v, out, ex, opts)
  assert(grads.dq and grads.dk and grads.dv and grads.dgate)
  attn.sink_stats(q, k, { causal = true })
  assert(not pcall(attn.sdpa, q, q, v))
end
-- Laplace inversion: every method on a C transform and a Lua function, and chromatography
local laplace = ml.laplace
local suite = laplace.suite()
local t = T.linspace(0.5, 5, 6)
for _, m in ipairs(laplace.methods) do
  laplace.invert(suite[1].F, t, { method = m })
  laplace.invert(function(re, im) local d = re * re + im * im return re / d, -im / d end, 1.5, { method = m })
end
laplace.invert_many(suite[4].F, t, { method = "dehoog" })
assert(not pcall(laplace.invert, function() error("boom") end, 1.0))
local chrom = ml.chrom
local col = chrom.column { Da = 5, kappa = 2, injection = { kind = "pulse", width = 0.1 } }
col:outlet(t)
col:moments()
-- GP: kernels with derivatives, fit/add/lml/predict/optimize, potentials, dimer, GPR-dimer, errors
local gp = ml.gp
local kern = gp.kernel.se { lengthscales = { 0.5, 0.7 }, variance = 2 } * gp.kernel.matern { nu = 1.5 } +
  gp.kernel.rq { alpha = 2 } + gp.kernel.white {}
local Xg = T.new { { 0, 0 }, { 0.3, 0.1 }, { -0.2, 0.4 } }
local mb = gp.potential.muller_brown()
local Eg, Gg = T.zeros { 3 }, T.zeros { 3, 2 }
for i = 1, 3 do
  local e, g = mb:energy_gradient(T.new { Xg:get(i, 1), Xg:get(i, 2) })
  Eg:set(i, e); Gg:set(i, 1, g:get(1)); Gg:set(i, 2, g:get(2))
end
local gpm = gp.GP { kernel = kern }:fit(Xg, Eg, Gg)
gpm:lml { gradient = true }
gpm:predict(Xg, { variance = true, gradient = true })
gpm:optimize { maxit = 5, quiet = true }
gp.GP { kernel = kern }:fit(T.new { { 0, 0 } }, T.new { 1 }, T.new { { 0, 0 } }):add(Xg, Eg, Gg)
-- the energy-only stationary fast path: fit, lml gradient (K^-1 in place), add, predict, optimize
local gpf = gp.GP { kernel = gp.kernel.constant {} * gp.kernel.rq { lengthscales = { 0.5, 0.7 } } + gp.kernel.white {} }:fit(Xg, Eg)
gpf:lml { gradient = true }; gpf:add(T.new { { 0.1, 0.2 } }, T.new { 0.5 }); gpf:predict(Xg, { variance = true }); gpf:optimize { maxit = 3, quiet = true }
local idk = gp.kernel.inverse_distance { atoms = 2, dim = 3, frozen = T.new { { 0, 0, -1 } }, types = { 1, 1, 2 },
  pair_types = { { 1, 2 }, { 2, 2 } }, lengthscales = { 0.5, 0.6 } }
idk:matrix(T.new { { 0, 0, 0, 1, 0, 0 }, { 0, 0.1, 0, 1, 0.1, 0 } }, { derivatives = true })
gp.dimer(mb, T.new { -0.5, 1.4 }, T.new { 1, 0.3 }, { maxit = 5, quiet = true })
gp.gpr_dimer(mb, T.new { -0.5, 1.4 }, T.new { 1, 0.3 }, { max_outer = 3, quiet = true })
gp.hessian(gp.potential.lj { n = 3, dim = 2 }, T.new { 0, 0, 1.1, 0, 0.5, 1 })
gp.minimize(gp.potential.leps(), T.new { 0.8, 2.0 }, { maxit = 20, quiet = true })
assert(not pcall(gp.dimer, gp.potential.leps(), T.new { -1, 1 }, T.new { 1, 0 }))
local luapot = gp.potential.fn(function(x) return x:get(1) ^ 2, { 2 * x:get(1) } end, { dim = 1 })
gp.dimer(luapot, T.new { 1 }, T.new { 1 }, { maxit = 3, quiet = true })
assert(not pcall(gp.dimer, gp.potential.fn(function() error("boom") end, { dim = 2 }), T.zeros { 2 }, T.new { 1, 0 }))
assert(not pcall(gp.kernel.inverse_distance, { atoms = 2, types = { 1 }, pair_types = { { 1 } } }))
do -- the Fourier-series outlet and fit (Gaussian injection, uniform times)
  local b = { Da = 1, kappa = 1, injection = { kind = "gaussian", width = 0.05, t0 = 0.3 } }
  local tg = T.linspace(0.05, 8, 120)
  local yg = chrom.model(tg, { analytes = { { Da = 5, kappa = 2, A = 0.8 } }, column = b })
  chrom.fit(tg, yg, { analytes = { { Da = 5.5, kappa = 1.9 } }, column = b, quiet = true })
  laplace.invert(suite[1].F, t, { error_estimate = true })
end
-- Workflow: the process helpers (pipes, messages, hash, folders) and a two-run sweep on one forked worker
do
  local proc = require("moonlab.core").proc
  local r, w = proc.pipe()
  proc.send(w, ("x"):rep(1000)) -- below the pipe's buffer: one process writes, then reads
  assert(#proc.recv(r) == 1000)
  proc.close(r); proc.close(w)
  assert(#proc.hash("abc") == 32 and #proc.poll({}, 0) == 0)
  local dir = os.tmpname()
  os.remove(dir)
  assert(proc.mkdir(dir .. "/a/b") and #proc.listdir(dir) == 1)
  local s = ml.sweep.run { name = "v", params = { grid = { i = { 1, 2 } } }, store = dir .. "/r.db", workers = 1, quiet = true,
    fn = function(c) return { v = c.i } end }
  assert(s.ok == 2)
  os.execute("rm -rf '" .. dir .. "'")
end
-- SDF: compile, evaluate, every sampler, a Lua SDF, render, mesh, writers and failing calls
local sdf = ml.sdf
local scene = sdf.smooth_union(sdf.sphere { r = 0.6 }, sdf.torus { R = 0.7, r = 0.2 }:rotate({ 1, 0, 0 }, 0.5), 0.1)
local pts = T.new { { 0, 0, 0 }, { 1, 0.2, 0 } }
scene:eval(pts); scene:grad(pts); scene:color(pts)
local so, su = T.new { { 0, 0, -3 }, { 0.3, 0.1, -3 } }, T.new { { 0, 0, 1 }, { 0, 0, 1 } }
for _, m in ipairs { "error_bound", "uniform", "hierarchical" } do
  sdf.sample(scene, so, su, { method = m, n_eval = 16, n_final = 8, n_extra = 4, keep_eval = true, stratified = true })
end
sdf.sphere_trace(scene, so, su)
sdf.sample(sdf.fn(function(q) return q:sum(2) * 0 + 1 end), so, su, { n_eval = 8, n_final = 4, n_extra = 2 })
assert(not pcall(sdf.sample, sdf.fn(function() error("boom") end), so, su))
local img = sdf.render(scene, { eye = { 0, 0, 3 }, width = 6, height = 5 }, { n_eval = 16, n_final = 8, n_extra = 4 })
local sv, sf = sdf.marching_cubes(scene, { resolution = 6, quiet = true })
local sp = os.tmpname()
sdf.save_png(sp, img); sdf.save_ply(sp, sv, sf); sdf.save_obj(sp, sv, sf)
os.remove(sp)
assert(not pcall(sdf.save_png, "/nonexistent/x.png", img))
-- SDF reconstruction: a grid from a scene, the differentiable renderer with gradients, a tiny fit with TV and levels
local sg = sdf.grid { res = 6, bounds = { { -1, -1, -1 }, { 1, 1, 1 } }, from = scene }
sdf.render_rays(sg, so, su, T.new { { 1, 2, 3 }, { 1.5, 2.5, 3.5 } }, { beta = 0.1 }, T.ones { 2, 3 })
sdf.fit_views({ img }, { { eye = { 0, 0, 3 }, width = 6, height = 5 } }, { res = 6, bounds = { { -1, -1, -1 }, { 1, 1, 1 } },
  iters = 2, batch = 4, lambda_tv = 0.01, levels = 2, n_eval = 8, n_final = 4, n_extra = 2, quiet = true })
assert(not pcall(sdf.fit_views, { img }, { { eye = { 0, 0, 3 }, width = 6, height = 5 } }, { lr = 0 }))
-- MoE: routers (capacity, padding, expert choice), dispatch/combine, backward, the layer, the Gaussian MoE
local moe = ml.moe
for _, dt in ipairs { "f32", "f64" } do
  local lg = T.randn({ 13, 6 }, { seed = 5, dtype = dt })
  for _, o in ipairs { { k = 2, capacity_factor = 0.8, pad_to = 4 }, { k = 3, score = "sigmoid", groups = 3, group_topk = 2,
    bias = T.zeros({ 6 }) }, { expert_choice = true, capacity = 3 }, { k = 2, noise = { std = 0.3, seed = 1 } } } do
    local r = moe.route(lg, o)
    local y = moe.combine(moe.dispatch(T.randn({ 13, 4 }, { seed = 6, dtype = dt }), r), r)
    moe.route_backward(r.weights * 0 + 1, r, { aux = 1, z = 1 })
    assert(y:numel() == 52)
  end
  local L = moe.layer { d_model = 4, d_ff = 3, experts = 3, k = 2, dtype = dt, router = { capacity_factor = 1 } }
  local x = T.randn({ 5, 4 }, { seed = 7, dtype = dt })
  local y, st = L:forward(x)
  L:backward(y, st, { aux = 1 })
end
assert(not pcall(moe.route, T.randn({ 3 }, { seed = 1 }), { k = 1 }))
local gm = moe.gaussian_moe { beta0 = { -8, 0 }, beta1 = { 25, 0 }, a = { -20, 20 }, b = { 15, -5 }, sigma = { 0.3, 0.4 } }
local X, Y = gm:sample(300, { seed = 1 })
for _, g in ipairs { "softmax", "topk", "temperature", "activation" } do
  local fit = moe.fit_em(X, Y, { experts = 3, gate = g, k = 2, maxit = 5, quiet = true })
  moe.voronoi_loss(fit.model, gm, "D2")
end
moe.replicate(gm, { n = 200, reps = 2, maxit = 5, quiet = true })
-- nn: a tiny gated model: loss, backward, step, generate (KV cache), stats, save/load
do
  local nn = ml.nn
  local m = nn.gpt { vocab = 16, context = 8, layers = 1, d_model = 8, heads = 2, kv_heads = 1, gate = "elementwise" }
  m:loss({ 1, 2, 3, 4 }, { 2, 3, 4, 5 }); m:backward(); m:step { lr = 1e-3 }
  assert(m:generate({ 1 }, { max_tokens = 4 }):numel() == 4 and #m:stats({ 1, 2, 3 }).f_attn == 1)
  local path = os.tmpname()
  m:save(path); nn.load(path); os.remove(path)
end
print("valgrind smoke: ok")
