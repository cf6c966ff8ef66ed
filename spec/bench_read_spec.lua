-- bench.read_gbs: the read-bandwidth ceiling that bench/tensor.lua prints reductions against.
local ml = require "moonlab"
local T = ml.tensor
local B = require "moonlab.bench"
local errors = require "spec.helpers.errors"

describe("bench.read_gbs", function()
  it("reads a tensor's bytes on 1 and 2 threads and returns a positive rate and the runs", function()
    for _, dt in ipairs { "f32", "f64", "u8" } do
      local t = T.ones({ 4099 }, dt) -- a length that leaves a tail after the vector blocks
      for _, th in ipairs { 1, 2 } do
        for _, streams in ipairs { 1, 2, 3 } do -- parts of whole 256-byte steps, the rest read bytewise
          local gbs, runs = B.read_gbs(t, th, 3, streams)
          assert.is_true(gbs > 0 and gbs < math.huge, dt)
          assert.equal(3, #runs)
          for _, s in ipairs(runs) do assert.is_true(s >= 0) end
        end
      end
    end
  end)

  it("rejects bad arguments naming bench.read_gbs", function()
    errors.fails_with(function() B.read_gbs(42, 1) end, "bench.read_gbs: bad argument #1 't'")
    errors.fails_with(function() B.read_gbs(T.ones { 3 }, 0) end, "bench.read_gbs: bad argument #2 'threads'")
    errors.fails_with(function() B.read_gbs(T.ones { 3 }, 1, 3, 0) end, "bench.read_gbs: bad argument #4 'streams'")
    errors.fails_with(function() B.read_gbs(T.zeros { 0 }, 1) end,
      "bench.read_gbs: bad argument #1 't': tensor is empty")
  end)
end)

describe("bench.loadavg", function()
  it("returns the first three fields of /proc/loadavg", function()
    local s = B.loadavg()
    local f = io.open("/proc/loadavg")
    if not f then
      assert.equal("unknown", s)
      return
    end
    f:close()
    local a, b, c = s:match("^(%S+) (%S+) (%S+)$")
    for _, v in ipairs { a, b, c } do assert.is_true(tonumber(v) ~= nil and tonumber(v) >= 0, s) end
  end)
end)
