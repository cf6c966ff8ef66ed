-- Child process of spec/sdf_isa_spec.lua (run with MOONLAB_ISA set): the error-bounded sampler on random rays
-- through four scenes, the bound checked against the opacity by Simpson quadrature at β+ on every evaluated depth.
-- Prints "ISA <path>", a line "RAY <β+> <iters> <evals> <bound>" per ray, then "HONEST <rays> <converged>".
local T = require "moonlab.tensor"
local sdf = require "moonlab.sdf"
local core = require "moonlab.core"

local rng = require "spec.helpers.lcg"

local scenes = require("spec.helpers.sdf_scenes")(sdf)
print("ISA " .. core.info().isa)
local total, conv = 0, 0
for si, scene in ipairs(scenes) do
  local r, o, u = rng(40 + si), {}, {}
  for i = 1, 40 do
    local th, ph = r(0, 2 * math.pi), math.acos(r(-1, 1))
    local e = { 2.9 * math.sin(ph) * math.cos(th), 2.9 * math.cos(ph), 2.9 * math.sin(ph) * math.sin(th) }
    o[i], u[i] = e, { r(-0.8, 0.8) - e[1], r(-0.8, 0.8) - e[2], r(-0.8, 0.8) - e[3] }
  end
  local O, U = T.new(o), T.new(u)
  local s = sdf.sample(scene, O, U, { beta = si == 4 and 0.02 or 0.01, keep_eval = true, stratified = si % 2 == 0, seed = si })
  local ref = sdf.opacity_reference(scene, O, U, s.t_eval, s.beta_plus, 20000):totable()
  local te, de, bp, bd = s.t_eval:totable(), s.d_eval:totable(), s.beta_plus:totable(), s.bound:totable()
  local it, ev = s.iters:totable(), s.sdf_evals:totable()
  for i = 1, #o do
    local R, err, t, d, k, b = 0, 0, te[i], de[i], 1, bp[i]
    while t[k + 1] == t[k + 1] and k < #t do
      local psi = d[k] >= 0 and 0.5 * math.exp(-d[k] / b) or 1 - 0.5 * math.exp(d[k] / b)
      R = R + (t[k + 1] - t[k]) * psi / b
      k = k + 1
      err = math.max(err, math.abs((1 - math.exp(-R)) - ref[i][k]))
    end
    if not (err <= bd[i] + 1e-6) then error(("ray %d of scene %d: opacity error %.3g above the bound %.3g"):format(i, si, err, bd[i])) end
    if bd[i] <= 0.1 then conv = conv + 1 end
    total = total + 1
    print(("RAY %.17g %d %d %.17g"):format(b, it[i], ev[i], bd[i]))
  end
end
print(("HONEST %d %d"):format(total, conv))
