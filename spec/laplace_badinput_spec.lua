local T = require "moonlab.tensor"
local L = require "moonlab.laplace"
local chrom = require "moonlab.chrom"

local function F(re, im) local d = (re + 1) ^ 2 + im ^ 2 return (re + 1) / d, -im / d end

-- pcall that returns the message; fails the test if no error was raised
local function err(f, ...)
  local ok, msg = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(msg)
end

local function has(msg, ...)
  for _, s in ipairs { ... } do
    assert.truthy(msg:find(s, 1, true), ("message %q lacks %q"):format(msg, s))
  end
end

describe("laplace bad input", function()
  it("F returning non-numbers", function()
    has(err(L.invert, function() return "x", 1 end, 1.0), "laplace.invert", "must return two numbers", "string")
    has(err(L.invert, function() return 1 end, 1.0), "must return two numbers", "nil")
  end)
  it("F returning NaN or inf", function()
    has(err(L.invert, function() return 0 / 0, 0 end, 1.0), "laplace.invert", "not finite")
    has(err(L.invert, function() return math.huge, 0 end, 1.0, { method = "dehoog" }), "not finite")
  end)
  it("F raising an error (every method, no leak or crash)", function()
    for _, m in ipairs(L.methods) do
      has(err(L.invert, function() error("inner failure") end, T.linspace(0.5, 2, 10), { method = m }), "inner failure")
      has(err(L.invert_many, function() error("inner failure") end, T.linspace(0.5, 2, 10), { method = m }), "laplace.invert_many")
    end
  end)
  it("F that is not callable", function()
    has(err(L.invert, 42, 1.0), "laplace.invert: bad argument #1 'F'", "got number")
  end)
  it("t <= 0, NaN, wrong type", function()
    has(err(L.invert, F, 0), "bad argument #2 't'", "> 0")
    has(err(L.invert, F, -1), "bad argument #2 't'")
    has(err(L.invert, F, 0 / 0), "bad argument #2 't'")
    has(err(L.invert, F, T.new { 1, 2, 0 }), "bad argument #2 't'", "t[3]")
    has(err(L.invert, F, "1"), "bad argument #2 't'", "got string")
  end)
  it("unknown method and unknown option keys", function()
    has(err(L.invert, F, 1.0, { method = "gaver" }), "option 'method' = 'gaver' is not one of", "'talbot'")
    has(err(L.invert, F, 1.0, { methd = "talbot" }), "unknown option 'methd'", "did you mean 'method'")
  end)
  it("order M out of range", function()
    has(err(L.invert, F, 1.0, { method = "talbot", M = 1 }), "option 'M' = 1 out of range", "talbot")
    has(err(L.invert, F, 1.0, { method = "stehfest", M = 15 }), "even")
    has(err(L.invert, F, 1.0, { method = "stehfest", M = 62 }), "out of range", "[2, 60]")
    has(err(L.invert, F, 1.0, { method = "euler", M = 1000 }), "out of range")
  end)
  it("precision: unknown value, quad without a quad evaluator or for a method without it", function()
    has(err(L.invert, F, 1.0, { precision = "long" }), "option 'precision' = 'long' is not one of", "'quad'")
    has(err(L.invert, F, 1.0, { method = "euler", precision = "quad" }), "laplace.invert", "quad", "Lua functions are double")
    local e = L.suite()[4]
    has(err(L.invert, e.F, 1.0, { method = "dehoog", precision = "quad" }), "quad", "talbot, euler and stehfest", "dehoog")
    has(err(L.invert_many, e.F, T.linspace(1, 2, 3), { method = "weeks", precision = "quad" }), "laplace.invert_many", "weeks")
  end)
  it("non-finite results raise instead of returning inf/NaN (Talbot on a delay)", function()
    local step = L.suite()[20] -- exp(-s)/s
    for _, prec in ipairs { "double", "quad" } do
      local ok, msg = pcall(L.invert, step.F, T.linspace(0.5, 10, 40), { method = "talbot", precision = prec })
      if not ok then has(tostring(msg), "laplace.invert", "not finite") end
      if ok then -- finite garbage is allowed (documented), non-finite is not
        for i = 1, 40 do assert.is_true(msg:get(i) == msg:get(i) and math.abs(msg:get(i)) < math.huge) end
      end
    end
  end)
  it("bad method parameters", function()
    has(err(L.invert, F, 1.0, { method = "dehoog", tol = 2 }), "tol")
    has(err(L.invert, F, 1.0, { method = "weeks", b = -1 }), "'b' = -1")
    has(err(L.invert, F, 5.0, { method = "fourier", T = 1 }), "T = 1")
  end)
end)

