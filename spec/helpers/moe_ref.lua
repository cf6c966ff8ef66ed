-- Plain-Lua reference of moe.route (brute force, written from the formulas in docs/moe.md), used by the
-- MoE specs. logits: Lua table of rows; returns a table like moe.route's, with Lua tables.
local R = {}

local function act(name, x)
  if name == "tanh" then return math.tanh and math.tanh(x) or (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1) end
  if name == "sigmoid" then return 1 / (1 + math.exp(-x)) end
  if name == "relu" then return x > 0 and x or 0 end
  if name == "gelu" then
    -- erf by its series (|x| small in the specs) or continued fraction
    local function erf(v)
      local s, term, n = 0, v, 0
      repeat
        s = s + term / (2 * n + 1)
        n = n + 1
        term = -term * v * v / n
      until math.abs(term) < 1e-17 * math.abs(s) + 1e-300 or n > 200
      return 2 / math.sqrt(math.pi) * s
    end
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))
  end
  return x
end
R.act = act

local function tanh(x) return (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1) end

-- argsort of values descending, ties to the lower index, restricted to allowed (nil = all).
local function topk(vals, k, allowed)
  local idx = {}
  for e = 1, #vals do if not allowed or allowed[e] then idx[#idx + 1] = e end end
  table.sort(idx, function(a, b)
    if vals[a] ~= vals[b] then return vals[a] > vals[b] end
    return a < b
  end)
  local out = {}
  for j = 1, k do out[j] = idx[j] end
  return out
end
R.topk = topk

-- z for token t (1-based); noise via moonlab's counter-based normal (the same generator) when given.
function R.z(row, t, o, normal)
  local E, z = #row, {}
  for e = 1, E do
    local a = o.activation and o.activation ~= "none" and (o.activation == "tanh" and tanh(row[e]) or act(o.activation, row[e])) or row[e]
    z[e] = a / (o.temperature or 1)
    if o.noise then z[e] = z[e] + o.noise.std * normal(o.noise.seed, (t - 1) * E + (e - 1)) end
  end
  return z
end

