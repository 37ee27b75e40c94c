-- etcd.v2: the etcd v2 keys API over HTTP (etcd 3.4 with --enable-v2).
--
--   local c = etcd.connect{endpoints = ..., api = 2, cacert =, cert =, key =,
--                          username =, password =, timeout = 5}
--   c:get(key [, {recursive, sorted, quorum}]) -> resp | nil, err
--   c:ls([key [, {recursive}]]) -> {key, ...} (sorted; directories end in /
--                                  with {dirs = true}) | nil, err
--   c:set(key, value [, {ttl, prev_value, prev_index, prev_exist, dir}])
--   c:mkdir(key [, {ttl}])    c:update(key, value [, {ttl}])
--   c:create_in_order(dir, value [, {ttl}])
--   c:rm(key [, {recursive, dir, prev_value, prev_index}])
--   for ev in c:watch(key, {recursive, after_index}) do ... end   (raises)
--   c:watch(key, opts, function(ev) ... end) -> task (return false to stop)
-- resp = {action, node = {key, value, dir, nodes, createdIndex,
-- modifiedIndex, ttl, expiration}, prevNode, index (X-Etcd-Index)}.
-- Errors: err.kind from the v2 error code (100 notfound, 101 conflict,
-- 102 notfile, 104 notdir, 105 exists, 107 rootonly, 108 notempty,
-- 110 unauthorized, 401 cleared, 3xx internal, others invalid), err.code, err.cause,
-- err.index, err.etcd_message; tostring(err) as etcdctl prints it:
-- "100: Key not found (/x) [7]".
-- A watch whose index was cleared (the server keeps 1000 events) re-reads
-- the tree and delivers {action = "resync", lost = true, node = tree, index}
-- before resuming from the index after it: the state is right, intermediate
-- events are lost, and the handler is told so.
local http = require "ksh.http"
local json = require "json"
local loop = require "ksh.loop"

local M = {}
local err = require("ksh").error

local KINDS = { [100] = "notfound", [101] = "conflict", [102] = "notfile", [104] = "notdir", [105] = "exists",
                [107] = "rootonly", [108] = "notempty", [110] = "unauthorized", [401] = "cleared" }

local Client = {}
Client.__index = Client
Client.__name = "etcd.v2client"

--- new(opts, endpoints) -> client (endpoints: checked URLs from etcd.connect)
function M.new(opts, endpoints)
  return setmetatable({
    endpoints = endpoints, cur = 1, cacert = opts.cacert, cert = opts.cert, key = opts.key,
    insecure = opts.insecure, username = opts.username, password = opts.password,
    timeout = opts.timeout or 5, connect_timeout = opts.connect_timeout or 2, api = 2,
  }, Client)
end

function Client:__tostring()
  return ("etcd v2 client (%s)"):format(table.concat(self.endpoints, ","))
end

