-- k8s.leader: leader election on a coordination.k8s.io/v1 Lease, with
-- client-go's semantics (k8s.io/client-go/tools/leaderelection), so copies of
-- a script on several machines run exactly one active controller, and a
-- kscript copy and a client-go program on the same Lease exclude each other.
--
--   local le = k8s.leader_election{lease = "kube-system/my-ctl", identity = "a",
--     lease_duration = 15, renew_deadline = 10, retry_period = 2,
--     on_started = function(le) ... le:is_leader() ... end,
--     on_stopped = function() end}
--   le:wait()        -- "lost" or "stopped"
--
-- What is client-go's: the candidate tries to acquire every retry_period
-- (jittered by up to 1.2 x); a Lease held by another is taken only once
-- lease_duration has passed since THIS process observed the last change of
-- the record (never from renewTime: clocks of machines differ); a leader
-- renews with the resourceVersion of the Lease it last wrote (optimistic,
-- falling back to a read); leadership is lost when no renewal succeeds
-- within renew_deadline; release (release_on_cancel) empties holderIdentity
-- and sets leaseDurationSeconds to 1 so a standby takes over at once.
--
-- What is ours: one event loop runs the controller and the renewals, so a
-- controller that keeps the loop busy (or a process frozen by SIGSTOP) can
-- miss its renewals.  le:is_leader() therefore checks the clock: it is true
-- only while the last successful renewal (timed from when its request was
-- sent) is younger than renew_deadline, which is shorter than the
-- lease_duration a standby waits; past that it is false and leadership stops
-- (on_started's task is cancelled, on_stopped runs) at once.  Check it
-- before each action that only the leader may take.
local loop = require "ksh.loop"
local json = require "json"
local util = require "k8s.util"

local L = {}
L.__index = L
L.__name = "k8s.leader_election"

local JITTER = 1.2

local FIELDS = { client = "table", lease = "string", identity = "string", lease_duration = "number",
                 renew_deadline = "number", retry_period = "number", on_started = "function",
                 on_stopped = "function", on_new_leader = "function", release_on_cancel = "boolean",
                 labels = "table" }

--- microtime(t) -> "2006-01-02T15:04:05.000000Z" (metav1.MicroTime) of epoch seconds t
function L.microtime(t)
  local s = math.floor(t)
  local us = math.floor((t - s) * 1e6 + 0.5)
  if us >= 1000000 then s, us = s + 1, us - 1000000 end
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. (".%06dZ"):format(us)
end

local function wall() return require("ksh.sys").time() end

local function str(v) if v == nil or v == json.null then return nil end return v end

-- the record held in a Lease's spec (client-go's LeaderElectionRecord)
local function record_of(lease)
  local s = type(lease) == "table" and type(lease.spec) == "table" and lease.spec or {}
  return { holder = str(s.holderIdentity) or "", duration = tonumber(str(s.leaseDurationSeconds)) or 0,
           acquire = str(s.acquireTime), renew = str(s.renewTime),
           transitions = tonumber(str(s.leaseTransitions)) or 0,
           preferred = str(s.preferredHolder), strategy = str(s.strategy) }
end

-- client-go compares the raw record to see whether it changed
local function raw_of(r)
  return table.concat({ r.holder, r.duration, tostring(r.acquire), tostring(r.renew), r.transitions,
                        tostring(r.preferred), tostring(r.strategy) }, "\0")
end

local function spec_of(r)
  return { holderIdentity = r.holder, leaseDurationSeconds = r.duration,
           acquireTime = r.acquire, renewTime = r.renew, leaseTransitions = r.transitions,
           preferredHolder = r.preferred, strategy = r.strategy }
end

function L:_path(collection)
  local p = "/apis/coordination.k8s.io/v1/namespaces/" .. util.escape(self.namespace) .. "/leases"
  if collection then return p end
  return p .. "/" .. util.escape(self.name)
end

function L:_set_observed(r, raw)
  self.observed = r
  self.observed_raw = raw or raw_of(r)
  self.observed_time = loop.now()
end

function L:_lease_valid(t)
  return self.observed_time + self.observed.duration > t
end

function L:_holds() return self.observed.holder == self.identity end

-- PUT the Lease last read or written, with its resourceVersion
function L:_update(r)
  local obj = self.lease
  obj.spec = spec_of(r)
  if self.labels then
    obj.metadata.labels = obj.metadata.labels or {}
    for k, v in pairs(self.labels) do obj.metadata.labels[k] = v end
  end
  local res, err = self.client:raw_request { method = "PUT", path = self:_path(),
    accept = "application/json", headers = { ["Content-Type"] = "application/json" },
    body = json.encode(obj) }
  if not res then return nil, err end
  self.lease = res
  return true
