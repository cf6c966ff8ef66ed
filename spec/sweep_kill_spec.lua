-- Exactly-once under kill -9: a sweep is started in the background and killed (the parent, or a worker then the
-- parent) at pseudo-random moments, several times; a final run completes it. Every configuration must then be in
-- the store exactly once, with the result computed independently here.
local sweep = require "moonlab.sweep"
local store = require "moonlab.store"
local proc = require("moonlab.core").proc

local DRIVER = [[
local sweep = require "moonlab.sweep"
local proc = require("moonlab.core").proc
local g = {}
for i = 1, 8 do g[i] = i end
sweep.run { name = "kill", params = { grid = { a = g, b = { 1, 2, 3, 4, 5 } } }, repeats = 3, seed = 5,
  store = arg[1], workers = 2, quiet = true,
  fn = function(c, ctx)
    proc.sleep(0.01 + (ctx.seed % 16) * 0.002)
    return { v = c.a * 100 + c.b, rep = ctx.rep }
  end }
]]

local function children(pid)
  local f = io.open(("/proc/%d/task/%d/children"):format(pid, pid))
  local out = {}
  if f then
    for p in f:read("a"):gmatch("%d+") do out[#out + 1] = tonumber(p) end
    f:close()
  end
  return out
end

local function alive(pid)
  local f = io.open(("/proc/%d/stat"):format(pid))
  if not f then return false end
  local st = f:read("a"):match("^%d+ %b() (%a)")
  f:close()
  return st ~= nil and st ~= "Z"
end

describe("sweep.run under kill -9", function()
  it("ends with every configuration in the store exactly once with its correct result", function()
    local base = os.tmpname()
    local db, script = base .. ".db", base .. ".lua"
    local h = assert(io.open(script, "w"))
    h:write(DRIVER)
    h:close()
    local lua = "lua5.4"
    local rnd = 12345
    local function uniform()
      rnd = (rnd * 1103515245 + 12345) % 2147483648
      return rnd / 2147483648
    end
    local counts = {}
    for round = 1, 6 do
      local p = io.popen(("%s %s %s >/dev/null 2>&1 & echo $!"):format(lua, script, db))
      local pid = tonumber(p:read("l"))
      p:close()
      proc.sleep(0.08 + 0.2 * uniform())
      if round % 2 == 0 then
        local kids = children(pid)
        if #kids > 0 then proc.kill(kids[1 + math.floor(uniform() * #kids)], 9) end
        proc.sleep(0.05 + 0.1 * uniform())
      end
      -- round 3 interrupts with SIGINT (Ctrl-C), the others with SIGKILL
      if alive(pid) then proc.kill(pid, round == 3 and 2 or 9) end
      for _ = 1, 200 do
        if not alive(pid) then break end
        proc.sleep(0.01)
      end
      local S = store.open(db)
      counts[round] = #S:runs { name = "kill", tensors = false }
      S:close()
    end
    if os.getenv("MOONLAB_VERBOSE") then print("rows after each kill: " .. table.concat(counts, ",")) end
    assert.is_true(os.execute(("%s %s %s"):format(lua, script, db)))
    local S = store.open(db)
    local runs = S:runs { name = "kill" }
    S:close()
    local seen = {}
    for _, r in ipairs(runs) do
      local id = ("%d/%d/%d"):format(r.config.a, r.config.b, r.rep)
      assert.is_nil(seen[id], "run " .. id .. " stored twice")
      seen[id] = true
      assert.equal("ok", r.status)
      assert.equal(r.config.a * 100 + r.config.b, r.metrics.v)
      assert.equal(r.rep, r.metrics.rep)
      assert.equal(sweep.derived_seed(5, r.key), r.seed)
    end
    assert.equal(120, #runs)
    -- the kills did interrupt the sweep (the store grew over the rounds)
    assert.is_true(counts[#counts] < 120, "the first kill came after the sweep had finished: " .. table.concat(counts, ","))
    for _, s in ipairs { "", "-wal", "-shm", ".lua" } do os.remove((s == ".lua" and base or db) .. s) end
    os.remove(base)
  end)
end)
