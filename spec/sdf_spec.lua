-- moonlab.sdf against independent references: primitive formulas written plainly in Lua, central finite
-- differences, closed-form Laplace-density opacities, analytic ray/sphere intersections, analytic silhouettes and
-- the closed-form area and volume of a sphere and a torus.
local T = require "moonlab.tensor"
local sdf = require "moonlab.sdf"
local ml = require "moonlab"

local sqrt, abs, max, min = math.sqrt, math.abs, math.max, math.min

local rng = require "spec.helpers.lcg"

local function points(n, seed, lo, hi)
  local r = rng(seed)
  local t = {}
  for i = 1, n do t[i] = { r(lo, hi), r(lo, hi), r(lo, hi) } end
  return t, T.new(t)
end

local function len(x, y, z) return sqrt(x * x + y * y + z * z) end

-- plain-Lua reference formulas (local frame)
local ref = {}
function ref.sphere(p, r) return len(p[1], p[2], p[3]) - r end
function ref.box(p, b)
  local q = { abs(p[1]) - b[1], abs(p[2]) - b[2], abs(p[3]) - b[3] }
  return len(max(q[1], 0), max(q[2], 0), max(q[3], 0)) + min(max(q[1], q[2], q[3]), 0)
end
function ref.torus(p, R, r)
  local q = sqrt(p[1] ^ 2 + p[3] ^ 2) - R
  return sqrt(q * q + p[2] ^ 2) - r
end
function ref.capsule(p, a, b, r)
  local pa = { p[1] - a[1], p[2] - a[2], p[3] - a[3] }
  local ba = { b[1] - a[1], b[2] - a[2], b[3] - a[3] }
  local h = (pa[1] * ba[1] + pa[2] * ba[2] + pa[3] * ba[3]) / (ba[1] ^ 2 + ba[2] ^ 2 + ba[3] ^ 2)
  h = min(max(h, 0), 1)
  return len(pa[1] - ba[1] * h, pa[2] - ba[2] * h, pa[3] - ba[3] * h) - r
end
function ref.cylinder(p, r, h)
  local dx, dy = sqrt(p[1] ^ 2 + p[3] ^ 2) - r, abs(p[2]) - h / 2
  return min(max(dx, dy), 0) + len(max(dx, 0), max(dy, 0), 0)
end

