#!/usr/bin/env kscript
-- The write verbs from Lua against the real API server: create, replace,
-- patch (merge, json, strategic, apply), apply of several documents (each
-- result), delete with preconditions, delete_collection, scale, status,
-- bind, evict, errors by kind; 200 creates from concurrent tasks with at
-- most max_in_flight requests at once; retry_on_conflict against a real 409
-- from a competing writer; wait_for a deletion and a condition on a watch;
-- logs through the kubelet stand-in; and a 429 with Retry-After honoured
-- (from a loopback stand-in, since the API server only sends 429 under load).
-- Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local k8s = require "k8s"
local json = require "json"

if not t.ok(os.getenv("KUBECONFIG") and os.getenv("KSCRIPT_TEST_KUBELET"),
  "KUBECONFIG and KSCRIPT_TEST_KUBELET are set (eval \"$(tests/env/up)\")") then t.done() end

local ns = "kscript-wapi-" .. require("ksh.sys").pid()
local k = assert(k8s.connect { namespace = ns })
assert(k:create { apiVersion = "v1", kind = "Namespace", metadata = { name = ns } })
local function cm(name, data) return { apiVersion = "v1", kind = "ConfigMap", metadata = { name = name }, data = data or { a = "1" } } end

-- create, errors by kind
local c, err = k:create(cm("c1"))
t.ok(c and c.metadata.uid and c.metadata.namespace == ns, "create returns the object, in the client's namespace")
c, err = k:create(cm("c1"))
t.is(c == nil and err.kind, "exists", "create again: nil, err (kind exists)")
t.like(tostring(err), 'configmaps "c1" already exists', "the message is the server's")
c, err = k:create { apiVersion = "v1", kind = "Nope", metadata = { name = "x" } }
t.ok(err and err.kind == "notfound" and err.no_kind, "unknown kind: kind notfound, err.no_kind")
c, err = k:create { apiVersion = "v1", kind = "ConfigMap", metadata = { name = "Bad_Name" } }
t.is(err and err.kind, "invalid", "invalid name: kind invalid")
t.raises(function() k:create("x") end, "bad argument #1 to 'create'", "misuse raises")

-- replace: a stale resourceVersion is a conflict
local cur = assert(k:get("configmaps", "c1"))
local stale = json.decode(json.encode(cur))
cur.data.a = "2"
local r = assert(k:replace(cur))
t.is(r.data.a, "2", "replace with the current resourceVersion")
stale.data.a = "3"
r, err = k:replace(stale)
t.is(err and err.kind, "conflict", "replace with a stale resourceVersion: kind conflict")

-- patch types
r = assert(k:patch("configmaps", "c1", { data = { m = "merge" } }))
t.is(r.data.m, "merge", "merge patch (the default)")
r = assert(k:patch("cm", "c1", { { op = "add", path = "/data/j", value = "json" } }, { type = "json" }))
t.is(r.data.j, "json", "json patch")
r = assert(k:patch("cm", "c1", '{"data":{"s":"strategic"}}', { type = "strategic" }))
t.is(r.data.s, "strategic", "strategic merge patch from text")
r = assert(k:patch("cm", "c1", { apiVersion = "v1", kind = "ConfigMap", metadata = { name = "c1" }, data = { ap = "1" } },
  { type = "apply", field_manager = "tester", force = true }))
t.is(r.data.ap, "1", "apply patch with a field manager")
r, err = k:patch("cm", "nope", { data = {} })
t.is(err and err.kind, "notfound", "patch of a missing object: kind notfound")

