-- tests/bench/etcd-put.lua N [CONCURRENCY] [PREFIX] [BATCH]: put N keys under
-- PREFIX (default /bench/put) from one script, CONCURRENCY tasks on the loop
-- (default 64), each sending one Put at a time, or with BATCH > 1 a Txn of
-- BATCH puts; prints keys per second.  Endpoints from ETCDCTL_ENDPOINTS.
local etcd = require "etcd"
local n, conc, prefix = tonumber((...)) or 10000, tonumber((select(2, ...))) or 64, select(3, ...) or "/bench/put"
local batch = tonumber((select(4, ...))) or 1
local c = assert(etcd.connect {})
local next_i, t0 = 0, now()
local function worker()
  while next_i < n do
    local i = next_i
    if batch > 1 then
      local hi = math.min(n, i + batch) - 1
      next_i = hi + 1
      local ops = {}
      for j = i, hi do ops[#ops + 1] = { "put", ("%s/%06d"):format(prefix, j), ("value-%06d"):format(j) } end
      assert(c:txn { success = ops })
    else
      next_i = i + 1
      assert(c:put(("%s/%06d"):format(prefix, i), ("value-%06d"):format(i)))
    end
  end
end
local tasks = {}
for w = 1, conc do tasks[w] = spawn(worker) end
for _, t in ipairs(tasks) do t:wait() end
local dt = now() - t0
print(("%d keys in %.3f s: %.0f keys/s"):format(n, dt, n / dt))
