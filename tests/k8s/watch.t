#!/usr/bin/env kscript
-- k:watch against the real API server: changes arrive as events; a handler
-- runs as a task beside other work; a forced 410 (etcd compaction, the
-- recipe of tests/env/README) makes the watch relist and deliver exactly the
-- changes made while it was cut off, then watch on.
-- Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local k8s = require "k8s"

if not t.ok(os.getenv("KUBECONFIG") and os.getenv("KSCRIPT_TEST_ETCD"),
  "KUBECONFIG and KSCRIPT_TEST_ETCD are set (eval \"$(tests/env/up)\")") then t.done() end

local KC = os.getenv("KSCRIPT_TEST_KUBECTL")
local ns = "kscript-watch-" .. require("ksh.sys").pid()
local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local s = p:read("a")
  local ok = p:close()
  return ok, s
end
assert(sh(KC .. " create ns " .. ns))
-- kube-controller-manager's root-ca-certificate-publisher puts this one into
-- every new namespace: wait for it, so it is part of the initial list
assert(sh(KC .. " -n " .. ns .. " wait --for=create configmap/kube-root-ca.crt --timeout=120s"))
local k = assert(k8s.connect { namespace = ns })
local json = require "json"
local function cm(name, data)
  return { apiVersion = "v1", kind = "ConfigMap", metadata = { name = name, namespace = ns }, data = data or { a = "1" } }
end
-- writes go through kubectl here (this issue covers reads; writes come later)
local function apply(obj)
  local p = io.popen(KC .. " apply -f - >/dev/null 2>&1", "w")
  p:write(json.encode(obj))
  p:close()
end
local function delete(name) sh(("%s -n %s delete cm %s"):format(KC, ns, name)) end
local function rv_of(name) return assert(k:get("configmaps", name)).metadata.resourceVersion end

-- 1. events as they happen (iterator form)
apply(cm("a"))
apply(cm("b"))
apply(cm("c"))
local it, w = k:watch("configmaps", { namespace = ns, bookmarks = false })
local got = {}
for _ = 1, 4 do
  local ev = it()
  got[#got + 1] = ev.type .. ":" .. ev.object.metadata.name .. (ev.initial and ":initial" or "")
end
table.sort(got)
t.is(table.concat(got, " "), "ADDED:a:initial ADDED:b:initial ADDED:c:initial ADDED:kube-root-ca.crt:initial", "no resourceVersion: the list arrives as ADDED (initial)")
-- (no need to wait for the watch to open: it starts from the list's
-- resourceVersion, so changes made before it is open are delivered too)
apply(cm("d"))
apply(cm("a", { a = "2" }))
delete("b")
local seq = {}
for _ = 1, 3 do
  local ev = it()
  seq[#seq + 1] = ev.type .. ":" .. ev.object.metadata.name
end
t.is(table.concat(seq, " "), "ADDED:d MODIFIED:a DELETED:b", "changes arrive in order")

-- 2. forced 410: cut off, change things, compact etcd, resume
-- (the stream is closed; the watch resumes from its last resourceVersion)
w.stream:close()
w.stream = nil
apply(cm("a", { a = "3" }))     -- modified while cut off
delete("c")                      -- deleted while cut off
apply(cm("e"))                   -- added while cut off
apply(cm("f"))
delete("f")                      -- added and deleted while cut off: nothing to deliver
apply(cm("zz-compact", { n = tostring(os.time()) }))
local rev = rv_of("zz-compact")
local ok, out = sh(("ETCDCTL_API=3 etcdctl --endpoints=%s compact %s"):format(os.getenv("KSCRIPT_TEST_ETCD"), rev))
t.ok(ok, "etcd compacted at " .. rev, out)
local relisted = {}
for _ = 1, 4 do
  local ev = it()
  relisted[#relisted + 1] = ev.type .. ":" .. ev.object.metadata.name .. (ev.relist and ":relist" or "")
end
table.sort(relisted)
t.is(table.concat(relisted, " "), "ADDED:e:relist ADDED:zz-compact:relist DELETED:c:relist MODIFIED:a:relist",
  "410: exactly the changes made while cut off, marked relist")
t.is(w.stats.relists, 1, "one relist")
-- and the watch goes on
apply(cm("g"))
local ev = it()
t.is(ev and ev.type .. ":" .. ev.object.metadata.name .. tostring(ev.relist), "ADDED:gnil", "after the relist the watch goes on")
w:close()

-- 3. on_gone = "raise"
local it2, w2 = k:watch("configmaps", { namespace = ns, resourceVersion = "1", on_gone = "raise" })
local rok, rerr = pcall(it2)
t.ok(not rok and type(rerr) == "table" and rerr.kind == "gone", "on_gone = raise: a 410 raises kind gone", tostring(rerr))
w2:close()

-- 4. a handler, as a task beside other work
local seen = {}
local task = k:watch("configmaps", { namespace = ns, resourceVersion = rv_of("g") }, function(e)
  seen[#seen + 1] = e.type .. ":" .. e.object.metadata.name
  if e.object.metadata.name == "h" and e.type == "DELETED" then return false end
end)
local ticks = 0
local ticker = every(0.05, function() ticks = ticks + 1 end)
-- other work runs while the handler task waits for its first event
local t0 = now()
while ticks < 4 and now() - t0 < 30 do sleep(0.05) end
apply(cm("h"))
delete("h")
task:wait()
ticker:cancel()
t.is(table.concat(seen, " "), "ADDED:h DELETED:h", "handler: events delivered until it returns false")
t.ok(ticks >= 4, "other work ran while the handler waited (" .. ticks .. " ticks)")

-- 5. a label-selected watch with a name
local it3, w3 = k:watch("configmaps", { namespace = ns, name = "a" })
local e3 = it3()
t.is(e3.object.metadata.name, "a", "name = watches one object")
w3:close()

sh(KC .. " delete ns " .. ns .. " --wait=false")
t.done()
