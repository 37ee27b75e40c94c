-- k8s.proxy: the API server's proxy URLs from Lua, and a local proxy server
-- (kubectl proxy's equal, scriptable per request).
--
--   local status, headers, body = k:proxy("service", "php-apache", "/", {namespace = "default"})
--   k:proxy("pod", "web-0", "/healthz", {port = 8080, scheme = "https", method = "POST",
--            headers = {["X-A"] = "1"}, body = "...", query = {a = "b"}})
--   k:proxy("node", "node-1", "/metrics")
--   local status, headers, s = k:proxy("service", "web", "/big", {stream = true})
--   for chunk in s:records() do ... end
--
-- The backend's answer comes back as it is (status, headers with lowercase
-- names, raw body): an HTTP error of the backend is not an error here.  nil,
-- err only when the request failed or the API server itself refused it (its
-- JSON Status: no such service, no endpoints, forbidden ...).
--
--   local p = k8s.proxy_server{client = k, port = 8001, accept_hosts = ..., filter = fn}
--   p:port(); p:serve() (runs until p:close()); or p:start() -> task
local http = require "ksh.http"
local loop = require "ksh.loop"
local server = require "ksh.server"
local re = require "ksh.re"
local util = require "k8s.util"

local M = {}

local kinds = {
  service = "services", services = "services", svc = "services",
  pod = "pods", pods = "pods", po = "pods",
  node = "nodes", nodes = "nodes", no = "nodes",
}

-- the part of the path that names the target: [scheme:]name[:port]
local function target_of(name, opts)
  local scheme, port = opts.scheme, opts.port
  if scheme == nil and port == nil then return util.escape(name) end
  return (scheme and util.escape(scheme) or "") .. ":" .. util.escape(name) .. ":" ..
    (port ~= nil and util.escape(tostring(port)) or "")
end

--- path(client, kind, name, path, opts) -> the API path of the proxy URL
function M.path(client, kind, name, path, opts)
  local res = kinds[kind]
  if not res then error(("proxy: unknown kind %q (service, pod or node)"):format(tostring(kind)), 3) end
  if type(name) ~= "string" or name == "" then error("proxy: a name is required", 3) end
  path = path or "/"
  if type(path) ~= "string" then error("proxy: path must be a string", 3) end
  local p
  if res == "nodes" then
    p = "/api/v1/nodes/" .. target_of(name, opts)
  else
    local ns = opts.namespace or client.namespace or "default"
    p = "/api/v1/namespaces/" .. util.escape(ns) .. "/" .. res .. "/" .. target_of(name, opts)
  end
  return p .. "/proxy/" .. path:gsub("^/+", "")
end

-- the API server's own refusal: a JSON Status object
local function api_refusal(status, headers, body)
  if status < 400 then return false end
  local ct = headers["content-type"] or ""
  if not ct:find("application/json", 1, true) then return false end
  local ok, v = pcall(util.json.decode, body)
  return ok and type(v) == "table" and v.kind == "Status" and v.apiVersion == "v1"
end