-- apply: several documents, each result in order
local res = k:apply([[
apiVersion: v1
kind: ConfigMap
metadata: {name: ap-1}
data: {x: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ap-2}
data: {x: 2}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ap-3}
]], { field_manager = "kscript-test" })
t.ok(#res == 3 and res[1].object and res[3].object and res[2].err, "apply of 3 documents: 3 results, the bad one with its error")
t.like(res[2].err and tostring(res[2].err), "data", "the bad document's error names the field")
local rv1 = res[1].object.metadata.resourceVersion
res = k:apply({ cm("ap-1", { x = "1" }) }, { field_manager = "kscript-test" })
t.is(res[1].object and res[1].object.metadata.resourceVersion, rv1, "apply again with the same fields: nothing changes (same resourceVersion)")
r, err = k:apply(cm("ap-1", { x = "other" }), { field_manager = "someone-else" })
t.is(err and err.kind, "conflict", "apply of a field another manager owns: kind conflict")
r = assert(k:apply(cm("ap-1", { x = "other" }), { field_manager = "someone-else", force = true }))
t.is(r.data.x, "other", "force = true takes the field over")

-- 200 creates from concurrent tasks, bounded in flight
k.max_in_flight = 8
local peak, inflight = 0, 0
local raw = k.raw_request
k.raw_request = function(self, o)
  inflight = inflight + 1
  if inflight > peak then peak = inflight end
  local a, b = raw(self, o)
  inflight = inflight - 1
  return a, b
end
local tasks = {}
for i = 1, 200 do tasks[i] = spawn(function() return k:create(cm(("many-%03d"):format(i))) end) end
local okn = 0
for i = 1, 200 do if tasks[i]:wait() then okn = okn + 1 end end
k.raw_request = nil
t.is(okn, 200, "200 concurrent creates all succeed")
t.ok(peak > 1 and peak <= 8, "at most max_in_flight (8) requests at once, and more than one (peak " .. peak .. ")")
k.max_in_flight = nil
local gone = assert(k:delete_collection("configmaps", { labelSelector = "", fieldSelector = "" }))
t.ok(gone.kind == "ConfigMapList" or gone.kind == "Status", "delete_collection answers with the deleted list")
-- (kube-controller-manager puts kube-root-ca.crt back at once: not the test's)
local left = {}
for _, o in ipairs(assert(k:list("configmaps")).items) do
  if o.metadata.name ~= "kube-root-ca.crt" then left[#left + 1] = o.metadata.name end
end
t.is(#left, 0, "delete_collection removed them", table.concat(left, " "))

-- retry_on_conflict: a competing writer bumps the object between our read and our write
assert(k:create(cm("rc", { n = "0" })))
local attempts = 0
local v, rerr = k:retry_on_conflict(function()
  attempts = attempts + 1
  local o = assert(k:get("configmaps", "rc"))
  if attempts <= 2 then assert(k:patch("configmaps", "rc", { data = { other = tostring(attempts) } })) end
  o.data.n = tostring(tonumber(o.data.n) + 1)
  return k:replace(o)
end)
t.ok(v and v.data.n == "1" and v.data.other == "2", "retry_on_conflict: the update lands on the latest version")
t.is(attempts, 3, "retry_on_conflict: two real 409s, then success")
local n = 0
v, rerr = k:retry_on_conflict(function() n = n + 1; return nil, require("ksh").error("conflict", "always") end, { steps = 3 })
t.ok(v == nil and rerr.kind == "conflict" and n == 3, "retry_on_conflict gives up after opts.steps and returns the last error")

-- delete with a precondition, wait_for a deletion on a watch
local victim = assert(k:create(cm("victim")))
r, err = k:delete("configmaps", "victim", { preconditions = { uid = "00000000-0000-0000-0000-000000000000" } })
t.is(err and err.kind, "conflict", "delete with a wrong uid precondition: kind conflict")
local t0 = now()
local waiter = spawn(function() return k:wait_for("configmaps", "victim", "delete", { timeout = 20 }) end)
sleep(0.3)
t.ok(not waiter.done, "wait_for delete waits while the object exists")
assert(k:delete("configmaps", "victim", { preconditions = { uid = victim.metadata.uid } }))
t.is(waiter:wait(), true, "wait_for delete returns true once the DELETED event arrives")
t.ok(now() - t0 < 5, "promptly (a watch, not a poll)")
t.is(k:wait_for("configmaps", "never-was", "delete", { timeout = 5 }), true, "wait_for delete of a missing object: at once")
r, err = k:wait_for("configmaps", "rc", "delete", { timeout = 1 })
t.is(err and err.kind, "timeout", "wait_for: timeout after opts.timeout")
local cond = spawn(function() return k:wait_for("configmaps", "rc", function(o) return o.data.ready == "yes" end, { timeout = 20 }) end)
sleep(0.2)
assert(k:patch("configmaps", "rc", { data = { ready = "yes" } }))
local got = cond:wait()
t.is(got and got.data.ready, "yes", "wait_for a Lua predicate returns the object that met it")

-- scale, status, bind, evict
local dep = assert(k:create { apiVersion = "apps/v1", kind = "Deployment", metadata = { name = "d" },
  spec = { replicas = 1, selector = { matchLabels = { app = "d" } },
           template = { metadata = { labels = { app = "d" } }, spec = { containers = { { name = "c", image = "x" } } } } } })
local sc = assert(k:scale("deployments", "d", 4))
t.is(sc.spec.replicas, 4, "scale returns the Scale with the new count")
t.is(assert(k:get("deploy", "d")).spec.replicas, 4, "the deployment has it")
-- the deployment controller updates d's status too: a write that lost the race is redone
local st, serr
for _ = 1, 10 do
  dep = assert(k:get("deploy", "d"))
  dep.status = { observedGeneration = 99 }
  st, serr = k:status(dep)
  if st or serr.kind ~= "conflict" then break end
end
st = assert(st, serr)
t.is(st.status.observedGeneration, 99, "status writes the status subresource")
-- a scheduler that does not run: kube-scheduler leaves the pod to k:bind
local pod = assert(k:create { apiVersion = "v1", kind = "Pod", metadata = { name = "p" },
  spec = { schedulerName = "kscript-test-none", containers = { { name = "c", image = "x" } } } })
assert(k:bind("p", "node-2"))
t.is(assert(k:get("pods", "p")).spec.nodeName, "node-2", "bind sets the pod's node (the binding subresource)")
r, err = k:bind(pod, "node-3")
t.is(err and err.kind, "conflict", "binding a bound pod again: kind conflict")
local ev = assert(k:evict("p", { grace_period = 0 }))
t.ok(ev, "evict answers (policy/v1 Eviction)")

-- logs
local text = assert(k:logs("backend-pod", { namespace = "default" }))
t.is(text, "kscript log line 1 from default/backend-pod/backend\nkscript log line 2 from default/backend-pod/backend\nkscript log line 3 from default/backend-pod/backend\n",
  "logs: the whole log as a string")
t.is(assert(k:logs("backend-pod", { namespace = "default", tail_lines = 1 })), "kscript log line 3 from default/backend-pod/backend\n", "logs tail_lines")
local lines = {}
local other = 0
local bg = spawn(function() for _ = 1, 20 do other = other + 1; sleep(0.1) end end)
for line in k:logs("backend-pod", { namespace = "default", follow = true }) do
  lines[#lines + 1] = line
  if #lines == 5 then break end
end
t.is(lines[5], "kscript log line 5 from default/backend-pod/backend", "logs follow: lines as they are written, an iterator")
t.ok(other >= 10, "other tasks ran while the log streamed (" .. other .. " ticks)")
bg:cancel()
local got_lines = {}
local task = k:logs("backend-pod", { namespace = "default", follow = true, tail_lines = 1 }, function(line)
  got_lines[#got_lines + 1] = line
  return #got_lines < 2
end)
task:wait()
t.is(got_lines[2], "kscript log line 4 from default/backend-pod/backend", "logs with a handler: a task")
r, err = k:logs("nope", { namespace = "default" })
t.is(err and err.kind, "notfound", "logs of a missing pod: kind notfound")

-- 429 with Retry-After: a loopback stand-in answers 429 twice, then 201; its
-- header says 2 s and its Status body 1 s: the header wins, as in client-go
do
  local port_file = os.tmpname()
  local py = [[
import http.server, json, sys, time
n = {"c": 0}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        n["c"] += 1
        if n["c"] <= 2:
            body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "TooManyRequests",
                               "message": "slow down", "code": 429, "details": {"retryAfterSeconds": 1}}).encode()
            self.send_response(429); self.send_header("Retry-After", "2")
        else:
            body = json.dumps({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "x"}, "tries": n["c"], "at": time.time()}).encode()
            self.send_response(201)
        self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
]]
  local pyf = os.tmpname()
  local f = io.open(pyf, "w"); f:write(py); f:close()
  os.remove(port_file)
  local srv = io.popen("python3 " .. pyf .. " " .. port_file .. " & echo $!")
  local pid = srv:read("l")
  local port
  for _ = 1, 100 do
    local pf = io.open(port_file)
    if pf then port = pf:read("a"); pf:close() end
    if port and port ~= "" then break end
    sleep(0.05)
  end
  local kk = assert(k8s.connect { server = "http://127.0.0.1:" .. port, kubeconfig = "/dev/null" })
  local t1 = now()
  local body = kk:_write { method = "POST", path = "/api/v1/namespaces/default/configmaps", body = "{}",
    headers = { ["Content-Type"] = "application/json" }, decode = true }
  local took = now() - t1
  t.ok(body and body.tries == 3, "429 twice, then the third try succeeds")
  t.ok(took >= 3.9 and took < 9, ("after waiting the Retry-After header (2 s) each time (%.1f s)"):format(took))
  t.is(kk.throttled, 2, "the client counts the 429s it waited on")
  os.execute("kill " .. pid)
  os.remove(pyf); os.remove(port_file)
end

assert(k:delete("namespaces", ns, { propagation_policy = "background" }))
t.done()
