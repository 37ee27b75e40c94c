-- help: list the commands, or show how to use one
-- usage: kscript help [COMMAND]
--   With no argument, lists every command (yours in $KSCRIPT_PATH and
--   ~/.config/kscript/scripts, then the bundled ones) with its summary.
local cmd = require "ksh.cmd"
local name = ...
if name then
  local text = cmd.usage(name)
  if not text then ksh.usage("no such command: %s", name) end
  print(text)
  return
end
print("usage: kscript [options] COMMAND [args...] | SCRIPT.lua [args...]\n\ncommands:")
local w = 0
local list = cmd.list()
for _, c in ipairs(list) do w = math.max(w, #c.name) end
for _, c in ipairs(list) do
  print(("  %-" .. w .. "s  %s%s"):format(c.name, c.summary, c.where ~= "bundled" and "  (" .. c.where .. ")" or ""))
end
print("\n'kscript help COMMAND' shows a command's usage; 'kscript --help' the options.")
