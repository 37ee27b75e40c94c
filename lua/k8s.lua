-- k8s: the Kubernetes API from Lua.
--
--   local k = assert(k8s.connect())          -- kubeconfig as kubectl reads it
--   local k = k8s.connect{context = "token", namespace = "kube-system"}
--   local k = k8s.connect{server = "http://127.0.0.1:8001"}       -- kubectl proxy
--   k:get("/api")                           -- raw path: decoded JSON (or text), response
--   k:get("pods", "web-0", {namespace = "default"})
--   k:list("deploy", {namespace = "prod", labelSelector = "app=web"})   -- pages itself
--   for page in k:pages("configmaps", {limit = 100}) do ... end
--   for ev in k:watch("pods", {namespace = "default"}) do ... end
--   k:watch("pods", {}, function(ev) ... end)   -- a task running the handler
--   k:resource("deploy") -> discovery entry;  k:resources() -> all entries
--
-- connect options: kubeconfig, context, cluster, user, namespace, server,
-- token, insecure_skip_tls_verify, tls_server_name, proxy_url, as,
-- as_groups, request_timeout (seconds), connect_timeout (seconds to
-- establish a connection, TLS included; curl's default when unset),
-- discovery_ttl.
--
-- Failures return nil, err with err.kind ("notfound", "forbidden",
-- "unauthorized", "conflict", "gone", "invalid", "refused", "tls", ...),
-- err.status (HTTP), err.reason/err.details (from metav1.Status).
local http = require "ksh.http"
local loop = require "ksh.loop"
local sys = require "ksh.sys"
local util = require "k8s.util"
local kubeconfig = require "k8s.kubeconfig"
local discovery = require "k8s.discovery"

local json = util.json

-- The module's fields are its API (what the reference documents: connect,
-- parse_time, decode, encode in share/lua-api.md, proxy_server in share/proxy.md) plus
-- _hooks for the prompt; everything else is local, so `k8s.<Tab>` completes
-- only what a script may use.
local M = {}

local VERSION = "0.1.0"

local Client = {}
Client.__index = Client
Client.__name = "k8s.client"

-- ---------------------------------------------------------------- exec plugins

local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

