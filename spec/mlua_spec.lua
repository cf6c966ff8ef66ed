-- The shared binding helpers (csrc/lua/mlua*.c) through a small test program (spec/c/mlua_test.c)
-- built with AddressSanitizer + UBSan and linked with the build's moonlab.core: tensor pins against
-- t:close() in callbacks, callback errors (__tostring objects, long nested texts), option flags and
-- the anchoring copy, public names on allocation failures, "nan" in messages.
local root = os.getenv("MOONLAB_ROOT") or "."
local build = os.getenv("MOONLAB_BUILD") or (root .. "/build")

local exe
local shell = require "spec.helpers.shell"
local sh, sh_file = shell.sh, shell.sh_file

local function setup()
  if exe then return exe end
  exe = os.tmpname()
  local cmd = ("cc -std=c11 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -I%s/csrc/include "
    .. "-I%s/csrc/lua -I/usr/include/lua5.4 %s/spec/c/mlua_test.c %s/lua/moonlab/core.so -Wl,-rpath,%s/lua/moonlab "
    .. "-llua5.4 -lm -o %s"):format(root, root, root, build, build, exe)
  local ok, out = sh(cmd)
  assert(ok, "building spec/c/mlua_test.c failed:\n" .. out)
  return exe
end

-- Runs Lua code inside the test program (globals: test.*); returns ok, output.
local function run(code)
  return sh_file(code, function(f)
    return ("env -u LD_PRELOAD ASAN_OPTIONS=detect_leaks=0 LUA_PATH='%s/lua/?.lua;%s/lua/?/init.lua' %s %s")
      :format(root, root, setup(), f)
  end)
end

teardown(function() if exe then os.remove(exe) end end)

describe("mlL_pin", function()
  it("keeps a tensor's data alive while a callback closes it and collects garbage", function()
    local ok, out = run [[
      local T = require "moonlab.tensor"
      local t = T.linspace(1, 10, 10)
      local s = test.pinned_sum(t, function() t:close(); collectgarbage(); collectgarbage() end)
      print("sum", s, tostring(t))
      local u = T.linspace(1, 4, 4):reshape{2, 2}   -- an alias: pinned through the shared storage
      print("sum2", test.pinned_sum(u, function() u:close(); collectgarbage() end))
    ]]
    assert.is_true(ok, out)
    assert.matches("sum\t55%.0\ttensor %(closed%)", out)
    assert.matches("sum2\t10%.0", out)
  end)

  it("releases the pin when the callback raises, and refuses a closed tensor by name", function()
    local ok, out = run [[
      local T = require "moonlab.tensor"
      local t = T.linspace(1, 10, 10)
      local ok, e = pcall(test.pinned_error, t, function() t:close(); collectgarbage(); error("boom") end)
      print("err", ok, e)
      collectgarbage()
      print("closed", pcall(test.pinned_sum, t, function() end))
    ]]
    assert.is_true(ok, out)
    assert.matches("err\tfalse\t[^\n]*boom", out)
    assert.matches("closed\tfalse\ttest.pinned_sum: bad argument #1 't': tensor was closed", out, 1, true)
  end)
end)

