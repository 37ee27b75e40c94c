#!/usr/bin/env kscript
-- tests/etcd/endpoints.t: etcd.connect checks its endpoints (issue 18 #6):
-- a bad endpoints option is misuse (raises, naming the caller's line); a bad
-- ETCDCTL_ENDPOINTS is a failure with kind "config".  No server needed.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local etcd = require "etcd"

for _, bad in ipairs {
  { "not a url", "not an endpoint URL" }, { "", "empty endpoint" }, { 5, "string or list expected, got number" },
  { {}, "no endpoints" }, { { "a b" }, "not an endpoint URL" }, { { 7 }, "a string expected, got number" },
  { "ftp://h:1", "unsupported scheme" }, { "h:99999", "port out of range" }, { "h:2379,", "empty endpoint" },
  { "http://h:x", "not an endpoint URL" }, { "http://", "not an endpoint URL" },
} do
  local ok, e = pcall(etcd.connect, { endpoints = bad[1] })
  t.ok(not ok and tostring(e):find("bad argument #1 to 'connect' (endpoints: ", 1, true)
    and tostring(e):find(bad[2], 1, true), ("endpoints = %q raises"):format(tostring(bad[1])), tostring(e))
end
-- the position is the caller's line
local ok, e = pcall(function() local c = etcd.connect { endpoints = "not a url" }; return c end)
t.like(tostring(e), "^%.?/?tests/etcd/endpoints%.t:%d+: ", "the error names the caller's line")
t.ok(pcall(etcd.connect, 5) == false, "connect(5) raises")

for _, good in ipairs {
  { "127.0.0.1:2379", "http://127.0.0.1:2379" }, { "https://a.example:2379/", "https://a.example:2379" },
  { "http://a:1,b:2", "http://a:1 http://b:2" }, { { "[::1]:2379" }, "http://[::1]:2379" },
  { "localhost", "http://localhost" },
} do
  local c = etcd.connect { endpoints = good[1] }
  t.is(table.concat(c.endpoints, " "), good[2], ("endpoints = %q"):format(tostring(good[1])))
end
t.is(etcd.connect { endpoints = "a:1", cacert = "/ca" }.endpoints[1], "https://a:1", "a CA means https")
t.is(etcd.connect {}.endpoints[1], "http://127.0.0.1:2379", "the default endpoint")

-- from the environment: nil, err with kind "config"
local function env_case(value)
  local cmd = ("ETCDCTL_ENDPOINTS=%q %q -e %q 2>&1"):format(value, os.getenv("KSCRIPT") or "kscript",
    "local c, e = etcd.connect(); print(c and table.concat(c.endpoints, ' ') or (e.kind .. ': ' .. e.message))")
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  return out
end
t.is(env_case("not a url"), 'config: ETCDCTL_ENDPOINTS: "not a url" is not an endpoint URL (want [http[s]://]host:port)\n',
  "a bad ETCDCTL_ENDPOINTS is kind config")
t.is(env_case("5"), "http://5\n", "ETCDCTL_ENDPOINTS=5 is a host name, as etcdctl reads it")
t.is(env_case("http://x:1,y:2"), "http://x:1 http://y:2\n", "a good ETCDCTL_ENDPOINTS")
t.is(env_case(""), "http://127.0.0.1:2379\n", "an empty ETCDCTL_ENDPOINTS is unset")
t.done()
