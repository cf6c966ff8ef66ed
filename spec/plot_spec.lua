local plot = require "moonlab.plot"
local T = require "moonlab.tensor"

local function png_size(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  assert.equal("\137PNG\r\n\26\n", s:sub(1, 8))
  local w, h = string.unpack(">I4I4", s, 17)
  return w, h
end

describe("moonlab.plot", function()
  if not plot.available() then
    it("needs gnuplot", function() pending("gnuplot not installed: plot specs skipped") end)
    return
  end

  it("writes line, log-log, bar and heatmap PNGs of the requested size, and SVG", function()
    local x = T.linspace(0.1, 10, 50)
    local f = os.tmpname() .. ".png"
    plot.lines { file = f, size = { 640, 480 }, title = "t", series = { { x = x, y = (-x):exp(), label = "e" }, { x = { 1, 2 }, y = { 0.5, 0.2 }, style = "points" } } }
    assert.same({ 640, 480 }, { png_size(f) })
    plot.loglog { file = f, series = { { x = x, y = x * x } } }
    assert.same({ 800, 560 }, { png_size(f) })
    plot.bars { file = f, values = { 3, 1, 2 }, labels = { "a", "b", "c" } }
    png_size(f)
    plot.heatmap { file = f, z = T.randn({ 8, 12 }, { seed = 1 }) }
    png_size(f)
    os.remove(f)
    local g = os.tmpname() .. ".svg"
    plot.scatter { file = g, series = { { x = { 1, 2, 3 }, y = { 3, 1, 2 } } } }
    local h = assert(io.open(g))
    assert.matches("<svg", h:read("a"))
    h:close()
    os.remove(g)
  end)

  it("writes CSV columns", function()
    local f = os.tmpname()
    plot.csv(f, { { 1, 2 }, T.new { 0.5, 0.25 } }, { "x", "y" })
    local h = assert(io.open(f))
    assert.equal("x,y\n1,0.5\n2,0.25\n", h:read("a"))
    h:close()
    os.remove(f)
  end)

  it("rejects bad input with clear errors", function()
    assert.has_error(function() plot.lines { file = "x.jpg", series = { { x = { 1 }, y = { 1 } } } } end,
      "plot: file x.jpg must end in .png or .svg")
    assert.has_error(function() plot.lines { file = "/tmp/x.png", series = { { x = { 1, 2 }, y = { 1 } } } } end,
      "plot.lines: series 1 has 2 x and 1 y values")
    assert.has_error(function() plot.lines { file = "/tmp/x.png" } end, "plot.lines: 'series' must be a non-empty list")
    assert.has_error(function() plot.lines {} end, "plot: expected a table with a 'file' (.png or .svg)")
  end)
end)
