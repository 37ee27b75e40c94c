#!/usr/bin/env kscript
-- etcd.v2 on odd server answers (regressions from tests/fuzz/etcdv2_fuzz.c):
-- nil, err of kind "protocol" (a success body) or the error a v2 error body
-- gives, never a raise, in the client and in `kscript etcd`'s v2 printers;
-- etcd's real answers (tests/fuzz/corpus/etcdv2, captured from etcd 3.4)
-- still decode.  ksh.http.request is stubbed: no server here.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local http = require "ksh.http"
local answer
http.request = function() return answer() end
local v2 = require "etcd.v2"
local ctl2 = require "etcd.ctl2"
local c = v2.new({}, { "http://127.0.0.1:1" })
local function ok_body(b) answer = function() return { status = 200, headers = { ["x-etcd-index"] = "9" }, body = b } end end
local function err_body(b)
  answer = function() return nil, { kind = "http", status = 404, body = b, message = "HTTP 404", headers = {} } end
end

for _, b in ipairs {
  "{}", '{"node":"x"}', '{"node":{"key":"/a","value":{}}}', '{"node":{"key":"/a","ttl":1.5}}',
  '{"node":{"dir":true,"nodes":[1,{"key":2}]}}', '{"action":7,"node":{"key":"/a"}}', "[]", "not json",
} do
  ok_body(b)
  local r, e = c:get("/a")
  t.ok(r == nil and type(e) == "table" and e.kind == "protocol", "success body " .. b .. ": kind protocol")
  local ok, l, le = pcall(c.ls, c, "/")
  t.ok(ok and l == nil and le.kind == "protocol", "ls on " .. b .. ": kind protocol, no raise")
  local w = c:watcher("/a")
  local wok, we = pcall(w.next, w)
  t.ok(not wok and type(we) == "table" and we.kind == "protocol", "watch on " .. b .. ": raises kind protocol")
end

for _, v in ipairs {
  { '{"errorCode":1.5}', "HTTP 404" }, { '{"errorCode":"100","message":{}}', "HTTP 404" },
  { '{"errorCode":100,"message":[1],"index":"x"}', "100:  () [0]" },
  { '{"errorCode":100,"message":"Key not found","cause":"/a","index":7}', "100: Key not found (/a) [7]" },
} do
  err_body(v[1])
  local ok, r, e = pcall(c.get, c, "/a")
  t.ok(ok and r == nil and type(e) == "table" and tostring(e.message):find(v[2], 1, true),
    "error body " .. v[1] .. ": " .. v[2] .. (ok and e and (" (got " .. tostring(e.message) .. ")") or ""))
end
err_body('{"errorCode":100,"message":"Key not found","cause":"/a","index":7}')
local _, e = c:get("/a")
t.is(e.kind, "notfound", "a real error body keeps its kind")

-- nulls are Go's zero values
ok_body('{"action":"get","node":{"key":"/a","value":null,"nodes":null,"ttl":null}}')
local r = c:get("/a")
t.ok(r and r.node.value == nil and r.node.nodes == nil and r.index == 9, "null fields read as absent")

-- the captured answers decode and print with every format
local top = os.getenv("KSCRIPT_TOP") or "."
local real = io.stdout
local null = assert(io.open("/dev/null", "w"))
for _, name in ipairs { "get-recursive", "get-dir", "set", "set2", "mkdir", "rm", "inorder", "watch" } do
  local f = assert(io.open(top .. "/tests/fuzz/corpus/etcdv2/" .. name, "rb"))
  local body = f:read("a"):sub(2)
  f:close()
  ok_body(body)
  local got, ge = c:get("/a")
  local printed = got and pcall(function()
    io.stdout = null
    for _, fmt in ipairs { "simple", "extended", "json" } do ctl2.print_resp(got, fmt) end
  end)
  io.stdout = real
  t.ok(got and printed, "etcd's own answer (" .. name .. ") decodes and prints" .. (ge and (": " .. tostring(ge)) or ""))
end
t.done()
