#!/usr/bin/env kscript
-- ksh.proc.run: results, errors, misuse, env, stdin, concurrency with other
-- tasks, cancel() killing the child, the output cap.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local proc = require "ksh.proc"

local r, err = proc.run { argv = { "sh", "-c", "echo out; echo err >&2; exit 4" } }
t.ok(r and r.status == 4 and r.stdout == "out\n" and r.stderr == "err\n" and r.signal == nil,
  "status, stdout and stderr apart", err)
r = proc.run { argv = { "sh", "-c", "kill -KILL $$" } }
t.ok(r and r.signal == 9 and r.status == 137, "a signal: signal = 9, status = 128 + 9 as a shell says")
r = proc.run { argv = { "cat" }, stdin = "line 1\n\0binary\255\n" }
t.is(r and r.stdout, "line 1\n\0binary\255\n", "stdin is fed whole, bytes as they are")
r = proc.run { argv = { "cat" } }
t.is(r and r.stdout, "", "no stdin: /dev/null")

-- env: added to ours, false removes one
local home = os.getenv("HOME")
r = proc.run { argv = { "sh", "-c", 'printf "%s|%s|%s" "$KSH_PROC_T" "${HOME-unset}" "$PATH"' },
               env = { KSH_PROC_T = "a b=c", HOME = false } }
t.is(r and r.stdout, "a b=c|unset|" .. os.getenv("PATH"), "env adds, false removes, the rest is inherited")
t.is(os.getenv("HOME"), home, "our own environment is untouched")

-- failures of the world: nil, err
r, err = proc.run { argv = { "/nonexistent/kscript-proc-t" } }
t.ok(r == nil and err.kind == "exec" and tostring(err):match("No such file or directory"),
  "a missing command: nil, err of kind exec", err)
r, err = proc.run { argv = { "kscript-no-such-command-anywhere" } }
t.ok(r == nil and err.kind == "exec", "a name not on PATH: kind exec", err)
local t0 = now()
r, err = proc.run { argv = { "sh", "-c", "echo partial >&2; sleep 30" }, timeout = 0.3 }
t.ok(r == nil and err.kind == "timeout" and now() - t0 < 3, "timeout: nil, err of kind timeout, promptly", err)
t.is(err and err.stderr, "partial\n", "the timeout error carries the stderr so far")
r, err = proc.run { argv = { "head", "-c", "200000", "/dev/zero" }, max_output = 1000 }
t.ok(r == nil and err.kind == "exec" and tostring(err):match("output exceeds"), "max_output: kind exec", err)

-- misuse raises
t.raises(function() proc.run() end, "table expected", "run() without options raises")
t.raises(function() proc.run { argv = {} } end, "argv must be a non%-empty list", "an empty argv raises")
t.raises(function() proc.run { argv = { "true", 3 } } end, "argv%[2%] must be a string", "a non-string argument raises")
t.raises(function() proc.run { argv = { "true" }, env = { ["A=B"] = "x" } } end, "not valid", "a bad env name raises")
t.raises(function() proc.run { argv = { "true" }, timeout = "1" } end, "timeout must be a number", "a string timeout raises")
local co = coroutine.create(function() return proc.run { argv = { "echo", "nested" } } end)
local okc, cr = coroutine.resume(co)
t.ok(okc and type(cr) == "table" and cr.stdout == "nested\n", "inside a coroutine of a task it waits too", cr)

-- other tasks run while a child runs; children run concurrently
local ticks = 0
local ticker = every(0.02, function() ticks = ticks + 1 end)
t0 = now()
local a = spawn(function() return proc.run { argv = { "sleep", "0.4" } } end)
local b = spawn(function() return proc.run { argv = { "sleep", "0.4" } } end)
local ra, rb = wait(a, b)
local el = now() - t0
ticker:cancel()
t.ok(ra.status == 0 and rb.status == 0 and el < 0.75, ("two 0.4 s children overlap (%.2f s)"):format(el))
t.ok(ticks >= 8, ("a timer kept firing meanwhile (%d ticks)"):format(ticks))

-- cancel() kills the child
local pidfile = os.tmpname()
local task = spawn(function()
  return proc.run { argv = { "sh", "-c", "echo $$ > " .. pidfile .. "; exec sleep 30" } }
end)
local pid
for _ = 1, 200 do
  local f = io.open(pidfile)
  pid = f and f:read("n")
  if f then f:close() end
  if pid then break end
  sleep(0.02)
end
t.ok(pid, "the child started")
task:cancel()
local okw, werr = pcall(task.wait, task)
t.ok(not okw and type(werr) == "table" and werr.kind == "cancelled", "the waiting task ends cancelled", werr)
local gone = false
for _ = 1, 100 do
  local f = io.open("/proc/" .. tostring(pid) .. "/stat")
  local st = f and f:read("a")
  if f then f:close() end
  if not st or st:match("%) ([ZX]) ") then gone = true break end
  sleep(0.02)
end
t.ok(gone, "cancel() killed the child")
os.remove(pidfile)

t.done()
