-- Shared by the specs: fails_with(fn, ...) runs fn, expects a Lua error whose message contains
-- every plain-text fragment, and returns the message.
local assert = require "luassert"
local E = {}

function E.fails_with(fn, ...)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  err = tostring(err)
  for _, frag in ipairs { ... } do
    assert.is_truthy(err:find(frag, 1, true), ("error %q lacks %q"):format(err, frag))
  end
  return err
end

-- errmsg(f, ...) calls f(...), expects it to raise, and returns the message as a string.
function E.errmsg(f, ...)
  local ok, e = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(e)
end

return E
