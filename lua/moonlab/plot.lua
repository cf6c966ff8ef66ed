--- moonlab.plot: line, log-log, scatter, bar and heatmap figures (PNG/SVG) through gnuplot.
--- See docs/plot.md.
local T = require "moonlab.tensor"

local M = {}

local function values(v, what)
  if T.is_tensor(v) then
    local n = v:numel()
    local flat = v:reshape { n }
    local out = {}
    for i = 1, n do out[i] = flat:get(i) end
    return out
  end
  if type(v) ~= "table" then error(("plot: %s must be a tensor or a table of numbers, got %s"):format(what, type(v)), 3) end
  return v
end

local function quote(s) return '"' .. tostring(s):gsub('"', '\\"') .. '"' end

local function terminal(file, size)
  local ext = file:match("%.(%w+)$")
  local w, h = (size and size[1]) or 800, (size and size[2]) or 560
  if ext == "png" then return ("set terminal pngcairo size %d,%d noenhanced"):format(w, h) end
  if ext == "svg" then return ("set terminal svg size %d,%d noenhanced"):format(w, h) end
  error(("plot: file %s must end in .png or .svg"):format(file), 3)
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
  if not ok then error("plot: gnuplot failed writing " .. file .. ": " .. out, 3) end
  return file
end

local function header(o)
  if type(o) ~= "table" or type(o.file) ~= "string" then error("plot: expected a table with a 'file' (.png or .svg)", 3) end
  local s = { terminal(o.file, o.size), "set output " .. quote(o.file), "set grid", "set key top right" }
  if o.title then s[#s + 1] = "set title " .. quote(o.title) end
  if o.xlabel then s[#s + 1] = "set xlabel " .. quote(o.xlabel) end
  if o.ylabel then s[#s + 1] = "set ylabel " .. quote(o.ylabel) end
  if o.logx then s[#s + 1] = "set logscale x" end
  if o.logy then s[#s + 1] = "set logscale y" end
  if o.xrange then s[#s + 1] = ("set xrange [%g:%g]"):format(o.xrange[1], o.xrange[2]) end
  if o.yrange then s[#s + 1] = ("set yrange [%g:%g]"):format(o.yrange[1], o.yrange[2]) end
  return s
end

--- lines{file=, title=, xlabel=, ylabel=, logx=, logy=, xrange=, yrange=, size={w,h},
---        series={{x=, y=, label=, style="lines"|"points"|"linespoints"}}} -> file
function M.lines(o)
  local s = header(o)
  if type(o.series) ~= "table" or #o.series == 0 then error("plot.lines: 'series' must be a non-empty list", 2) end
  local data, parts = {}, {}
  for k, ser in ipairs(o.series) do
    local x, y = values(ser.x, "series x"), values(ser.y, "series y")
    if #x ~= #y then error(("plot.lines: series %d has %d x and %d y values"):format(k, #x, #y), 2) end
    local block = {}
    for i = 1, #x do
      if not (o.logy and y[i] <= 0) and not (o.logx and x[i] <= 0) then
        block[#block + 1] = ("%.17g %.17g"):format(x[i], y[i])
      end
    end
    if #block == 0 then block[1] = "NaN NaN" end
    data[#data + 1] = table.concat(block, "\n") .. "\ne"
    parts[#parts + 1] = ("'-' using 1:2 with %s title %s"):format(ser.style or "lines", quote(ser.label or ("series " .. k)))
  end
  s[#s + 1] = "plot " .. table.concat(parts, ", ")
  s[#s + 1] = table.concat(data, "\n")
  return run(table.concat(s, "\n") .. "\n", o.file)
end

--- loglog{...}: lines with both axes logarithmic.
function M.loglog(o)
  o.logx, o.logy = true, true
  return M.lines(o)
end

--- scatter{...}: lines with points.
function M.scatter(o)
  for _, ser in ipairs(o.series or {}) do ser.style = ser.style or "points pt 7 ps 0.6" end
  return M.lines(o)
end

--- bars{file=, title=, labels={...}, values={...}, ylabel=} -> file
function M.bars(o)
  local s = header(o)
  local v = values(o.values, "values")
  local labels = o.labels or {}
  s[#s + 1] = "set style fill solid 0.7"
  s[#s + 1] = "set boxwidth 0.7"
  s[#s + 1] = "unset key"
  local rows = {}
  for i = 1, #v do rows[i] = ("%d %s %.17g"):format(i, quote(labels[i] or tostring(i)), v[i]) end
  s[#s + 1] = "plot '-' using 1:3:xtic(2) with boxes"
  s[#s + 1] = table.concat(rows, "\n") .. "\ne"
  return run(table.concat(s, "\n") .. "\n", o.file)
end

--- heatmap{file=, z=2-D tensor or nested table, title=, xlabel=, ylabel=} -> file (row 1 at the top)
function M.heatmap(o)
  local s = header(o)
  local z = o.z
  if T.is_tensor(z) then
    if z:ndim() ~= 2 then error("plot.heatmap: z must be 2-D", 2) end
    z = z:totable()
  end
  if type(z) ~= "table" or type(z[1]) ~= "table" then error("plot.heatmap: z must be a 2-D tensor or table", 2) end
  s[#s + 1] = "set view map"
  s[#s + 1] = "set yrange [] reverse"
  s[#s + 1] = "set palette rgb 33,13,10"
  local rows = {}
  for i = 1, #z do
    local r = {}
    for j = 1, #z[i] do r[j] = ("%.9g"):format(z[i][j]) end
    rows[i] = table.concat(r, " ")
  end
  s[#s + 1] = "plot '-' matrix with image notitle"
  s[#s + 1] = table.concat(rows, "\n") .. "\ne"
  return run(table.concat(s, "\n") .. "\n", o.file)
end

--- csv(path, columns, names): writes columns (tables or tensors of equal length) as CSV.
function M.csv(path, columns, names)
  local cols = {}
  for i, c in ipairs(columns) do cols[i] = values(c, "column") end
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

return M