--- parse_time("2006-01-02T15:04:05Z" | "...+07:00") -> epoch seconds | nil
function M.parse_time(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, sec, rest = s:match("^(%d+)-(%d+)-(%d+)[Tt ](%d+):(%d+):(%d+)%.?%d*(.*)$")
  if not y then return nil end
  local t = days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400 + h * 3600 + mi * 60 + sec
  local sign, oh, om = rest:match("^([+-])(%d%d):?(%d%d)$")
  if sign then
    local off = tonumber(oh) * 3600 + tonumber(om) * 60
    t = sign == "+" and t - off or t + off
  end
  return math.tointeger(t) or t
end

local function exec_credential(self)
  local c, err = kubeconfig.exec_credential(self.cfg.exec, self.cfg.exec_cluster, self.server)
  if c then c.expires = M.parse_time(c.expiration) end
  return c, err
end

-- credentials(self, force) -> (fills self.auth_headers / tls) | nil, err
function Client:_credentials(force)
  local cfg = self.cfg
  if cfg.exec then
    local c = self.exec_cred
    if force or not c or (c.expires and os.time() >= c.expires) then
      local err
      c, err = exec_credential(self)
      if not c then return nil, err end
      self.exec_cred = c
      self.token = c.token
      if c.cert_pem then
        self.tls.cert_pem, self.tls.key_pem, self.tls.cert, self.tls.key = c.cert_pem, c.key_pem, nil, nil
      end
    end
  elseif cfg.token_file then
    local _, size, mtime = sys.stat(cfg.token_file)
    if force or not self.token or mtime ~= self.token_mtime or size ~= self.token_size then
      local f, err = io.open(cfg.token_file, "rb")
      if not f then return nil, util.error("auth", "tokenFile: " .. tostring(err)) end
      self.token = f:read("a"):match("^%s*(.-)%s*$")
      f:close()
      self.token_mtime, self.token_size = mtime, size
    end
  end
  return true
end

-- ---------------------------------------------------------------- connecting

local function is_loopback(server)
  local host = server:match("^%a+://%[?([^/%]]+)") or ""
  host = host:gsub(":%d+$", "")
  return host == "localhost" or host:match("^127%.") ~= nil or host == "::1"
end

local CONNECT_FIELDS = {
  kubeconfig = "string", context = "string", cluster = "string", user = "string",
  namespace = "string", server = "string", token = "string", tls_server_name = "string",
  proxy_url = "string", as = "string", as_groups = "table", request_timeout = "number",
  discovery_ttl = "number", connect_timeout = "number", insecure_skip_tls_verify = "boolean", content_type = "string",
}

-- content_type = "protobuf": gets and lists ask for Kubernetes' protobuf
-- (custom resources, which have none, still come as JSON), decoded by
-- k8s.codec into the same tables JSON gives
local PROTOBUF_ACCEPT = "application/vnd.kubernetes.protobuf, application/json"

--- connect([opts]) -> client | nil, err
function M.connect(opts)
  util.check_arg(1, "connect", opts, "nil|string|table")
  opts = opts or {}
  if type(opts) == "string" then opts = { context = opts } end
  util.check_opts(1, "connect", opts, CONNECT_FIELDS)
  if opts.content_type and opts.content_type ~= "json" and opts.content_type ~= "protobuf" then
    error(("bad argument #1 to 'connect' (content_type: \"json\" or \"protobuf\" expected, got %q)"):format(opts.content_type), 2)
  end
  local r, err
  local explicit_server_only = opts.server and not opts.kubeconfig and not opts.context
    and (os.getenv("KUBECONFIG") or "") == "" and not io.open((os.getenv("HOME") or "") .. "/.kube/config")
  if explicit_server_only then
    r = { server = opts.server, namespace = opts.namespace or "default", token = opts.token,
          insecure = opts.insecure_skip_tls_verify, server_name = opts.tls_server_name,
          proxy = opts.proxy_url, compress = true, cacert = opts.certificate_authority,
          cert = opts.client_certificate, key = opts.client_key }
  else
    local cfg
    cfg, err = kubeconfig.load(opts)
    if not cfg then
      local ic = not opts.kubeconfig and (os.getenv("KUBECONFIG") or "") == "" and kubeconfig.in_cluster()
      if not ic then return nil, err end
      r = ic
      if opts.namespace then r.namespace = opts.namespace end
    else
      r, err = kubeconfig.resolve(cfg, opts)
      if not r then return nil, err end
      r.config = cfg
    end
  end
  if r.auth_provider then
    return nil, util.error("auth", ("user %q uses the auth-provider %q, which kscript does not support; use an exec plugin")
      :format(tostring(r.user), r.auth_provider))
  end
  local self = setmetatable({
    cfg = r, server = (r.server:gsub("/+$", "")), namespace = r.namespace, context = r.context,
    user = r.user, token = r.token, request_timeout = opts.request_timeout,
    connect_timeout = opts.connect_timeout,
    discovery_ttl = opts.discovery_ttl, warned = {}, protobuf = opts.content_type == "protobuf" or nil,
    tls = { cacert = r.cacert, cacert_pem = r.cacert_pem, cert = r.cert, cert_pem = r.cert_pem,
            key = r.key, key_pem = r.key_pem, insecure = r.insecure or nil, server_name = r.server_name },
  }, Client)
  self.compress = r.compress and not is_loopback(self.server)
  -- ksh.http warns once per host when verification is off
  self.insecure = r.insecure and self.server:match("^https:") and true or nil
  local ok, cerr = self:_credentials(false)
  if not ok then return nil, cerr end
  return self
end

function Client:__tostring()
  return ("k8s client %s (context %s, namespace %s)"):format(self.server, tostring(self.context), tostring(self.namespace))
end

-- ---------------------------------------------------------------- requests

local function header_list(self, accept, extra)
  local h = { "Accept: " .. (accept or "application/json"), "User-Agent: kscript/" .. VERSION }
  if self.token then h[#h + 1] = "Authorization: Bearer " .. self.token
  elseif self.cfg.username then
    h[#h + 1] = "Authorization: Basic " .. require("ksh.b64").encode(self.cfg.username .. ":" .. (self.cfg.password or ""))
  end
  if self.cfg.as then
    h[#h + 1] = "Impersonate-User: " .. self.cfg.as
    for _, g in ipairs(self.cfg.as_groups or {}) do h[#h + 1] = "Impersonate-Group: " .. g end
  end
  if extra then
    for k, v in pairs(extra) do
      if type(k) == "string" then h[#h + 1] = k .. ": " .. v else h[#h + 1] = v end
    end
  end
  return h
end

function Client:_warnings(headers)
  local w = headers and headers.warning
  if not w then return end
  -- 299 - "text", possibly several joined with ", "
  for text in tostring(w):gmatch('%d%d%d%s+%S+%s+"(.-[^\\])"') do
    if not self.warned[text] then
      self.warned[text] = true
      io.stderr:write("Warning: ", text, "\n")
    end
  end
end

--- url(path [, query]) -> full URL
function Client:url(path, query)
  return self.server .. path .. util.query(query)
end

local function http_opts(self, o)
  local t = self.tls
  return {
    url = self:url(o.path, o.query), method = o.method or "GET",
    headers = header_list(self, o.accept, o.headers), body = o.body,
    cacert = t.cacert, cacert_pem = t.cacert_pem, cert = t.cert, cert_pem = t.cert_pem,
    key = t.key, key_pem = t.key_pem, insecure = self.insecure, server_name = t.server_name,
    proxy = self.cfg.proxy, compressed = self.compress, framing = o.framing,
    timeout = o.timeout or (not o.framing and self.request_timeout) or nil,
    idle_timeout = o.idle_timeout, any_status = true, connect_timeout = self.connect_timeout,
  }
end

local function who(self)
  return ("(kubeconfig user %q, context %q)"):format(tostring(self.user), tostring(self.context))
end

--- raw_request{method, path, query, accept, headers, body, decode, framing}
--   -> decoded object or body text, response   |  nil, err
-- With framing ("lines"), returns the open stream instead.
function Client:raw_request(o)
  util.check_self(self, Client, "raw_request")
  util.check_opts(1, "raw_request", o, { method = "string", path = "string", query = "table",
    accept = "string", headers = "table", body = "string", framing = "string" })
  util.check_arg(1, "raw_request", o, "table")
  if type(o.path) ~= "string" then
    error(("bad argument #1 to 'raw_request' (path: string expected, got %s)"):format(type(o.path)), 2)
  end
  if self.protobuf and not o.framing and (o.method or "GET") == "GET" and o.decode ~= false
    and (o.accept == nil or o.accept:find("^application/json")) then
    local po = {}
    for k, v in pairs(o) do po[k] = v end
    po.accept = PROTOBUF_ACCEPT
    o = po
  end
  local attempt = 0
  while true do
    attempt = attempt + 1
    local ok, cerr = self:_credentials(false)
    if not ok then return nil, cerr end
    local ho = http_opts(self, o)
    local resp, err
    if o.framing then resp, err = http.stream(ho) else resp, err = http.request(ho) end
    if not resp then
      -- name the request once: ksh.http's message may already start with it
      local msg, head = tostring(err.message), ho.method .. " " .. ho.url .. ": "
      if msg:sub(1, #head) ~= head then err.message = head .. msg end
      return nil, err
    end
    self:_warnings(resp.headers)
    local status = resp.status
    if status == 401 and attempt == 1 and (self.cfg.exec or self.cfg.token_file) then
      if o.framing then resp:close() end
      local rok, rerr = self:_credentials(true)
      if not rok then return nil, rerr end
    elseif status >= 400 then
      local body = resp.body
      if o.framing then
        body = {}
        for rec in resp:records() do body[#body + 1] = rec end
        body = table.concat(body, "\n")
        resp:close()
      end
      local extra = (status == 401) and who(self) or nil
      local e = util.status_error(status, body, ho.method .. " " .. ho.url, extra)
      e.headers = resp.headers -- Retry-After, Warning, ... (the response's: no credentials)
      return nil, e
    else
      if o.framing then return resp end
      local ctype = resp.headers["content-type"] or ""
      if o.decode ~= false and ctype:find("application/vnd.kubernetes.protobuf", 1, true) then
        local text, perr = require("k8s.codec").decode_text(resp.body)
        if not text then
          return nil, util.error("protocol", ("%s %s: undecodable protobuf in the response: %s"):format(ho.method, ho.url,
            tostring(perr.message)), { body = resp.body })
        end
        return json.decode(text), resp
      end
      if o.decode ~= false and (ctype:find("json", 1, true) or o.decode == true) then
        local v, derr = json.decode(resp.body)
        if v == nil and derr then
          return nil, util.error("protocol", ("%s %s: invalid JSON in the response: %s"):format(ho.method, ho.url, tostring(derr)),
            { body = resp.body })
        end
        return v, resp
      end
      return resp.body, resp
    end
  end
end

--- proxy(kind, name, path, opts) -> status, headers, body | nil, err (lua/k8s/proxy.lua)
function Client:proxy(...) return require("k8s.proxy").proxy(self, ...) end
function Client:_http_opts(o) return http_opts(self, o) end
function M.proxy_server(opts) return require("k8s.proxy").server(opts) end

-- ---------------------------------------------------------------- resources

--- resources([refresh]) -> discovery entries
function Client:resources(refresh) return discovery.resources(self, refresh) end

--- resource(name) -> entry | nil, err; an entry passes through
function Client:resource(name)
  util.check_self(self, Client, "resource")
  util.check_arg(1, "resource", name, "string|table")
  if type(name) == "table" then return name end
  return discovery.lookup(self, name)
end

local function ns_of(self, e, opts)
  if not e.namespaced then return nil end
  if opts.all_namespaces then return nil end
  return opts.namespace or self.namespace or "default"
end

-- the options a list, a get or a path take (their types; misuse raises)
local LIST_FIELDS = {
  namespace = "string", all_namespaces = "boolean", labelSelector = "string",
  label_selector = "string", fieldSelector = "string", field_selector = "string",
  limit = "number", accept = "string", resourceVersion = "string", resourceVersionMatch = "string",
  query = "table",
}

--- path(resource, name, opts) -> the API path of a collection or object
function Client:path(res, name, opts)
  util.check_self(self, Client, "path")
  util.check_arg(1, "path", res, "string|table")
  util.check_arg(2, "path", name, "nil|string")
  util.check_opts(3, "path", opts, LIST_FIELDS)
  opts = opts or {}
  local e, err = self:resource(res)
  if not e then return nil, err end
  local p = e.group == "" and "/api/" .. e.version or "/apis/" .. e.group .. "/" .. e.version
  local ns = ns_of(self, e, opts)
  if ns then p = p .. "/namespaces/" .. util.escape(ns) end
  p = p .. "/" .. e.name
  if name then p = p .. "/" .. util.escape(name) end
  if opts.subresource then p = p .. "/" .. opts.subresource end
  return p, e
end

local function list_query(opts, extra)
  local q = { labelSelector = opts.labelSelector or opts.label_selector,
              fieldSelector = opts.fieldSelector or opts.field_selector,
              resourceVersion = opts.resourceVersion, resourceVersionMatch = opts.resourceVersionMatch }
  -- opts.query: more parameters (get --sort-by asks includeObject=Object)
  for k, v in pairs(opts.query or {}) do q[k] = v end
  for k, v in pairs(extra or {}) do q[k] = v end
  return q
end

--- get(path) -> object | text, response | nil, err
--- get(resource, name [, opts]) -> object, response | nil, err
--- get(resource [, nil, opts]) -> the list (like list())
function Client:get(what, name, opts)
  util.check_self(self, Client, "get")
  util.check_arg(1, "get", what, "string|table")
  if type(what) == "string" and what:sub(1, 1) == "/" then
    -- get(path [, {accept =, query =, headers =}])
    util.check_opts(2, "get", name, { accept = "string", query = "table", headers = "table" })
    local o = name or {}
    return self:raw_request { path = what, accept = o.accept or "application/json, */*", query = o.query, headers = o.headers }
  end
  util.check_arg(2, "get", name, "nil|string")
  util.check_opts(3, "get", opts, LIST_FIELDS)
  opts = opts or {}
  if name == nil then return self:list(what, opts) end
  local p, e = self:path(what, name, opts)
  if not p then return nil, e end
  return self:raw_request { path = p, accept = opts.accept, query = opts.query, decode = true }
end

local function fill_kind(items, e, list_kind)
  local api = e.group == "" and e.version or e.group .. "/" .. e.version
  local kind = e.kind or (list_kind and list_kind:gsub("List$", ""))
  for _, it in ipairs(items) do
    if type(it) == "table" then
      if it.kind == nil then it.kind = kind end
      if it.apiVersion == nil then it.apiVersion = api end
    end
  end
end

--- pages(resource, opts) -> iterator over list pages (each a decoded list);
-- opts.limit (default 500); an expired continue token goes on from the
-- inconsistent token the server offers (page.inconsistent = true).
function Client:pages(res, opts)
  util.check_self(self, Client, "pages")
  util.check_arg(1, "pages", res, "string|table")
  util.check_opts(2, "pages", opts, LIST_FIELDS)
  opts = opts or {}
  local p, e = self:path(res, nil, opts)
  if not p then error(e, 0) end
  local cont, done = nil, false
  local limit = opts.limit or 500
  local inconsistent = false
  return function()
    if done then return nil end
    local q = list_query(opts, { limit = limit > 0 and limit or nil, continue = cont })
    if cont then q.resourceVersion, q.resourceVersionMatch = nil, nil end
    local page, err = self:raw_request { path = p, query = q, accept = opts.accept, decode = true }
    if not page then
      local st = err.status_object
      local next_cont = type(st) == "table" and type(st.metadata) == "table" and st.metadata.continue
      if err.kind == "gone" and cont and type(next_cont) == "string" and next_cont ~= "" then
        cont = next_cont
        inconsistent = true
        q.continue = cont
        page, err = self:raw_request { path = p, query = q, accept = opts.accept, decode = true }
      end
      if not page then error(err, 0) end
    end
    local meta = type(page.metadata) == "table" and page.metadata or {}
    cont = meta.continue
    if type(cont) ~= "string" or cont == "" then done = true end
    -- an empty Table comes as "rows": null (and a list may say "items":
    -- null): both become empty arrays, so callers can always ipairs them
    if page.kind == "Table" then
      if type(page.rows) ~= "table" then page.rows = json.array {} end
    elseif page.items ~= nil and type(page.items) ~= "table" then
      page.items = json.array {}
    end
    if type(page.items) == "table" then fill_kind(page.items, e, page.kind) end
    page.inconsistent = inconsistent or nil
    return page
  end
end

local function loop_try(fn)
  local ok, e = pcall(fn)
  if not ok and loop.is_interrupt(e) then error(e, 0) end
  return ok, e
end

--- list(resource, opts) -> list object | nil, err: all pages joined; a
-- continue token that expires (410) restarts the list from the start.
function Client:list(res, opts)
  util.check_self(self, Client, "list")
  util.check_arg(1, "list", res, "string|table")
  util.check_opts(2, "list", opts, LIST_FIELDS)
  opts = opts or {}
  for _ = 1, 3 do
    local ok, result = loop_try(function()
      local all, first
      for page in self:pages(res, opts) do
        if page.inconsistent then error(util.error("gone", "restart"), 0) end
        -- a list of objects has items; a Table (opts.accept) has rows
        local field = page.kind == "Table" and "rows" or "items"
        if not first then
          first = page
          all = page[field] or json.array {}
          if not json.isarray(all) then all = json.array(all) end
          first[field] = all
        else
          for _, it in ipairs(page[field] or {}) do all[#all + 1] = it end
        end
      end
      if type(first.metadata) == "table" then first.metadata.continue = nil; first.metadata.remainingItemCount = nil end
      first.inconsistent = nil
      return first
    end)
    if ok then return result end
    if not (type(result) == "table" and result.kind == "gone" and result.message == "restart") then
      if type(result) == "table" and result.kind then return nil, result end
      error(result, 0)
    end
  end
  return nil, util.error("gone", "list: the continue token kept expiring")
end


-- ---------------------------------------------------------------- watch

local Watch = require "k8s.watch"

--- watch(resource, opts [, handler]) -> iterator over events | task (with a handler)
-- opts: namespace, all_namespaces, labelSelector, fieldSelector, name,
-- resourceVersion (start there; without it: list first, deliver the
-- items as ADDED with ev.initial = true, and ev.page / ev.page_first
-- when the list spans several pages), bookmarks (default true),
-- on_gone = "relist" (default) | "raise", timeout (seconds, then end).
local WATCH_FIELDS = { name = "string", timeout = "number", on_gone = "string", bookmarks = "boolean" }
for k, v in pairs(LIST_FIELDS) do WATCH_FIELDS[k] = WATCH_FIELDS[k] or v end

function Client:watch(res, opts, handler)
  util.check_self(self, Client, "watch")
  util.check_arg(1, "watch", res, "string|table")
  util.check_opts(2, "watch", opts, WATCH_FIELDS)
  util.check_arg(3, "watch", handler, "nil|function")
  opts = opts or {}
  local w = Watch.new(self, res, opts)
  if handler then
    return require("ksh").spawn(function()
      for ev in w:events() do
        if handler(ev) == false then break end
      end
      w:close()
    end)
  end
  return w:events(), w
end

--- informer(resource, opts) -> a list+watch cache | nil, err (lua/k8s/informer.lua)
function Client:informer(res, opts) return require("k8s.informer").new(self, res, opts) end
--- leader_election(opts) -> election on a Lease with this client (lua/k8s/leader.lua)
function Client:leader_election(opts)
  util.check_arg(1, "leader_election", opts, "table")
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.client = self
  return require("k8s.leader").new(o, 2)
end

-- ---------------------------------------------------------------- writes and logs
-- (lua/k8s/write.lua and lua/k8s/logs.lua: create, replace, patch, apply,
-- delete, scale, status, bind, evict, retry_on_conflict, wait_for, logs)
require("k8s.write").install(Client)
require("k8s.logs").install(Client)

-- ---------------------------------------------------------------- the prompt

-- ksh> shows "context/namespace" from the kubeconfig (re-read when a file changes)
local prompt_cache = {}
local function prompt_context()
  local files = kubeconfig.files {}
  local stamp = {}
  for _, f in ipairs(files) do
    local _, size, mtime = sys.stat(f)
    stamp[#stamp + 1] = f .. ":" .. tostring(size) .. ":" .. tostring(mtime)
  end
  stamp = table.concat(stamp, ";")
  if prompt_cache.stamp ~= stamp then
    local cfg = kubeconfig.load {}
    local ctx = cfg and cfg.current_context
    local c = ctx and cfg.contexts[ctx]
    prompt_cache = { stamp = stamp, text = ctx and (ctx .. "/" .. ((c and c.namespace) or "default")) or nil }
  end
  return prompt_cache.text
end

local completion_client
local function completion_k()
  if not completion_client then completion_client = M.connect { request_timeout = 3 } end
  return completion_client
end

local value_flags = { ["-n"] = true, ["--namespace"] = true, ["-l"] = true, ["--selector"] = true,
  ["-o"] = true, ["--output"] = true, ["--field-selector"] = true, ["-L"] = true, ["--context"] = true,
  ["--chunk-size"] = true, ["--kubeconfig"] = true, ["-s"] = true, ["--server"] = true, ["--raw"] = true }

local function prefixed(list, text)
  local out, seen = {}, {}
  for _, s in ipairs(list) do
    if not seen[s] and s:sub(1, #text) == text then seen[s] = true; out[#out + 1] = s end
  end
  table.sort(out)
  return out
end

-- complete_get(words, text) -> candidates: resource types, then object
-- names of that type, namespaces after -n (from the live server)
local function complete_get(words, text)
  local k = completion_k()
  if not k then return {} end
  local prev = words[#words]
  local ns
  local pos = {}
  local i = 2
  while i <= #words do
    local w = words[i]
    if w == "-n" or w == "--namespace" then ns = words[i + 1] end
    if value_flags[w] then i = i + 1 elseif w:sub(1, 1) ~= "-" then pos[#pos + 1] = w end
    i = i + 1
  end
  local function names_of(res)
    local l = k:list(res, { namespace = ns, limit = 500 })
    local out = {}
    for _, it in ipairs(l and l.items or {}) do out[#out + 1] = it.metadata.name end
    return out
  end
  if prev == "-n" or prev == "--namespace" then return prefixed(names_of("namespaces"), text) end
  if prev == "-o" or prev == "--output" then return prefixed({ "json", "yaml", "name", "wide" }, text) end
  if text:sub(1, 1) == "-" then
    return prefixed({ "--namespace", "--all-namespaces", "--selector", "--field-selector", "--output",
      "--show-labels", "--no-headers", "--watch", "--watch-only", "--chunk-size", "--raw" }, text)
  end
  if #pos == 0 then
    local typ, part = text:match("^([^/]+)/(.*)$")
    if typ then
      local out = {}
      for _, n in ipairs(names_of(typ)) do out[#out + 1] = typ .. "/" .. n end
      return prefixed(out, text)
    end
    local out = {}
    for _, e in ipairs(k:resources() or {}) do
      if e.preferred then
        out[#out + 1] = e.name
        for _, sn in ipairs(e.short or {}) do out[#out + 1] = sn end
      end
    end
    return prefixed(out, text)
  end
  return prefixed(names_of(pos[1]), text)
end

-- Hooks the prompt pulls (the library never requires the front end):
-- the context shown in ksh:CTX/NS> and argument completers by command name.
--- leader_election{lease = "ns/name", identity, lease_duration, renew_deadline, retry_period,
--   on_started, on_stopped, on_new_leader, release_on_cancel, client} -> election (lua/k8s/leader.lua)
function M.leader_election(opts)
  if type(opts) == "table" and opts.client == nil then
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    local c, err = M.connect()
    if not c then error(err, 2) end
    o.client = c
    opts = o
  end
  return require("k8s.leader").new(opts, 2)
end

--- decode(value [, kv_or_key [, opts]]) / encode(obj [, opts]): what the API
-- server stores in etcd (lua/k8s/codec.lua), loaded on first use.
function M.decode(...) return require("k8s.codec").decode(...) end
function M.encode(...) return require("k8s.codec").encode(...) end

M._hooks = { prompt_context = prompt_context, complete = { get = complete_get } }

return M
