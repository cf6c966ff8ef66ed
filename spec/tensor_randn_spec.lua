-- tensor.randn: element i is a pure function of (seed, i), the same bits on every kernel path (MOONLAB_ISA =
-- scalar, avx2, avx512) and thread count; its log and cos(2 pi u) (csrc/core/vmath.h) within one ulp of
-- __float128 (spec/c/vmath_test.c); against the C library's formula computed here in plain Lua; and the
-- distribution (moments, Kolmogorov-Smirnov, tails, lag-1 correlation) for fixed seeds.
local ml = require "moonlab"
local T = ml.tensor
local root = os.getenv("MOONLAB_ROOT") or "."
local build = os.getenv("MOONLAB_BUILD") or (root .. "/build")

-- SplitMix64 as documented in docs/tensor.md, in Lua's 64-bit integers (wrapping * and +, logical >>).
local GAMMA = 0x9e3779b97f4a7c15
local function mix(z)
  z = (z ~ (z >> 30)) * 0xbf58476d1ce4e5b9
  z = (z ~ (z >> 27)) * 0x94d049bb133111eb
  return z ~ (z >> 31)
end
local function u64(seed, counter) return mix(mix(seed + GAMMA) + (counter + 1) * GAMMA) end
-- Box-Muller with the C library's log and cos (what randn computed before its own log and cos).
local function normal_libm(seed, i)
  local u1 = ((u64(seed, 2 * i) >> 11) + 0.5) * 2.0 ^ -53
  local u2 = (u64(seed, 2 * i + 1) >> 11) * 2.0 ^ -53
  return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
end

