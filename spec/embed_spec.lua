-- Embedding from C: examples/embed.c, the README's program built with exactly the README's pkg-config line,
-- the umbrella header (includes every public header), and every public header compiling as C and as C++.
local root = os.getenv("MOONLAB_ROOT") or "."
local build = os.getenv("MOONLAB_BUILD") or "build"
local build_abs = build:sub(1, 1) == "/" and build or (root .. "/" .. build)
local asan = os.getenv("MOONLAB_ASAN") ~= nil

local shell = require "spec.helpers.shell"
local sh = shell.sh

local function readme_section(title)
  local h = assert(io.open(root .. "/README.md"))
  local s = h:read("a")
  h:close()
  return s:match("\n## " .. title .. "\n(.-)\n## ")
end

local function headers()
  local list = {}
  local p = io.popen("ls " .. root .. "/csrc/include/moonlab/*.h")
  for f in p:lines() do list[#list + 1] = f:match("[^/]+$") end
  p:close()
  return list
end

describe("examples/embed.c", function()
  it("calls the C API and runs a moonlab script in an embedded Lua state", function()
    local p = io.popen(build .. "/embed 2>&1")
    local out = p:read("a")
    local ok, _, code = p:close()
    assert.is_true(ok, "embed exited with " .. tostring(code) .. ":\n" .. out)
    assert.matches("ok   matmul matches a triple loop", out, 1, true)
    assert.matches("message: matmul: cannot multiply [3,4] by [3,4]", out, 1, true)
    assert.matches("lua: moonlab %d+%.%d+%.%d+, sum of squares 1%.8750", out)
    assert.matches("embed: 0 failures", out, 1, true)
  end)

  it("reports a failing script with a non-zero exit", function()
    local ok, out = shell.sh_file("require 'moonlab'.tensor.zeros{-1}\n",
      function(f) return build .. "/embed " .. f end)
    assert.is_falsy(ok)
    assert.matches("FAIL lua: .*tensor.zeros: bad argument #1 'shape': size 1 must be positive", out)
  end)
end)

describe("README: Embedding from C", function()
  it("builds and runs the README's app.c with exactly the README's pkg-config line", function()
    if asan then pending("skipped under AddressSanitizer (the README links the plain build)") return end
    local sec = assert(readme_section("Embedding from C"), "README has no 'Embedding from C' section")
    local app = assert(sec:match("```c\n(/%* app%.c %*/.-)```"), "no app.c block")
    local shblock = assert(sec:match("```sh\n(.-)```"), "no sh block")
    local ccline = assert(shblock:match("(cc app%.c [^\n]*%))"), "no cc line")
    assert.are.equal("cc app.c $(pkg-config --cflags --libs moonlab)", ccline)
    local expect = shblock:match("%./a%.out%s*#%s*([^\n]+)")
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    local h = assert(io.open(dir .. "/app.c", "w"))
    h:write(app)
    h:close()
    local ok, out = sh(("cd %s && export PKG_CONFIG_PATH=%s && %s && ./a.out"):format(dir, build_abs, ccline))
    os.execute("rm -rf " .. dir)
    assert.is_true(ok, out)
    assert.are.equal(expect, out:match("^(.-)\n"))
  end)
end)

describe("public headers", function()
  it("moonlab/moonlab.h includes every header in csrc/include/moonlab", function()
    local h = assert(io.open(root .. "/csrc/include/moonlab/moonlab.h"))
    local umbrella = h:read("a")
    h:close()
    local missing = {}
    for _, f in ipairs(headers()) do
      if f ~= "moonlab.h" and not umbrella:find('#include "moonlab/' .. f .. '"', 1, true) then missing[#missing + 1] = f end
    end
    assert.are.same({}, missing)
  end)

  it("every public header compiles on its own as C11, and all of them as C++ (g++, clang++), warning-free", function()
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    local failures = {}
    local function compile(cc, src, code)
      local h = assert(io.open(src, "w"))
      h:write(code)
      h:close()
      local ok, out = sh(("%s -Wall -Wextra -Werror -I%s/csrc/include -c %s -o %s.o"):format(cc, root, src, src))
      if not ok then failures[#failures + 1] = src:match("[^/]+$") .. " with " .. cc .. ":\n" .. out end
    end
    local all = {}
    for _, f in ipairs(headers()) do
      local inc = ('#include "moonlab/%s"\n'):format(f)
      all[#all + 1] = inc
      -- twice: include guards; alone: the header includes what it needs
      compile("gcc -std=c11", ("%s/t_%s.c"):format(dir, f:gsub("%.h$", "")), inc .. inc .. "int main(void) { return 0; }\n")
    end
    local cxx = table.concat(all) .. "int main() { ml_tensor *t = ml_tensor_new(ML_F32, 1, (const int64_t[]){2}); "
      .. "ml_tensor_free(t); return 0; }\n"
    compile("g++ -std=c++17", dir .. "/all_gxx.cpp", cxx)
    if os.execute("command -v clang++ > /dev/null 2>&1") then -- clang comes with make deps-fuzz only
      compile("clang++ -std=c++17", dir .. "/all_clang.cpp", cxx)
    else
      print("\nembed_spec: clang++ not installed (make deps-fuzz installs it): C++ headers checked with g++ only")
    end
    if not asan and #failures == 0 then -- linking proves the extern "C" linkage (a C++ name would not resolve)
      local ok, out = sh(("cd %s && PKG_CONFIG_PATH=%s g++ all_gxx.cpp.o -o all_gxx $(PKG_CONFIG_PATH=%s pkg-config --libs moonlab) "
        .. "&& ./all_gxx"):format(dir, build_abs, build_abs))
      if not ok then failures[#failures + 1] = "linking C++ against libmoonlab:\n" .. out end
    end
    os.execute("rm -rf " .. dir)
    assert.are.same({}, failures)
  end)
end)

describe("docs/c-api.md", function()
  it("every C example compiles with the pkg-config line of the page and prints the documented results", function()
    if asan then pending("skipped under AddressSanitizer (the examples link the plain build)") return end
    local h = assert(io.open(root .. "/docs/c-api.md"))
    local page = h:read("a")
    h:close()
    local ccline = assert(page:match("\n(cc app%.c %$%(pkg%-config %-%-cflags %-%-libs moonlab%))\n"))
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    local outs, n = {}, 0
    for code in page:gmatch("```c\n(.-)```") do
      n = n + 1
      local f = assert(io.open(dir .. "/app.c", "w"))
      f:write(code)
      f:close()
      local ok, out = sh(("cd %s && export PKG_CONFIG_PATH=%s && %s -Wall -Werror && ./a.out"):format(dir, build_abs, ccline))
      assert.is_true(ok, ("example %d failed:\n%s\n%s"):format(n, code, out))
      outs[n] = out
    end
    os.execute("rm -rf " .. dir)
    assert.is_true(n >= 4, "expected one example per landed core")
    assert.matches("c = [6 6; 15 15]\nML_EINVAL: matmul: cannot multiply", outs[1], 1, true)
    local lse, expect = outs[2]:match("lse%[0%] = ([%d.-]+) %(expected ([%d.-]+)%), out%[0%] = v%[0%]: yes")
    assert.is_truthy(lse, outs[2])
    assert.near(tonumber(expect), tonumber(lse), 1e-4)
    for t, f, ex in outs[3]:gmatch("f%(([%d.]+)%) = ([%d.]+) %(exact ([%d.]+)%)") do
      assert.near(tonumber(ex), tonumber(f), 1e-9)
    end
    assert.matches("f(4) =", outs[3], 1, true)
    local mass, mean = outs[4]:match("mass ([%d.]+), mean ([%d.]+)")
    assert.near(1, tonumber(mass), 1e-6)
    assert.near(3.025, tonumber(mean), 1e-3) -- 1 + Da for the transport, plus half the 0.05 pulse
  end)
end)
