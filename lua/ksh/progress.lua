-- ksh.progress: a transient progress line on stderr for long work (a list
-- of many pages), only when stderr is a terminal and stdout is not (output
-- redirected to a file or a pipe): nothing at all is written otherwise.  The line appears from the second step
-- (one quick page shows nothing), is rewritten in place ("\r", erase to the
-- end of the line) and erased when the work ends, errors included, so
-- nothing of it stays on the screen.
--
--   local p <close> = require("ksh.progress").new("pods")
--   for page in k:pages(e) do ...; p:add(#page.items) end
--   -- "pods: 1500 items (3 pages)" while it runs; erased at the <close>
--
-- new(label [, {unit = "items", step = "pages", tty = bool}]): tty forces
-- (true) or suppresses (false) the terminal test.
local sys = require "ksh.sys"

local M = {}
local P = {}
P.__index = P
P.__name = "ksh.progress"

function M.new(label, opts)
  opts = opts or {}
  local on = opts.tty
  -- (with stdout on a terminal too, the output shows the progress itself
  -- and a line on stderr would mix with it)
  if on == nil then on = sys.isatty("stderr") and not sys.isatty("stdout") end
  return setmetatable({ label = tostring(label), n = 0, steps = 0, on = on, shown = false,
                        unit = opts.unit or "items", step = opts.step or "pages" }, P)
end

--- p:add([n]): one more step of n (default 1) units
function P:add(n)
  self.n = self.n + (n or 1)
  self.steps = self.steps + 1
  if not self.on or self.steps < 2 then return end
  io.stderr:write(("\r\27[K%s: %d %s (%d %s)"):format(self.label, self.n, self.unit, self.steps, self.step))
  io.stderr:flush()
  self.shown = true
end

--- p:done(): erase the line (if shown); later adds show nothing
function P:done()
  if self.shown then
    io.stderr:write("\r\27[K")
    io.stderr:flush()
    self.shown = false
  end
  self.on = false
end
P.__close = P.done

return M
