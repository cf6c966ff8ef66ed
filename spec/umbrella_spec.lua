local ml = require "moonlab"

describe("moonlab umbrella", function()
  it("exposes the version, the tensor module and lazily loaded modules", function()
    assert.matches("^%d+%.%d+%.%d+$", ml.version)
    assert.equal(require "moonlab.tensor", ml.tensor)
    assert.equal(require "moonlab.plot", ml.plot)
    assert.is_nil(ml.no_such_module)
  end)

  it("info() reports versions, BLAS kernel, threads and CPU features", function()
    local i = ml.info()
    assert.equal(ml.version, i.version)
    assert.equal("Lua 5.4", i.lua:match("^Lua 5%.4"))
    assert.matches("OpenBLAS", i.blas)
    assert.is_string(i.blas_core)
    assert.matches("^fftw%-3", i.fftw)
    assert.matches("^LAPACK 3%.%d+%.%d+", i.lapack)
    assert.is_true(i.threads >= 1)
    assert.is_boolean(i.cpu_avx2)
    local s = tostring(i)
    assert.matches("moonlab " .. ml.version, s, 1, true)
    assert.matches("kernel " .. i.blas_core, s, 1, true)
    if i.blas_generic then
      assert.matches("OPENBLAS_CORETYPE=" .. i.coretype_hint, i.warning, 1, true)
    else
      assert.is_nil(i.warning)
    end
  end)

  it("warns with a core type when OpenBLAS is forced onto a generic kernel on an AVX2 CPU", function()
    local i = ml.info()
    if not i.cpu_avx2 then
      pending("CPU has no AVX2: nothing to warn about")
      return
    end
    local p = io.popen("OPENBLAS_CORETYPE=Prescott lua5.4 -e 'print(require(\"moonlab\").info().warning)'")
    local out = p:read("a")
    p:close()
    assert.matches("generic 'Prescott' kernel", out, 1, true)
    local hints = i.cpu_avx512 and { "SkylakeX", "Cooperlake" } or { "Zen", "Haswell" }
    local named = out:match("OPENBLAS_CORETYPE=(%w+)")
    assert.is_truthy(named == hints[1] or named == hints[2], "hint " .. tostring(named))
  end)

  it("set_threads changes the thread count", function()
    local n = ml.get_threads()
    ml.set_threads(1)
    assert.equal(1, ml.get_threads())
    ml.set_threads(n)
    assert.equal(n, ml.get_threads())
  end)
end)