describe("sdf primitives and scenes", function()
  local P, Pt = points(300, 7, -2, 2)

  local function check(scene, f, tol)
    local d = scene:eval(Pt):totable()
    for i, p in ipairs(P) do assert.is_close(d[i], f(p), { atol = tol or 1e-12 }) end
  end

  it("every primitive matches its formula", function()
    check(sdf.sphere { r = 0.7, center = { 0.1, -0.2, 0.3 } },
      function(p) return ref.sphere({ p[1] - 0.1, p[2] + 0.2, p[3] - 0.3 }, 0.7) end)
    check(sdf.box { size = { 1, 0.6, 1.4 }, center = { 0.2, 0, 0 } },
      function(p) return ref.box({ p[1] - 0.2, p[2], p[3] }, { 0.5, 0.3, 0.7 }) end)
    check(sdf.torus { R = 1, r = 0.3 }, function(p) return ref.torus(p, 1, 0.3) end)
    check(sdf.capsule { a = { -0.5, 0, 0 }, b = { 0.5, 0.4, 0 }, r = 0.2 },
      function(p) return ref.capsule(p, { -0.5, 0, 0 }, { 0.5, 0.4, 0 }, 0.2) end)
    check(sdf.plane { normal = { 0, 2, 0 }, offset = 0.5 }, function(p) return p[2] - 0.5 end)
    check(sdf.cylinder { r = 0.5, h = 1.2 }, function(p) return ref.cylinder(p, 0.5, 1.2) end)
  end)

  it("transforms: translate, rotate about an axis, uniform scale", function()
    local s = sdf.box { size = { 1, 0.5, 0.3 } }:rotate({ 0, 0, 1 }, math.pi / 2):scale(2):translate { 0.5, 0, 0 }
    -- inverse: x = ((p − t)/2) rotated by −90° about z
    check(s, function(p)
      local x, y, z = (p[1] - 0.5) / 2, p[2] / 2, p[3] / 2
      local lx, ly = y, -x
      return 2 * ref.box({ lx, ly, z }, { 0.5, 0.25, 0.15 })
    end)
    assert.is_true(s:is_exact())
  end)

  it("CSG: union, intersection, subtraction, smooth union", function()
    local a, b = sdf.sphere { r = 1 }, sdf.box { size = { 1, 1, 1 }, center = { 0.8, 0, 0 } }
    local fa = function(p) return ref.sphere(p, 1) end
    local fb = function(p) return ref.box({ p[1] - 0.8, p[2], p[3] }, { 0.5, 0.5, 0.5 }) end
    check(sdf.union(a, b), function(p) return min(fa(p), fb(p)) end)
    check(sdf.intersect(a, b), function(p) return max(fa(p), fb(p)) end)
    check(sdf.subtract(a, b), function(p) return max(fa(p), -fb(p)) end)
    local k = 0.3
    check(sdf.smooth_union(a, b, k), function(p)
      local x, y = fa(p), fb(p)
      local h = max(k - abs(x - y), 0) / k
      return min(x, y) - h * h * k / 4 -- Quilez's polynomial smooth minimum
    end)
    -- the smoothing radius scales with the node
    check(sdf.smooth_union(a, b, k):scale(2), function(p)
      local q = { p[1] / 2, p[2] / 2, p[3] / 2 }
      local x, y = fa(q), fb(q)
      local h = max(k - abs(x - y), 0) / k
      return 2 * (min(x, y) - h * h * k / 4)
    end)
    assert.is_false(sdf.union(a, b):is_exact())
  end)

  it("gradients match central finite differences (primitives and CSG)", function()
    local scenes = {
      sdf.sphere { r = 0.7 }, sdf.box { size = { 1, 0.6, 1.4 } }:rotate({ 1, 1, 0 }, 0.4),
      sdf.torus { R = 1, r = 0.3 }:translate { 0, 0.2, 0 }, sdf.capsule { r = 0.3 }, sdf.cylinder { r = 0.5, h = 1 },
      sdf.smooth_union(sdf.sphere { r = 0.6 }, sdf.torus { R = 0.9, r = 0.2 }:rotate({ 1, 0, 0 }, 1.0), 0.25):scale(1.3),
      sdf.subtract(sdf.box { size = 1.5 }, sdf.sphere { r = 0.9 }),
    }
    local h = 1e-6
    for si, s in ipairs(scenes) do
      local g = s:grad(Pt):totable()
      for i = 1, 60 do
        local p = P[i]
        for a = 1, 3 do
          local pp, pm = { p[1], p[2], p[3] }, { p[1], p[2], p[3] }
          pp[a] = pp[a] + h
          pm[a] = pm[a] - h
          local fd = (s:eval(T.new { pp }):get(1) - s:eval(T.new { pm }):get(1)) / (2 * h)
          assert.is_close(g[i][a], fd, { atol = 2e-6 })
        end
      end
    end
  end)

  it("colour comes from the primitive that decides the distance", function()
    local s = sdf.union(sdf.sphere { r = 0.5, center = { -1, 0, 0 } }:color { 1, 0, 0 },
      sdf.sphere { r = 0.5, center = { 1, 0, 0 } }:color { 0, 0, 1 })
    local c = s:color(T.new { { -1.2, 0, 0 }, { 1.3, 0, 0 } }):totable()
    assert.same({ 1, 0, 0 }, c[1])
    assert.same({ 0, 0, 1 }, c[2])
    -- an outer colour overrides the inner ones
    local c2 = s:color { 0, 1, 0 }:color(T.new { { -1.2, 0, 0 } }):totable()
    assert.same({ 0, 1, 0 }, c2[1])
  end)

  it("tostring prints the tree with exactness", function()
    local s = sdf.union(sdf.sphere { r = 1 }, sdf.torus { R = 1, r = 0.2 }:translate { 0, 1, 0 })
    local str = tostring(s)
    assert.truthy(str:find("union", 1, true))
    assert.truthy(str:find("  sphere r=1 [exact]", 1, true))
    assert.truthy(str:find("torus R=1 r=0.2 at (0,1,0) [exact]", 1, true))
    assert.truthy(str:find("[1-Lipschitz bound]", 1, true))
  end)

  it("a Lua-function SDF (the slow path) agrees with the compiled scene", function()
    local f = sdf.fn(function(q)
      local n = q:shape()[1]
      local out = {}
      for i = 1, n do out[i] = len(q:get(i, 1), q:get(i, 2), q:get(i, 3)) - 1 end
      return out
    end, { exact = true })
    local o = T.new { { 0, 0, -3 }, { 0.3, 0.2, -3 } }
    local u = T.new { { 0, 0, 1 }, { 0, 0, 1 } }
    local a = sdf.sample(f, o, u, { beta = 0.02 })
    local b = sdf.sample(sdf.sphere { r = 1 }, o, u, { beta = 0.02 })
    assert.is_close(a.t, b.t, { rtol = 1e-12 })
    assert.is_close(a.weights, b.weights, { rtol = 1e-9, atol = 1e-15 })
    assert.is_close(f:eval(Pt), sdf.sphere { r = 1 }:eval(Pt), { rtol = 1e-13 })
  end)
end)

