#!/usr/bin/env lua5.4
--- tools/fuzz_api.lua — the Lua API fuzzer (issue #13).
---
--- Enumerates every public function and method of every moonlab module (tools/moonlab_api.lua) and calls
--- them with hostile arguments: wrong types, NaN/±inf, huge/negative/zero sizes, empty, closed and
--- mismatched tensors, proxy tables with __index/__len, callbacks that raise (strings, objects with
--- __tostring), close tensors or collect garbage, and option tables built from the option names the
--- sources declare. Calls run in child processes with a timeout (run it under the ASan build:
--- `make fuzz-api`). Every call is generated from (seed, index) alone, so each finding comes with a
--- stand-alone Lua reproducer. Findings are classified as
---   crash    the child died (signal, AddressSanitizer/UBSan report, Lua panic),
---   hang     the child exceeded its timeout (the call running at that moment is reported),
---   unclear  an error message that does not start with the public name of the function called.
---
--- Usage:
---   lua5.4 tools/fuzz_api.lua [--seed N] [--calls N] [--seconds S] [--per-child N] [--timeout S] [--report FILE]
---                             [--max-unclear N]   (exit 1 when more than N unclear messages; -1: no limit)
--- --timeout is per call: a child is killed (and the call that was running re-run alone to confirm a hang) when
--- it has printed nothing for that long, so --per-child can be large (fewer child start-ups).
---   lua5.4 tools/fuzz_api.lua --names            wrong type for each argument of every function (spec)
---   lua5.4 tools/fuzz_api.lua --repro SEED IDX   prints the reproducer of one call
---   lua5.4 tools/fuzz_api.lua --child SEED FIRST N   (internal: runs calls FIRST..FIRST+N-1)
--- Paths: MOONLAB_ROOT (default: the folder above tools/) for module and option discovery.
local function absolute(p) return p:sub(1, 1) == "/" and p or ((os.getenv("PWD") or ".") .. "/" .. p) end
local root = os.getenv("MOONLAB_ROOT") or absolute(arg[0]:match("^(.*)/tools/[^/]*$") or ".")
package.path = root .. "/tools/?.lua;" .. package.path
local A = require "moonlab_api"

-- Functions never called at random, one reason each.
local SKIP = {
  ["moonlab.set_threads"] = "changes the process-wide thread count (4096 threads on 2 cores is legal but slow)",
  ["bench.gemm_gflops"] = "benchmark: legal sizes run for minutes",
  ["bench.memcpy_gbs"] = "benchmark: legal sizes copy gigabytes",
  ["bench.median"] = "benchmark: calls its argument repeatedly by design",
  ["bench.median_of"] = "benchmark helper",
  ["bench.python_has"] = "starts python3",
  ["plot.lines"] = "starts gnuplot and writes files",
  ["plot.loglog"] = "starts gnuplot and writes files",
  ["plot.scatter"] = "starts gnuplot and writes files",
  ["plot.bars"] = "starts gnuplot and writes files",
  ["plot.heatmap"] = "starts gnuplot and writes files",
  ["help.help"] = "prints documentation (help.text is fuzzed)",
  ["mpi.abort"] = "ends the process by design",
  ["mpi.finalize"] = "ends MPI for the rest of the child process",
  ["mpi.recv"] = "blocks until a message arrives (no peer in a fuzz child)",
  ["mpi.probe"] = "blocks until a message arrives (no peer in a fuzz child)",
  ["repl.repl"] = "interactive: reads the terminal",
  ["repl.main"] = "interactive: reads the terminal",
  -- these raise in the name of the caller: the message starts with the fname or text the caller passes
  -- (opts.check("sdf.box", {F = 1}, ...) says "unknown option 'F' to sdf.box"), so a random first argument gives
  -- a random name by design; --names still checks that wrong types name the helper itself
  ["opts.raise"] = "raises the message it is given, by design",
  ["opts.check"] = "raises in the name of its fname argument, by design",
  ["opts.need"] = "raises in the name of its fname argument, by design",
}
-- In --names mode (wrong types only, which must fail before any effect) every function is called except these.
local NAMES_SKIP = { ["repl.repl"] = true, ["repl.main"] = true, ["help.help"] = true, ["mpi.abort"] = true,
  ["mpi.finalize"] = true }

-- Modules of helpers rather than numerics: called 5x less often than the cores.
local HELPERS = { opts = true, progress = true, help = true, bench = true, plot = true }

-- The reproducer preamble: helpers the generated argument expressions use.
local PREAMBLE = [[
local T = require "moonlab.tensor"
local live = setmetatable({}, { __mode = "v" })
local function reg(t) live[#live + 1] = t return t end
local function closeall() for _, t in pairs(live) do if T.is_tensor(t) then t:close() end end collectgarbage() end
local function proxy(t) return setmetatable({}, { __index = function(_, k) collectgarbage() return t[k] end,
  __len = function() return #t end }) end
local function lenproxy(n) return setmetatable({ 1, 2 }, { __len = function() return n end }) end
local function errobj() return setmetatable({}, { __tostring = function() return "custom error object" end }) end
local function closed() local t = T.zeros { 3 } t:close() return t end
local nfile = 0
local function file(s) nfile = nfile + 1 local n = ("fuzz%d.dat"):format(nfile) local h = assert(io.open(n, "wb"))
  h:write(s) h:close() return n end
]]

local env -- the environment generated expressions are evaluated in (the preamble's helpers over _G)
local function make_env()
  local e = setmetatable({}, { __index = _G })
  local helpers = assert(load(PREAMBLE .. "return { T = T, reg = reg, closeall = closeall, proxy = proxy, "
    .. "lenproxy = lenproxy, errobj = errobj, closed = closed, file = file }", "=preamble", "t", e))()
  for k, v in pairs(helpers) do e[k] = v end
  return e
end

-- Option names declared by the bindings ({"name", MLL_...}) and read by the Lua modules (opts.name, known lists).
local function option_names()
  local set, list = {}, {}
  local function add(k) if not set[k] and #k < 24 then set[k] = true list[#list + 1] = k end end
  local p = io.popen(("cat %s/csrc/lua/*.c %s/lua/moonlab/*.lua 2>/dev/null"):format(root, root))
  local src = p:read("a")
  p:close()
  for k in src:gmatch('{"([%a_][%w_]*)", MLL_') do add(k) end
  for k in src:gmatch("opts%.([%a_][%w_]*)") do add(k) end
  for k in src:gmatch("[%s{,]([%a_][%w_]*) = true") do add(k) end
  for k in src:gmatch('"([%a_][%w_]*)", "[%a_][%w_]*", "') do add(k) end
  table.sort(list)
  return list
end

local SCALARS = { "nil", "true", "false", "0", "1", "2", "3", "4", "8", "-1", "0.5", "-0.0", "1e-300", "5e-324",
  "2^31", "2^32 + 8", "2^53", "2^62", "math.maxinteger", "math.mininteger", "1e308", "-1e308", "0/0", "1/0",
  "-1/0", "''", "'f32'", "'f64'", "'abc'", "('x'):rep(300)", "'talbot'", "'dehoog'", "'fourier'", "'weeks'",
  "'bottom_right'", "'keep'", "1e20", "1e-9", "1e6", "100", "-5", "0.25" }
local SHAPES = { "{1}", "{3}", "{4}", "{8}", "{40}", "{2, 3}", "{3, 3}", "{2, 4}", "{1, 1, 4, 2}", "{1, 2, 5, 4}",
  "{2, 2, 3, 4}", "{1, 2, 6, 4}", "{1, 1, 1, 1}", "{1, 3, 8}", "{8, 2}" }
local TABLES = { "{}", "{1, 2, 3}", "{0}", "{-1}", "{2^62, 2^62}", "{1e9, 1e9, 1e9}", "{{1, 2}, {3}}", "{true}",
  "{0/0}", "lenproxy(2^60)", "lenproxy(-1)", "lenproxy(2^31)", "{[1] = 1, [3] = 3}", "{1, 2, 3, 4, 5, 6, 7, 8, 9}",
  "{{1, 2}, {3, 4}}", "{'a'}" }
local FUNCS = { "function(re, im) local d = (re + 1)^2 + im^2 return (re + 1) / d, -im / d end",
  "function() error('callback boom') end", "function() error(errobj()) end", "function() error({}) end",
  "function() return nil end", "function(re, im) closeall() return 1, 0 end",
  "function() collectgarbage() return 0/0, 0 end", "function() return 1 end",
  "function(re, im) return 1 / re, 0 end", "function() return 'x', 'y' end",
  "function(...) return ... end" }

local function pick(t) return t[math.random(#t)] end

-- Files for the parsers reachable from Lua (tensor.load, chrom.read_csv, plot.csv, ...): the seed inputs of
-- fuzz/corpus/*/ and small CSV texts, mutated (bytes flipped, inserted, deleted, truncated).
local SEEDS
local function seeds()
  if SEEDS then return SEEDS end
  SEEDS = { "t,signal\n0.1,1\n0.2,2.5\n0.3,1e300\n", "# comment\n0 0\n1 1\n2 4\n", "1;2\n3;4\n", "" }
  local p = io.popen(("ls %s/fuzz/corpus/*/* 2>/dev/null"):format(root))
  for f in p:lines() do
    local h = io.open(f, "rb")
    if h then SEEDS[#SEEDS + 1] = h:read("a") h:close() end
  end
  p:close()
  return SEEDS
end

local function file_code()
  local s = pick(seeds())
  for _ = 1, math.random(0, 4) do
    local r, i = math.random(4), math.random(0, #s)
    if r == 1 and #s > 0 then
      local j = math.max(i, 1)
      s = s:sub(1, j - 1) .. string.char(math.random(0, 255)) .. s:sub(j + 1)
    elseif r == 2 then s = s:sub(1, i) .. pick { "'", ",", "(", ")", "\n", "\0", "999999999999", "-1", "nan", "e" } .. s:sub(i + 1)
    elseif r == 3 then s = s:sub(1, i) .. s:sub(i + math.random(1, 8))
    else s = s:sub(1, i) end
  end
  return ("file(%q)"):format(s):gsub("\\\n", "\\n")
end

local function tensor_code()
  local dt = math.random() < 0.5 and "'f32'" or "'f64'"
  local shape = pick(SHAPES)
  local r = math.random(12)
  local c
  if r <= 6 then c = ("T.randn(%s, {seed = %d, dtype = %s})"):format(shape, math.random(100), dt)
  elseif r == 7 then c = ("T.zeros(%s, %s)"):format(shape, dt)
  elseif r == 8 then c = ("T.full(%s, 0/0, %s)"):format(shape, dt)
  elseif r == 9 then c = ("T.full(%s, 1/0, %s)"):format(shape, dt)
  elseif r == 10 then c = ("T.linspace(0.1, 5, %d, %s)"):format(math.random(1, 20), dt)
  elseif r == 11 then return "closed()"
  else c = ("T.rand(%s, {seed = %d, lo = -1e300, hi = 1e300})"):format(shape, math.random(100)) end
  return "reg(" .. c .. ")"
end

local OPTNAMES
local value_code
local function options_code(depth)
  local parts = {}
  for _ = 1, math.random(0, 4) do
    parts[#parts + 1] = ("%s = %s"):format(pick(OPTNAMES), value_code(depth + 1))
  end
  local t = "{" .. table.concat(parts, ", ") .. "}"
  if math.random() < 0.2 then t = "proxy(" .. t .. ")" end
  return t
end

-- Plausible arguments: shapes that fit together (attention q [1,2,5,4], k/v [1,2,6,4]), times > 0, a valid
-- transform F, a column, small counts; calls get past the first checks and into the cores.
local PLAUSIBLE = { "reg(T.randn({1, 2, 5, 4}, {seed = 1}))", "reg(T.randn({1, 2, 6, 4}, {seed = 2}))",
  "reg(T.randn({1, 2, 6, 4}, {seed = 3}))", "reg(T.randn({1, 2, 5, 4}, {seed = 4, dtype = 'f32'}))",
  "reg(T.linspace(0.1, 5, 8))", "reg(T.randn({5, 6}, {seed = 5}))", "reg(T.randn({3, 3}, {seed = 6}))",
  "reg(T.randn({1, 3, 8}, {seed = 7}))", "reg(T.randn({8, 8}, {seed = 8}))", "1", "2", "4", "8", "0.5", "3",
  FUNCS[1], FUNCS[6], "require('moonlab.chrom').column { Da = 1, kappa = 1 }", "require('moonlab.laplace').suite()[2].F",
  "{causal = true}", "{heads = 2, head_dim = 4}", "{method = 'dehoog'}", "{seed = 3}", "{nx = 16}",
  "{analytes = {{Da = 1, kappa = 1}}, max_iter = 3}", "{t = reg(T.linspace(0.2, 3, 6))}", "'f32'" }

function value_code(depth)
  depth = depth or 0
  if depth == 0 and math.random() < 0.04 then return file_code() end
  if depth == 0 and math.random() < 0.5 then return pick(PLAUSIBLE) end
  local r = math.random(100)
  if r <= 30 then return pick(SCALARS)
  elseif r <= 55 then return tensor_code()
  elseif r <= 65 then return pick(TABLES)
  elseif r <= 75 then return pick(FUNCS)
  elseif depth < 2 then return options_code(depth)
  else return "{}" end
end

-- Builds call idx of seed: the function, the Lua source of the call, and a thunk running it.
local FUNCS_LIST
local function build_call(seed, idx)
  math.randomseed(seed, idx)
  local f
  repeat f = pick(FUNCS_LIST) until not SKIP[f.name] and (not HELPERS[f.mod] or math.random() < 0.2)
  local n = f.nparams or math.random(0, 5)
  if f.method then n = math.max(n - 1, 0) end
  local args = {}
  for i = 1, n do args[i] = value_code() end
  local src
  if f.method then
    local self = math.random() < 0.9 and ("(" .. f.self_code .. ")") or ("(" .. value_code() .. ")")
    -- call through the method table so a wrong self is possible: Type.method(self, ...)
    src = ("local self = %s\nlocal mt = getmetatable(%s)\nlocal m = (type(mt.__index) == 'table' and mt.__index or mt.methods).%s\nreturn m(self%s%s)"):format(self,
      f.self_code, f.name:match(":([%w_]+)$"), n > 0 and ", " or "", table.concat(args, ", "))
  else
    src = ("return %s(%s)"):format(A.expr(f), table.concat(args, ", "))
  end
  return f, src
end

local function oneline(s) return (tostring(s):gsub("\n", "\\n")) end

-- Child: runs calls first..first+n-1, printing "@@<idx>" before each and "@@unclear" lines.
local function child(seed, first, n)
  io.stdout:setvbuf("line")
  env = make_env()
  OPTNAMES = option_names()
  FUNCS_LIST = A.functions(root)
  local budget = tonumber(os.getenv("FUZZ_CALL_BUDGET") or "5")
  for idx = first, first + n - 1 do
    local f, src = build_call(seed, idx)
    print("@@" .. idx)
    local chunk, cerr = load(src, "=call", "t", env)
    if not chunk then
      print(("@@internal\t%d\t%s"):format(idx, oneline(cerr)))
    else
      local deadline = os.clock() + budget
      debug.sethook(function() if os.clock() > deadline then error("@@budget", 0) end end, "", 100000)
      local ok, err = pcall(chunk)
      debug.sethook()
      if not ok then
        if err == "@@budget" then
          print(("@@slow\t%d\t%s"):format(idx, f.name))
        elseif not A.names(f, err) then
          print(("@@unclear\t%d\t%s\t%s"):format(idx, f.name, oneline(err)))
        end
      end
    end
    if idx % 50 == 0 then collectgarbage() end
  end
  print("@@done")
end

-- --names: every function, a wrong type (true, a coroutine) for each argument in turn, the others nil
-- (self valid for methods unless it is the argument tested). Prints "@@unclear" lines and a count.
local function names_mode()
  env = make_env()
  local calls = 0
  for _, f in ipairs(A.functions(root)) do
    if not NAMES_SKIP[f.name] then
      local n = f.nparams or 4
      for i = 1, math.max(n, 1) do
        for _, wrong in ipairs { true, coroutine.create(function() end) } do
          local args = {}
          if f.method then args[1] = f.make_self() end
          args[i] = wrong
          do
            local ok, err = pcall(f.fn, table.unpack(args, 1, n))
            calls = calls + 1
            if not ok and not A.names(f, err) then
              print(("@@unclear\t%s\t#%d %s\t%s"):format(f.name, i, type(wrong), oneline(err)))
            end
          end
        end
      end
    end
  end
  print("@@calls\t" .. calls)
end

local function repro(seed, idx)
  FUNCS_LIST = A.functions(root)
  OPTNAMES = option_names()
  local _, src = build_call(seed, idx)
  return PREAMBLE .. src .. "\n"
end

-- A shell command running cmd (which writes to out) in the background: killed (exit 137) when out has not grown
-- for idle seconds, or after total seconds in all (when given); else cmd's own exit status.
local function watchdog(cmd, out, idle, total)
  return ("(%s) & pid=$!; last=-1; still=0; t=0; "
    .. "while kill -0 $pid 2>/dev/null; do sleep 1; t=$((t+1)); s=$(stat -c %%s %s 2>/dev/null || echo 0); "
    .. "if [ \"$s\" = \"$last\" ]; then still=$((still+1)); else still=0; last=$s; fi; "
    .. "if [ $still -ge %d ] || [ $t -ge %d ]; then kill -KILL $pid 2>/dev/null; wait $pid; exit 137; fi; done; "
    .. "wait $pid"):format(cmd, out, idle, total or 1e9)
end

-- Parent: children of per_child calls each until `calls` or `seconds`; classify and report.
local function parent(o)
  local lua = os.getenv("LUA") or "lua5.4"
  local self = absolute(arg[0])
  FUNCS_LIST = A.functions(root)
  OPTNAMES = option_names()
  local t0 = os.time()
  local dir = os.tmpname() -- the children's working folder (t:save('abc') and the like write there)
  os.remove(dir)
  os.execute("mkdir -p " .. dir)
  local stats = { calls = 0, children = 0, crash = 0, hang = 0, unclear = 0, slow = 0 }
  local findings, seen = {}, {}
  local function finding(kind, key, text)
    if seen[key] then seen[key].count = seen[key].count + 1 return end
    local f = { kind = kind, text = text, count = 1 }
    seen[key] = f
    findings[#findings + 1] = f
  end
  local first = 1
  local tmp = os.tmpname()
  while (o.calls == 0 or stats.calls < o.calls) and (o.seconds == 0 or os.time() - t0 < o.seconds) do
    local n = o.per_child
    if o.calls > 0 then n = math.min(n, o.calls - stats.calls) end
    -- a child stops at its timeout, or when the session's time is up (then it is not counted as a hang)
    local left = o.seconds > 0 and math.max(1, o.seconds - (os.time() - t0)) or math.huge
    local limit = o.timeout
    -- memory: ASan children have their allocations capped by ASAN_OPTIONS (make fuzz-api); others get 4 GiB
    local ulimit = os.getenv("MOONLAB_ASAN") and "" or "ulimit -v 4194304; "
    -- the timeout is per call: the child is killed once its output (a line per call) has not grown for `limit`
    -- seconds, so a child may run many calls however long they take together
    local cmd = ("cd %s && %sMOONLAB_ROOT=%s %s %s --child %d %d %d > %s 2>&1"):format(dir, ulimit,
      root, lua, self, o.seed, first, n, tmp)
    local _, _, code = os.execute(watchdog(cmd, tmp, limit, o.seconds > 0 and left + 2 or nil))
    stats.children = stats.children + 1
    local h = io.open(tmp)
    local out = h and h:read("a") or ""
    if h then h:close() end
    local last = first - 1
    for l in out:gmatch("[^\n]+") do
      local i = l:match("^@@(%d+)$")
      if i then last = tonumber(i) end
      local idx, name, msg = l:match("^@@unclear\t(%d+)\t([^\t]+)\t(.*)$")
      if idx then
        stats.unclear = stats.unclear + 1
        local key = name .. "|" .. msg:gsub("0x%x+", "P"):gsub("%-?%d[%d.e+-]*", "N"):sub(1, 160)
        finding("unclear", key, ("%s: %s\n  reproducer: lua5.4 tools/fuzz_api.lua --repro %d %s"):format(name, msg, o.seed, idx))
      end
      local sidx, sname = l:match("^@@slow\t(%d+)\t(.*)$")
      if sidx then
        stats.slow = stats.slow + 1
        finding("slow", "slow|" .. sname, ("%s ran Lua code for more than the call budget\n  reproducer: lua5.4 tools/fuzz_api.lua --repro %d %s"):format(sname, o.seed, sidx))
      end
    end
    local done = out:find("@@done", 1, true) ~= nil
    local ended = o.seconds > 0 and os.time() - t0 >= o.seconds -- the session's time ran out during this child
    if last < first and ended and not done then break end
    if last < first then -- no call started: the child could not start at all
      stats.crash = stats.crash + 1
      finding("crash", "startup", "the fuzz child did not start: " .. oneline(out:sub(1, 400)))
      break
    end
    local sanitizer = out:match("ERROR: AddressSanitizer: [^\n]*") or out:match("[^\n]*runtime error: [^\n]*")
      or out:match("ERROR: LeakSanitizer[^\n]*")
    local killed = code == 137 or code == 124 or (not done and not sanitizer and code == nil)
    if killed and ended then
      -- the session ended while this child ran: not a finding (its last call is not counted)
      last = last - 1
    elseif killed and not (function()
        -- confirm: the call that was running, alone in a fresh child, must time out too (else the child was
        -- merely slow overall and the call is not a hang)
        local c = ("cd %s && %sMOONLAB_ROOT=%s timeout -s KILL %d %s %s --child %d %d 1 > /dev/null 2>&1"):format(dir,
          ulimit, root, o.timeout + 5, lua, self, o.seed, last)
        local _, _, rc = os.execute(c)
        return rc == 137 or rc == 124
      end)() then
      last = last - 1 -- not a hang: continue with the call that was running
    elseif killed then
      stats.hang = stats.hang + 1
      local f = build_call(o.seed, last)
      finding("hang", "hang|" .. f.name .. "|" .. last, ("%s did not return within %d s (call %d)\n  reproducer: lua5.4 tools/fuzz_api.lua --repro %d %d"):format(f.name, o.timeout, last, o.seed, last))
    elseif sanitizer or not done then
      stats.crash = stats.crash + 1
      local f = build_call(o.seed, last)
      local why = sanitizer or (out:match("[^\n]*\n?$") or ("exit " .. tostring(code)))
      finding("crash", "crash|" .. f.name .. "|" .. (sanitizer or ""):gsub("0x%x+", "P"):sub(1, 120),
        ("%s: %s (call %d)\n  reproducer: lua5.4 tools/fuzz_api.lua --repro %d %d"):format(f.name, oneline(why), last, o.seed, last))
    end
    -- calls completed: up to the last started one (a crashed or hung call counts as run)
    stats.calls = stats.calls + (last - first + 1)
    first = last + 1
  end
  os.remove(tmp)
  os.execute("rm -rf " .. dir)
  local lines = {}
  lines[#lines + 1] = ("fuzz_api: seed %d, %d calls in %d children, %d s: %d crashes, %d hangs, %d unclear messages "
    .. "(%d distinct), %d calls over the Lua budget"):format(o.seed, stats.calls, stats.children,
    os.time() - t0, stats.crash, stats.hang, stats.unclear, #findings, stats.slow)
  -- crashes and hangs one by one; unclear messages grouped by function (count, up to 3 distinct examples)
  local groups, order = {}, {}
  for _, f in ipairs(findings) do
    if f.kind == "unclear" then
      local name = f.text:match("^([^:]+:?[%w_]*)")
      name = f.text:match("^([%w_.]+:[%w_]+):") or f.text:match("^([%w_.]+):")
      local g = groups[name]
      if not g then g = { n = 0, ex = {} } groups[name] = g order[#order + 1] = name end
      g.n = g.n + f.count
      if #g.ex < 3 then g.ex[#g.ex + 1] = f.text end
    else
      lines[#lines + 1] = ("[%s x%d] %s"):format(f.kind, f.count, f.text)
    end
  end
  table.sort(order)
  for _, name in ipairs(order) do
    lines[#lines + 1] = ("[unclear x%d] %s"):format(groups[name].n, name)
    for _, e in ipairs(groups[name].ex) do lines[#lines + 1] = "  - " .. e:gsub("\n", "\n  ") end
  end
  local text = table.concat(lines, "\n") .. "\n"
  io.write(text)
  if o.report then
    local h = assert(io.open(o.report, "w"))
    h:write(text)
    h:close()
  end
  if o.max_unclear >= 0 and stats.unclear > o.max_unclear then
    io.write(("fuzz_api: %d unclear messages, more than the %d allowed (--max-unclear)\n"):format(stats.unclear,
      o.max_unclear))
    return false
  end
  return stats.crash + stats.hang == 0
end

-- ---- command line ----
local o = { seed = 1, calls = 0, seconds = 0, per_child = 20000, timeout = 60, max_unclear = -1 }
local i = 1
while i <= #arg do
  local a = arg[i]
  if a == "--child" then
    FUNCS_LIST = nil
    child(tonumber(arg[i + 1]), tonumber(arg[i + 2]), tonumber(arg[i + 3]))
    os.exit(0)
  elseif a == "--names" then
    names_mode()
    os.exit(0)
  elseif a == "--repro" then
    io.write(repro(tonumber(arg[i + 1]), tonumber(arg[i + 2])))
    os.exit(0)
  elseif a == "--seed" then o.seed = tonumber(arg[i + 1]) i = i + 1
  elseif a == "--calls" then o.calls = tonumber(arg[i + 1]) i = i + 1
  elseif a == "--seconds" then o.seconds = tonumber(arg[i + 1]) i = i + 1
  elseif a == "--per-child" then o.per_child = tonumber(arg[i + 1]) i = i + 1
  elseif a == "--timeout" then o.timeout = tonumber(arg[i + 1]) i = i + 1
  elseif a == "--max-unclear" then o.max_unclear = tonumber(arg[i + 1]) i = i + 1
  elseif a == "--report" then o.report = arg[i + 1] i = i + 1
  else
    io.stderr:write("fuzz_api: unknown argument " .. a .. "\n")
    os.exit(2)
  end
  i = i + 1
end
if o.calls == 0 and o.seconds == 0 then o.calls = 2000 end
os.exit(parent(o) and 0 or 1)