local function auth_lines(ho, ua)
  local out = {}
  for _, h in ipairs(ho.headers) do
    local name = h:match("^([^:]+):")
    if name == "Authorization" or (name and name:match("^Impersonate%-")) or (ua and name == "User-Agent") then
      out[#out + 1] = h
    end
  end
  return out
end

-- the whole body of a stream (ksh.http collects a body of status >= 300 whole)
local function whole_body(s)
  local parts = {}
  while true do
    local c, e = s:read()
    if not c then
      if e then return nil, e end
      break
    end
    parts[#parts + 1] = c
  end
  if s.status >= 300 then return s.req:body() end
  return table.concat(parts)
end

--- proxy(client, kind, name, path, opts) -> status, headers, body | nil, err
function M.proxy(client, kind, name, path, opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("proxy: options must be a table", 2) end
  local apipath = M.path(client, kind, name, path, opts)
  local ok, cerr = client:_credentials(false)
  if not ok then return nil, cerr end
  local ho = client:_http_opts { path = apipath, query = opts.query, method = opts.method or "GET", body = opts.body }
  local h = auth_lines(ho, true)
  local has_accept = false
  for k, v in pairs(opts.headers or {}) do
    if type(k) == "string" then
      h[#h + 1] = k .. ": " .. tostring(v)
      if k:lower() == "accept" then has_accept = true end
    else
      h[#h + 1] = v
    end
  end
  if not has_accept then h[#h + 1] = "Accept: */*" end
  ho.headers = h
  ho.compressed = false
  ho.framing = "raw"
  if opts.stream then ho.timeout = nil end
  local s, err = http.stream(ho)
  if not s then return nil, err end
  local status, headers = s.status, s.headers
  if not opts.stream or status >= 400 then
    local body, berr = whole_body(s)
    s:close()
    if not body then return nil, berr end
    if api_refusal(status, headers, body) then
      return nil, util.status_error(status, body, ho.method .. " " .. ho.url)
    end
    if not opts.stream then return status, headers, body end
    -- a streamed request that failed: hand the body back as a finished stream
    local done = false
    return status, headers, { read = function() if done then return nil end done = true return body end,
      records = function(self) return function() return self:read() end end, close = function() end }
  end
  return status, headers, s
end

-- ------------------------------------------------------------------ server

M.DEFAULT_ACCEPT_HOSTS = [[^localhost$,^127\.0\.0\.1$,^\[::1\]$]]
M.DEFAULT_ACCEPT_PATHS = "^.*"
M.DEFAULT_REJECT_PATHS = "^/api/.*/pods/.*/exec,^/api/.*/pods/.*/attach"
M.DEFAULT_REJECT_METHODS = "^$"

--- regexps("a,b") -> {re, ...} | nil, "Error compiling re: ..." (kubectl's split on ",")
function M.regexps(s)
  local out = {}
  if s == nil or s == "" then return out end
  for part in (s .. ","):gmatch("(.-),") do
    local r, err = re.compile(part)
    if not r then return nil, "Error compiling re: " .. err end
    out[#out + 1] = r
  end
  return out
end

local function matches(s, list)
  for i = 1, #list do
    if list[i]:find(s) then return true end
  end
  return false
end

-- hop-by-hop headers, never forwarded either way
local hop = {
  connection = true, ["keep-alive"] = true, ["proxy-connection"] = true, ["proxy-authenticate"] = true,
  ["proxy-authorization"] = true, te = true, trailer = true, ["transfer-encoding"] = true, upgrade = true,
}

local canon_cache, canon_n = {}, 0
local function canonical(name)
  local c = canon_cache[name]
  if c then return c end
  c = name:gsub("(%w)([%w]*)", function(a, b) return a:upper() .. b:lower() end)
  if canon_n < 1000 then canon_n = canon_n + 1; canon_cache[name] = c end -- bounded: names come from clients
  return c
end

-- percent-decoding of a path; nil when a % is not followed by two hex digits
local function unescape(s)
  if not s:find("%", 1, true) then return s end
  for pos in s:gmatch("()%%") do
    if not s:sub(pos + 1, pos + 2):match("^%x%x$") then return nil end
  end
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- Go's path.Clean, keeping a trailing slash (net/http's cleanPath)
local function clean_path(p)
  if p == "" then return "/" end
  if p:sub(1, 1) ~= "/" then p = "/" .. p end
  local parts = {}
  for seg in p:gmatch("[^/]+") do
    if seg == ".." then
      if #parts > 0 then parts[#parts] = nil end
    elseif seg ~= "." then
      parts[#parts + 1] = seg
    end
  end
  local np = "/" .. table.concat(parts, "/")
  if p:sub(-1) == "/" and np ~= "/" then np = np .. "/" end
  return np
end

local function plain(req, status, body, extra)
  local h = { "Content-Type: text/plain; charset=utf-8", "X-Content-Type-Options: nosniff" }
  for _, l in ipairs(extra or {}) do h[#h + 1] = l end
  req:respond(status, h, #body)
  req:write(body)
  req:finish()
end

local function redirect(req, method, location)
  local body = ""
  local h = { "Location: " .. location }
  if method == "GET" or method == "HEAD" then
    h[#h + 1] = "Content-Type: text/html; charset=utf-8"
    body = '<a href="' .. location:gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"):gsub('"', "&#34;"):gsub("'", "&#39;") ..
      '">Temporary Redirect</a>.\n\n'
  end
  req:respond(307, h, #body)
  if method ~= "HEAD" then req:write(body) end
  req:finish()
end

local mime = {
  html = "text/html; charset=utf-8", htm = "text/html; charset=utf-8", css = "text/css; charset=utf-8",
  js = "text/javascript; charset=utf-8", json = "application/json", txt = "text/plain; charset=utf-8",
  png = "image/png", jpg = "image/jpeg", jpeg = "image/jpeg", gif = "image/gif", svg = "image/svg+xml",
  wasm = "application/wasm", xml = "text/xml; charset=utf-8", pdf = "application/pdf",
}

local function serve_file(req, method, dir, rel)
  local path = dir:gsub("/+$", "") .. "/" .. rel
  local f = io.open(path, "rb")
  local data = f and f:read("a")
  if f then f:close() end
  if data == nil then -- missing, or a directory: try its index.html
    f = io.open(path:gsub("/*$", "/") .. "index.html", "rb")
    data = f and f:read("a")
    if f then f:close() end
    path = "index.html"
  end
  if not data then return plain(req, 404, "404 page not found\n") end
  local ext = path:match("%.(%w+)$")
  req:respond(200, { "Content-Type: " .. (mime[ext and ext:lower()] or "application/octet-stream") }, #data)
  if method ~= "HEAD" then req:write(data) end
  req:finish()
end

local Server = {}
Server.__index = Server

--- server(opts) -> proxy server | nil, err
-- opts: client (a k8s client, required), address ("127.0.0.1"), port (8001), unix,
-- api_prefix ("/"), accept_hosts/accept_paths/reject_paths/reject_methods
-- (kubectl's comma-separated regexps, its defaults), disable_filter,
-- www, www_prefix ("/static/"), append_server_path, filter (function(req)),
-- log (function(req, res)), on_error (function(message)), keepalive (seconds:
-- the TCP keep-alive period of upgraded connections to the API server; nil
-- or 0: 15, negative: off).
function M.server(opts)
  assert(type(opts) == "table" and opts.client, "proxy_server: options with a client expected")
  local self = setmetatable({ client = opts.client, opts = opts, active = 0, served = 0 }, Server)
  local prefix = opts.api_prefix or "/"
  if prefix:sub(-1) ~= "/" then prefix = prefix .. "/" end -- kubectl adds the slash too
  self.prefix = prefix
  -- kubectl proxy's --keepalive: its help says 0 disables keep-alive, but its
  -- Go dialer (net.Dialer.KeepAlive 0) probes every 15 s; do as it does
  self.keepalive = (opts.keepalive == nil or opts.keepalive == 0) and 15 or opts.keepalive
  self.strip = prefix:sub(1, 4) ~= "/api"
  if not opts.disable_filter then
    local f = {}
    for key, dflt in pairs { accept_hosts = M.DEFAULT_ACCEPT_HOSTS, accept_paths = M.DEFAULT_ACCEPT_PATHS,
                             reject_paths = M.DEFAULT_REJECT_PATHS, reject_methods = M.DEFAULT_REJECT_METHODS } do
      local v = opts[key]
      if v == nil then v = dflt end
      local list, err = M.regexps(v)
      if not list then return nil, util.error("regexp", err) end
      f[key] = list
    end
    self.filters = f
  end
  if opts.www then
    local wp = opts.www_prefix or "/static/"
    if wp:sub(-1) ~= "/" then wp = wp .. "/" end
    if wp:sub(1, 1) ~= "/" then wp = "/" .. wp end
    self.www, self.www_prefix = opts.www, wp
  end
  -- without a filter (which sees req.body) a large or chunked body streams
  -- upstream as it arrives (src/core/relay.c), never held whole
  local srv, err = server.listen { address = opts.address or "127.0.0.1", port = opts.port or 8001, unix = opts.unix,
                                   stream_body = not opts.filter }
  if not srv then return nil, err end
  self.srv = srv
  return self
end

function Server:port() return self.srv and self.srv:port() end

--- address() -> "127.0.0.1:PORT" (or the socket path), as kubectl prints it
function Server:address()
  if self.opts.unix then return self.opts.unix end
  local a = self.opts.address or "127.0.0.1"
  if a:find(":", 1, true) then a = "[" .. a .. "]" end
  return a .. ":" .. self:port()
end

function Server:close()
  if self.srv then
    local s = self.srv
    self.srv = nil
    s:close()
  end
end

local function log_error(self, msg)
  if self.opts.on_error then self.opts.on_error(msg) else io.stderr:write("kscript: proxy: ", msg, "\n") end
end

-- -v: one line per relayed request (method, URL, status, duration), as
-- ksh.http logs its own; never a header (the credentials travel there)
local function verbose() local k = package.loaded.ksh; return k and k.verbose or false end

local function vlog(method, url, status, t0, what)
  if verbose() then
    io.stderr:write(("* %s %s -> %s (%.1f ms, %s)\n"):format(method, url, status, (loop.now() - t0) * 1000, what))
  end
end

-- the client authenticates with an exec plugin or a token file: a 401 makes
-- it fetch fresh credentials (client-go's exec round tripper does the same)
local function refreshable(client) return client.cfg.exec or client.cfg.token_file end

-- after a 401 with the credentials `used`: fetch new ones, once for all the
-- requests that were refused together
local function refresh(client, used)
  if client.token ~= used then return true end
  return client:_credentials(true)
end

-- the same for the next requests, in a task of its own: the request's task
-- ends (and its plugin run with it) as soon as its client hangs up
local function refresh_later(self, client, used)
  if client.token ~= used or client._proxy_refreshing then return end
  local st = {}
  client._proxy_refreshing = st
  st.task = loop.spawn(function()
    local ok, rok, rerr = pcall(refresh, client, used)
    if client._proxy_refreshing == st then client._proxy_refreshing = nil end
    if not ok or not rok then log_error(self, "refreshing credentials: " .. tostring(ok and rerr or rok)) end
  end)
end


-- an upgrade (WebSocket, SPDY: exec, attach, port-forward, watch): the
-- request goes upstream over a connection of its own; a 101 splices the
-- client's connection with it until either side ends (src/core/tunnel.c),
-- any other answer is forwarded as a normal response
local function tunnel(self, req, r, ho, h, retry)
  local t0 = loop.now()
  h[#h + 1] = "Connection: Upgrade"
  h[#h + 1] = "Upgrade: " .. r.headers.upgrade
  local origin = ho.url:match("^%a+://[^/?#]+")
  local status, rh, body, _, down = req:upgrade {
    url = origin, target = ho.url:sub(#origin + 1), method = r.method, headers = h,
    body = r.body ~= "" and r.body or nil,
    cacert = ho.cacert, cacert_pem = ho.cacert_pem, cert = ho.cert, cert_pem = ho.cert_pem,
    key = ho.key, key_pem = ho.key_pem, insecure = ho.insecure, server_name = ho.server_name,
    proxy = ho.proxy, keepalive = self.keepalive,
  }
  if not status then
    if rh.kind == "closed" and req:closed() then return nil, 499, 0 end
    vlog(r.method, ho.url, 500, t0, "proxy upgrade")
    local msg = tostring(rh)
    log_error(self, "Error while proxying request: " .. msg)
    return plain(req, 500, msg .. "\n"), 500, 0
  end
  vlog(r.method, ho.url, status, t0, "proxy upgrade")
  if status == 101 then return true, 101, down end
  -- refused with credentials that may have expired: nothing went to the
  -- client yet, so the caller may fetch fresh ones and try again
  if status == 401 and retry then return "retry" end
  local out = {}
  for name, v in pairs(rh) do
    if not hop[name] and name ~= "date" and name ~= "content-length" then out[#out + 1] = canonical(name) .. ": " .. v end
  end
  req:respond(status, out, #body)
  req:write(body)
  req:finish()
  return true, status, #body
end

-- Connection: Upgrade (a token of the list) with an Upgrade header
local function wants_upgrade(headers)
  local c = headers.connection
  if not c or not headers.upgrade or headers.upgrade == "" then return false end
  for tok in c:gmatch("[^,%s]+") do
    if tok:lower() == "upgrade" then return true end
  end
  return false
end

-- names given more than once -> {name = {value, ...}}: they go upstream one
-- line each, as Go's proxy sends them (Go servers read some as lists:
-- X-Stream-Protocol-Version of exec and attach, Sec-WebSocket-Protocol)
local function repeated(list)
  local seen, rep = {}, nil
  for i = 1, #list, 2 do
    local k = list[i]:lower()
    if seen[k] then
      rep = rep or {}
      rep[k] = rep[k] or { seen[k] }
      table.insert(rep[k], list[i + 1])
    else
      seen[k] = list[i + 1]
    end
  end
  return rep
end

-- forward an accepted request upstream and stream the answer back
local function forward(self, req, r, multi, attempt)
  local client = self.client
  -- credentials being fetched after a 401: this request waits for them
  local pending = client._proxy_refreshing
  if pending and pending.task then pcall(pending.task.wait, pending.task) end
  local ok, cerr = client:_credentials(false)
  if not ok then return plain(req, 500, tostring(cerr) .. "\n") end
  local used = client.token
  local ho = client:_http_opts { path = "/", method = r.method }
  local h = auth_lines(ho)
  local hostname = client.server:match("^%a+://([^/]+)")
  local xff
  for name, v in pairs(r.headers) do
    if not hop[name] and name ~= "host" and name ~= "authorization" and name ~= "content-length"
      and name ~= "expect" and not name:match("^impersonate%-") then
      local vals = multi and multi[name]
      if name == "x-forwarded-for" then
        xff = v
      elseif vals and table.concat(vals, ", ") == v then -- unchanged by a filter: one line each
        for _, one in ipairs(vals) do h[#h + 1] = canonical(name) .. ": " .. one end
      else
        h[#h + 1] = canonical(name) .. ": " .. v
      end
    end
  end
  local ip = r.remote:match("^%[?(.-)%]?:%d+$")
  if ip and ip ~= "" and ip ~= "@" then
    h[#h + 1] = "X-Forwarded-For: " .. (xff and (xff .. ", ") or "") .. ip
  end
  if not r.headers["user-agent"] then h[#h + 1] = "User-Agent:" end -- none, as Go's proxy
  if not r.headers["accept"] then h[#h + 1] = "Accept:" end      -- curl would add */*
  h[#h + 1] = "Expect:"
  ho.headers = h
  ho.url = client.server .. (self.opts.append_server_path and (client.cfg.server or ""):match("^%a+://[^/]+(/.-)/*$") or "") .. r.target
  ho.body = (r.body ~= "" or (r.method ~= "GET" and r.method ~= "HEAD")) and r.body or nil
  ho.compressed = false
  ho.framing = "raw"
  ho.timeout = nil
  ho.max_queue = 1024 * 1024
  -- a long-running request (watch, log follow) gets a connection of its own
  -- that is never reused (h2c: ksh.http's FRESH_CONNECT + FORBID_REUSE; over
  -- https it is still HTTP/2 by ALPN), so cancelling it closes that connection
  -- and the API server ends the watch at once.  (libcurl 7.88 leaves a
  -- cancelled stream's connection open with the API server still sending.)
  local q = r.target:match("%?(.*)$") or ""
  if ("&" .. q .. "&"):find("&watch=[^&0f]") or ("&" .. q .. "&"):find("&follow=[^&0f]")
    or r.target:find("^/apis?/[^?]*/watch/") then
    ho.h2c = true
  end
  if r.upgrade then
    local a, b, c = tunnel(self, req, r, ho, h, refreshable(client) and not attempt)
    if a ~= "retry" then return a, b, c end
    local rok, rerr = refresh(client, used)
    if not rok then
      log_error(self, "Error while proxying request: " .. tostring(rerr))
      return plain(req, 500, tostring(rerr) .. "\n"), 500, 0
    end
    return forward(self, req, r, multi, 2)
  end
  local log = verbose()
  -- the answer goes from the upstream transfer to the client in C
  -- (src/core/relay.c): no Lua per chunk.  Only a log or on_error hook needs
  -- to wait for the outcome here.
  if not (self.opts.log or self.opts.on_error or refreshable(client)) then
    local ok, err = req:relay(ho, false, log)
    if not ok then
      log_error(self, "Error while proxying request: " .. tostring(err))
      return plain(req, 500, tostring(err) .. "\n"), 500, 0
    end
    return true
  end
  local ok, status, bytes, err, st = req:relay(ho, true, log)
  -- a 401 goes to the client as it came (its body may have streamed): the
  -- next request gets fresh credentials, as kubectl proxy's client-go does
  if status == 401 and refreshable(client) then refresh_later(self, client, used) end
  if err == nil and not ok then -- setup failure: nothing was sent
    log_error(self, "Error while proxying request: " .. tostring(status))
    return plain(req, 500, tostring(status) .. "\n"), 500, 0
  end
  if err and status ~= 499 then log_error(self, "Error while proxying request: " .. tostring(err)) end
  return ok, status, bytes, st
end

local function header_map(list)
  local m = {}
  for i = 1, #list, 2 do
    local k = list[i]:lower()
    local v = list[i + 1]
    if m[k] then m[k] = m[k] .. ", " .. v else m[k] = v end
  end
  return m
end

-- one request, in its own task
local function handle(self, req)
  local t0 = loop.now()
  local method, target, hl, body, remote = req:info()
  local headers = header_map(hl)
  local rawpath, query = target:match("^([^?]*)%??(.*)$")
  local r = { method = method, target = target, query = query, headers = headers, body = body,
              remote = remote, user = self.client.user, context = self.client.context,
              upgrade = wants_upgrade(headers) or nil }
  local function finish_log(status, bytes, st)
    if self.opts.log then
      local lok, lerr = pcall(self.opts.log, r, { status = status, bytes = bytes or 0, duration = loop.now() - t0,
        peak = st and st.peak, pauses = st and st.pauses })
      if not lok then log_error(self, "log: " .. tostring(lerr)) end
    end
  end
  if rawpath:sub(1, 1) ~= "/" then -- absolute-form or "*": Go answers 400 too
    plain(req, 400, "400 Bad Request")
    return finish_log(400, 15)
  end
  local path = unescape(rawpath)
  if not path then
    plain(req, 400, "400 Bad Request")
    return finish_log(400, 15)
  end
  -- net/http's ServeMux: a path with . or .. segments or // goes to its clean
  -- form (on the escaped path: %2e%2e stays, and the filters see "..")
  local cleaned = (rawpath:find("/.", 1, true) or rawpath:find("//", 1, true)) and clean_path(rawpath) or rawpath
  if cleaned ~= rawpath and method ~= "CONNECT" then
    redirect(req, method, cleaned .. (query ~= "" and ("?" .. query) or ""))
    return finish_log(307, 0)
  end
  -- static files
  if self.www and path:sub(1, #self.www_prefix) == self.www_prefix and
    (#self.www_prefix >= #self.prefix or path:sub(1, #self.prefix) ~= self.prefix) then
    serve_file(req, method, self.www, path:sub(#self.www_prefix + 1))
    return finish_log(200, 0)
  end
  if self.prefix ~= "/" and path == self.prefix:sub(1, -2) then
    redirect(req, method, self.prefix .. (query ~= "" and ("?" .. query) or ""))
    return finish_log(307, 0)
  end
  if path:sub(1, #self.prefix) ~= self.prefix then
    plain(req, 404, "404 page not found\n")
    return finish_log(404, 19)
  end
  local upath, utarget = path, target
  if self.strip then
    upath = path:sub(#self.prefix + 1)
    if upath:sub(1, 1) ~= "/" then upath = "/" .. upath end
    local rp = rawpath:sub(#self.prefix + 1)
    if rp:sub(1, 1) ~= "/" then rp = "/" .. rp end
    utarget = rp .. (query ~= "" and ("?" .. query) or "")
  end
  r.path, r.target = upath, utarget
  -- kubectl's filter: reject-paths, reject-methods, then accept-paths and accept-hosts
  local f = self.filters
  if f then
    local host = headers.host or ""
    -- Go's net.SplitHostPort: "[::1]:80" -> "::1"; "[::1]" (no port) stays as it is
    host = host:match("^%[(.*)%]:[^:]*$") or host:match("^([^:%[%]]*):[^:]*$") or host
    r.host = host
    if matches(upath, f.reject_paths) or matches(method, f.reject_methods)
      or not (matches(upath, f.accept_paths) and matches(host, f.accept_hosts)) then
      plain(req, 403, "Forbidden\n")
      return finish_log(403, 10)
    end
  end
  -- the per-request Lua filter: allow (nil/true), deny (false or status, message), or change r
  if self.opts.filter then
    local fok, v, msg = pcall(self.opts.filter, r)
    if not fok then
      if loop.is_interrupt(v) then error(v, 0) end
      log_error(self, "filter failed, request denied: " .. tostring(v))
      plain(req, 403, "Forbidden\n")
      return finish_log(403, 10)
    end
    if v == false or type(v) == "number" then
      local status = type(v) == "number" and math.tointeger(v) or 403
      local text = msg and tostring(msg) or ((server.reason(status) ~= "" and server.reason(status) or "Forbidden"))
      if text:sub(-1) ~= "\n" then text = text .. "\n" end
      plain(req, status, text)
      return finish_log(status, #text)
    end
    if type(r.method) ~= "string" or type(r.target) ~= "string" or r.target:sub(1, 1) ~= "/" then
      log_error(self, "filter returned a bad request (method or target), request denied")
      plain(req, 403, "Forbidden\n")
      return finish_log(403, 10)
    end
    -- a changed path without a changed target: send the path
    if r.path ~= upath and r.target == utarget then
      r.target = r.path:gsub("[^%w%-%._~/:@!$&'()*+,;=]", function(c) return ("%%%02X"):format(c:byte()) end)
        .. (r.query ~= "" and ("?" .. r.query) or "")
    end
    r.body = r.body or ""
  end
  local _, status, bytes, st = forward(self, req, r, repeated(hl))
  return finish_log(status, bytes, st)
end

-- The common case in C (ksh.server's fastpath): with no Lua filter, log or
-- error hook and credentials that never change, a request forward() would
-- simply send on is sent on as it arrives, with the same headers, no task
-- and no Lua per request.  What it does not take (odd paths, upgrades,
-- refusals, static files) comes to handle() as before.  -v is read now.
local function fastpath(self)
  local client, opts = self.client, self.opts
  if opts.filter or opts.log or opts.on_error or refreshable(client) then return end
  if not client:_credentials(false) then return end -- handle() reports it per request
  local ho = client:_http_opts { path = "/", method = "GET" }
  local auth = auth_lines(ho)
  ho.headers, ho.body, ho.timeout = nil, nil, nil
  ho.compressed, ho.framing, ho.max_queue = false, "raw", 1024 * 1024
  ho.url = client.server
  self.srv:fastpath { http = ho, auth = auth, prefix = self.prefix, strip = self.strip,
    upstream = client.server .. (opts.append_server_path and (client.cfg.server or ""):match("^%a+://[^/]+(/.-)/*$") or ""),
    www_prefix = self.www_prefix, filters = self.filters, log = verbose() }
end

--- serve(): accept requests until close() (each one runs in its own task)
function Server:serve()
  local spawn = loop.spawn
  if self.srv then fastpath(self) end
  while self.srv do
    local req = self.srv:accept()
    if not req then break end
    self.served = self.served + 1
    spawn(function()
      local q <close> = req
      q:own() -- a client that goes away cancels this task (and its upstream request)
      local ok, err = pcall(handle, self, q)
      if not ok then
        if loop.is_interrupt(err) or (type(err) == "table" and err.kind == "cancelled") then return end
        log_error(self, tostring(err))
        if not q:closed() then pcall(plain, q, 500, "Internal Server Error\n") end
      end
    end)
  end
end

--- start() -> task running serve()
function Server:start()
  return require("ksh").spawn(function() return self:serve() end)
end

return M
