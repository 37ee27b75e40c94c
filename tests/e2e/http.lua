-- HTTP core checks (run by tests/e2e/http.t with the servers it started).
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local http = require "ksh.http"

local plain = "http://127.0.0.1:" .. os.getenv("T_PLAIN")
local tls = "https://127.0.0.1:" .. os.getenv("T_TLS")
local mtls = "https://127.0.0.1:" .. os.getenv("T_MTLS")
local h2c = "http://127.0.0.1:" .. os.getenv("T_H2C")
local h2 = "https://127.0.0.1:" .. os.getenv("T_H2")
local closed = "http://127.0.0.1:" .. os.getenv("T_CLOSED")
local pki = os.getenv("T_PKI")
local function readf(p) local f = assert(io.open(p, "rb")); local s = f:read("a"); f:close(); return s end

-- one-shot requests
local r, err = http.request { url = plain .. "/hello" }
t.ok(r and r.status == 200 and r.body == "hello", "GET returns status and body", err)
t.is(r and r.headers["content-type"], "text/plain", "response headers by lowercase name")

r, err = http.request { url = plain .. "/status/404" }
t.ok(r == nil and err.kind == "http" and err.status == 404, "HTTP 404 is nil, err{kind=http, status=404}")
t.like(err and tostring(err), "^GET http://127%.0%.0%.1:%d+/status/404: HTTP 404$", "tostring(err) names method, URL, status")
t.like(err and err.body, '"code": 404', "the error body is kept")

r, err = http.request { url = plain .. "/status/404", any_status = true }
t.is(r and r.status, 404, "any_status returns the response instead of an error")

r, err = http.request { url = closed .. "/" }
t.is(err and err.kind, "refused", "connection refused has kind 'refused'")
t.like(err and err.message, "^GET " .. closed:gsub("%p", "%%%0") .. "/: .*[Rr]efused", "and a message naming method, URL and curl's text")

local bin = "a\0b\255\n" .. string.rep("z", 100000)
r, err = http.request { url = plain .. "/echo", method = "POST", body = bin }
t.ok(r and r.body == bin, "POST body is binary-safe (NUL, 0xff, 100 kB)", err)

r, err = http.request { url = plain .. "/headers", headers = { ["X-Test"] = "1", "X-Other: two" } }
local hs = r and require("cjson").decode(r.body) or {}
t.ok(hs["X-Test"] == "1" and hs["X-Other"] == "two", "request headers from a map and from lines")

