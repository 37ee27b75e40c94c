-- k8s.write: the verbs that change a cluster, installed as client methods
-- (k8s.lua calls install(Client)).
--
--   k:create(obj [, opts])                       POST, -> the created object
--   k:replace(obj [, opts])                      PUT (obj carries its resourceVersion)
--   k:patch(res, name, patch [, opts])           opts.type = "merge" (default) | "json" | "strategic" | "apply"
--   k:apply(obj [, opts])                        server-side apply of one object -> object | nil, err
--   k:apply(yaml_or_json_text | {obj, ...} [, opts]) -> {{object =, err =, input =}, ...} (in input order)
--   k:delete(res, name [, opts])                 opts: propagation_policy, grace_period, dry_run, preconditions
--   k:delete_collection(res [, opts])            opts.labelSelector, fieldSelector, ...
--   k:scale(res, name, replicas [, opts]), k:status(obj [, opts]), k:bind(pod, node [, opts]), k:evict(pod [, opts])
--   k:retry_on_conflict(fn [, opts])             re-run fn on a 409 Conflict, with backoff, bounded
--   k:wait_for(res, name, condition [, opts])    "delete" | "condition=Ready[=True]" | "create" | fn(obj); on a watch
--
-- Common opts: namespace, dry_run (true = dryRun=All), field_manager,
-- field_validation ("Strict" | "Warn" | "Ignore"), subresource.
-- Every write waits for a slot first (client.max_in_flight, default 32), so
-- any number of tasks may write at once and only that many requests are in
-- flight; a 429 is retried after the server's Retry-After header (else details.retryAfterSeconds).
-- Failures return nil, err (err.kind "conflict", "exists", "notfound",
-- "forbidden", "invalid", "badrequest", ...).
local loop = require "ksh.loop"
local util = require "k8s.util"
local docs = require "k8s.docs"

local json = util.json

local M = {}
M.max_in_flight = 32
M.max_429_retries = 10 -- client-go's maxRetries

local PATCH_TYPES = {
  json = "application/json-patch+json",
  merge = "application/merge-patch+json",
  strategic = "application/strategic-merge-patch+json",
  apply = "application/apply-patch+yaml",
}
M.PATCH_TYPES = PATCH_TYPES

local function argcheck(cond, n, fname, msg)
  if not cond then error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3) end
end

-- ---------------------------------------------------------------- slots

