-- help: list the commands, or show how to use one
-- usage: kscript help [COMMAND]
--   With no argument, lists every command (yours in $KSCRIPT_PATH and
--   ~/.config/kscript/scripts, then the bundled ones) with its summary;
--   at the ksh> prompt, also how the prompt works.
local cmd = require "ksh.cmd"
local name = ...
if name then
  local text = cmd.usage(name)
  if not text then ksh.usage("no such command: %s", name) end
  print(text)
  return
end
local interactive = ksh.interactive
print(interactive and "commands (type NAME [args...]; 'help NAME' shows one's usage):"
  or "usage: kscript [options] COMMAND [args...] | SCRIPT.lua [args...]\n\ncommands:")
local w = 0
local list = cmd.list()
for _, c in ipairs(list) do w = math.max(w, #c.name) end
for _, c in ipairs(list) do
  print(("  %-" .. w .. "s  %s%s"):format(c.name, c.summary, c.where ~= "bundled" and "  (" .. c.where .. ")" or ""))
end
if not interactive then
  print("\n'kscript help COMMAND' shows a command's usage; 'kscript --help' the options.")
  return
end
print([[

the ksh> prompt:
  get pods -n kube-system   a line whose first word is a command runs it
                            (shell-like quoting; a Lua global of the same
                            name wins)
  1 + 1, k8s.connect()      any other line is Lua, as in lua -i: expressions
                            print their value, tables through pp; an
                            unfinished statement continues on a >> prompt
  !cmd args                 always a command;  =expr  always Lua
  spawn(f), every(5, f)     background tasks: they run while you type and
                            print above the prompt; an error in one is shown
                            and the prompt goes on
  watch pods &              a command as a background job; tasks a statement
  jobs, fg N, kill N        leaves running are jobs too: list them, follow
                            one's output (Ctrl-C: stop following), stop one
  Ctrl-C                    stops the running command or chunk (a second
                            Ctrl-C kills a chunk stuck in C); at an empty
                            prompt it drops the line
  Tab                       completes commands, Lua globals and fields
  history                   ~/.ksh_history (KSH_HISTFILE overrides, /dev/null
                            disables); lines with tokens or passwords are
                            never saved
  exit [N], Ctrl-D            leave the prompt (with status N; Lua's os exit works too)
  k8s, etcd, json, yaml, base64, http, pp are loaded on first use; the Lua
  API is in share/lua-api.md.]])
