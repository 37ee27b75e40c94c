#!/usr/bin/env kscript
-- Typed framers: a framer is a userdata of its own type (ksh.httpc.framer),
-- made by a binding (ksh.etcdpb's scanner:framer()); anything else passed
-- as http.stream's framer is a clear argument error at the caller's line.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local http = require "ksh.http"
local httpc = require "ksh.httpc"
local pb = require "ksh.etcdpb"
local json = require "json"

local sc = pb.range_scanner()
local fr = sc:framer()
t.is(type(fr), "userdata", "scanner:framer() is a userdata")
t.ok(httpc.isframer(fr), "isframer(scanner:framer())")
t.like(tostring(fr), "^framer %(", "tostring names it")
t.is(getmetatable(fr), "framer", "its metatable is sealed")
t.ok(not httpc.isframer(sc), "a scanner is not a framer")

local line
for _, junk in ipairs { "junk", 42, {}, json.null, io.stdout, sc, print } do
  local ok, err = pcall(function()
    line = debug.getinfo(1, "l").currentline + 1
    local st = http.stream { url = "http://127.0.0.1:1/", framer = junk }
    return st
  end)
  t.ok(not ok, "stream with framer = " .. type(junk) .. " raises")
  t.like(tostring(err), "bad argument #1 to 'stream' %(framer: a framer expected, got " .. type(junk) .. "%)",
    "  a clear argument error")
  t.like(tostring(err), "framer%.t:" .. line .. ":", "  naming the caller's line")
end

-- the binding itself checks too (a script reaching for ksh.httpc)
for _, junk in ipairs { "junk", json.null, io.stdout } do
  local ok, err = pcall(httpc.start, { url = "http://127.0.0.1:1/", framer = junk })
  t.ok(not ok, "httpc.start with framer = " .. type(junk) .. " raises")
  t.like(tostring(err), "bad argument #1 to '.-' %('framer' must be a framer", "  an argument error")
end
local ok, err = pcall(httpc.start, { url = "http://127.0.0.1:1/", framing = "custom" })
t.ok(not ok and tostring(err):match("framing 'custom' needs a framer"), "framing = custom without a framer")

-- the other entry points name their caller too
for _, c in ipairs {
  { function() local r = http.request("http://127.0.0.1:1/"); return r end, "bad argument #1 to 'request' %(table expected, got string%)" },
  { function() local r = http.stream(nil); return r end, "bad argument #1 to 'stream' %(table expected, got nil%)" },
  { function() local r = http.get(42); return r end, "bad argument #1 to 'get' %(string expected, got number%)" },
  { function() local r = http.get("http://127.0.0.1:1/", "x"); return r end, "bad argument #2 to 'get' %(table expected, got string%)" },
} do
  local ok, err = pcall(c[1])
  t.ok(not ok and tostring(err):match("framer%.t:%d+: " .. c[2]), "misuse: " .. c[2]:gsub("%%", ""), tostring(err))
end

-- a real framer on a refused connection: an error value, no crash
local s, serr = http.stream { url = "http://127.0.0.1:1/", framer = pb.range_scanner():framer() }
t.is(s, nil, "stream to a closed port fails")
t.is(type(serr) == "table" and serr.kind, "refused", "  with kind refused")
t.done()
