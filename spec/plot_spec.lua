local plot = require "moonlab.plot"
local T = require "moonlab.tensor"

-- a fresh temporary path with the given extension (the placeholder os.tmpname creates is removed)
local function tmp(ext)
  local base = os.tmpname()
  os.remove(base)
  return base .. ext
end

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
    local f = tmp(".png")
    plot.lines { file = f, size = { 640, 480 }, title = "t", series = { { x = x, y = (-x):exp(), label = "e" }, { x = { 1, 2 }, y = { 0.5, 0.2 }, style = "points" } } }
    assert.same({ 640, 480 }, { png_size(f) })
    plot.loglog { file = f, series = { { x = x, y = x * x } } }
    assert.same({ 800, 560 }, { png_size(f) })
    plot.bars { file = f, values = { 3, 1, 2 }, labels = { "a", "b", "c" } }
    png_size(f)
    plot.heatmap { file = f, z = T.randn({ 8, 12 }, { seed = 1 }) }
    png_size(f)
    os.remove(f)
    local g = tmp(".svg")
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
      "plot.lines: file x.jpg must end in .png or .svg")
    assert.has_error(function() plot.lines { file = "/tmp/x.png", series = { { x = { 1, 2 }, y = { 1 } } } } end,
      "plot.lines: series 1 has 2 x and 1 y values")
    assert.has_error(function() plot.lines { file = "/tmp/x.png" } end, "plot.lines: 'series' must be a non-empty list")
    assert.has_error(function() plot.lines {} end, "plot.lines: expected a table with a 'file' (.png or .svg)")
  end)

  local function script_of(f, ...) return select(2, f(...)) end

  it("passes titles and file names to gnuplot safely (quotes, newlines, system(), backquotes)", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(require("moonlab.core").proc.mkdir(dir))
    local marker = dir .. "/pwned"
    local evil = "it's \"q\"\n`touch " .. marker .. "` system('touch " .. marker .. "') @x \\"
    local file = dir .. "/a 'b\" `c`.png"
    plot.lines { file = file, title = evil, xlabel = evil, ylabel = evil,
      series = { { x = { 1, 2 }, y = { 1, 2 }, label = evil } } }
    png_size(file)
    plot.bars { file = file, title = evil, values = { 1, 2 }, labels = { evil, "b" } }
    plot.grid { file = file, title = evil, panels = { { kind = "lines", title = evil, series = { { x = { 1 }, y = { 1 } } } } } }
    assert.is_nil(io.open(marker))
    assert.has_error(function() plot.lines { file = dir .. "/x\nset output 'y'.png", series = { { x = { 1 }, y = { 1 } } } } end)
    local ok, err = pcall(plot.lines, { file = dir .. "/x\n.png", series = { { x = { 1 }, y = { 1 } } } })
    assert.matches("plot.lines: file name .* contains a control character", err)
    assert.has_error(function() plot.lines { file = file, series = { { x = { 1 }, y = { 1 }, style = "lines; system('touch " .. marker .. "')" } } } end)
    assert.is_nil(io.open(marker))
    assert.equal("'it''s \"q\" x'", plot.quote("it's \"q\"\nx"))
    os.remove(file)
    os.remove(dir)
  end)

  it("starts bars at 0, labels categories, draws fitted lines above markers", function()
    local f = tmp(".svg")
    local _, s = plot.bars { file = f, values = { 3, 1, 2 }, labels = { "head 1", "head 2", "head 3" } }
    assert.matches("set yrange [*<0:0<*]", s, 1, true)
    assert.matches("set xtics ('head 1' 1, 'head 2' 2, 'head 3' 3)", s, 1, true)
    local h = assert(io.open(f)); local svg = h:read("a"); h:close()
    assert.matches(">head 2<", svg, 1, true)
    assert.matches("<text> 0</text>", svg, 1, true) -- the axis reaches 0 although the smallest bar is 1
    -- categorical x in lines
    _, s = plot.lines { file = f, series = { { x = { "He", "N2", "CO2" }, y = { 1, 2, 3 } } } }
    assert.matches("set xtics ('He' 1, 'N2' 2, 'CO2' 3)", s, 1, true)
    -- the fitted line is given first but drawn after the markers and error bars
    _, s = plot.lines { file = f, series = { { x = { 0, 1 }, y = { 0, 1 }, label = "fit" },
      { x = { 0, 1 }, y = { 0.1, 0.9 }, yerr = { 0.1, 0.1 }, style = "points", label = "data" } } }
    local pdata, pfit = s:find("title 'data'", 1, true), s:find("title 'fit'", 1, true)
    assert.is_true(pdata < pfit)
    assert.matches("with yerrorbars", s, 1, true)
    -- a band (mean ± sd) is drawn first, under its line
    _, s = plot.lines { file = f, series = { { x = { 1, 2 }, y = { 1, 2 }, yerr = { 0.5, 0.5 }, band = true } } }
    assert.is_true(s:find("filledcurves", 1, true) < s:find("title 'series 1'", 1, true))
    assert.matches("1 0.5 1.5\n2 1.5 2.5", s, 1, true)
    os.remove(f)
  end)

  it("draws several panels, contour surfaces with paths, images and heatmaps with labels", function()
    local f = tmp(".png")
    local _, s = plot.grid { file = f, rows = 2, cols = 2, size = { 900, 700 }, panels = {
      { kind = "lines", series = { { x = { 1, 2 }, y = { 2, 1 } } } },
      { kind = "surface", f = function(x, y) return x * x + y * y end, x = { -1, 1 }, y = { -1, 1 }, n = 21, levels = 5,
        paths = { { x = { -1, 0 }, y = { -1, 0 }, label = "descent" } } },
      { kind = "image", image = T.rand({ 6, 8, 3 }, { seed = 1 }) },
      { kind = "heatmap", z = T.randn({ 2, 3 }, { seed = 3 }), xlabels = { "a", "b", "c" }, ylabels = { "h1", "h2" } } } }
    assert.same({ 900, 700 }, { png_size(f) })
    assert.matches("set multiplot layout 2,2", s, 1, true)
    assert.matches("set xtics ('a' 0, 'b' 1, 'c' 2)", s, 1, true)
    -- the surface's grid: z = x^2 + y^2 at the corners and the centre
    assert.matches("\n%-1 %-1 2\n", s)
    assert.matches("\n0 0 0\n", s)
    assert.matches("title 'descent'", s, 1, true)
    -- RGB image pixels scaled to 0..255
    local img = T.new { { { 0, 0.5, 1 } } }
    _, s = plot.image { file = f, image = img }
    assert.matches("0 0 0 128 255", s, 1, true)
    png_size(f)
    _, s = plot.surface { file = f, z = T.new { { 0, 1 }, { 2, 3 } }, x = { 0, 1 }, y = { 10, 20 } }
    assert.matches("1 10 1\n\n0 20 2\n1 20 3", s, 1, true)
    assert.has_error(function() plot.grid { file = f, rows = 1, cols = 1, panels = { { kind = "lines" }, { kind = "bars" } } } end,
      "plot.grid: 2 panels do not fit in rows = 1, cols = 1")
    assert.has_error(function() plot.grid { file = f, panels = { { kind = "pie" } } } end,
      "plot.grid panel 1: kind must be lines, bars, heatmap, surface or image, got pie")
    assert.has_error(function() plot.image { file = f, image = T.zeros { 2, 2, 2 } } end,
      "plot.image: option 'image' must be a tensor [H,W] or [H,W,3]")
    assert.has_error(function() plot.surface { file = f } end,
      "plot.surface: give 'f' (a function of x, y) or 'z' (a 2-D tensor, row i at y_i)")
    os.remove(f)
  end)

  it("plots a sweep's metric from the store: mean ± sd per x, one series per group", function()
    local sweep = require "moonlab.sweep"
    local db = tmp(".db")
    sweep.run { name = "p", params = { grid = { n = { 1, 2, 3 }, m = { "a", "b" } } }, repeats = 3, store = db, quiet = true,
      workers = 1, fn = function(c, ctx) return { err = c.n * (c.m == "a" and 1 or 10) + ctx.rep } end }
    local f = tmp(".png")
    local _, s = plot.from_store(db, { name = "p", x = "n", y = "err", by = "m", file = f })
    png_size(f)
    -- m = a, n = 2: values 3, 4, 5 -> mean 4, sd 1; m = b, n = 3: 31, 32, 33 -> mean 32, sd 1
    assert.matches("title 'm=a'", s, 1, true)
    assert.matches("2 4 1\n", s, 1, true)
    assert.matches("3 32 1\n", s, 1, true)
    assert.has_error(function() plot.from_store(db, { name = "p", x = "n", y = "nope", file = f }) end,
      "plot.from_store: no finished runs with a numeric 'nope' in sweep 'p'")
    assert.has_error(function() plot.from_store(db, { name = "p", x = "n", file = f }) end,
      "plot.from_store: missing required option 'y'")
    for _, x in ipairs { "", "-wal", "-shm" } do os.remove(db .. x) end
    os.remove(f)
  end)

  it("checks option tables", function()
    assert.has_error(function() plot.lines { file = "/tmp/x.png", xlable = "t", series = { { x = { 1 }, y = { 1 } } } } end,
      "unknown option 'xlable' to plot.lines (did you mean 'xlabel'?)")
    assert.has_error(function() plot.lines { file = "/tmp/x.png", series = { { x = { 1 }, y = { 1 }, lable = "a" } } } end,
      "unknown option 'lable' to plot.lines series (did you mean 'label'?)")
    assert.has_error(function() plot.bars { file = "/tmp/x.png", value = { 1 } } end,
      "unknown option 'value' to plot.bars (did you mean 'values'?)")
  end)
end)