-- Go's path.Join("/v2/keys", key): cleaned, no trailing slash
local function clean(key)
  local parts = {}
  for seg in key:gmatch("[^/]+") do
    if seg == ".." then parts[#parts] = nil
    elseif seg ~= "." then parts[#parts + 1] = seg end
  end
  return "/" .. table.concat(parts, "/")
end
M.clean = clean

-- Go's url.URL.EscapedPath: all but unreserved and $&+,/:;=@ escaped
local function escape_path(p)
  return (p:gsub("[^%w%-_%.~%$&%+,/:;=@]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function form(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do
    local v = tostring(t[k])
    out[#out + 1] = k .. "=" .. v:gsub("[^%w%-_%.~]", function(c) return ("%%%02X"):format(c:byte()) end)
  end
  return table.concat(out, "&")
end
M.form = form

-- decode a v2 error body; returns err
local function v2_error(method, key, e)
  if type(e) == "table" and e.kind == "http" and e.body then
    local j = json.decode(e.body)
    -- (a body that does not look like etcd's gets the generic error below)
    local code = type(j) == "table" and math.type(j.errorCode) == "integer" and j.errorCode
    if code then
      local index = math.type(j.index) == "integer" and j.index or nil
      local msg = type(j.message) == "string" and j.message or nil
      local cause = type(j.cause) == "string" and j.cause or nil
      local text = ("%d: %s (%s) [%d]"):format(code, msg or "", cause or "", index or 0)
      return err(KINDS[code] or (code >= 300 and code < 400 and "internal" or "invalid"), text, { code = code, cause = cause, index = index,
        etcd_message = msg, status = e.status, body = e.body })
    end
  end
  if type(e) == "table" and e.message then
    return err(e.kind or "etcd", ("etcd v2 %s %s: %s"):format(method, key, e.message), { cause = e })
  end
  return e
end

local FAILOVER = { refused = true, dns = true, connect = true, tls = true }

function Client:_request(method, key, query, body, extra)
  local path = "/v2/keys" .. escape_path(clean(key))
  if path == "/v2/keys/" then path = "/v2/keys" end
  local q = query and next(query) and "?" .. form(query) or ""
  local n = #self.endpoints
  local last
  local tried = {}
  for i = 0, n - 1 do
    local idx = (self.cur - 1 + i) % n + 1
    local o = {
      url = self.endpoints[idx] .. path .. q, method = method,
      headers = body and { ["content-type"] = "application/x-www-form-urlencoded" } or nil, body = body,
      cacert = self.cacert, cert = self.cert, key = self.key, insecure = self.insecure,
      connect_timeout = self.connect_timeout, timeout = self.timeout, user = self.username,
      password = self.password, http1 = true,
    }
    if extra then for k, v in pairs(extra) do o[k] = v end end
    local resp, e = http.request(o)
    if resp then
      self.cur = idx
      return resp
    end
    if type(e) ~= "table" or not FAILOVER[e.kind] then return nil, v2_error(method, key, e) end
    last = e
    tried[#tried + 1] = { endpoint = self.endpoints[idx], err = e }
  end
  local msgs = {}
  for i, t in ipairs(tried) do msgs[i] = t.endpoint .. ": " .. t.err.message end
  return nil, err(last.kind, ("etcd v2: no endpoint answered (%s)"):format(table.concat(msgs, "; ")),
    { endpoints = self.endpoints, cause = last, tried = tried })
end

-- The answer's shape as Go's json.Unmarshal into client.Response checks it:
-- a field of another type is an error, null is the zero value (nil here).
local NODE = { key = "string", value = "string", dir = "boolean", expiration = "string", ttl = "integer",
               createdIndex = "integer", modifiedIndex = "integer", nodes = "table" }
local function check_node(n, depth)
  if type(n) ~= "table" or depth > 100 then return false end
  for f, want in pairs(NODE) do
    local v = n[f]
    if v == json.null then n[f] = nil
    elseif v ~= nil and (want == "integer" and math.type(v) or type(v)) ~= want then return false end
  end
  for _, c in ipairs(n.nodes or {}) do
    if not check_node(c, depth + 1) then return false end
  end
  return true
end

local function check_resp(j)
  if type(j) ~= "table" then return false end
  if j.action == json.null then j.action = nil end
  if j.action ~= nil and type(j.action) ~= "string" then return false end
  for _, f in ipairs { "node", "prevNode" } do
    if j[f] == json.null then j[f] = nil end
    if j[f] ~= nil and not check_node(j[f], 1) then return false end
  end
  return j.node ~= nil -- every answer of the keys API has one (callers index it)
end

local function decode_resp(method, key, resp)
  local j, derr = json.decode(resp.body)
  if not check_resp(j) then
    return nil, err("protocol", ("etcd v2 %s %s: %s"):format(method, key, derr or "not an etcd v2 answer"))
  end
  j.index = math.tointeger(tonumber(resp.headers["x-etcd-index"]) or 0) or 0
  return j
end

function Client:_call(method, key, query, formt)
  local body = formt and form(formt) or nil
  local resp, e = self:_request(method, key, query, body)
  if not resp then return nil, e end
  return decode_resp(method, key, resp)
end

local function check_key(key, fn)
  if type(key) ~= "string" then
    error(("bad argument #1 to '%s' (string expected, got %s)"):format(fn, type(key)), 3)
  end
end

--- get(key [, {recursive, sorted, quorum}]) -> resp | nil, err
function Client:get(key, opts)
  check_key(key, "get")
  opts = opts or {}
  local q = {}
  if opts.recursive then q.recursive = "true" end
  if opts.sorted or opts.sort then q.sorted = "true" end
  if opts.quorum then q.quorum = "true" end
  return self:_call("GET", key, q)
end

--- ls([key [, {recursive, dirs}]]) -> sorted keys under key | nil, err
function Client:ls(key, opts)
  key = key or "/"
  opts = opts or {}
  local r, e = self:get(key, { recursive = opts.recursive, sorted = true })
  if not r then return nil, e end
  local out = {}
  local function bad() return err("protocol", ("etcd v2 GET %s: a node without a key"):format(key)) end
  local function walk(n)
    if type(n) ~= "table" or type(n.key) ~= "string" then return false end
    out[#out + 1] = (n.dir and opts.dirs) and n.key .. "/" or n.key
    for _, c in ipairs(type(n.nodes) == "table" and n.nodes or {}) do
      if not walk(c) then return false end
    end
    return true
  end
  local root = r.node
  if type(root) ~= "table" then return nil, bad() end
  if not root.dir then
    if type(root.key) ~= "string" then return nil, bad() end
    out[1] = root.key
  end
  for _, c in ipairs(type(root.nodes) == "table" and root.nodes or {}) do
    if not walk(c) then return nil, bad() end
  end
  return out, r
end

-- as client/v2's setAction: dir and the preconditions in the query, the
-- value and ttl in the form body
local function set_form(value, opts)
  local f, q = {}, {}
  if opts.dir then q.dir = "true"
  else
    if opts.prev_value and opts.prev_value ~= "" then q.prevValue = opts.prev_value end
    f.value = value or ""
  end
  if opts.prev_index and opts.prev_index ~= 0 then q.prevIndex = opts.prev_index end
  if opts.prev_exist ~= nil then q.prevExist = tostring(opts.prev_exist) end
  if opts.ttl and opts.ttl > 0 then f.ttl = opts.ttl end
  return f, q
end

--- set(key, value [, {ttl, prev_value, prev_index, prev_exist, dir}]) -> resp | nil, err
function Client:set(key, value, opts)
  check_key(key, "set")
  opts = opts or {}
  if not opts.dir and type(value) ~= "string" then
    error(("bad argument #2 to 'set' (string expected, got %s)"):format(type(value)), 2)
  end
  local f, q = set_form(not opts.dir and value or nil, opts)
  return self:_call("PUT", key, q, f)
end

--- mkdir(key [, {ttl}]) -> resp | nil, err (kind "exists" when it exists)
function Client:mkdir(key, opts)
  check_key(key, "mkdir")
  opts = opts or {}
  local prev_exist = opts.prev_exist
  if prev_exist == nil then prev_exist = false end
  return self:set(key, nil, { ttl = opts.ttl, dir = true, prev_exist = prev_exist })
end

--- update(key, value [, {ttl}]) -> resp | nil, err (kind "notfound" when absent)
function Client:update(key, value, opts)
  opts = opts or {}
  return self:set(key, value, { ttl = opts.ttl, prev_exist = true })
end

--- create_in_order(dir, value [, {ttl}]) -> resp | nil, err
function Client:create_in_order(dir, value, opts)
  check_key(dir, "create_in_order")
  opts = opts or {}
  local f = set_form(value, { ttl = opts.ttl })
  return self:_call("POST", dir, nil, f)
end

--- rm(key [, {recursive, dir, prev_value, prev_index}]) -> resp | nil, err
function Client:rm(key, opts)
  check_key(key, "rm")
  opts = opts or {}
  local q = {}
  if opts.recursive then q.recursive = "true" end
  if opts.dir then q.dir = "true" end
  if opts.prev_value and opts.prev_value ~= "" then q.prevValue = opts.prev_value end
  if opts.prev_index and opts.prev_index ~= 0 then q.prevIndex = opts.prev_index end
  return self:_call("DELETE", key, q)
end

-- ---------------------------------------------------------------- watch ---

local Watch = {}
Watch.__index = Watch
Watch.__name = "etcd.v2watch"

--- watcher(key [, {recursive, after_index}]) -> w: w:next() -> event (raises), w:close()
function Client:watcher(key, opts)
  check_key(key, "watcher")
  opts = opts or {}
  return setmetatable({ client = self, key = key, recursive = opts.recursive, next_index = (opts.after_index or 0) + 1,
                        started = (opts.after_index or 0) > 0 }, Watch)
end

function Watch:next()
  local c = self.client
  while not self.closed do
    local q = { wait = "true" }
    if self.recursive then q.recursive = "true" end
    if self.started then q.waitIndex = self.next_index end
    -- a long poll: no overall timeout, only the connection's
    local resp, e = c:_request("GET", self.key, q, nil, { timeout = 0 })
    if resp then
      local ev, derr = decode_resp("GET", self.key, resp)
      if not ev then error(derr, 0) end
      local mi = ev.node and ev.node.modifiedIndex or 0
      if math.type(mi) ~= "integer" then
        error(err("protocol", ("etcd v2 watch %s: an event without a modifiedIndex"):format(self.key)), 0)
      end
      self.next_index = mi + 1
      self.started = true
      return ev
    end
    if type(e) == "table" and e.code == 401 then
      -- the index was cleared: re-read the tree, say events were lost, resume after it
      local r, ge = c:get(self.key, { recursive = self.recursive, sorted = true })
      if not r and not (type(ge) == "table" and ge.kind == "notfound") then error(ge, 0) end
      local index = r and r.index or ge.index or 0
      self.next_index = index + 1
      self.started = true
      return { action = "resync", lost = true, node = r and r.node or nil, index = index,
               cleared = e }
    end
    if type(e) == "table" and (e.kind == "closed" or e.kind == "truncated") then
      -- a long poll ended without an event (idle connection closed): ask again
    else
      error(e, 0)
    end
  end
  return nil
end

function Watch:close() self.closed = true end
Watch.__close = Watch.close

--- watch(key [, opts [, handler]]): an iterator, or with a handler a task
function Client:watch(key, opts, handler)
  return ksh.events(function() return self:watcher(key, opts) end, handler)
end

return M
