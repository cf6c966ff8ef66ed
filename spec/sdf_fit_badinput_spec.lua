-- Bad input to the grid SDF, sdf.render_rays and sdf.fit_views: clear errors naming the function and argument.
local T = require "moonlab.tensor"
local sdf = require "moonlab.sdf"

local fails_with = require("spec.helpers.errors").fails_with

describe("sdf reconstruction bad input", function()
  local B = { { -1, -1, -1 }, { 1, 1, 1 } }
  local cam = { eye = { 0, 0, 3 }, width = 4, height = 3, fov = 40 }
  local img = T.full({ 3, 4, 3 }, 0.5)
  local quick = { res = 4, bounds = B, iters = 2, batch = 8, quiet = true, n_eval = 8, n_final = 4, n_extra = 2 }

  it("sanity: the good calls work", function()
    local g, r = sdf.fit_views({ img, img }, { cam, cam }, quick)
    assert.equal(2, r.iterations)
    assert.same({ 4, 4, 4 }, sdf.grid_info(g).values:shape())
  end)

  it("sdf.grid: res out of range, bad bounds, wrong shapes, non-finite values", function()
    fails_with(function() sdf.grid { res = 1 } end, "sdf.grid: bad argument 'res': expected an integer in [2, 128], got 1")
    fails_with(function() sdf.grid { res = 129 } end, "sdf.grid: bad argument 'res'", "129")
    fails_with(function() sdf.grid { res = 4.5 } end, "sdf.grid: bad argument 'res'")
    fails_with(function() sdf.grid { res = 4, bounds = { { 0, 0, 0 }, { 0, 1, 1 } } } end, "sdf.grid: bad argument 'bounds'")
    fails_with(function() sdf.grid { res = 4, values = T.zeros { 3, 3, 3 } } end, "sdf.grid: bad argument", "'values'",
      "expected 64 values")
    fails_with(function() sdf.grid { res = 2, values = T.new { 0, 0, 0, 0, 0, 0, 0, 0 / 0 } } end,
      "sdf.grid: bad argument", "'values'", "not finite")
    fails_with(function() sdf.grid { res = 2, colors = T.zeros { 2, 2, 2 } } end, "sdf.grid: bad argument", "'colors'")
    fails_with(function() sdf.grid { res = 2, value = 1 } end, "unknown option 'value' to sdf.grid (did you mean 'values'?)")
    fails_with(function() sdf.grid_info(sdf.sphere {}) end, "sdf.grid_info: bad argument #1 'grid'")
  end)

  it("sdf.render_rays: mismatched rays and depths, unsorted depths, beta <= 0", function()
    local g = sdf.grid { res = 3, bounds = B }
    local o, u = T.new { { 0, 0, -3 } }, T.new { { 0, 0, 1 } }
    local t = T.new { { 1, 2, 3 } }
    fails_with(function() sdf.render_rays(g, o, T.new { { 0, 0, 1 }, { 0, 1, 0 } }, t) end, "sdf.render_rays: bad argument",
      "'dirs'")
    fails_with(function() sdf.render_rays(g, o, u, T.new { { 3, 2, 1 } }) end, "sdf.render_rays: bad argument", "'t'", "sorted")
    fails_with(function() sdf.render_rays(g, o, u, T.new { { 1, 2 }, { 1, 2 } }) end, "sdf.render_rays: bad argument", "'t'")
    fails_with(function() sdf.render_rays(g, o, u, t, { beta = 0 }) end, "sdf.render_rays: option 'beta' must be a finite number > 0")
    fails_with(function() sdf.render_rays(g, o, u, t, {}, T.zeros { 2, 3 }) end, "sdf.render_rays: bad argument", "'grad_rgb'")
    fails_with(function() sdf.render_rays(sdf.sphere {}, o, u, t) end, "sdf.render_rays: bad argument #1 'grid'")
  end)

  it("sdf.fit_views: mismatched counts and sizes, non-finite pixels, learning rates <= 0, res out of range", function()
    fails_with(function() sdf.fit_views({ img, img }, { cam }, quick) end, "sdf.fit_views: bad argument #2 'cameras'",
      "1 cameras for 2 images")
    fails_with(function() sdf.fit_views({ img, T.zeros { 4, 4, 3 } }, { cam, cam }, quick) end,
      "sdf.fit_views: bad argument #1 'images'", "image 2")
    fails_with(function() sdf.fit_views({ T.zeros { 4, 4, 3 } }, { cam }, quick) end, "sdf.fit_views: bad argument", "'cameras'",
      "camera 1 is 4x3 but the images are 4x4")
    fails_with(function() sdf.fit_views(T.zeros { 1, 3, 4 }, { cam }, quick) end, "sdf.fit_views: bad argument #1 'images'",
      "expected [V,H,W,3]")
    local bad = img:clone()
    bad[{ 2, 2, 2 }] = 0 / 0
    fails_with(function() sdf.fit_views({ img, bad }, { cam, cam }, quick) end, "sdf.fit_views: bad argument", "'images'",
      "not finite")
    bad = img:clone()
    bad[{ 1, 1, 1 }] = math.huge
    fails_with(function() sdf.fit_views({ bad }, { cam }, quick) end, "sdf.fit_views", "'images'", "not finite")
    for _, k in ipairs { "lr", "lr_color", "lr_beta" } do
      for _, v in ipairs { 0, -0.1 } do
        local o = {}
        for kk, vv in pairs(quick) do o[kk] = vv end
        o[k] = v
        fails_with(function() sdf.fit_views({ img }, { cam }, o) end, ("sdf.fit_views: option '%s' must be a finite number > 0"):format(k))
      end
    end
    local o = {}
    for kk, vv in pairs(quick) do o[kk] = vv end
    o.res = 200
    fails_with(function() sdf.fit_views({ img }, { cam }, o) end, "sdf.fit_views: bad argument 'res': expected an integer in [2, 128]")
    o.res = 1
    fails_with(function() sdf.fit_views({ img }, { cam }, o) end, "sdf.fit_views: bad argument 'res'")
    fails_with(function() sdf.fit_views({ img }, { cam }, { iter = 3 }) end, "unknown option 'iter' to sdf.fit_views (did you mean 'iters'?)")
    fails_with(function() sdf.fit_views({ img }, { cam }, { lambda_eikonal = -1, quiet = true }) end, "sdf.fit_views", "lambda_eikonal")
    fails_with(function() sdf.fit_views({ img }, { cam }, { beta = 0 }) end, "sdf.fit_views: bad argument 'beta'")
    fails_with(function() sdf.fit_views({ img }, {}, quick) end, "sdf.fit_views: bad argument #2 'cameras'")
    fails_with(function() sdf.fit_views({ img }, { { eye = { 0, 0, 0 }, width = 4, height = 3 } }, quick) end,
      "sdf.fit_views", "eye and target coincide")
    fails_with(function() sdf.fit_views({ img }, { cam }, { levels = 9, quiet = true }) end, "sdf.fit_views: option 'levels'")
  end)

  it("stops on Ctrl-C after the current step and returns what was learned", function()
    -- SIGINT to this process in 1 s (a background shell; the fit of 10^6 steps is far from done by then)
    local h = io.popen("(sleep 1; kill -INT $PPID) > /dev/null 2>&1 &")
    h:close()
    local o = {}
    for k, v in pairs(quick) do o[k] = v end
    o.iters = 1000000
    local g, r = sdf.fit_views({ img }, { cam }, o)
    assert.is_false(r.converged)
    assert.equal("interrupted", r.reason)
    assert.is_true(r.iterations > 0 and r.iterations < 1000000)
    assert.matches("interrupted after", r.warnings[1])
    assert.equal(4, sdf.grid_info(g).res)
    local g2, r2 = sdf.fit_views({ img }, { cam }, quick) -- still usable
    assert.equal(2, r2.iterations)
    assert.is_true(sdf.grid_info(g2).res == 4)
  end)
end)
