-- k8s.logs: a container's log through the API server (pods/NAME/log, which
-- the API server proxies to the node's kubelet).
--
--   k:logs(pod [, opts]) -> text, response | nil, err
--   for line in k:logs(pod, {follow = true}) do ... end       -- lines as they come
--   k:logs(pod, {follow = true}, function(line) ... end) -> task  -- return false to stop
--   k:log_stream(pod [, opts]) -> http stream (framing opts.framing or "raw") | nil, err
--
-- pod: a name or a pod object.  opts: namespace, container, follow,
-- tail_lines, since_seconds, since_time (RFC 3339), timestamps, previous,
-- limit_bytes, lines (true: an iterator even without follow).
local util = require "k8s.util"

local M = {}

local function query(opts)
  local function int(v, what)
    if v == nil then return nil end
    local n = math.tointeger(tonumber(v))
    if not n then error(("bad option '%s' to 'logs' (an integer expected)"):format(what), 4) end
    return n
  end
  return {
    container = opts.container, follow = opts.follow and "true" or nil,
    tailLines = int(opts.tail_lines, "tail_lines"), sinceSeconds = int(opts.since_seconds, "since_seconds"),
    sinceTime = opts.since_time, timestamps = opts.timestamps and "true" or nil,
    previous = opts.previous and "true" or nil, limitBytes = int(opts.limit_bytes, "limit_bytes"),
    insecureSkipTLSVerifyBackend = opts.insecure_skip_tls_verify_backend and "true" or nil,
  }
end

local function path_of(self, pod, opts)
  local name, ns
  if type(pod) == "table" then
    local m = type(pod.metadata) == "table" and pod.metadata or {}
    name, ns = m.name, m.namespace
  else
    name = pod
  end
  if type(name) ~= "string" or name == "" then error("bad argument #1 to 'logs' (pod name or object expected)", 3) end
  ns = (type(ns) == "string" and ns ~= "" and ns) or opts.namespace or self.namespace or "default"
  return "/api/v1/namespaces/" .. util.escape(ns) .. "/pods/" .. util.escape(name) .. "/log"
end

--- log_stream(pod [, opts]) -> an open http stream of the log | nil, err
function M.log_stream(self, pod, opts)
  opts = opts or {}
  local p = path_of(self, pod, opts)
  return self:raw_request { path = p, query = query(opts), accept = "application/json, */*",
    framing = opts.framing or "raw" }
end

--- logs(pod [, opts [, handler]]) -> see the header
function M.logs(self, pod, opts, handler)
  if opts ~= nil and type(opts) ~= "table" then error("bad argument #2 to 'logs' (options table expected)", 2) end
  opts = opts or {}
  if handler ~= nil and type(handler) ~= "function" then error("bad argument #3 to 'logs' (function expected)", 2) end
  if not opts.follow and not opts.lines and not handler then
    local p = path_of(self, pod, opts)
    return self:raw_request { path = p, query = query(opts), accept = "application/json, */*", decode = false }
  end
  local s, err = M.log_stream(self, pod, setmetatable({ framing = "lines" }, { __index = opts }))
  if not s then
    if handler then return nil, err end
    error(err, 0)
  end
  local function lines()
    local rec, rerr = s:read()
    if rerr then s:close(); error(rerr, 0) end
    if rec == nil then s:close() end
    return rec
  end
  if handler then
    return require("ksh").spawn(function()
      for line in lines do
        if handler(line) == false then break end
      end
      s:close()
    end)
  end
  return lines, s
end

function M.install(Client)
  Client.logs = M.logs
  Client.log_stream = M.log_stream
end

return M
