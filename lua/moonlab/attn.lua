-- moonlab.attn — gated scaled-dot-product attention (Qiu et al. 2025, arXiv 2505.06708).
-- Numbers are crunched in C (csrc/attn); this module adds result tables and conveniences.
-- See docs/attn.md for every option, shape and convention.
local core = require "moonlab.core"
local T = require "moonlab.tensor"

local M = {}

-- Nested Lua table of booleans -> keep-mask tensor (1 = attend, 0 = masked).
local function bool_table_to_tensor(t, fname, argn)
  local function conv(x)
    if type(x) == "table" then
      local r = {}
      for i = 1, #x do r[i] = conv(x[i]) end
      return r
    elseif type(x) == "boolean" then
      return x and 1 or 0
    end
    error(("%s: bad argument #%d 'mask': expected a tensor or a nested table of booleans, got a table holding %s")
      :format(fname, argn, type(x)), 0)
  end
  return T.new(conv(t), "f32")
end

-- opts of fname (its argument number argn) with a boolean mask table converted to a keep-mask.
local function prep(opts, fname, argn)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(("%s: bad argument #%d 'opts': expected an options table, got %s"):format(fname, argn, type(opts)), 3)
  end
  if type(opts.mask) == "table" and not T.is_tensor(opts.mask) then
    local o = {}
    for key, val in pairs(opts) do o[key] = val end
    if o.mask_mode == "add" then
      error(("%s: bad argument #%d 'mask_mode': a boolean mask table is a keep-mask, got mask_mode 'add'")
        :format(fname, argn), 3)
    end
    o.mask = bool_table_to_tensor(opts.mask, fname, argn)
    o.mask_mode = "keep"
    return o
  end
  -- a bool (or integer) mask tensor is a keep-mask, as in PyTorch: nonzero = attend
  if T.is_tensor(opts.mask) and not ({ f32 = true, f64 = true })[opts.mask:dtype()] then
    local o = {}
    for key, val in pairs(opts) do o[key] = val end
    if o.mask_mode == "add" then
      error(("%s: bad argument #%d 'mask_mode': a %s mask is a keep-mask, got mask_mode 'add'")
        :format(fname, argn, opts.mask:dtype()), 3)
    end
    o.mask = opts.mask:astype("f32")
    o.mask_mode = "keep"
    return o
  end
  return opts
end

--- Gated SDPA forward. q [B,Hq,L,E], k [B,Hkv,S,E], v [B,Hkv,S,Ev] -> out [B,Hq,L,Ev], extras.
-- extras.lse [B,Hq,L] (log-sum-exp per row, -inf for rows with no visible key), extras.y (pre-gate
-- output, when gated), extras.probs [B,Hq,L,S] (when opts.return_probs).
function M.sdpa(q, k, v, opts)
  local out, lse, y, probs = core.attn_sdpa(q, k, v, prep(opts, "attn.sdpa", 4))
  return out, { lse = lse, y = y, probs = probs }
end

--- Exact gradients of attn.sdpa: returns {dq, dk, dv, dgate} (dgate only when opts.gate).
-- opts must be the options of the forward call; extras its second result.
function M.sdpa_backward(dout, q, k, v, out, extras, opts)
  local o = prep(opts, "attn.sdpa_backward", 7)
  if o.return_probs ~= nil then
    local c = {}
    for key, val in pairs(o) do if key ~= "return_probs" then c[key] = val end end
    o = c
  end
  local dq, dk, dv, dgate = core.attn_sdpa_backward(dout, q, k, v, out, extras, o)
  return { dq = dq, dk = dk, dv = dv, dgate = dgate }
end

