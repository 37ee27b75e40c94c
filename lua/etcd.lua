-- etcd: the etcd v3 client over etcd's native gRPC (HTTP/2; prior knowledge
-- on http://, ALPN on https://), with the protobuf codec of ksh.etcdpb.
--
--   local c = etcd.connect{endpoints = "https://a:2379,https://b:2379" | {...},
--                          cacert =, cert =, key =, timeout = 30}
--   (api = 2: the v2 keys API over HTTP, lua/etcd/v2.lua; user =, password =:
--   authenticate on the first call, again once when the token expires)
--     (defaults: ETCDCTL_ENDPOINTS, ETCDCTL_CACERT, ETCDCTL_CERT, ETCDCTL_KEY)
--   c:get(key, {prefix, from_key, range_end, keys_only, count_only, limit,
--               revision, sort_order, sort_target, serializable})
--       -> {kvs = {{key, value, create_revision, mod_revision, version, lease}},
--           more, count, header = {cluster_id, member_id, revision, raft_term}}
--   for kv in c:scan(prefix, {page = N, keys_only}) do ... end
--       every key under prefix at one revision, in pages, in bounded memory
--   c:put(key, value, {lease, prev_kv})       c:del(key, {prefix, prev_kv})
--   c:txn{compare = {{key =, target = "value"|"version"|"create"|"mod"|"lease",
--                     result = "=="|"!="|">"|"<", value =}},
--         success = {{"put", key, value}, {"get", key, opts}, {"del", key, opts}},
--         failure = {...}}  -> {succeeded, responses, header}
--   for ev in c:watch(key, {prefix, start_revision, prev_kv, progress_notify}) do
--       ev = {type = "PUT"|"DELETE"|"PROGRESS", kv, prev_kv, revision, header} end
--       (w:pending() after w:next(): how many more events came in the same response)
--   c:watch(key, opts, function(ev) ... end) -> task (return false to stop)
--   c:compact(revision)
--   etcd.snapshot(path [, {rev, force}]) -> s | nil, err: a snapshot file read
--       with no etcd running; s:get(key, opts) as c:get (lua/etcd/snapshot.lua)
-- Failures of the world return nil, err ({kind =, message =}); iterators raise.
-- cluster_id and member_id are unsigned decimal strings (exact uint64).
local http = require "ksh.http"
local pb = require "ksh.etcdpb"
local loop = require "ksh.loop"

local M = {}
M.pb = pb

local err = require("ksh").error

local GRPC_HEADERS = { ["content-type"] = "application/grpc", te = "trailers" }

-- gRPC status codes -> error kinds
local KINDS = {
  [1] = "canceled", [2] = "grpc", [3] = "invalid", [4] = "timeout", [5] = "notfound", [6] = "exists",
  [7] = "forbidden", [8] = "exhausted", [9] = "precondition", [10] = "aborted", [11] = "range",
  [12] = "unimplemented", [13] = "internal", [14] = "unavailable", [15] = "dataloss",
  [16] = "unauthorized",
}

-- connection failures after which the next endpoint is tried
local FAILOVER = { refused = true, dns = true, connect = true, tls = true }
local FAILOVER_READ = { refused = true, dns = true, connect = true, tls = true, timeout = true,
                        closed = true, unavailable = true }

--- range_end(prefix) -> the end of a prefix range, as etcd's client computes it.
M.prefix_end = pb.prefix_end

local function pct_decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function grpc_error(what, headers, trailers)
  local st = trailers and trailers["grpc-status"] or headers and headers["grpc-status"]
  if st == nil then return err("protocol", ("etcd %s: the response has no grpc-status"):format(what)) end
  local code = tonumber(st)
  if code == 0 then return nil end
  local msg = pct_decode((trailers and trailers["grpc-message"]) or (headers and headers["grpc-message"]) or "")
  local kind = KINDS[code] or "grpc"
  if code == 11 and msg:find("compacted", 1, true) then kind = "compacted" end
  return err(kind, ("etcd %s: %s (gRPC status %d)"):format(what, msg ~= "" and msg or "error", code),
    { grpc_status = code, grpc_message = msg })
end

