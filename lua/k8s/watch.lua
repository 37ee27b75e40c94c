-- k8s.watch: a watch that never silently loses a change.
--
-- It resumes a dropped connection from the last resourceVersion seen (event
-- or bookmark) with client-go's backoff (0.8 s doubling to 30 s, each sleep
-- up to twice that by jitter, back to 0.8 s after 2 minutes without one), and on 410 Gone (an
-- HTTP status, or an ERROR event carrying a Status with code 410) it lists
-- again and delivers the differences against what it had already delivered
-- (ADDED / MODIFIED / DELETED with ev.relist = true), then watches on.  For
-- that it keeps namespace/name -> resourceVersion of every delivered object,
-- never whole objects.
local loop = require "ksh.loop"
local util = require "k8s.util"

local json = util.json

local W = {}
W.__index = W
W.__name = "k8s.watch"

W.backoff_start, W.backoff_max, W.backoff_reset, W.backoff_jitter = 0.8, 30, 120, 1.0

--- backoff_step(state, now [, rand]) -> seconds to sleep: client-go's reflector
-- backoff (wait.Backoff with DelayWithReset); state = {backoff =, last =} is updated
function W.backoff_step(st, now, rand)
  if st.backoff == nil or (st.last and now - st.last > W.backoff_reset) then st.backoff = W.backoff_start end
  st.last = now
  local d = st.backoff * (1 + (rand or math.random()) * W.backoff_jitter)
  st.backoff = math.min(st.backoff * 2, W.backoff_max)
  return d
end

--- new(client, resource, opts) -> watch (nothing is sent before the first event is asked for)
function W.new(client, res, opts)
  local path, e = client:path(res, nil, opts)
  if not path then error(e, 0) end
  return setmetatable({
    client = client, path = path, entry = e, opts = opts, known = {},
    rv = opts.resourceVersion, queue = {}, head = 1, bo = {},
    deadline = opts.timeout and (loop.now() + opts.timeout) or nil,
    track = opts.track ~= false, stats = { reconnects = 0, relists = 0 },
  }, W)
end

-- a Table event (opts.accept asks for tables) names its object in its row
local function meta_of(obj)
  if type(obj) ~= "table" then return {} end
  if obj.kind == "Table" and type(obj.rows) == "table" and type(obj.rows[1]) == "table" then
    local o = obj.rows[1].object
    return type(o) == "table" and type(o.metadata) == "table" and o.metadata or {}
  end
  return type(obj.metadata) == "table" and obj.metadata or {}
end

-- the units of a list: its items, or each row of a Table as a one-row Table
local function units(list)
  if list.kind ~= "Table" then return type(list.items) == "table" and list.items or {} end
  local out = {}
  for i, row in ipairs(type(list.rows) == "table" and list.rows or {}) do
    out[i] = { kind = "Table", apiVersion = list.apiVersion, metadata = {},
               columnDefinitions = list.columnDefinitions, rows = json.array { row } }
  end
  return out
end

local function key_of(obj)
  local m = meta_of(obj)
  local ns = m.namespace
  if ns == nil or ns == util.null then ns = "" end
  return ns .. "/" .. tostring(m.name), m
end