describe("VolSDF density and weights", function()
  it("density is the Laplace CDF form α Ψ_β(−d)", function()
    for _, beta in ipairs { 0.01, 0.1, 1 } do
      for _, d in ipairs { -1, -0.05, -1e-9, 0, 1e-9, 0.02, 0.5, 3 } do
        local psi = d >= 0 and 0.5 * math.exp(-d / beta) or 1 - 0.5 * math.exp(d / beta)
        assert.is_close(sdf.density(d, beta), psi / beta, { rtol = 1e-14 })
      end
    end
  end)

  it("render_weights: δ, α, T, w and opacity against a plain loop", function()
    local t = { 0, 0.1, 0.25, 0.3, 0.7, 1.0 }
    local s = { 0.5, 2, 7, 1, 0, 3 }
    local r = sdf.render_weights(T.new(t), T.new(s), { last_delta = 0.2 })
    local acc, op = 0, 0
    for i = 1, #t do
      local dl = i < #t and t[i + 1] - t[i] or 0.2
      local a = 1 - math.exp(-dl * s[i])
      local Ti = math.exp(-acc)
      assert.is_close(r.delta:get(i), dl, { rtol = 1e-15 })
      assert.is_close(r.alpha:get(i), a, { rtol = 1e-14 })
      assert.is_close(r.trans:get(i), Ti, { rtol = 1e-14 })
      assert.is_close(r.weights:get(i), a * Ti, { rtol = 1e-14 })
      acc = acc + dl * s[i]
      op = op + a * Ti
    end
    assert.is_close(r.opacity, op, { rtol = 1e-14 })
    assert.is_close(r.opacity, 1 - math.exp(-acc), { rtol = 1e-13 })
  end)

  it("a ray meeting a plane head-on has the closed-form opacity", function()
    -- plane y = 0, ray from height hgt straight down: d(t) = hgt − t
    local hgt = 2
    local plane = sdf.plane { normal = { 0, 1, 0 } }
    local o, u = T.new { { 0, hgt, 0 } }, T.new { { 0, -1, 0 } }
    for _, beta in ipairs { 0.01, 0.1, 0.5 } do
      local ts = { 0, 1, 1.9, 2, 2.05, 2.5, 3 }
      local O = sdf.opacity_reference(plane, o, u, T.new { ts }, beta, 200000):totable()[1]
      for k, tk in ipairs(ts) do
        -- ∫_0^tk σ = 0.5(e^{(min(tk,h)−h)/β} − e^{−h/β}) + [tk > h]((tk−h)/β − 0.5(1 − e^{−(tk−h)/β}))
        local a = 0.5 * (math.exp((min(tk, hgt) - hgt) / beta) - math.exp(-hgt / beta))
        if tk > hgt then a = a + (tk - hgt) / beta - 0.5 * (1 - math.exp(-(tk - hgt) / beta)) end
        assert.is_close(O[k], 1 - math.exp(-a), { atol = 1e-9 })
      end
      -- the uniform sampler's quadrature converges to it
      local s = sdf.sample(plane, o, u, { method = "uniform", n_eval = 4000, far = 3, beta = beta, last_delta = 0 })
      local w = 0
      for j = 1, 4000 do w = w + s.weights:get(1, j) end
      local a = 0.5 * (1 - math.exp(-hgt / beta)) + 1 / beta - 0.5 * (1 - math.exp(-1 / beta))
      assert.is_close(w, 1 - math.exp(-a), { atol = 3e-3 })
    end
  end)
end)