local function acquire(self)
  local max = self.max_in_flight or M.max_in_flight
  while (self._in_flight or 0) >= max do
    local q = self._slot_waiters
    if not q then q = {}; self._slot_waiters = q end
    q[#q + 1] = loop.current()
    loop.suspend()
  end
  self._in_flight = (self._in_flight or 0) + 1
end

local function release(self)
  self._in_flight = self._in_flight - 1
  local q = self._slot_waiters
  while q and #q > 0 do
    local co = table.remove(q, 1)
    if loop.wake(co) then break end
  end
end

-- The Retry-After header in seconds, as client-go reads it (checkWait); the
-- Status body's details.retryAfterSeconds when the header is missing; 1 s.
-- The wait is that plus up to a half more, at random: many writes refused
-- together (a priority level with one seat) would otherwise all come back in
-- the same instant and be refused together again, until some ran out of
-- tries (tests/k8s/apf.t lost a create that way once in about six runs).
local function retry_after(err)
  local h = type(err) == "table" and type(err.headers) == "table" and err.headers["retry-after"]
  local s = math.tointeger(tonumber(h))
  if not s or s <= 0 then
    local d = type(err) == "table" and err.details
    s = type(d) == "table" and tonumber(d.retryAfterSeconds)
  end
  if not s or s <= 0 then s = 1 end
  s = math.min(s, 60)
  return s + s * 0.5 * math.random()
end

--- client:_write(request) -> decoded body, response | nil, err: one write
-- in a slot; 429s retried after Retry-After
function M.send(self, o)
  acquire(self)
  local r = table.pack(pcall(function()
    local tries = 0
    while true do
      local v, resp = self:raw_request(o)
      if v == nil and type(resp) == "table" and resp.kind == "toomanyrequests" and tries < M.max_429_retries then
        tries = tries + 1
        self.throttled = (self.throttled or 0) + 1
        loop.sleep(retry_after(resp))
      else
        return v, resp
      end
    end
  end))
  release(self)
  if not r[1] then error(r[2], 0) end
  return r[2], r[3]
end

-- ---------------------------------------------------------------- helpers

local function split_api(api)
  local g, v = api:match("^(.*)/([^/]*)$")
  if g then return g, v end
  return "", api
end

--- entry_for(client, apiVersion, kind) -> discovery entry | nil, err
function M.entry_for(self, api, kind)
  if type(api) ~= "string" or api == "" then
    return nil, util.error("invalid", "Object 'apiVersion' is missing")
  end
  if type(kind) ~= "string" or kind == "" then
    return nil, util.error("invalid", "Object 'Kind' is missing")
  end
  local g, v = split_api(api)
  local missed = self._kind_missed or {}
  self._kind_missed = missed
  for attempt = 1, 2 do
    if attempt == 2 and missed[api .. "|" .. kind] then break end
    local entries, err = self:resources(attempt == 2)
    if not entries then return nil, err end
    for _, e in ipairs(entries) do
      if e.kind == kind and e.group == g and e.version == v then return e end
    end
  end
  missed[api .. "|" .. kind] = true
  return nil, util.error("notfound", ('no matches for kind "%s" in version "%s"'):format(kind, api),
    { no_kind = true, kind_name = kind, api_version = api })
end

local function meta(obj)
  local m = type(obj) == "table" and obj.metadata
  return type(m) == "table" and m or {}
end

local function str(v) return type(v) == "string" and v ~= "" and v or nil end

-- where(self, obj, opts) -> entry, namespace (nil for cluster-scoped) | nil, err
function M.locate(self, obj, opts)
  local e, err = M.entry_for(self, obj.apiVersion, obj.kind)
  if not e then return nil, err end
  local ns
  if e.namespaced then ns = str(meta(obj).namespace) or opts.namespace or self.namespace or "default" end
  return e, ns
end

local function write_query(opts, extra)
  local q = {
    dryRun = opts.dry_run and "All" or nil,
    fieldManager = opts.field_manager,
    fieldValidation = opts.field_validation,
  }
  for k, v in pairs(extra or {}) do q[k] = v end
  return q
end

local function encode(obj)
  if type(obj) == "string" then return obj end
  return json.encode(obj)
end

local function check_opts(opts, n, fname)
  argcheck(opts == nil or type(opts) == "table", n, fname, "options table expected")
  return opts or {}
end

-- ---------------------------------------------------------------- verbs

--- create(obj [, opts]) -> object, response | nil, err
function M.create(self, obj, opts)
  argcheck(type(obj) == "table", 1, "create", "object expected")
  opts = check_opts(opts, 2, "create")
  local e, ns = M.locate(self, obj, opts)
  if not e then return nil, ns end
  local p = self:path(e, nil, { namespace = ns, subresource = opts.subresource })
  return M.send(self, { method = "POST", path = p, query = write_query(opts), body = encode(obj),
    headers = { ["Content-Type"] = "application/json" }, decode = true })
end

--- replace(obj [, opts]) -> object, response | nil, err (PUT; a stale
-- metadata.resourceVersion gives kind "conflict")
function M.replace(self, obj, opts)
  argcheck(type(obj) == "table", 1, "replace", "object expected")
  opts = check_opts(opts, 2, "replace")
  local name = str(meta(obj).name)
  argcheck(name, 1, "replace", "the object has no metadata.name")
  local e, ns = M.locate(self, obj, opts)
  if not e then return nil, ns end
  local p = self:path(e, name, { namespace = ns, subresource = opts.subresource })
  return M.send(self, { method = "PUT", path = p, query = write_query(opts), body = encode(obj),
    headers = { ["Content-Type"] = "application/json" }, decode = true })
end

--- status(obj [, opts]) -> object | nil, err: replace through /status
function M.status(self, obj, opts)
  opts = check_opts(opts, 2, "status")
  local o = setmetatable({ subresource = "status" }, { __index = opts })
  return M.replace(self, obj, o)
end

--- patch(resource, name, patch [, opts]) -> object, response | nil, err
-- patch: a table (encoded as JSON) or JSON/YAML text
function M.patch(self, res, name, patch, opts)
  argcheck(type(res) == "string" or type(res) == "table", 1, "patch", "resource expected")
  argcheck(type(name) == "string" and name ~= "", 2, "patch", "name expected")
  argcheck(type(patch) == "table" or type(patch) == "string", 3, "patch", "patch table or text expected")
  opts = check_opts(opts, 4, "patch")
  local ptype = opts.type or "merge"
  local ctype = PATCH_TYPES[ptype]
  argcheck(ctype, 4, "patch", ("unknown patch type %q (json, merge, strategic, apply)"):format(tostring(ptype)))
  local p, e = self:path(res, name, { namespace = opts.namespace, subresource = opts.subresource })
  if not p then return nil, e end
  local q = write_query(opts)
  if ptype == "apply" then
    q.fieldManager = opts.field_manager or "kscript"
    q.force = opts.force and "true" or nil
  end
  return M.send(self, { method = "PATCH", path = p, query = q, body = encode(patch),
    headers = { ["Content-Type"] = ctype }, decode = true })
end

local function apply_one(self, obj, opts)
  local name = str(meta(obj).name)
  if not name then
    return nil, util.error("invalid", "the object has no metadata.name (server-side apply needs one)")
  end
  local e, ns = M.locate(self, obj, opts)
  if not e then return nil, ns end
  local p = self:path(e, name, { namespace = ns, subresource = opts.subresource })
  local q = write_query(opts, { fieldManager = opts.field_manager or "kscript", force = opts.force and "true" or nil })
  local v, resp = M.send(self, { method = "PATCH", path = p, query = q, body = encode(obj),
    headers = { ["Content-Type"] = PATCH_TYPES.apply }, decode = true })
  return v, resp, e
end

--- run(list, fn) -> {{r1, r2, r3}, ...}: fn(item, i) for every item as
-- concurrent tasks (the slots bound how many requests are in flight); the
-- results in input order
function M.each(self, list, fn)
  local ksh = require "ksh"
  local out, tasks = {}, {}
  local window = (self.max_in_flight or M.max_in_flight) * 2
  local i = 0
  -- a window of tasks, refilled as they finish: 10,000 items never make 10,000 coroutines at once
  local function start(j)
    tasks[j] = ksh.spawn(function() return table.pack(fn(list[j], j)) end)
  end
  while i < #list and i < window do i = i + 1; start(i) end
  for j = 1, #list do
    out[j] = tasks[j]:wait()
    tasks[j] = nil
    if i < #list then i = i + 1; start(i) end
  end
  return out
end

--- apply(obj | text | {obj, ...} [, opts]) -> see the header
function M.apply(self, what, opts)
  argcheck(type(what) == "table" or type(what) == "string", 1, "apply", "object, list of objects or YAML/JSON text expected")
  opts = check_opts(opts, 2, "apply")
  if type(what) == "table" and what.kind ~= nil and not docs.is_list(what) then
    return apply_one(self, what, opts)
  end
  local objs = what
  if type(what) == "string" then
    local d, err = docs.parse(what, opts.source or "<text>")
    if not d then return nil, err end
    objs = d
  elseif what.kind ~= nil then
    objs = docs.flatten({ what })
  end
  local res = M.each(self, objs, function(obj) return apply_one(self, obj, opts) end)
  local out = {}
  for i, r in ipairs(res) do out[i] = { input = objs[i], object = r[1], err = r[1] == nil and r[2] or nil, entry = r[3] } end
  return out
end

local function delete_body(opts)
  local body = { apiVersion = "v1", kind = "DeleteOptions" }
  local any = false
  if opts.propagation_policy then
    local pp = opts.propagation_policy
    local norm = { background = "Background", foreground = "Foreground", orphan = "Orphan" }
    body.propagationPolicy = norm[tostring(pp):lower()] or pp
    any = true
  end
  if opts.grace_period then body.gracePeriodSeconds = math.tointeger(opts.grace_period) or opts.grace_period; any = true end
  if opts.dry_run then body.dryRun = json.array { "All" }; any = true end
  if opts.preconditions then
    local pc = opts.preconditions
    body.preconditions = { uid = pc.uid, resourceVersion = pc.resourceVersion or pc.resource_version }
    any = true
  end
  return any and json.encode(body) or nil
end

--- delete(resource, name [, opts]) -> the server's answer (the object, or a
-- Status), response | nil, err
function M.delete(self, res, name, opts)
  argcheck(type(res) == "string" or type(res) == "table", 1, "delete", "resource expected")
  argcheck(type(name) == "string" and name ~= "", 2, "delete", "name expected")
  opts = check_opts(opts, 3, "delete")
  local p, e = self:path(res, name, { namespace = opts.namespace, subresource = opts.subresource })
  if not p then return nil, e end
  local body = delete_body(opts)
  return M.send(self, { method = "DELETE", path = p, body = body, decode = true,
    headers = body and { ["Content-Type"] = "application/json" } or nil })
