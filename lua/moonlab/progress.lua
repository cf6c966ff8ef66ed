--- moonlab.progress: a progress bar on stderr for long Lua loops (sweeps, fits, renders). See docs/moonlab.md.
--- C calls draw the same bar through the bindings; both stay silent when `quiet`, when MOONLAB_QUIET=1, and
--- for work shorter than the delay (1 s on a terminal, 5 s otherwise).
local core = require "moonlab.core"
local opts = require "moonlab.opts"

local M = {}

--- new{label = "", total = 0, quiet = false} -> p: `p:update(done, [suffix])`, `p:finish([suffix])`.
--- `total = 0` means unknown (the bar then shows the count done and the time).
function M.new(o)
  o = o or {}
  opts.check("progress.new", o, { "label", "total", "quiet" })
  if o.total ~= nil and (math.type(o.total) == nil or not (o.total >= 0)) then
    error(("progress.new: option 'total' must be a number >= 0, got %s"):format(tostring(o.total)), 0)
  end
  return core.progress_new(tostring(o.label or ""), o.total or 0, o.quiet and true or false)
end

--- isatty([fd = 2]) -> true when the file descriptor is a terminal.
function M.isatty(fd)
  if fd ~= nil and math.type(fd) ~= "integer" then
    error(("progress.isatty: bad argument #1 'fd': expected an integer file descriptor, got %s"):format(
      type(fd) == "number" and tostring(fd) or type(fd)), 0)
  end
  return core.isatty(fd)
end

return M
