-- The rockspec builds and installs offline into a fresh tree, and the tree alone serves `require "moonlab"`.
local root = os.getenv("MOONLAB_ROOT") or "."

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

describe("rockspec/moonlab-scm-1.rockspec", function()
  it("installs with luarocks make into a temporary tree and loads from there", function()
    if os.getenv("MOONLAB_ASAN") then
      pending("skipped under AddressSanitizer (packaging is not a memory check)")
      return
    end
    local tree = os.tmpname()
    os.remove(tree)
    local ok, out = sh(("cd %s && luarocks --lua-version=5.4 --tree=%s make rockspec/moonlab-scm-1.rockspec"):format(root, tree))
    assert.is_true(ok, out)
    assert.matches("moonlab scm%-1 is now installed", out)
    -- a clean environment: only the tree's paths, run from another folder
    local check = ("cd /tmp && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 lua5.4 -e "
      .. "\"package.path='%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua'; package.cpath='%s/lib/lua/5.4/?.so'; "
      .. "local ml = require 'moonlab'; print(ml.version, package.searchpath('moonlab.core', package.cpath), "
      .. "ml.tensor.arange(4):sum())\""):format(tree, tree, tree)
    local ok2, out2 = sh(check)
    assert.is_true(ok2, out2)
    assert.matches("0%.1%.0\t" .. tree:gsub("%p", "%%%0") .. "/lib/lua/5%.4/moonlab/core%.so\t6", out2)
    sh("rm -rf " .. tree)
  end)

  it("make install puts the library, headers, Lua modules, REPL and docs under PREFIX", function()
    if os.getenv("MOONLAB_ASAN") then
      pending("skipped under AddressSanitizer (packaging is not a memory check)")
      return
    end
    local dest = os.tmpname()
    os.remove(dest)
    local ok, out = sh(("cd %s && make -s install DESTDIR=%s PREFIX=/usr/local"):format(root, dest))
    assert.is_true(ok, out)
    for _, f in ipairs { "/usr/local/lib/libmoonlab.a", "/usr/local/lib/libmoonlab.so",
      "/usr/local/include/moonlab/tensor.h", "/usr/local/include/moonlab/moonlab.h",
      "/usr/local/share/lua/5.4/moonlab/init.lua", "/usr/local/lib/x86_64-linux-gnu/lua/5.4/moonlab/core.so",
      "/usr/local/bin/moonlab", "/usr/local/share/doc/moonlab/tensor.md" } do
      local h = io.open(dest .. f)
      assert.is_truthy(h, "missing " .. f)
      h:close()
    end
    sh("rm -rf " .. dest)
  end)
end)