end

--- delete_collection(resource [, opts]) -> the deleted list | nil, err
function M.delete_collection(self, res, opts)
  argcheck(type(res) == "string" or type(res) == "table", 1, "delete_collection", "resource expected")
  opts = check_opts(opts, 2, "delete_collection")
  local p, e = self:path(res, nil, { namespace = opts.namespace })
  if not p then return nil, e end
  local body = delete_body(opts)
  local q = { labelSelector = opts.labelSelector or opts.label_selector,
              fieldSelector = opts.fieldSelector or opts.field_selector }
  return M.send(self, { method = "DELETE", path = p, query = q, body = body, decode = true,
    headers = body and { ["Content-Type"] = "application/json" } or nil })
end

--- scale(resource, name, replicas [, opts]) -> the Scale object | nil, err
function M.scale(self, res, name, replicas, opts)
  argcheck(math.tointeger(replicas) and replicas >= 0, 3, "scale", "a replica count >= 0 expected")
  opts = check_opts(opts, 4, "scale")
  local o = setmetatable({ type = "merge", subresource = "scale" }, { __index = opts })
  return M.patch(self, res, name, { spec = { replicas = math.tointeger(replicas) } }, o)
end

local function pod_ref(self, pod, opts, fname)
  if type(pod) == "table" then
    local m = meta(pod)
    return m.name, str(m.namespace) or opts.namespace or self.namespace or "default"
  end
  argcheck(type(pod) == "string" and pod ~= "", 1, fname, "pod name or object expected")
  return pod, opts.namespace or self.namespace or "default"
