-- Shared by the nn specs: seeded token batches, option merging, bitwise comparison, and the whole-model
-- gradient check against central finite differences.
local T = require "moonlab.tensor"
local nn = require "moonlab.nn"
local U = {}

function U.ids(n, V, seed)
  local t, s = {}, seed
  for i = 1, n do
    s = (s * 1103515245 + 12345) % 2147483648
    t[i] = s % V
  end
  return t
end

function U.batch(B, L, V, seed)
  local x, y = {}, {}
  for b = 1, B do
    local r = U.ids(L + 1, V, seed + b)
    x[b], y[b] = {}, {}
    for i = 1, L do x[b][i], y[b][i] = r[i], r[i + 1] end
  end
  return T.new(x, "i64"), T.new(y, "i64")
end

-- Trains m on the one batch x -> y for `steps` AdamW steps (lr 1e-2, warmup 5, no weight decay) -> the loss
-- before and after.
function U.overfit(m, x, y, steps)
  local first = m:loss(x, y)
  for _ = 1, steps do
    m:loss(x, y)
    m:backward()
    m:step { lr = 1e-2, warmup = 5, weight_decay = 0 }
  end
  return first, m:loss(x, y)
end

function U.same_bits(a, b) return T.allclose(a, b, { rtol = 0, atol = 0 }) end

function U.with(base, extra)
  local c = {}
  for k, v in pairs(base) do c[k] = v end
  for k, v in pairs(extra) do c[k] = v end
  return c
end

-- Whole-model gradient (every layer's backward chained) against central differences in f64:
-- returns max |fd - grad|, max |grad| and the parameter count.
function U.gradcheck(cfg)
  local m = nn.gpt(cfg)
  local x, y = U.batch(2, 5, cfg.vocab, 7)
  m:zero_grad()
  m:loss(x, y)
  m:backward()
  local g, p = m:gradients(), m:parameters()
  local n = p:numel()
  local h, worst, gmax = 1e-5, 0, 0
  for i = 1, n do
    local p0 = p[i]
    p[i] = p0 + h; m:set_parameters(p)
    local lp = m:loss(x, y)
    p[i] = p0 - h; m:set_parameters(p)
    local lm = m:loss(x, y)
    p[i] = p0
    worst = math.max(worst, math.abs((lp - lm) / (2 * h) - g[i]))
    gmax = math.max(gmax, math.abs(g[i]))
  end
  m:set_parameters(p)
  return worst, gmax, n
end

-- Greedy generation with the KV cache against the argmax of full forwards: returns the two token lists.
function U.greedy_vs_forward(m, seq, n, V)
  local out = m:generate(seq, { max_tokens = n, temperature = 0 })
  local got, want = {}, {}
  for i = 1, n do
    local lg = m:forward(T.new({ seq }, "i64"))
    local row, best = #seq, 0
    for v = 1, V do
      if lg[{ 1, row, v }] > lg[{ 1, row, best + 1 }] then best = v - 1 end
    end
    got[i], want[i] = out[i], best
    seq[#seq + 1] = best
  end
  return got, want
end

return U
