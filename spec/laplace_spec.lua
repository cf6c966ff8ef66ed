local T = require "moonlab.tensor"
local L = require "moonlab.laplace"
local mp = require "spec.helpers.laplace_mpmath"

local function by_name(rate)
  local r = {}
  for _, x in ipairs(rate) do r[x.name] = x end
  return r
end

local function errs_of_kind(rate, kind)
  local worst, wname = 0, nil
  for _, x in ipairs(rate) do
    if x.kind == kind and x.err > worst then worst, wname = x.err, x.name end
  end
  return worst, wname
end

describe("laplace.suite", function()
  it("has at least 16 pairs covering smooth, oscillatory and jump functions", function()
    local s = L.suite()
    assert.is_true(#s >= 16)
    local kinds = {}
    for _, e in ipairs(s) do kinds[e.kind] = (kinds[e.kind] or 0) + 1 end
    assert.is_true(kinds.smooth >= 8 and kinds.oscillatory >= 4 and kinds.jump >= 2)
  end)
  it("C transforms agree with F evaluated from its closed form in Lua", function()
    local s = L.suite()
    -- F(s) = 1/(s+1) at s = 2+3i, F = s/(s^2+1), exp(-s)/s
    local re, im = s[4].F(2, 3)                  -- 1/(s+1)
    assert.is_close({ re, im }, { 3 / 18, -3 / 18 }, { rtol = 1e-15 })
    re, im = s[20].F(1, 0)                       -- exp(-s)/s
    assert.is_close(re, math.exp(-1), { rtol = 1e-15 })
  end)
end)

describe("laplace.invert accuracy on the suite (grid t in [0.5, 10])", function()
  it("talbot: smooth functions <= 1e-10", function()
    local w, n = errs_of_kind(L.rate({ method = "talbot" }), "smooth")
    assert.is_true(w <= 1e-10, ("talbot worst smooth %.3g (%s)"):format(w, n))
  end)
  it("euler (default: quad precision for C transforms): smooth functions <= 1e-10", function()
    local w, n = errs_of_kind(L.rate({ method = "euler" }), "smooth")
    assert.is_true(w <= 1e-10, ("euler worst smooth %.3g (%s)"):format(w, n))
  end)
  it("euler in double precision is limited by roundoff x 10^(M/3) on exp(-t) tails", function()
    -- the reason for the quad default: same M, double F, measurably worse on the tails
    local b = by_name(L.rate({ method = "euler", precision = "double" }))
    local q = by_name(L.rate({ method = "euler", precision = "quad", M = 18 }))
    assert.is_true(b["exp(-t)"].err > 1e-10, "double " .. b["exp(-t)"].err)
    assert.is_true(q["exp(-t)"].err < b["exp(-t)"].err / 10, q["exp(-t)"].err .. " vs " .. b["exp(-t)"].err)
    for _, name in ipairs { "1", "t", "t^2/2", "1-exp(-t)", "2*sqrt(t/pi)", "erfc(1/sqrt(t))" } do
      assert.is_true(b[name].err <= 1e-10, name .. " " .. b[name].err)
    end
  end)
  it("oscillatory <= 1e-8 with de Hoog and <= 1e-12 with Weeks", function()
    local w, n = errs_of_kind(L.rate({ method = "dehoog" }), "oscillatory")
    assert.is_true(w <= 1e-8, ("dehoog worst oscillatory %.3g (%s)"):format(w, n))
    w, n = errs_of_kind(L.rate({ method = "weeks" }), "oscillatory")
    assert.is_true(w <= 1e-12, ("weeks worst oscillatory %.3g (%s)"):format(w, n))
  end)
  it("delayed step H(t-1) <= 1e-3 away from the jump with de Hoog", function()
    local b = by_name(L.rate({ method = "dehoog" }))
    assert.is_true(b["H(t-1)"].err <= 1e-3, b["H(t-1)"].err)
  end)
  it("stehfest (default: quad precision, N = 38 for C transforms): smooth functions <= 1e-6", function()
    local w, n = errs_of_kind(L.rate({ method = "stehfest" }), "smooth")
    assert.is_true(w <= 1e-6, ("stehfest worst smooth %.3g (%s)"):format(w, n))
  end)
  it("stehfest in double/long double (Lua F path) still <= 1e-6 on powers and exp growth", function()
    local b = by_name(L.rate({ method = "stehfest", precision = "double" }))
    for _, name in ipairs { "1", "t", "exp(t/2)", "1/sqrt(pi*t)", "2*sqrt(t/pi)" } do
      assert.is_true(b[name].err <= 1e-6, name .. " " .. b[name].err)
    end
    -- and N = 38 without quad F is destroyed by roundoff (sum |V_k| ~ 1e25)
    local d38 = by_name(L.rate({ method = "stehfest", precision = "double", M = 38 }))
    assert.is_true(d38["exp(-t)"].err > 1e-3, "double N=38 " .. d38["exp(-t)"].err)
  end)
  it("talbot with precision quad (M = 40): smooth and oscillatory <= 1e-13", function()
    local r = L.rate({ method = "talbot", precision = "quad" })
    local w, n = errs_of_kind(r, "smooth")
    assert.is_true(w <= 1e-13, ("talbot quad worst smooth %.3g (%s)"):format(w, n))
    w, n = errs_of_kind(r, "oscillatory")
    assert.is_true(w <= 1e-13, ("talbot quad worst oscillatory %.3g (%s)"):format(w, n))
  end)
  it("fourier on a uniform grid <= 1e-4 on smooth functions", function()
    local w, n = errs_of_kind(L.rate({ method = "fourier" }), "smooth")
    assert.is_true(w <= 1e-4, ("fourier worst smooth %.3g (%s)"):format(w, n))
  end)
  it("accuracy improves with the Talbot order until roundoff (convergence, not a constant)", function()
    local s = L.suite()[4] -- exp(-t)
    local t = 2.0
    local e8 = math.abs(L.invert(s.F, t, { method = "talbot", M = 8 }) - math.exp(-t))
    local e16 = math.abs(L.invert(s.F, t, { method = "talbot", M = 16 }) - math.exp(-t))
    assert.is_true(e16 < e8 / 100, e8 .. " " .. e16)
  end)
end)

describe("laplace.invert with Lua functions", function()
  local function F(re, im) -- 1/(s^2+1) in real arithmetic
    local ar, ai = re * re - im * im + 1, 2 * re * im
    local d = ar * ar + ai * ai
    return ar / d, -ai / d
  end
  it("matches the C transform path for every method", function()
    local s = L.suite()[14] -- sin
    local t = T.linspace(0.5, 5, 10)
    for _, m in ipairs(L.methods) do
      -- the C transform would use quad precision (and a larger M) for euler/stehfest by default
      local a, b = L.invert(F, t, { method = m }), L.invert(s.F, t, { method = m, precision = "double" })
      -- Stehfest amplifies the last-bit differences of F by sum|V_k| ~ 7e8
      local tol = m == "stehfest" and 1e-6 or 1e-10
      assert.is_close(a, b, { rtol = tol, atol = tol })
    end
  end)
  it("accepts a number and returns a number", function()
    assert.is_close(L.invert(F, 1.3, { method = "dehoog" }), math.sin(1.3), { rtol = 1e-10 })
  end)
  it("propagates an error raised inside F", function()
    assert.has_error(function()
      L.invert(function() error("boom") end, 1.0)
    end)
    local ok, msg = pcall(L.invert, function() error("boom") end, 1.0)
    assert.is_false(ok)
    assert.truthy(msg:find("laplace.invert", 1, true) and msg:find("boom", 1, true))
  end)
end)

describe("laplace.invert_many", function()
  it("reuses F values: far fewer evaluations, same accuracy", function()
    local e = L.suite()[15] -- cos
    local t = T.linspace(0.5, 10, 200)
    for _, m in ipairs { "dehoog", "talbot" } do
      local M0 = m == "talbot" and 32 or nil
      local f1 = L.invert(e.F, t, { method = m, M = M0 })
      local f2, nev = L.invert_many(e.F, t, { method = m, M = M0 })
      assert.is_close(f2, e.exact(t), { atol = 1e-7 })
      assert.is_close(f1, e.exact(t), { atol = 1e-7 })
      assert.is_true(nev < 200 * 10, m .. " evaluations " .. nev)
    end
  end)
end)

describe("laplace internals", function()
  it("Stehfest weights agree with mpmath at 50 digits and sum to zero", function()
    local w = L.stehfest_weights(16)
    local sum = 0
    for i = 1, 16 do sum = sum + w[i] end
    assert.is_true(math.abs(sum) < 1e-6 * math.abs(w[8]))
    local ref = mp.stehfest_weights(16)
    if ref then assert.is_close(w, ref, { rtol = 1e-15 }) end
  end)
  it("fourier_grid returns f on t_j = j*2T/M", function()
    local e = L.suite()[14] -- sin
    local t, f = L.fourier_grid(e.F, 20, 400, { M = 8192 })
    assert.is_close(t:get(2), 2 * 20 / 8192, { rtol = 1e-14 })
    local worst = 0
    for j = 2, 400 do worst = math.max(worst, math.abs(f:get(j) - math.sin(t:get(j)))) end
    assert.is_true(worst < 1e-4, worst)
  end)
  it("agrees with mpmath.invertlaplace on J0", function()
    -- (mpmath's talbot takes the wrong branch of sqrt(s^2+1) here; dehoog and the
    -- branch-safe form sqrt(s-i)sqrt(s+i) agree with besselj)
    local ref = mp.invertlaplace("1/(mp.sqrt(s-1j)*mp.sqrt(s+1j))", 3.7, "dehoog")
    if not ref then return pending("mpmath not available") end
    local f = L.invert(L.suite()[17].F, 3.7, { method = "dehoog" })
    assert.is_close(f, ref, { rtol = 1e-10 })
  end)
end)
