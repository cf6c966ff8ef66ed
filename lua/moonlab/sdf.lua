-- moonlab.sdf — signed distance scenes, the VolSDF density, error-bounded ray sampling, rendering and meshes
-- (Yariv et al. 2021, arXiv 2106.12052). Scenes are Lua trees compiled once to a flat C instruction list
-- (csrc/sdf); every point is evaluated in C. See docs/sdf.md for every option, default and guarantee.
local core = require "moonlab.core"
local T = require "moonlab.tensor"
local opts = require "moonlab.opts"

local M = {}

local Node = {}
Node.__index = Node

local DEFAULT_COLOR = { 0.8, 0.8, 0.8 }
local IDENT = { 1, 0, 0, 0, 1, 0, 0, 0, 1 }

local function fail(fname, arg, expect, got)
  opts.raise(("%s: bad argument '%s': expected %s, got %s"):format(fname, arg, expect, tostring(got)), 3)
end

local function is_num(x) return type(x) == "number" and x == x and x > -math.huge and x < math.huge end

local function posnum(fname, arg, v, default)
  if v == nil then v = default end
  if not is_num(v) or v <= 0 then fail(fname, arg, "a finite number > 0", v) end
  return v
end

local function vec3(fname, arg, v, default)
  if v == nil then v = default end
  if type(v) ~= "table" or #v ~= 3 or not (is_num(v[1]) and is_num(v[2]) and is_num(v[3])) then
    fail(fname, arg, "a list of 3 finite numbers", type(v) == "table" and ("a table of " .. #v) or v)
  end
  return { v[1], v[2], v[3] }
end

local function mat_mul(A, B) -- 3x3 row-major
  local C = {}
  for i = 0, 2 do
    for j = 0, 2 do
      C[3 * i + j + 1] = A[3 * i + 1] * B[j + 1] + A[3 * i + 2] * B[3 + j + 1] + A[3 * i + 3] * B[6 + j + 1]
    end
  end
  return C
end

local function mat_vec(A, v)
  return { A[1] * v[1] + A[2] * v[2] + A[3] * v[3], A[4] * v[1] + A[5] * v[2] + A[6] * v[3],
    A[7] * v[1] + A[8] * v[2] + A[9] * v[3] }
end

-- similarity transform x_world = s R x + t; compose(P, C) = P ∘ C
local function compose(P, C)
  local Rt = mat_vec(P.R, C.t)
  return { R = mat_mul(P.R, C.R), s = P.s * C.s,
    t = { P.s * Rt[1] + P.t[1], P.s * Rt[2] + P.t[2], P.s * Rt[3] + P.t[3] } }
end

local ID_XF = { R = IDENT, t = { 0, 0, 0 }, s = 1 }

local function new_node(fields)
  fields.xf = fields.xf or ID_XF
  return setmetatable(fields, Node)
end

local function copy(node)
  local c = {}
  for k, v in pairs(node) do if k ~= "_compiled" then c[k] = v end end
  return setmetatable(c, Node)
end

--- sdf.is_scene(x) -> true for scene nodes (primitives, combinations, sdf.fn)
function M.is_scene(x) return getmetatable(x) == Node end

-- ---- primitives ----

local function prim(fname, o, names)
  if o == nil then o = {} end
  if type(o) ~= "table" then opts.raise(fname .. ": expected an options table, got " .. type(o), 3) end
  opts.check(fname, o, names, 3)
  local color = o.color and vec3(fname, "color", o.color) or nil
  return color
end

-- The primitive node, moved to o.center (checked) when given.
local function placed(fname, o, node)
  if o.center then node.xf = { R = IDENT, t = vec3(fname, "center", o.center), s = 1 } end
  return new_node(node)
end

--- sdf.sphere{r = 1, center = {0,0,0}, color}: |p − c| − r (exact)
function M.sphere(o)
  local fname = "sdf.sphere"
  local color = prim(fname, o, { "r", "center", "color" })
  o = o or {}
  return placed(fname, o, { kind = "sphere", param = { posnum(fname, "r", o.r, 1) }, exact = true, rgb = color,
    desc = ("r=%g"):format(o.r or 1) })
end

--- sdf.box{size = {1,1,1}, center}: full side lengths; ‖max(q,0)‖ + min(max q, 0), q = |p| − size/2 (exact)
function M.box(o)
  local fname = "sdf.box"
  local color = prim(fname, o, { "size", "center", "color" })
  o = o or {}
  local s = o.size
  if type(s) == "number" then s = { s, s, s } end
  s = vec3(fname, "size", s, { 1, 1, 1 })
  for i = 1, 3 do if s[i] <= 0 then fail(fname, "size", "sizes > 0", s[i]) end end
  return placed(fname, o, { kind = "box", param = { s[1] / 2, s[2] / 2, s[3] / 2 }, exact = true, rgb = color,
    desc = ("size=(%g,%g,%g)"):format(s[1], s[2], s[3]) })
end

--- sdf.torus{R = 1, r = 0.25, center}: ring in the xz-plane around the y axis (exact)
function M.torus(o)
  local fname = "sdf.torus"
  local color = prim(fname, o, { "R", "r", "center", "color" })
  o = o or {}
  local R, r = posnum(fname, "R", o.R, 1), posnum(fname, "r", o.r, 0.25)
  return placed(fname, o, { kind = "torus", param = { R, r }, exact = true, rgb = color,
    desc = ("R=%g r=%g"):format(R, r) })
end

--- sdf.capsule{a = {0,-0.5,0}, b = {0,0.5,0}, r = 0.25}: points within r of the segment ab (exact)
function M.capsule(o)
  local fname = "sdf.capsule"
  local color = prim(fname, o, { "a", "b", "r", "color" })
  o = o or {}
  local a, b = vec3(fname, "a", o.a, { 0, -0.5, 0 }), vec3(fname, "b", o.b, { 0, 0.5, 0 })
  local r = posnum(fname, "r", o.r, 0.25)
  return new_node { kind = "capsule", param = { a[1], a[2], a[3], b[1], b[2], b[3], r }, exact = true, rgb = color,
    desc = ("a=(%g,%g,%g) b=(%g,%g,%g) r=%g"):format(a[1], a[2], a[3], b[1], b[2], b[3], r) }
end

--- sdf.plane{normal = {0,1,0}, offset = 0}: n·p − offset with n normalised (exact; the half-space below)
function M.plane(o)
  local fname = "sdf.plane"
  local color = prim(fname, o, { "normal", "offset", "color" })
  o = o or {}
  local n = vec3(fname, "normal", o.normal, { 0, 1, 0 })
  local l = math.sqrt(n[1] ^ 2 + n[2] ^ 2 + n[3] ^ 2)
  if not (l > 0) then fail(fname, "normal", "a non-zero vector", "(0,0,0)") end
  local off = o.offset or 0
  if not is_num(off) then fail(fname, "offset", "a finite number", off) end
  return new_node { kind = "plane", param = { n[1] / l, n[2] / l, n[3] / l, off }, exact = true, rgb = color,
    desc = ("normal=(%g,%g,%g) offset=%g"):format(n[1] / l, n[2] / l, n[3] / l, off) }
end

--- sdf.cylinder{r = 0.5, h = 1, center}: capped, axis y, full height h (exact)
function M.cylinder(o)
  local fname = "sdf.cylinder"
  local color = prim(fname, o, { "r", "h", "center", "color" })
  o = o or {}
  local r, h = posnum(fname, "r", o.r, 0.5), posnum(fname, "h", o.h, 1)
  return placed(fname, o, { kind = "cylinder", param = { r, h / 2 }, exact = true, rgb = color,
    desc = ("r=%g h=%g"):format(r, h) })
end

--- sdf.fn(f, {exact = false, color}) — a Lua SDF (the slow path): f(points [N,3] f64 tensor) returns a tensor
--- (or table) of N distances. It must be 1-Lipschitz; exact = true claims an exact SDF (tighter bound).
function M.fn(f, o)
  local fname = "sdf.fn"
  if type(f) ~= "function" then fail(fname, "f", "a function(points [N,3]) -> distances [N]", type(f)) end
  o = o or {}
  opts.check(fname, o, { "exact", "color" }, 2)
  return new_node { kind = "fn", f = f, exact = o.exact and true or false,
    rgb = o.color and vec3(fname, "color", o.color) or nil, desc = "Lua function" }
end

-- ---- transforms and colour (each returns a new node) ----

local function need_csg(fname, n)
  if not M.is_scene(n) then opts.raise(fname .. ": expected a scene node, got " .. type(n), 3) end
  if n.kind == "fn" then
    opts.raise(fname .. ": a Lua SDF (sdf.fn) cannot be transformed or combined; do it inside the function", 3)
  end
  if n.kind == "grid" then error(fname .. ": a grid SDF cannot be transformed; give sdf.grid other bounds", 3) end
end

--- node:translate(v)
function Node:translate(v)
  need_csg("sdf:translate", self)
  v = vec3("sdf:translate", "v", v)
  local c = copy(self)
  c.xf = compose({ R = IDENT, t = v, s = 1 }, self.xf)
  return c
end

--- node:rotate(axis, angle) — right-handed rotation by angle radians about axis (through the origin)
function Node:rotate(axis, angle)
  need_csg("sdf:rotate", self)
  local a = vec3("sdf:rotate", "axis", axis)
  if not is_num(angle) then fail("sdf:rotate", "angle", "a finite number (radians)", angle) end
  local l = math.sqrt(a[1] ^ 2 + a[2] ^ 2 + a[3] ^ 2)
  if not (l > 0) then fail("sdf:rotate", "axis", "a non-zero vector", "(0,0,0)") end
  local x, y, z = a[1] / l, a[2] / l, a[3] / l
  local c, s = math.cos(angle), math.sin(angle)
  local C = 1 - c
  local R = { c + x * x * C, x * y * C - z * s, x * z * C + y * s,
    y * x * C + z * s, c + y * y * C, y * z * C - x * s,
    z * x * C - y * s, z * y * C + x * s, c + z * z * C }
  local n = copy(self)
  n.xf = compose({ R = R, t = { 0, 0, 0 }, s = 1 }, self.xf)
  return n
end

--- node:scale(s) — uniform scale s > 0 (d ↦ s·d(p/s) stays exact); a non-uniform scale is refused
function Node:scale(s)
  need_csg("sdf:scale", self)
  if type(s) == "table" then
    if #s == 3 and s[1] == s[2] and s[2] == s[3] then s = s[1]
    else
      error("sdf:scale: a non-uniform scale is refused: it makes the distance not 1-Lipschitz and breaks the " ..
        "error bound of the sampler (use a uniform scale, or sdf.fn with your own 1-Lipschitz bound)", 2)
    end
  end
  if not is_num(s) or s <= 0 then fail("sdf:scale", "s", "a finite number > 0", s) end
  local n = copy(self)
  n.xf = compose({ R = IDENT, t = { 0, 0, 0 }, s = s }, self.xf)
  return n
end

--- node:color(rgb) — albedo in [0,1] for every primitive below this node
function Node:color(c)
  c = vec3("sdf:color", "rgb", c)
  local n = copy(self)
  n.rgb = c
  return n
end

-- ---- combinators ----

local function combine(fname, kind, list, k)
  if #list == 1 and not M.is_scene(list[1]) and type(list[1]) == "table" then list = list[1] end
  for i, n in ipairs(list) do
    if not M.is_scene(n) then error(("%s: bad argument #%d: expected a scene node, got %s"):format(fname, i, type(n)), 0) end
    if n.kind == "fn" then error(fname .. ": a Lua SDF (sdf.fn) cannot be combined; combine inside the function", 0) end
    if n.kind == "grid" then error(fname .. ": a grid SDF cannot be combined (resample the union with sdf.grid{from = ...})", 0) end
  end
  if #list < 2 then error(fname .. ": expected at least 2 scene nodes, got " .. #list, 0) end
  local kids = {}
  for i, n in ipairs(list) do kids[i] = n end
  return new_node { kind = kind, children = kids, k = k, exact = false }
end

--- sdf.union(a, b, ...) = min (exact outside, a 1-Lipschitz bound inside)
function M.union(...) return combine("sdf.union", "union", { ... }) end
--- sdf.intersect(a, b, ...) = max (a 1-Lipschitz bound)
function M.intersect(...) return combine("sdf.intersect", "intersect", { ... }) end
--- sdf.subtract(a, b) = max(a, −b): a with b cut away (a 1-Lipschitz bound)
function M.subtract(a, b, ...)
  if select("#", ...) > 0 then error("sdf.subtract: expected 2 scene nodes (a minus b)", 2) end
  return combine("sdf.subtract", "subtract", { a, b })
end
--- sdf.smooth_union(a, b, k): polynomial smooth minimum of radius k >= 0 (1-Lipschitz bound; k = 0 is union)
function M.smooth_union(a, b, k)
  if not is_num(k) or k < 0 then fail("sdf.smooth_union", "k", "a finite number >= 0", k) end
  return combine("sdf.smooth_union", "smooth_union", { a, b }, k)
end

-- ---- compilation ----

local OP = { union = "min", intersect = "max", subtract = "sub", smooth_union = "smin" }

local function emit(node, acc, color, code, prims)
  local xf = compose(acc, node.xf)
  local col = color or node.rgb
  if node.children then
    for i, ch in ipairs(node.children) do
      emit(ch, xf, col, code, prims)
      if i > 1 then code[#code + 1] = { op = OP[node.kind], arg = 0, k = (node.k or 0) * xf.s } end
    end
    return
  end
  local R = xf.R
  prims[#prims + 1] = { kind = node.kind, param = node.param, trans = xf.t, scale = xf.s,
    rot = { R[1], R[4], R[7], R[2], R[5], R[8], R[3], R[6], R[9] }, color = col or DEFAULT_COLOR }
  code[#code + 1] = { op = "prim", arg = #prims - 1 }
end

-- the C-side field: a compiled scene (cached on the node) or {f, exact} for a Lua SDF
local function field(node, fname)
  if not M.is_scene(node) then
    error(("%s: bad argument #1 'scene': expected an sdf scene (sdf.sphere{...}, sdf.union(...), sdf.fn(f)), got %s")
      :format(fname, type(node)), 3)
  end
  if node.kind == "fn" then return { node.f, exact = node.exact } end
  if node.kind == "grid" then return node.grid end
  local c = rawget(node, "_compiled")
  if not c then
    local code, prims = {}, {}
    emit(node, ID_XF, nil, code, prims)
    c = core.sdf_compile(code, prims)
    rawset(node, "_compiled", c)
  end
  return c
end

--- node:compile() -> the compiled C scene (cached; done implicitly by every evaluation)
function Node:compile() return field(self, "sdf:compile") end

--- node:is_exact() -> true for an exact SDF, false for a 1-Lipschitz bound
function Node:is_exact() return self.exact end

local function xf_desc(xf)
  local parts = {}
  if xf.t[1] ~= 0 or xf.t[2] ~= 0 or xf.t[3] ~= 0 then parts[#parts + 1] = ("at (%g,%g,%g)"):format(xf.t[1], xf.t[2], xf.t[3]) end
  local R = xf.R
  if R[1] ~= 1 or R[5] ~= 1 or R[9] ~= 1 then parts[#parts + 1] = "rotated" end
  if xf.s ~= 1 then parts[#parts + 1] = ("scaled %g"):format(xf.s) end
  return table.concat(parts, " ")
end

local function tree(node, indent, out)
  local line = indent .. node.kind
  if node.desc then line = line .. " " .. node.desc end
  if node.k then line = line .. (" k=%g"):format(node.k) end
  local x = xf_desc(node.xf)
  if x ~= "" then line = line .. " " .. x end
  if node.rgb then line = line .. (" color=(%g,%g,%g)"):format(node.rgb[1], node.rgb[2], node.rgb[3]) end
  if node.kind == "grid" then line = line .. " [not guaranteed 1-Lipschitz: see sdf.grid_info]"
  else line = line .. (node.exact and " [exact]" or " [1-Lipschitz bound]") end
  out[#out + 1] = line
  for _, ch in ipairs(node.children or {}) do tree(ch, indent .. "  ", out) end
  return out
end

Node.__tostring = function(n) return table.concat(tree(n, "", {}), "\n") end

-- ---- evaluation ----

local function pts(p, fname)
  if not T.is_tensor(p) then opts.raise(fname .. ": bad argument #1 'points': expected a tensor [N,3], got " .. type(p), 3) end
  return p
end

--- scene:eval(points [N,3]) -> d [N]
function Node:eval(p)
  return core.sdf_eval(field(self, "sdf.eval"), pts(p, "sdf.eval"), "eval")
end

--- scene:grad(points [N,3]) -> ∇d [N,3] (analytic; central differences of step 1e-6 for a Lua SDF)
function Node:grad(p)
  pts(p, "sdf.grad")
  if self.kind ~= "fn" then return core.sdf_eval(field(self, "sdf.grad"), p, "grad") end
  local n = p:shape()[1]
  local g = T.zeros({ n, 3 })
  local h = 1e-6
  for a = 1, 3 do
    local e = T.zeros({ n, 3 })
    for i = 1, n do e:set(i, a, h) end
    local dp, dm = self:eval(p + e), self:eval(p - e)
    local col = (dp - dm) / (2 * h)
    for i = 1, n do g:set(i, a, col:get(i)) end
  end
  return g
end

--- scene:color(points [N,3]) -> albedo [N,3] (the primitive that decides the distance; blended in smooth unions)
function Node:color_at(p)
  pts(p, "sdf.color")
  if self.kind ~= "fn" then return core.sdf_eval(field(self, "sdf.color"), p, "color") end
  local c = self.rgb or DEFAULT_COLOR
  local n = p:shape()[1]
  local out = T.zeros({ n, 3 })
  for i = 1, n do for a = 1, 3 do out:set(i, a, c[a]) end end
  return out
end

-- scene:color(x): with a list of 3 numbers it sets the colour (returns a new node); with a tensor of points it
-- evaluates the albedo there.
local set_color = Node.color
function Node:color(x)
  if T.is_tensor(x) then return self:color_at(x) end
  return set_color(self, x)
end

--- sdf.eval(scene, points), sdf.grad(scene, points), sdf.color(scene, points)
function M.eval(s, p) field(s, "sdf.eval"); return s:eval(p) end
function M.grad(s, p) field(s, "sdf.grad"); return s:grad(p) end
function M.color(s, p) field(s, "sdf.color"); return s:color_at(p) end

-- ---- VolSDF ----

--- sdf.density(d, beta) -> σ = α Ψ_β(−d), α = 1/β (number or tensor)
function M.density(d, beta)
  if type(d) == "number" then
    return core.sdf_density(T.new({ d }), beta):get(1)
  end
  if not T.is_tensor(d) then error("sdf.density: bad argument #1 'd': expected a number or tensor, got " .. type(d), 2) end
  return core.sdf_density(d, beta)
end

--- sdf.render_weights(t, sigma, {last_delta = 1e10}) -> {delta, alpha, trans, weights, opacity}
--- t, sigma: [N] (one ray) or [R,N]; opacity is a number for one ray, else [R].
function M.render_weights(t, sigma, o)
  if o ~= nil and type(o) ~= "table" then
    error("sdf.render_weights: bad argument #3 'opts': expected an options table, got " .. type(o), 0)
  end
  opts.check("sdf.render_weights", o, { "last_delta" }, 2)
  o = o or {}
  if not T.is_tensor(t) then error("sdf.render_weights: bad argument #1 't': expected a tensor [N] or [R,N], got " .. type(t), 2) end
  if not T.is_tensor(sigma) then error("sdf.render_weights: bad argument #2 'sigma': expected a tensor, got " .. type(sigma), 2) end
  local one = #t:shape() == 1
  if one then
    t = t:reshape { 1, t:numel() }
    if #sigma:shape() == 1 then sigma = sigma:reshape { 1, sigma:numel() } end
  end
  local d, a, tr, w, op = core.sdf_weights(t, sigma, o.last_delta or 1e10)
  if one then
    local n = t:shape()[2]
    return { delta = d:reshape { n }, alpha = a:reshape { n }, trans = tr:reshape { n }, weights = w:reshape { n },
      opacity = op:get(1) }
  end
  return { delta = d, alpha = a, trans = tr, weights = w, opacity = op }
end

local function rays(o, u, fname)
  if not T.is_tensor(o) then opts.raise(fname .. ": bad argument #2 'origins': expected a tensor [R,3], got " .. type(o), 3) end
  if not T.is_tensor(u) then opts.raise(fname .. ": bad argument #3 'dirs': expected a tensor [R,3], got " .. type(u), 3) end
  return o, u
end

--- sdf.sample(scene, origins [R,3], dirs [R,3], opts) -> {t, weights, beta_plus, bound, iters, sdf_evals
--- [, t_eval, d_eval]}. Options and defaults in docs/sdf.md.
function M.sample(scene, o, u, op)
  local f = field(scene, "sdf.sample")
  rays(o, u, "sdf.sample")
  local t, w, bp, b, it, ev, te, de = core.sdf_sample(f, o, u, op)
  return { t = t, weights = w, beta_plus = bp, bound = b, iters = it, sdf_evals = ev, t_eval = te, d_eval = de }
end

--- sdf.sphere_trace(scene, origins, dirs, {near = 0, far = 6, tol = 1e-7, max_steps = 512}) -> t [R] (inf: miss), steps [R]
function M.sphere_trace(scene, o, u, op)
  local f = field(scene, "sdf.sphere_trace")
  rays(o, u, "sdf.sphere_trace")
  return core.sdf_sphere_trace(f, o, u, op)
end

--- sdf.opacity_reference(scene, origins, dirs, t [R,M] (NaN-padded), beta, nq = 1e5) -> O [R,M]: the opacity
--- 1 − exp(−∫σ) from t[1] to each t by composite Simpson quadrature with about nq evaluations per ray.
function M.opacity_reference(scene, o, u, t, beta, nq)
  local f = field(scene, "sdf.opacity_reference")
  rays(o, u, "sdf.opacity_reference")
  return core.sdf_opacity_reference(f, o, u, t, beta, nq)
end

--- sdf.render(scene, camera, opts) -> image [H,W,3], maps {depth, normal, opacity} (those in opts.outputs)
--- camera = {eye, target = {0,0,0}, up = {0,1,0}, fov = 45, width = 256, height = 256}
function M.render(scene, camera, op)
  local f = field(scene, "sdf.render")
  local outs = {}
  if op and op.outputs ~= nil then
    if type(op.outputs) ~= "table" then error("sdf.render: option 'outputs' must be a list of names", 2) end
    for _, name in ipairs(op.outputs) do
      if name ~= "depth" and name ~= "normal" and name ~= "opacity" then
        error(("sdf.render: unknown output '%s' (expected 'depth', 'normal' or 'opacity')"):format(tostring(name)), 2)
      end
      outs[name] = true
    end
  end
  local rgb, depth, normal, opacity = core.sdf_render(f, camera, op)
  return rgb, { depth = outs.depth and depth or nil, normal = outs.normal and normal or nil,
    opacity = outs.opacity and opacity or nil }
end

--- sdf.camera_rays(camera) -> origins [H·W,3], dirs [H·W,3]: the rays sdf.render traces (row-major from the
--- top-left pixel centre)
function M.camera_rays(camera) return core.sdf_camera_rays(camera) end

--- sdf.marching_cubes(scene, {bounds = {{-1.5,-1.5,-1.5},{1.5,1.5,1.5}}, resolution = 64}) -> vertices [V,3],
--- faces [F,3] (1-based, counter-clockwise seen from outside)
function M.marching_cubes(scene, op)
  return core.sdf_marching_cubes(field(scene, "sdf.marching_cubes"), op)
end

--- sdf.save_ply(path, vertices, faces), sdf.save_obj(path, vertices, faces): ASCII meshes (faces 1-based)
M.save_ply = core.sdf_save_ply
M.save_obj = core.sdf_save_obj

--- sdf.save_png(path, image [H,W] | [H,W,3] | [H,W,4]): 8-bit PNG, values in [0,1] clamped
M.save_png = core.sdf_save_png

-- the grid SDF and the multi-view fit (lua/moonlab/sdf_fit.lua)
require "moonlab.sdf_fit" (M, new_node)

return M