end

-- client-go's tryAcquireOrRenew: true when we hold the Lease afterwards
function L:_try()
  local t, sent = loop.now(), loop.now()
  local stamp = L.microtime(wall())
  local rec = { holder = self.identity, duration = math.floor(self.lease_duration), acquire = stamp,
                renew = stamp, transitions = 0 }
  -- fast path: we hold it and it is valid: update the object we last wrote
  if self:_holds() and self:_lease_valid(t) and self.lease then
    rec.acquire, rec.transitions = self.observed.acquire, self.observed.transitions
    if self:_update(rec) then
      self:_set_observed(rec)
      self.renewed_at = sent
      return true
    end
  end
  local lease, err = self.client:raw_request { path = self:_path(), accept = "application/json" }
  if not lease then
    self.last_error = err
    if err.kind ~= "notfound" then return false end
    local obj = { apiVersion = "coordination.k8s.io/v1", kind = "Lease",
                  metadata = { name = self.name, namespace = self.namespace, labels = self.labels },
                  spec = spec_of(rec) }
    local created, cerr = self.client:raw_request { method = "POST", path = self:_path(true),
      accept = "application/json", headers = { ["Content-Type"] = "application/json" },
      body = json.encode(obj) }
    if not created then self.last_error = cerr; return false end
    self.lease = created
    self:_set_observed(rec)
    self.renewed_at = sent
    return true
  end
  self.lease = lease
  local old = record_of(lease)
  local raw = raw_of(old)
  if raw ~= self.observed_raw then self:_set_observed(old, raw) end
  t = loop.now()
  if old.holder ~= "" and self:_lease_valid(t) and not self:_holds() then return false end
  if self:_holds() then
    rec.acquire, rec.transitions = old.acquire, old.transitions
  else
    rec.transitions = old.transitions + 1
  end
  local ok, uerr = self:_update(rec)
  if not ok then self.last_error = uerr; return false end
  self:_set_observed(rec)
  self.renewed_at = sent
  return true
end

-- one try, abandoned (its request cancelled) after secs
function L:_try_within(secs)
  if secs <= 0 then return false end
  local ksh = require "ksh"
  local tr = ksh.spawn(function() return self:_try() end)
  local timer = ksh.spawn(function() loop.sleep(secs); tr:cancel() end)
  local ok, res = ksh.try(tr.wait, tr)
  timer:cancel()
  if not ok then
    tr:cancel()
    self.last_error = res
    return false
  end
  return res
end

function L:_report()
  local h = self.observed.holder
  if h ~= self.reported then
    self.reported = h
    if self.on_new_leader then
      local fn = self.on_new_leader
      require("ksh").spawn(function() fn(h) end)
    end
  end
end

local function jittered(d) return d + math.random() * JITTER * d end

--- is_leader() -> true while this process leads: it held the Lease at its
-- last renewal and that renewal is younger than renew_deadline
function L:is_leader()
  if not self.leading then return false end
  if loop.now() - self.renewed_at >= self.renew_deadline then
    self:_lose("renewal overdue")
    return false
  end
  return true
end

--- leader() -> the identity of the holder last observed ("" if none)
function L:leader() return self.observed.holder end

-- stop leading now: cancel on_started's task, release if asked, on_stopped
function L:_lose(why)
  if not self.leading then return end
  self.leading = false
  self.lost_reason = why
  self.result = self.result or (self.stopping and "stopped" or "lost")
  -- (from another task: is_leader() may be called in the one we cancel)
  require("ksh").spawn(function() self:_finish() end)
end

function L:_finish()
  if self.finished then return end
  self.finished = true
  local ksh = require "ksh"
  if self.started_task and not self.started_task.done then self.started_task:cancel() end
  if self.run_task and not self.run_task.done and loop.current() ~= self.run_task.co then
    self.run_task:cancel()
  end
  if self.release_on_cancel and self.result == "stopped" then ksh.try(function() self:_release() end) end
  if self.on_stopped then
    local ok, err = ksh.try(self.on_stopped, self)
    if not ok then io.stderr:write("leader election: on_stopped: ", tostring(err), "\n") end
  end
  self.done = true
  local w = self.waiters
  self.waiters = {}
  for _, co in ipairs(w) do loop.wake(co) end
end

-- client-go's tryRelease: an empty holder and a 1 s lease, so a standby takes over at once
function L:_release()
  local lease = self.client:raw_request { path = self:_path(), accept = "application/json" }
  if not lease then return false end
  self.lease = lease
  local old = record_of(lease)
  if old.holder ~= self.identity then return true end
  local stamp = L.microtime(wall())
  local rec = { holder = "", duration = 1, acquire = stamp, renew = stamp, transitions = old.transitions }
  if not self:_update(rec) then return false end
  self:_set_observed(rec)
  self.released = true
  return true
