-- The umbrella module: require "moonlab" gives every module of lua/moonlab/ (lazily, new ones included),
-- version/info/threads; unknown fields are nil rather than errors.
local root = os.getenv("MOONLAB_ROOT") or "."
local ml = require "moonlab"

describe("moonlab (umbrella)", function()
  it("exposes every lua/moonlab/<name>.lua as ml.<name>, the same table require returns", function()
    local p = io.popen("ls " .. root .. "/lua/moonlab/*.lua")
    local n = 0
    for f in p:lines() do
      local name = f:match("([%w_]+)%.lua$")
      if name ~= "init" then
        n = n + 1
        assert.are.equal(require("moonlab." .. name), ml[name], name)
      end
    end
    p:close()
    assert.is_true(n >= 8)
    assert.is_nil(ml.no_such_module)
    assert.is_nil(ml.core) -- the C module is internal
  end)

  it("version, info and thread count", function()
    assert.matches("^%d+%.%d+%.%d+$", ml.version)
    local i = ml.info()
    assert.are.equal(ml.version, i.version)
    assert.matches("moonlab " .. ml.version:gsub("%.", "%%.") .. " on Lua 5%.4", tostring(i))
    local before = ml.get_threads()
    ml.set_threads(1)
    assert.are.equal(1, ml.get_threads())
    ml.set_threads(before)
    assert.has_error(function() ml.set_threads(0) end,
      "moonlab.set_threads: bad argument #1 'n': expected an integer in 1..4096, got 0")
  end)
end)
