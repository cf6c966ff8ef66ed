-- moonlab.nn — a small decoder-only transformer trainer with gated attention (Qiu et al. 2025,
-- arXiv 2505.06708, §2.2 G1). Layers, model, optimiser, sampling and checkpoints are in C (csrc/nn);
-- this module adds the model object, options and the text dataset. See docs/nn.md.
local core = require "moonlab.core"
local T = require "moonlab.tensor"
local opts = require "moonlab.opts"

local M = {}

local Model = {}
Model.__index = Model
core.public_methods("nn.model", Model)

local GPT_KEYS = { "vocab", "context", "layers", "d_model", "heads", "kv_heads", "d_ff", "gate", "ffn", "moe",
  "tied", "dtype", "seed", "rope_base", "norm_eps", "init_std" }

local function wrap(ud)
  return setmetatable({ _m = ud }, Model)
end

local function tokens_arg(x, fname, name, argn)
  if T.is_tensor(x) then return x end
  if type(x) == "table" then return T.new(x, "i64") end
  if type(x) == "string" then
    return T.new({ x:byte(1, -1) }, "i64")
  end
  error(("%s: bad argument #%d '%s': expected a tensor of token ids, a table or a string, got %s")
    :format(fname, argn, name, type(x)), 3)
end

local function checkmodel(self, fname)
  if getmetatable(self) ~= Model then
    error(("%s: bad argument #1 'model': expected a moonlab.nn model (use model:%s(...)), got %s")
      :format(fname, fname:match(":(.*)$"), type(self)), 3)
  end
  return self._m
end

--- nn.gpt{vocab, context, layers, d_model, heads, kv_heads, d_ff, gate, ffn, moe, tied, dtype, seed, ...} -> model
function M.gpt(o)
  o = o or {}
  if type(o) ~= "table" then
    error(("nn.gpt: bad argument #1 'opts': expected an options table, got %s"):format(type(o)), 2)
  end
  opts.check("nn.gpt", o, GPT_KEYS)
  local c = {}
  for k, v in pairs(o) do c[k] = v end
  local ffn = c.ffn or "swiglu"
  if ffn ~= "swiglu" and ffn ~= "moe" then
    error(("nn.gpt: bad option 'ffn': expected 'swiglu' or 'moe', got %s"):format(tostring(ffn)), 2)
  end
  local mo = c.moe
  if mo ~= nil and ffn ~= "moe" then error("nn.gpt: option 'moe' needs ffn = 'moe'", 2) end
  c.moe = nil
  if ffn == "moe" then
    mo = mo or {}
    if type(mo) ~= "table" then
      error(("nn.gpt: bad option 'moe': expected a table {experts, k, aux, z}, got %s"):format(type(mo)), 2)
    end
    opts.check("nn.gpt moe", mo, { "experts", "k", "aux", "z" })
    c.experts, c.top_k, c.moe_aux, c.moe_z = mo.experts or 8, mo.k or 2, mo.aux or 0.01, mo.z or 0
  end
  local g = c.gate
  if type(g) == "table" then
    opts.check("nn.gpt gate", g, { "placement", "act" })
    c.gate, c.gate_act = g.placement or "elementwise", g.act
  end
  c.d_model = c.d_model or 64
  if type(c.d_model) ~= "number" then
    error(("nn.gpt: option 'd_model' must be a positive integer, got %s"):format(tostring(c.d_model)), 2)
  end
  c.kv_heads = c.kv_heads or c.heads
  if c.d_ff == nil then
    local d = math.floor(8 * c.d_model / 3)
    c.d_ff = math.max(8, d - d % 8)
  end
  return wrap(core.nn_new(c))
end

--- model:forward(tokens) -> logits [B,T,vocab]
function Model.forward(self, tokens)
  local m = checkmodel(self, "nn.model:forward")
  local logits = core.nn_forward(m, tokens_arg(tokens, "nn.model:forward", "tokens", 1))
  return logits
end

