-- k8s.informer: a list+watch cache, as client-go's shared informer keeps one.
--
--   local inf <close> = k:informer("pods", { namespace = "prod",
--     indexes = { by_node = function(p) return p.spec.nodeName end },
--     on_add = function(obj, initial) end, on_update = function(old, new) end,
--     on_delete = function(obj) end })
--   inf:wait_synced(30)
--   inf:get("prod/web-1"); inf:list(); inf:by("by_node", "node-1")
--
-- It lists, fills its store, then watches from the list's resourceVersion
-- with k8s.watch (which resumes dropped connections and, on 410 Gone, lists
-- again and delivers only the differences: objects whose resourceVersion is
-- not the one held, new ones, vanished ones).  Handlers run one at a time in
-- the informer's task, after the store has changed; a handler error prints
-- its traceback to stderr and the informer goes on.
local loop = require "ksh.loop"
local util = require "k8s.util"
local Watch = require "k8s.watch"

local I = {}
I.__index = I
I.__name = "k8s.informer"

local FIELDS = { namespace = "string", all_namespaces = "boolean", labelSelector = "string",
                 fieldSelector = "string", on_add = "function", on_update = "function",
                 on_delete = "function", indexes = "table", transform = "function", limit = "number",
                 resync = "number", min_watch_timeout = "number" }

