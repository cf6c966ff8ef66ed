local T = require "moonlab.tensor"
local nn = require "moonlab.nn"

local fails_with = require("spec.helpers.errors").fails_with

describe("nn bad input", function()
  local m = nn.gpt { vocab = 16, context = 8, layers = 1, d_model = 8, heads = 2, seed = 1 }

  it("rejects bad configurations", function()
    fails_with(function() nn.gpt { d_model = 10, heads = 4 } end, "nn.gpt", "d_model", "multiple of heads")
    fails_with(function() nn.gpt { heads = 4, kv_heads = 3 } end, "nn.gpt", "kv_heads", "divisor")
    fails_with(function() nn.gpt { gate = "sideways" } end, "nn.gpt", "gate")
    fails_with(function() nn.gpt { layrs = 2 } end, "unknown option 'layrs' to nn.gpt", "layers")
    fails_with(function() nn.gpt { ffn = "dense" } end, "nn.gpt", "ffn")
    fails_with(function() nn.gpt { ffn = "moe", moe = { experts = 2, k = 3 } } end, "nn.gpt", "moe.k")
    fails_with(function() nn.gpt(3) end, "nn.gpt: bad argument #1 'opts'")
  end)

  it("token ids out of range, context too long, mismatched shapes", function()
    fails_with(function() m:forward({ 1, 2, 16 }) end, "nn.model:forward", "tokens", "0..15", "16")
    fails_with(function() m:forward({ -1 }) end, "nn.model:forward", "tokens", "-1")
    fails_with(function() m:forward(T.zeros({ 1, 9 }, "i64")) end, "nn.model:forward", "context = 8", "9")
    fails_with(function() m:loss({ 1, 2, 3 }, { 1, 2 }) end, "nn.model:loss", "targets", "shape")
    fails_with(function() m:loss({ 1, 2 }, { 1, 99 }) end, "nn.model:loss", "targets", "0..15")
    fails_with(function() m:forward(T.new({ 1.5 }, "f64")) end, "nn.model:forward", "integer token ids")
    fails_with(function() m:forward(T.zeros({ 1, 1, 2 }, "i64")) end, "nn.model:forward", "[T] or [B,T]")
    fails_with(function() m:generate({ 1, 2 }, { max_tokens = 8 }) end, "nn.model:generate", "context")
    fails_with(function() m:generate({ 1, 2 }, { max_tokens = 2, temperature = -1 }) end, "nn.model:generate",
      "temperature")
    fails_with(function() m:set_parameters(T.zeros { 3 }) end, "nn.model:set_parameters", "params")
    fails_with(function() m.forward(3, { 1 }) end, "nn.model:forward", "model")
  end)

  it("backward without a loss, bad optimiser options", function()
    local fresh = nn.gpt { vocab = 16, context = 8, layers = 1, d_model = 8, heads = 2 }
    fails_with(function() fresh:backward() end, "nn.model:backward", "forward with targets")
    fails_with(function() fresh:step { lr = -1 } end, "nn.model:step", "lr")
    fails_with(function() fresh:step { lrr = 1 } end, "unknown option 'lrr' to nn.model:step")
  end)

  it("a NaN loss stops with a message naming the step", function()
    local d = nn.gpt { vocab = 16, context = 8, layers = 1, d_model = 8, heads = 2, dtype = "f64" }
    local p = d:parameters()
    p[1] = 0 / 0
    d:set_parameters(p)
    fails_with(function() d:loss({ 0, 1 }, { 1, 2 }) end, "nn.model:loss", "loss is nan at step 1")
  end)

  -- fuzzpass: generate on a model with NaN parameters looped forever in the top-k selection (a NaN logit is
  -- never counted) and sampled from NaN probabilities without top_k; now it raises like the loss does.
  it("generate with non-finite parameters raises instead of hanging", function()
    for _, dt in ipairs { "f32", "f64" } do
      local d = nn.gpt { vocab = 16, context = 8, layers = 1, d_model = 8, heads = 2, dtype = dt, seed = 1 }
      local p = d:parameters()
      p[1] = 0 / 0
      d:set_parameters(p)
      for _, k in ipairs { 3, 0 } do
        fails_with(function() d:generate({ 0, 1 }, { max_tokens = 2, top_k = k }) end, "nn.model:generate",
          "logits of generated token 1 are not finite")
      end
      fails_with(function() d:generate({ 0 }, { max_tokens = 2, temperature = 0 }) end, "nn.model:generate", "not finite")
    end
  end)

  it("unreadable corpus, too small corpus", function()
    fails_with(function() nn.text_dataset("/nonexistent/corpus.txt") end, "nn.text_dataset", "cannot read",
      "/nonexistent/corpus.txt")
    local path = os.tmpname()
    local f = io.open(path, "w"); f:write("tiny"); f:close()
    fails_with(function() nn.text_dataset(path, { context = 8 }) end, "nn.text_dataset", "too small")
    os.remove(path)
    fails_with(function() nn.text_dataset(nil, { split = 2 }) end, "nn.text_dataset", "split")
    fails_with(function() nn.text_dataset(nil, { bos = 256 }) end, "nn.text_dataset", "'bos'", "0..255")
    fails_with(function() nn.text_dataset(nil, { bos = 1.5 }) end, "nn.text_dataset", "'bos'", "0..255")
  end)

  it("foreign, truncated and corrupt checkpoints", function()
    local path = os.tmpname()
    local f = io.open(path, "wb"); f:write("hello, not a checkpoint"); f:close()
    fails_with(function() nn.load(path) end, "nn.load", "not a moonlab.nn checkpoint")
    m:save(path)
    f = io.open(path, "rb"); local data = f:read("a"); f:close()
    f = io.open(path, "wb"); f:write(data:sub(1, #data - 100)); f:close()
    fails_with(function() nn.load(path) end, "nn.load", "truncated")
    local pos = #data - 50
    f = io.open(path, "wb"); f:write(data:sub(1, pos - 1) .. string.char((data:byte(pos) + 1) % 256) .. data:sub(pos + 1)); f:close()
    fails_with(function() nn.load(path) end, "nn.load", "checksum")
    f = io.open(path, "wb"); f:write(data:sub(1, 20)); f:close()
    fails_with(function() nn.load(path) end, "nn.load", "truncated")
    os.remove(path)
    fails_with(function() nn.load("/nonexistent/model.bin") end, "nn.load", "cannot open")
    fails_with(function() m:save("/nonexistent/dir/model.bin") end, "nn.model:save", "cannot write")
  end)
end)
