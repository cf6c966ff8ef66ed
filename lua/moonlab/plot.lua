--- moonlab.plot: line, log-log, scatter, error bars and bands, bar, heatmap, contour surface and image figures
--- (PNG/SVG) through gnuplot; several panels per figure; a sweep's metric straight from the store.
--- See docs/plot.md.
local T = require "moonlab.tensor"
local opts = require "moonlab.opts"

local M = {}

local COMMON = { "file", "title", "xlabel", "ylabel", "logx", "logy", "xrange", "yrange", "size", "xtics", "key" }
local PANEL = { "title", "xlabel", "ylabel", "logx", "logy", "xrange", "yrange", "xtics", "key" }

local function list(...)
  local out = {}
  for _, l in ipairs { ... } do for _, v in ipairs(l) do out[#out + 1] = v end end
  return out
end

local function values(v, what, fname)
  if T.is_tensor(v) then
    local n = v:numel()
    local flat = v:reshape { n }
    local out = {}
    for i = 1, n do out[i] = flat:get(i) end
    return out
  end
  if type(v) ~= "table" then
    error(("%s: %s must be a tensor or a table of numbers, got %s"):format(fname, what, type(v)), 0)
  end
  return v
end

-- Text reaches gnuplot only inside single quotes (no backslash escapes, no backquote or macro substitution
-- there); a quote is doubled and control characters (newlines included) become spaces.
local function quote(s)
  return "'" .. tostring(s):gsub("[%c]", " "):gsub("'", "''") .. "'"
end
M.quote = quote

local function num(x)
  if type(x) ~= "number" or x ~= x or x == math.huge or x == -math.huge then return "NaN" end
  return ("%.17g"):format(x)
end

local function terminal(file, size, fname)
  if type(file) ~= "string" or file == "" then
    error(("%s: option 'file' must be a file name ending in .png or .svg"):format(fname), 0)
  end
  if file:find("%c") then error(("%s: file name %q contains a control character"):format(fname, file), 0) end
  local ext = file:match("%.(%w+)$")
  local w, h = (size and size[1]) or 800, (size and size[2]) or 560
  if math.type(w) ~= "integer" or math.type(h) ~= "integer" or w < 16 or h < 16 or w > 20000 or h > 20000 then
    error(("%s: option 'size' must be {width, height} in pixels (16..20000)"):format(fname), 0)
  end
  if ext == "png" then return ("set terminal pngcairo size %d,%d noenhanced"):format(w, h) end
  if ext == "svg" then return ("set terminal svg size %d,%d noenhanced"):format(w, h) end
  error(("%s: file %s must end in .png or .svg"):format(fname, file), 0)
end

--- available() -> true when gnuplot can be run.
function M.available()
  local ok = os.execute("command -v gnuplot >/dev/null 2>&1")
  return ok == true or ok == 0
end

local function run(script, file)
  local sf = os.tmpname()
  local f = assert(io.open(sf, "w"))
  f:write(script)
  f:close()
  local p = io.popen("gnuplot " .. sf .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  os.remove(sf)
  if not ok or out:find("error", 1, true) then
    error("plot: gnuplot failed writing " .. file .. ": " .. out, 0)
  end
  return file
end

local function tics(axis, labels, first)
  local parts = {}
  for i, l in ipairs(labels) do parts[i] = quote(l) .. " " .. (i - 1 + (first or 1)) end
  return ("set %stics (%s)"):format(axis, table.concat(parts, ", "))
end

local function range(r, what, fname)
  if type(r) ~= "table" or type(r[1]) ~= "number" or type(r[2]) ~= "number" then
    error(("%s: option '%s' must be {min, max}"):format(fname, what), 0)
  end
  return ("[%s:%s]"):format(num(r[1]), num(r[2]))
end

-- settings shared by every panel kind
local function axes(o, fname)
  local s = { "set grid", "set key " .. (o.key == false and "off" or "top right") }
  if o.title then s[#s + 1] = "set title " .. quote(o.title) end
  if o.xlabel then s[#s + 1] = "set xlabel " .. quote(o.xlabel) end
  if o.ylabel then s[#s + 1] = "set ylabel " .. quote(o.ylabel) end
  if o.logx then s[#s + 1] = "set logscale x" end
  if o.logy then s[#s + 1] = "set logscale y" end
  if o.xrange then s[#s + 1] = "set xrange " .. range(o.xrange, "xrange", fname) end
  if o.yrange then s[#s + 1] = "set yrange " .. range(o.yrange, "yrange", fname) end
  if o.xtics then s[#s + 1] = tics("x", o.xtics) end
  return s
end

local STYLES = { lines = "lines lw 2", points = "points pt 7 ps 0.8", linespoints = "linespoints lw 2 pt 7 ps 0.8",
  steps = "steps lw 2", impulses = "impulses lw 2" }
local SERIES = { "x", "y", "label", "style", "yerr", "band" }

-- A series' x: numbers, or strings (categories placed at 1..n with their labels as x tics).
local function xvalues(ser, k, fname, cats)
  local x = values(ser.x, "series x", fname)
  if type(x[1]) ~= "string" then return x end
  local out = {}
  for i, v in ipairs(x) do
    if not cats.index[v] then
      cats.list[#cats.list + 1] = v
      cats.index[v] = #cats.list
    end
    out[i] = cats.index[v]
  end
  assert(k)
  return out
end

-- lines panel: bands first, then markers and error bars, then lines (a fitted line stays above the data).
local function lines_body(o, fname)
  if type(o.series) ~= "table" or #o.series == 0 then error(fname .. ": 'series' must be a non-empty list", 0) end
  local s = axes(o, fname)
  local layers = { {}, {}, {} }
  local cats = { list = {}, index = {} }
  for k, ser in ipairs(o.series) do
    opts.check(fname .. " series", ser, SERIES, 4)
    local x, y = xvalues(ser, k, fname, cats), values(ser.y, "series y", fname)
    if #x ~= #y then error(("%s: series %d has %d x and %d y values"):format(fname, k, #x, #y), 0) end
    local style = ser.style or "lines"
    if not STYLES[style] then
      error(("%s: series %d: style must be lines, points, linespoints, steps or impulses, got %s"):format(fname, k,
        tostring(style)), 0)
    end
    local e = ser.yerr and values(ser.yerr, "series yerr", fname)
    if e and #e ~= #y then error(("%s: series %d has %d y and %d yerr values"):format(fname, k, #y, #e), 0) end
    local keep = {}
    for i = 1, #x do
      if not (o.logy and y[i] <= 0) and not (o.logx and x[i] <= 0) then keep[#keep + 1] = i end
    end
    local function block(cols)
      local rows = {}
      for _, i in ipairs(keep) do rows[#rows + 1] = cols(i) end
      if #rows == 0 then rows[1] = "NaN NaN NaN" end
      return table.concat(rows, "\n") .. "\ne"
    end
    local label = quote(ser.label or ("series " .. k))
    if e and ser.band then
      layers[1][#layers[1] + 1] = { ("'-' using 1:2:3 with filledcurves fs transparent solid 0.25 noborder " ..
        "lc %d notitle"):format(k), block(function(i) return num(x[i]) .. " " .. num(y[i] - e[i]) .. " " .. num(y[i] + e[i]) end) }
    elseif e then
      layers[2][#layers[2] + 1] = { ("'-' using 1:2:3 with yerrorbars pt 7 ps 0.8 lc %d title %s"):format(k, label),
        block(function(i) return num(x[i]) .. " " .. num(y[i]) .. " " .. num(e[i]) end) }
      if style ~= "points" then
        layers[3][#layers[3] + 1] = { ("'-' using 1:2 with %s lc %d notitle"):format(STYLES[style], k),
          block(function(i) return num(x[i]) .. " " .. num(y[i]) end) }
      end
      goto continue
    end
    layers[style == "points" and 2 or 3][#layers[style == "points" and 2 or 3] + 1] = {
      ("'-' using 1:2 with %s lc %d title %s"):format(STYLES[style], k, label),
      block(function(i) return num(x[i]) .. " " .. num(y[i]) end) }
    ::continue::
  end
  if #cats.list > 0 and not o.xtics then
    s[#s + 1] = tics("x", cats.list)
    s[#s + 1] = ("set xrange [0.5:%g]"):format(#cats.list + 0.5)
  end
  local parts, data = {}, {}
  for _, layer in ipairs(layers) do
    for _, p in ipairs(layer) do parts[#parts + 1] = p[1]; data[#data + 1] = p[2] end
  end
  s[#s + 1] = "plot " .. table.concat(parts, ", ")
  s[#s + 1] = table.concat(data, "\n")
  return s
end

local function bars_body(o, fname)
  local v = values(o.values, "values", fname)
  local labels = o.labels or {}
  local s = axes(o, fname)
  s[#s + 1] = "set style fill solid 0.7"
  s[#s + 1] = "set boxwidth 0.7"
  s[#s + 1] = "unset key"
  s[#s + 1] = "set yrange [*<0:0<*]" -- bars start at 0, whatever the data
  s[#s + 1] = ("set xrange [0.5:%g]"):format(#v + 0.5)
  local names = {}
  for i = 1, #v do names[i] = labels[i] or tostring(i) end
  s[#s + 1] = tics("x", names)
  local e = o.errors and values(o.errors, "errors", fname)
  local rows = {}
  for i = 1, #v do rows[i] = ("%d %s %s"):format(i, num(v[i]), e and num(e[i]) or "0") end
  s[#s + 1] = "plot '-' using 1:2 with boxes" .. (e and ", '-' using 1:2:3 with yerrorbars pt 0 lc 'black'" or "")
  s[#s + 1] = table.concat(rows, "\n") .. "\ne"
  if e then s[#s + 1] = table.concat(rows, "\n") .. "\ne" end
  return s
end

local function matrix(z, fname)
  if T.is_tensor(z) then
    if z:ndim() ~= 2 then error(fname .. ": z must be 2-D", 0) end
    z = z:totable()
  end
  if type(z) ~= "table" or type(z[1]) ~= "table" then error(fname .. ": z must be a 2-D tensor or table", 0) end
  return z
end

local function heatmap_body(o, fname)
  local z = matrix(o.z, fname)
  local s = axes(o, fname)
  s[#s + 1] = "set yrange [] reverse"
  s[#s + 1] = "set palette rgb 33,13,10"
  s[#s + 1] = "unset grid"
  if o.xlabels then s[#s + 1] = tics("x", o.xlabels, 0) end
  if o.ylabels then s[#s + 1] = tics("y", o.ylabels, 0) end
  local rows = {}
  for i = 1, #z do
    local r = {}
    for j = 1, #z[i] do r[j] = num(z[i][j]) end
    rows[i] = table.concat(r, " ")
  end
  s[#s + 1] = "plot '-' matrix with image notitle"
  s[#s + 1] = table.concat(rows, "\n") .. "\ne"
  return s
end

local block_id = 0

-- surface: a colour map of z(x, y) with contour lines and paths (e.g. optimiser or saddle-search tracks) on top.
local function surface_body(o, fname)
  local xr, yr = o.x or { 0, 1 }, o.y or { 0, 1 }
  range(xr, "x", fname); range(yr, "y", fname)
  local z
  if type(o.f) == "function" then
    local n = o.n or 60
    if math.type(n) ~= "integer" or n < 2 or n > 2000 then error(fname .. ": option 'n' must be an integer in 2..2000", 0) end
    z = {}
    for i = 1, n do
      z[i] = {}
      local y = yr[1] + (yr[2] - yr[1]) * (i - 1) / (n - 1)
      for j = 1, n do z[i][j] = o.f(xr[1] + (xr[2] - xr[1]) * (j - 1) / (n - 1), y) end
    end
  elseif o.z ~= nil then
    z = matrix(o.z, fname)
  else
    error(fname .. ": give 'f' (a function of x, y) or 'z' (a 2-D tensor, row i at y_i)", 0)
  end
  local ny, nx = #z, #z[1]
  block_id = block_id + 1
  local Z, C = "$Z" .. block_id, "$C" .. block_id
  local s = { Z .. " << EOD" }
  for i = 1, ny do
    local y = yr[1] + (yr[2] - yr[1]) * (i - 1) / math.max(ny - 1, 1)
    for j = 1, nx do
      s[#s + 1] = num(xr[1] + (xr[2] - xr[1]) * (j - 1) / math.max(nx - 1, 1)) .. " " .. num(y) .. " " .. num(z[i][j])
    end
    s[#s + 1] = ""
  end
  s[#s + 1] = "EOD"
  local levels = o.levels or 10
  if math.type(levels) ~= "integer" or levels < 1 or levels > 200 then
    error(fname .. ": option 'levels' must be an integer in 1..200", 0)
  end
  for _, c in ipairs { "set contour base", "unset surface", ("set cntrparam levels auto %d"):format(levels),
    "set table " .. C, "splot " .. Z .. " using 1:2:3 with lines notitle", "unset table", "unset contour",
    "set surface" } do s[#s + 1] = c end
  for _, c in ipairs(axes(o, fname)) do s[#s + 1] = c end
  s[#s + 1] = "unset grid"
  s[#s + 1] = ("set xrange [%s:%s]"):format(num(xr[1]), num(xr[2]))
  s[#s + 1] = ("set yrange [%s:%s]"):format(num(yr[1]), num(yr[2]))
  s[#s + 1] = "set palette rgb 33,13,10"
  local parts = { Z .. " using 1:2:3 with image notitle", C .. " using 1:2 with lines lc 'black' lw 0.7 notitle" }
  local data = {}
  for k, p in ipairs(o.paths or {}) do
    opts.check(fname .. " path", p, { "x", "y", "label" }, 4)
    local x, y = values(p.x, "path x", fname), values(p.y, "path y", fname)
    if #x ~= #y then error(("%s: path %d has %d x and %d y values"):format(fname, k, #x, #y), 0) end
    parts[#parts + 1] = ("'-' using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc %d title %s"):format(k + 1,
      quote(p.label or ("path " .. k)))
    local rows = {}
    for i = 1, #x do rows[i] = num(x[i]) .. " " .. num(y[i]) end
    data[#data + 1] = table.concat(rows, "\n") .. "\ne"
  end
  s[#s + 1] = "plot " .. table.concat(parts, ", ")
  if #data > 0 then s[#s + 1] = table.concat(data, "\n") end
  return s
end

-- image: a tensor [H, W] (grey, scaled to its range unless `range` is given) or [H, W, 3] (RGB in [0, 1]).
local function image_body(o, fname)
  local img = o.image
  if not T.is_tensor(img) or (img:ndim() ~= 2 and not (img:ndim() == 3 and img:shape()[3] == 3)) then
    error(fname .. ": option 'image' must be a tensor [H,W] or [H,W,3]", 0)
  end
  local sh = img:shape()
  local h, w = sh[1], sh[2]
  local s = axes(o, fname)
  s[#s + 1] = "unset grid"
  s[#s + 1] = "unset key"
  s[#s + 1] = "set size ratio -1"
  s[#s + 1] = ("set xrange [-0.5:%g]"):format(w - 0.5)
  s[#s + 1] = ("set yrange [%g:-0.5]"):format(h - 0.5)
  local flat = img:reshape { img:numel() }
  local rows = {}
  if #sh == 3 then
    for i = 0, h - 1 do
      for j = 0, w - 1 do
        local b = (i * w + j) * 3
        local function c(k) return math.floor(math.max(0, math.min(1, flat:get(b + k)) * 255 + 0.5)) end
        rows[#rows + 1] = ("%d %d %d %d %d"):format(j, i, c(1), c(2), c(3))
      end
    end
    s[#s + 1] = "plot '-' using 1:2:3:4:5 with rgbimage"
  else
    s[#s + 1] = "set palette gray"
    if o.range then s[#s + 1] = "set cbrange " .. range(o.range, "range", fname) end
    for i = 0, h - 1 do
      for j = 0, w - 1 do rows[#rows + 1] = ("%d %d %s"):format(j, i, num(flat:get(i * w + j + 1))) end
    end
    s[#s + 1] = "plot '-' using 1:2:3 with image"
  end
  s[#s + 1] = table.concat(rows, "\n") .. "\ne"
  return s
end

local KINDS = {
  lines = { body = lines_body, opts = list(PANEL, { "series" }) },
  bars = { body = bars_body, opts = list(PANEL, { "values", "labels", "errors" }) },
  heatmap = { body = heatmap_body, opts = list(PANEL, { "z", "xlabels", "ylabels" }) },
  surface = { body = surface_body, opts = list(PANEL, { "f", "z", "x", "y", "n", "levels", "paths" }) },
  image = { body = image_body, opts = list(PANEL, { "image", "range" }) },
}

-- Raises fname's error unless o is a table with a 'file' (level as for error, counted from the caller).
local function need_file(fname, o, level)
  if type(o) ~= "table" or type(o.file) ~= "string" then
    error(fname .. ": expected a table with a 'file' (.png or .svg)", level + 1)
  end
end

-- Draws o.file at size: the terminal and output lines, then the commands body(s) appends to the list s, then
-- gnuplot. Errors raised on the way keep their message. -> file, script
local function draw(fname, o, size, body)
  local ok, res = pcall(function()
    local s = { terminal(o.file, size, fname), "set output " .. quote(o.file) }
    body(s)
    s[#s + 1] = "unset output"
    local script = table.concat(s, "\n") .. "\n"
    return { run(script, o.file), script }
  end)
  if not ok then error(res, 0) end
  return res[1], res[2]
end

local function figure(kind, fname, o, extra)
  need_file(fname, o, 3)
  opts.check(fname, o, list(KINDS[kind].opts, { "file", "size" }, extra or {}), 3)
  return draw(fname, o, o.size, function(s)
    for _, c in ipairs(KINDS[kind].body(o, fname)) do s[#s + 1] = c end
  end)
end

--- lines{file=, title=, xlabel=, ylabel=, logx=, logy=, xrange=, yrange=, xtics={labels}, key=true, size={w,h},
---        series={{x=, y=, label=, style="lines"|"points"|"linespoints"|"steps"|"impulses", yerr=, band=}}}
---        -> file, script
function M.lines(o) return figure("lines", "plot.lines", o) end

--- loglog{...}: lines with both axes logarithmic.
function M.loglog(o)
  if type(o) == "table" then o.logx, o.logy = true, true end
  return figure("lines", "plot.loglog", o)
end

--- scatter{...}: lines whose series default to points.
function M.scatter(o)
  if type(o) == "table" then for _, ser in ipairs(o.series or {}) do ser.style = ser.style or "points" end end
  return figure("lines", "plot.scatter", o)
end

--- bars{file=, title=, labels={...}, values={...}, errors={...}, ylabel=} -> file, script (bars start at 0)
function M.bars(o) return figure("bars", "plot.bars", o) end

--- heatmap{file=, z=2-D tensor or nested table, xlabels=, ylabels=, title=, xlabel=, ylabel=} -> file, script
--- (row 1 at the top; xlabels/ylabels name the columns/rows, e.g. heads)
function M.heatmap(o) return figure("heatmap", "plot.heatmap", o) end

--- surface{file=, f=function(x, y) | z=2-D tensor, x={a, b}, y={a, b}, n=60, levels=10,
---          paths={{x=, y=, label=}}, title=, ...} -> file, script: colour map, contour lines and paths on top.
function M.surface(o) return figure("surface", "plot.surface", o) end

--- image{file=, image=tensor [H,W] or [H,W,3] (RGB in [0,1]), range={lo, hi} (grey), title=} -> file, script
function M.image(o) return figure("image", "plot.image", o) end

--- grid{file=, rows=, cols=, size=, title=, panels={{kind="lines"|"bars"|"heatmap"|"surface"|"image", ...}}}
--- -> file, script: several panels in one figure (row by row).
function M.grid(o)
  need_file("plot.grid", o, 2)
  opts.check("plot.grid", o, { "file", "size", "title", "rows", "cols", "panels" }, 2)
  if type(o.panels) ~= "table" or #o.panels == 0 then error("plot.grid: 'panels' must be a non-empty list", 2) end
  local n = #o.panels
  local cols = o.cols or math.ceil(math.sqrt(n))
  local rows = o.rows or math.ceil(n / cols)
  if math.type(rows) ~= "integer" or math.type(cols) ~= "integer" or rows < 1 or cols < 1 or rows * cols < n then
    error(("plot.grid: %d panels do not fit in rows = %s, cols = %s"):format(n, tostring(rows), tostring(cols)), 2)
  end
  return draw("plot.grid", o, o.size or { 480 * cols, 360 * rows }, function(s)
    s[#s + 1] = ("set multiplot layout %d,%d%s"):format(rows, cols, o.title and (" title " .. quote(o.title)) or "")
    for i, p in ipairs(o.panels) do
      local kind = p.kind
      local fname = ("plot.grid panel %d"):format(i)
      if not KINDS[kind] then
        error(("%s: kind must be lines, bars, heatmap, surface or image, got %s"):format(fname, tostring(kind)), 0)
      end
      local q = {}
      for k, v in pairs(p) do if k ~= "kind" then q[k] = v end end
      opts.check(fname, q, KINDS[kind].opts, 5)
      s[#s + 1] = "reset"
      for _, c in ipairs(KINDS[kind].body(q, fname)) do s[#s + 1] = c end
    end
    s[#s + 1] = "unset multiplot"
  end)
end

--- from_store(store | path, {name=, x=, y=, by=, file=, band=false, title=, xlabel=, ylabel=, logx=, logy=, size=})
--- -> file, script: the mean of metric y over the runs (status "ok") at each x, one series per value of `by`
--- (a key or a list of keys), with ± 1 sample sd as error bars (or a band). String x values become categories.
function M.from_store(S, o)
  if type(S) ~= "string" and not (type(S) == "table" and type(S.summary) == "function") then
    error(("plot.from_store: bad argument #1 'store': expected a store or its path, got %s"):format(type(S)), 2)
  end
  if type(o) ~= "table" then
    error(("plot.from_store: bad argument #2 'opts': expected an options table, got %s"):format(type(o)), 2)
  end
  opts.check("plot.from_store", o, { "name", "x", "y", "by", "file", "band", "title", "xlabel", "ylabel", "logx",
    "logy", "size", "key" }, 2)
  opts.need("plot.from_store", o, "x", "string")
  opts.need("plot.from_store", o, "y", "string")
  opts.need("plot.from_store", o, "file", "string")
  local own = false
  if type(S) == "string" then
    S = require("moonlab.store").open(S, { readonly = true })
    own = true
  end
  local by = o.by or {}
  if type(by) == "string" then by = { by } end
  local keys = { o.x }
  for _, k in ipairs(by) do keys[#keys + 1] = k end
  local groups = S:summary(o.name, { by = keys, metric = o.y })
  if own then S:close() end
  if #groups == 0 then
    error(("plot.from_store: no finished runs with a numeric '%s'%s"):format(o.y,
      o.name and (" in sweep '" .. o.name .. "'") or ""), 2)
  end
  local series, order = {}, {}
  for _, g in ipairs(groups) do
    local lab = {}
    for _, k in ipairs(by) do lab[#lab + 1] = k .. "=" .. tostring(g.by[k]) end
    local name = #lab > 0 and table.concat(lab, ", ") or o.y
    local ser = series[name]
    if not ser then
      ser = { x = {}, y = {}, yerr = {}, label = name, style = "linespoints", band = o.band or nil }
      series[name] = ser
      order[#order + 1] = ser
    end
    ser.x[#ser.x + 1] = g.by[o.x]
    ser.y[#ser.y + 1] = g.mean
    ser.yerr[#ser.yerr + 1] = g.sd
  end
  return M.lines { file = o.file, series = order, title = o.title, xlabel = o.xlabel or o.x, ylabel = o.ylabel or
    (o.y .. " (mean ± sd)"), logx = o.logx, logy = o.logy, size = o.size, key = o.key }
end

--- csv(path, columns, names): writes columns (tables or tensors of equal length) as CSV.
function M.csv(path, columns, names)
  if type(path) ~= "string" then error(("plot.csv: bad argument #1 'path': expected a file name, got %s"):format(type(path)), 2) end
  if type(columns) ~= "table" or #columns == 0 then
    error(("plot.csv: bad argument #2 'columns': expected a non-empty list of columns, got %s"):format(type(columns)), 2)
  end
  if names ~= nil and type(names) ~= "table" then
    error(("plot.csv: bad argument #3 'names': expected a list of strings or nil, got %s"):format(type(names)), 2)
  end
  local cols = {}
  for i, c in ipairs(columns) do cols[i] = values(c, "column", "plot.csv") end
  local f = assert(io.open(path, "w"))
  if names then f:write(table.concat(names, ","), "\n") end
  for r = 1, #cols[1] do
    local row = {}
    for i = 1, #cols do row[i] = ("%.17g"):format(cols[i][r]) end
    f:write(table.concat(row, ","), "\n")
  end
  f:close()
  return path
end

local public = require("moonlab.store")._public
for _, k in ipairs { "lines", "loglog", "scatter", "bars", "heatmap", "surface", "image", "grid", "from_store", "csv" } do
  M[k] = public(M[k])
end

return M
