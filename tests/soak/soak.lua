-- tests/soak/soak.lua MINUTES NS ETCD_PREFIX REPORT: the soak's one kscript
-- process.  Three informers (configmaps and secrets of NS, pods of every
-- namespace), two etcd watches (a plain key prefix and the configmaps of NS
-- as stored by the API server), a proxy (driven by wrk from outside) and a
-- writer that creates, updates and deletes configmaps and etcd keys.  At the
-- end the caches are compared with fresh lists and the watch counts with
-- what was written; the result goes to REPORT as JSON.
local minutes, ns, eprefix, report = tonumber(arg[1]), arg[2], arg[3], arg[4]
local k = assert(k8s.connect())
local e = assert(etcd.connect())
local json = require "json"

local counts = { cm = 0, secret = 0, pod = 0 }
local function counter(what)
  return { on_add = function() counts[what] = counts[what] + 1 end,
           on_update = function() counts[what] = counts[what] + 1 end,
           on_delete = function() counts[what] = counts[what] + 1 end }
end
local function strip(o) o.metadata.managedFields = nil; return o end
local o = counter("cm"); o.namespace = ns; o.transform = strip
local cms <close> = assert(k:informer("configmaps", o))
o = counter("secret"); o.namespace = ns; o.transform = strip
local secrets <close> = assert(k:informer("secrets", o))
o = counter("pod"); o.all_namespaces = true; o.transform = strip
local pods <close> = assert(k:informer("pods", o))
for _, inf in ipairs { cms, secrets, pods } do assert(inf:wait_synced(120)) end

-- etcd: every put of the writer seen once, in order
local seen_kv, kv_gaps, last_kv = 0, 0, 0
local kv_task = e:watch(eprefix, { prefix = true }, function(ev)
  if ev.type == "PUT" then
    local n = tonumber(ev.kv.value)
    if n ~= last_kv + 1 then kv_gaps = kv_gaps + 1 end
    last_kv = n
    seen_kv = seen_kv + 1
  end
end)
local cm_events = 0
local cm_task = e:watch("/registry/configmaps/" .. ns .. "/", { prefix = true }, function() cm_events = cm_events + 1 end)

local proxy = assert(k8s.proxy_server { client = k, port = 0 })
proxy:start()
io.stdout:write("proxy ", proxy:address(), "\n")
io.stdout:flush()

-- the writer: a configmap changed and an etcd key written every 100 ms
local writes, puts, errors = 0, 0, {}
local deadline = ksh.now() + minutes * 60
local i = 0
while ksh.now() < deadline do
  i = i + 1
  local name = ("soak-%d"):format(i % 200)
  local cm = { apiVersion = "v1", kind = "ConfigMap", metadata = { name = name, namespace = ns },
               data = { n = tostring(i), pad = ("x"):rep(i % 1000) } }
  local ok, err
  if i % 7 == 0 then
    ok, err = k:delete("configmaps", name, { namespace = ns })
    if not ok and err.kind == "notfound" then ok = true end
  else
    ok, err = k:apply(cm, { field_manager = "soak", force = true })
  end
  if ok then writes = writes + 1 else errors[#errors + 1] = tostring(err) end
  puts = puts + 1
  assert(e:put(eprefix .. (puts % 50), tostring(puts)))
  ksh.sleep(0.1)
end
ksh.sleep(3) -- let the last events arrive

-- compare the caches with fresh lists
local function same(inf, res, opts)
  local l = assert(k:list(res, opts))
  local want = {}
  for _, it in ipairs(l.items) do want[(it.metadata.namespace or "") .. "/" .. it.metadata.name] = it.metadata.resourceVersion end
  local n, bad = 0, 0
  for _, obj in ipairs(inf:list()) do
    n = n + 1
    local key = (obj.metadata.namespace or "") .. "/" .. obj.metadata.name
    if want[key] ~= obj.metadata.resourceVersion then bad = bad + 1 end
    want[key] = nil
  end
  for _ in pairs(want) do bad = bad + 1 end
  return { cached = n, listed = #l.items, differ = bad }
end
local result = {
  configmaps = same(cms, "configmaps", { namespace = ns }),
  secrets = same(secrets, "secrets", { namespace = ns }),
  pods = same(pods, "pods", { all_namespaces = true }),
  handler_calls = counts, writes = writes, write_errors = #errors, first_errors = { errors[1], errors[2] },
  etcd_puts = puts, etcd_seen = seen_kv, etcd_gaps = kv_gaps, stored_cm_events = cm_events,
}
kv_task:cancel(); cm_task:cancel(); proxy:close()
local f = assert(io.open(report, "w"))
f:write(json.encode(result), "\n")
f:close()