function R.route(logits, o, normal)
  local Tn, E = #logits, #logits[1]
  local k = o.k or 2
  local score = o.score or "softmax"
  local order = o.order or "softmax_then_topk"
  local renorm = o.renormalize ~= false
  local scale = o.route_scale or 1
  local aux_coef, z_coef = o.aux_coef or 1e-2, o.z_coef or 1e-3
  local experts, weights, P, zl, H = {}, {}, {}, 0, 0
  for e = 1, E do P[e] = 0 end
  local S = {}
  for t = 1, Tn do
    local z = R.z(logits[t], t, o, normal)
    local m = -math.huge
    for e = 1, E do m = math.max(m, z[e]) end
    local sum = 0
    for e = 1, E do sum = sum + math.exp(z[e] - m) end
    local lse = m + math.log(sum)
    local s = {}
    for e = 1, E do
      s[e] = score == "softmax" and math.exp(z[e] - lse) or 1 / (1 + math.exp(-z[e]))
      P[e] = P[e] + s[e]
    end
    S[t] = s
    zl = zl + lse * lse
    local ss = 0
    for e = 1, E do ss = ss + s[e] end
    local h = 0
    for e = 1, E do local p = s[e] / ss; if p > 0 then h = h - p * math.log(p) end end
    H = H + h
    if not o.expert_choice then
      local sel = {}
      for e = 1, E do sel[e] = (order == "topk_then_softmax" and z[e] or s[e]) + (o.bias and o.bias[e] or 0) end
      local allowed
      if o.groups and o.groups > 1 and (o.group_topk or o.groups) < o.groups then
        local gs = E // o.groups
        local gsc = {}
        for g = 1, o.groups do
          local v = {}
          for e = (g - 1) * gs + 1, g * gs do v[#v + 1] = sel[e] end
          table.sort(v, function(a, b) return a > b end)
          gsc[g] = gs >= 2 and v[1] + v[2] or v[1]
        end
        local gi = topk(gsc, o.group_topk)
        allowed = {}
        for _, g in ipairs(gi) do for e = (g - 1) * gs + 1, g * gs do allowed[e] = true end end
      end
      local idx = topk(sel, k, allowed)
      local w = {}
      if order == "topk_then_softmax" then
        local mm = -math.huge
        for j = 1, k do mm = math.max(mm, z[idx[j]]) end
        local su = 0
        for j = 1, k do w[j] = math.exp(z[idx[j]] - mm); su = su + w[j] end
        for j = 1, k do w[j] = scale * w[j] / su end
      else
        local su = 0
        for j = 1, k do w[j] = s[idx[j]]; su = su + w[j] end
        for j = 1, k do w[j] = scale * (renorm and w[j] / su or w[j]) end
      end
      experts[t], weights[t] = idx, w
    end
  end
  local K = k
  if o.expert_choice then
    K = E
    local C = math.min(o.capacity, Tn)
    local chosen = {}
    for t = 1, Tn do chosen[t] = {} end
    for e = 1, E do
      local col = {}
      for t = 1, Tn do col[t] = S[t][e] end
      for _, t in ipairs(topk(col, C)) do chosen[t][e] = true end
    end
    for t = 1, Tn do
      local ex, w, su = {}, {}, 0
      for e = 1, E do if chosen[t][e] then ex[#ex + 1] = e; su = su + S[t][e] end end
      for j = 1, E do
        if ex[j] then w[j] = scale * (renorm and S[t][ex[j]] / su or S[t][ex[j]]) else ex[j] = 0; w[j] = 0 end
      end
      experts[t], weights[t] = ex, w
    end
  end
  -- bookkeeping: pairs by expert, then token, then slot
  local assigned, lists = {}, {}
  for e = 1, E do assigned[e] = 0; lists[e] = {} end
  for t = 1, Tn do
    for j = 1, K do
      local e = experts[t][j]
      if e > 0 then assigned[e] = assigned[e] + 1; lists[e][#lists[e] + 1] = { t, j } end
    end
  end
  local tot = 0
  for e = 1, E do tot = tot + assigned[e] end
  local fp = 0
  for e = 1, E do fp = fp + assigned[e] / tot * P[e] end
  local dropped = {}
  if not o.expert_choice and o.capacity_factor then
    local C = math.max(1, math.ceil(Tn * k / E * o.capacity_factor))
    for e = 1, E do
      local l = lists[e]
      if #l > C then
        local rank = {}
        for i = 1, #l do rank[i] = i end
        if (o.drop or "probs") == "probs" then
          table.sort(rank, function(a, b)
            local wa, wb = S[l[a][1]][experts[l[a][1]][l[a][2]]], S[l[b][1]][experts[l[b][1]][l[b][2]]]
            if wa ~= wb then return wa > wb end
            return a < b
          end)
        end
        local drop = {}
        for i = C + 1, #l do drop[rank[i]] = true end
        local kept = {}
        for i = 1, #l do
          if drop[i] then dropped[#dropped + 1] = l[i]; weights[l[i][1]][l[i][2]] = 0 else kept[#kept + 1] = l[i] end
        end
        lists[e] = kept
      end
    end
    table.sort(dropped, function(a, b) if a[1] ~= b[1] then return a[1] < b[1] end return a[2] < b[2] end)
  end
  if o.expert_choice then
    for t = 1, Tn do if experts[t][1] == 0 then dropped[#dropped + 1] = { t, 0 } end end
  end
  local pad = o.pad_to or 1
  local counts, offsets, ord = {}, { 0 }, {}
  for e = 1, E do
    counts[e] = #lists[e]
    for _, p in ipairs(lists[e]) do ord[#ord + 1] = p end
    local padded = math.ceil(#lists[e] / pad) * pad
    for _ = #lists[e] + 1, padded do ord[#ord + 1] = { 0, 0 } end
    offsets[e + 1] = offsets[e] + padded
  end
  return {
    experts = experts, weights = weights, counts = counts, offsets = offsets, order = ord,
    dropped = dropped, aux_loss = aux_coef * E * fp / Tn, z_loss = z_coef * zl / Tn, entropy = H / Tn,
    probs = S,
  }
end

return R
