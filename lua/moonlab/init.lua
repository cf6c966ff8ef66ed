--- moonlab: numerical research cores with Lua 5.4 bindings. See docs/moonlab.md.
local core = require "moonlab.core"

local M = {
  version = core.version,
  tensor = require "moonlab.tensor",
}

-- Modules loaded on first access (moonlab.attn, moonlab.plot, ...).
local lazy = { attn = true, laplace = true, sdf = true, chrom = true, plot = true, bench = true, help = true,
  progress = true, opts = true, sweep = true, store = true, pipeline = true, mpi = true, gp = true, nn = true }

-- Any other lua/moonlab/<k>.lua next to this file is a module too (new cores need no entry above).
local function is_module(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") and k ~= "init" and k ~= "core"
    and package.searchpath("moonlab." .. k, package.path) ~= nil
end

setmetatable(M, {
  __index = function(t, k)
    if lazy[k] or is_module(k) then
      local mod = require("moonlab." .. k)
      rawset(t, k, mod)
      return mod
    end
  end,
})

local info_mt = {
  __tostring = function(i)
    local lines = {
      ("moonlab %s on %s"):format(i.version, i.lua),
      ("BLAS    %s (kernel %s, %d threads)"):format(i.blas, i.blas_core, i.blas_threads),
      i.lapack,
      ("FFTW    %s"):format(i.fftw),
      ("OpenMP  %d threads; CPU AVX2 %s, AVX-512 %s"):format(i.threads, tostring(i.cpu_avx2),
        tostring(i.cpu_avx512)),
    }
    if i.warning then lines[#lines + 1] = "warning: " .. i.warning end
    return table.concat(lines, "\n")
  end,
}

--- info() -> table: versions, BLAS kernel, threads, CPU features; `warning` when OpenBLAS
--- runs a kernel below what the CPU offers (with the OPENBLAS_CORETYPE to set).
function M.info()
  local i = core.info()
  if i.blas_generic then
    i.warning = ("OpenBLAS runs its generic '%s' kernel on a CPU with %s: set OPENBLAS_CORETYPE=%s " ..
      "for much faster BLAS (e.g. export OPENBLAS_CORETYPE=%s)"):format(i.blas_core,
      i.cpu_avx512 and "AVX-512" or "AVX2", i.coretype_hint, i.coretype_hint)
  end
  return setmetatable(i, info_mt)
end

--- set_threads(n): threads for moonlab's OpenMP loops and for OpenBLAS.
M.set_threads = core.set_threads

--- get_threads() -> n
M.get_threads = core.get_threads

return M
