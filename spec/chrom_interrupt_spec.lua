-- Ctrl-C during a long C call (issue #8): a child lua5.4 runs chrom.solve_fd{nx = 6400} (about 30 s
-- of work), receives SIGINT after 1.5 s and must exit with a "chrom.solve_fd: interrupted" error
-- within ~2 s; the same for a Laplace inversion of a slow Lua F.
local function run_and_interrupt(code)
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p " .. dir)
  local f = assert(io.open(dir .. "/job.lua", "w"))
  f:write(code)
  f:close()
  local script = ([[
lua5.4 %s/job.lua >%s/out 2>%s/err & pid=$!
sleep 1.5
s=$(date +%%s.%%N)
kill -INT $pid
wait $pid
rc=$?
e=$(date +%%s.%%N)
echo "$rc $s $e" >%s/res
]]):format(dir, dir, dir, dir)
  os.execute("sh -c '" .. script .. "'")
  local function slurp(name)
    local h = io.open(dir .. "/" .. name)
    local s = h and h:read("a") or ""
    if h then h:close() end
    return s
  end
  local res, out, err = slurp("res"), slurp("out"), slurp("err")
  os.execute("rm -rf " .. dir)
  local rc, s, e = res:match("(%d+) (%S+) (%S+)")
  return tonumber(rc), tonumber(e) - tonumber(s), out, err
end

describe("Ctrl-C", function()
  it("interrupts chrom.solve_fd{nx = 6400} within about a second", function()
    local rc, secs, out, err = run_and_interrupt([[
local chrom = require "moonlab.chrom"
local col = chrom.column { Da = 40, kappa = 20 }
print("started")
io.stdout:flush()
chrom.solve_fd(col, { nx = 6400, quiet = true })
print("finished")
]])
    assert.truthy(out:find("started", 1, true), out .. err)
    assert.falsy(out:find("finished", 1, true))
    assert.truthy(err:find("chrom.solve_fd: interrupted", 1, true), err)
    assert.is_true(rc ~= 0)
    assert.is_true(secs < 2.0, ("took %.2f s to stop"):format(secs))
  end)
  it("interrupts a long laplace.invert_many of a Lua F", function()
    local rc, secs, out, err = run_and_interrupt([[
local T = require "moonlab.tensor"
local L = require "moonlab.laplace"
local function F(re, im) local x = 0 for i = 1, 200 do x = x + i end local d = (re + 1)^2 + im^2 return (re + 1)/d, -im/d end
print("started")
io.stdout:flush()
L.invert_many(F, T.linspace(0.1, 10, 200000), { method = "euler", quiet = true })
print("finished")
]])
    assert.falsy(out:find("finished", 1, true))
    assert.truthy(err:find("laplace.invert_many: interrupted", 1, true), err)
    assert.is_true(rc ~= 0)
    assert.is_true(secs < 2.0, ("took %.2f s to stop"):format(secs))
  end)
end)