-- Standard normal CDF through erfc (Numerical Recipes' erfcc, fractional error < 1.2e-7).
local function erfc(x)
  local z = math.abs(x)
  local t = 1 / (1 + 0.5 * z)
  local r = t * math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
    + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
  return x >= 0 and r or 2 - r
end
local function Phi(x) return 0.5 * erfc(-x / math.sqrt(2)) end

describe("tensor.randn generator", function()
  it("log and cos(2 pi u) within one ulp, the same bits on every kernel path and thread count (C check)", function()
    local exe = os.tmpname()
    local san = os.getenv("MOONLAB_ASAN") and "-fsanitize=address,undefined " or "" -- build-asan's library needs it
    local cc = ("cc -std=c11 -O1 " .. san .. "-I%s/csrc/include -I%s/csrc %s/spec/c/vmath_test.c %s/libmoonlab.a "
      .. "-fopenmp -lopenblas -lfftw3 -lquadmath -lz -lpng -lnlopt -lm -o %s 2>&1"):format(root, root, root, build, exe)
    local p = io.popen(cc)
    local out = p:read("a")
    assert.is_true(p:close(), out)
    local hashes = {}
    for k, isa in ipairs { "scalar", "avx2", "avx512" } do
      -- the accuracy sweep does not depend on the path: the full one once, a short one on the others
      p = io.popen(("MOONLAB_ISA=%s env -u LD_PRELOAD %s %d 2>&1"):format(isa, exe, k == 1 and 100000 or 2000))
      out = p:read("a")
      local ok = p:close()
      assert.is_true(ok, out)
      assert.matches("vmath: 0 failures", out)
      local lg, cs = out:match("LOG maxulp (%S+)"), out:match("COS maxulp (%S+)")
      assert.is_true(tonumber(lg) < 1 and tonumber(cs) < 1, out)
      local got, h = out:match("ISA (%w+) HASH (%x+)")
      assert.is_truthy(h, out)
      if isa == "scalar" then assert.equal("scalar", got) end
      hashes[#hashes + 1] = h
    end
    os.remove(exe)
    assert.equal(hashes[1], hashes[2])
    assert.equal(hashes[1], hashes[3])
  end)

  it("agrees with Box-Muller on the documented SplitMix64 uniforms using the C library's log and cos", function()
    for _, seed in ipairs { 0, 7, 123456789 } do
      local x = T.randn({ 3000 }, { seed = seed })
      local worst = 0
      for i = 0, 2999 do
        local ref = normal_libm(seed, i)
        worst = math.max(worst, math.abs(x[i + 1] - ref) / math.max(1, math.abs(ref)))
      end
      assert.is_true(worst < 1e-14, ("seed %d: differs from the libm formula by %.3g"):format(seed, worst))
    end
  end)

  it("is a pure function of (seed, index): threads, prefixes, mean/std and f32 rounding of the f64 value", function()
    local saved = ml.get_threads()
    local n = 3 * 65536 + 17
    ml.set_threads(1)
    local a = T.randn({ n }, { seed = 42 })
    ml.set_threads(2)
    local b = T.randn({ n }, { seed = 42 })
    ml.set_threads(saved)
    assert.is_true(a:eq(b):all())
    assert.is_true(T.randn({ 1001 }, { seed = 42 }):eq(a:narrow(1, 1, 1001)):all())
    assert.is_true(T.randn({ 3, 5, 7 }, { seed = 42 }):reshape(105):eq(a:narrow(1, 1, 105)):all())
    assert.is_false(T.randn({ 1001 }, { seed = 43 }):eq(a:narrow(1, 1, 1001)):any())
    local ms = T.randn({ n }, { seed = 42, mean = 2, std = 3 })
    assert.is_true(ms:eq(a * 3 + 2):all())
    for _, o in ipairs { { seed = 42 }, { seed = 9, mean = -1.5, std = 0.01 } } do
      local f64 = T.randn({ n }, { seed = o.seed, mean = o.mean, std = o.std })
      local f32 = T.randn({ n }, { seed = o.seed, mean = o.mean, std = o.std, dtype = "f32" })
      assert.is_true(f32:eq(f64:astype("f32")):all())
    end
  end)

  it("has the moments, tails and Kolmogorov-Smirnov distance of N(0, 1) (fixed seeds)", function()
    local n = 1000000
    local x = T.randn({ n }, { seed = 2024 })
    local m = x:mean()
    local c = x - m
    local c2 = c * c
    local var = c2:mean()
    local skew = (c2 * c):mean() / var ^ 1.5
    local kurt = (c2 * c2):mean() / var ^ 2
    assert.is_true(math.abs(m) < 5 / math.sqrt(n), "mean " .. m)
    assert.is_true(math.abs(var - 1) < 5 * math.sqrt(2 / n), "variance " .. var)
    assert.is_true(math.abs(skew) < 5 * math.sqrt(6 / n), "skewness " .. skew)
    assert.is_true(math.abs(kurt - 3) < 5 * math.sqrt(24 / n), "kurtosis " .. kurt)
    -- lag-1 correlation of consecutive elements
    local r1 = (c:narrow(1, 1, n - 1) * c:narrow(1, 2, n - 1)):mean() / var
    assert.is_true(math.abs(r1) < 5 / math.sqrt(n), "lag-1 correlation " .. r1)
    -- tails: counts beyond 3 and 4 sigma within 5 binomial standard deviations; nothing beyond the largest
    -- value Box-Muller can give here, sqrt(-2 log 2^-54) = 8.65
    local ax = x:abs()
    for _, k in ipairs { 3, 4 } do
      local p = 2 * Phi(-k)
      local cnt = ax:gt(k):astype("f64"):sum()
      local sd = math.sqrt(n * p * (1 - p))
      assert.is_true(math.abs(cnt - n * p) < 5 * sd, ("%d beyond %d sigma, expected %.1f"):format(cnt, k, n * p))
    end
    assert.is_true(ax:max() <= math.sqrt(-2 * math.log(2.0 ^ -54)))
    -- Kolmogorov-Smirnov on 100000 draws of two seeds: D below the 1 % critical value 1.628 / sqrt(n)
    for _, seed in ipairs { 1, 99 } do
      local k = 100000
      local s = T.randn({ k }, { seed = seed }):sort():totable()
      local d = 0
      for i = 1, k do
        local F = Phi(s[i])
        d = math.max(d, i / k - F, F - (i - 1) / k)
      end
      assert.is_true(d < 1.628 / math.sqrt(k), ("seed %d: KS distance %.5f"):format(seed, d))
    end
  end)
end)
