#!/usr/bin/env kscript
-- Tasks on the loop: sleep, spawn, wait, after, every, cancel, suspend/wake.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local loop = require "ksh.loop"

local t0 = now()
sleep(0.05)
t.ok(now() - t0 >= 0.045, "sleep waits")

local order = {}
-- long enough that the check cannot fail on a busy machine: overlapped the
-- two take 0.6 s, one after the other 0.9 s
local a = spawn(function() sleep(0.6) order[#order + 1] = "a" return "A", 1 end)
local b = spawn(function() sleep(0.3) order[#order + 1] = "b" return "B" end)
t0 = now()
local ra, rb = wait(a, b)
local took = now() - t0
t.is(ra .. rb, "AB", "wait returns each task's first result")
t.is(table.concat(order), "ba", "tasks run concurrently on one loop")
t.ok(took >= 0.59 and took < 0.85, ("two sleeps overlap instead of adding up (%.3f s)"):format(took))
local x, y = a:wait()
t.ok(x == "A" and y == 1, "task:wait() again returns all results")

local bad = spawn(function() sleep(0.01) error("task failed") end)
local ok, err = pcall(bad.wait, bad)
t.ok(not ok and tostring(err):match("task failed"), "a task's error is raised by wait()")

local fired = {}
local af = after(0.03, function() fired[#fired + 1] = "after" end)
local n = 0
local ev = every(0.01, function() n = n + 1; if n == 3 then return false end end)
wait(af, ev)
t.ok(fired[1] == "after" and n == 3, "after() runs once; every() until it returns false")

local slept = spawn(function() sleep(10) return "never" end)
sleep(0.01)
slept:cancel()
ok, err = pcall(slept.wait, slept)
t.ok(not ok and err.kind == "cancelled", "cancel() stops a sleeping task with kind 'cancelled'")

local closed = false
local c2 = spawn(function()
  local guard <close> = setmetatable({}, { __close = function(_, e) closed = type(e) == "table" and e.kind end })
  sleep(10)
end)
sleep(0.01)
c2:cancel()
pcall(c2.wait, c2)
t.is(closed, "cancelled", "a cancelled task runs its __close handlers, which get the cancellation error")

local waiter = spawn(function() return loop.suspend() end)
sleep(0.01)
t.ok(loop.wake(waiter.co, "woken", 7), "wake() resumes a suspended task")
local w1, w2 = waiter:wait()
t.ok(w1 == "woken", "with the values passed to wake() (" .. tostring(w1) .. "," .. tostring(w2) .. ")")

local gen = coroutine.wrap(function()
  for i = 1, 3 do sleep(0.01); coroutine.yield(i) end
end)
local seq = {}
for v in gen do seq[#seq + 1] = v end
t.is(table.concat(seq, ","), "1,2,3", "a coroutine.wrap generator may wait on the loop between its yields")
local inner = coroutine.create(function() sleep(10) end)
local runner = spawn(function() return coroutine.resume(inner) end)
sleep(0.01)
runner:cancel()
ok, err = pcall(runner.wait, runner)
t.ok(ok and err == false, "cancelling a task stops the wait inside its nested coroutine")
ok, err = pcall(require("ksh.loop").sleep, 0)
t.ok(ok, "sleep from the task itself still works")

-- many tasks
local tasks = {}
for i = 1, 1000 do tasks[i] = spawn(function() sleep(0.001 * (i % 10)) return i end) end
local sum = 0
for i = 1, 1000 do sum = sum + tasks[i]:wait() end
t.is(sum, 500500, "1000 tasks sleeping at once all finish")

local e = ksh.error("refused", "GET x: refused", { status = 0 })
t.ok(e.kind == "refused" and tostring(e) == "GET x: refused" and e.status == 0, "ksh.error builds the error shape")
t.ok(ksh.is_interrupt(ksh.error("interrupted")), "is_interrupt recognises interruptions")
ok, err = ksh.try(error, ksh.error("timeout", "slow"))
t.ok(not ok and err.kind == "timeout", "ksh.try catches failures")
ok, err = pcall(ksh.try, error, ksh.error("interrupted", "interrupted"))
t.ok(not ok and err.kind == "interrupted", "but never an interruption")

t.ok(not pcall(load, string.dump(function() end)) or load(string.dump(function() end)) == nil, "load() refuses bytecode")

local pp = require "ksh.pp"
t.is(pp.format({ b = 1, a = { 1, 2 }, [1] = "x" }), '{ "x", a = { 1, 2 }, b = 1 }', "pp: array part first, then keys in order")
local cyc = {}
cyc.self = cyc
t.is(pp.format(cyc), "{ self = <cycle> }", "pp marks cycles")
t.like(pp.format({ long = ("x"):rep(100) }), "^{\n  long = ", "pp breaks long tables over lines")

t.done()
