#!/usr/bin/env kscript
-- k:informer against the real API server: a store filled by list+watch
-- under a stream of creates, updates and deletes of ConfigMaps equals a
-- fresh list at the end (same keys, same resourceVersions); handlers see
-- every change once; indexes follow updates and deletes; a forced 410 (etcd
-- compaction) relists and calls handlers only for the real differences.
-- Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local k8s = require "k8s"

if not t.ok(os.getenv("KUBECONFIG") and os.getenv("KSCRIPT_TEST_ETCD"),
  "KUBECONFIG and KSCRIPT_TEST_ETCD are set (eval \"$(tests/env/up)\")") then t.done() end

local KC = os.getenv("KSCRIPT_TEST_KUBECTL")
local sys = require "ksh.sys"
local ns = "kscript-inf-" .. sys.pid()
local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local s = p:read("a")
  local ok = p:close()
  return ok, s
end
assert(sh(KC .. " create ns " .. ns))
local k = assert(k8s.connect { namespace = ns })

local function cm(name, data, labels)
  return { apiVersion = "v1", kind = "ConfigMap",
           metadata = { name = name, namespace = ns, labels = labels }, data = data or { a = "1" } }
end

-- wait for cond() with a generous bound; true when it held
local function until_(cond, secs)
  local t0 = now()
  while not cond() do
    if now() - t0 > (secs or 60) then return false end
    sleep(0.02)
  end
  return true
end

-- some objects exist before the informer starts
for i = 1, 5 do assert(k:create(cm("pre-" .. i, { a = "1" }, { team = i % 2 == 0 and "even" or "odd" }))) end