-- One endpoint: [http[s]://]host[:port][/], host a name, an IPv4 address or
-- a bracketed IPv6 address.  Returns the URL or nil, why.
local function check_endpoint(e, tls)
  if type(e) ~= "string" then return nil, ("a string expected, got %s"):format(type(e)) end
  if e == "" then return nil, "empty endpoint" end
  local scheme, rest = e:match("^(%a[%w+.-]*)://(.*)$")
  if scheme then
    scheme = scheme:lower()
    if scheme ~= "http" and scheme ~= "https" then
      return nil, ("%q: unsupported scheme %s:// (http:// or https://)"):format(e, scheme)
    end
  else
    rest = e
  end
  rest = rest:gsub("/+$", "")
  local host, port = rest:match("^(%[[%x:.]+%])(.*)$")
  if not host then host, port = rest:match("^([%w.-]+)(.*)$") end
  if not host or host:match("^[.-]") or (port ~= "" and not port:match("^:%d+$")) then
    return nil, ("%q is not an endpoint URL (want [http[s]://]host:port)"):format(e)
  end
  if port ~= "" and tonumber(port:sub(2)) > 65535 then return nil, ("%q: port out of range"):format(e) end
  return (scheme or (tls and "https" or "http")) .. "://" .. host .. port
end

-- endpoints (string "a,b" or list) -> list of URLs | nil, why
local function split_endpoints(v, tls)
  local list = {}
  if type(v) == "table" then
    for _, e in ipairs(v) do list[#list + 1] = e end
  elseif type(v) == "string" then
    for e in (v .. ","):gmatch("([^,]*),") do list[#list + 1] = e end
  else
    return nil, ("string or list expected, got %s"):format(type(v))
  end
  if #list == 0 then return nil, "no endpoints" end
  for i, e in ipairs(list) do
    local u, why = check_endpoint(e, tls)
    if not u then return nil, why end
    list[i] = u
  end
  return list
end
M.split_endpoints = split_endpoints

local Client = {}
Client.__index = Client
Client.__name = "etcd.client"

--- connect(opts | endpoints) -> client | nil, err.  Nothing is dialled until
-- a call.  Bad endpoints raise (misuse); bad ETCDCTL_ENDPOINTS return nil,
-- err with kind "config".
function M.connect(opts)
  if type(opts) ~= "table" or opts[1] then opts = { endpoints = opts } end
  local function pick(k, env)
    local v = opts[k]
    if v == nil then v = os.getenv(env) end
    if v == "" then v = nil end
    return v
  end
  local cacert, cert, key = pick("cacert", "ETCDCTL_CACERT"), pick("cert", "ETCDCTL_CERT"), pick("key", "ETCDCTL_KEY")
  local eps, why
  if opts.endpoints ~= nil then
    eps, why = split_endpoints(opts.endpoints, cacert or cert)
    if not eps then error(("bad argument #1 to 'connect' (endpoints: %s)"):format(why), 2) end
  else
    local env = os.getenv("ETCDCTL_ENDPOINTS")
    if env and env ~= "" then
      eps, why = split_endpoints(env, cacert or cert)
      if not eps then return nil, err("config", "ETCDCTL_ENDPOINTS: " .. why) end
    else
      eps = split_endpoints("127.0.0.1:2379", cacert or cert)
    end
  end
  if opts.api ~= nil and opts.api ~= 2 and opts.api ~= 3 and opts.api ~= "2" and opts.api ~= "3" then
    error(("bad argument #1 to 'connect' (api: 2 or 3 expected, got %s)"):format(tostring(opts.api)), 2)
  end
  if opts.api == 2 or opts.api == "2" then
    if cacert == nil then cacert = opts.ca_file or os.getenv("ETCDCTL_CA_FILE") end
    if cert == nil then cert = opts.cert_file or os.getenv("ETCDCTL_CERT_FILE") end
    if key == nil then key = opts.key_file or os.getenv("ETCDCTL_KEY_FILE") end
    return require("etcd.v2").new({ cacert = cacert ~= "" and cacert or nil, cert = cert ~= "" and cert or nil,
      key = key ~= "" and key or nil, insecure = opts.insecure, username = opts.username, password = opts.password,
      timeout = opts.timeout, connect_timeout = opts.connect_timeout }, eps)
  end
  local auth
  if opts.user ~= nil then
    if type(opts.user) ~= "string" or type(opts.password) ~= "string" then
      error("bad argument #1 to 'connect' (user and password: strings expected)", 2)
    end
    auth = { user = opts.user, password = opts.password }
  end
  return setmetatable({
    endpoints = eps, cur = 1, cacert = cacert, cert = cert, key = key, insecure = opts.insecure,
    timeout = opts.timeout or 30, connect_timeout = opts.connect_timeout or 5, auth = auth,
  }, Client)
end

function Client:__tostring()
  return ("etcd client (%s)"):format(table.concat(self.endpoints, ","))
end

function Client:_opts(ep, path, body, extra)
  local headers = GRPC_HEADERS
  if self.token then
    -- gRPC metadata "token": never logged (-v prints methods and URLs only)
    headers = { ["content-type"] = "application/grpc", te = "trailers", token = self.token }
  end
  local o = {
    url = ep .. path, method = "POST", headers = headers, body = body,
    cacert = self.cacert, cert = self.cert, key = self.key, insecure = self.insecure,
    connect_timeout = self.connect_timeout,
  }
  if ep:match("^http://") then o.h2c = true end
  if extra then for k, v in pairs(extra) do o[k] = v end end
  return o
end

-- Run fn(endpoint) on each endpoint from the current one until one answers;
-- a connection failure moves on to the next.  Returns fn's result.
function Client:_try(fn, failover)
  if self.auth and not self.token and not self._authing then
    local ok, e = self:authenticate()
    if not ok then
      if type(e) == "table" then e.authenticating = true end
      return nil, e
    end
  end
  local n = #self.endpoints
  local tried = {}
  local last
  for i = 0, n - 1 do
    local idx = (self.cur - 1 + i) % n + 1
    local ep = self.endpoints[idx]
    local res, e = fn(ep)
    -- a read whose HTTP/2 stream was reset (etcd 3.4 answering an unknown
    -- method, which libcurl 7.88 reports as a framing error about one time
    -- in ten under load): again on the same endpoint, a bounded number of
    -- times (reads are idempotent; clientv3 retries them too)
    local again = 0
    while not res and again < 3 and failover == FAILOVER_READ and type(e) == "table"
        and e.kind == "closed" and e.message:find("HTTP/2 framing layer", 1, true) do
      again = again + 1
      res, e = fn(ep)
    end
    if res then
      self.cur = idx
      return res
    end
    if type(e) == "table" and e.kind == "closed" and ep:match("^https://")
        and (e.message:find("getpeername", 1, true) or e.message:find("reset by peer", 1, true)
             or e.message:find("Broken pipe", 1, true) or e.message:find("unexpected eof", 1, true)
             or e.message:find("SSL_", 1, true)) then
      -- etcd with client-certificate auth drops a TLS 1.3 connection whose
      -- certificate it refuses, after the client finished its handshake
      e = err("tls", e.message .. " (the server closed the TLS connection: is the client certificate"
        .. " missing or not signed by the server's CA?)")
    end
    if type(e) ~= "table" or not failover[e.kind] then return nil, e end
    tried[#tried + 1] = ("%s: %s"):format(ep, e.message)
    last = e
  end
  if n == 1 then
    return nil, err(last.kind, ("etcd %s"):format(tried[1]), { endpoints = self.endpoints })
  end
  return nil, err(last.kind, ("etcd: no endpoint answered (%s)"):format(table.concat(tried, "; ")),
    { endpoints = self.endpoints })
end

-- A unary call: returns the decoded response or nil, err.  codec: the
-- protobuf codec of the message types (ksh.etcdpb unless given).
function Client:_call(method, reqtype, resptype, req, failover, codec)
  codec = codec or pb
  local body = codec.encode(reqtype, req, true)
  local path = "/etcdserverpb." .. method
  local resp, e = self:_try(function(ep)
    return http.request(self:_opts(ep, path, body, { timeout = self.timeout }))
  end, failover or FAILOVER)
  if not resp then return nil, e end
  local gerr = grpc_error(method, resp.headers, resp.trailers)
  if gerr and self.auth and not self._retried and (gerr.grpc_message == "etcdserver: invalid auth token"
      or gerr.grpc_message == "etcdserver: revision of auth store is old") then
    -- the token expired (or the auth store moved on): authenticate again and retry once, as clientv3 does
    self.token = nil
    self._retried = true
    local r, e2 = self:_call(method, reqtype, resptype, req, failover, codec)
    self._retried = nil
    return r, e2
  end
  if gerr then return nil, gerr end
  local b = resp.body
  local flag, n = 0, 0
  if #b >= 5 then flag, n = string.unpack(">BI4", b) end
  if #b < 5 or flag ~= 0 or #b ~= 5 + n then
    return nil, err("protocol", ("etcd %s: malformed gRPC response body (%d bytes)"):format(method, #b))
  end
  local msg, derr = codec.decode(resptype, b:sub(6))
  if not msg then return nil, err("protocol", ("etcd %s: %s"):format(method, tostring(derr))) end
  return msg
end

local range_of = require("etcd.range").of

local function range_request(key, o)
  local k, e = range_of(key, o)
  return {
    key = k, range_end = e, limit = o.limit, revision = o.revision, sort_order = o.sort_order,
    sort_target = o.sort_target, serializable = o.serializable, keys_only = o.keys_only,
    count_only = o.count_only, min_mod_revision = o.min_mod_revision, max_mod_revision = o.max_mod_revision,
    min_create_revision = o.min_create_revision, max_create_revision = o.max_create_revision,
  }
end

--- get(key [, opts]) -> {kvs, more, count, header} | nil, err
function Client:get(key, opts)
  return self:_call("KV/Range", "RangeRequest", "RangeResponse", range_request(key, opts or {}), FAILOVER_READ)
end

--- put(key, value [, {lease, prev_kv, ignore_value, ignore_lease}]) -> {header, prev_kv} | nil, err
function Client:put(key, value, opts)
  opts = opts or {}
  assert(type(key) == "string" and type(value) == "string", "etcd.put: key and value must be strings")
  return self:_call("KV/Put", "PutRequest", "PutResponse",
    { key = key, value = value, lease = opts.lease, prev_kv = opts.prev_kv,
      ignore_value = opts.ignore_value, ignore_lease = opts.ignore_lease })
end

--- del(key [, {prefix, from_key, range_end, prev_kv}]) -> {header, deleted, prev_kvs} | nil, err
function Client:del(key, opts)
  opts = opts or {}
  local k, e = range_of(key, opts)
  return self:_call("KV/DeleteRange", "DeleteRangeRequest", "DeleteRangeResponse",
    { key = k, range_end = e, prev_kv = opts.prev_kv })
end

--- compact(revision [, {physical}]) -> {header} | nil, err
function Client:compact(rev, opts)
  return self:_call("KV/Compact", "CompactionRequest", "CompactionResponse",
    { revision = rev, physical = opts and opts.physical })
end

local RESULTS = { ["="] = "EQUAL", ["=="] = "EQUAL", ["!="] = "NOT_EQUAL", ["~="] = "NOT_EQUAL",
                  [">"] = "GREATER", ["<"] = "LESS" }
local TARGET_FIELD = { VERSION = "version", CREATE = "create_revision", MOD = "mod_revision",
                       VALUE = "value", LEASE = "lease" }
local TARGET_ALIAS = { create_revision = "CREATE", mod_revision = "MOD" }

local function compare(c)
  local target = (TARGET_ALIAS[c.target] or c.target or "value"):upper()
  local field = TARGET_FIELD[target]
  if not field then error("etcd.txn: unknown compare target " .. tostring(c.target), 3) end
  local key, range_end = range_of(c.key, c)
  local t = { key = key, range_end = range_end, target = target,
              result = RESULTS[c.result or "="] or c.result }
  t[field] = c.value
  if c.value == nil then error("etcd.txn: compare needs a value", 3) end
  return t
end

local function request_op(op)
  local name, key, a, b = op.op, op.key, op.value, op
  if op[1] then name, key, a, b = op[1], op[2], op[3], op[4] end
  if name == "put" then
    b = b or {}
    return { request_put = { key = key, value = a, lease = b.lease, prev_kv = b.prev_kv,
                             ignore_value = b.ignore_value, ignore_lease = b.ignore_lease } }
  elseif name == "get" then
    return { request_range = range_request(key, (op[1] and a) or b or {}) }
  elseif name == "del" or name == "delete" then
    local o = (op[1] and a) or b or {}
    local k, e = range_of(key, o)
    return { request_delete_range = { key = k, range_end = e, prev_kv = o.prev_kv } }
  end
  error("etcd.txn: unknown operation " .. tostring(name), 3)
end

local function op_list(l)
  local out = {}
  for i, op in ipairs(l or {}) do out[i] = request_op(op) end
  return out
end

--- txn{compare = {...}, success = {...}, failure = {...}} ->
--   {succeeded, header, responses = {{op = "get"|"put"|"del", ...}}} | nil, err
function Client:txn(t)
  local req = { compare = {}, success = op_list(t.success), failure = op_list(t.failure) }
  for i, c in ipairs(t.compare or {}) do req.compare[i] = compare(c) end
  local r, e = self:_call("KV/Txn", "TxnRequest", "TxnResponse", req)
  if not r then return nil, e end
  for i, op in ipairs(r.responses) do
    if op.response_range then
      r.responses[i] = op.response_range; op.response_range.op = "get"
    elseif op.response_put then
      r.responses[i] = op.response_put; op.response_put.op = "put"
    elseif op.response_delete_range then
      r.responses[i] = op.response_delete_range; op.response_delete_range.op = "del"
    elseif op.response_txn then
      r.responses[i] = op.response_txn; op.response_txn.op = "txn"
    end
  end
  return r
end

-- ---------------------------------------------------------------- scan ---

--- The default page of a scan: 0 is one Range for the whole prefix, its
-- response decoded as it streams in (see tests/bench/dump-keys.sh).
M.default_page = 0

local Scan = {}
Scan.__index = Scan
Scan.__name = "etcd.scan"

--- scanner(prefix [, opts]) -> a scan: sc:records() iterates raw KeyValue
-- records (for ksh.etcdpb.kvs/lines), sc:kvs() the KeyValues; after the end
-- sc.header, sc.revision and sc.count are set.  opts: page (keys per Range,
-- 0 for one Range), keys_only, revision, serializable, range_end, from_key,
-- header_records (the scanner reports the header as soon as it arrives),
-- output (a ksh.etcdpb.output: the KeyValues are printed to stdout by C as
-- they arrive and records() yields none of them; call output:finish() after).
function Client:scanner(prefix, opts)
  opts = opts or {}
  local o = { range_end = opts.range_end, from_key = opts.from_key, prefix = opts.range_end == nil and not opts.from_key }
  local key, range_end = range_of(prefix or "", o)
  return setmetatable({
    client = self, key = key, range_end = range_end, page = opts.page or M.default_page,
    keys_only = opts.keys_only, serializable = opts.serializable, revision = opts.revision or 0,
    pages = 0, n = 0, max_queue = opts.max_queue, header_records = opts.header_records, output = opts.output,
  }, Scan)
end

function Scan:_open()
  local c = self.client
  local req = { key = self.key, range_end = self.range_end, revision = self.revision,
                keys_only = self.keys_only, serializable = self.serializable }
  if self.page > 0 then req.limit = self.page end
  local body = pb.encode("RangeRequest", req, true)
  local s, e = c:_try(function(ep)
    local sc = pb.range_scanner(self.header_records, self.output)
    local st, se = http.stream(c:_opts(ep, "/etcdserverpb.KV/Range", body, {
      framer = sc:framer(), max_queue = self.max_queue,
      -- a server that sends nothing for the client's timeout (30 s) is
      -- stuck (paused, half a frame sent): the dump fails, never hangs
      timeout = c.scan_timeout, idle_timeout = c.scan_idle_timeout or c.timeout,
    }))
    if st then st.scanner = sc end
    return st, se
  end, FAILOVER_READ)
  if not s then error(e, 0) end
  self.stream = s
  self.page_end = nil
  self.last_rec = nil
end

--- next_record() -> the next 'K' record (raw KeyValues) | nil at the end; raises.
function Scan:next_record()
  while not self.done do
    if not self.stream then self:_open() end
    local s = self.stream
    local rec, e = s:read()
    if e then
      self:close()
      error(e, 0)
    elseif rec == nil then
      local gerr = grpc_error("KV/Range", s.headers, s:trailers())
      local clean = s.scanner:clean()
      s:close()
      self.stream = nil
      if gerr then self:close(); error(gerr, 0) end
      if not clean or not self.page_end then
        self:close()
        error(err("protocol", "etcd KV/Range: the response ended early"), 0)
      end
      if not self.more then self:close() end
    elseif rec:sub(1, 1) == pb.REC_KVS then
      self.last_rec = rec
      return rec
    else -- pb.REC_END: the rest of the RangeResponse
      local r, derr = pb.decode("RangeResponse", rec:sub(2))
      if not r then self:close(); error(err("protocol", "etcd KV/Range: " .. tostring(derr)), 0) end
      self.pages = self.pages + 1
      self.page_end = true
      if self.pages == 1 then
        self.header = r.header
        self.count = r.count
        if self.revision == 0 and r.header then self.revision = r.header.revision end
      end
      self.more = self.page > 0 and r.more
      if self.more then
        local last, lerr = nil, nil
        if self.last_rec then last, lerr = pb.last_key(self.last_rec)
        elseif self.output then last = self.output:last_key() end -- the records went to the printer
        if not last then self:close(); error(lerr or err("protocol", "etcd KV/Range: more without keys"), 0) end
        self.key = last .. "\0"
      end
    end
  end
  return nil
end

--- records() -> iterator over raw KeyValue records (and the scan to close)
function Scan:records()
  return function() return self:next_record() end, nil, nil, self
end

--- kvs() -> iterator over KeyValue tables
function Scan:kvs()
  local buf, i = {}, 1
  return function()
    while i > #buf do
      local rec = self:next_record()
      if not rec then return nil end
      local kerr
      buf, kerr = pb.kvs(rec)
      if not buf then self:close(); error(kerr, 0) end
      i = 1
    end
    local kv = buf[i]
    i = i + 1
    return kv
  end, nil, nil, self
end

function Scan:close()
  self.done = true
  if self.stream then
    self.stream:close()
    self.stream = nil
  end
end
Scan.__close = Scan.close

--- scan(prefix [, opts]) -> iterator over every KeyValue under prefix
function Client:scan(prefix, opts)
  return self:scanner(prefix, opts):kvs()
end

-- --------------------------------------------------------------- watch ---

local Watch = {}
Watch.__index = Watch
Watch.__name = "etcd.watch"

local RETRY = { closed = true, refused = true, connect = true, unavailable = true, timeout = true,
                truncated = true, tls = false, canceled = true, dns = true }

function Watch:_open()
  local c = self.client
  local body = pb.encode("WatchRequest", { create_request = {
    key = self.key, range_end = self.range_end, start_revision = self.next_rev > 0 and self.next_rev or nil,
    prev_kv = self.prev_kv, progress_notify = self.progress_notify,
  } }, true)
  return c:_try(function(ep)
    return http.stream(c:_opts(ep, "/etcdserverpb.Watch/Watch", body, {
      framing = "grpc", idle_timeout = self.idle_timeout,
    }))
  end, FAILOVER_READ)
end

function Watch:_reconnect(e)
  if self.stream then self.stream:close(); self.stream = nil end
  if not self.opened or not self.reconnect or not RETRY[e.kind] then
    self.done = true
    error(e, 0)
  end
  local delay = 0.1
  while true do
    local k = package.loaded.ksh
    if k and k.verbose then io.stderr:write(("etcd watch: %s; resuming from revision %d\n"):format(e.message, self.next_rev)) end
    loop.sleep(delay)
    local s, e2 = self:_open()
    if s then self.stream = s; return end
    if not RETRY[e2.kind] then self.done = true; error(e2, 0) end
    e = e2
    delay = math.min(delay * 2, 2)
  end
end

function Watch:_handle(r)
  if r.canceled then
    self:close()
    if r.compact_revision and r.compact_revision > 0 then
      error(err("compacted", ("etcd watch %q from revision %d: that revision is compacted; the oldest available revision is %d")
        :format(self.key, self.next_rev, r.compact_revision), { compact_revision = r.compact_revision }), 0)
    end
    error(err("canceled", "etcd watch canceled: " .. (r.cancel_reason ~= "" and r.cancel_reason or "by the server")), 0)
  end
  local rev = r.header and r.header.revision or 0
  if r.created then
    self.opened = true
    if self.next_rev == 0 then
      self.next_rev = rev + 1
      self.floor = self.next_rev
    end
    return
  end
  if #r.events == 0 then
    -- a progress notification: every event up to rev was sent
    if rev >= self.next_rev then self.next_rev = rev + 1 end
    if self.progress_notify then
      self.buf[#self.buf + 1] = { type = "PROGRESS", revision = rev, header = r.header }
    end
    return
  end
  for _, ev in ipairs(r.events) do
    local erev = ev.kv and ev.kv.mod_revision or 0
    if erev >= self.floor then -- not seen before a reconnect
      self.buf[#self.buf + 1] = { type = ev.type, kv = ev.kv, prev_kv = ev.prev_kv, revision = erev,
                                  header = r.header }
      if erev + 1 > self.next_rev then self.next_rev = erev + 1 end
    end
  end
  self.floor = self.next_rev
end

-- the next WatchResponse message, or nil after a reconnect (call again); raises
function Watch:_read()
  if not self.stream then
    local s, e = self:_open()
    if not s then self.done = true; error(e, 0) end
    self.stream = s
  end
  local rec, e = self.stream:read()
  if rec then return rec end
  local s = self.stream
  e = e or grpc_error("Watch", s.headers, s:trailers())
    or err("closed", "etcd watch: the server ended the stream")
  self:_reconnect(e)
  return nil
end

function Watch:_decode(rec)
  local r, derr = pb.decode("WatchResponse", rec)
  if not r then self:close(); error(err("protocol", "etcd watch: " .. tostring(derr)), 0) end
  self:_handle(r)
end

--- next() -> the next event; raises on failure
function Watch:next()
  while true do
    if self.i <= #self.buf then
      local ev = self.buf[self.i] -- kept (no holes, so # stays right): the buffer is replaced per response
      self.i = self.i + 1
      return ev
    end
    if self.done then return nil end
    self.buf, self.i = {}, 1
    local rec = self:_read()
    if rec then self:_decode(rec) end
  end
end

--- next_output(printer) -> the text of the next batch of events as printer
-- (a ksh.etcdpb.watch_printer) writes it from the response's bytes, with no
-- tables; or false and a progress event (a table, for the caller to print);
-- or nil at the end.  Raises on failure.  Do not mix with next().
function Watch:next_output(printer)
  while true do
    if self.i <= #self.buf then
      local ev = self.buf[self.i]
      self.i = self.i + 1
      return false, ev
    end
    if self.done then return nil end
    self.buf, self.i = {}, 1
    local rec = self:_read()
    if rec then
      local text, n, max_rev = printer:feed(rec, self.floor)
      if text then
        -- as _handle: events before the floor were seen before a reconnect
        if n > 0 and max_rev + 1 > self.next_rev then self.next_rev = max_rev + 1 end
        self.floor = self.next_rev
        if n > 0 then return text end
      elseif text == false then
        self:_decode(rec) -- created, canceled, a progress notification
      else
        self:close()
        error(err("protocol", "etcd watch: " .. tostring(n and n.message or n)), 0)
      end
    end
  end
end

--- pending() -> the number of buffered events left from the last response
function Watch:pending()
  return #self.buf - self.i + 1
end

function Watch:close()
  self.done = true
  if self.stream then self.stream:close(); self.stream = nil end
end
Watch.__close = Watch.close
Watch.__gc = Watch.close

--- watch(key [, opts [, handler]]): an iterator over events (for ev in
-- c:watch(...)), or with a handler a task running it for each event (the
-- handler returns false to stop).  opts: prefix, range_end, from_key,
-- start_revision, prev_kv, progress_notify, idle_timeout, reconnect (true).
function Client:watch(key, opts, handler)
  return ksh.events(function() return self:watcher(key, opts) end, handler)
end

--- watcher(key [, opts]) -> a watch object: w:next(), w:close()
function Client:watcher(key, opts)
  opts = opts or {}
  local k, e = range_of(key, opts)
  local start = opts.start_revision or 0
  return setmetatable({
    client = self, key = k, range_end = e, next_rev = start, floor = start, prev_kv = opts.prev_kv,
    progress_notify = opts.progress_notify, idle_timeout = opts.idle_timeout,
    reconnect = opts.reconnect ~= false, buf = {}, i = 1,
  }, Watch)
end

-- -------------------------------------------- leases, maintenance, cluster ---
-- These messages go through etcd.pbl (Lua).  Lease IDs are Lua integers;
-- cluster, member and alarm member IDs unsigned decimal text.

local function pbl() return require "etcd.pbl" end

local function lcall(self, method, reqtype, resptype, req, failover)
  return self:_call(method, reqtype, resptype, req or {}, failover, pbl())
end

--- lease_grant(ttl [, id]) -> {header, ID, TTL, error} | nil, err
function Client:lease_grant(ttl, id)
  if math.type(ttl) ~= "integer" then error("bad argument #1 to 'lease_grant' (integer TTL expected)", 2) end
  local r, e = lcall(self, "Lease/LeaseGrant", "LeaseGrantRequest", "LeaseGrantResponse", { TTL = ttl, ID = id })
  if r and r.error ~= "" then return nil, err("lease", "etcd LeaseGrant: " .. r.error) end
  return r, e
end

--- lease_revoke(id) -> {header} | nil, err (kind "notfound" for an unknown lease)
function Client:lease_revoke(id)
  return lcall(self, "Lease/LeaseRevoke", "LeaseRevokeRequest", "LeaseRevokeResponse", { ID = id })
end

--- lease_ttl(id [, {keys = true}]) -> {header, ID, TTL, grantedTTL, keys} | nil, err
-- (TTL -1 when the lease does not exist or expired)
function Client:lease_ttl(id, opts)
  return lcall(self, "Lease/LeaseTimeToLive", "LeaseTimeToLiveRequest", "LeaseTimeToLiveResponse",
    { ID = id, keys = opts and opts.keys or nil }, FAILOVER_READ)
end

--- leases() -> {header, leases = {{ID}, ...}} | nil, err
function Client:leases()
  return lcall(self, "Lease/LeaseLeases", "LeaseLeasesRequest", "LeaseLeasesResponse", {}, FAILOVER_READ)
end

--- lease_keepalive_once(id) -> {header, ID, TTL} | nil, err (TTL 0: the lease is gone)
function Client:lease_keepalive_once(id)
  local P = pbl()
  local body = P.encode("LeaseKeepAliveRequest", { ID = id }, true)
  local resp, e = self:_try(function(ep)
    return http.request(self:_opts(ep, "/etcdserverpb.Lease/LeaseKeepAlive", body, { timeout = self.timeout }))
  end, FAILOVER)
  if not resp then return nil, e end
  local gerr = grpc_error("LeaseKeepAlive", resp.headers, resp.trailers)
  if gerr then return nil, gerr end
  local b = resp.body
  if #b < 5 then return nil, err("protocol", "etcd LeaseKeepAlive: no response message") end
  local _, n = string.unpack(">BI4", b)
  local r, derr = P.decode("LeaseKeepAliveResponse", b:sub(6, 5 + n))
  if not r then return nil, err("protocol", "etcd LeaseKeepAlive: " .. derr) end
  return r
end

local Keeper = {}
Keeper.__index = Keeper
Keeper.__name = "etcd.keepalive"

--- lease_keepalive(id [, {interval =, on_response = fn(r), on_lost = fn(err)}]) -> keeper:
-- keeps the lease alive on the loop (every TTL/3 seconds) until keeper:close()
-- (also <close>); a failed round is retried every second until the lease's
-- TTL runs out; on_lost is called once when the lease is gone.
function Client:lease_keepalive(id, opts)
  opts = opts or {}
  local k = setmetatable({ id = id, closed = false }, Keeper)
  local first, e = self:lease_keepalive_once(id)
  if not first then return nil, e end
  if first.TTL <= 0 then return nil, err("notfound", ("etcd: lease %016x not found"):format(id)) end
  k.ttl = first.TTL
  if opts.on_response then opts.on_response(first) end
  k.task = ksh.spawn(function()
    local deadline = loop.now() + k.ttl
    while not k.closed do
      loop.sleep(opts.interval or math.max(k.ttl / 3, 0.5))
      if k.closed then break end
      local r, e2 = self:lease_keepalive_once(id)
      if r and r.TTL > 0 then
        deadline = loop.now() + r.TTL
        if opts.on_response then opts.on_response(r) end
      elseif (r and r.TTL <= 0) or loop.now() > deadline then
        k.lost = e2 or err("notfound", ("etcd: lease %016x expired or revoked"):format(id))
        k.closed = true
        if opts.on_lost then opts.on_lost(k.lost) end
        return
      end
    end
  end)
  return k
end

function Keeper:close()
  if not self.closed then
    self.closed = true
    if self.task then self.task:cancel() end
  end
end
Keeper.__close = Keeper.close

--- status() -> StatusResponse of the current endpoint | nil, err
function Client:status(endpoint)
  local c = self
  if endpoint then c = setmetatable({ endpoints = { endpoint }, cur = 1 }, { __index = self }) end
  return lcall(c, "Maintenance/Status", "StatusRequest", "StatusResponse", {}, FAILOVER_READ)
end

--- hashkv([revision [, endpoint]]) -> {header, hash, compact_revision, hash_revision} | nil, err
function Client:hashkv(rev, endpoint)
  local c = self
  if endpoint then c = setmetatable({ endpoints = { endpoint }, cur = 1 }, { __index = self }) end
  return lcall(c, "Maintenance/HashKV", "HashKVRequest", "HashKVResponse", { revision = rev }, FAILOVER_READ)
end

--- defrag([endpoint]) -> {header} | nil, err
function Client:defrag(endpoint)
  local c = self
  if endpoint then c = setmetatable({ endpoints = { endpoint }, cur = 1 }, { __index = self }) end
  return lcall(c, "Maintenance/Defragment", "DefragmentRequest", "DefragmentResponse", {})
end

local DOWNGRADE_ACTION = { validate = 0, enable = 1, cancel = 2 }
--- downgrade("validate"|"enable"|"cancel", target_version) -> {header, version} | nil, err
-- (etcd 3.5+'s Maintenance.Downgrade; version: the cluster version; etcd 3.4
-- answers kind "unimplemented")
function Client:downgrade(action, version)
  local a = DOWNGRADE_ACTION[action]
  if not a then error(("bad argument #1 to 'downgrade' (validate, enable or cancel expected, got %s)"):format(tostring(action)), 2) end
  if version ~= nil and type(version) ~= "string" then
    error(("bad argument #2 to 'downgrade' (string expected, got %s)"):format(type(version)), 2)
  end
  local r, e = lcall(self, "Maintenance/Downgrade", "DowngradeRequest", "DowngradeResponse",
    { action = a, version = version or "" })
  if not r and type(e) == "table" and e.kind == "closed" and e.message:find("HTTP/2 framing layer", 1, true) then
    -- etcd before 3.5 has no Downgrade: it answers Unimplemented from the
    -- request's headers and resets the stream, and when that reset reaches
    -- libcurl 7.88 before it has sent the body, libcurl reports a framing
    -- error instead of the answer (one call in two).  The server's version
    -- tells which it was: then the error is the one its gRPC sends.
    local st = self:status()
    local major, minor
    if st then major, minor = st.version:match("^(%d+)%.(%d+)%.") end
    if major and (tonumber(major) < 3 or (tonumber(major) == 3 and tonumber(minor) < 5)) then
      local msg = "unknown method Downgrade for service etcdserverpb.Maintenance"
      return nil, err("unimplemented", ("etcd Maintenance/Downgrade: %s (gRPC status 12; etcd %s)"):format(msg, st.version),
        { grpc_status = 12, grpc_message = msg })
    end
  end
  return r, e
end

--- check_perf{load =, prefix =, ...}, check_datascale{...}: etcdctl's `check` load tests (lua/etcd/ctl_check.lua)
function Client:check_perf(opts) return require("etcd.ctl_check").perf(self, opts) end
function Client:check_datascale(opts) return require("etcd.ctl_check").datascale(self, opts) end

local ALARM_ACTION = { get = 0, activate = 1, deactivate = 2 }
--- alarms() -> {header, alarms = {{memberID, alarm}}}; alarm_disarm(member, alarm)
function Client:alarms()
  return lcall(self, "Maintenance/Alarm", "AlarmRequest", "AlarmResponse", { action = ALARM_ACTION.get }, FAILOVER_READ)
end

function Client:alarm_disarm(member, alarm)
  return lcall(self, "Maintenance/Alarm", "AlarmRequest", "AlarmResponse",
    { action = ALARM_ACTION.deactivate, memberID = member, alarm = alarm })
end

--- members() -> {header, members = {{ID, name, peerURLs, clientURLs, isLearner}}} | nil, err
function Client:members(opts)
  return lcall(self, "Cluster/MemberList", "MemberListRequest", "MemberListResponse",
    { linearizable = not (opts and opts.serializable) }, FAILOVER_READ)
end

-- sessions, locks, elections: lua/etcd/concurrency.lua (etcdctl's recipes)
local function conc() return require "etcd.concurrency" end
--- session([{ttl}]) -> session | nil, err
function Client:session(opts) return conc().session(self, opts) end
--- lock(name [, {ttl, session}]) -> lock (l:unlock()) | nil, err
function Client:lock(name, opts) return conc().lock(self, name, opts) end
--- campaign(name, value [, {ttl, session}]) -> leader (e:proclaim(v), e:resign()) | nil, err
function Client:campaign(name, value, opts) return conc().campaign(self, name, value, opts) end
--- observe(name) -> iterator of {header, kvs = {leader}}
function Client:observe(name) return conc().observe(self, name) end

local function shq(x) return "'" .. x:gsub("'", "'\\''") .. "'" end

--- snapshot(path) -> {path, size, version} | nil, err: etcd's backend
-- streamed from one endpoint into path.part (mode 0600), its sha256
-- trailer verified, then renamed to path.  The client must have one endpoint.
function Client:snapshot(path)
  if type(path) ~= "string" or path == "" then error("bad argument #1 to 'snapshot' (file name expected)", 2) end
  if #self.endpoints ~= 1 then
    return nil, err("config", ("snapshot must be requested to one selected node, not multiple [%s]")
      :format(table.concat(self.endpoints, " ")))
  end
  local P = pbl()
  local body = P.encode("SnapshotRequest", {}, true)
  local st, e = self:_try(function(ep)
    return http.stream(self:_opts(ep, "/etcdserverpb.Maintenance/Snapshot", body, { framing = "grpc" }))
  end, FAILOVER)
  if not st then return nil, e end
  local part = path .. ".part"
  local f, ferr = io.open(part, "wb")
  if not f then
    st:close()
    -- Go's words: open PATH: no such file or directory
    ferr = tostring(ferr):gsub(": (%u)", function(c) return ": " .. c:lower() end, 1)
    return nil, err("io", ("could not open %s (open %s)"):format(part, ferr))
  end
  f:close()
  os.execute("chmod 600 " .. shq(part))
  f = assert(io.open(part, "wb"))
  local function fail(fe)
    st:close()
    f:close()
    os.remove(part)
    return nil, fe
  end
  local size, version = 0, nil
  while true do
    local rec, re = st:read()
    if re then return fail(re) end
    if rec == nil then break end
    local m, derr = P.decode("SnapshotResponse", rec)
    if not m then return fail(err("protocol", "etcd Snapshot: " .. derr)) end
    if not version and m.version ~= "" then version = m.version end
    local ok, werr = f:write(m.blob)
    if not ok then return fail(err("io", ("could not write snapshot: %s"):format(werr))) end
    size = size + #m.blob
  end
  local gerr = grpc_error("Snapshot", st.headers, st:trailers())
  if gerr then return fail(gerr) end
  st:close()
  -- a full disk often shows only when the buffered bytes are flushed
  local cok, cerr = f:close()
  if not cok then
    os.remove(part)
    return nil, err("io", ("could not write snapshot: %s"):format(cerr))
  end
  if size % 512 ~= 32 then
    os.remove(part)
    return nil, err("protocol", ("sha256 checksum not found [bytes: %d]"):format(size))
  end
  -- the trailer is the sha256 of everything before it
  local rf = assert(io.open(part, "rb"))
  rf:seek("set", size - 32)
  local trailer = rf:read(32)
  rf:close()
  local want = trailer:gsub(".", function(c) return ("%02x"):format(c:byte()) end)
  local pipe = io.popen(("head -c %d %s | sha256sum"):format(size - 32, shq(part)))
  local got = pipe and pipe:read("l") or ""
  if pipe then pipe:close() end
  got = got:match("^(%x+)") or ""
  if got ~= want then
    os.remove(part)
    return nil, err("protocol", ("snapshot sha256 mismatch: the trailer says %s, the data hashes to %s"):format(want, got))
  end
  local ok, rerr = os.rename(part, path)
  if not ok then
    os.remove(part)
    return nil, err("io", ("could not rename %s to %s (%s)"):format(part, path, rerr))
  end
  return { path = path, size = size, version = version }
end

--- authenticate([user, password]) -> true | nil, err: get a token (connect's
-- user and password by default); later calls send it
function Client:authenticate(user, password)
  if user then self.auth = { user = user, password = password } end
  local a = self.auth
  if not a then error("etcd authenticate: no user (connect{user =, password =})", 2) end
  self._authing = true
  local r, e = lcall(self, "Auth/Authenticate", "AuthenticateRequest", "AuthenticateResponse",
    { name = a.user, password = a.password })
  self._authing = nil
  if not r then return nil, e end
  self.token = r.token ~= "" and r.token or nil
  return true
end

--- auth_status() -> {enabled, authRevision}; auth_enable(); auth_disable()
function Client:auth_status()
  local r, e = lcall(self, "Auth/AuthStatus", "AuthStatusRequest", "AuthStatusResponse", {}, FAILOVER_READ)
  -- etcd 3.4 has no AuthStatus: its gRPC server answers a trailers-only
  -- Unimplemented and resets the stream at once, and libcurl 7.88 often
  -- loses the answer to the reset (a framing error, even after retries).
  -- When the server says it is older than 3.5, give the answer it sent.
  if not r and type(e) == "table" and e.kind == "closed" and e.message:find("HTTP/2 framing layer", 1, true) then
    local st = self:status()
    local major, minor = tostring(st and st.version or ""):match("^(%d+)%.(%d+)")
    if major and (tonumber(major) < 3 or (tonumber(major) == 3 and tonumber(minor) < 5)) then
      local msg = "unknown method AuthStatus for service etcdserverpb.Auth"
      return nil, err("unimplemented", ("etcd Auth/AuthStatus: %s (gRPC status 12)"):format(msg),
        { grpc_status = 12, grpc_message = msg })
    end
  end
  return r, e
end
function Client:auth_enable()
  return lcall(self, "Auth/AuthEnable", "AuthEnableRequest", "AuthEnableResponse", {})
end
function Client:auth_disable()
  return lcall(self, "Auth/AuthDisable", "AuthDisableRequest", "AuthDisableResponse", {})
end
--- user_add(name, password | nil for no password), users(), user_grant_role(user, role), role_add(name), roles()
function Client:user_add(name, password)
  return lcall(self, "Auth/UserAdd", "AuthUserAddRequest", "AuthUserAddResponse",
    { name = name, password = password or "", options = { no_password = password == nil } })
end
function Client:users()
  return lcall(self, "Auth/UserList", "AuthUserListRequest", "AuthUserListResponse", {}, FAILOVER_READ)
end
function Client:user_grant_role(user, role)
  return lcall(self, "Auth/UserGrantRole", "AuthUserGrantRoleRequest", "AuthUserGrantRoleResponse",
    { user = user, role = role })
end
function Client:role_add(name)
  return lcall(self, "Auth/RoleAdd", "AuthRoleAddRequest", "AuthRoleAddResponse", { name = name })
end
function Client:roles()
  return lcall(self, "Auth/RoleList", "AuthRoleListRequest", "AuthRoleListResponse", {}, FAILOVER_READ)
end
--- user_get(name) -> {header, roles = {...}}; user_delete(name); user_passwd(name, password);
-- user_revoke_role(user, role)
function Client:user_get(name)
  return lcall(self, "Auth/UserGet", "AuthUserGetRequest", "AuthUserGetResponse", { name = name }, FAILOVER_READ)
end
function Client:user_delete(name)
  return lcall(self, "Auth/UserDelete", "AuthUserDeleteRequest", "AuthUserDeleteResponse", { name = name })
end
function Client:user_passwd(name, password)
  return lcall(self, "Auth/UserChangePassword", "AuthUserChangePasswordRequest", "AuthUserChangePasswordResponse",
    { name = name, password = password })
end
function Client:user_revoke_role(user, role)
  return lcall(self, "Auth/UserRevokeRole", "AuthUserRevokeRoleRequest", "AuthUserRevokeRoleResponse",
    { name = user, role = role })
end

local PERM_TYPES = { [0] = "READ", [1] = "WRITE", [2] = "READWRITE", READ = 0, WRITE = 1, READWRITE = 2 }
M.perm_types = PERM_TYPES

--- role_get(name) -> {header, perm = {{type = "READ"|"WRITE"|"READWRITE", permType = 0|1|2, key, range_end}}}
-- (range_end "" for one key, "\0" for every key from key on); role_delete(name)
function Client:role_get(name)
  local r, e = lcall(self, "Auth/RoleGet", "AuthRoleGetRequest", "AuthRoleGetResponse", { role = name }, FAILOVER_READ)
  if r then for _, p in ipairs(r.perm) do p.type = PERM_TYPES[p.permType] or tostring(p.permType) end end
  return r, e
end
function Client:role_delete(name)
  return lcall(self, "Auth/RoleDelete", "AuthRoleDeleteRequest", "AuthRoleDeleteResponse", { role = name })
end

--- role_grant_permission(role, "read"|"write"|"readwrite", key [, range_end | {prefix = true} | {from_key = true}])
function Client:role_grant_permission(role, ptype, key, range_end)
  local t = type(ptype) == "string" and PERM_TYPES[ptype:upper()] or math.tointeger(ptype)
  if not t or not PERM_TYPES[t] then error("bad argument #2 to 'role_grant_permission' (read, write or readwrite expected)", 2) end
  local k, e = range_of(key, type(range_end) == "table" and range_end or { range_end = range_end })
  if k == "" then k = "\0" end -- etcdctl's: the empty key is "\0"
  return lcall(self, "Auth/RoleGrantPermission", "AuthRoleGrantPermissionRequest", "AuthRoleGrantPermissionResponse",
    { name = role, perm = { permType = t, key = k, range_end = e or "" } })
end

--- role_revoke_permission(role, key [, range_end | {prefix = true} | {from_key = true}])
function Client:role_revoke_permission(role, key, range_end)
  local k, e = range_of(key, type(range_end) == "table" and range_end or { range_end = range_end })
  if k == "" then k = "\0" end
  return lcall(self, "Auth/RoleRevokePermission", "AuthRoleRevokePermissionRequest", "AuthRoleRevokePermissionResponse",
    { role = role, key = k, range_end = e or "" })
end

-- ------------------------------------------------------------ membership ---
-- Member IDs are unsigned decimal text (as members() returns them) or integers.

local function url_list(urls)
  if type(urls) == "string" then
    local t = {}
    for u in (urls .. ","):gmatch("([^,]*),") do t[#t + 1] = u end
    return t
  end
  return urls
end

--- member_add(peer_urls (list or "a,b") [, {learner = true}]) -> {header, member, members} | nil, err
function Client:member_add(urls, opts)
  return lcall(self, "Cluster/MemberAdd", "MemberAddRequest", "MemberAddResponse",
    { peerURLs = url_list(urls), isLearner = opts and opts.learner or nil })
end
--- member_remove(id), member_promote(id) -> {header, members}; member_update(id, peer_urls)
function Client:member_remove(id)
  return lcall(self, "Cluster/MemberRemove", "MemberRemoveRequest", "MemberRemoveResponse", { ID = id })
end
function Client:member_update(id, urls)
  return lcall(self, "Cluster/MemberUpdate", "MemberUpdateRequest", "MemberUpdateResponse",
    { ID = id, peerURLs = url_list(urls) })
end
function Client:member_promote(id)
  return lcall(self, "Cluster/MemberPromote", "MemberPromoteRequest", "MemberPromoteResponse", { ID = id })
end

--- move_leader(target_id [, endpoint]) -> {header} | nil, err: sent to the
-- current endpoint (or the one given), which must be the leader
function Client:move_leader(target, endpoint)
  local c = self
  if endpoint then c = setmetatable({ endpoints = { endpoint }, cur = 1 }, { __index = self }) end
  return lcall(c, "Maintenance/MoveLeader", "MoveLeaderRequest", "MoveLeaderResponse", { targetID = target })
end

--- snapshot(path [, {rev, force}]) -> a snapshot file read like a server | nil, err (lua/etcd/snapshot.lua)
function M.snapshot(path, opts)
  return require("etcd.snapshot").open(path, opts)
end

return M
