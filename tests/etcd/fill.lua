-- tests/etcd/fill.lua N VALUE_BYTES [PREFIX]: put N Kubernetes-shaped keys
-- (PREFIX/<type>/<ns>/<name>, default PREFIX /registry) with values of about
-- VALUE_BYTES bytes, in batched Txn puts (128 per Txn, 4 in flight).
-- Endpoints and certificates come from ETCDCTL_*.
local etcd = require "etcd"
local n, vbytes, prefix = tonumber((...)), tonumber((select(2, ...))) or 0, select(3, ...) or "/registry"
local c = etcd.connect {}
local types = { "pods", "services/specs", "configmaps", "secrets", "events", "deployments.apps", "leases" }
local function key(i)
  local ty = types[i % #types + 1]
  return ("%s/%s/ns-%d/obj-%07d"):format(prefix, ty, i % 13, i)
end
local batch, inflight = 128, 4
local next_i = 0
local function worker()
  while next_i < n do
    local ops = {}
    local lo = next_i
    local hi = math.min(n, lo + batch) - 1
    next_i = hi + 1
    for i = lo, hi do
      local k = key(i)
      local v = vbytes > 0 and (k .. ("x"):rep(vbytes)):sub(1, vbytes) or ""
      ops[#ops + 1] = { "put", k, v }
    end
    assert(c:txn { success = ops })
  end
end
local tasks = {}
for w = 1, inflight do tasks[w] = spawn(worker) end
for _, t in ipairs(tasks) do t:wait() end