describe("chrom bad input", function()
  it("negative Da, kappa, Pe", function()
    has(err(chrom.column, { Da = -1, kappa = 1 }), "chrom.column: bad argument #1 'Da'", ">= 0")
    has(err(chrom.column, { Da = 1, kappa = 0 }), "'kappa'", "> 0")
    has(err(chrom.column, { Da = 1, kappa = 1, Pe = -5 }), "'Pe'")
    has(err(chrom.column, { Da = 1, kappa = 1, Pe = 0 / 0 }), "'Pe'")
  end)
  it("bad velocity, injection, unknown keys", function()
    has(err(chrom.column, { Da = 1, kappa = 1, velocity = { inlet_pressure = 1, outlet_pressure = 2 } }), "'velocity'")
    has(err(chrom.column, { Da = 1, kappa = 1, velocity = "fast" }), "'velocity'")
    has(err(chrom.column, { Da = 1, kappa = 1, injection = { kind = "dirac" } }), "injection.kind")
    has(err(chrom.column, { Da = 1, kappa = 1, injection = { kind = "gaussian", width = 0.1, t0 = 0.1 } }), "injection.t0")
    has(err(chrom.column, { Da = 1, kappa = 1, injection = { kind = "data", t = { 0, 1 }, c = { 1 } } }), "injection")
    has(err(chrom.column, { Da = 1, kapa = 1 }), "unknown option 'kapa'")
  end)
  it("solve_fd options", function()
    local col = chrom.column { Da = 1, kappa = 1 }
    has(err(chrom.solve_fd, col, { nx = 2 }), "nx")
    has(err(chrom.solve_fd, col, { scheme = "weno" }), "scheme")
    has(err(chrom.solve_fd, col, { nx = 100, dt = 1 }), "stability limit")
    has(err(chrom.solve_fd, col, { t = T.new { 1, 0.5 } }), "increasing")
    has(err(chrom.solve_fd, {}, {}), "chrom.solve_fd: bad argument #1 'col'")
  end)
  it("fit arguments", function()
    local t = T.linspace(0.1, 5, 50)
    has(err(chrom.fit, t, t, {}), "opts.analytes")
    has(err(chrom.fit, t, t, { analytes = { { Da = -1, kappa = 1 } } }), "analyte 1")
    has(err(chrom.fit, t, T.zeros { 3 }, { analytes = { { Da = 1, kappa = 1 } } }), "'signal'")
    has(err(chrom.fit, t, t, { analytes = { { Da = 1, kappa = 1 } }, tol = "x" }), "tol")
    has(err(chrom.fit, t, t, { analytes = { { Da = 1, kappa = 1 } }, fitscale = true }), "unknown option 'fitscale'")
  end)
  it("malformed CSV files", function()
    local function csv(text)
      local p = os.tmpname()
      local f = assert(io.open(p, "w"))
      f:write(text)
      f:close()
      return p
    end
    local p = csv("t,y\n0.1,1\n0.2,abc\n")
    has(err(chrom.read_csv, p), "chrom.read_csv", ":3:", "expected two numbers")
    os.remove(p)
    p = csv("0.1,1\n0.1,2\n")
    has(err(chrom.read_csv, p), ":2:", "does not increase")
    os.remove(p)
    p = csv("0.1,1,7\n")
    has(err(chrom.read_csv, p), ":1:")
    os.remove(p)
    p = csv("")
    has(err(chrom.read_csv, p), "at least 2")
    os.remove(p)
    has(err(chrom.read_csv, "/nonexistent/x.csv"), "cannot open")
  end)
end)
