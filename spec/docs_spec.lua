-- Every ```lua block in README.md and docs/*.md runs as written (in a scratch folder), so the docs stay
-- true to the code.
local root = os.getenv("MOONLAB_ROOT") or "."

local function blocks()
  local files = { root .. "/README.md" }
  local p = io.popen("ls " .. root .. "/docs/*.md")
  for f in p:lines() do files[#files + 1] = f end
  p:close()
  local out = {}
  for _, f in ipairs(files) do
    local h = assert(io.open(f))
    local s = h:read("a")
    h:close()
    local k = 0
    for code in s:gmatch("```lua\n(.-)```") do
      k = k + 1
      out[#out + 1] = { name = f:match("[^/]+$") .. " block " .. k, code = code }
    end
  end
  return out
end

describe("docs examples", function()
  for _, b in ipairs(blocks()) do
    it(b.name .. " runs", function()
      local dir = os.tmpname()
      os.remove(dir)
      assert.is_true(os.execute("mkdir -p " .. dir))
      local h = assert(io.open(dir .. "/example.lua", "w"))
      h:write(b.code)
      h:close()
      local p = io.popen(("cd %s && lua5.4 example.lua 2>&1"):format(dir))
      local out = p:read("a")
      local ok = p:close()
      os.execute("rm -rf " .. dir)
      assert.is_true(ok, b.name .. " failed:\n" .. out)
    end)
  end
end)

describe("docs citations", function()
  it("no page cites 'REFERENCE §n' (a file users do not have): papers and their sections instead", function()
    local p = io.popen(("grep -n 'REFERENCE' %s/README.md %s/docs/*.md 2>&1"):format(root, root))
    local out = p:read("a")
    p:close()
    assert.are.equal("", out)
  end)
end)