describe("sdf.sample", function()
  it("uses the reference defaults: 98 samples, evaluations within 640 + 66", function()
    local s = sdf.sample(sdf.sphere { r = 1 }, T.new { { 0, 0, -3 } }, T.new { { 0, 0, 1 } })
    assert.same({ 1, 98 }, s.t:shape())
    local t = s.t:totable()[1]
    assert.equal(0, t[1])
    assert.equal(6, t[98])
    for j = 2, 98 do assert.is_true(t[j] >= t[j - 1]) end
    assert.is_true(s.sdf_evals:get(1) <= 640 + 66)
    assert.is_true(s.iters:get(1) >= 1 and s.iters:get(1) <= 5)
    -- a miss converges at once: one round, β+ = β
    local m = sdf.sample(sdf.sphere { r = 1 }, T.new { { 0, 2.5, -3 } }, T.new { { 0, 0, 1 } })
    assert.equal(1, m.iters:get(1))
    assert.equal(0.01, m.beta_plus:get(1))
  end)

  -- The bound is honest: Ô(t_k) = 1 − exp(−R̂(t_k)) from the evaluated samples at β+ against the opacity by
  -- 10^5-point Simpson quadrature at β+, at every evaluated depth.
  local function honesty(scene, nrays, seed, beta, opts)
    local r = rng(seed)
    local o, u = {}, {}
    for i = 1, nrays do
      local th, ph = r(0, 2 * math.pi), math.acos(r(-1, 1))
      local e = { 2.9 * math.sin(ph) * math.cos(th), 2.9 * math.cos(ph), 2.9 * math.sin(ph) * math.sin(th) }
      local tg = { r(-0.8, 0.8), r(-0.8, 0.8), r(-0.8, 0.8) }
      o[i] = e
      u[i] = { tg[1] - e[1], tg[2] - e[2], tg[3] - e[3] }
    end
    local O, U = T.new(o), T.new(u)
    local op = { beta = beta, keep_eval = true }
    for k, v in pairs(opts or {}) do op[k] = v end
    local s = sdf.sample(scene, O, U, op)
    local ref_O = sdf.opacity_reference(scene, O, U, s.t_eval, s.beta_plus, 100000):totable()
    local te, de = s.t_eval:totable(), s.d_eval:totable()
    local bp, bd = s.beta_plus:totable(), s.bound:totable()
    local converged, worst = 0, 0
    for i = 1, nrays do
      local R, err = 0, 0
      local t, d = te[i], de[i]
      local k = 1
      while t[k + 1] == t[k + 1] and k < #t do
        local b = bp[i]
        local psi = d[k] >= 0 and 0.5 * math.exp(-d[k] / b) or 1 - 0.5 * math.exp(d[k] / b)
        R = R + (t[k + 1] - t[k]) * psi / b
        k = k + 1
        err = max(err, abs((1 - math.exp(-R)) - ref_O[i][k]))
      end
      assert.is_true(err <= bd[i] + 1e-6, ("ray %d: opacity error %.3g above the bound %.3g"):format(i, err, bd[i]))
      if bd[i] <= 0.1 then
        converged = converged + 1
        assert.is_true(err <= 0.1)
      end
      worst = max(worst, err)
    end
    return converged, worst
  end

  it("the bound is honest on >= 1000 random rays through sphere, box, torus and CSG scenes", function()
    local scenes = require("spec.helpers.sdf_scenes")(sdf)
    local total, conv = 0, 0
    for i, s in ipairs(scenes) do
      local c = honesty(s, 260, 100 + i, i == 4 and 0.02 or 0.01)
      total, conv = total + 260, conv + c
    end
    assert.is_true(total >= 1000)
    assert.is_true(conv >= total / 2, ("only %d of %d rays reached bound <= eps"):format(conv, total))
  end)

  it("same seed, same stratified samples on any thread count; different seeds differ", function()
    local sc = sdf.torus { R = 0.8, r = 0.3 }
    local o = T.new { { 0, 0.5, -3 }, { 0.8, 0, -3 }, { 0, 0, -3 } }
    local u = T.new { { 0, -0.1, 1 }, { 0, 0, 1 }, { 0.2, 0, 1 } }
    local n0 = ml.get_threads()
    ml.set_threads(1)
    local a = sdf.sample(sc, o, u, { stratified = true, seed = 5 })
    ml.set_threads(2)
    local b = sdf.sample(sc, o, u, { stratified = true, seed = 5 })
    ml.set_threads(n0)
    local c = sdf.sample(sc, o, u, { stratified = true, seed = 6 })
    assert.is_close(a.t, b.t, { rtol = 0 })
    assert.is_false((a.t - c.t):abs():max() == 0)
  end)

  it("uniform and hierarchical methods return their sample counts and a bound at β", function()
    local o, u = T.new { { 0, 0, -3 } }, T.new { { 0, 0, 1 } }
    local a = sdf.sample(sdf.sphere { r = 1 }, o, u, { method = "uniform" })
    local b = sdf.sample(sdf.sphere { r = 1 }, o, u, { method = "hierarchical" })
    assert.same({ 1, 128 }, a.t:shape())
    assert.same({ 1, 192 }, b.t:shape())
    assert.is_true(b.bound:get(1) < a.bound:get(1))
  end)
end)

