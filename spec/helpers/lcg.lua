-- A seeded uniform generator for specs, independent of moonlab's own RNG: a 64-bit LCG (Knuth's MMIX constants)
-- returning rng(a, b) uniform in [a, b) from the top 52 bits of the state.
return function(seed)
  local s = seed
  return function(a, b)
    s = (s * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
    return a + (b - a) * ((s >> 11) / 2 ^ 52)
  end
end