--- key(obj) -> "namespace/name", or "name" for a cluster-scoped object (client-go's MetaNamespaceKeyFunc)
function I.key(obj)
  local m = type(obj) == "table" and type(obj.metadata) == "table" and obj.metadata or {}
  local ns = m.namespace
  if ns == nil or ns == util.null or ns == "" then return tostring(m.name) end
  return ns .. "/" .. tostring(m.name)
end

-- the key k8s.watch keeps for an object ("" namespace for cluster-scoped)
local function watch_key(obj)
  local m = obj.metadata or {}
  local ns = m.namespace
  if ns == nil or ns == util.null then ns = "" end
  return ns .. "/" .. tostring(m.name)
end

local function rv_of(obj)
  return type(obj) == "table" and type(obj.metadata) == "table" and obj.metadata.resourceVersion or nil
end

-- index values of obj: fn may return nil, a value, or an array of values
local function values_of(fn, obj)
  local v = fn(obj)
  if v == nil or v == util.null then return {} end
  if type(v) == "table" then return v end
  return { v }
end

function I:_index_remove(key)
  local had = self.index_of[key]
  if not had then return end
  for name, vals in pairs(had) do
    local idx = self.indices[name]
    for _, v in ipairs(vals) do
      local set = idx[v]
      if set then
        set[key] = nil
        if next(set) == nil then idx[v] = nil end
      end
    end
  end
  self.index_of[key] = nil
end

function I:_index_add(key, obj)
  if not self.indexes then return end
  local mine = {}
  for name, fn in pairs(self.indexes) do
    local vals = values_of(fn, obj)
    local idx = self.indices[name]
    for _, v in ipairs(vals) do
      local set = idx[v]
      if not set then set = {}; idx[v] = set end
      set[key] = true
    end
    mine[name] = vals
  end
  self.index_of[key] = mine
end

function I:_put(key, obj)
  if self.items[key] == nil then self.count = self.count + 1 end
  self:_index_remove(key)
  self.items[key] = obj
  self:_index_add(key, obj)
end

function I:_remove(key)
  if self.items[key] ~= nil then self.count = self.count - 1 end
  self:_index_remove(key)
  self.items[key] = nil
end

-- handlers run one at a time (events and resyncs come from two tasks)
function I:_lock()
  while self.busy do
    self.lock_waiters[#self.lock_waiters + 1] = loop.current()
    loop.suspend()
  end
  self.busy = true
end

function I:_unlock()
  self.busy = false
  local w = table.remove(self.lock_waiters, 1)
  while w and coroutine.status(w) == "dead" do w = table.remove(self.lock_waiters, 1) end
  if w then loop.wake(w) end
end

-- a handler runs to its end; its error is reported and the informer goes on
function I:_call(fn, ...)
  if not fn then return end
  self:_lock()
  local ok, err = xpcall(fn, function(m)
    if loop.is_interrupt(m) then return m end
    local tb = debug.traceback(tostring(m), 2)
    return tb:match("^(.-)\n\t%[C%]: in function 'xpcall'") or tb
  end, ...)
  self:_unlock()
  if not ok then
    if loop.is_interrupt(err) then error(err, 0) end
    self.stats.handler_errors = self.stats.handler_errors + 1
    io.stderr:write("informer ", self.resource_name, ": handler error: ", tostring(err), "\n")
  end
end

function I:_event(ev)
  local t = ev.type
  if t == "BOOKMARK" then self.stats.bookmarks = self.stats.bookmarks + 1 end
  if t ~= "ADDED" and t ~= "MODIFIED" and t ~= "DELETED" then return end
  local o = self.opts
  local obj = ev.object
  local key = I.key(obj)
  local old = self.items[key]
  if t == "DELETED" then
    self:_remove(key)
    self.stats.deletes = self.stats.deletes + 1
    -- (a relist's DELETED carries only the name: the last version held is the one to report)
    self:_call(o.on_delete, (ev.relist and old) or (o.transform and o.transform(obj)) or obj)
    return
  end
  if o.transform then obj = o.transform(obj) end
  self:_put(key, obj)
  if old == nil then
    self.stats.adds = self.stats.adds + 1
    self:_call(o.on_add, obj, false)
  else
    self.stats.updates = self.stats.updates + 1
    self:_call(o.on_update, old, obj)
  end
end

-- resync: every opts.resync seconds, on_update(obj, obj) for every object
-- held (client-go's resync: the same object as old and new), in key order
function I:_resync_loop(period)
  while not self.stopped do
    loop.sleep(period)
    if self.stopped then return end
    self.stats.resyncs = self.stats.resyncs + 1
    for _, key in ipairs(self:keys()) do
      local obj = self.items[key]
      if obj ~= nil then
        self.stats.resynced = self.stats.resynced + 1
        self:_call(self.opts.on_update, obj, obj)
      end
      if self.stopped then return end
    end
  end
end

function I:_wake_waiters()
  local w = self.sync_waiters
  self.sync_waiters = {}
  for _, co in ipairs(w) do loop.wake(co) end
end

function I:_run()
  local o = self.opts
  local lopts = { namespace = o.namespace, all_namespaces = o.all_namespaces,
                  labelSelector = o.labelSelector, fieldSelector = o.fieldSelector, limit = o.limit }
  -- the first list, retried with client-go's backoff while the failure is of the world
  local list, err
  local bo = {}
  while true do
    list, err = self.client:list(self.resource, lopts)
    if list then break end
    self.last_error = err
    if err.kind == "notfound" or err.kind == "forbidden" or err.kind == "unauthorized" or err.kind == "invalid" then
      self.err = err
      return
    end
    loop.sleep(Watch.backoff_step(bo, loop.now()))
  end
  local rv = list.metadata and list.metadata.resourceVersion
  local items = type(list.items) == "table" and list.items or {}
  local wopts = {}
  for k, v in pairs(lopts) do wopts[k] = v end
  wopts.resourceVersion = rv
  wopts.min_watch_timeout = o.min_watch_timeout or 300
  self.watch = Watch.new(self.client, self.resource, wopts)
  local known = self.watch.known
  for _, it in ipairs(items) do
    known[watch_key(it)] = rv_of(it)
    local obj = o.transform and o.transform(it) or it
    self:_put(I.key(obj), obj)
  end
  -- (synced once the listed objects went through on_add, as client-go's HasSynced)
  for _, it in ipairs(items) do
    if self.stopped then return end
    local obj = self.items[I.key(it)]
    if obj then
      self.stats.adds = self.stats.adds + 1
      self:_call(o.on_add, obj, true)
    end
  end
  self.is_synced = true
  self:_wake_waiters()
  if o.resync and o.resync > 0 then
    self.resync_task = require("ksh").spawn(function() self:_resync_loop(o.resync) end)
  end
  for ev in self.watch:events() do
    if self.stopped then break end
    self:_event(ev)
  end
end

--- new(client, resource, opts) -> informer, started (a task on the loop) | nil, err
-- (k:informer tail-calls it: level 3 is the caller's line)
function I.new(client, res, opts)
  if type(client) ~= "table" or type(client.resource) ~= "function" then
    error(("calling 'informer' on bad self (k8s client expected, got %s; use k:informer(...))"):format(type(client)), 3)
  end
  util.check_arg(1, "informer", res, "string|table")
  util.check_opts(2, "informer", opts, FIELDS)
  opts = opts or {}
  local entry, err = client:resource(res)
  if not entry then return nil, err end
  local indices = {}
  for name, fn in pairs(opts.indexes or {}) do
    if type(fn) ~= "function" then
      error(("informer: indexes.%s: a function expected, got %s"):format(tostring(name), type(fn)), 3)
    end
    indices[name] = {}
  end
  local self = setmetatable({
    client = client, resource = entry, resource_name = entry.name, opts = opts,
    items = {}, count = 0, indexes = opts.indexes, indices = indices, index_of = {},
    is_synced = false,
    stats = { adds = 0, updates = 0, deletes = 0, handler_errors = 0, bookmarks = 0, resyncs = 0, resynced = 0 },
    lock_waiters = {}, sync_waiters = {},
  }, I)
  self.task = require("ksh").spawn(function()
    local ok, e = require("ksh").try(function() return self:_run() end)
    if not ok and not self.stopped then self.err = e end
    self.done = true
    if self.resync_task then self.resync_task:cancel() end
    self:_wake_waiters()
  end)
  return self
end

--- synced() -> true once the first list is in the store and went through on_add
function I:synced() return self.is_synced end

--- wait_synced([timeout]) -> true | nil, err (the informer failed, or timeout seconds passed)
-- (woken when it syncs or ends, never by polling)
function I:wait_synced(timeout)
  local me = loop.current()
  local timer
  local timed_out = false
  if timeout then
    timer = require("ksh").spawn(function()
      loop.sleep(timeout)
      timed_out = true
      for i, co in ipairs(self.sync_waiters) do
        if co == me then table.remove(self.sync_waiters, i); loop.wake(me); return end
      end
    end)
  end
  local _ <close> = setmetatable({}, { __close = function()
    if timer then timer:cancel() end
    for i, co in ipairs(self.sync_waiters) do
      if co == me then table.remove(self.sync_waiters, i); break end
    end
  end })
  while not self.is_synced do
    if self.err then return nil, self.err end
    if self.done or self.stopped then return nil, util.error("closed", "informer: stopped before it synced") end
    if timed_out then
      return nil, util.error("timeout", ("informer %s: not synced after %gs"):format(self.resource_name, timeout))
    end
    self.sync_waiters[#self.sync_waiters + 1] = me
    loop.suspend()
  end
  return true
end

--- last_sync_resource_version() -> the resourceVersion the cache reflects
-- (the last event's or bookmark's; client-go's LastSyncResourceVersion)
function I:last_sync_resource_version()
  return self.watch and self.watch.rv or nil
end

--- get(key) -> the object held under "namespace/name" (or "name"), or nil
function I:get(key, name)
  if name ~= nil then key = (key and key ~= "") and (key .. "/" .. name) or name end
  return self.items[key]
end

local function sorted(items, keys)
  table.sort(keys)
  local out = {}
  for i, k in ipairs(keys) do out[i] = items[k] end
  return out
end

--- list() -> every object held, ordered by key
function I:list()
  local keys = {}
  for k in pairs(self.items) do keys[#keys + 1] = k end
  return sorted(self.items, keys)
end

--- keys() -> every key held, sorted
function I:keys()
  local keys = {}
  for k in pairs(self.items) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

--- len() -> how many objects are held
function I:len() return self.count end

--- by(index, value) -> the objects whose index function gave value, ordered by key
function I:by(index, value)
  local idx = self.indices[index]
  if not idx then error(("informer:by: no index %q"):format(tostring(index)), 2) end
  local keys = {}
  for k in pairs(idx[value] or {}) do keys[#keys + 1] = k end
  return sorted(self.items, keys)
end

--- stop(): end the watch and the task (idempotent)
function I:stop()
  if self.stopped then return end
  self.stopped = true
  if self.watch then self.watch:close() end
  if self.resync_task then self.resync_task:cancel() end
  self:_wake_waiters()
  -- (from one of its own handlers the task ends at the next event)
  if self.task and not self.task.done and loop.current() ~= self.task.co then self.task:cancel() end
end
I.close = I.stop
I.__close = I.stop

return I
