--- moonlab.bench: timing helpers for bench/*.lua (medians, same-run references).
local core = require "moonlab.core"

local M = {}

M.now = core.now

local function bad(fname, i, name, expected, v)
  error(("%s: bad argument #%d '%s': expected %s, got %s"):format(fname, i, name, expected,
    type(v) == "number" and tostring(v) or type(v)), 0)
end

local function median(xs)
  if type(xs) ~= "table" or #xs == 0 then bad("bench.median_of", 1, "xs", "a non-empty list of numbers", xs) end
  for i = 1, #xs do
    if type(xs[i]) ~= "number" then bad("bench.median_of", 1, "xs", "a list of numbers (entry " .. i .. ")", xs[i]) end
  end
  local s = {}
  for i, x in ipairs(xs) do s[i] = x end
  table.sort(s)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return 0.5 * (s[n // 2] + s[n // 2 + 1])
end
M.median_of = median

--- median(fn, {runs=7, warmup=1}) -> median seconds of fn() over runs after warm-up calls.
function M.median(fn, opts)
  if type(fn) ~= "function" then bad("bench.median", 1, "fn", "a function", fn) end
  opts = require("moonlab.opts").check("bench.median", opts or {}, { "runs", "warmup" })
  if opts.runs ~= nil and (math.type(opts.runs) ~= "integer" or opts.runs < 1) then
    bad("bench.median", 2, "opts.runs", "an integer >= 1", opts.runs)
  end
  if opts.warmup ~= nil and (math.type(opts.warmup) ~= "integer" or opts.warmup < 0) then
    bad("bench.median", 2, "opts.warmup", "an integer >= 0", opts.warmup)
  end
  for _ = 1, opts.warmup or 1 do fn() end
  local t = {}
  for i = 1, opts.runs or 7 do
    local t0 = core.now()
    fn()
    t[i] = core.now() - t0
  end
  return median(t), t
end

--- gemm_gflops(dtype, n, runs) -> median GFLOP/s of cblas_?gemm n×n×n called from C in this process.
function M.gemm_gflops(dtype, n, runs)
  n = n or 1024
  core.bench_gemm(dtype, n, 1) -- warm-up
  local s = median(core.bench_gemm(dtype, n, runs or 7))
  return 2 * n ^ 3 / s / 1e9
end

--- memcpy_gbs(bytes, runs) -> median GB/s of memcpy (bytes read + bytes written).
function M.memcpy_gbs(bytes, runs)
  core.bench_memcpy(bytes, 1)
  local s = median(core.bench_memcpy(bytes, runs or 7))
  return 2 * bytes / s / 1e9
end

--- read_gbs(t, threads, runs, streams) -> median GB/s of a plain SIMD read of tensor t's bytes on `threads`
--- threads, each reading its part as `streams` (default 1) interleaved pieces (the read-bandwidth ceiling
--- of a reduction of t), and the list of seconds.
function M.read_gbs(t, threads, runs, streams)
  core.bench_read(t, threads, 1, streams)
  local ts, bytes = core.bench_read(t, threads, runs or 7, streams)
  return bytes / median(ts) / 1e9, ts
end

--- peak_rss_kib() -> peak resident set size of this process, KiB.
M.peak_rss_kib = core.peak_rss_kib

--- loadavg() -> the machine's 1, 5 and 15 minute load averages as one string ("unknown" without /proc).
function M.loadavg()
  local f = io.open("/proc/loadavg")
  local s = f and f:read("l") or "unknown"
  if f then f:close() end
  return s:match("^(%S+ %S+ %S+)") or s
end

--- python_has(module) -> true when Debian's /usr/bin/python3 can import it.
function M.python_has(module)
  if type(module) ~= "string" or not module:match("^[%w_%.]+$") then
    bad("bench.python_has", 1, "module", "a Python module name", module)
  end
  local ok = os.execute("/usr/bin/python3 -c 'import " .. module .. "' >/dev/null 2>&1")
  return ok == true or ok == 0
end

--- report(name, value, unit, refs): prints `name: value unit (refs)`; refs is a string.
function M.report(name, value, unit, refs)
  if type(name) ~= "string" then bad("bench.report", 1, "name", "a string", name) end
  if type(value) ~= "number" then bad("bench.report", 2, "value", "a number", value) end
  if type(unit) ~= "string" then bad("bench.report", 3, "unit", "a string", unit) end
  if refs ~= nil and type(refs) ~= "string" then bad("bench.report", 4, "refs", "a string", refs) end
  local line = ("%s: %.4g %s%s"):format(name, value, unit, refs and (" (" .. refs .. ")") or "")
  print(line)
  io.stdout:flush()
  return line
end

return M
