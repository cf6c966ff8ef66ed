-- examples/attention_sink.lua as a user runs it (issue: it failed when its output folder did not exist,
-- printed its results only after plotting, and said nothing while training).
local H = require "spec.helpers.isa"

describe("examples/attention_sink.lua", function()
  it("creates a missing output folder, reports progress per model, prints results before the figure", function()
    local root = os.getenv("MOONLAB_ROOT") or "."
    local dir = os.tmpname()
    os.remove(dir)
    local out = dir .. "/nested/figs"
    local errf = dir .. ".err"
    local cmd = ("env -u MOONLAB_QUIET STEPS=4 %s %s/examples/attention_sink.lua '%s' 2>'%s'"):format(H.lua_bin(), root, out, errf)
    local p = assert(io.popen(cmd))
    local stdout = p:read("a")
    local ok = p:close()
    local fh = io.open(errf)
    local stderr = fh and fh:read("a") or ""
    if fh then fh:close() end
    os.remove(errf)
    assert.is_true(ok == true, stdout .. stderr)
    for i = 1, 3 do assert.is_truthy(stderr:find(("model %d/3"):format(i), 1, true), stderr) end
    local first_result = stdout:find("F-Attn", 1, true)
    local wrote = stdout:find("wrote " .. out, 1, true)
    assert.is_truthy(first_result and wrote and first_result < wrote, stdout)
    local file = stdout:match("wrote (%S+)")
    local f = io.open(file)
    assert.is_truthy(f, "figure or CSV missing: " .. tostring(file))
    f:close()
    os.execute("rm -rf '" .. dir .. "'")
  end)
end)
