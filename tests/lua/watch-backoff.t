#!/usr/bin/env kscript
-- k8s.watch's reconnect backoff is client-go's reflector backoff
-- (k8s.io/client-go/tools/cache/reflector.go: 800 ms, factor 2, cap 30 s,
-- jitter 1.0, reset after 2 minutes without a backoff).  No server needed.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local W = require "k8s.watch"

local function seq(rands, times)
  local st, out = {}, {}
  for i, r in ipairs(rands) do out[i] = W.backoff_step(st, times and times[i] or i, r) end
  return out, st
end

-- no jitter drawn (rand = 0): the base doubles from 0.8 s to the 30 s cap
local d = seq { 0, 0, 0, 0, 0, 0, 0, 0 }
t.is(table.concat(d, " "), "0.8 1.6 3.2 6.4 12.8 25.6 30.0 30.0", "the base doubles from 0.8 s, capped at 30 s")
-- the largest jitter (rand -> 1) doubles a sleep: [30, 60) at the cap
d = seq { 0.999, 0.999, 0.999, 0.999, 0.999, 0.999, 0.999 }
t.ok(d[1] > 1.59 and d[1] < 1.6 and d[7] > 59.9 and d[7] < 60, "jitter 1.0: each sleep in [base, 2 x base)",
  table.concat(d, " "))
-- random jitter stays within its bounds
local st, ok = {}, true
for i = 1, 200 do
  local base = math.min(0.8 * 2 ^ (i - 1), 30)
  local s = W.backoff_step(st, i)
  if s < base or s >= 2 * base then ok = false end
end
t.ok(ok, "200 random sleeps, each in [base, 2 x base)")
-- reset: a backoff more than 2 minutes after the previous one starts again at 0.8 s
d = seq({ 0, 0, 0, 0, 0 }, { 0, 1, 3, 200, 201 })
t.is(table.concat(d, " "), "0.8 1.6 3.2 0.8 1.6", "after 2 minutes without a backoff it starts again at 0.8 s")
d = seq({ 0, 0, 0 }, { 0, 100, 219 })
t.is(table.concat(d, " "), "0.8 1.6 3.2", "within 2 minutes of the previous backoff it goes on doubling")
t.done()
