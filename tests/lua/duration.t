#!/usr/bin/env kscript
-- One duration parser (src/core/duration.c, Go's time.ParseDuration):
-- ksh.sys.parse_duration in Lua, --timeout on the command line.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local sys = require "ksh.sys"

for _, c in ipairs {
  { "500ms", 0.5, 500000000 }, { "30s", 30, 30000000000 }, { "2m", 120, 120000000000 },
  { "1h30m", 5400, 5400000000000 }, { "-1.5h", -5400, -5400000000000 }, { "0", 0, 0 },
  { "1h2m3s4ms5us6ns", 3723.004005006, 3723004005006 }, { "1\u{b5}s", 1e-6, 1000 },
} do
  local secs, ns = sys.parse_duration(c[1])
  t.ok(secs == c[2] and ns == c[3] and math.type(ns) == "integer", ("%q -> %s s, %d ns"):format(c[1], c[2], c[3]),
    "got " .. tostring(secs) .. " " .. tostring(ns))
end
for _, c in ipairs {
  { "10x", 'time: unknown unit "x" in duration "10x"' },
  { "10", 'time: missing unit in duration "10"' },
  { "", 'time: invalid duration ""' },
  { "1e3s", 'time: unknown unit "e" in duration "1e3s"' },
  { "3000000h", 'time: invalid duration "3000000h"' },
} do
  local secs, err = sys.parse_duration(c[1])
  t.ok(secs == nil and type(err) == "table" and err.kind == "parse" and tostring(err) == c[2],
    ("%q -> nil, err (parse): %s"):format(c[1], c[2]), "got " .. tostring(err))
end
t.raises(function() sys.parse_duration(nil) end, "bad argument #1 to 'parse_duration'", "nil raises (misuse)")
t.is(sys.now, nil, "one monotonic clock: ksh.loop.now (sys.now is gone)")
t.is(type(now()), "number", "now() is loop.now")

-- the same parser behind --timeout (a plain number is seconds)
local bin = os.getenv("KSCRIPT") or "./kscript"
local function run(args)
  local p = io.popen(bin .. " " .. args .. " 2>&1")
  local out = p:read("a")
  local _, _, code = p:close()
  return code, out
end
local code, out = run("--timeout 10x -e 'local x = 1'")
t.is(code, 2, "--timeout 10x exits 2")
t.like(out, 'time: unknown unit "x" in duration "10x"', "  with Go's message")
code = run("--timeout 2m -e 'sleep(0.01)'")
t.is(code, 0, "--timeout 2m is accepted")
code = run("--timeout 1h30m -e 'local x = 1'")
t.is(code, 0, "--timeout 1h30m is accepted")
code = run("--timeout 150ms -e 'sleep(10)'")
t.is(code, 124, "--timeout 150ms interrupts a sleep (exit 124)")
t.done()
