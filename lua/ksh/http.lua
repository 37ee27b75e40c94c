-- ksh.http: HTTP requests and streams on the loop, with one error shape.
--
--   local resp, err = http.request{url = "https://...", method = "GET",
--       headers = {Accept = "application/json"}, body = "...",
--       cacert = FILE | cacert_pem = PEM, cert/cert_pem, key/key_pem,
--       insecure = false, server_name = "name in the certificate",
--       user/password, proxy, connect_timeout, timeout, idle_timeout,
--       h2c = false (HTTP/2 prior knowledge on http://), http1, compressed}
--   resp = {status=, headers={lowercase name = value}, trailers=, body=, version=}
--   err  = {kind = "refused"|"dns"|"tls"|"timeout"|"closed"|"truncated"|
--           "interrupted"|"http"|..., message = "GET URL: ...", status=, body=}
--
--   local s, err = http.stream{url = ..., framing = "lines"|"grpc"|"raw"}
--       or framer = a framer from a binding (ksh.etcdpb's scanner:framer())
--   for rec in s:records() do ... end   -- raises on a failure mid-stream
--   s:read() -> rec | nil (clean end) | nil, err;  s:close()
local c = require "ksh.httpc"
local kerror = require("ksh").error

local M = {}

local warned = {}
-- Misuse raises at the caller of request/stream (level 3 from here).
local function prepare(opts, fname)
  if type(opts) ~= "table" then
    error(("bad argument #1 to '%s' (table expected, got %s)"):format(fname, type(opts)), 3)
  end
  if opts.framer ~= nil and not c.isframer(opts.framer) then
    error(("bad argument #1 to '%s' (framer: a framer expected, got %s)"):format(fname, type(opts.framer)), 3)
  end
  if opts.insecure then
    local host = tostring(opts.url):match("^%a+://([^/]+)") or opts.url
    if not warned[host] then
      warned[host] = true
      io.stderr:write("kscript: warning: TLS certificate verification is disabled for ", host, "\n")
    end
  end
  return opts
end

local function verbose() local k = package.loaded.ksh; return k and k.verbose end

local function log(req, status)
  if not verbose() then return end
  local method, url, elapsed, ver = req:info()
  io.stderr:write(("* %s %s -> %s (%.1f ms%s)\n"):format(method, url, status, elapsed * 1000,
    ver ~= "" and ", " .. ver or ""))
end

local function transport_error(req)
  return req:error()
end

local function http_error(req, status)
  local method, url = req:info()
  local body = req:body()
  local err = kerror("http", ("%s %s: HTTP %d"):format(method, url, status),
    { status = status, body = body, headers = req:headers() })
  return err
end

local function wait_until(req, what)
  while true do
    local headers_done, done = req:state()
    if done or (what == "headers" and headers_done) then return end
    req:wait()
  end
end

-- Start a transfer and wait until `what` ("headers" or "done"); a transport
-- failure is returned as nil, err (and logged).  An interruption while
-- waiting closes the transfer and propagates.
local function open(opts, what)
  local req, serr = c.start(opts)
  if not req then return nil, serr end
  local ok, e = pcall(wait_until, req, what)
  if not ok then
    req:close()
    error(e, 0)
  end
  local terr = transport_error(req)
  if terr then
    log(req, terr.kind)
    req:close()
    return nil, terr
  end
  return req, select(3, req:state())
end

--- request(opts) -> resp | nil, err.  HTTP statuses >= 400 are errors of
-- kind "http" (with status, body, headers) unless opts.any_status is set.
function M.request(opts)
  local req, status = open(prepare(opts, "request"), "done")
  if not req then return nil, status end
  log(req, status)
  if status >= 400 and not opts.any_status then
    local err = http_error(req, status)
    req:close()
    return nil, err
  end
  local _, _, elapsed, version = req:info()
  local resp = { status = status, headers = req:headers(), trailers = req:trailers(), body = req:body(),
                 version = version, elapsed = elapsed }
  req:close()
  return resp
end

local Stream = {}
Stream.__index = Stream
Stream.__name = "ksh.http.stream"

--- stream(opts) -> stream | nil, err: returns once the response headers are
-- in; a status >= 300 is an error (kind "http") with the body collected.
function M.stream(opts)
  prepare(opts, "stream")
  if not opts.framing then opts.framing = "lines" end
  local req, status = open(opts, "headers")
  if not req then return nil, status end
  if status >= 300 and not opts.any_status then
    wait_until(req, "done")
    log(req, status)
    local err = transport_error(req) or http_error(req, status)
    req:close()
    return nil, err
  end
  log(req, status)
  return setmetatable({ req = req, status = status, headers = req:headers() }, Stream)
end

--- read() -> record | nil (the stream ended cleanly) | nil, err
function Stream:read()
  local req = self.req
  if not req then return nil, kerror("closed", "read from a closed stream") end
  while true do
    local rec = req:next()
    if rec then return rec end
    local _, done = req:state()
    if done then
      local err = transport_error(req)
      if err then return nil, err end
      return nil
    end
    req:wait()
    -- (closed by another task while this one waited)
    if not self.req then return nil, kerror("closed", "read from a closed stream") end
  end
end

--- records() -> iterator over records; raises if the stream fails.
function Stream:records()
  return function()
    local rec, err = self:read()
    if err then error(err, 0) end
    return rec
  end
end

--- peak_queue() -> the most bytes of records that waited at once: with a
-- slow consumer it stays near max_queue, because the transfer pauses.
function Stream:peak_queue()
  return self.req and select(5, self.req:state()) or 0
end

--- trailers() -> table (after the end: HTTP/2 trailers, e.g. grpc-status)
function Stream:trailers()
  return self.req and self.req:trailers() or {}
end

function Stream:close()
  if self.req then
    local req = self.req
    self.req = nil
    req:close()
  end
end
Stream.__close = Stream.close
Stream.__gc = Stream.close

--- get(url [, opts]) -> body | nil, err: a short form of request().
function M.get(url, opts)
  if type(url) ~= "string" then
    error(("bad argument #1 to 'get' (string expected, got %s)"):format(type(url)), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #2 to 'get' (table expected, got %s)"):format(type(opts)), 2)
  end
  opts = opts or {}
  opts.url = url
  local resp, err = M.request(opts)
  if not resp then return nil, err end
  return resp.body, resp
end

return M