end

--- bind(pod, node [, opts]) -> Status | nil, err: the pods/binding subresource
function M.bind(self, pod, node, opts)
  opts = check_opts(opts, 3, "bind")
  local name, ns = pod_ref(self, pod, opts, "bind")
  argcheck(type(node) == "string" and node ~= "", 2, "bind", "node name expected")
  local p = "/api/v1/namespaces/" .. util.escape(ns) .. "/pods/" .. util.escape(name) .. "/binding"
  local body = { apiVersion = "v1", kind = "Binding", metadata = { name = name, namespace = ns },
                 target = { apiVersion = "v1", kind = "Node", name = node } }
  return M.send(self, { method = "POST", path = p, query = write_query(opts), body = json.encode(body),
    headers = { ["Content-Type"] = "application/json" }, decode = true })
end

--- evict(pod [, opts]) -> Status | nil, err (kind "toomanyrequests" when a
-- PodDisruptionBudget refuses: not retried here)
function M.evict(self, pod, opts)
  opts = check_opts(opts, 2, "evict")
  local name, ns = pod_ref(self, pod, opts, "evict")
  local p = "/api/v1/namespaces/" .. util.escape(ns) .. "/pods/" .. util.escape(name) .. "/eviction"
  local body = { apiVersion = "policy/v1", kind = "Eviction", metadata = { name = name, namespace = ns } }
  local d = delete_body(opts)
  if d then body.deleteOptions = json.decode(d) end
  return self:raw_request { method = "POST", path = p, body = json.encode(body),
    headers = { ["Content-Type"] = "application/json" }, decode = true }
end

