-- Float reductions (csrc/core/reduce_simd.c, ops_reduce.c) against plain Lua: sums, means, max/min,
-- argmax/argmin at lengths around the vector widths and block sizes, with NaN, ±inf and ties; sums
-- along every dim; the same bits on every kernel path (MOONLAB_ISA children).
local T = require "moonlab.tensor"
local isa = require "spec.helpers.isa"

-- Full reductions return Lua numbers, reductions along a dim tensors.
local function num(v) return type(v) == "number" and v or v:item() end

local LENS = { 1, 7, 32, 33, 65, 200, 2049, 4097, 9000, 16385, 50000, 140001 }

-- NumPy's semantics: max/min NaN if any NaN; argmax/argmin the first NaN, else the first extreme.
local function ref(t)
  local mx, mn, amx, amn, s, nanpos = -math.huge, math.huge, nil, nil, 0, nil
  for i, v in ipairs(t) do
    if v ~= v then nanpos = nanpos or i
    else
      if not amx or v > mx then mx, amx = v, i end
      if not amn or v < mn then mn, amn = v, i end
    end
    s = s + v
  end
  if nanpos then return 0 / 0, 0 / 0, nanpos, nanpos, s end
  return mx, mn, amx, amn, s
end

local function variants(n, dt, seed)
  local out = {}
  for kind = 1, 5 do
    local x = T.randn({ n }, { seed = seed + kind, dtype = dt })
    if kind == 2 then x[(n * 3) // 5 + 1] = 0 / 0 end                      -- one NaN
    if kind == 3 and n > 1 then x[1] = 50; x[n] = 50; x[n // 2 + 1] = 50 end -- ties: the first wins
    if kind == 4 then x[n] = 1 / 0; x[1] = -1 / 0 end                      -- infinities
    if kind == 5 and n > 2 then x[n] = 0 / 0; x[n - 1] = 0 / 0; x[2] = 99 end -- NaN at the end
    out[#out + 1] = x
  end
  return out
end

describe("tensor float reductions", function()
  for _, dt in ipairs { "f32", "f64" } do
    it(dt .. " max/min/argmax/argmin/sum/mean over a line match plain Lua (NaN, ties, inf)", function()
      for _, n in ipairs(LENS) do
        for k, x in ipairs(variants(n, dt, n)) do
          local t = x:totable()
          local mx, mn, amx, amn, s = ref(t)
          local what = ("%s n=%d variant %d"):format(dt, n, k)
          local gmx, gmn = num(x:max()), num(x:min())
          if mx ~= mx then
            assert.is_true(gmx ~= gmx and gmn ~= gmn, what)
          else
            assert.equal(mx, gmx, what)
            assert.equal(mn, gmn, what)
          end
          assert.equal(amx, num(x:argmax()), what)
          assert.equal(amn, num(x:argmin()), what)
          local gs = num(x:sum())
          if s ~= s or math.abs(s) == math.huge then
            assert.is_true(gs ~= gs or gs == s, what)
          else
            local tol = (dt == "f32" and 1e-5 or 1e-12) * n
            assert.is_true(math.abs(gs - s) <= tol, what .. (": %.17g vs %.17g"):format(gs, s))
            assert.is_true(math.abs(num(x:mean()) - s / n) <= tol / n + 1e-6, what)
          end
        end
      end
    end)

    it(dt .. " sums and means along every dim match plain Lua", function()
      -- {1031, 3}: row blocks of 256 and a last block of 7 rows (the 8-, 4- and 1-row passes of column sums)
      for _, sh in ipairs { { 3, 300, 5 }, { 2, 3, 1000 }, { 600, 7 }, { 5, 513, 2 }, { 1, 5, 9000 }, { 1031, 3 } } do
        local X = T.randn(sh, { seed = #sh + sh[2], dtype = dt })
        local t = X:view(X:numel()):totable()
        for d = 1, #sh do
          local outer, inner, len = 1, 1, sh[d]
          for i = 1, d - 1 do outer = outer * sh[i] end
          for i = d + 1, #sh do inner = inner * sh[i] end
          local s = X:sum(d):contiguous()
          local m = X:mean(d):contiguous()
          local sf, mf = s:view(s:numel()):totable(), m:view(m:numel()):totable()
          for o = 0, outer - 1 do
            for c = 0, inner - 1 do
              local acc = 0
              for j = 0, len - 1 do acc = acc + t[(o * len + j) * inner + c + 1] end
              local tol = (dt == "f32" and 1e-5 or 1e-12) * (len + math.abs(acc))
              local k = o * inner + c + 1
              assert.is_true(math.abs(sf[k] - acc) <= tol, ("dim %d cell %d: %g vs %g"):format(d, k, sf[k], acc))
              assert.is_true(math.abs(mf[k] - acc / len) <= tol / len + 1e-6)
            end
          end
        end
      end
    end)
  end

  it("sums of f32 ones are exact along inner and outer dims", function()
    assert.equal(3 * 70001, num(T.ones({ 3, 70001 }, "f32"):sum()))
    assert.same({ 70001, 70001, 70001 }, T.ones({ 70001, 3 }, "f32"):sum(1):totable())
    assert.same({ 70001, 70001 }, T.ones({ 2, 70001 }, "f32"):sum(2):totable())
  end)

  it("max/argmax along an outer dim keep NumPy's NaN rules", function()
    local X = T.new { { 1, 5, 0 / 0 }, { 7, 5, 2 }, { 0 / 0, 9, 2 } }
    assert.same({ 3, 3, 1 }, X:argmax(1):totable())
    local m = X:max(1):totable()
    assert.is_true(m[1] ~= m[1] and m[3] ~= m[3])
    assert.equal(9, m[2])
  end)

  -- The child processes below run this file again under MOONLAB_ISA: they skip these parent-only checks.
  local in_child = os.getenv("MOONLAB_ISA") ~= nil

  it("sums, max and argmax give the same bits on every kernel path and thread count", function()
    if in_child then pending("run by the parent process (MOONLAB_ISA is set here)") return end
    local prog = [[-e 'local ml = require "moonlab"; local T = ml.tensor; local o = {}
      local function num(v) return type(v) == "number" and v or v:item() end
      for _, th in ipairs { 1, 2 } do ml.set_threads(th)
      for _, dt in ipairs { "f32", "f64" } do for _, n in ipairs { 7, 100, 5000, 300001 } do
        local x = T.randn({ n }, { seed = n, dtype = dt })
        o[#o + 1] = ("%a %a %a %d %d"):format(num(x:sum()), num(x:view(1, n):sum(2)), num(x:max()), num(x:argmax()), num(x:argmin()))
        local X = x:narrow(1, 1, n - n % 7):view(7, -1)
        o[#o + 1] = ("%a %a"):format(num(X:sum(1):sum()), num(X:sum(2):sum()))
      end end end
      print(table.concat(o, " "))']]
    local best = isa.best()
    local ref
    for _, path in ipairs(isa.ORDER) do
      if isa.RANK[path] <= isa.RANK[best] then
        local out, ok = isa.child(path, prog)
        assert.is_true(ok == true, out)
        ref = ref or out
        assert.equal(ref, out, path)
      end
    end
  end)

  for _, path in ipairs { "scalar", "avx2" } do
    it("the reduction specs pass on the " .. path .. " path (child process)", function()
      if in_child then pending("run by the parent process (MOONLAB_ISA is set here)") return end
      local best = isa.best()
      if isa.RANK[path] >= isa.RANK[best] then
        pending(("%s is this CPU's best path (%s): covered in this process"):format(path, best))
        return
      end
      local ok, out = isa.busted(path, "spec/tensor_reduce_spec.lua")
      assert.is_true(ok, out)
    end)
  end
end)