--- model:loss(tokens, targets) -> mean cross-entropy (nats), logits
function Model.loss(self, tokens, targets)
  local m = checkmodel(self, "nn.model:loss")
  if targets == nil then error("nn.model:loss: bad argument #2 'targets': expected token ids, got nil", 2) end
  local logits, loss = core.nn_forward(m, tokens_arg(tokens, "nn.model:loss", "tokens", 1),
    tokens_arg(targets, "nn.model:loss", "targets", 2))
  return loss, logits
end

--- model:backward() accumulates gradients of the last loss.
function Model.backward(self)
  core.nn_backward(checkmodel(self, "nn.model:backward"))
end

--- model:zero_grad()
function Model.zero_grad(self)
  core.nn_zero_grad(checkmodel(self, "nn.model:zero_grad"))
end

--- model:step{lr, ...} -> {grad_norm, lr, step}: one AdamW step, then zeroes the gradients.
function Model.step(self, o)
  local m = checkmodel(self, "nn.model:step")
  o = o or {}
  opts.check("nn.model:step", o, { "lr", "beta1", "beta2", "eps", "weight_decay", "grad_clip", "warmup",
    "total_steps", "min_lr" })
  local gn, lr = core.nn_step(m, o)
  core.nn_zero_grad(m)
  return { grad_norm = gn, lr = lr, step = core.nn_info(m).step }
end

--- model:generate(prompt, {max_tokens, temperature, top_k, seed}) -> i64 tensor of new tokens
function Model.generate(self, prompt, o)
  local m = checkmodel(self, "nn.model:generate")
  o = o or {}
  opts.check("nn.model:generate", o, { "max_tokens", "temperature", "top_k", "seed" })
  return core.nn_generate(m, tokens_arg(prompt, "nn.model:generate", "prompt", 1), o.max_tokens or 64,
    o.temperature or 1.0, o.top_k or 0, o.seed or 1)
end

--- model:stats(tokens) -> {f_attn, m_act, gate_mean, gate_sparsity} per layer, f_attn_heads[layer][head]
--- (+ router_load[layer][expert] for MoE)
function Model.stats(self, tokens)
  local m = checkmodel(self, "nn.model:stats")
  local fa, ma, gm, gs, fh, load = core.nn_stats(m, tokens_arg(tokens, "nn.model:stats", "tokens", 1))
  local mx = 0
  for _, v in ipairs(ma) do mx = math.max(mx, v) end
  return { f_attn = fa, m_act = ma, max_act = mx, gate_mean = gm, gate_sparsity = gs, f_attn_heads = fh,
    router_load = load }
end

--- model:save(path)
function Model.save(self, path)
  core.nn_save(checkmodel(self, "nn.model:save"), path)
end

--- model:config() -> table of the configuration (+ params, step)
function Model.config(self)
  return core.nn_info(checkmodel(self, "nn.model:config"))
end

--- model:parameters() -> flat copy of the parameters; model:gradients() -> flat copy of the gradients
function Model.parameters(self) return core.nn_params(checkmodel(self, "nn.model:parameters")) end
function Model.gradients(self) return core.nn_grads(checkmodel(self, "nn.model:gradients")) end
--- model:set_parameters(flat)
function Model.set_parameters(self, p) core.nn_set_params(checkmodel(self, "nn.model:set_parameters"), p) end

--- nn.load(path) -> model
function M.load(path)
  return wrap(core.nn_load(path))
end

--- nn.is_model(x)
function M.is_model(x) return getmetatable(x) == Model end

-- Debian's fortunes (plain English text), the default corpus.
M.FORTUNES_DIR = "/usr/share/games/fortunes"
local FORTUNES = { "fortunes", "computers", "science", "wisdom", "literature", "people", "humorists",
  "education", "work", "platitudes", "law", "medicine", "politics", "men-women", "miscellaneous", "love",
  "food", "pets", "sports", "songs-poems", "riddles", "goedel", "linux", "magic" }

local Dataset = {}
Dataset.__index = Dataset
core.public_methods("nn.dataset", Dataset)

