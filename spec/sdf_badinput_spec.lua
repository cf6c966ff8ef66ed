local T = require "moonlab.tensor"
local sdf = require "moonlab.sdf"

local fails_with = require("spec.helpers.errors").fails_with

describe("sdf bad input", function()
  local s = sdf.sphere { r = 1 }
  local o, u = T.new { { 0, 0, -3 }, { 0.2, 0, -3 } }, T.new { { 0, 0, 1 }, { 0, 0, 2 } }

  it("sanity: the good calls work", function()
    assert.same({ 2, 98 }, sdf.sample(s, o, u).t:shape())
    assert.same({ 2 }, sdf.sphere_trace(s, o, u):shape())
  end)

  it("rejects zero or negative radii and sizes", function()
    fails_with(function() sdf.sphere { r = 0 } end, "sdf.sphere: bad argument 'r': expected a finite number > 0, got 0")
    fails_with(function() sdf.sphere { r = -1 } end, "sdf.sphere", "'r'", "-1")
    fails_with(function() sdf.sphere { r = 0 / 0 } end, "sdf.sphere", "'r'")
    fails_with(function() sdf.box { size = { 1, 0, 1 } } end, "sdf.box: bad argument 'size'")
    fails_with(function() sdf.box { size = { 1, 1 } } end, "sdf.box: bad argument 'size': expected a list of 3 finite numbers")
    fails_with(function() sdf.torus { R = 1, r = -0.1 } end, "sdf.torus: bad argument 'r'")
    fails_with(function() sdf.torus { R = 0 } end, "sdf.torus: bad argument 'R'")
    fails_with(function() sdf.capsule { r = 0 } end, "sdf.capsule: bad argument 'r'")
    fails_with(function() sdf.cylinder { h = -1 } end, "sdf.cylinder: bad argument 'h'")
    fails_with(function() sdf.plane { normal = { 0, 0, 0 } } end, "sdf.plane: bad argument 'normal': expected a non-zero vector")
    fails_with(function() sdf.sphere { radius = 1 } end, "unknown option 'radius' to sdf.sphere")
    fails_with(function() sdf.sphere { r = 1, centre = { 0, 0, 0 } } end, "unknown option 'centre' to sdf.sphere (did you mean 'center'?)")
    fails_with(function() sdf.sphere { center = { 0, "a", 0 } } end, "sdf.sphere: bad argument 'center'")
  end)

  it("refuses transforms that break the 1-Lipschitz bound, and bad combinations", function()
    fails_with(function() s:scale { 1, 2, 1 } end, "sdf:scale: a non-uniform scale is refused", "1-Lipschitz")
    fails_with(function() s:scale(0) end, "sdf:scale: bad argument 's'")
    fails_with(function() s:scale(-2) end, "sdf:scale")
    fails_with(function() s:rotate({ 0, 0, 0 }, 1) end, "sdf:rotate: bad argument 'axis'")
    fails_with(function() s:rotate({ 0, 1, 0 }, 0 / 0) end, "sdf:rotate: bad argument 'angle'")
    fails_with(function() s:translate { 1, 2 } end, "sdf:translate: bad argument 'v'")
    fails_with(function() sdf.union(s) end, "sdf.union: expected at least 2 scene nodes, got 1")
    fails_with(function() sdf.union(s, 3) end, "sdf.union: bad argument #2: expected a scene node, got number")
    fails_with(function() sdf.smooth_union(s, s, -1) end, "sdf.smooth_union: bad argument 'k'")
    local f = sdf.fn(function(p) return p:sum(2) end)
    fails_with(function() sdf.union(s, f) end, "sdf.union: a Lua SDF (sdf.fn) cannot be combined")
    fails_with(function() f:translate { 1, 0, 0 } end, "sdf:translate: a Lua SDF (sdf.fn) cannot be transformed")
    fails_with(function() sdf.fn(3) end, "sdf.fn: bad argument 'f'")
  end)

  it("rejects zero direction vectors and non-finite or misshaped rays", function()
    fails_with(function() sdf.sample(s, o, T.new { { 0, 0, 1 }, { 0, 0, 0 } }) end,
      "sdf.sample: bad argument #3 'dirs': direction 2 is the zero vector")
    fails_with(function() sdf.sample(s, T.new { { 0, 0, 1 / 0 }, { 0, 0, 0 } }, u) end,
      "sdf.sample: bad argument #2 'origins': point 1 is not finite")
    fails_with(function() sdf.sample(s, T.new { { 0, 0, 0 / 0 }, { 0, 0, 0 } }, u) end, "'origins'", "not finite")
    fails_with(function() sdf.sample(s, T.new { { 0, 0 } }, u) end, "sdf.sample: bad argument #2 'origins': expected [N,3], got [1,2]")
    fails_with(function() sdf.sample(s, o, T.new { { 0, 0, 1 } }) end, "sdf.sample: bad argument #3 'dirs': expected [2,3] like origins")
    fails_with(function() sdf.sample(s, { 1, 2, 3 }, u) end, "sdf.sample: bad argument #2 'origins': expected a tensor")
    fails_with(function() sdf.sample("sphere", o, u) end, "sdf.sample: bad argument #1 'scene': expected an sdf scene")
    fails_with(function() sdf.sphere_trace(s, o, T.new { { 0, 0, 0 }, { 0, 0, 1 } }) end,
      "sdf.sphere_trace: bad argument #3 'dirs': direction 1 is the zero vector")
    fails_with(function() s:eval(T.new { { 0, 1 / 0, 0 } }) end, "sdf.eval: bad argument #2 'points': point 1 is not finite")
    fails_with(function() s:eval(T.new { 1, 2, 3 }) end, "sdf.eval: bad argument #2 'points': expected [N,3], got [3]")
  end)

  it("rejects beta <= 0, eps <= 0 and other bad sampler options", function()
    fails_with(function() sdf.sample(s, o, u, { beta = 0 }) end, "sdf.sample: beta must be finite and > 0, got 0")
    fails_with(function() sdf.sample(s, o, u, { beta = -0.1 }) end, "sdf.sample: beta must be finite and > 0")
    fails_with(function() sdf.sample(s, o, u, { beta = 1e-320 }) end, "sdf.sample: beta = 9.99989e-321 is below 2.22507e-308")
    fails_with(function() sdf.sample(s, o, u, { beta = 1 / 0 }) end, "beta must be finite")
    fails_with(function() sdf.sample(s, o, u, { eps = 0 }) end, "sdf.sample: eps must be finite and > 0, got 0")
    fails_with(function() sdf.sample(s, o, u, { eps = -1 }) end, "eps must be finite and > 0")
    fails_with(function() sdf.sample(s, o, u, { n_eval = 1 }) end, "sdf.sample: option 'n_eval' must be in [2, 4096], got 1")
    fails_with(function() sdf.sample(s, o, u, { n_eval = 2 ^ 40 }) end, "option 'n_eval' must be in")
    fails_with(function() sdf.sample(s, o, u, { max_iters = 0 }) end, "option 'max_iters'")
    fails_with(function() sdf.sample(s, o, u, { n_extra = 200 }) end, "n_extra must be in [0, n_eval]")
    fails_with(function() sdf.sample(s, o, u, { n_eval = 4096, max_iters = 64 }) end, "n_eval * max_iters must be <= 32768")
    fails_with(function() sdf.sample(s, o, u, { far = -1 }) end, "far must be finite and > near")
    fails_with(function() sdf.sample(s, o, u, { radius = 0 }) end, "radius must be finite and > 0")
    fails_with(function() sdf.sample(s, o, u, { method = "stratified" }) end, "sdf.sample", "method")
    fails_with(function() sdf.sample(s, o, u, { n_evals = 64 }) end, "unknown option 'n_evals' to sdf.sample (did you mean 'n_eval'?)")
    fails_with(function() sdf.sample(s, o, u, "fast") end, "sdf.sample", "options table")
    fails_with(function() sdf.density(1, 0) end, "sdf.density: bad argument #2 'beta': expected a finite number > 0", "got 0")
    -- fuzzpass: a subnormal beta made 1/beta overflow (density inf at d <= 0)
    fails_with(function() sdf.density(-1, 5e-324) end, "sdf.density: bad argument #2 'beta'", "1/beta finite", "got 4.94066e-324")
    assert.is_true(sdf.density(-1, 2.3e-308) < math.huge)
    fails_with(function() sdf.density("x", 1) end, "sdf.density: bad argument #1 'd'")
    fails_with(function() sdf.render_weights(T.new { 0, 1 }, T.new { 1 }) end, "sdf.render_weights: bad argument #2 'sigma'")
    fails_with(function() sdf.render_weights(T.new { 1, 0 }, T.new { 1, 1 }) end, "sdf.render_weights: bad argument #1 't': ray 1 is not sorted")
    fails_with(function() sdf.render_weights(T.new { 0, 1 }, T.new { 1, -1 }) end, "'sigma'", "sigma >= 0")
    fails_with(function() sdf.sphere_trace(s, o, u, { tol = 0 }) end, "sdf.sphere_trace: tol must be > 0")
    fails_with(function() sdf.sphere_trace(s, o, u, { far = 0 }) end, "sdf.sphere_trace: need 0 <= near < far")
  end)

  it("rejects a bad camera: fov outside (0, 180), width/height <= 0 or huge", function()
    local cam = function(over)
      local c = { eye = { 0, 0, 3 }, width = 4, height = 4 }
      for k, v in pairs(over) do c[k] = v end
      return c
    end
    fails_with(function() sdf.render(s, cam { fov = 0 }) end, "sdf.render: bad argument #2 'camera': fov must be in (0, 180) degrees, got 0")
    fails_with(function() sdf.render(s, cam { fov = 180 }) end, "fov must be in (0, 180)")
    fails_with(function() sdf.render(s, cam { fov = -10 }) end, "fov must be in (0, 180)")
    fails_with(function() sdf.render(s, cam { width = 0 }) end, "sdf.render: bad argument #2 'camera': width and height must be integers in [1, 16384]")
    fails_with(function() sdf.render(s, cam { height = -5 }) end, "width and height")
    fails_with(function() sdf.render(s, cam { width = 1e9 }) end, "width and height")
    fails_with(function() sdf.render(s, cam { width = 2.5 }) end, "width and height")
    fails_with(function() sdf.render(s, cam { width = 16384, height = 16384 }) end, "at most 2^26 pixels")
    fails_with(function() sdf.render(s, cam { eye = { 0, 0 } }) end, "sdf.render: bad argument #2 'camera': field 'eye' must be a list of 3 numbers")
    fails_with(function() sdf.render(s, cam { eye = { 0, 0, 0 } }) end, "sdf.render: camera: eye and target coincide")
    fails_with(function() sdf.render(s, cam { up = { 0, 0, 1 } }) end, "up is zero or parallel")
    fails_with(function() sdf.render(s, cam { eye = { 0, 0, 0 / 0 } }) end, "eye, target and up must be finite")
    fails_with(function() sdf.render(s, cam {}, { beta = 0 }) end, "sdf.render: beta must be finite and > 0")
    fails_with(function() sdf.render(s, cam {}, { outputs = { "depht" } }) end, "sdf.render: unknown output 'depht'")
    fails_with(function() sdf.render(s, cam {}, { ambient = 2 }) end, "ambient must be in [0, 1]")
    fails_with(function() sdf.render(s, cam {}, { light = { 0, 0 } }) end, "option 'light' must be a list of 3 numbers")
    fails_with(function() sdf.render(s, "cam") end, "sdf.render: bad argument #2 'camera'")
  end)

  it("reports unwritable PNG / PLY / OBJ paths and bad images or meshes", function()
    local v, f = sdf.marching_cubes(s, { resolution = 4, quiet = true })
    fails_with(function() sdf.save_png("/nonexistent-dir/x.png", T.zeros { 2, 2, 3 }) end,
      "sdf.save_png: cannot write '/nonexistent-dir/x.png'")
    fails_with(function() sdf.save_ply("/nonexistent-dir/x.ply", v, f) end, "sdf.save_ply: cannot write '/nonexistent-dir/x.ply'")
    fails_with(function() sdf.save_obj("/nonexistent-dir/x.obj", v, f) end, "sdf.save_obj: cannot write")
    fails_with(function() sdf.save_png("/tmp/x.png", T.zeros { 2, 2, 2 }) end, "sdf.save_png: bad argument #2 'image': expected [H,W] or [H,W,C] with C = 1, 3 or 4")
    fails_with(function() sdf.save_png("/tmp/x.png", T.zeros { 4 }) end, "sdf.save_png: bad argument #2 'image'")
    fails_with(function() sdf.save_ply("/tmp/x.ply", v, T.new { { 1, 2, 1e6 } }) end, "sdf.save_ply: bad argument #3 'faces'", "1-based vertex index")
    fails_with(function() sdf.save_ply("/tmp/x.ply", v, T.new { { 0, 1, 2 } }) end, "'faces'")
    fails_with(function() sdf.marching_cubes(s, { resolution = 1 }) end, "sdf.marching_cubes: bad argument #2 'resolution': expected an integer in [2, 1024], got 1")
    fails_with(function() sdf.marching_cubes(s, { resolution = 5000 }) end, "'resolution'")
    fails_with(function() sdf.marching_cubes(s, { bounds = { { 1, 1, 1 }, { 0, 0, 0 } } }) end, "sdf.marching_cubes: bad argument #2 'bounds'")
    fails_with(function() sdf.marching_cubes(s, { bounds = { 1, 2 } }) end, "'bounds'")
    fails_with(function() sdf.marching_cubes(s, { resolutoin = 8 }) end, "unknown option 'resolutoin' to sdf.marching_cubes (did you mean 'resolution'?)")
  end)

  it("a Lua SDF returning non-numbers, the wrong count, NaN, or raising gives a clear error", function()
    local cases = {
      { function() return "far" end, "the Lua SDF failed", "expected a tensor or table of" },
      { function(p)
        local t = {}
        for i = 1, p:shape()[1] do t[i] = 1 end
        t[2] = "x"
        return t
      end, "the Lua SDF failed", "table holding a string at [2]" },
      { function(p) return T.zeros { 3 } end, "the Lua SDF failed", "returned a tensor of 3 values" },
      { function(p) return p:sum(2) * (0 / 0) end, "the Lua SDF failed", "non-finite distance" },
      { function() error("boom") end, "the Lua SDF failed", "boom" },
      { function() error({}) end, "the Lua SDF failed", "error object is not a string" },
    }
    for _, c in ipairs(cases) do
      local f = sdf.fn(c[1])
      fails_with(function() sdf.sample(f, o, u) end, "sdf.sample: " .. c[2], c[3])
      fails_with(function() sdf.render(f, { eye = { 0, 0, 3 }, width = 3, height = 2 }) end, "sdf.render: " .. c[2])
      fails_with(function() sdf.marching_cubes(f, { resolution = 3 }) end, "sdf.marching_cubes: " .. c[2])
      fails_with(function() sdf.sphere_trace(f, o, u) end, "sdf.sphere_trace: " .. c[2])
    end
    -- still usable afterwards
    assert.same({ 2, 98 }, sdf.sample(s, o, u).t:shape())
  end)
end)

