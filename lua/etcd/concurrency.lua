-- etcd.concurrency: sessions, locks and elections as etcd's clientv3
-- concurrency package does them (the recipes etcdctl lock and elect use:
-- keys NAME/<lease id in hex> on a session lease, the oldest key wins), so
-- kscript and etcdctl lock each other out and take turns in one election.
--
--   local s = c:session{ttl = 60}        s.lease, s:close() (revokes), <close>
--   local l = c:lock(name, {ttl = 10 | session = s})   l.key, l.revision, l.header
--       ... l:unlock()  (also <close>; waits while another holder has it)
--   local e = c:campaign(name, value, {ttl = 60 | session = s})   (waits to lead)
--       e.key, e.revision, e:proclaim(v), e:resign()
--   for r in c:observe(name) do print(r.kvs[1].key, r.kvs[1].value) end
--       (r like a get response: the leader's key-value, each time it changes)
-- Failures of the world return nil, err; observe's iterator raises.
local loop = require "ksh.loop"

local M = {}
local err = require("ksh").error

local Session = {}
Session.__index = Session
Session.__name = "etcd.session"

--- session(c [, {ttl = 60}]) -> a lease kept alive on the loop | nil, err
function M.session(c, opts)
  opts = opts or {}
  local ttl = opts.ttl or 60
  local g, e = c:lease_grant(ttl)
  if not g then return nil, e end
  local s = setmetatable({ client = c, lease = g.ID, ttl = ttl }, Session)
  local k, ke = c:lease_keepalive(g.ID, { on_lost = function(le) s.lost = le end })
  if not k then return nil, ke end
  s.keeper = k
  return s
end

--- s:done() -> true once the lease is lost (expired or revoked)
function Session:done() return self.lost ~= nil or self.closed == true end

--- s:close(): stop the keep-alive and revoke the lease (its keys go with it)
function Session:close()
  if self.closed then return end
  self.closed = true
  if self.keeper then self.keeper:close() end
  self.client:lease_revoke(self.lease)
end
Session.__close = Session.close

-- Wait until every key under pfx created at or before max_rev is deleted.
local function wait_deletes(c, pfx, max_rev)
  while true do
    local r, e = c:get(pfx, { prefix = true, sort_target = "CREATE", sort_order = "DESCEND", limit = 1,
                              max_create_revision = max_rev })
    if not r then return nil, e end
    if #r.kvs == 0 then return true end
    local w = c:watcher(r.kvs[1].key, { start_revision = r.header.revision })
    local ok, we = ksh.try(function()
      while true do
        local ev = w:next()
        if not ev then return end
        if ev.type == "DELETE" then return end
      end
    end)
    w:close()
    if not ok then return nil, we end
  end
end
M.wait_deletes = wait_deletes

local function first_create(pfx)
  return { prefix = true, sort_target = "CREATE", sort_order = "ASCEND", limit = 1 }, pfx
end

local Lock = {}
Lock.__index = Lock
Lock.__name = "etcd.lock"

--- lock(c, name [, {ttl = 60, session = s}]) -> lock | nil, err: waits until held
function M.lock(c, name, opts)
  opts = opts or {}
  local s, own = opts.session, false
  if not s then
    local e
    s, e = M.session(c, { ttl = opts.ttl or 60 })
    if not s then return nil, e end
    own = true
  end
  local pfx = name .. "/"
  local key = pfx .. ("%x"):format(s.lease)
  local getowner = { "get", pfx, (first_create(pfx)) }
  local r, e = c:txn {
    compare = { { key = key, target = "create", result = "=", value = 0 } },
    success = { { "put", key, "", { lease = s.lease } }, getowner },
    failure = { { "get", key }, getowner },
  }
  local function fail(fe)
    if own then s:close() end
    return nil, fe
  end
  if not r then return fail(e) end
  local rev = r.header.revision
  if not r.succeeded then rev = r.responses[1].kvs[1].create_revision end
  local l = setmetatable({ client = c, session = s, own_session = own, key = key, revision = rev, header = r.header },
    Lock)
  local owner = r.responses[2].kvs
  if #owner == 0 or owner[1].create_revision == rev then return l end
  local ok, we = wait_deletes(c, pfx, rev - 1)
  if not ok then
    c:del(key)
    return fail(we)
  end
  local g, ge = c:get(key)
  if not g then
    c:del(key)
    return fail(ge)
  end
  if #g.kvs == 0 then return fail(err("expired", "etcd lock " .. name .. ": session expired")) end
  l.header = g.header
  return l
end

--- l:unlock(): release the lock (and the session's lease when the lock made it)
function Lock:unlock()
  if self.released then return true end
  self.released = true
  local r, e = self.client:del(self.key)
  if self.own_session then self.session:close() end
  if not r then return nil, e end
  return true
end
Lock.__close = Lock.unlock

local Election = {}
Election.__index = Election
Election.__name = "etcd.election"

--- campaign(c, name, value [, {ttl = 60, session = s}]) -> leader | nil, err: waits to lead
function M.campaign(c, name, value, opts)
  opts = opts or {}
  local s, own = opts.session, false
  if not s then
    local e
    s, e = M.session(c, { ttl = opts.ttl or 60 })
    if not s then return nil, e end
    own = true
  end
  local pfx = name .. "/"
  local key = pfx .. ("%x"):format(s.lease)
  local r, e = c:txn {
    compare = { { key = key, target = "create", result = "=", value = 0 } },
    success = { { "put", key, value, { lease = s.lease } } },
    failure = { { "get", key } },
  }
  local function fail(fe)
    if own then s:close() end
    return nil, fe
  end
  if not r then return fail(e) end
  local el = setmetatable({ client = c, session = s, own_session = own, key = key, revision = r.header.revision,
                            header = r.header, name = name }, Election)
  if not r.succeeded then
    local kv = r.responses[1].kvs[1]
    el.revision = kv.create_revision
    if kv.value ~= value then
      local ok, pe = el:proclaim(value)
      if not ok then el:resign(); return fail(pe) end
    end
  end
  local ok, we = wait_deletes(c, pfx, el.revision - 1)
  if not ok then
    el:resign()
    return fail(we)
  end
  return el
end

--- e:proclaim(value) -> true | nil, err: a new value while leader
function Election:proclaim(value)
  local r, e = self.client:txn {
    compare = { { key = self.key, target = "create", result = "=", value = self.revision } },
    success = { { "put", self.key, value, { lease = self.session.lease } } },
  }
  if not r then return nil, e end
  if not r.succeeded then return nil, err("notleader", "election: not leader") end
  return true
end

--- e:resign() -> true | nil, err: give up leadership (and the session when campaign made it)
function Election:resign()
  if self.resigned then return true end
  self.resigned = true
  local r, e = self.client:txn {
    compare = { { key = self.key, target = "create", result = "=", value = self.revision } },
    success = { { "del", self.key } },
  }
  if self.own_session then self.session:close() end
  if not r then return nil, e end
  return true
end
Election.__close = Election.resign

--- observe(c, name) -> iterator of responses {header, kvs = {leader kv}}: the
-- leader now (once there is one), then each new value or new leader
function M.observe(c, name)
  local pfx = name .. "/"
  local pending = {}
  local state = "find"
  local kv, hdr
  local w
  local function next_resp()
    while true do
      if #pending > 0 then return table.remove(pending, 1) end
      if state == "find" then
        local r, e = c:get(pfx, (first_create(pfx)))
        if not r then error(e, 0) end
        if #r.kvs == 0 then
          local ww = c:watcher(pfx, { prefix = true, start_revision = r.header.revision })
          kv = nil
          while not kv do
            local ev = ww:next()
            if not ev then ww:close(); error(err("closed", "etcd observe: the watch ended"), 0) end
            if ev.type == "PUT" then
              kv = ev.kv
              hdr = {}
              for k2, v2 in pairs(ev.header or {}) do hdr[k2] = v2 end
              hdr.revision = kv.mod_revision
            end
          end
          ww:close()
        else
          kv, hdr = r.kvs[1], r.header
        end
        pending[#pending + 1] = { header = hdr, kvs = { kv }, count = 1 }
        w = c:watcher(kv.key, { start_revision = hdr.revision + 1 })
        state = "watch"
      else
        local ev = w:next()
        if not ev then w:close(); error(err("closed", "etcd observe: the watch ended"), 0) end
        if ev.type == "DELETE" then
          w:close()
          state = "find"
        else
          pending[#pending + 1] = { header = ev.header, kvs = { ev.kv }, count = 1 }
        end
      end
    end
  end
  return next_resp
end

return M