describe("sphere tracing and rendering", function()
  it("sphere tracing hits the analytic intersection to 1e-6", function()
    local r = rng(3)
    local o, u, want = {}, {}, {}
    local c, rad = { 0.2, -0.1, 0.3 }, 0.9
    for i = 1, 200 do
      local e = { r(-0.5, 0.5), r(-0.5, 0.5), -3 }
      local tg = { c[1] + r(-0.6, 0.6), c[2] + r(-0.6, 0.6), c[3] }
      local d = { tg[1] - e[1], tg[2] - e[2], tg[3] - e[3] }
      local l = len(d[1], d[2], d[3])
      d = { d[1] / l, d[2] / l, d[3] / l }
      local oc = { e[1] - c[1], e[2] - c[2], e[3] - c[3] }
      local bq = oc[1] * d[1] + oc[2] * d[2] + oc[3] * d[3]
      local disc = bq * bq - (oc[1] ^ 2 + oc[2] ^ 2 + oc[3] ^ 2 - rad * rad)
      o[i], u[i], want[i] = e, d, disc > 0 and (-bq - sqrt(disc)) or math.huge
    end
    local t = sdf.sphere_trace(sdf.sphere { r = rad, center = c }, T.new(o), T.new(u)):totable()
    for i = 1, 200 do
      if want[i] == math.huge then assert.equal(math.huge, t[i])
      else assert.is_close(t[i], want[i], { atol = 1e-6 }) end
    end
  end)

  it("a rendered sphere's silhouette matches the analytic disc (IoU >= 0.99 at 256²)", function()
    local W, H, fov = 256, 256, 40
    local eye = { 0.3, 0.2, 4 }
    local c, rad = { 0.1, 0, 0 }, 0.8
    local cam = { eye = eye, target = { 0, 0, 0 }, up = { 0, 1, 0 }, fov = fov, width = W, height = H }
    -- A density silhouette is wider than the surface's by about β·ln(½·sqrt(2π r/β)/ln 2) (the grazing rays'
    -- opacity reaches ½ outside the sphere): at β = 5e-4 that is 0.2 pixel here.
    local img, maps = sdf.render(sdf.sphere { r = rad, center = c }, cam, { beta = 5e-4, outputs = { "opacity" }, quiet = true })
    assert.same({ H, W, 3 }, img:shape())
    local _, traced = sdf.render(sdf.sphere { r = rad, center = c }, cam, { sphere_trace = true, outputs = { "opacity" } })
    local op, opt = maps.opacity:totable(), traced.opacity:totable()
    -- the camera basis and pixel rays, written plainly
    local f = { -eye[1], -eye[2], -eye[3] }
    local fl = len(f[1], f[2], f[3]); f = { f[1] / fl, f[2] / fl, f[3] / fl }
    local rt = { f[2] * 0 - f[3] * 1, f[3] * 0 - f[1] * 0, f[1] * 1 - f[2] * 0 }
    local rl = len(rt[1], rt[2], rt[3]); rt = { rt[1] / rl, rt[2] / rl, rt[3] / rl }
    local up = { rt[2] * f[3] - rt[3] * f[2], rt[3] * f[1] - rt[1] * f[3], rt[1] * f[2] - rt[2] * f[1] }
    local th = math.tan(math.rad(fov) / 2)
    local inter, union, it, un = 0, 0, 0, 0
    for i = 1, H do
      for j = 1, W do
        local x = (2 * (j - 0.5) / W - 1) * th
        local y = (1 - 2 * (i - 0.5) / H) * th
        local d = { f[1] + x * rt[1] + y * up[1], f[2] + x * rt[2] + y * up[2], f[3] + x * rt[3] + y * up[3] }
        local l = len(d[1], d[2], d[3]); d = { d[1] / l, d[2] / l, d[3] / l }
        local oc = { eye[1] - c[1], eye[2] - c[2], eye[3] - c[3] }
        local bq = oc[1] * d[1] + oc[2] * d[2] + oc[3] * d[3]
        local hit = bq * bq - (oc[1] ^ 2 + oc[2] ^ 2 + oc[3] ^ 2 - rad * rad) > 0
        local got = op[i][j] > 0.5
        if hit and got then inter = inter + 1 end
        if hit or got then union = union + 1 end
        got = opt[i][j] > 0.5
        if hit and got then it = it + 1 end
        if hit or got then un = un + 1 end
      end
    end
    assert.is_true(inter / union >= 0.99, ("IoU %.4f"):format(inter / union))
    assert.is_true(it / un >= 0.999, ("sphere-traced IoU %.4f"):format(it / un))
  end)