function W:_push(ev) self.queue[#self.queue + 1] = ev end

function W:_selectors()
  local o = self.opts
  local fs = o.fieldSelector or o.field_selector
  if o.name then
    local byname = "metadata.name=" .. o.name
    fs = (fs and fs ~= "") and (fs .. "," .. byname) or byname
  end
  return o.labelSelector or o.label_selector, fs
end

function W:_list_opts()
  local ls, fs = self:_selectors()
  local o = self.opts
  return { namespace = o.namespace, all_namespaces = o.all_namespaces, labelSelector = ls,
           fieldSelector = fs, limit = o.limit, accept = o.accept, query = o.query }
end

-- the first list (no resourceVersion given): every item is ADDED, initial;
-- read page by page as the events are asked for, so a long list is never
-- held whole; the watch starts from the first page's resourceVersion
function W:_initial()
  self.pager = self.client:pages(self.entry, self:_list_opts())
  self:_next_page(true)
end

function W:_next_page(first)
  local page = self.pager()
  if not page then
    self.pager = nil
    return
  end
  if first then
    self.rv = page.metadata and page.metadata.resourceVersion
    self.paged = page.metadata ~= nil and page.metadata.continue ~= nil
  end
  -- a list of several pages: each initial event also carries its page (and
  -- the first of a page says so), for printers that show a page as kubectl
  -- does (`get -w -o json` prints one List per page then, `get -w` one
  -- table per page)
  local paged = self.paged or nil
  for i, it in ipairs(units(page)) do
    self:_push { type = "ADDED", object = it, initial = true,
                 page = paged and page or nil, page_first = paged and i == 1 or nil }
  end
  -- the last page: no pager left (so initial_pending() knows at once)
  local cont = type(page.metadata) == "table" and page.metadata.continue or nil
  if cont == nil or cont == "" then self.pager = nil end
end

-- 410: list again, queue the differences against what was delivered
function W:_relist(why)
  if self.opts.on_gone == "raise" then
    error(util.error("gone", ("watch %s: %s"):format(self.path, why)), 0)
  end
  self.stats.relists = self.stats.relists + 1
  local list, err = self.client:list(self.entry, self:_list_opts())
  if not list then return nil, err end
  local seen = {}
  for _, it in ipairs(units(list)) do
    local k, m = key_of(it)
    seen[k] = true
    local had = self.known[k]
    if had == nil then
      self:_push { type = "ADDED", object = it, relist = true }
    elseif had ~= m.resourceVersion then
      self:_push { type = "MODIFIED", object = it, relist = true }
    end
  end
  local gone = {}
  for k in pairs(self.known) do if not seen[k] then gone[#gone + 1] = k end end
  table.sort(gone)
  local e = self.entry
  for _, k in ipairs(gone) do
    local ns, name = k:match("^(.-)/(.*)$")
    self:_push { type = "DELETED", relist = true, object = {
      apiVersion = e.group == "" and e.version or e.group .. "/" .. e.version, kind = e.kind,
      metadata = { name = name, namespace = ns ~= "" and ns or nil, resourceVersion = self.known[k] } } }
  end
  self.rv = list.metadata and list.metadata.resourceVersion
  return true
end

function W:_query()
  local ls, fs = self:_selectors()
  local q = { watch = "1", resourceVersion = self.rv, labelSelector = ls, fieldSelector = fs,
              allowWatchBookmarks = self.opts.bookmarks ~= false and "true" or nil }
  if self.deadline then
    q.timeoutSeconds = math.max(1, math.ceil(self.deadline - loop.now()))
  elseif self.opts.min_watch_timeout then -- (client-go: random in [min, 2 x min])
    q.timeoutSeconds = math.floor(self.opts.min_watch_timeout * (1 + math.random()))
  end
  return q
end

function W:_open()
  local q = self:_query()
  return self.client:raw_request { path = self.path, query = q, framing = "lines", accept = self.opts.accept or "application/json" }
end

local retryable = { refused = true, closed = true, truncated = true, timeout = true, dns = true,
                    internal = true, unavailable = true, toomanyrequests = true, error = true, protocol = true }

function W:_sleep()
  self.stats.reconnects = self.stats.reconnects + 1
  loop.sleep(W.backoff_step(self.bo, loop.now()))
end

function W:_deliver(ev)
  if self.track and ev.type ~= "BOOKMARK" and ev.type ~= "ERROR" then
    local k, m = key_of(ev.object)
    if ev.type == "DELETED" then self.known[k] = nil else self.known[k] = m.resourceVersion end
  end
  return ev
end

function W:_expired() return self.deadline and loop.now() >= self.deadline end

--- next() -> event | nil (the watch ended: closed or past opts.timeout); raises on failure
function W:next()
  while true do
    if self.head <= #self.queue then
      local ev = self.queue[self.head]
      self.queue[self.head] = nil
      self.head = self.head + 1
      if self.head > #self.queue then self.queue, self.head = {}, 1 end
      return self:_deliver(ev)
    end
    if self.closed or self:_expired() then self:close(); return nil end
    if self.pager then
      self:_next_page(false)
    elseif not self.started then
      self.started = true
      if self.rv == nil or self.rv == "" then self:_initial() end
    elseif not self.stream then
      local s, err = self:_open()
      if s then
        self.stream = s
      elseif err.kind == "gone" then
        local ok, rerr = self:_relist(tostring(err))
        if not ok then
          if not retryable[rerr.kind] then error(rerr, 0) end
          self:_sleep()
        end
      elseif retryable[err.kind] then
        self.last_error = err
        self:_sleep()
      else
        error(err, 0)
      end
    else
      local rec, err = self.stream:read()
      if rec == nil then
        self.stream:close()
        self.stream = nil
        if err then
          self.last_error = err
          if loop.is_interrupt(err) then error(err, 0) end
          if self.closed then return nil end
          self:_sleep()
        end
      elseif rec ~= "" then
        local ev, derr = json.decode(rec)
        if type(ev) ~= "table" then
          error(util.error("protocol", ("watch %s: bad event: %s"):format(self.path, tostring(derr))), 0)
        end
        local obj = ev.object
        if ev.type == "ERROR" then
          self.stream:close()
          self.stream = nil
          local code = type(obj) == "table" and obj.code
          if code == 410 then
            local ok, rerr = self:_relist(type(obj) == "table" and tostring(obj.message) or "410")
            if not ok then
              if not retryable[rerr.kind] then error(rerr, 0) end
              self:_sleep()
            end
          else
            error(util.status_error(tonumber(code) or 500, obj, "WATCH " .. self.path), 0)
          end
        else
          local m = meta_of(obj)
          if type(m.resourceVersion) == "string" then self.rv = m.resourceVersion end
          if ev.type ~= "BOOKMARK" or self.opts.bookmarks_events ~= false then
            return self:_deliver(ev)
          end
        end
      end
    end
  end
end

--- events() -> iterator for `for ev in w:events()`
function W:events()
  return function() return self:next() end
end

--- initial_pending() -> true while events of the first list are still to
-- come (queued, or pages not yet read): get -w prints that list as one table
function W:initial_pending()
  if self.pager ~= nil then return true end
  local ev = self.queue[self.head]
  return ev ~= nil and ev.initial == true
end

function W:close()
  self.closed = true
  if self.stream then
    self.stream:close()
    self.stream = nil
  end
end
W.__close = W.close

return W