--- retry_on_conflict(fn [, opts]) -> fn's results: fn re-reads and writes;
-- when it returns nil, err (or raises err) with err.kind == "conflict" it
-- runs again after a short backoff, at most opts.steps times (default 5, as
-- client-go's DefaultRetry: 10 ms, jitter 10%)
function M.retry_on_conflict(self, fn, opts)
  argcheck(type(fn) == "function", 1, "retry_on_conflict", "function expected")
  opts = check_opts(opts, 2, "retry_on_conflict")
  local steps = opts.steps or 5
  local delay = opts.delay or 0.01
  local factor = opts.factor or 1
  local last
  for attempt = 1, steps do
    local r = table.pack(pcall(fn))
    local err
    if not r[1] then
      if loop.is_interrupt(r[2]) then error(r[2], 0) end
      if type(r[2]) == "table" and r[2].kind == "conflict" then err = r[2] else error(r[2], 0) end
    elseif r[2] == nil and type(r[3]) == "table" and r[3].kind == "conflict" then
      err = r[3]
    else
      self.conflict_retries = (self.conflict_retries or 0) + attempt - 1
      return table.unpack(r, 2, r.n)
    end
    last = err
    if attempt < steps then
      loop.sleep(delay * (1 + 0.1 * math.random()))
      delay = delay * factor
    end
  end
  self.conflict_retries = (self.conflict_retries or 0) + steps - 1
  return nil, last
end

-- condition(spec) -> predicate over (event type, object), what it is for messages
local function condition_of(cond)
  if type(cond) == "function" then return function(_, obj) return obj ~= nil and cond(obj) end, "condition" end
  argcheck(type(cond) == "string", 3, "wait_for", "\"delete\", \"create\", \"condition=NAME[=STATUS]\", \"jsonpath={...}=VALUE\" or a function expected")
  if cond == "delete" then
    return function(ev, obj) return ev == "DELETED" or obj == nil end, "delete"
  end
  if cond == "create" or cond == "exists" then
    return function(_, obj) return obj ~= nil end, "create"
  end
  local name, want = cond:match("^condition=([^=]+)=?(.*)$")
  if name then
    if want == "" then want = "True" end
    local lname, lwant = name:lower(), want:lower()
    return function(_, obj)
      if obj == nil then return false end
      local st = type(obj.status) == "table" and obj.status or {}
      for _, c in ipairs(type(st.conditions) == "table" and st.conditions or {}) do
        if type(c) == "table" and tostring(c.type):lower() == lname and tostring(c.status):lower() == lwant then
          return true
        end
      end
      return false
    end, cond
  end
  local expr, value = cond:match("^jsonpath=(.-)=([^=]*)$")
  if expr then
    local jp = require "k8s.jsonpath"
    local compiled = jp.compile(expr)
    return function(_, obj)
      if obj == nil then return false end
      local ok, vals = pcall(jp.values, compiled, obj)
      if not ok or #vals ~= 1 then return false end
      return jp.text(vals[1]) == value
    end, cond
  end
  argcheck(false, 3, "wait_for", ("unknown condition %q"):format(cond))
end

--- wait_for(resource, name, condition [, opts]) -> object (or true after a
-- deletion) | nil, err (kind "timeout" after opts.timeout seconds, default
-- 30); opts.namespace, opts.uid (for "delete": only that object counts, a
-- new one of the same name means the old one is gone).  One list, then a
-- watch from its resourceVersion: no polling.
function M.wait_for(self, res, name, cond, opts)
  argcheck(type(name) == "string" and name ~= "", 2, "wait_for", "name expected")
  opts = check_opts(opts, 4, "wait_for")
  local pred, what = condition_of(cond)
  local timeout = opts.timeout or 30
  local function timed_out()
    return nil, util.error("timeout", ("timed out waiting for the condition on %s/%s (%s)"):format(
      type(res) == "table" and res.name or tostring(res), name, what))
  end
  local function judge(evtype, obj)
    if obj ~= nil and what == "delete" and opts.uid and meta(obj).uid ~= opts.uid then return true end
    if evtype == "DELETED" then
      if opts.uid and meta(obj).uid ~= opts.uid then return nil end
      return pred("DELETED", nil) and true or nil
    end
    if pred(evtype, obj) then return obj == nil and true or obj end
    return nil
  end
  local lopts = { namespace = opts.namespace, fieldSelector = "metadata.name=" .. name }
  local list, lerr = self:list(res, lopts)
  if not list then return nil, lerr end
  local items = list.items or {}
  local r = judge(items[1] and "ADDED" or "NONE", items[1])
  if r ~= nil then return r end
  if timeout <= 0 then return timed_out() end
  local Watch = require "k8s.watch"
  local w = Watch.new(self, res, { namespace = opts.namespace, name = name, timeout = timeout,
    resourceVersion = list.metadata and list.metadata.resourceVersion, bookmarks = false })
  -- the watch asks the server to end it at the deadline (timeoutSeconds)
  -- and ends itself when it is past: no timer needed
  local ok, v = require("ksh").try(function()
    for ev in w:events() do
      if ev.type == "ADDED" or ev.type == "MODIFIED" or ev.type == "DELETED" then
        local x = judge(ev.type, ev.object)
        if x ~= nil then return x end
      end
    end
  end)
  w:close()
  if not ok then return nil, v end
  if v ~= nil then return v end
  return timed_out()
end

--- install(Client): the methods above become client methods
function M.install(Client)
  for _, n in ipairs { "create", "replace", "status", "patch", "apply", "delete", "delete_collection",
                       "scale", "bind", "evict", "retry_on_conflict", "wait_for", "each" } do
    Client[n] = M[n]
  end
  Client._write = M.send
end

return M