-- streams
local want = {}
for i = 0, 29 do want[#want + 1] = ('{"i":%d,"pad":"%s"}'):format(i, ("x"):rep(i % 13)) end
local all = true
for chunk = 1, 13 do
  local s = assert(http.stream { url = plain .. "/stream?n=30&chunk=" .. chunk })
  local got = {}
  for rec in s:records() do got[#got + 1] = rec end
  s:close()
  if table.concat(got, "\n") ~= table.concat(want, "\n") then all = false end
end
t.ok(all, "a chunked stream yields the same records for chunk sizes 1..13")

local s = assert(http.stream { url = plain .. "/cut?n=3" })
local got, ok, e = {}, nil, nil
ok, e = pcall(function() for rec in s:records() do got[#got + 1] = rec end end)
t.ok(#got == 3 and not ok, "a stream cut mid-record delivers the complete records, then raises")
t.ok(type(e) == "table" and (e.kind == "closed" or e.kind == "truncated"), "with kind closed/truncated, not a short read", e)

s = assert(http.stream { url = plain .. "/stall", idle_timeout = 1 })
local first = s:read()
local rec, serr = s:read()
t.ok(first == '{"first":true}' and rec == nil and serr and serr.kind == "timeout", "an idle stream times out with kind 'timeout' when asked", serr)
s:close()

local t0 = now()
r, err = http.request { url = plain .. "/stall", timeout = 0.5 }
t.ok(err and err.kind == "timeout" and now() - t0 < 3, "a whole-request timeout", err)

s = assert(http.stream { url = plain .. "/stall" })
local reader = spawn(function() s:read(); return s:read() end)
sleep(0.2)
reader:cancel()
local cok, cerr = pcall(reader.wait, reader)
t.ok(not cok and cerr.kind == "cancelled", "a task reading a stream can be cancelled", cerr)
s:close()

-- a slow consumer pauses the transfer instead of buffering 32 MiB
s = assert(http.stream { url = plain .. "/big?mb=32", max_queue = 256 * 1024 })
local bytes, n, peak = 0, 0, 0
for line in s:records() do
  bytes = bytes + #line + 1
  n = n + 1
  if n % 2000 == 0 then sleep(0.01) end
  peak = s:peak_queue()
end
t.ok(bytes >= 32 * 1024 * 1024, "the slow consumer got every byte (" .. bytes .. ")")
-- at most the limit plus what one write callback brings (curl's 256 kB buffer)
t.ok(peak > 0 and peak <= 256 * 1024 + 300 * 1024, "and the queue stayed bounded: the transfer paused (peak " .. peak .. " bytes)")

-- HTTP/2: prior knowledge, ALPN, many streams on one connection
r, err = http.request { url = h2c .. "/conn", h2c = true }
t.ok(r and r.version == "HTTP/2", "h2c prior knowledge speaks HTTP/2", err)
r, err = http.request { url = h2 .. "/conn", cacert = pki .. "/ca.crt" }
t.ok(r and r.version == "HTTP/2", "https negotiates HTTP/2 through ALPN", err)

local tasks = {}
for i = 1, 100 do
  tasks[i] = spawn(function() return assert(http.request { url = h2 .. "/conn", cacert = pki .. "/ca.crt" }).body end)
end
local conns, okc = {}, 0
for i = 1, 100 do
  local okk, body = pcall(tasks[i].wait, tasks[i])
  if okk then okc = okc + 1; conns[body] = true end
end
local nconn = 0
for _ in pairs(conns) do nconn = nconn + 1 end
t.is(okc, 100, "100 concurrent HTTP/2 requests all succeed")
t.ok(nconn <= 2, "and share the connection pool (" .. nconn .. " connection(s))")

local streams, sums = {}, {}
for i = 1, 3 do
  streams[i] = spawn(function()
    local st <close> = assert(http.stream { url = h2 .. "/big.txt", cacert = pki .. "/ca.crt", max_queue = 128 * 1024 })
    local b, k = 0, 0
    for line in st:records() do
      b = b + #line + 1
      k = k + 1
      if k % 3000 == 0 then sleep(0.005) end
    end
    return b
  end)
end
local total = 0
for i = 1, 3 do total = total + streams[i]:wait() end
t.is(total, 3 * 24 * 1024 * 1009, "three paused HTTP/2 streams on one connection all complete")

-- TLS
r, err = http.request { url = tls .. "/hello", cacert = pki .. "/ca.crt" }
t.ok(r and r.body == "hello", "TLS verified against the test CA", err)
r, err = http.request { url = tls .. "/hello", cacert = pki .. "/other-ca.crt" }
t.is(err and err.kind, "tls", "a wrong CA fails with kind 'tls'")
r, err = http.request { url = tls .. "/hello" }
t.is(err and err.kind, "tls", "verification is on by default (system CAs do not know the test CA)")
r, err = http.request { url = tls .. "/hello", insecure = true }
t.ok(r and r.body == "hello", "insecure skips verification (with a warning on stderr)", err)
r, err = http.request { url = tls .. "/hello", cacert_pem = readf(pki .. "/ca.crt") }
t.ok(r and r.body == "hello", "the CA from in-memory PEM", err)
r, err = http.request { url = "https://localhost:" .. os.getenv("T_TLS") .. "/hello", cacert = pki .. "/ca.crt",
                        server_name = "test.kscript.local" }
t.ok(r and r.body == "hello", "server_name verifies a name other than the host dialled", err)
r, err = http.request { url = tls .. "/hello", cacert = pki .. "/ca.crt", server_name = "wrong.example" }
t.is(err and err.kind, "tls", "and a name the certificate lacks fails with kind 'tls'")

r, err = http.request { url = mtls .. "/hello", cacert = pki .. "/ca.crt" }
t.is(err and err.kind, "tls", "a missing client certificate fails with kind 'tls'")
r, err = http.request { url = mtls .. "/hello", cacert = pki .. "/ca.crt", cert = pki .. "/stranger.crt", key = pki .. "/stranger.key" }
t.is(err and err.kind, "tls", "a client certificate from another CA fails with kind 'tls'")
r, err = http.request { url = mtls .. "/hello", cacert = pki .. "/ca.crt", cert = pki .. "/client.crt", key = pki .. "/client.key" }
t.ok(r and r.body == "hello", "client certificate and key from files", err)
r, err = http.request { url = mtls .. "/hello", cacert_pem = readf(pki .. "/ca.crt"),
                        cert_pem = readf(pki .. "/client.crt"), key_pem = readf(pki .. "/client.key") }
t.ok(r and r.body == "hello", "client certificate and key from memory (kubeconfig *-data)", err)

t.done()
