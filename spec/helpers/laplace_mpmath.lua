-- Independent references computed by mpmath (Debian python3-mpmath) through /usr/bin/python3.
-- Returns nil when python3/mpmath is unavailable (callers then use the closed forms only).
local M = {}

local function run(script)
  local p = io.popen("/usr/bin/python3 -c '" .. script .. "' 2>/dev/null")
  if not p then return nil end
  local out = p:read("a")
  p:close()
  if not out or out == "" then return nil end
  return out
end

--- Stehfest weights V_1..V_N in 50-digit arithmetic (mpmath), as Lua numbers.
function M.stehfest_weights(N)
  local out = run(([[
import mpmath as mp
mp.mp.dps = 50
N = %d
h = N // 2
for k in range(1, N + 1):
    s = mp.mpf(0)
    for j in range((k + 1) // 2, min(k, h) + 1):
        s += mp.mpf(j) ** h * mp.factorial(2 * j) / (mp.factorial(h - j) * mp.factorial(j) * mp.factorial(j - 1) * mp.factorial(k - j) * mp.factorial(2 * j - k))
    print(mp.nstr((-1) ** (k + h) * s, 30))
]]):format(N))
  if not out then return nil end
  local w = {}
  for line in out:gmatch("[^\n]+") do w[#w + 1] = tonumber(line) end
  return #w == N and w or nil
end

--- mpmath.invertlaplace(F, t, method) for F given as a Python lambda text.
function M.invertlaplace(Ftext, t, method)
  local out = run(([[
import mpmath as mp
print(mp.nstr(mp.invertlaplace(lambda s: %s, %.17g, method="%s"), 20))
]]):format(Ftext, t, method or "talbot"))
  return out and tonumber(out:match("%S+"))
end

return M
