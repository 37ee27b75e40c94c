-- etcd.ctl2: `kscript etcd` with ETCDCTL_API=2 (or --api 2): etcdctl 3.4's
-- v2 command set over lua/etcd/v2.lua, with its flags, output and exit codes.
--
--   ls [-r] [--sort] [-p] [--quorum] [KEY]   get [--quorum] KEY
--   set [--ttl N] [--swap-with-value V] [--swap-with-index N] KEY [VALUE]
--   mk [--in-order] [--ttl N] KEY [VALUE]    mkdir [--ttl N] KEY   setdir KEY
--   update [--ttl N] KEY [VALUE]             updatedir [--ttl N] KEY
--   rm [-r] [--dir] [--with-value V] [--with-index N] KEY   rmdir KEY
--   watch [--forever] [--after-index N] [-r] KEY
--   exec-watch [--after-index N] [-r] KEY -- CMD ARGS...
-- A command's flags may follow its arguments (urfave/cli moves them), global
-- ones go before the command.  Global: --endpoints (ETCDCTL_ENDPOINTS), --ca-file --cert-file --key-file
-- (ETCDCTL_CA_FILE, ...), --username/-u user[:password] (ETCDCTL_USERNAME),
-- --password, -o/--output simple|extended|json, --timeout, --total-timeout,
-- --no-sync (kscript never re-reads the endpoints from /v2/members).
-- VALUE absent: read from stdin.  ls always lists in key order (etcdctl's
-- order without --sort is the server's map order, i.e. random).
local etcd = require "etcd"
local jstr = require("etcd.ctl").jstr

local M = {}

local EXIT_ERROR, EXIT_BAD_CONN, EXIT_SERVER, EXIT_BAD_ARGS = 1, 2, 4, 1 -- (etcdctl 3.4 exits 1 on bad arguments in v2)

local Fail = {}
local function fail(code, msg, raw)
  error(setmetatable({ code = code, message = msg, raw = raw }, Fail), 0)
end

local GLOBAL = {
  debug = "bool", ["no-sync"] = "bool", output = "string", o = "output", ["discovery-srv"] = "string", D = "discovery-srv",
  ["insecure-discovery"] = "bool", peers = "string", C = "peers", endpoint = "string", endpoints = "string",
  ["cert-file"] = "string", ["key-file"] = "string", ["ca-file"] = "string", username = "string", u = "username",
  password = "string", timeout = "duration", ["total-timeout"] = "duration", api = "string",
  ["insecure-skip-tls-verify"] = "bool",
}
local COMMANDS = {
  ls = { sort = "bool", recursive = "bool", r = "recursive", p = "bool", quorum = "bool", q = "quorum" },
  get = { sort = "bool", quorum = "bool", q = "quorum" },
  set = { ttl = "int", ["swap-with-value"] = "string", ["swap-with-index"] = "int" },
  mk = { ["in-order"] = "bool", ttl = "int" },
  mkdir = { ttl = "int" }, setdir = { ttl = "int" }, updatedir = { ttl = "int" },
  update = { ttl = "int" },
  rm = { dir = "bool", recursive = "bool", r = "recursive", ["with-value"] = "string", ["with-index"] = "int" },
  rmdir = {},
  watch = { forever = "bool", f = "forever", ["after-index"] = "int", recursive = "bool", r = "recursive" },
  ["exec-watch"] = { ["after-index"] = "int", recursive = "bool", r = "recursive" },
}

local function duration(s)
  local total, rest = 0, s
  local U = { ns = 1e-9, us = 1e-6, ms = 1e-3, s = 1, m = 60, h = 3600 }
  while rest ~= "" do
    local num, unit, tail = rest:match("^([%d%.]+)(%a+)(.*)$")
    if not num or not U[unit] then return nil end
    total, rest = total + tonumber(num) * U[unit], tail
  end
  return total
end

-- urfave/cli 1.22 as etcdctl 3.4 vendors it: the global flags are parsed
-- up to the command (Go's flag package: up to the first non-flag); the
-- command's own flags are first moved to the front wherever they stand
-- (reorderArgs: a defined flag, and the next word when it does not start
-- with "-" and the flag has no "="), up to a "--", then parsed the same way.
local function resolve(specs, name)
  local ty = specs[name]
  if type(ty) == "string" and specs[ty] then return ty, specs[ty] end
  return name, ty
end

local function set_flag(t, name, ty, v)
  if ty == "bool" then t[name] = v == nil or v == "true" or v == "1"
  elseif ty == "int" then
    local n = math.tointeger(tonumber(v))
    if not n then fail(EXIT_ERROR, ("invalid value %q for flag -%s: parse error"):format(v, name), true) end
    t[name] = n
  elseif ty == "duration" then
    local d = duration(v)
    if not d then fail(EXIT_ERROR, ("invalid value %q for flag -%s: parse error"):format(v, name), true) end
    t[name] = d
  else t[name] = v end
end

-- Go's flag.Parse over words from i: returns the index of the first argument
local function goflags(words, i, specs, t)
  while i <= #words do
    local w = words[i]
    if w == "--" then return i + 1 end
    if w == "-" or w:sub(1, 1) ~= "-" then return i end
    local name, v = w:match("^%-%-?([^=]+)=(.*)$")
    name = name or w:match("^%-%-?(.+)$")
    local ty
    name, ty = resolve(specs, name)
    if not ty then fail(EXIT_ERROR, "flag provided but not defined: -" .. name, true) end
    if ty ~= "bool" and v == nil then
      i = i + 1
      v = words[i]
      if v == nil then fail(EXIT_ERROR, "flag needs an argument: -" .. name, true) end
    end
    set_flag(t, name, ty, v)
    i = i + 1
  end
  return i
end

local function parse(argv)
  local g, o = {}, {}
  local i = goflags(argv, 1, GLOBAL, g)
  local cmd = argv[i]
  if not cmd then return g, nil, o, {} end
  if not COMMANDS[cmd] then fail(3, ("No help topic for '%s'"):format(cmd), true) end
  local specs = COMMANDS[cmd]
  local flags, rest = {}, {}
  local want_value = false
  for j = i + 1, #argv do
    local w = argv[j]
    if w == "--" then
      for k = j, #argv do rest[#rest + 1] = argv[k] end
      break
    elseif want_value and w:sub(1, 1) ~= "-" then
      want_value = false
      flags[#flags + 1] = w
    else
      local name = w:match("^%-%-?([^=]+)")
      local _, ty = resolve(specs, name or "")
      if name and ty then
        flags[#flags + 1] = w
        want_value = not w:find("=", 1, true)
      else
        rest[#rest + 1] = w
      end
    end
  end
  local words = {}
  for _, w in ipairs(flags) do words[#words + 1] = w end
  for _, w in ipairs(rest) do words[#words + 1] = w end
  local k = goflags(words, 1, specs, o)
  local args = {}
  for j = k, #words do args[#args + 1] = words[j] end
  return g, cmd, o, args
end

local function env(name)
  local v = os.getenv(name)
  if v == "" then return nil end
  return v
end

local function client_of(g)
  local eps = g.endpoints or env("ETCDCTL_ENDPOINTS") or g.endpoint or env("ETCDCTL_ENDPOINT") or g.peers
    or env("ETCDCTL_PEERS") or "http://127.0.0.1:2379,http://127.0.0.1:4001"
  local list, why = etcd.split_endpoints(eps, false)
  if not list then fail(EXIT_BAD_ARGS, "endpoints: " .. why) end
  local user, pass = g.username or env("ETCDCTL_USERNAME"), g.password or env("ETCDCTL_PASSWORD")
  if user and not pass then
    local u, p = user:match("^([^:]*):(.*)$")
    if u then user, pass = u, p
    else fail(EXIT_BAD_ARGS, "kscript etcd: --username needs user:password or --password (no prompt)") end
  end
  return etcd.connect {
    endpoints = list, api = 2, cacert = g["ca-file"] or env("ETCDCTL_CA_FILE"),
    cert = g["cert-file"] or env("ETCDCTL_CERT_FILE"), key = g["key-file"] or env("ETCDCTL_KEY_FILE"),
    username = user, password = pass, timeout = g["total-timeout"] or 5, connect_timeout = g.timeout or 2,
    insecure = g["insecure-skip-tls-verify"],
  }
end

-- ------------------------------------------------------------- printing ---

local out = function(s) io.stdout:write(s) end

local function node_json(n)
  if n == nil then return "null" end
  local p = { '"key":' .. jstr(n.key or "") }
  if n.dir then p[#p + 1] = '"dir":true' end
  p[#p + 1] = '"value":' .. jstr(n.value or "")
  if n.nodes and #n.nodes > 0 then
    local t = {}
    for i, c in ipairs(n.nodes) do t[i] = node_json(c) end
    p[#p + 1] = '"nodes":[' .. table.concat(t, ",") .. "]"
  else
    p[#p + 1] = '"nodes":null'
  end
  p[#p + 1] = ('"createdIndex":%d,"modifiedIndex":%d'):format(n.createdIndex or 0, n.modifiedIndex or 0)
  if n.expiration then p[#p + 1] = '"expiration":' .. jstr(n.expiration) end
  if n.ttl and n.ttl ~= 0 then p[#p + 1] = ('"ttl":%d'):format(n.ttl) end
  return "{" .. table.concat(p, ",") .. "}"
end
M.node_json = node_json

-- etcdctl's printResponseKey
local function print_resp(r, format)
  local n = r.node or {}
  if format == "simple" then
    if r.action ~= "delete" then out((n.value or "") .. "\n")
    else out("PrevNode.Value: " .. ((r.prevNode or {}).value or "") .. "\n") end
  elseif format == "extended" then
    out(("Key: %s\nCreated-Index: %d\nModified-Index: %d\n"):format(n.key or "", n.createdIndex or 0, n.modifiedIndex or 0))
    if r.prevNode then out("PrevNode.Value: " .. (r.prevNode.value or "") .. "\n") end
    out(("TTL: %d\nIndex: %d\n"):format(n.ttl or 0, r.index or 0))
    if r.action ~= "delete" then out("\n" .. (n.value or "") .. "\n") end
  elseif format == "json" then
    out(('{"action":%s,"node":%s,"prevNode":%s}\n'):format(jstr(r.action or ""), node_json(r.node), node_json(r.prevNode)))
  else
    io.stderr:write("Unsupported output format: " .. tostring(format) .. "\n")
  end
end
M.print_resp = print_resp

-- Go's net error text for one endpoint that did not answer
local function dial_error(t)
  local hostport = t.endpoint:gsub("^%a+://", "")
  if t.err.kind == "refused" then return ("dial tcp %s: connect: connection refused"):format(hostport) end
  return t.err.message
end

local function server_error(e)
  if type(e) == "table" and e.code then fail(EXIT_SERVER, tostring(e.message)) end
  if type(e) == "table" and e.tried then
    -- client.ClusterError and its Detail(), as etcdctl prints them (exit 2)
    local one, detail = {}, {}
    for i, t in ipairs(e.tried) do
      one[i] = ("error #%d: %s"):format(i - 1, dial_error(t))
      detail[i] = one[i] .. "\n"
    end
    fail(EXIT_BAD_CONN, "client: etcd cluster is unavailable or misconfigured; " .. table.concat(one, "\n; ")
      .. "\n\n" .. table.concat(detail))
  end
  if type(e) == "table" then fail(EXIT_SERVER, tostring(e.message)) end
  fail(EXIT_SERVER, tostring(e))
end

local function call(r, e)
  if not r then server_error(e) end
  return r
end

local function value_arg(args)
  if args[2] ~= nil then return args[2] end
  local v = io.stdin:read("a")
  if v == nil or v == "" then fail(EXIT_BAD_ARGS, "value required") end
  return v
end

local function need_key(args)
  if #args == 0 then fail(EXIT_BAD_ARGS, "key required") end
  return args[1]
end

local run = {}

function run.ls(c, o, args, fmt)
  local key = args[1] or "/"
  local r = call(c:get(key, { recursive = o.recursive, sorted = true, quorum = o.quorum }))
  if fmt ~= "simple" then return print_resp(r, fmt) end
  if not r.node.dir then out(r.node.key .. "\n") end
  local function walk(n)
    out(((n.dir and o.p) and n.key .. "/" or n.key) .. "\n")
    for _, ch in ipairs(n.nodes or {}) do walk(ch) end
  end
  for _, ch in ipairs(r.node.nodes or {}) do walk(ch) end
end

function run.get(c, o, args, fmt)
  local key = need_key(args)
  local r = call(c:get(key, { sorted = o.sort, quorum = o.quorum }))
  if r.node.dir then
    io.stderr:write(r.node.key .. ": is a directory\n")
    return EXIT_ERROR
  end
  print_resp(r, fmt)
end

function run.set(c, o, args, fmt)
  local key = need_key(args)
  local value = value_arg(args)
  print_resp(call(c:set(key, value, { ttl = o.ttl, prev_value = o["swap-with-value"], prev_index = o["swap-with-index"] })), fmt)
end

function run.mk(c, o, args, fmt)
  local key = need_key(args)
  local value = value_arg(args)
  if o["in-order"] then print_resp(call(c:create_in_order(key, value, { ttl = o.ttl })), fmt)
  else print_resp(call(c:set(key, value, { ttl = o.ttl, prev_exist = false })), fmt) end
end

local function mkdir(c, o, args, fmt, prev_exist)
  local key = need_key(args)
  local r = call(c:set(key, nil, { dir = true, ttl = o.ttl, prev_exist = prev_exist }))
  if fmt ~= "simple" then print_resp(r, fmt) end
end
function run.mkdir(c, o, args, fmt) return mkdir(c, o, args, fmt, false) end
function run.setdir(c, o, args, fmt) return mkdir(c, o, args, fmt, nil) end
function run.updatedir(c, o, args, fmt) return mkdir(c, o, args, fmt, true) end

function run.update(c, o, args, fmt)
  local key = need_key(args)
  local value = value_arg(args)
  print_resp(call(c:set(key, value, { ttl = o.ttl, prev_exist = true })), fmt)
end

function run.rm(c, o, args, fmt)
  local key = need_key(args)
  local r = call(c:rm(key, { recursive = o.recursive, dir = o.dir, prev_value = o["with-value"],
                             prev_index = o["with-index"] }))
  if not r.node.dir or fmt ~= "simple" then print_resp(r, fmt) end
end

function run.rmdir(c, _, args, fmt)
  local key = need_key(args)
  local r = call(c:rm(key, { dir = true }))
  if not r.node.dir or fmt ~= "simple" then print_resp(r, fmt) end
end

function run.watch(c, o, args, fmt)
  local key = need_key(args)
  local w = c:watcher(key, { recursive = o.recursive, after_index = o["after-index"] })
  while true do
    local ok, r = pcall(w.next, w)
    if not ok then
      if ksh.is_interrupt(r) then error(r, 0) end
      server_error(r)
    end
    if r.action == "resync" then
      io.stderr:write(("kscript etcd: events after index %d were cleared; watching from index %d\n")
        :format(o["after-index"] or 0, r.index + 1))
    elseif not (r.node and r.node.dir) then
      if o.recursive then out(("[%s] %s\n"):format(r.action, r.node.key)) end
      print_resp(r, fmt)
      io.stdout:flush()
      if not o.forever then return end
    end
  end
end

run["exec-watch"] = function(c, o, args)
  if #args < 2 then fail(EXIT_BAD_ARGS, "key and command to exec required") end
  local key, cmd
  local sep = false
  for i = 2, #args do if args[i] == "--" then sep = true end end
  if sep then
    key = args[1]
    cmd = {}
    for i = 3, #args do cmd[#cmd + 1] = args[i] end
  else
    key = args[#args]
    cmd = { table.unpack(args, 1, #args - 1) }
  end
  local function q(x) return "'" .. x:gsub("'", "'\\''") .. "'" end
  local words = {}
  for i, a in ipairs(cmd) do words[i] = q(a) end
  local w = c:watcher(key, { recursive = o.recursive, after_index = o["after-index"] })
  while true do
    local ok, r = pcall(w.next, w)
    if not ok then
      if ksh.is_interrupt(r) then error(r, 0) end
      server_error(r)
    end
    if r.node and r.node.dir then
      io.stderr:write(("Ignored dir %s change\n"):format(r.node.key))
    elseif r.action ~= "resync" then
      io.stdout:flush()
      os.execute(("env ETCD_WATCH_ACTION=%s ETCD_WATCH_MODIFIED_INDEX=%d ETCD_WATCH_KEY=%s ETCD_WATCH_VALUE=%s %s")
        :format(q(r.action), r.node.modifiedIndex or 0, q(r.node.key or ""), q(r.node.value or ""),
          table.concat(words, " ")))
    end
  end
end

--- run(argv) -> exit status (prints etcdctl's Error: lines)
function M.run(argv)
  local ok, res = pcall(function()
    local g, cmd, o, args = parse(argv)
    if not cmd then
      io.stderr:write("usage: ETCDCTL_API=2 kscript etcd [global flags] COMMAND [flags] [args]\n")
      return 2
    end
    local fmt = g.output or "simple"
    local c = client_of(g)
    return run[cmd](c, o, args, fmt)
  end)
  io.stdout:flush()
  if ok then return res end
  if getmetatable(res) == Fail then
    io.stderr:write((res.raw and "" or "Error:  ") .. res.message .. "\n")
    return res.code
  end
  error(res, 0)
end

return M
