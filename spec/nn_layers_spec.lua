-- Each layer of moonlab.nn on its own: backward against central finite differences in f64, through the
-- single-layer hooks core._nn_layer (csrc/lua/lnn_layers.c). Objective: sum(c ⊙ layer(inputs)).
local T = require "moonlab.tensor"
local core = require "moonlab.core"
local layer = core._nn_layer

local function rnd(shape, seed, std) return T.randn(shape, { seed = seed, dtype = "f64", std = std or 1 }) end

local function dot(a, b) return a:mul(b):sum() end

-- Max |FD − analytic| over every element of x (a tensor read through a flat view), with f(x) the objective.
local function fd_check(x, analytic, f)
  local fx, ga = x:view { x:numel() }, analytic:view { analytic:numel() }
  local h, worst, gmax = 1e-6, 0, 0
  for i = 1, fx:numel() do
    local x0 = fx[i]
    fx[i] = x0 + h
    local fp = f()
    fx[i] = x0 - h
    local fm = f()
    fx[i] = x0
    worst = math.max(worst, math.abs((fp - fm) / (2 * h) - ga[i]))
    gmax = math.max(gmax, math.abs(ga[i]))
  end
  assert.is_true(gmax > 1e-3, "gradient is zero")
  assert.is_true(worst < 1e-7 * math.max(1, gmax), ("max |fd - analytic| = %g"):format(worst))
end

describe("nn layers: backward vs central finite differences (f64)", function()
  it("RMSNorm (x and w)", function()
    local x, w, c = rnd({ 5, 6 }, 1), rnd({ 6 }, 2), rnd({ 5, 6 }, 3)
    local _, dx, dw = layer("rmsnorm", x, w, c)
    local function f() return dot((layer("rmsnorm", x, w, c)), c) end
    fd_check(x, dx, f)
    fd_check(w, dw, f)
  end)

  it("RoPE (the backward is the inverse rotation)", function()
    local x, c = rnd({ 3, 7, 8 }, 4), rnd({ 3, 7, 8 }, 5)
    local dx = layer("rope", c, -1)
    fd_check(x, dx, function() return dot(layer("rope", x, 1), c) end)
    -- and the rotation keeps norms (an orthogonal map)
    assert.near(x:pow(2):sum(), layer("rope", x, 1):pow(2):sum(), 1e-10)
  end)

  it("SwiGLU (u and g)", function()
    local u, g, c = rnd({ 4, 6 }, 6, 2), rnd({ 4, 6 }, 7), rnd({ 4, 6 }, 8)
    local _, du, dg = layer("swiglu", u, g, c)
    local function f() return dot((layer("swiglu", u, g, c)), c) end
    fd_check(u, du, f)
    fd_check(g, dg, f)
  end)

  it("cross-entropy", function()
    local z, y = rnd({ 4, 9 }, 9, 2), T.new({ 0, 8, 3, 3 }, "i64")
    local _, dz = layer("xent", z, y)
    fd_check(z, dz, function() return (layer("xent", z, y)) end)
  end)

  it("embedding (repeated tokens add up)", function()
    local tok, wte, c = T.new({ 2, 0, 2, 4, 2 }, "i64"), rnd({ 5, 3 }, 10), rnd({ 5, 3 }, 11)
    local _, dw = layer("embed", tok, wte, c)
    fd_check(wte, dw, function() return dot((layer("embed", tok, wte, c)), c) end)
  end)
end)
