-- The tour of moonlab (`make demo`): runs every examples/tour_<name>.lua section in order and writes
-- build/demo/report.md with the figures next to it.
local ml = require "moonlab"

local root = os.getenv("MOONLAB_ROOT") or "."
local outdir = (os.getenv("MOONLAB_DEMO_DIR") or (root .. "/build/demo"))
os.execute("mkdir -p '" .. outdir .. "'")

local report = {
  "# moonlab tour",
  "",
  ("Generated %s by `make demo`."):format(os.date("!%Y-%m-%d %H:%M UTC")),
  "",
  "```",
  tostring(ml.info()),
  "```",
}

local function section_files()
  local p = io.popen("ls '" .. root .. "/examples/' | grep '^tour_.*[.]lua$' | sort")
  local files = {}
  for f in p:lines() do files[#files + 1] = f end
  p:close()
  -- the foundation first, then the cores in alphabetical order
  table.sort(files, function(a, b)
    if (a == "tour_tensor.lua") ~= (b == "tour_tensor.lua") then return a == "tour_tensor.lua" end
    return a < b
  end)
  return files
end

local ok_all = true
for _, f in ipairs(section_files()) do
  local name = f:match("^tour_(.-)%.lua$")
  io.stderr:write(("== tour: %s\n"):format(name))
  report[#report + 1] = ""
  report[#report + 1] = "## " .. name
  report[#report + 1] = ""
  local ctx = { outdir = outdir }
  function ctx.log(s)
    print(s)
    report[#report + 1] = s
    report[#report + 1] = ""
  end
  function ctx.figure(path, caption)
    local rel = path:gsub("^" .. outdir:gsub("%p", "%%%0") .. "/", "")
    report[#report + 1] = ("![%s](%s)"):format(caption or rel, rel)
    print(("figure: %s (%s)"):format(path, caption or ""))
  end
  local t0 = os.clock()
  local run = assert(loadfile(root .. "/examples/" .. f))()
  local ok, err = xpcall(run, debug.traceback, ctx)
  if not ok then
    ok_all = false
    ctx.log("**section failed:** " .. tostring(err))
  end
  report[#report + 1] = ("_(%s: %.1f s CPU)_"):format(name, os.clock() - t0)
end

local fh = assert(io.open(outdir .. "/report.md", "w"))
fh:write(table.concat(report, "\n"), "\n")
fh:close()
print(("tour report: %s/report.md"):format(outdir))
if not ok_all then os.exit(1) end
