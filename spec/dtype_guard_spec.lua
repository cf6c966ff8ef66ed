-- Cores take floating tensors: a bool/integer tensor never reaches a float kernel as raw bytes, and
-- transcendental kernels map NaN to NaN without undefined behaviour (UBSan under make asan).
local T = require "moonlab.tensor"
local attn = require "moonlab.attn"

describe("dtype guards", function()
  local q = T.randn({ 1, 2, 5, 4 }, { seed = 1 })
  local keep = T.new({ { 1, 0, 0, 0, 0 }, { 1, 1, 0, 0, 0 }, { 1, 1, 1, 0, 0 }, { 1, 1, 1, 1, 0 }, { 1, 1, 1, 1, 1 } })

  it("attn.sdpa reads a bool or integer mask as a keep-mask (PyTorch's convention)", function()
    local ref = attn.sdpa(q, q, q, { causal = true })
    for _, dt in ipairs { "bool", "u8", "i32", "i64" } do
      local out = attn.sdpa(q, q, q, { mask = keep:astype(dt) })
      assert.is_close(out, ref, { rtol = 1e-12, atol = 1e-14 })
    end
    assert.has_error(function() attn.sdpa(q, q, q, { mask = keep:astype("bool"), mask_mode = "add" }) end,
      "attn.sdpa: bad argument #4 'mask_mode': a bool mask is a keep-mask, got mask_mode 'add'")
  end)

  it("attn refuses integer q and raw bool masks at the C boundary", function()
    assert.has_error(function() attn.sdpa(q:astype("i64"), q, q) end,
      "attn.sdpa: bad argument #1 'q': expected dtype f32 or f64, got i64")
    local core = require "moonlab.core"
    local ok, err = pcall(core.attn_sdpa, q, q, q, { mask = keep:astype("bool") })
    assert.is_false(ok)
    assert.matches("^attn.sdpa: bad argument #4 'mask': expected an f32 or f64 mask", err)
  end)

  it("exp, tanh, sigmoid and silu of NaN are NaN in f32 and f64", function()
    for _, dt in ipairs { "f32", "f64" } do
      local x = T.full({ 37 }, 0 / 0, dt)
      for _, f in ipairs { "exp", "tanh", "sigmoid", "silu" } do
        local y = x[f](x)
        for i = 1, 37 do
          local v = y[i]
          assert.is_true(v ~= v, ("%s %s of nan gave %s"):format(dt, f, tostring(v)))
        end
      end
    end
  end)
end)

describe("missing required fields", function()
  it("say 'missing', not a value the user never gave", function()
    local chrom = require "moonlab.chrom"
    assert.has_error(function() chrom.column {} end, "chrom.column: bad argument #1 'Da': missing (a number >= 0)")
    assert.has_error(function() chrom.column { Da = 1 } end, "chrom.column: bad argument #1 'kappa': missing (a number > 0)")
  end)
end)
