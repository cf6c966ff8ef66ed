-- Plain f64 reference for attention specs: materialised scores and softmax, written for clarity.
-- Independent of csrc/attn (no tiling, no online softmax). Works on nested Lua tables.
local T = require "moonlab.tensor"

local R = {}

local function tab(x)
  if T.is_tensor(x) then return x:totable() end
  return x
end

local function sigmoid(z)
  if z >= 0 then return 1 / (1 + math.exp(-z)) end
  local e = math.exp(z)
  return e / (1 + e)
end

R.act = {
  sigmoid = sigmoid,
  silu = function(z) return z * sigmoid(z) end,
  ns_sigmoid = function(z) return 0.5 + 0.5 * sigmoid(z) end,
}

local function shape(x)
  if T.is_tensor(x) then return x:shape() end
  local s, t = {}, x
  while type(t) == "table" do s[#s + 1] = #t; t = t[1] end
  return s
end

-- Broadcast element of a <=4-d mask at (b,h,i,j) (1-based).
local function mask_at(mt, ms, b, h, i, j)
  local idx = { b, h, i, j }
  local nd = #ms
  local t = mt
  for d = 1, nd do
    local full = idx[4 - nd + d]
    local pos = ms[d] == 1 and 1 or full
    t = t[pos]
  end
  return t
end

-- Returns out [B][Hq][L][Ev], lse [B][Hq][L], probs [B][Hq][L][S], y (pre-gate).
function R.sdpa(q, k, v, opts)
  opts = opts or {}
  local qt, kt, vt = tab(q), tab(k), tab(v)
  local B, Hq, L, E = #qt, #qt[1], #qt[1][1], #qt[1][1][1]
  local Hkv, S, Ev = #kt[1], #kt[1][1], #vt[1][1][1]
  local rep = Hq // Hkv
  local scale = opts.scale or 1 / math.sqrt(E)
  local off = (opts.causal_align == "bottom_right") and (S - L) or 0
  local causal = opts.causal or opts.window ~= nil
  local mt, ms, keep
  if opts.mask ~= nil then
    mt, ms = tab(opts.mask), shape(opts.mask)
    keep = opts.mask_mode == "keep" or (type(opts.mask) == "table" and not T.is_tensor(opts.mask))
  end
  local gt, gact, gadd
  if opts.gate then
    gt = tab(opts.gate)
    gact = R.act[opts.gate_act or "sigmoid"]
    gadd = opts.gate_op == "add"
  end
  local out, lse, probs, y = {}, {}, {}, {}
  for b = 1, B do
    out[b], lse[b], probs[b], y[b] = {}, {}, {}, {}
    for h = 1, Hq do
      local hk = (h - 1) // rep + 1
      out[b][h], lse[b][h], probs[b][h], y[b][h] = {}, {}, {}, {}
      for i = 1, L do
        local s = {}
        local mx = -math.huge
        for j = 1, S do
          local ok = true
          if causal then
            local d = (i - 1) + off
            if j - 1 > d then ok = false end
            if opts.window and j - 1 <= d - opts.window then ok = false end
          end
          local val = -math.huge
          if ok then
            local dot = 0
            for e = 1, E do dot = dot + qt[b][h][i][e] * kt[b][hk][j][e] end
            val = scale * dot
            if mt then
              local m = mask_at(mt, ms, b, h, i, j)
              if keep then
                if m == false or m == 0 then val = -math.huge end
              else
                val = val + m
              end
            end
          end
          s[j] = val
          if val > mx then mx = val end
        end
        local p, z = {}, 0
        for j = 1, S do
          p[j] = (mx == -math.huge) and 0 or math.exp(s[j] - mx)
          z = z + p[j]
        end
        local row, yrow = {}, {}
        if z == 0 then
          lse[b][h][i] = -math.huge
        else
          lse[b][h][i] = mx + math.log(z)
          for j = 1, S do p[j] = p[j] / z end
        end
        for e = 1, Ev do
          local acc = 0
          for j = 1, S do acc = acc + p[j] * vt[b][hk][j][e] end
          yrow[e] = acc
          if gt then
            local gz = gt[b][h][i][#gt[b][h][i] == 1 and 1 or e]
            local gv = gact(gz)
            row[e] = gadd and (acc + gv) or (acc * gv)
          else
            row[e] = acc
          end
        end
        out[b][h][i], y[b][h][i], probs[b][h][i] = row, yrow, p
      end
    end
  end
  return out, lse, probs, y
end

-- Central finite differences of loss(x) = Σ dout ⊙ f(x) w.r.t. every element of tensor x (f64).
-- f() recomputes the output reading x; returns a nested table shaped like x.
function R.fd_grad(x, dout, f, h)
  h = h or 1e-6
  local n = x:numel()
  local flat = x:reshape { n }      -- alias: writes go to x
  local d = dout:reshape { dout:numel() }
  local dn = d:numel()
  local g = {}
  for idx = 1, n do
    local x0 = flat:get(idx)
    flat:set(idx, x0 + h)
    local op = f():reshape { dn }
    flat:set(idx, x0 - h)
    local om = f():reshape { dn }
    flat:set(idx, x0)
    local s = 0
    for j = 1, dn do s = s + d:get(j) * (op:get(j) - om:get(j)) end
    g[idx] = s / (2 * h)
  end
  return g
end

return R