--- Gate scores Z = X W_θ from hidden states x [B,L,D] (or [L,D]).
-- opts: heads (Hq, required), head_dim (required), kv_heads (default heads),
-- granularity "elementwise" (default, G = head_dim) | "headwise" (G = 1),
-- layout "separate" (default: w_gate is the gate projection only) | "per_head" ([q_h | z_h] per head)
-- | "kv_group" (the paper code: per KV group [q of its R heads | z of its R heads]),
-- shared (false; head-shared gate, layout "separate" only).
-- Returns z [B,Hq,L,G] and, for the fused layouts, q [B,Hq,L,head_dim].
function M.gate_scores(x, w_gate, opts)
  local squeeze = false
  if T.is_tensor(x) and #x:shape() == 2 then
    local s = x:shape()
    x = x:reshape { 1, s[1], s[2] }
    squeeze = true
  end
  local z, q = core.attn_gate_scores(x, w_gate, opts or {})
  if squeeze then
    local zs = z:shape()
    z = z:reshape { zs[2], zs[3], zs[4] }
    if q then local qs = q:shape(); q = q:reshape { qs[2], qs[3], qs[4] } end
  end
  return z, q
end

--- Attention-sink statistics without materialising L×S:
-- {first_token = [Hq] mean weight on key 1, per_query = [B,Hq,L], entropy = [Hq] mean row entropy,
--  f_attn = mean of first_token over heads (the paper's F-Attn for one layer)}.
function M.sink_stats(q, k, opts)
  local ft, pq, ent = core.attn_sink_stats(q, k, prep(opts, "attn.sink_stats", 3))
  return { first_token = ft, per_query = pq, entropy = ent, f_attn = ft:mean() }
end

--- Massive activation (M-Act, §4.3): max |h| of a tensor, or for a list of per-layer tensors
-- {per_layer = {...}, mean = mean over layers, max = max over layers}.
function M.massive_activation(h)
  if T.is_tensor(h) then return core.attn_max_abs(h) end
  if type(h) ~= "table" or #h == 0 then
    error("attn.massive_activation: bad argument #1 'h': expected a tensor or a non-empty list of tensors, got "
      .. (type(h) == "table" and "an empty table" or type(h)), 2)
  end
  local per, sum, mx = {}, 0, -math.huge
  for i, t in ipairs(h) do
    if not T.is_tensor(t) then
      error(("attn.massive_activation: bad argument #1 'h': expected a tensor at [%d], got %s"):format(i, type(t)), 2)
    end
    per[i] = core.attn_max_abs(t)
    sum = sum + per[i]
    if per[i] > mx then mx = per[i] end
  end
  return { per_layer = per, mean = sum / #per, max = mx }
end

--- Gate activation value and derivative at a number z: act "sigmoid" | "silu" | "ns_sigmoid".
function M.gate_act(z, act)
  return core.attn_gate_value(z, act)
end

--- FLOP count of a forward (4·B·Hq·E·pairs, pairs = visible (query, key) pairs), for benchmarks.
function M.flops(B, Hq, L, S, E, opts)
  for i, n in ipairs { "B", "Hq", "L", "S", "E" } do
    local x = select(i, B, Hq, L, S, E)
    if math.type(x) ~= "integer" or x < 1 then
      error(("attn.flops: bad argument #%d '%s': expected a positive integer, got %s"):format(i, n,
        type(x) == "number" and tostring(x) or type(x)), 2)
    end
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("attn.flops: bad argument #6 'opts': expected an options table, got " .. type(opts), 2)
  end
  opts = opts or {}
  local off = (opts.causal_align == "bottom_right") and (S - L) or 0
  -- a window longer than L + S restricts nothing; clamped so that no integer wraps around
  local window = opts.window and math.min(opts.window, L + S)
  local pairs = 0
  if opts.causal or window then
    for i = 0, L - 1 do
      local hi = math.min(S, i + off + 1)
      local lo = window and math.max(0, i + off - window + 1) or 0
      if hi > lo then pairs = pairs + (hi - lo) end
    end
  else
    pairs = L * S
  end
  return 4 * B * Hq * E * pairs, pairs
end

return M