end

function L:_run()
  -- acquire: every retry_period, jittered
  while not self.stopping do
    local got = self:_try_within(self.renew_deadline)
    self:_report()
    if got then break end
    loop.sleep(jittered(self.retry_period))
  end
  if self.stopping then
    self.result = "stopped"
    self.leading = true -- (so _lose finishes the election)
    self:_lose("stopped before leading")
    return
  end
  self.leading = true
  self.acquired_at = loop.now()
  local ksh = require "ksh"
  if self.on_started then
    local fn = self.on_started
    self.started_task = ksh.spawn(function()
      local ok, err = ksh.try(fn, self)
      if not ok and not loop.is_interrupt(err) and not (type(err) == "table" and err.kind == "cancelled") then
        io.stderr:write("leader election: on_started: ", tostring(err), "\n")
      end
    end)
  end
  -- renew: every retry_period; lost when no try succeeds by renewed_at + renew_deadline
  while self.leading do
    loop.sleep(self.retry_period)
    if not self.leading then break end
    local renewed = false
    while true do
      local left = self.renewed_at + self.renew_deadline - loop.now()
      if left <= 0 then break end
      if self:_try_within(left) then renewed = true; break end
      self:_report()
      if not self:_holds() then break end -- another holds it now
      left = self.renewed_at + self.renew_deadline - loop.now()
      if left <= 0 then break end
      loop.sleep(math.min(self.retry_period, left))
    end
    self:_report()
    if not renewed then
      self:_lose("failed to renew the lease")
      return
    end
  end
end

--- new(opts) -> election (running as a task on the loop)
function L.new(opts, level)
  level = (level or 1) + 1
  util.check_arg(1, "leader_election", opts, "table", level + 1)
  util.check_opts(1, "leader_election", opts, FIELDS, level + 1)
  local ns, name = (opts.lease or ""):match("^([^/]+)/([^/]+)$")
  if not ns then error("leader_election: lease: \"namespace/name\" expected", level) end
  local ld, rd, rp = opts.lease_duration or 15, opts.renew_deadline or 10, opts.retry_period or 2
  if ld <= rd then error("leader_election: lease_duration must be greater than renew_deadline", level) end
  if rd <= JITTER * rp then error("leader_election: renew_deadline must be greater than retry_period*1.2", level) end
  if ld < 1 or rd <= 0 or rp <= 0 then error("leader_election: durations must be greater than zero (lease_duration at least 1 s)", level) end
  local identity = opts.identity
  if identity == nil then
    local h = io.open("/proc/sys/kernel/hostname")
    local host = h and h:read("l") or "kscript"
    if h then h:close() end
    identity = ("%s_%d_%08x"):format(host, require("ksh.sys").pid(), math.random(0, 0x7fffffff))
  end
  if identity == "" then error("leader_election: identity is empty", level) end
  local client = opts.client
  if not client then error("leader_election: client: a k8s client expected", level) end
  local self = setmetatable({
    client = client, namespace = ns, name = name, identity = identity,
    lease_duration = ld, renew_deadline = rd, retry_period = rp,
    on_started = opts.on_started, on_stopped = opts.on_stopped, on_new_leader = opts.on_new_leader,
    release_on_cancel = opts.release_on_cancel, labels = opts.labels,
    observed = record_of(nil), observed_raw = "", observed_time = -math.huge,
    renewed_at = -math.huge, leading = false, waiters = {},
  }, L)
  self.run_task = require("ksh").spawn(function()
    local ok, err = require("ksh").try(function() return self:_run() end)
    if not ok and not (type(err) == "table" and err.kind == "cancelled") then
      self.err = err
      self.result = self.result or "error"
      io.stderr:write("leader election: ", tostring(err), "\n")
    end
    if not self.leading and not self.finished then
      self.result = self.result or (self.stopping and "stopped" or "lost")
      self:_finish()
    end
  end)
  return self
end

--- wait() -> "lost" | "stopped": wait until the election ends
function L:wait()
  while not self.done do
    self.waiters[#self.waiters + 1] = loop.current()
    loop.suspend()
  end
  return self.result
end

--- stop(): stop leading (or trying to), release the Lease if release_on_cancel, run on_stopped
function L:stop()
  if self.stopping or self.done then return end
  self.stopping = true
  if self.leading then
    self.result = "stopped"
    self:_lose("stopped")
  elseif self.run_task and not self.run_task.done then
    self.result = "stopped"
    self.run_task:cancel()
  end
end
L.close = L.stop
L.__close = function(self) self:stop(); if loop.current() then self:wait() end end

return L
