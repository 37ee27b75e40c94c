-- node-watch: report nodes that go NotReady and come back, with how long
-- usage: node-watch [NODE...] [flags]
--   -l, --selector SEL       only the nodes with these labels
--   --timeout DUR            stop after DUR (30s, 5m), status 0
--   --context NAME, --kubeconfig FILE, -s/--server URL, --token T
--
-- In the spirit of the Node Controller of the seed article: it keeps a cache
-- of the nodes (an informer: list, then watch through the API server) and
-- prints one line when a node's Ready condition leaves True, and one when it
-- is True again, with how long it was away.  Times are the condition's
-- lastTransitionTime (set by the node-lifecycle controller or the kubelet),
-- or the time the change was seen when a Ready condition comes back with an
-- older lastTransitionTime (kwok does that); the duration is the difference:
--   2026-11-30T09:00:40Z node-3 NotReady (Ready=Unknown NodeStatusUnknown: Kubelet stopped posting node status.)
--   2026-11-30T09:01:52Z node-3 Ready again after 1m12s
-- Nodes that are not Ready when it starts are reported first ("NotReady
-- for 5m2s"); nodes added or deleted are reported too.  On stderr, once the
-- cache is filled: "node-watch: watching N nodes, M Ready".
--   kscript node-watch -l type=kwok
local args = require "ksh.args"
local cli = require "k8s.cli"
local ksh = require "ksh"
local loop = require "ksh.loop"
local k8s = require "k8s"

local o, names = args.parse(arg, cli.flags {
  { "l", "selector", value = true },
  { nil, "timeout", value = true },
})
local timeout = cli.duration(o.timeout, "timeout")
local only
if #names > 0 then
  only = {}
  for _, n in ipairs(names) do only[n] = true end
end

local k = cli.connect(o)

local function ready_of(node)
  for _, c in ipairs(node.status and node.status.conditions or {}) do
    if c.type == "Ready" then return c end
  end
  return nil
end

local function is_ready(node)
  local c = ready_of(node)
  return c ~= nil and c.status == "True"
end

-- Go's time.Duration.String for whole seconds: 41s, 1m12s, 2h0m5s
local function dur(s)
  s = math.max(0, math.floor(s + 0.5))
  local h, m = s // 3600, s % 3600 // 60
  s = s % 60
  if h > 0 then return ("%dh%dm%ds"):format(h, m, s) end
  if m > 0 then return ("%dm%ds"):format(m, s) end
  return ("%ds"):format(s)
end

local function stamp(c)
  return c and c.lastTransitionTime or os.date("!%Y-%m-%dT%H:%M:%SZ")
end

local function say(fmt, ...)
  io.stdout:write(fmt:format(...), "\n")
  io.stdout:flush()
end

local function why(c)
  if not c then return "no Ready condition" end
  local s = "Ready=" .. tostring(c.status)
  if c.reason then s = s .. " " .. tostring(c.reason) end
  if c.message and c.message ~= "" then s = s .. ": " .. tostring(c.message) end
  return s
end

local function wanted(n) return not only or only[n.metadata.name] end

local function changed(old, new)
  if not wanted(new) then return end
  local was, is = is_ready(old), is_ready(new)
  if was == is then return end
  local name, c, oc = new.metadata.name, ready_of(new), ready_of(old)
  if not is then
    say("%s %s NotReady (%s)", stamp(c), name, why(c))
  else
    -- (a node whose kubelet -- or kwok -- restores an older Ready condition
    -- keeps its old lastTransitionTime: then the time we saw it come back)
    local t0 = oc and k8s.parse_time(oc.lastTransitionTime)
    local t1 = c and k8s.parse_time(c.lastTransitionTime)
    local at = stamp(c)
    if not t1 or (t0 and t1 <= t0) then
      t1 = os.time()
      at = os.date("!%Y-%m-%dT%H:%M:%SZ", t1)
    end
    say("%s %s Ready again%s", at, name, t0 and (" after " .. dur(t1 - t0)) or "")
  end
end

local synced = false
local inf <close> = assert(k:informer("nodes", {
  labelSelector = o.selector,
  transform = function(n) n.metadata.managedFields = nil; return n end,
  on_add = function(n, initial)
    if not wanted(n) then return end
    local c = ready_of(n)
    if initial then
      if not is_ready(n) then
        local t = c and k8s.parse_time(c.lastTransitionTime)
        say("%s %s NotReady%s (%s)", stamp(c), n.metadata.name,
          t and (" for " .. dur(os.time() - t)) or "", why(c))
      end
    elseif synced then
      say("%s %s added (%s)", n.metadata.creationTimestamp or stamp(c), n.metadata.name,
        is_ready(n) and "Ready" or "NotReady")
    end
  end,
  on_update = changed,
  on_delete = function(n)
    if wanted(n) then say("%s %s deleted", os.date("!%Y-%m-%dT%H:%M:%SZ"), n.metadata.name) end
  end,
}))
assert(inf:wait_synced())
synced = true
local total, ready = 0, 0
for _, n in ipairs(inf:list()) do
  if wanted(n) then
    total = total + 1
    if is_ready(n) then ready = ready + 1 end
  end
end
io.stderr:write(("node-watch: watching %d nodes, %d Ready\n"):format(total, ready))
io.stderr:flush()

if timeout then
  loop.sleep(timeout)
  return 0
end
-- until the informer ends (it does not, short of an interruption)
local ok, err = ksh.try(inf.task.wait, inf.task)
if not ok then error(err, 0) end
if inf.err then error(inf.err, 0) end
return 0