end)

describe("sdf.marching_cubes", function()
  -- area, signed volume and watertightness (every directed edge once, its reverse once) written plainly
  local function stats(v, f)
    local V, F = v:totable(), f:totable()
    local area, vol, edges = 0, 0, {}
    local nv = #V
    for _, tri in ipairs(F) do
      local a, b, c = V[tri[1]], V[tri[2]], V[tri[3]]
      local e1 = { b[1] - a[1], b[2] - a[2], b[3] - a[3] }
      local e2 = { c[1] - a[1], c[2] - a[2], c[3] - a[3] }
      local n = { e1[2] * e2[3] - e1[3] * e2[2], e1[3] * e2[1] - e1[1] * e2[3], e1[1] * e2[2] - e1[2] * e2[1] }
      area = area + 0.5 * len(n[1], n[2], n[3])
      vol = vol + (a[1] * n[1] + a[2] * n[2] + a[3] * n[3]) / 6
      for k = 1, 3 do
        local p, q = tri[k], tri[k % 3 + 1]
        local key = p * (nv + 1) + q
        edges[key] = (edges[key] or 0) + 1
      end
    end
    local tight = true
    for key, cnt in pairs(edges) do
      local p, q = key // (nv + 1), key % (nv + 1)
      if cnt ~= 1 or edges[q * (nv + 1) + p] ~= 1 then tight = false break end
    end
    return area, vol, tight
  end

  it("sphere and torus: area and volume within 1% at resolution 128, watertight", function()
    local s = sdf.sphere { r = 1 }
    local v, f = sdf.marching_cubes(s, { bounds = { { -1.3, -1.3, -1.3 }, { 1.3, 1.3, 1.3 } }, resolution = 128, quiet = true })
    local a, vol, tight = stats(v, f)
    assert.is_true(tight)
    assert.is_close(a, 4 * math.pi, { rtol = 0.01 })
    assert.is_close(vol, 4 / 3 * math.pi, { rtol = 0.01 })
    local R, r = 1, 0.35
    local tor = sdf.torus { R = R, r = r }:rotate({ 1, 0, 0 }, 0.3)
    v, f = sdf.marching_cubes(tor, { bounds = { { -1.5, -1.5, -1.5 }, { 1.5, 1.5, 1.5 } }, resolution = 128, quiet = true })
    a, vol, tight = stats(v, f)
    assert.is_true(tight)
    assert.is_close(a, 4 * math.pi ^ 2 * R * r, { rtol = 0.01 })
    assert.is_close(vol, 2 * math.pi ^ 2 * R * r * r, { rtol = 0.01 })
  end)

  it("writes PLY, OBJ and PNG files", function()
    local v, f = sdf.marching_cubes(sdf.box { size = 1 }, { resolution = 8, quiet = true })
    local p = os.tmpname()
    sdf.save_ply(p, v, f)
    local txt = io.open(p):read("a")
    assert.truthy(txt:find("element vertex " .. v:shape()[1], 1, true))
    assert.truthy(txt:find("element face " .. f:shape()[1], 1, true))
    sdf.save_obj(p, v, f)
    local lines = 0
    for l in io.lines(p) do if l:sub(1, 2) == "f " then lines = lines + 1 end end
    assert.equal(f:shape()[1], lines)
    sdf.save_png(p, T.rand({ 5, 7, 3 }, { seed = 1 }))
    local png = io.open(p, "rb"):read("a")
    assert.equal("\137PNG\r\n\26\n", png:sub(1, 8))
    assert.equal(7, string.unpack(">I4", png, 17))
    assert.equal(5, string.unpack(">I4", png, 21))
    os.remove(p)
  end)
end)