local adds, updates, deletes, initial = {}, {}, {}, 0
local bad_update = 0
-- (the controller-manager may publish kube-root-ca.crt in the namespace at any time)
local FS = "metadata.name!=kube-root-ca.crt"
local inf = assert(k:informer("configmaps", {
  namespace = ns, fieldSelector = FS,
  indexes = {
    by_team = function(o) return o.metadata.labels and o.metadata.labels.team end,
    by_key = function(o)
      local ks = {}
      for key in pairs(o.data or {}) do ks[#ks + 1] = key end
      return ks
    end,
  },
  transform = function(o) o.metadata.managedFields = nil; return o end,
  on_add = function(o, init)
    adds[#adds + 1] = o.metadata.name
    if init then initial = initial + 1 end
  end,
  on_update = function(old, new)
    if old.metadata.resourceVersion == new.metadata.resourceVersion then bad_update = bad_update + 1 end
    updates[#updates + 1] = new.metadata.name
  end,
  on_delete = function(o) deletes[#deletes + 1] = o.metadata.name end,
}))
t.ok(inf:wait_synced(60), "wait_synced")
t.ok(inf:synced(), "synced() after wait_synced")
t.is(inf:len(), 5, "the store holds the 5 objects listed")
t.is(initial, 5, "on_add ran for each listed object with initial = true")
t.ok(inf:get(ns .. "/pre-1") and inf:get(ns, "pre-1"), "get by key and by (namespace, name)")
t.is(inf:get(ns .. "/pre-1").metadata.managedFields, nil, "transform ran before storing")
local function names(objs)
  local out = {}
  for i, o in ipairs(objs) do out[i] = o.metadata.name end
  return table.concat(out, " ")
end
t.is(names(inf:by("by_team", "even")), "pre-2 pre-4", "by(index, value)")

-- a stream of writes from two concurrent tasks
local created, upd, del = 0, 0, 0
local function writer(prefix, n)
  return spawn(function()
    for i = 1, n do
      local name = prefix .. i
      assert(k:create(cm(name, { a = tostring(i) }, { team = "odd" })))
      created = created + 1
      if i % 2 == 0 then
        assert(k:patch("configmaps", name, { metadata = { labels = { team = "even" } }, data = { b = "x" } }))
        upd = upd + 1
      end
      if i % 3 == 0 then
        assert(k:delete("configmaps", name))
        del = del + 1
      end
    end
  end)
end
local w1, w2 = writer("x-", 30), writer("y-", 30)
assert(k:patch("configmaps", "pre-1", { data = { a = "2" } }))
assert(k:delete("configmaps", "pre-3"))
wait(w1, w2)
local fresh = assert(k:list("configmaps", { namespace = ns, fieldSelector = FS }))
local want = {}
for _, it in ipairs(fresh.items) do want[ns .. "/" .. it.metadata.name] = it.metadata.resourceVersion end
local function same_as_fresh()
  if inf:len() ~= #fresh.items then return false end
  for key, rv in pairs(want) do
    local o = inf:get(key)
    if not o or o.metadata.resourceVersion ~= rv then return false end
  end
  return true
end
local caught_up = until_(same_as_fresh, 60)
t.ok(caught_up, ("the store equals a fresh list: %d objects, same resourceVersions"):format(#fresh.items),
  ("store %d, list %d"):format(inf:len(), #fresh.items))
t.is(#adds, 5 + created, "on_add once per object (listed or created)")
t.is(#updates, upd + 1, "on_update once per update")
t.is(#deletes, del + 1, "on_delete once per delete")
t.is(bad_update, 0, "on_update's old and new differ")
-- indexes follow updates and deletes
local evens = {}
for _, it in ipairs(fresh.items) do
  if it.metadata.labels and it.metadata.labels.team == "even" then evens[#evens + 1] = it.metadata.name end
end
table.sort(evens)
t.is(names(inf:by("by_team", "even")), table.concat(evens, " "), "index by_team equals the fresh list's labels")
local with_b = 0
for _, it in ipairs(fresh.items) do if it.data and it.data.b then with_b = with_b + 1 end end
t.is(#inf:by("by_key", "b"), with_b, "a multi-valued index (data keys)")
t.is(#inf:by("by_team", "nobody"), 0, "an unknown value: empty")
t.raises(function() inf:by("nope", "x") end, "no index", "an unknown index raises")

-- a forced 410: cut the stream (from this task: the informer's wakes and
-- reconnects after its backoff), change things, compact etcd
local w = inf.watch
w.stream:close()
local n_add, n_upd, n_del = #adds, #updates, #deletes
assert(k:patch("configmaps", "pre-1", { data = { a = "3" } }))
assert(k:delete("configmaps", "pre-5"))
assert(k:create(cm("late", { a = "1" })))
assert(k:create(cm("gone-again")))
assert(k:delete("configmaps", "gone-again"))
local last = assert(k:create(cm("zz-compact")))
local ok, out = sh(("ETCDCTL_API=3 etcdctl --endpoints=%s compact %s"):format(os.getenv("KSCRIPT_TEST_ETCD"), last.metadata.resourceVersion))
t.ok(ok, "etcd compacted", out)
t.ok(until_(function() return w.stats.relists >= 1 and inf:get(ns .. "/zz-compact") ~= nil end, 60), "the informer relisted after 410")
local fresh2 = assert(k:list("configmaps", { namespace = ns, fieldSelector = FS }))
want = {}
for _, it in ipairs(fresh2.items) do want[ns .. "/" .. it.metadata.name] = it.metadata.resourceVersion end
fresh = fresh2
t.ok(until_(same_as_fresh, 60), "after the relist the store equals a fresh list")
local new_adds = {}
for i = n_add + 1, #adds do new_adds[#new_adds + 1] = adds[i] end
table.sort(new_adds)
t.is(table.concat(new_adds, " "), "late zz-compact", "relist: on_add only for the new objects")
t.is(table.concat(updates, " ", n_upd + 1), "pre-1", "relist: on_update only for the changed one")
t.is(table.concat(deletes, " ", n_del + 1), "pre-5", "relist: on_delete only for the vanished one")
t.is(inf:get(ns .. "/pre-5"), nil, "the vanished object left the store")
-- and it watches on
assert(k:create(cm("after")))
t.ok(until_(function() return inf:get(ns .. "/after") ~= nil end, 60), "after the relist the informer watches on")

-- a handler error is reported and the informer goes on
local inf2 = assert(k:informer("configmaps", { namespace = ns, labelSelector = "boom=1",
  on_add = function(o) if o.metadata.name == "boom-1" then error("boom") end end }))
t.ok(inf2:wait_synced(60), "a second informer (label selector) syncs")
assert(k:create(cm("boom-1", nil, { boom = "1" })))
assert(k:create(cm("boom-2", nil, { boom = "1" })))
assert(k:create(cm("quiet", nil, { boom = "0" })))
t.ok(until_(function() return inf2:get(ns .. "/boom-2") ~= nil end, 60), "after a handler error the informer goes on")
t.is(inf2.stats.handler_errors, 1, "the handler error was counted")
t.is(inf2:get(ns .. "/quiet"), nil, "the label selector applies")
inf2:stop()
t.ok(until_(function() return inf2.task.done end, 10), "stop() ends the informer's task")

-- a cluster-scoped resource: keys are bare names
local nsinf = assert(k:informer("namespaces", {}))
t.ok(nsinf:wait_synced(60), "an informer on namespaces syncs")
t.ok(nsinf:get(ns) ~= nil and nsinf:get(nil, ns) ~= nil, "a cluster-scoped object's key is its name")
nsinf:stop()

-- misuse raises; an unknown resource is nil, err
t.raises(function() k:informer("configmaps", { indexes = { x = 1 } }) end, "indexes.x", "a bad index raises")
t.raises(function() k:informer("configmaps", { on_add = 1 }) end, "on_add", "a bad handler raises")
local none, err = k:informer("nosuchthings")
t.ok(none == nil and err and err.kind == "notfound", "an unknown resource: nil, err", tostring(err))
do
  local inf3 <close> = assert(k:informer("configmaps", { namespace = ns }))
  t.ok(inf3:wait_synced(60), "a <close> informer syncs")
  inf = inf3
end
t.ok(inf.stopped, "<close> stops the informer")

sh(KC .. " delete ns " .. ns .. " --wait=false")
t.done()