describe("mlL_callback_error", function()
  it("turns error objects with __tostring into their text and keeps long nested messages whole", function()
    local ok, out = run [[
      local obj = setmetatable({}, { __tostring = function() return "custom error object" end })
      print("obj", pcall(test.callback, function() error(obj) end, 2))
      print("tbl", pcall(test.callback, function() error({}) end, 3))
      print("bad", pcall(test.callback, function() error(setmetatable({}, { __tostring = function() error("x") end })) end, 4))
      local long = ("L"):rep(1000) .. " root cause"
      -- nested: a callback whose error comes from another failing call with a callback
      local ok, e = pcall(test.callback, function(x)
        return test.callback(function() error(long, 0) end, x + 1)
      end, 1)
      print("nested", #e, e:sub(1, 80), e:sub(-40))
    ]]
    assert.is_true(ok, out)
    assert.matches("obj\tfalse\ttest.callback: F raised an error at s = 2: custom error object", out, 1, true)
    assert.matches("tbl\tfalse\ttest.callback: F raised an error at s = 3: (error object is a table value)", out, 1, true)
    assert.matches("bad\tfalse\ttest.callback: F raised an error at s = 4: (error object is a table value whose __tostring failed)", out, 1, true)
    assert.matches("nested\t%d+\ttest.callback: F raised an error at s = 1: test.callback: F ra", out)
    assert.matches("LLLLLLLLLLLLLLLLLLLLLLLLLLLL root cause", out, 1, true)
    local n = tonumber(out:match("nested\t(%d+)"))
    assert.is_true(n > 1000, "nested message cut to " .. n)
  end)
end)

describe("mlL_opts", function()
  it("reads flags: required (missing, not 'got 0'), finite, positive, 32-bit integers", function()
    local ok, out = run [[
      print(pcall(test.opts, {}))
      print(pcall(test.opts, nil))
      print(pcall(test.opts, { n = 2^32 + 8 }))
      print(pcall(test.opts, { n = 1, x = 0/0 }))
      print(pcall(test.opts, { n = 1, x = -math.huge }))
      print(pcall(test.opts, { n = 1, pos = 0 }))
      print(pcall(test.opts, { n = 2.5 }))
      print(pcall(test.opts, { n = 1, e = "three" }))
      print(pcall(test.opts, { n = 1, ee = "one" }))
      print("good", test.opts({ n = 3, x = 1.5, s = "str", e = "two", raw = "r" }))
    ]]
    assert.is_true(ok, out)
    for _, line in ipairs {
      "false\ttest.opts: missing required option 'n'\n",
      "false\ttest.opts: missing required option 'n'\n",
      "false\ttest.opts: option 'n' = 4294967304 is out of range (at most 2147483647)",
      "false\ttest.opts: option 'x' must be a finite number, got nan",
      "false\ttest.opts: option 'x' must be a finite number, got -inf",
      "false\ttest.opts: option 'pos' must be a finite number > 0, got 0",
      "false\ttest.opts: option 'n' must be an integer, got 2.5",
      "false\ttest.opts: option 'e' = 'three' is not one of 'one', 'two'",
      "false\tunknown option 'ee' to test.opts (did you mean 'e'?)",
      "good\t3\t1.5\tstr\t1\tr",
    } do
      assert.matches(line, out, 1, true)
    end
  end)

  it("anchors values fetched through __index (a fresh string, a skipped key) for the whole call", function()
    local ok, out = run [[
      local p = setmetatable({}, { __index = function(_, k)
        collectgarbage()
        if k == "n" then return 4 elseif k == "s" then return ("x"):rep(30) .. tostring(math.random())
        elseif k == "raw" then return { 1, 2 } end
      end })
      local n, x, s, e, raw = test.opts(p)
      print("proxy", n, #s, type(raw), raw[2])
    ]]
    assert.is_true(ok, out)
    assert.matches("proxy\t4\t%d+\ttable\t2", out)
  end)
end)

describe("mlL_check* argument helpers", function()
  it("name the public function, the argument, the expectation and the value given", function()
    local ok, out = run [[
      print(test.checks(3, 1.5, "s"))
      print(pcall(test.checks, 65, 1, "s"))
      print(pcall(test.checks, 2.5, 1, "s"))
      print(pcall(test.checks, 1, 0/0, "s"))
      print(pcall(test.checks, 1, 1, {}))
      print(pcall(test.checks, 1, 1, "s", 2^63))
      print(pcall(test.checks, 1, 1))
    ]]
    assert.is_true(ok, out)
    for _, line in ipairs {
      "3 1.5 s -7\n",
      "false\ttest.checks: bad argument #1 'n': expected an integer in 1..64, got 65",
      "false\ttest.checks: bad argument #1 'n': expected an integer in 1..64, got 2.5",
      "false\ttest.checks: bad argument #2 'x': expected a finite number, got nan",
      "false\ttest.checks: bad argument #3 's': expected a string, got table",
      "false\ttest.checks: bad argument #4 'm': expected an integer, got 9.2233720368548e+18",
      "false\ttest.checks: bad argument #3 's': expected a string, got no value",
    } do
      assert.matches(line, out, 1, true)
    end
  end)
end)

describe("public names", function()
  it("allocation failures from mlL_newtensor name the public function the user called", function()
    local ok, out = run [[
      print(pcall(test.alloc, 2^62))                 -- not published yet: a neutral prefix
      print("where", test.where())
      package.loaded["moonlab.testmod"] = { alloc = test.alloc, where = test.where }
      local M = package.loaded["moonlab.testmod"]
      print(pcall(M.alloc, 2^62))
      print("where", M.where(), (function() local r = M.where(); return r end)())
      local T = require "moonlab.tensor"
      print("method", pcall(T.Tensor.methods.clone, 5))
    ]]
    assert.is_true(ok, out)
    assert.matches("false\ttestmod.alloc: cannot allocate", out, 1, true)
    assert.matches("false\tmoonlab: cannot allocate", out, 1, true)
    assert.matches("where\tnil\n", out, 1, true)
    assert.matches("where\ttestmod.where\ttestmod.where", out, 1, true)
    assert.matches("method\tfalse\ttensor:clone: bad argument #1 'self'", out, 1, true)
  end)

  it("real functions: out-of-memory clone, arithmetic and astype name tensor:clone, tensor:add, ...", function()
    if os.getenv("MOONLAB_ASAN") then
      -- ASan cannot run under an address-space limit; cap single allocations instead: a 192 MiB f32 tensor
      -- fits, its 384 MiB f64 copy does not
      local ok, out = sh(("env ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:max_allocation_size_mb=256 "
        .. "LUA_PATH='%s/lua/?.lua' LUA_CPATH='%s/lua/?.so' lua5.4 -e \"local T = require 'moonlab.tensor'; "
        .. "local t = T.zeros({48 * 1024 * 1024}, 'f32'); print(pcall(t.astype, t, 'f64'))\""):format(root, build))
      assert.is_true(ok, out)
      assert.matches("false\ttensor:astype: out of memory", out, 1, true)
      return
    end
    -- a 768 MiB tensor, then copies of it under a 1.4 GB address-space limit
    local ok, out = sh(("ulimit -v 1400000; env LUA_PATH='%s/lua/?.lua' LUA_CPATH='%s/lua/?.so' lua5.4 -e "
      .. "\"local T = require 'moonlab.tensor'; local t = T.zeros({96 * 1024 * 1024}); "
      .. "print(pcall(t.clone, t)); print(pcall(function() return t + 1 end)); print(pcall(t.astype, t, 'f64'))\"")
      :format(root, build))
    assert.is_true(ok, out)
    assert.matches("false\ttensor:clone: out of memory allocating 100663296 elements of f64", out, 1, true)
    assert.matches("false\ttensor:add: out of memory", out, 1, true)
    assert.matches("false\ttensor:astype: out of memory", out, 1, true)
  end)

  it("mlL_error prints NaN as nan, never -nan", function()
    local ok, out = run [[
      print(pcall(test.errfmt, -(0/0), "a-nanny"))
      print(pcall(test.errfmt, 0/0))
    ]]
    assert.is_true(ok, out)
    assert.matches("test.errfmt: got nan and a-nanny\n", out, 1, true)
    assert.not_matches("-nan", out:gsub("a%-nanny", ""), 1, true)
  end)
end)
