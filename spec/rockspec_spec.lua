-- The rockspec builds and installs offline into a fresh tree, and the tree alone serves `require "moonlab"`.
local root = os.getenv("MOONLAB_ROOT") or "."

local sh = require("spec.helpers.shell").sh

-- Packaging specs run in the plain build only (they are not a memory check).
local function packaging_skipped()
  if os.getenv("MOONLAB_ASAN") then
    pending("skipped under AddressSanitizer (packaging is not a memory check)")
    return true
  end
end

-- make install DESTDIR=<fresh temporary folder> PREFIX=prefix -> that folder, ok, output
local function install_under(prefix)
  local dest = os.tmpname()
  os.remove(dest)
  local ok, out = sh(("cd %s && make -s install DESTDIR=%s PREFIX=%s"):format(root, dest, prefix))
  return dest, ok, out
end

describe("rockspec/moonlab-scm-1.rockspec", function()
  it("installs with luarocks make into a temporary tree and loads from there", function()
    if packaging_skipped() then return end
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
    -- help() finds the docs the rock installs (share/lua/5.4/moonlab/docs/)
    local ok3, out3 = sh(("cd /tmp && env -u LUA_PATH -u LUA_CPATH -u MOONLAB_DOCS lua5.4 -e \"package.path='%s/share/lua/5.4/?.lua;"
      .. "%s/share/lua/5.4/?/init.lua'; package.cpath='%s/lib/lua/5.4/?.so'; local h = require 'moonlab.help'; "
      .. "print(h.docs_dir()); print(h.text('attn.sdpa'))\""):format(tree, tree, tree))
    assert.is_true(ok3, out3)
    assert.matches(tree .. "/share/lua/5.4/moonlab/docs/", out3, 1, true)
    assert.matches("### attn.sdpa(q, k, v, opts)", out3, 1, true)
    sh("rm -rf " .. tree)
  end)

  it("make install PREFIX=/usr/local puts files where Debian's lua5.4 and pkg-config look by default", function()
    if packaging_skipped() then return end
    local dest, ok, out = install_under("/usr/local")
    assert.is_true(ok, out)
    for _, f in ipairs { "/usr/local/lib/libmoonlab.a", "/usr/local/lib/libmoonlab.so",
      "/usr/local/lib/pkgconfig/moonlab.pc", "/usr/local/include/moonlab/tensor.h",
      "/usr/local/include/moonlab/moonlab.h", "/usr/local/bin/moonlab", "/usr/local/share/doc/moonlab/tensor.md" } do
      local h = io.open(dest .. f)
      assert.is_truthy(h, "missing " .. f)
      h:close()
    end
    -- lua5.4's own default search paths, moved under DESTDIR, find both modules
    local ok2, out2 = sh(("env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 lua5.4 -e "
      .. "\"local d = '%s'; print(package.searchpath('moonlab', (package.path:gsub('/usr/local/', d .. '/usr/local/'))), "
      .. "package.searchpath('moonlab.core', (package.cpath:gsub('/usr/local/', d .. '/usr/local/'))))\""):format(dest))
    assert.is_true(ok2, out2)
    assert.matches(dest .. "/usr/local/share/lua/5.4/moonlab/init.lua\t" .. dest .. "/usr/local/lib/lua/5.4/moonlab/core.so",
      out2, 1, true)
    -- the installed moonlab.pc (prefix moved under DESTDIR) builds the README's program
    local app = os.tmpname()
    local h = assert(io.open(app .. ".c", "w"))
    h:write('#include <moonlab/moonlab.h>\n#include <stdio.h>\nint main(void) { printf("%s\\n", ML_VERSION); '
      .. 'return ml_tensor_new(ML_F32, 1, (int64_t[]){3}) == NULL; }\n')
    h:close()
    local ok3, out3 = sh(("PKG_CONFIG_PATH=%s/usr/local/lib/pkgconfig cc %s.c -o %s $(PKG_CONFIG_PATH=%s/usr/local/lib/pkgconfig "
      .. "pkg-config --define-variable=prefix=%s/usr/local --cflags --libs moonlab) && %s"):format(dest, app, app, dest, dest, app))
    os.remove(app .. ".c")
    os.remove(app)
    assert.is_true(ok3, out3)
    assert.matches("^%d+%.%d+%.%d+\n$", out3)
    sh("rm -rf " .. dest)
  end)

  it("make install to another PREFIX works with exactly the LUA_PATH/LUA_CPATH the README gives, help included", function()
    if packaging_skipped() then return end
    local dest, ok, out = install_under("/opt/moonlab")
    assert.is_true(ok, out)
    assert.matches("LUA_CPATH='/opt/moonlab/lib/lua/5.4/?.so;;'", out, 1, true) -- make install prints the paths
    local h = assert(io.open(root .. "/README.md"))
    local readme = h:read("a")
    h:close()
    local exports = assert(readme:match("For any other prefix set the two paths.-```sh\n(.-)```"), "README paths")
    local prefix = dest .. "/opt/moonlab"
    local ok2, out2 = sh(("cd /tmp && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u MOONLAB_DOCS "
      .. "PREFIX=%s sh -c '%s lua5.4 -e \"local ml = require [[moonlab]]; print(ml.version, ml.tensor.arange(4):sum(), "
      .. "(require [[moonlab.help]].text([[T.linspace]]):match([[^[^\n]*]])))\"'"):format(prefix, exports:gsub("\n", "; ")))
    assert.is_true(ok2, out2)
    assert.matches("0.1.0\t6.0\t### tensor.linspace(start, stop, n, [dtype])", out2, 1, true)
    sh("rm -rf " .. dest)
  end)
end)
