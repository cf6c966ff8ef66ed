-- Tensor benchmarks: matmul through the binding vs cblas from C; elementwise ops vs memcpy.
local ml = require "moonlab"
local T = ml.tensor
local B = require "moonlab.bench"

local info = ml.info()
print(("# tensor bench: OpenBLAS kernel %s, %d threads%s"):format(info.blas_core, info.threads,
  info.warning and (" — " .. info.warning) or ""))

local n = 1024
for _, dt in ipairs { "f32", "f64" } do
  local a = T.randn({ n, n }, { seed = 1, dtype = dt })
  local b = T.randn({ n, n }, { seed = 2, dtype = dt })
  -- interleave reference and binding runs so that machine noise hits both alike
  local ref, ours = {}, {}
  for r = 1, 7 do
    ref[r] = B.gemm_gflops(dt, n, 1)
    local s = B.median(function() return a:matmul(b) end, { runs = 1, warmup = r == 1 and 1 or 0 })
    ours[r] = 2 * n ^ 3 / s / 1e9
  end
  local g_ref, g_ours = B.median_of(ref), B.median_of(ours)
  B.report(("tensor matmul %s %dx%d"):format(dt, n, n), g_ours, "GFLOP/s",
    ("%.3fx cblas_%sgemm from C %.1f"):format(g_ours / g_ref, dt == "f32" and "s" or "d", g_ref))
end

local m = 1 << 24 -- 16 Mi elements
local bytes = m * 8
local mem = B.memcpy_gbs(bytes, 7)
local x = T.randn({ m }, { seed = 3 })
local y = T.randn({ m }, { seed = 4 })
local cases = {
  { "a + b", function() return x + y end, 3 },
  { "a * 2", function() return x * 2 end, 2 },
  { "exp(a)", function() return x:exp() end, 2 },
}
for _, c in ipairs(cases) do
  local s = B.median(c[2], { runs = 7 })
  local gbs = c[3] * bytes / s / 1e9
  B.report(("tensor %s f64 n=%d"):format(c[1], m), gbs, "GB/s", ("%.2fx memcpy %.1f GB/s"):format(gbs / mem, mem))
  collectgarbage()
end

-- The same GEMM with the OpenBLAS kernel forced (the figure users get after setting OPENBLAS_CORETYPE).
local alt = info.coretype_hint or (info.cpu_avx512 and "SkylakeX") or (info.cpu_avx2 and "Haswell")
if alt and alt ~= info.blas_core then
  local cmd = ("OPENBLAS_CORETYPE=%s lua5.4 -e \"local B = require 'moonlab.bench'; "
    .. "print(B.gemm_gflops('f32', 1024), B.gemm_gflops('f64', 1024))\""):format(alt)
  local p = io.popen(cmd)
  local s, d = p:read("n", "n")
  p:close()
  if s then
    B.report(("cblas_sgemm 1024 with OPENBLAS_CORETYPE=%s"):format(alt), s, "GFLOP/s", "kernel " .. info.blas_core .. " is the default here")
    B.report(("cblas_dgemm 1024 with OPENBLAS_CORETYPE=%s"):format(alt), d, "GFLOP/s")
  end
end