describe("sdf long calls", function()
  -- Ctrl-C: a Lua SDF sends SIGINT to this process once (io.popen: os.execute would ignore it while waiting)
  local function ctrlc_field()
    local sent = false
    return sdf.fn(function(p)
      if not sent then
        sent = true
        local h = io.popen("kill -INT $PPID")
        h:close()
      end
      return T.ones { p:shape()[1] }
    end)
  end
  local o, u = T.new { { 0, 0, -3 } }, T.new { { 0, 0, 1 } }

  it("stop on Ctrl-C with '<function>: interrupted' and stay usable", function()
    fails_with(function() sdf.sample(ctrlc_field(), o, u, { quiet = true }) end, "sdf.sample: interrupted")
    fails_with(function() sdf.render(ctrlc_field(), { eye = { 0, 0, 3 }, width = 4, height = 4 }, { quiet = true }) end,
      "sdf.render: interrupted")
    fails_with(function() sdf.marching_cubes(ctrlc_field(), { resolution = 4, quiet = true }) end,
      "sdf.marching_cubes: interrupted")
    fails_with(function() sdf.sphere_trace(ctrlc_field(), o, u) end, "sdf.sphere_trace: interrupted")
    assert.same({ 1, 98 }, sdf.sample(sdf.sphere { r = 1 }, o, u).t:shape())
  end)
end)