--- nn.text_dataset(paths, {context, split, seed, bos}) -> dataset with :batch(split, B, step)
function M.text_dataset(paths, o)
  o = o or {}
  opts.check("nn.text_dataset", o, { "context", "split", "seed", "bos" })
  if paths == nil then
    paths = {}
    for _, n in ipairs(FORTUNES) do paths[#paths + 1] = M.FORTUNES_DIR .. "/" .. n end
  elseif type(paths) == "string" then
    paths = { paths }
  elseif type(paths) ~= "table" then
    error(("nn.text_dataset: bad argument #1 'paths': expected a path or a list of paths, got %s"):format(type(paths)), 2)
  end
  local parts = {}
  for i, p in ipairs(paths) do
    if type(p) ~= "string" then
      error(("nn.text_dataset: bad argument #1 'paths': expected strings, got %s at index %d"):format(type(p), i), 2)
    end
    local f, err = io.open(p, "rb")
    if not f then error(("nn.text_dataset: cannot read '%s' (%s)"):format(p, err), 2) end
    parts[#parts + 1] = f:read("a")
    f:close()
  end
  local data = table.concat(parts, "\n")
  local context = o.context or 128
  local split = o.split or 0.9
  if math.type(context) ~= "integer" or context < 1 then
    error(("nn.text_dataset: bad option 'context': expected a positive integer, got %s"):format(tostring(context)), 2)
  end
  if type(split) ~= "number" or not (split > 0 and split < 1) then
    error(("nn.text_dataset: bad option 'split': expected a number in (0,1), got %s"):format(tostring(split)), 2)
  end
  local bos = o.bos
  if bos ~= nil and (math.type(bos) ~= "integer" or bos < 0 or bos > 255) then
    error(("nn.text_dataset: bad option 'bos': expected a byte id 0..255 or nil, got %s"):format(tostring(bos)), 2)
  end
  local ntrain = math.floor(#data * split)
  if ntrain < context + 1 or #data - ntrain < context + 1 then
    error(("nn.text_dataset: the corpus (%d bytes) is too small for context %d with split %g")
      :format(#data, context, split), 2)
  end
  return setmetatable({ data = data, context = context, ntrain = ntrain, seed = o.seed or 1, bos = bos,
    size = #data, vocab = 256, train_bytes = ntrain, val_bytes = #data - ntrain }, Dataset)
end

--- dataset:batch(which, B, counter) -> tokens, targets (i64 [B,context]); which = "train" | "val"
function Dataset.batch(self, which, B, counter)
  if getmetatable(self) ~= Dataset then
    error(("nn.dataset:batch: bad argument #1 'dataset': expected a dataset (use ds:batch(...)), got %s"):format(type(self)), 2)
  end
  local lo, hi, salt
  if which == "train" then lo, hi, salt = 0, self.ntrain, 0
  elseif which == "val" then lo, hi, salt = self.ntrain, self.size, 1
  else
    error(("nn.dataset:batch: bad argument #1 'which': expected 'train' or 'val', got %s"):format(tostring(which)), 2)
  end
  return core.nn_batch(self.data, lo, hi, B or 8, self.context, self.seed * 2 + salt, counter or 0,
    self.bos)
end

--- nn.decode(tokens) -> string of the byte tokens
function M.decode(t)
  if not T.is_tensor(t) and type(t) ~= "table" then
    error(("nn.decode: bad argument #1 'tokens': expected a tensor or a table of byte ids, got %s"):format(type(t)), 2)
  end
  local out = {}
  local tbl = T.is_tensor(t) and t:totable() or t
  for i, v in ipairs(tbl) do
    if math.type(v) ~= "integer" or v < 0 or v > 255 then
      error(("nn.decode: bad argument #1 'tokens': expected byte ids 0..255, got %s at %d"):format(tostring(v), i), 2)
    end
    out[i] = string.char(v)
  end
  return table.concat(out)
end

M.Model = Model
return M
