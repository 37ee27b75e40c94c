#!/usr/bin/env kscript
-- k:informer against the real API server, the client-go behaviours added
-- after the first version: resync (on_update(obj, obj) for every object
-- held, every `resync` seconds, never interleaved with event handlers),
-- wait_synced woken by the sync (or ended by its timeout), the watch asked
-- with client-go's random timeout (timeoutSeconds in [min, 2 x min]) and
-- bookmarks, and the cache reflecting the last resourceVersion.
-- Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local k8s = require "k8s"

if not t.ok(os.getenv("KUBECONFIG"), "KUBECONFIG is set (eval \"$(tests/env/up)\")") then t.done() end
local KC = os.getenv("KSCRIPT_TEST_KUBECTL")
local ns = "kscript-infr-" .. require("ksh.sys").pid()
local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local s = p:read("a")
  return p:close(), s
end
assert(sh(KC .. " create ns " .. ns))
local k = assert(k8s.connect { namespace = ns })
local FS = "metadata.name!=kube-root-ca.crt"
for i = 1, 3 do
  assert(k:create { apiVersion = "v1", kind = "ConfigMap", metadata = { name = "r" .. i }, data = { v = "1" } })
end

local function until_(cond, secs)
  local t0 = now()
  while not cond() do
    if now() - t0 > (secs or 60) then return false end
    sleep(0.02)
  end
  return true
end

-- resync every 0.5 s: on_update(obj, obj); a real update has old ~= new
local resync_calls, real_updates, inside, overlap = {}, 0, 0, false
local inf <close> = assert(k:informer("configmaps", {
  namespace = ns, fieldSelector = FS, resync = 0.5, min_watch_timeout = 60,
  on_update = function(old, new)
    inside = inside + 1
    if inside > 1 then overlap = true end
    if old == new then
      local key = new.metadata.name
      resync_calls[key] = (resync_calls[key] or 0) + 1
    else
      real_updates = real_updates + 1
    end
    sleep(0.01) -- a handler that waits: another handler must not start meanwhile
    inside = inside - 1
  end,
}))
local t0 = now()
t.ok(inf:wait_synced(30), "wait_synced returns once synced")
t.ok(now() - t0 < 30, "... without waiting out its timeout")
t.ok(until_(function() return (resync_calls.r1 or 0) >= 3 and (resync_calls.r3 or 0) >= 3 end, 30),
  "resync: on_update(obj, obj) for every object, again and again (r1 " .. tostring(resync_calls.r1) .. ")")
t.is(real_updates, 0, "no update without a change: resync passes the same object as old and new")
assert(k:patch("configmaps", "r2", { data = { v = "2" } }))
t.ok(until_(function() return real_updates == 1 end, 30), "a real change still arrives as an update (old ~= new)")
t.ok(not overlap, "handlers never overlap (resync and events run one at a time)")
t.is(inf.stats.resyncs >= 3 and inf.stats.resynced >= 9, true, "stats count resyncs and objects resynced")
t.is(inf:last_sync_resource_version(), inf.watch.rv, "last_sync_resource_version() is the watch's resourceVersion")
local list = assert(k:list("configmaps", { namespace = ns, fieldSelector = FS }))
t.ok(tonumber(inf:last_sync_resource_version()) >= tonumber(inf:get(ns .. "/r2").metadata.resourceVersion),
  "the cache reflects a resourceVersion at least that of the last change")
t.is(#list.items, inf:len(), "same objects as a fresh list")

-- the watch request: client-go's random timeout, bookmarks asked for
local q = inf.watch:_query()
t.ok(q.timeoutSeconds >= 60 and q.timeoutSeconds <= 120, "timeoutSeconds random in [min, 2 x min] (" .. q.timeoutSeconds .. ")")
t.is(q.allowWatchBookmarks, "true", "bookmarks are asked for")
local seen = {}
for _ = 1, 50 do seen[inf.watch:_query().timeoutSeconds] = true end
local distinct = 0
for _ in pairs(seen) do distinct = distinct + 1 end
t.ok(distinct > 5, "... and random (" .. distinct .. " distinct values in 50)")

-- no resync without the option
local calls = 0
local plain <close> = assert(k:informer("configmaps", { namespace = ns, fieldSelector = FS,
  on_update = function(old, new) if old == new then calls = calls + 1 end end }))
assert(plain:wait_synced(30))
sleep(1.2)
t.is(calls, 0, "without resync, no on_update(obj, obj) (1.2 s)")

-- wait_synced: its timeout ends the wait (an informer that cannot list: a
-- server that never answers), and a stop ends it at once
local hang = k8s.connect { server = "http://127.0.0.1:9", namespace = ns }
t.ok(hang ~= nil, "a client for a closed port")
if hang then
  hang.resources = function() return k:resources() end
  hang.resource = function(_, r) return k:resource(r) end
  local bad <close> = assert(hang:informer("configmaps", {}))
  t0 = now()
  local ok, err = bad:wait_synced(0.5)
  t.ok(not ok and err.kind == "timeout" and now() - t0 < 5, "wait_synced(0.5) on a server that refuses: kind timeout ("
    .. tostring(err) .. ")")
  local waiter = spawn(function() return bad:wait_synced() end)
  sleep(0.1)
  bad:stop()
  local r1, r2 = waiter:wait()
  t.ok(r1 == nil and r2.kind == "closed", "stop() wakes a wait_synced without timeout: kind closed")
end
inf:stop(); plain:stop()
sh(KC .. " delete ns " .. ns .. " --wait=false")
t.done()
