-- moonlab.sdf, reconstruction part (loaded by lua/moonlab/sdf.lua into the same module table): the grid SDF,
-- its differentiable renderer and the multi-view fit of VolSDF (Yariv et al. 2021, §3). See docs/sdf.md.
local core = require "moonlab.core"
local T = require "moonlab.tensor"
local opts = require "moonlab.opts"

return function(M, new_node)
  local DEFAULT_BOUNDS = { { -1.5, -1.5, -1.5 }, { 1.5, 1.5, 1.5 } }

  local function bounds_of(fname, b)
    b = b or DEFAULT_BOUNDS
    local ok = type(b) == "table" and type(b[1]) == "table" and type(b[2]) == "table"
    if ok then
      for a = 1, 3 do
        local lo, hi = b[1][a], b[2][a]
        ok = ok and type(lo) == "number" and type(hi) == "number" and lo < hi and lo > -math.huge and hi < math.huge
      end
    end
    if not ok then
      error(fname .. ": bad argument 'bounds': expected {{xmin,ymin,zmin},{xmax,ymax,zmax}} with min < max", 3)
    end
    return { { b[1][1], b[1][2], b[1][3] }, { b[2][1], b[2][2], b[2][3] } }
  end

  local function check_res(fname, res)
    if math.type(res) ~= "integer" or res < 2 or res > 128 then
      error(("%s: bad argument 'res': expected an integer in [2, 128], got %s"):format(fname, tostring(res)), 3)
    end
    return res
  end

  -- the node positions [res³,3] in the grid's order (x slowest, z fastest)
  local function node_points(res, b)
    local x = {}
    for a = 1, 3 do x[a] = T.linspace(b[1][a], b[2][a], res) end
    local X, Y, Z = T.meshgrid(x[1], x[2], x[3], { indexing = "ij" })
    return T.stack({ X:reshape { res ^ 3 // 1 }, Y:reshape { res ^ 3 // 1 }, Z:reshape { res ^ 3 // 1 } }, 2)
  end

  local function grid_node(ud, res, b)
    return new_node { kind = "grid", grid = ud, res = res, bounds = b, exact = false,
      desc = ("%d^3 nodes over (%g,%g,%g)..(%g,%g,%g)"):format(res, b[1][1], b[1][2], b[1][3], b[2][1], b[2][2], b[2][3]) }
  end

  --- sdf.grid{res = 32, bounds = {{-1.5,-1.5,-1.5},{1.5,1.5,1.5}}, values, colors, from} -> a grid SDF scene
  function M.grid(o)
    local fname = "sdf.grid"
    if type(o) ~= "table" then error(fname .. ": expected an options table, got " .. type(o), 2) end
    opts.check(fname, o, { "res", "bounds", "values", "colors", "from" }, 2)
    local res = check_res(fname, o.res or 32)
    local b = bounds_of(fname, o.bounds)
    local values, colors = o.values, o.colors
    if o.from ~= nil then
      if not M.is_scene(o.from) then error(fname .. ": bad argument 'from': expected an sdf scene, got " .. type(o.from), 2) end
      if values ~= nil then error(fname .. ": give either 'values' or 'from', not both", 2) end
      local P = node_points(res, b)
      values = o.from:eval(P)
      if colors == nil and o.from.kind ~= "fn" then colors = o.from:color_at(P) end
    end
    if values ~= nil and not T.is_tensor(values) then
      error(fname .. ": bad argument 'values': expected a tensor [res,res,res], got " .. type(values), 2)
    end
    if colors ~= nil and not T.is_tensor(colors) then
      error(fname .. ": bad argument 'colors': expected a tensor [res,res,res,3], got " .. type(colors), 2)
    end
    return grid_node(core.sdf_grid_new(res, b, values, colors), res, b)
  end

  local function need_grid(fname, g)
    if not (M.is_scene(g) and g.kind == "grid") then
      error(("%s: bad argument #1 'grid': expected a grid SDF (sdf.grid{...} or sdf.fit_views), got %s")
        :format(fname, M.is_scene(g) and "a " .. g.kind .. " scene" or type(g)), 3)
    end
    return g.grid
  end

  --- sdf.grid_info(grid) -> {res, bounds, values [res,res,res], colors [res,res,res,3], lipschitz}
  function M.grid_info(g)
    local v, c, res, lo, hi, lip = core.sdf_grid_info(need_grid("sdf.grid_info", g))
    return { res = res, bounds = { lo, hi }, values = v, colors = c, lipschitz = lip }
  end

  --- sdf.render_rays(grid, origins [R,3], dirs [R,3], t [R,N], opts, grad_rgb [R,3]) -> rgb [R,3][, grads]
  function M.render_rays(g, o, u, t, op, grad_rgb)
    local ud = need_grid("sdf.render_rays", g)
    if op ~= nil and type(op) ~= "table" then
      error("sdf.render_rays: bad argument #5 'opts': expected an options table, got " .. type(op), 2)
    end
    local rgb, gv, gc, gb = core.sdf_render_rays(ud, o, u, t, op, grad_rgb)
    if grad_rgb == nil then return rgb end
    return rgb, { values = gv, colors = gc, beta = gb }
  end

  local FIT_KEYS = { "iters", "batch", "lr", "lr_color", "lr_beta", "b1", "b2", "beta_min", "lambda_eikonal",
    "lambda_tv", "n_eikonal", "levels", "seed", "quiet", "method", "eps", "n_eval", "n_final", "n_extra",
    "max_iters", "beta_iters", "radius", "near", "far", "ambient", "light", "background" }
  local LUA_KEYS = { "res", "bounds", "beta", "init", "init_radius" }

  --- sdf.fit_views(images [V,H,W,3] | {[H,W,3], ...}, cameras {...}, opts) -> grid, result
  function M.fit_views(images, cameras, o)
    local fname = "sdf.fit_views"
    if o == nil then o = {} end
    if type(o) ~= "table" then error(fname .. ": bad argument #3 'opts': expected an options table, got " .. type(o), 2) end
    local all = {}
    for _, k in ipairs(FIT_KEYS) do all[#all + 1] = k end
    for _, k in ipairs(LUA_KEYS) do all[#all + 1] = k end
    opts.check(fname, o, all, 2)
    if type(cameras) ~= "table" or #cameras < 1 then
      error(fname .. ": bad argument #2 'cameras': expected a non-empty list of cameras, got " .. type(cameras), 2)
    end
    if type(images) == "table" and not T.is_tensor(images) then
      for i, im in ipairs(images) do
        if not T.is_tensor(im) then
          error(("%s: bad argument #1 'images': image %d is a %s, expected a tensor [H,W,3]"):format(fname, i, type(im)), 2)
        end
        local s = im:shape()
        if #s ~= 3 or s[3] ~= 3 or (i > 1 and (s[1] ~= images[1]:shape()[1] or s[2] ~= images[1]:shape()[2])) then
          error(("%s: bad argument #1 'images': image %d has shape [%s], expected [H,W,3] like image 1")
            :format(fname, i, table.concat(s, ",")), 2)
        end
      end
      if #images < 1 then error(fname .. ": bad argument #1 'images': expected at least one image", 2) end
      images = T.stack(images, 1)
    end
    if not T.is_tensor(images) then
      error(fname .. ": bad argument #1 'images': expected a tensor [V,H,W,3] or a list of [H,W,3], got " .. type(images), 2)
    end
    local s = images:shape()
    if #s ~= 4 or s[4] ~= 3 then
      error(("%s: bad argument #1 'images': expected [V,H,W,3], got [%s]"):format(fname, table.concat(s, ",")), 2)
    end
    if s[1] ~= #cameras then
      error(("%s: bad argument #2 'cameras': %d cameras for %d images"):format(fname, #cameras, s[1]), 2)
    end
    local res = check_res(fname, o.res or 48)
    local b = bounds_of(fname, o.bounds)
    local beta0 = o.beta or 0.1
    if type(beta0) ~= "number" or not (beta0 > 0) or beta0 == math.huge then
      error(fname .. ": bad argument 'beta': expected a finite number > 0 (the initial β), got " .. tostring(beta0), 2)
    end
    local c = { (b[1][1] + b[2][1]) / 2, (b[1][2] + b[2][2]) / 2, (b[1][3] + b[2][3]) / 2 }
    local half = 0
    for a = 1, 3 do half = half + ((b[2][a] - b[1][a]) / 2) ^ 2 end
    half = math.sqrt(half)
    local grid
    if o.init ~= nil then
      local info = M.grid_info(o.init)
      grid = core.sdf_grid_new(res, b, nil, nil)
      if info.res ~= res then error(fname .. ": bad argument 'init': its res differs from opts.res", 2) end
      grid = core.sdf_grid_new(res, b, info.values, info.colors)
    else
      local r0 = o.init_radius or 0.5 * math.min(b[2][1] - b[1][1], b[2][2] - b[1][2], b[2][3] - b[1][3]) / 2
      if type(r0) ~= "number" or not (r0 > 0) then
        error(fname .. ": bad argument 'init_radius': expected a number > 0, got " .. tostring(r0), 2)
      end
      local P = node_points(res, b) - T.new { { c[1], c[2], c[3] } }
      local v = (P * P):sum(2):sqrt() - r0
      grid = core.sdf_grid_new(res, b, v, T.full({ res, res, res, 3 }, 0.5))
    end
    -- the ray segment covering the box from every camera
    local near, far = math.huge, 0
    for i, cam in ipairs(cameras) do
      if type(cam) ~= "table" or type(cam.eye) ~= "table" then
        error(("%s: bad argument #2 'cameras': camera %d is not a camera table {eye, ...}"):format(fname, i), 2)
      end
      local d = 0
      for a = 1, 3 do d = d + ((cam.eye[a] or 0) - c[a]) ^ 2 end
      d = math.sqrt(d)
      near, far = math.min(near, math.max(0, d - half)), math.max(far, d + half)
    end
    local copt = {}
    for _, k in ipairs(FIT_KEYS) do copt[k] = o[k] end
    copt.near = o.near or near
    copt.far = o.far or far
    local loss, steps, bp, interrupted = core.sdf_fit(grid, images, cameras, beta0, copt)
    local node = grid_node(grid, res, b)
    local result = { loss = loss, beta = math.abs(bp) + (o.beta_min or 1e-4), iterations = steps, warnings = {},
      converged = not interrupted, reason = interrupted and "interrupted" or "max_iters" }
    local last = steps > 0 and loss:get(steps) or 0
    if last ~= last then
      result.converged = false
      result.reason = "diverged"
      opts.warn(result, fname, "the colour loss became NaN", o.quiet)
    end
    if interrupted then opts.warn(result, fname, ("interrupted after %d of %d steps"):format(steps, loss:numel()), o.quiet) end
    return node, result
  end
end
