-- mini-scheduler: a small scheduler for the pods that name it, under leader election
-- usage: mini-scheduler [--scheduler-name NAME] [flags]
--   --scheduler-name NAME    schedule the pods whose spec.schedulerName is NAME
--                            (default: mini-scheduler)
--   --lease NS/NAME          the Lease of the election (default:
--                            kube-system/NAME); --leader-elect=false runs alone
--   --identity ID            this copy's name in the Lease (default: host_pid_random)
--   --lease-duration DUR, --renew-deadline DUR, --retry-period DUR
--                            client-go's timings (default 15s, 10s, 2s)
--   --timeout DUR            stop after DUR, status 0
--   --context NAME, --kubeconfig FILE, -s/--server URL, --token T
--
-- Like the scheduler of the seed article, it watches through the API server
-- and keeps local caches (an informer of nodes, one of pods indexed by node).
-- Pods with its name and no spec.nodeName are queued oldest first; for each,
-- it picks a node that is Ready, not cordoned, without a NoSchedule or
-- NoExecute taint the pod does not tolerate, matching spec.nodeSelector, with
-- room for the pod's requests (cpu, memory, and the node's pod count, against
-- status.allocatable, counting the pods there that have not finished) and the
-- least requested of those (kube-scheduler's LeastAllocated), then binds the
-- pod with the pods/binding subresource.  A pod that fits nowhere waits for a
-- node or pod to change.  Each bind prints one line:
--   2026-11-30T09:00:00.123456Z ID bound default/web-1 node-2
-- (the time the bind was sent, this copy's identity).  Only the copy that
-- holds the Lease schedules; it checks it still leads before each bind, and
-- when it loses the Lease it stops with status 1, as kube-scheduler does.
--   kscript mini-scheduler --scheduler-name mini --lease kube-system/mini
local args = require "ksh.args"
local cli = require "k8s.cli"
local ksh = require "ksh"
local loop = require "ksh.loop"
local json = require "json"
local leader = require "k8s.leader"

local o, rest = args.parse(arg, cli.flags {
  { nil, "scheduler-name", value = true },
  { nil, "lease", value = true },
  { nil, "leader-elect", value = true },
  { nil, "identity", value = true },
  { nil, "lease-duration", value = true },
  { nil, "renew-deadline", value = true },
  { nil, "retry-period", value = true },
  { nil, "timeout", value = true },
})
if #rest > 0 then ksh.usage("unexpected argument %q", rest[1]) end
local name = o.scheduler_name or "mini-scheduler"
local elect = o.leader_elect == nil or o.leader_elect == "true"
local lease = o.lease or ("kube-system/" .. name)
local ld = cli.duration(o.lease_duration, "lease-duration") or 15
local rd = cli.duration(o.renew_deadline, "renew-deadline") or 10
local rp = cli.duration(o.retry_period, "retry-period") or 2
local timeout = cli.duration(o.timeout, "timeout")

local k = cli.connect(o)

-- ---------------------------------------------------------------- quantities
local SUFFIX = { n = 1e-9, u = 1e-6, m = 1e-3, [""] = 1, k = 1e3, M = 1e6, G = 1e9, T = 1e12, P = 1e15, E = 1e18,
                 Ki = 2 ^ 10, Mi = 2 ^ 20, Gi = 2 ^ 30, Ti = 2 ^ 40, Pi = 2 ^ 50, Ei = 2 ^ 60 }
-- "100m" -> 0.1, "128Mi" -> 134217728, "1e3" -> 1000 (resource.Quantity)
local function quantity(q)
  if q == nil or q == json.null then return 0 end
  if type(q) == "number" then return q end
  local num, suf = tostring(q):match("^([+-]?[%d.]+[eE][+-]?%d+)$"), ""
  if not num then num, suf = tostring(q):match("^([+-]?[%d.]+)(%a*)$") end
  local n, m = tonumber(num), SUFFIX[suf or ""]
  if not n or not m then return 0 end
  return n * m
end

local function requests(pod)
  local r = { cpu = 0, memory = 0 }
  local spec = pod.spec or {}
  for _, c in ipairs(spec.containers or {}) do
    local q = c.resources and c.resources.requests or {}
    r.cpu = r.cpu + quantity(q.cpu)
    r.memory = r.memory + quantity(q.memory)
  end
  -- an init container runs alone: the pod needs the larger of the two
  for _, c in ipairs(spec.initContainers or {}) do
    local q = c.resources and c.resources.requests or {}
    r.cpu = math.max(r.cpu, quantity(q.cpu))
    r.memory = math.max(r.memory, quantity(q.memory))
  end
  if type(spec.overhead) == "table" then
    r.cpu = r.cpu + quantity(spec.overhead.cpu)
    r.memory = r.memory + quantity(spec.overhead.memory)
  end
  return r
end

-- ---------------------------------------------------------------- filters
local function is_ready(node)
  for _, c in ipairs(node.status and node.status.conditions or {}) do
    if c.type == "Ready" then return c.status == "True" end
  end
  return false
end

local function tolerates(pod, taint)
  for _, t in ipairs(pod.spec.tolerations or {}) do
    local effect_ok = t.effect == nil or t.effect == json.null or t.effect == "" or t.effect == taint.effect
    local key_ok = t.key == nil or t.key == json.null or t.key == "" or t.key == taint.key
    local op = t.operator or "Equal"
    local value_ok = op == "Exists" or (t.value or "") == (taint.value or "")
    if effect_ok and key_ok and value_ok then return true end
  end
  return false
end

local function selector_ok(pod, node)
  local sel = pod.spec.nodeSelector
  if type(sel) ~= "table" then return true end
  local labels = node.metadata.labels or {}
  for key, v in pairs(sel) do
    if labels[key] ~= v then return false end
  end
  return true
end

local function finished(p)
  local ph = p.status and p.status.phase
  return ph == "Succeeded" or ph == "Failed"
end

-- ---------------------------------------------------------------- the scheduler
local function schedule(le)
  local queue, queued = {}, {}     -- pod keys, oldest first
  local waiting                    -- the worker, when it waits for work
  local parked = {}                -- keys that fit nowhere, retried on a change
  local assumed = {}               -- key -> {node, req}: bound, not yet seen bound
  local function wake()
    if waiting then local w = waiting; waiting = nil; loop.wake(w) end
  end
  local function pending(p)
    return p.spec and p.spec.schedulerName == name and (p.spec.nodeName == nil or p.spec.nodeName == json.null
      or p.spec.nodeName == "") and not finished(p) and p.metadata.deletionTimestamp == nil
  end
  local function enqueue(p)
    local key = p.metadata.namespace .. "/" .. p.metadata.name
    if not queued[key] and not assumed[key] then
      queued[key] = true
      queue[#queue + 1] = key
      wake()
    end
  end
  local function unpark()
    local any = false
    for key in pairs(parked) do
      parked[key] = nil
      if not queued[key] then queued[key] = true; queue[#queue + 1] = key; any = true end
    end
    if any then wake() end
  end

  local nodes_inf <close> = assert(k:informer("nodes", {
    transform = function(n) n.metadata.managedFields = nil; return n end,
    on_add = unpark, on_update = unpark,
  }))
  local pods_inf <close> = assert(k:informer("pods", {
    all_namespaces = true,
    transform = function(p) p.metadata.managedFields = nil; return p end,
    indexes = { node = function(p)
      local n = p.spec and p.spec.nodeName
      if n ~= nil and n ~= json.null and n ~= "" and not finished(p) then return n end
    end },
    on_add = function(p) if pending(p) then enqueue(p) end end,
    on_update = function(_, p)
      local key = p.metadata.namespace .. "/" .. p.metadata.name
      if assumed[key] and p.spec.nodeName == assumed[key].node then assumed[key] = nil end
      if pending(p) then enqueue(p) elseif finished(p) then unpark() end
    end,
    on_delete = function(p)
      assumed[p.metadata.namespace .. "/" .. p.metadata.name] = nil
      unpark()
    end,
  }))
  assert(nodes_inf:wait_synced())
  assert(pods_inf:wait_synced())

  local function used_on(node)
    local u = { cpu = 0, memory = 0, pods = 0 }
    for _, p in ipairs(pods_inf:by("node", node)) do
      local r = requests(p)
      u.cpu, u.memory, u.pods = u.cpu + r.cpu, u.memory + r.memory, u.pods + 1
    end
    for key, a in pairs(assumed) do
      if a.node == node then
        local p = pods_inf:get(key)
        if not (p and p.spec.nodeName == node) then
          u.cpu, u.memory, u.pods = u.cpu + a.req.cpu, u.memory + a.req.memory, u.pods + 1
        end
      end
    end
    return u
  end

  -- the node with room and the least requested share, or nil
  local function pick(pod)
    local req = requests(pod)
    local best, best_score
    for _, n in ipairs(nodes_inf:list()) do
      local ok = is_ready(n) and not (n.spec and n.spec.unschedulable == true) and selector_ok(pod, n)
      if ok then
        for _, t in ipairs(n.spec and n.spec.taints or {}) do
          if (t.effect == "NoSchedule" or t.effect == "NoExecute") and not tolerates(pod, t) then ok = false; break end
        end
      end
      if ok then
        local alloc = n.status.allocatable or {}
        local cap = { cpu = quantity(alloc.cpu), memory = quantity(alloc.memory), pods = quantity(alloc.pods) }
        local u = used_on(n.metadata.name)
        if u.pods + 1 <= cap.pods and u.cpu + req.cpu <= cap.cpu and u.memory + req.memory <= cap.memory then
          -- LeastAllocated: the mean free share of cpu and memory (pods when nothing is requested)
          local score = ((cap.cpu > 0 and (cap.cpu - u.cpu - req.cpu) / cap.cpu or 0)
            + (cap.memory > 0 and (cap.memory - u.memory - req.memory) / cap.memory or 0)) / 2
            + (cap.pods - u.pods - 1) / cap.pods * 1e-3
          if not best_score or score > best_score then best, best_score = n.metadata.name, score end
        end
      end
    end
    return best, req
  end

  local ident = le and le.identity or o.identity or "mini-scheduler"
  while true do
    while #queue == 0 do
      waiting = loop.current()
      loop.suspend()
    end
    local key = table.remove(queue, 1)
    queued[key] = nil
    local pod = pods_inf:get(key)
    if pod and pending(pod) and not assumed[key] then
      local node, req = pick(pod)
      if not node then
        parked[key] = true
      else
        if le and not le:is_leader() then return end
        io.stdout:write(("%s %s bound %s %s\n"):format(leader.microtime(require("ksh.sys").time()), ident, key, node))
        io.stdout:flush()
        assumed[key] = { node = node, req = req }
        local ok, err = k:bind(pod, node)
        if not ok then
          assumed[key] = nil
          if err.kind == "conflict" or err.kind == "notfound" then
            io.stderr:write(("mini-scheduler: %s: %s\n"):format(key, tostring(err)))
          else
            io.stderr:write(("mini-scheduler: %s: %s (retrying)\n"):format(key, tostring(err)))
            ksh.after(1, function() local p = pods_inf:get(key); if p and pending(p) then enqueue(p) end end)
          end
        end
      end
    end
  end
end

-- ---------------------------------------------------------------- run
local status = 0
if timeout then
  local me = loop.current()
  ksh.after(timeout, function() loop.cancel(me) end)
end
local ok, err = ksh.try(function()
  if not elect then return schedule(nil) end
  local le <close> = k:leader_election { lease = lease, identity = o.identity,
    lease_duration = ld, renew_deadline = rd, retry_period = rp,
    on_started = function(le)
      io.stderr:write(("mini-scheduler: %s leads (lease %s)\n"):format(le.identity, lease))
      schedule(le)
    end,
    on_new_leader = function(who)
      if who ~= "" then io.stderr:write(("mini-scheduler: the leader is %s\n"):format(who)) end
    end }
  local result = le:wait()
  if result == "lost" then
    io.stderr:write(("mini-scheduler: %s lost the lease %s (%s)\n"):format(le.identity, lease, tostring(le.lost_reason)))
    status = 1
  end
end)
if not ok then
  if type(err) == "table" and err.kind == "cancelled" and timeout then return 0 end
  error(err, 0)
end
return status
