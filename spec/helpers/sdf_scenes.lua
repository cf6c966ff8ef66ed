-- The scenes of the bound-honesty checks (spec/sdf_spec.lua, spec/helpers/sdf_isa_child.lua): an exact sphere, a
-- rotated box, a rotated torus and a CSG difference (a 1-Lipschitz bound).
return function(sdf)
  return {
    sdf.sphere { r = 0.8 },
    sdf.box { size = { 1.2, 0.8, 1 } }:rotate({ 0, 1, 0 }, 0.5),
    sdf.torus { R = 0.8, r = 0.25 }:rotate({ 1, 0, 0 }, 0.7),
    sdf.subtract(sdf.union(sdf.sphere { r = 0.7 }, sdf.box { size = 0.8, center = { 0.6, 0, 0 } }),
      sdf.cylinder { r = 0.3, h = 3 }),
  }
end
