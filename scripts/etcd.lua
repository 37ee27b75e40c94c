-- etcd: etcdctl (v3 API, as etcdctl 3.6) in kscript
-- usage: kscript etcd [global flags] COMMAND [flags] [args]
--        ETCDCTL_API=2 kscript etcd ... (or --api 2): etcdctl 3.4's v2 commands
--        (ls, get, set, mk, mkdir, setdir, update, updatedir, rm, rmdir, watch,
--        exec-watch; see lua/etcd/ctl2.lua)
--   get KEY [RANGE_END]  --prefix --from-key --keys-only --print-value-only
--                        --count-only --limit N --rev N --sort-by --order
--                        --consistency l|s --min/max-create-rev --min/max-mod-rev
--                        --decode (kscript's: values Kubernetes stored as the
--                        API server's JSON, see k8s.decode; with -w json,
--                        keys and values as text)
--   put KEY [VALUE]      (VALUE from stdin when absent) --lease ID --prev-kv
--                        --ignore-value --ignore-lease
--   del KEY [RANGE_END]  --prefix --from-key --prev-kv --range
--   txn                  compares, success and failure ops from stdin, each
--                        section ended by an empty line (-i prints prompts)
--   watch KEY [RANGE_END] [-- CMD ARGS...]  --prefix --rev --prev-kv --progress-notify
--   compaction REV       --physical
--   lease grant TTL | revoke ID | timetolive ID [--keys] | list | keep-alive [--once] ID
--   lock NAME [-- CMD ARGS...]  --ttl N (exits with CMD's status)
--   elect NAME PROPOSAL | elect -l NAME
--   endpoint health|status|hashkv [--cluster] [--rev N]
--   member list | add NAME --peer-urls URLS [--learner] | remove ID | update ID --peer-urls URLS
--          | promote ID          move-leader ID (hex IDs, as member list prints them)
--   alarm list|disarm   defrag [--cluster]   snapshot save FILE
--   make-mirror DEST     --prefix --dest-prefix --no-dest-prefix --rev --max-txn-ops
--                        --dest-cacert --dest-cert --dest-key --dest-user --dest-password
--   auth enable|disable|status
--   user add NAME[:PASSWORD] [--new-user-password P] [--no-password] [--interactive=false]
--   user get NAME [--detail] | list | delete NAME | passwd NAME [--interactive=false]
--   user grant-role USER ROLE | revoke-role USER ROLE
--   role add NAME | get NAME | list | delete NAME
--   role grant-permission [--prefix|--from-key] NAME read|write|readwrite KEY [END]
--   role revoke-permission [--prefix|--from-key] NAME KEY [END]
--   downgrade validate|enable VERSION | downgrade cancel   (etcd 3.5+)
--   check perf|datascale [--load s|m|l|xl] [--prefix P] [--auto-compact] [--auto-defrag]
--                        a load test (run it against your own etcd): etcdctl's
--                        profiles, PASS/FAIL lines and exit code; the keys
--                        under the prefix are deleted afterwards; a progress
--                        bar on stderr when it is a terminal
--   version
-- Global flags: --endpoints --cacert --cert --key --insecure-skip-tls-verify
--   --insecure-transport --dial-timeout --command-timeout -w/--write-out
--   simple|json|fields|protobuf|table (table: member list, endpoint) --hex;
--   each also from ETCDCTL_<FLAG> (ETCDCTL_ENDPOINTS, ...).  Both
--   --flag=value and --flag value.
--   --snapshot FILE [--force] (kscript's): `get` (every flag, every writer)
--   reads a file of `etcdctl snapshot save` or a member's db with no etcd
--   running; the header has the file's newest revision and raft term, no
--   cluster or member ID (see share/etcd.md, "Snapshot files").
-- Output and exit codes are etcdctl 3.6's; errors end with etcdctl's
-- "Error: ..." line.  Differences: a flag and its ETCDCTL_ variable may both
-- be set (the flag wins, -v says so); `get --prefix` streams in bounded
-- memory (one Range, printed by C as it arrives).  More in share/etcd.md.
local etcd = require "etcd"
local ctl = require "etcd.ctl"
local pb = require "ksh.etcdpb"

local argv = { ... }

local VERSION = "3.6.16"
local API = "3.6"

-- exit codes (etcd pkg/cobrautl)
local EXIT_ERROR, EXIT_BAD_CONN, EXIT_INVALID_INPUT, EXIT_BAD_FEATURE, EXIT_INTERRUPTED = 1, 2, 3, 4, 5
local EXIT_BAD_ARGS = 128

local Fail = {}
-- fail(code, fmt, ...): print etcdctl's "Error: ..." line and end the command with code
local function fail(code, fmt, ...)
  local msg = select("#", ...) > 0 and fmt:format(...) or fmt
  error(setmetatable({ code = code, message = msg }, Fail), 0)
end

-- ---------------------------------------------------------- flag specs ---
-- type: bool, string, int, duration, strings

local GLOBAL = {
  endpoints = { "strings", { "127.0.0.1:2379" } }, debug = { "bool", false },
  ["write-out"] = { "string", "simple", short = "w" }, hex = { "bool", false },
  ["dial-timeout"] = { "duration", 2 }, ["command-timeout"] = { "duration", 5 },
  ["keepalive-time"] = { "duration", 2 }, ["keepalive-timeout"] = { "duration", 6 },
  ["max-request-bytes"] = { "int", 0 }, ["max-recv-bytes"] = { "int", 0 },
  ["insecure-transport"] = { "bool", true }, ["insecure-discovery"] = { "bool", true },
  ["insecure-skip-tls-verify"] = { "bool", false },
  cert = { "string", "" }, key = { "string", "" }, cacert = { "string", "" },
  user = { "string", "" }, password = { "string", "" },
  ["discovery-srv"] = { "string", "", short = "d" }, ["discovery-srv-name"] = { "string", "" },
  -- kscript's: `get` from a snapshot file (lua/etcd/snapshot.lua); no ETCDCTL_ variable
  snapshot = { "string", "", noenv = true }, force = { "bool", false, noenv = true },
}

local COMMANDS = {
  get = {
    consistency = { "string", "l" }, order = { "string", "" }, ["sort-by"] = { "string", "" },
    limit = { "int", 0 }, prefix = { "bool", false }, ["from-key"] = { "bool", false }, rev = { "int", 0 },
    ["keys-only"] = { "bool", false }, ["count-only"] = { "bool", false }, ["print-value-only"] = { "bool", false },
    ["min-create-rev"] = { "int", 0 }, ["max-create-rev"] = { "int", 0 },
    ["min-mod-rev"] = { "int", 0 }, ["max-mod-rev"] = { "int", 0 },
    decode = { "bool", false }, -- kscript's: -w json with keys and values as text
  },
  put = { lease = { "string", "0" }, ["prev-kv"] = { "bool", false }, ["ignore-value"] = { "bool", false },
          ["ignore-lease"] = { "bool", false } },
  del = { prefix = { "bool", false }, ["prev-kv"] = { "bool", false }, ["from-key"] = { "bool", false },
          range = { "bool", false } },
  txn = { interactive = { "bool", false, short = "i" } },
  watch = { interactive = { "bool", false, short = "i" }, prefix = { "bool", false }, rev = { "int", 0 },
            ["prev-kv"] = { "bool", false }, ["progress-notify"] = { "bool", false } },
  compaction = { physical = { "bool", false } },
  version = {},
  lease = { keys = { "bool", false }, once = { "bool", false } },
  member = { consistency = { "string", "l" }, ["peer-urls"] = { "string", "" }, learner = { "bool", false } },
  ["move-leader"] = {},
  ["make-mirror"] = { prefix = { "string", "" }, rev = { "int", 0 }, ["max-txn-ops"] = { "int", 128 },
                      ["dest-prefix"] = { "string", "" }, ["no-dest-prefix"] = { "bool", false },
                      ["dest-cert"] = { "string", "" }, ["dest-key"] = { "string", "" },
                      ["dest-cacert"] = { "string", "" }, ["dest-insecure-transport"] = { "bool", true },
                      ["dest-user"] = { "string", "" }, ["dest-password"] = { "string", "" } },
  endpoint = { cluster = { "bool", false }, rev = { "int", 0 } },
  alarm = {},
  defrag = { cluster = { "bool", false } },
  lock = { ttl = { "int", 10 } },
  elect = { listen = { "bool", false, short = "l" } },
  snapshot = {},
  auth = {},
  user = { ["new-user-password"] = { "string", "" }, interactive = { "bool", true },
           ["no-password"] = { "bool", false }, detail = { "bool", false } },
  role = { prefix = { "bool", false }, ["from-key"] = { "bool", false } },
  downgrade = {},
  check = { load = { "string", "s" }, prefix = { "string", "" }, ["auto-compact"] = { "bool", false },
            ["auto-defrag"] = { "bool", false } },
}
-- in etcdctl's order (cobra's prefix matching picks a unique prefix)
local ORDER = { "get", "put", "del", "txn", "compaction", "alarm", "defrag", "endpoint", "move-leader", "watch", "version", "lease",
                "member", "snapshot", "make-mirror", "lock", "elect", "auth", "user", "role", "check", "downgrade" }

-- Go's time.ParseDuration, for the common forms (1.5s, 300ms, 2m, 1h30m)
local UNITS = { ns = 1e-9, us = 1e-6, ["µs"] = 1e-6, ms = 1e-3, s = 1, m = 60, h = 3600 }
local function duration(s)
  if s == "0" then return 0 end
  local total, rest = 0, s
  local sign = 1
  if rest:sub(1, 1) == "-" then sign, rest = -1, rest:sub(2) elseif rest:sub(1, 1) == "+" then rest = rest:sub(2) end
  if rest == "" then return nil end
  while rest ~= "" do
    local num, unit, tail = rest:match("^([%d%.]+)([a-zµ]+)(.*)$")
    if not num or not tonumber(num) or not UNITS[unit] then return nil end
    total = total + tonumber(num) * UNITS[unit]
    rest = tail
  end
  return sign * total
end

-- convert a flag's text value; raises fail() as pflag words it
local function convert(name, spec, v)
  local ty = spec[1]
  if ty == "bool" then
    local b = ({ ["true"] = true, ["1"] = true, t = true, T = true, TRUE = true, True = true,
                 ["false"] = false, ["0"] = false, f = false, F = false, FALSE = false, False = false })[v]
    if b == nil then
      fail(EXIT_ERROR, 'invalid argument %q for "--%s" flag: strconv.ParseBool: parsing %q: invalid syntax', v, name, v)
    end
    return b
  elseif ty == "int" then
    local n = v:match("^[+-]?%d+$") and math.tointeger(tonumber(v))
    if not n then
      fail(EXIT_ERROR, 'invalid argument %q for "--%s" flag: strconv.ParseInt: parsing %q: invalid syntax', v, name, v)
    end
    return n
  elseif ty == "duration" then
    local d = duration(v)
    if not d then fail(EXIT_ERROR, 'invalid argument %q for "--%s" flag: time: invalid duration %q', v, name, v) end
    return d
  elseif ty == "strings" then
    local t = {}
    for part in (v .. ","):gmatch("([^,]*),") do t[#t + 1] = part end
    return t
  end
  return v
end

-- ------------------------------------------------------------- parsing ---

-- parse(argv) -> command name, flags (name -> value), changed set, positional
-- args, the words after a "--" (for watch), and whether there was a "--".
local function parse(words)
  local cmd, specs
  local vals, changed, pos = {}, {}, {}
  local after_dash, dash = {}, false
  local function lookup(name)
    if specs and specs[name] then return specs[name] end
    return GLOBAL[name]
  end
  local function lookup_short(c)
    for name, s in pairs(specs or {}) do if s.short == c then return name, s end end
    for name, s in pairs(GLOBAL) do if s.short == c then return name, s end end
  end
  local i = 1
  while i <= #words do
    local w = words[i]
    if w == "--" then
      dash = true
      for j = i + 1, #words do
        after_dash[#after_dash + 1] = words[j]
        pos[#pos + 1] = words[j]
      end
      break
    elseif w:sub(1, 2) == "--" then
      local name, v = w:match("^%-%-([^=]+)=(.*)$")
      name = name or w:sub(3)
      local s = lookup(name)
      if not s then fail(EXIT_ERROR, "unknown flag: --%s", name) end
      if v == nil then
        if s[1] == "bool" then v = "true"
        else
          i = i + 1
          v = words[i]
          if v == nil then fail(EXIT_ERROR, "flag needs an argument: --%s", name) end
        end
      end
      vals[name] = convert(name, s, v)
      changed[name] = true
    elseif w:sub(1, 1) == "-" and #w > 1 then
      local c = w:sub(2, 2)
      local name, s = lookup_short(c)
      if not name then fail(EXIT_ERROR, "unknown shorthand flag: '%s' in %s", c, w) end
      local v = w:sub(3)
      if v:sub(1, 1) == "=" then v = v:sub(2) end
      if v == "" then
        if s[1] == "bool" then v = "true"
        else
          i = i + 1
          v = words[i]
          if v == nil then fail(EXIT_ERROR, "flag needs an argument: '%s' in -%s", c, c) end
        end
      end
      vals[name] = convert(name, s, v)
      changed[name] = true
    elseif not cmd then
      -- cobra's prefix matching: a unique prefix of a command name
      local found
      for _, n in ipairs(ORDER) do
        if n == w then found = n; break end
      end
      if not found then
        local cands = {}
        for _, n in ipairs(ORDER) do if n:sub(1, #w) == w then cands[#cands + 1] = n end end
        if #cands == 1 then found = cands[1] end
      end
      if not found then fail(EXIT_ERROR, 'unknown command "%s" for "etcdctl"\nRun \'etcdctl --help\' for usage.', w) end
      cmd, specs = found, COMMANDS[found]
    else
      pos[#pos + 1] = w
    end
    i = i + 1
  end
  return cmd, vals, changed, pos, after_dash, dash
end

-- the value of a flag: the command line, then ETCDCTL_<NAME> (global flags), then the default
local function flags_of(cmd, vals, changed)
  local o = {}
  local verbose = package.loaded.ksh and ksh.verbose
  for name, s in pairs(GLOBAL) do
    local env = "ETCDCTL_" .. name:upper():gsub("%-", "_")
    local ev = not s.noenv and os.getenv(env) or nil
    if changed[name] then
      o[name] = vals[name]
      if ev and ev ~= "" and verbose then
        io.stderr:write(("etcd: --%s overrides %s (etcdctl would refuse both)\n"):format(name, env))
      end
    elseif ev and ev ~= "" then
      o[name] = convert(name, s, ev)
      changed[name] = true
    else
      o[name] = s[2]
    end
  end
  for name, s in pairs(COMMANDS[cmd] or {}) do
    if changed[name] then o[name] = vals[name] else o[name] = s[2] end
  end
  return o
end

-- ------------------------------------------------------------- running ---

local out
do
  local stdout = io.stdout
  stdout:setvbuf("full", 1 << 16)
  out = function(s) stdout:write(s) end
end

local PRINTERS = { simple = ctl.simple, json = ctl.json, fields = ctl.fields, protobuf = ctl.protobuf }

local function printer_of(o)
  local w = o["write-out"]
  if w == "table" then require "etcd.ctl_admin"; return ctl.table, "table" end -- the few etcdctl has (etcd.ctl_admin)
  local p = PRINTERS[w]
  if not p then fail(EXIT_BAD_FEATURE, "unsupported output format") end
  return p, w
end

-- print one response with the chosen printer (etcdctl: "X not supported as output format")
local function display(o, what, r, extra)
  local p, w = printer_of(o)
  if not p or not p[what] then fail(EXIT_BAD_FEATURE, "%s not supported as output format", w) end
  p[what](out, r, extra or { hex = o.hex })
end

local client
local function connect(o)
  if client then return client end
  if o.snapshot ~= "" then -- --snapshot FILE: a file read like a server (get only)
    local e
    client, e = etcd.snapshot(o.snapshot, { force = o.force })
    if not client then fail(EXIT_ERROR, "%s", tostring(e)) end
    return client
  end
  local eps = {}
  for _, e in ipairs(o.endpoints) do
    e = e:match("^%s*(.-)%s*$")
    eps[#eps + 1] = e
  end
  o._raw_endpoints = eps
  for _, name in ipairs { "cert", "key", "cacert" } do
    if o[name] == "" and o._changed[name] then fail(EXIT_BAD_ARGS, "empty string is passed to --%s option", name) end
  end
  local tls = o.cacert ~= "" or o.cert ~= "" or o.insecure_tls
  local list, why = etcd.split_endpoints(eps, tls ~= false and (o.cacert ~= "" or o.cert ~= ""))
  if not list then fail(EXIT_BAD_ARGS, "endpoints: %s", why) end
  local user, password
  if o.user ~= "" then
    if o.password ~= "" then user, password = o.user, o.password
    else
      user, password = o.user:match("^([^:]*):(.*)$")
      if not user then fail(EXIT_ERROR, "kscript etcd: --user %s needs :password or --password (no prompt)", o.user) end
    end
  end
  client = etcd.connect {
    user = user, password = password,
    endpoints = list, cacert = o.cacert ~= "" and o.cacert or nil, cert = o.cert ~= "" and o.cert or nil,
    key = o.key ~= "" and o.key or nil, insecure = o["insecure-skip-tls-verify"] or nil,
    timeout = o["command-timeout"], connect_timeout = o["dial-timeout"],
  }
  if o["insecure-skip-tls-verify"] then io.stderr:write("kscript etcd: TLS verification is off (--insecure-skip-tls-verify)\n") end
  return client
end

-- gRPC's code names, as Go's status error prints them
local GRPC_CODES = { [1] = "Canceled", [2] = "Unknown", [3] = "InvalidArgument", [4] = "DeadlineExceeded",
  [5] = "NotFound", [6] = "AlreadyExists", [7] = "PermissionDenied", [8] = "ResourceExhausted",
  [9] = "FailedPrecondition", [10] = "Aborted", [11] = "OutOfRange", [12] = "Unimplemented", [13] = "Internal",
  [14] = "Unavailable", [15] = "DataLoss", [16] = "Unauthenticated" }

-- clientv3's error text for a gRPC error: etcd's own errors by their message,
-- others as "rpc error: code = X desc = Y"
local function grpc_text(e)
  local m = e.grpc_message
  if m:match("^etcdserver: ") or m:match("^mvcc: ") or m:match("^etcdclient: ") then return m end
  return ("rpc error: code = %s desc = %s"):format(GRPC_CODES[e.grpc_status] or tostring(e.grpc_status), m)
end

-- a failure of the world -> etcdctl's error text
local CONN = { refused = true, connect = true, dns = true, timeout = true, closed = true, tls = true, unavailable = true }
local function world(e)
  if type(e) ~= "table" then fail(EXIT_ERROR, "%s", tostring(e)) end
  -- etcdctl authenticates while it makes its client: a refusal there exits 2
  if e.authenticating and e.grpc_message then fail(EXIT_BAD_CONN, "%s", e.grpc_message) end
  if e.grpc_message and e.grpc_message ~= "" then fail(EXIT_ERROR, "%s", grpc_text(e)) end
  if CONN[e.kind] then
    -- etcdctl retries until its deadline and says only that; kscript says why first
    io.stderr:write("kscript etcd: " .. tostring(e.message) .. "\n")
    fail(EXIT_ERROR, "context deadline exceeded")
  end
  fail(EXIT_ERROR, "%s", tostring(e.message or e))
end

local function call(r, e)
  if not r then world(e) end
  return r
end

local run = {}

local SORT_TARGET = { CREATE = "CREATE", KEY = "KEY", MODIFY = "MOD", VALUE = "VALUE", VERSION = "VERSION", [""] = "KEY" }

-- the RangeRequest options of a get (etcdctl's getGetOp); exits as etcdctl on bad flags
local function get_op(o, args)
  if #args == 0 then
    fail(EXIT_BAD_ARGS, "get command needs one argument as key and an optional argument as range_end")
  end
  if o.prefix and o["from-key"] then
    fail(EXIT_BAD_ARGS, "`--prefix` and `--from-key` cannot be set at the same time, choose one")
  end
  if o["keys-only"] and o["count-only"] then
    fail(EXIT_BAD_ARGS, "`--keys-only` and `--count-only` cannot be set at the same time, choose one")
  end
  local req = {}
  if o.consistency == "s" then req.serializable = true
  elseif o.consistency ~= "l" then fail(EXIT_BAD_FEATURE, "unknown consistency flag %q", o.consistency) end
  local key = args[1]
  if #args > 1 then
    if o.prefix or o["from-key"] then
      fail(EXIT_BAD_ARGS, "too many arguments, only accept one argument when `--prefix` or `--from-key` is set")
    end
    req.range_end = args[2]
  end
  if o.limit ~= 0 then req.limit = o.limit end
  if o.rev > 0 then req.revision = o.rev end
  local order = o.order:upper()
  local sort_order
  if order == "ASCEND" or order == "DESCEND" then sort_order = order
  elseif order == "" then sort_order = "NONE"
  else fail(EXIT_BAD_FEATURE, "bad sort order %s", o.order) end
  local target = SORT_TARGET[o["sort-by"]:upper()]
  if not target then fail(EXIT_BAD_FEATURE, "bad sort target %s", o["sort-by"]) end
  if target == "KEY" and sort_order == "ASCEND" then sort_order = "NONE" end
  if sort_order ~= "NONE" then req.sort_order = sort_order end
  if target ~= "KEY" then req.sort_target = target end
  if o.prefix then
    if key == "" then key = "\0"; req.range_end = "\0" else req.range_end = etcd.prefix_end(key) end
  end
  if o["from-key"] then
    if key == "" then key = "\0" end
    req.range_end = "\0"
  end
  req.key = key
  if o["keys-only"] then req.keys_only = true end
  if o["count-only"] then req.count_only = true end
  if o["min-create-rev"] > 0 then req.min_create_revision = o["min-create-rev"] end
  if o["max-create-rev"] > 0 then
    if o["min-create-rev"] > o["max-create-rev"] then
      fail(EXIT_BAD_FEATURE, "getMinCreateRev(=%d) > getMaxCreateRev(=%d)", o["min-create-rev"], o["max-create-rev"])
    end
    req.max_create_revision = o["max-create-rev"]
  end
  if o["min-mod-rev"] > 0 then req.min_mod_revision = o["min-mod-rev"] end
  if o["max-mod-rev"] > 0 then
    if o["min-mod-rev"] > o["max-mod-rev"] then
      fail(EXIT_BAD_FEATURE, "getMinModRev(=%d) > getMaxModRev(=%d)", o["min-mod-rev"], o["max-mod-rev"])
    end
    req.max_mod_revision = o["max-mod-rev"]
  end
  return req
end

-- a plain range read in key order, streamed: simple or json output
local function streamable(o, req)
  return req.range_end ~= nil and not req.limit and not req.sort_order and not req.sort_target
    and not req.count_only and not req.min_create_revision and not req.max_create_revision
    and not req.min_mod_revision and not req.max_mod_revision and not o.hex
    and (o["write-out"] == "simple" or o["write-out"] == "json")
end

-- get --decode: a value Kubernetes stored, as the API server's JSON; other
-- values as they are; one that does not decode as it is, the reason on stderr
local function k8s_value(kv)
  local text, err = require("k8s.codec").decode_text(kv)
  if text then return text end
  if not (err.kind == "corrupt" and err.offset == 0 and kv.value:sub(1, 3) ~= "k8s") then
    io.stderr:write("kscript etcd: ", tostring(err.message), "\n")
  end
  return kv.value
end

-- a write to a closed pipe ends the command quietly, with a SIGPIPE'd
-- process's status (etcdctl dies of the signal)
local function stopped(e) return type(e) == "table" and e.kind == "pipe" end

local function stream_get(c, o, req)
  local w = o["write-out"]
  local dec = w == "simple" and ctl.simple.decoder()
  if w == "simple" and (dec or o["print-value-only"]) then
    local sc = c:scanner(req.key, { range_end = req.range_end, keys_only = req.keys_only, revision = req.revision,
                                    serializable = req.serializable })
    local ok, e = pcall(function()
      if dec then
        for kv in sc:kvs() do
          if o["print-value-only"] then out(dec(kv) .. "\n") else out(kv.key .. "\n" .. dec(kv) .. "\n") end
        end
      else
        for kv in sc:kvs() do out(kv.value .. "\n") end
      end
    end)
    if not ok then sc:close(); world(e) end
    return
  end
  -- printed by C as the response arrives (ksh.etcdpb.output): simple as
  -- key and value lines; json with the header first (etcd sends it before
  -- the keys), the keys, the count last
  local printer = w == "simple" and pb.output("lines", true, true) or pb.output("json", ctl.json.decoding())
  io.stdout:flush()
  local ok, e
  if o.snapshot ~= "" then
    -- a snapshot file's scan hands its records to Lua: fed to the printer from here
    local head = w == "json" and call(c:get(req.key, { range_end = req.range_end, count_only = true,
                                                       revision = req.revision }))
    local sc = c:scanner(req.key, { range_end = req.range_end, keys_only = req.keys_only,
                                    revision = req.revision or (head and head.header.revision) })
    ok, e = pcall(function()
      if head then
        local fed, ferr = printer:feed(pb.REC_END .. pb.encode("RangeResponse", { header = head.header, count = head.count }))
        if not fed then error(ferr, 0) end
      end
      for rec in sc:records() do
        local fed, ferr = printer:feed(rec)
        if not fed then error(ferr, 0) end
      end
    end)
  else
    local sc = c:scanner(req.key, { range_end = req.range_end, keys_only = req.keys_only, revision = req.revision,
                                    serializable = req.serializable, header_records = w == "json", output = printer })
    ok, e = pcall(function() for _ in sc:records() do end end)
    if not ok then sc:close() end
  end
  if ok then ok, e = printer:finish() end
  if stopped(e) then return 141 end
  if not ok then world(e) end
end

function run.get(o, args)
  if o.decode then
    if o["write-out"] == "simple" then
      ctl.simple.set_decode(k8s_value)
    elseif o["write-out"] ~= "json" then
      fail(EXIT_BAD_ARGS, "--decode is only for `--write-out=simple` or `--write-out=json`")
    else
      ctl.json.set_decode(true)
    end
  end
  local req = get_op(o, args)
  local c = connect(o)
  if streamable(o, req) and not o["count-only"] then
    printer_of(o)
    if o["print-value-only"] and o["write-out"] ~= "simple" then
      fail(EXIT_BAD_ARGS, "print-value-only is only for `--write-out=simple`")
    end
    return stream_get(c, o, req)
  end
  local key = req.key
  req.key = nil
  local r = call(c:get(key, req))
  if o["count-only"] and o["write-out"] ~= "fields" then
    fail(EXIT_BAD_ARGS, "--count-only is only for `--write-out=fields`")
  end
  if o["print-value-only"] and o["write-out"] ~= "simple" then
    fail(EXIT_BAD_ARGS, "print-value-only is only for `--write-out=simple`")
  end
  display(o, "get", r, { hex = o.hex, value_only = o["print-value-only"] })
end

local function put_op(o, args, stdin_ok)
  if #args == 0 then fail(EXIT_BAD_ARGS, "put command needs 1 argument and input from stdin or 2 arguments") end
  local key = args[1]
  if o["ignore-value"] and #args > 1 then
    fail(EXIT_BAD_ARGS, "put command needs only 1 argument when 'ignore-value' is set")
  end
  local value = ""
  if not o["ignore-value"] then
    value = args[2]
    if value == nil and stdin_ok then value = io.stdin:read("a") end
    if value == nil or (value == "" and #args < 2) then
      fail(EXIT_BAD_ARGS, "put command needs 1 argument and input from stdin or 2 arguments")
    end
  end
  local lease = o.lease:match("^[+-]?%x+$") and tonumber(o.lease, 16)
  if not lease or #o.lease > 17 then
    fail(EXIT_BAD_ARGS, 'bad lease ID (strconv.ParseInt: parsing %s: invalid syntax), expecting ID in Hex', ctl.quote(o.lease))
  end
  return key, value, { lease = lease ~= 0 and lease or nil, prev_kv = o["prev-kv"] or nil,
                       ignore_value = o["ignore-value"] or nil, ignore_lease = o["ignore-lease"] or nil }
end

function run.put(o, args)
  local key, value, opts = put_op(o, args, true)
  local c = connect(o)
  printer_of(o)
  local r = call(c:put(key, value, opts))
  display(o, "put", r)
end

local function del_op(o, args)
  if #args == 0 or #args > 2 then
    fail(EXIT_BAD_ARGS, "del command needs one argument as key and an optional argument as range_end")
  end
  if o.prefix and o["from-key"] then
    fail(EXIT_BAD_ARGS, "`--prefix` and `--from-key` cannot be set at the same time, choose one")
  end
  local key, range_end = args[1], nil
  if #args > 1 then
    if o.prefix or o["from-key"] then
      fail(EXIT_BAD_ARGS, "too many arguments, only accept one argument when `--prefix` or `--from-key` is set")
    end
    range_end = args[2]
    if not o.range then
      io.stderr:write(("Warning: Keys between %s and %s will be deleted. Please interrupt the command within next 2 seconds to cancel. You can provide `--range` flag to avoid the delay.\n")
        :format(ctl.quote(args[1]), ctl.quote(args[2])))
      sleep(2)
    end
  end
  if o.prefix then
    if key == "" then key, range_end = "\0", "\0" else range_end = etcd.prefix_end(key) end
  end
  if o["from-key"] then
    if key == "" then key = "\0" end
    range_end = "\0"
  end
  return key, { range_end = range_end, prev_kv = o["prev-kv"] or nil }
end

function run.del(o, args)
  local key, opts = del_op(o, args)
  local c = connect(o)
  printer_of(o)
  display(o, "del", call(c:del(key, opts)))
end

function run.compaction(o, args)
  if #args ~= 1 then fail(EXIT_BAD_ARGS, "compaction command needs 1 argument") end
  local rev = args[1]:match("^[+-]?%d+$") and math.tointeger(tonumber(args[1]))
  if not rev then fail(EXIT_ERROR, "strconv.ParseInt: parsing %s: invalid syntax", ctl.quote(args[1])) end
  local c = connect(o)
  printer_of(o)
  call(c:compact(rev, { physical = o.physical or nil }))
  out(("compacted revision %d\n"):format(rev))
end

function run.version()
  out(("etcdctl version: %s\nAPI version: %s\n"):format(VERSION, API))
end

-- ----------------------------------------------- leases and maintenance ---

local function lease_id(arg)
  local id = arg:match("^[+-]?%x+$") and #arg <= 17 and tonumber(arg, 16)
  if not id or math.type(id) ~= "integer" then
    fail(EXIT_BAD_ARGS, "bad lease ID arg (strconv.ParseInt: parsing %s: invalid syntax), expecting ID in Hex", ctl.quote(arg))
  end
  return id
end

local function sub_of(args, cmd, list)
  local sub = args[1]
  if not sub then
    io.stderr:write(("usage: kscript etcd %s %s\n"):format(cmd, table.concat(list, "|")))
    fail(EXIT_BAD_ARGS, "%s needs a subcommand (%s)", cmd, table.concat(list, ", "))
  end
  local found
  for _, n in ipairs(list) do
    if n == sub then found = n; break end
  end
  if not found then
    local cands = {}
    for _, n in ipairs(list) do if n:sub(1, #sub) == sub then cands[#cands + 1] = n end end
    if #cands == 1 then found = cands[1] end
  end
  if not found then fail(EXIT_ERROR, 'unknown command "%s" for "etcdctl %s"', sub, cmd) end
  return found, { table.unpack(args, 2) }
end

local function show(o, what, r, extra)
  extra = extra or {}
  extra.hex = o.hex
  display(o, what, r, extra)
end

function run.lease(o, args)
  local sub, rest = sub_of(args, "lease", { "grant", "revoke", "timetolive", "list", "keep-alive" })
  if sub == "grant" then
    if #rest ~= 1 then fail(EXIT_BAD_ARGS, "lease grant command needs TTL argument") end
    local ttl = rest[1]:match("^[+-]?%d+$") and math.tointeger(tonumber(rest[1]))
    if not ttl then fail(EXIT_BAD_ARGS, "bad TTL (strconv.ParseInt: parsing %s: invalid syntax)", ctl.quote(rest[1])) end
    local c = connect(o)
    local r, e = c:lease_grant(ttl)
    if not r then
      if type(e) == "table" and e.grpc_message then fail(EXIT_ERROR, "failed to grant lease (%s)", e.grpc_message) end
      world(e)
    end
    show(o, "grant", r)
  elseif sub == "revoke" then
    if #rest ~= 1 then fail(EXIT_BAD_ARGS, "lease revoke command needs 1 argument") end
    local id = lease_id(rest[1])
    local r, e = connect(o):lease_revoke(id)
    if not r then
      if type(e) == "table" and e.grpc_message then fail(EXIT_ERROR, "failed to revoke lease (%s)", e.grpc_message) end
      world(e)
    end
    show(o, "revoke", r, { id = id })
  elseif sub == "timetolive" then
    if #rest ~= 1 then fail(EXIT_BAD_ARGS, "lease timetolive command needs lease ID as argument") end
    local id = lease_id(rest[1])
    local r, e = connect(o):lease_ttl(id, { keys = o.keys })
    if not r then
      if type(e) == "table" and e.grpc_message then fail(EXIT_BAD_CONN, "%s", e.grpc_message) end
      world(e)
    end
    show(o, "timetolive", r, { keys = o.keys })
  elseif sub == "list" then
    local r, e = connect(o):leases()
    if not r then
      if type(e) == "table" and e.grpc_message then fail(EXIT_BAD_CONN, "%s", e.grpc_message) end
      world(e)
    end
    show(o, "leases", r)
  else
    if #rest ~= 1 then fail(EXIT_BAD_ARGS, "lease keep-alive command needs lease ID as argument") end
    local id = lease_id(rest[1])
    local c = connect(o)
    if o.once then
      local r, e = c:lease_keepalive_once(id)
      if not r then world(e) end
      if r.TTL <= 0 then fail(EXIT_BAD_CONN, "etcdserver: requested lease not found") end
      show(o, "keepalive", r)
      return
    end
    local done = false
    local k, e = c:lease_keepalive(id, {
      on_response = function(r) show(o, "keepalive", r); io.stdout:flush() end,
      on_lost = function() done = true end,
    })
    if not k then
      if type(e) == "table" and e.kind == "notfound" then fail(EXIT_BAD_CONN, "etcdclient: requested lease not found") end
      world(e)
    end
    k.task:wait()
    if o["write-out"] == "simple" then out(("lease %016x expired or revoked.\n"):format(id)) end
    return done and 0 or 0
  end
end

-- the flags of each subcommand (COMMANDS holds their union); another one is
-- unknown to etcdctl's subcommand
local function sub_flags_only(o, cmd, sub, allowed)
  for name in pairs(COMMANDS[cmd]) do
    if o._changed[name] and not allowed[name] then fail(EXIT_ERROR, "unknown flag: --%s", name) end
  end
  local _ = sub
end

-- a member ID argument: strconv.ParseUint(s, 16, 64) -> integer (wrapping above 2^63) | nil, Go's error
local function parse_hex_id(s)
  if not s:match("^%x+$") then return nil, ("strconv.ParseUint: parsing %s: invalid syntax"):format(ctl.quote(s)) end
  if #s:gsub("^0+", "") > 16 then return nil, ("strconv.ParseUint: parsing %s: value out of range"):format(ctl.quote(s)) end
  return tonumber(s, 16)
end

local function member_id_arg(args)
  if #args ~= 1 then fail(EXIT_BAD_ARGS, "member ID is not provided") end
  local id, why = parse_hex_id(args[1])
  if not id then fail(EXIT_BAD_ARGS, "bad member ID arg (%s), expecting ID in Hex", why) end
  return id
end

-- clientv3's check of peer URLs (types.NewURLs), in its words
local function check_urls(text)
  for raw in (text .. ","):gmatch("([^,]*),") do
    local s = raw:match("^%s*(.-)%s*$")
    local scheme, rest = s:match("^(%a[%w+.-]*):(.*)$")
    if not scheme then
      if (s:match("^[^/]*") or ""):find(":", 1, true) then
        fail(EXIT_ERROR, "parse %s: first path segment in URL cannot contain colon", ctl.quote(s))
      end
      scheme, rest = "", s
    end
    scheme = scheme:lower()
    if scheme == "http" or scheme == "https" then
      local host, path = rest:match("^//([^/?#]*)([^?#]*)")
      host, path = host or "", path or rest:match("^[^?#]*")
      if not (host:match("^%[[^%]]*%]:[^:]*$") or host:match("^[^:%[%]]*:[^:]*$")) then
        fail(EXIT_ERROR, 'URL address does not have the form "host:port": %s', s)
      end
      if path ~= "" then fail(EXIT_ERROR, "URL must not contain a path: %s", s) end
    elseif scheme ~= "unix" and scheme ~= "unixs" then
      fail(EXIT_ERROR, "URL scheme must be http, https, unix, or unixs: %s", s)
    end
  end
end

local MEMBER_FLAGS = { add = { ["peer-urls"] = true, learner = true }, update = { ["peer-urls"] = true },
                       list = { consistency = true } }

function run.member(o, args)
  require "etcd.ctl_admin"
  local sub, rest = sub_of(args, "member", { "add", "remove", "update", "list", "promote" })
  sub_flags_only(o, "member", sub, MEMBER_FLAGS[sub] or {})
  if sub == "list" then
    if o.consistency ~= "l" and o.consistency ~= "s" then
      fail(EXIT_BAD_FEATURE, "unknown consistency flag %q", o.consistency)
    end
    local r = call(connect(o):members { serializable = o.consistency == "s" })
    show(o, "members", r)
  elseif sub == "add" then
    if #rest < 1 then fail(EXIT_BAD_ARGS, "member name not provided") end
    if #rest > 1 then
      local ev = "too many arguments"
      for _, a in ipairs(rest) do
        if a:lower():sub(1, 4) == "http" then ev = ev .. (", did you mean --peer-urls=%s"):format(a) end
      end
      fail(EXIT_BAD_ARGS, "%s", ev)
    end
    local name, urls = rest[1], o["peer-urls"]
    if urls == "" then fail(EXIT_BAD_ARGS, "member peer urls not provided") end
    check_urls(urls)
    local r = call(connect(o):member_add(urls, { learner = o.learner }))
    show(o, "member_add", r)
    if o["write-out"] == "simple" then
      local conf = {}
      for _, m in ipairs(r.members) do
        for _, u in ipairs(m.peerURLs) do
          conf[#conf + 1] = ("%s=%s"):format(m.ID == r.member.ID and name or m.name, u)
        end
      end
      out(("\nETCD_NAME=%s\nETCD_INITIAL_CLUSTER=%s\nETCD_INITIAL_ADVERTISE_PEER_URLS=%s\n" ..
        'ETCD_INITIAL_CLUSTER_STATE="existing"\n'):format(ctl.quote(name), ctl.quote(table.concat(conf, ",")),
        ctl.quote(urls)))
    end
  elseif sub == "remove" then
    local id = member_id_arg(rest)
    show(o, "member_remove", call(connect(o):member_remove(id)), { id = id })
  elseif sub == "update" then
    local id = member_id_arg(rest)
    if o["peer-urls"] == "" then fail(EXIT_BAD_ARGS, "member peer urls not provided") end
    check_urls(o["peer-urls"])
    show(o, "member_update", call(connect(o):member_update(id, o["peer-urls"])), { id = id })
  else
    local id = member_id_arg(rest)
    show(o, "member_promote", call(connect(o):member_promote(id)), { id = id })
  end
end

-- the endpoints a maintenance command visits: the flag's, or with --cluster the members' client URLs
local function each_endpoint(o)
  connect(o)
  if not o.cluster then return o._raw_endpoints end
  local r, e = client:members()
  if not r then
    fail(EXIT_ERROR, "failed to fetch endpoints from etcd cluster member list: %s",
      type(e) == "table" and (e.grpc_message or e.message) or tostring(e))
  end
  local eps = {}
  for _, m in ipairs(r.members) do for _, u in ipairs(m.clientURLs) do eps[#eps + 1] = u end end
  return eps
end

local function client_for(o, ep)
  local list = etcd.split_endpoints({ ep }, o.cacert ~= "" or o.cert ~= "")
  return etcd.connect {
    endpoints = list, cacert = o.cacert ~= "" and o.cacert or nil, cert = o.cert ~= "" and o.cert or nil,
    key = o.key ~= "" and o.key or nil, insecure = o["insecure-skip-tls-verify"] or nil,
    timeout = o["command-timeout"], connect_timeout = o["dial-timeout"],
  }
end

local function errtext(e)
  if type(e) ~= "table" then return tostring(e) end
  if e.grpc_message and e.grpc_message ~= "" then return grpc_text(e) end
  if CONN[e.kind] then return "context deadline exceeded" end
  return e.message
end

function run.endpoint(o, args)
  local sub = sub_of(args, "endpoint", { "health", "status", "hashkv" })
  local eps = each_endpoint(o)
  if sub == "health" then
    local list, bad = {}, false
    local tasks = {}
    for i, ep in ipairs(eps) do
      tasks[i] = spawn(function()
        local c = client_for(o, ep)
        local t0 = now()
        local r, e = c:get("health")
        local h = { ep = ep, health = false, took = ctl.go_duration(now() - t0), error = "" }
        if r or (type(e) == "table" and e.grpc_message == "etcdserver: permission denied") then
          h.health = true
          local a, ae = c:alarms()
          if a and #a.alarms > 0 then
            h.health, h.error = false, "Active Alarm(s): "
            for _, al in ipairs(a.alarms) do
              h.error = h.error .. (({ [1] = "NOSPACE ", [2] = "CORRUPT " })[al.alarm] or "UNKNOWN ")
            end
          elseif not a then
            h.health, h.error = false, "Unable to fetch the alarm list"
            local _ = ae
          end
        else
          h.error = errtext(e)
        end
        return h
      end)
    end
    for i, t in ipairs(tasks) do
      list[i] = t:wait()
      if list[i].error ~= "" then bad = true end
    end
    show(o, "health", list, { err = function(s) io.stderr:write(s) end })
    if bad then fail(EXIT_ERROR, "unhealthy cluster") end
  elseif sub == "status" or sub == "hashkv" then
    local list, failed = {}, nil
    for _, ep in ipairs(eps) do
      local c = client_for(o, ep)
      local r, e
      if sub == "status" then r, e = c:status() else r, e = c:hashkv(o.rev > 0 and o.rev or nil) end
      if r then list[#list + 1] = { ep = ep, resp = r }
      else
        failed = errtext(e)
        io.stderr:write(("Failed to get the %s of endpoint %s (%s)\n"):format(sub == "status" and "status" or "hash",
          ep, failed))
      end
    end
    show(o, sub, list)
    if failed then
      if sub == "status" then return EXIT_ERROR end
      fail(EXIT_ERROR, "%s", failed)
    end
  end
end

function run.alarm(o, args)
  local sub, rest = sub_of(args, "alarm", { "disarm", "list" })
  if #rest ~= 0 then fail(EXIT_BAD_ARGS, "alarm %s command accepts no arguments", sub) end
  local c = connect(o)
  if sub == "list" then
    show(o, "alarm", call(c:alarms()))
  else
    local list = call(c:alarms())
    local r = list
    for _, a in ipairs(list.alarms) do r = call(c:alarm_disarm(a.memberID, a.alarm)) end
    show(o, "alarm", #list.alarms > 0 and { header = r.header, alarms = list.alarms } or list)
  end
end

function run.defrag(o)
  local failures = 0
  for _, ep in ipairs(each_endpoint(o)) do
    local c = client_for(o, ep)
    local t0 = now()
    local r, e = c:defrag()
    local took = ctl.go_duration(now() - t0)
    if r then out(("Finished defragmenting etcd member[%s]. took %s\n"):format(ep, took))
    else
      io.stderr:write(("Failed to defragment etcd member[%s]. took %s. (%s)\n"):format(ep, took, errtext(e)))
      failures = failures + 1
    end
  end
  if failures > 0 then return EXIT_ERROR end
end

function run.snapshot(o, args)
  local sub, rest = sub_of(args, "snapshot", { "save" })
  if sub == "save" then
    if #rest ~= 1 then fail(EXIT_BAD_ARGS, "snapshot save expects one argument <filename>") end
    local c = connect(o)
    if #o._raw_endpoints ~= 1 then
      fail(EXIT_INTERRUPTED, "snapshot must be requested to one selected node, not multiple [%s]",
        table.concat(o._raw_endpoints, " "))
    end
    local r, e = c:snapshot(rest[1])
    if not r then fail(EXIT_INTERRUPTED, "%s", type(e) == "table" and (e.grpc_message or e.message) or tostring(e)) end
    out(("Snapshot saved at %s\n"):format(rest[1]))
    if r.version then out(("Server version %s\n"):format(r.version)) end
  end
end

-- ------------------------------------------------- downgrade, check ---

function run.downgrade(o, args)
  require "etcd.ctl_admin"
  local sub, rest = sub_of(args, "downgrade", { "validate", "enable", "cancel" })
  local version = ""
  if sub ~= "cancel" then
    if #rest < 1 then fail(EXIT_BAD_ARGS, "TARGET_VERSION not provided") end
    if #rest > 1 then fail(EXIT_BAD_ARGS, "too many arguments") end
    version = rest[1]
    if version == "" then fail(EXIT_BAD_ARGS, "target version not provided") end
  end
  show(o, "downgrade_" .. sub, call(connect(o):downgrade(sub, version)))
end

-- check perf|datascale: lua/etcd/ctl_check.lua does the work and prints etcdctl's lines
function run.check(o, args)
  local sub = sub_of(args, "check", { "perf", "datascale" })
  return require("etcd.ctl_check").run(sub, o, connect(o), {
    fail = fail, errtext = errtext, out = function(s) out(s); io.stdout:flush() end,
    EXIT_ERROR = EXIT_ERROR, EXIT_BAD_FEATURE = EXIT_BAD_FEATURE, EXIT_INVALID_INPUT = EXIT_INVALID_INPUT,
  })
end

-- ------------------------------------------------------ auth, user, role ---

local function auth_call(r, e)
  if not r then
    if type(e) == "table" and e.authenticating and e.grpc_message then fail(EXIT_BAD_CONN, "%s", e.grpc_message) end
    fail(EXIT_ERROR, "%s", errtext(e))
  end
  return r
end

function run.auth(o, args)
  local sub, rest = sub_of(args, "auth", { "enable", "disable", "status" })
  if #rest ~= 0 then fail(EXIT_BAD_ARGS, "auth %s command does not accept any arguments", sub) end
  local c = connect(o)
  if sub == "enable" then
    while true do
      local r, e = c:auth_enable()
      if r then break end
      if type(e) == "table" and e.grpc_message == "etcdserver: root user does not have root role" then
        auth_call(c:role_add("root"))
        auth_call(c:user_grant_role("root", "root"))
      else
        auth_call(r, e)
      end
    end
    out("Authentication Enabled\n")
  elseif sub == "disable" then
    auth_call(c:auth_disable())
    out("Authentication Disabled\n")
  else
    local r = auth_call(c:auth_status())
    local w = o["write-out"]
    if w == "simple" then
      out(("Authentication Status: %s\nAuthRevision: %d\n"):format(tostring(r.enabled), r.authRevision))
    elseif w == "json" then
      local p = {}
      local h = ctl.json.header(r.header or {})
      p[1] = '"header":' .. h
      if r.enabled then p[#p + 1] = '"enabled":true' end
      if r.authRevision ~= 0 then p[#p + 1] = ('"authRevision":%d'):format(r.authRevision) end
      out("{" .. table.concat(p, ",") .. "}\n")
    else
      fail(EXIT_BAD_FEATURE, "%s not supported as output format", w)
    end
  end
end

-- speakeasy's password prompt (etcdctl without --interactive=false): the
-- prompt on stdout, `stty -echo` (which complains on stderr when stdin is
-- not a terminal, as under etcdctl), one line read from stdin
local function read_password_interactive(name)
  local function ask(prompt)
    out(prompt)
    io.stdout:flush()
    os.execute("stty -echo")
    local line = io.stdin:read("l") or ""
    os.execute("stty echo")
    out("\n")
    io.stdout:flush()
    return (line:gsub("\r$", "")):match("^%s*(.-)%s*$")
  end
  local p1 = ask(("Password of %s: "):format(name))
  if p1 == "" then fail(EXIT_BAD_ARGS, "empty password") end
  local p2 = ask(("Type password of %s again for confirmation: "):format(name))
  if p1 ~= p2 then fail(EXIT_BAD_ARGS, "given passwords are different") end
  return p1
end

-- etcdctl --interactive=false: fmt.Scanf("%s"), the first word of stdin's first line
local function read_password_word()
  local line = io.stdin:read("l") or ""
  return line:match("^[ \t]*([^ \t\r\n]*)") or ""
end

local USER_FLAGS = {
  add = { interactive = true, ["new-user-password"] = true, ["no-password"] = true },
  get = { detail = true },
  passwd = { interactive = true, ["new-user-password"] = true }, -- kscript's: --new-user-password
}

function run.user(o, args)
  require "etcd.ctl_admin"
  local sub, rest = sub_of(args, "user", { "add", "delete", "get", "list", "passwd", "grant-role", "revoke-role" })
  sub_flags_only(o, "user", sub, USER_FLAGS[sub] or {})
  if sub == "add" then
    if #rest ~= 1 then fail(EXIT_BAD_ARGS, "user add command requires user name as its argument") end
    local name, pass
    if o["no-password"] then
      name = rest[1]
    elseif o["new-user-password"] ~= "" then
      name, pass = rest[1], o["new-user-password"]
    else
      name, pass = rest[1]:match("^([^:]*):(.*)$")
      if not name then
        name = rest[1]
        pass = o.interactive and read_password_interactive(name) or read_password_word()
      elseif name == "" then
        fail(EXIT_BAD_ARGS, "empty user name is not allowed")
      end
    end
    local r = auth_call(connect(o):user_add(name, pass))
    show(o, "user_add", r, { name = name })
  elseif sub == "delete" then
    if #rest ~= 1 then fail(EXIT_BAD_ARGS, "user delete command requires user name as its argument") end
    show(o, "user_delete", auth_call(connect(o):user_delete(rest[1])), { name = rest[1] })
  elseif sub == "get" then
    if #rest ~= 1 then fail(EXIT_BAD_ARGS, "user get command requires user name as its argument") end
    local c = connect(o)
    local r = auth_call(c:user_get(rest[1]))
    if o.detail then
      out(("User: %s\n"):format(rest[1]))
      for _, role in ipairs(r.roles) do
        out("\n")
        show(o, "role_get", auth_call(c:role_get(role)), { name = role })
      end
    else
      show(o, "user_get", r, { name = rest[1] })
    end
  elseif sub == "list" then
    if #rest ~= 0 then fail(EXIT_BAD_ARGS, "user list command requires no arguments") end
    show(o, "user_list", auth_call(connect(o):users()))
  elseif sub == "passwd" then
    if #rest ~= 1 then fail(EXIT_BAD_ARGS, "user passwd command requires user name as its argument") end
    local pass = o["new-user-password"]
    if pass == "" then pass = o.interactive and read_password_interactive(rest[1]) or read_password_word() end
    show(o, "user_passwd", auth_call(connect(o):user_passwd(rest[1], pass)))
  elseif sub == "grant-role" then
    if #rest ~= 2 then fail(EXIT_BAD_ARGS, "user grant command requires user name and role name as its argument") end
    show(o, "user_grant", auth_call(connect(o):user_grant_role(rest[1], rest[2])), { name = rest[1], role = rest[2] })
  else
    if #rest ~= 2 then fail(EXIT_BAD_ARGS, "user revoke-role requires user name and role name as its argument") end
    show(o, "user_revoke", auth_call(connect(o):user_revoke_role(rest[1], rest[2])), { name = rest[1], role = rest[2] })
  end
end

-- etcdctl's permRange: the key and range end of a role's permission
local function perm_range(o, args)
  local key, range_end = args[1], ""
  if key == "" then
    if o.prefix and o["from-key"] then fail(EXIT_BAD_ARGS, "--from-key and --prefix flags are mutually exclusive") end
    key = "\0"
    if o.prefix or o["from-key"] then range_end = "\0" end
  elseif #args == 1 then
    if o.prefix then
      if o["from-key"] then fail(EXIT_BAD_ARGS, "--from-key and --prefix flags are mutually exclusive") end
      range_end = etcd.prefix_end(key)
    elseif o["from-key"] then
      range_end = "\0"
    end
  else
    if o.prefix then fail(EXIT_BAD_ARGS, "unexpected endkey argument with --prefix flag") end
    if o["from-key"] then fail(EXIT_BAD_ARGS, "unexpected endkey argument with --from-key flag") end
    range_end = args[2]
  end
  return key, range_end
end

local PERM = { READ = 0, WRITE = 1, READWRITE = 2 }

function run.role(o, args)
  require "etcd.ctl_admin"
  local sub, rest = sub_of(args, "role", { "add", "delete", "get", "list", "grant-permission", "revoke-permission" })
  local perm_flags = { prefix = true, ["from-key"] = true }
  sub_flags_only(o, "role", sub, (sub == "grant-permission" or sub == "revoke-permission") and perm_flags or {})
  if sub == "add" or sub == "delete" or sub == "get" then
    if #rest ~= 1 then fail(EXIT_BAD_ARGS, "role %s command requires role name as its argument", sub) end
    local c = connect(o)
    if sub == "add" then show(o, "role_add", auth_call(c:role_add(rest[1])), { name = rest[1] })
    elseif sub == "delete" then show(o, "role_delete", auth_call(c:role_delete(rest[1])), { name = rest[1] })
    else show(o, "role_get", auth_call(c:role_get(rest[1])), { name = rest[1] }) end
  elseif sub == "list" then
    if #rest ~= 0 then fail(EXIT_BAD_ARGS, "role list command requires no arguments") end
    show(o, "role_list", auth_call(connect(o):roles()))
  elseif sub == "grant-permission" then
    if #rest < 3 then
      fail(EXIT_BAD_ARGS, "role grant command requires role name, permission type, and key [endkey] as its argument")
    end
    local t = PERM[rest[2]:upper()]
    if not t then fail(EXIT_BAD_ARGS, "invalid permission type: %s", rest[2]) end
    local key, range_end = perm_range(o, { table.unpack(rest, 3) })
    local r = auth_call(connect(o):role_grant_permission(rest[1], t, key, range_end))
    show(o, "role_grant", r, { name = rest[1] })
  else
    if #rest < 2 then
      fail(EXIT_BAD_ARGS, "role revoke-permission command requires role name and key [endkey] as its argument")
    end
    local key, range_end = perm_range(o, { table.unpack(rest, 2) })
    local r = auth_call(connect(o):role_revoke_permission(rest[1], key, range_end))
    show(o, "role_revoke", r, { name = rest[1], key = rest[2], range_end = range_end })
  end
end

run["move-leader"] = function(o, args)
  require "etcd.ctl_admin"
  if #args ~= 1 then fail(EXIT_BAD_ARGS, "move-leader command needs 1 argument") end
  local target, why = parse_hex_id(args[1])
  if not target then fail(EXIT_BAD_ARGS, "%s", why) end
  connect(o)
  -- the leader among the endpoints given: the one whose status names itself
  local leader_ep, leader
  for _, ep in ipairs(o._raw_endpoints) do
    local r = call(client_for(o, ep):status())
    if r.header and r.header.member_id == r.leader then leader_ep, leader = ep, r.leader; break end
  end
  if not leader_ep then fail(EXIT_BAD_ARGS, "no leader endpoint given at [%s]", table.concat(o._raw_endpoints, " ")) end
  local r = call(client_for(o, leader_ep):move_leader(target))
  show(o, "move_leader", r, { leader = leader, target = target })
end

-- etcdctl's make-mirror: the keys under --prefix copied to the destination
-- at one revision (each a put, --dest-prefix in place of --prefix), then
-- every change after it, a transaction per source revision (at most
-- --max-txn-ops operations each); the number of keys copied printed every 30 s
run["make-mirror"] = function(o, args)
  if #args ~= 1 then fail(EXIT_BAD_ARGS, "make-mirror takes one destination argument") end
  local user, password
  if o["dest-user"] ~= "" then
    if o["dest-password"] ~= "" then user, password = o["dest-user"], o["dest-password"]
    else
      user, password = o["dest-user"]:match("^([^:]*):(.*)$")
      if not user then fail(EXIT_ERROR, "kscript etcd: --dest-user %s needs :password or --dest-password (no prompt)", o["dest-user"]) end
    end
  end
  local tls = o["dest-cacert"] ~= "" or o["dest-cert"] ~= ""
  local list, why = etcd.split_endpoints({ args[1] }, tls)
  if not list then fail(EXIT_BAD_ARGS, "endpoints: %s", why) end
  local dc = etcd.connect {
    endpoints = list, user = user, password = password,
    cacert = o["dest-cacert"] ~= "" and o["dest-cacert"] or nil, cert = o["dest-cert"] ~= "" and o["dest-cert"] or nil,
    key = o["dest-key"] ~= "" and o["dest-key"] or nil,
    timeout = o["command-timeout"], connect_timeout = o["dial-timeout"],
  }
  local c = connect(o)
  local prefix, dest = o.prefix, o["dest-prefix"]
  if o["no-dest-prefix"] and #dest > 0 then
    fail(EXIT_BAD_ARGS, "`--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one")
  end
  local total = 0
  local ticker = spawn(function()
    while true do
      sleep(30)
      out(total .. "\n")
      io.stdout:flush()
    end
  end)
  local done, err = pcall(run._mirror, o, c, dc, prefix, dest, function(n) total = total + n end)
  ticker:cancel()
  if not done then error(err, 0) end
end

-- make-mirror's copy and watch; count(n) adds to the keys copied
function run._mirror(o, c, dc, prefix, dest, count)
  -- strings.Replace(key, prefix, dest, 1)
  local function modify(key)
    if prefix == "" then return dest .. key end
    local i = key:find(prefix, 1, true)
    if not i then return key end
    return key:sub(1, i - 1) .. dest .. key:sub(i + #prefix)
  end
  local rev = math.max(o.rev - 1, 0)
  if rev == 0 then
    local r = call(c:get(prefix ~= "" and prefix or "foo"))
    rev = r.header.revision
    -- (etcdctl defaults --dest-prefix to --prefix only here, not with --rev)
    if not o["no-dest-prefix"] and #dest == 0 then dest = prefix end
    local sc = c:scanner(prefix, { revision = rev })
    local ok, e = pcall(function()
      for kv in sc:kvs() do
        call(dc:put(modify(kv.key), kv.value))
        count(1)
      end
    end)
    if not ok then
      sc:close()
      if getmetatable(e) == Fail then error(e, 0) end
      world(e)
    end
  end
  local maxops = o["max-txn-ops"]
  local watcher = c:watcher(prefix, { prefix = true, start_revision = rev + 1, reconnect = true })
  local ok, e = pcall(function()
    while true do
      local ev = watcher:next()
      if not ev then break end
      local evs = { ev }
      while watcher:pending() > 0 do evs[#evs + 1] = watcher:next() end
      local ops, last = {}, 0
      local function commit()
        call(dc:txn { success = ops })
        ops = {}
      end
      for _, x in ipairs(evs) do
        if x.type ~= "PROGRESS" then
          local nrev = x.kv.mod_revision
          if last ~= 0 and nrev > last then commit() end
          last = nrev
          if #ops == maxops then commit() end
          if x.type == "PUT" then ops[#ops + 1] = { "put", modify(x.kv.key), x.kv.value }
          else ops[#ops + 1] = { "del", modify(x.kv.key) } end
          count(1)
        end
      end
      if #ops > 0 then commit() end
    end
  end)
  watcher:close()
  if not ok then
    if getmetatable(e) == Fail or ksh.is_interrupt(e) then error(e, 0) end
    if type(e) == "table" and e.kind == "compacted" then
      fail(EXIT_ERROR, "etcdserver: mvcc: required revision has been compacted")
    end
    world(e)
  end
  fail(EXIT_ERROR, "watch closed")
end

-- --------------------------------------------------------- lock, elect ---

-- run fn; on an interruption (Ctrl-C, SIGTERM) run cleanup first, then let it end the command
local function until_signal(fn, cleanup)
  local r = table.pack(pcall(fn))
  if not r[1] then
    cleanup()
    error(r[2], 0)
  end
  return table.unpack(r, 2, r.n)
end

function run.lock(o, args)
  if #args == 0 then fail(EXIT_BAD_ARGS, "lock takes a lock name argument and an optional command to execute") end
  local c = connect(o)
  local name = args[1]
  local l, e = c:lock(name, { ttl = o.ttl })
  if not l then fail(EXIT_ERROR, "%s", errtext(e)) end
  if #args > 1 then
    local function q(x) return "'" .. x:gsub("'", "'\\''") .. "'" end
    local words = {}
    for i = 2, #args do words[#words + 1] = q(args[i]) end
    local okx, how, code = until_signal(function()
      return os.execute(("env ETCD_LOCK_KEY=%s ETCD_LOCK_REV=%d %s"):format(q(l.key), l.header.revision,
        table.concat(words, " ")))
    end, function() l:unlock() end)
    l:unlock()
    if not okx then
      if how == "exit" then fail(code, "exit status %d", code) end
      fail(EXIT_ERROR, "signal: %s", tostring(code))
    end
    return
  end
  local r = call(c:get(l.key))
  if #r.kvs == 0 then l:unlock(); fail(EXIT_ERROR, "lock lost on init") end
  show(o, "get", r)
  io.stdout:flush()
  until_signal(function()
    while not l.session:done() do sleep(0.2) end
  end, function() l:unlock() end)
  fail(EXIT_ERROR, "session expired")
end

function run.elect(o, args)
  if #args ~= 1 and #args ~= 2 then
    fail(EXIT_BAD_ARGS, "elect takes one election name argument and an optional proposal argument")
  end
  local c = connect(o)
  if #args == 1 then
    if not o.listen then fail(EXIT_BAD_ARGS, "no proposal argument but -l not set") end
    local ok, e = pcall(function()
      for r in c:observe(args[1]) do
        show(o, "get", r)
        io.stdout:flush()
      end
    end)
    if not ok and ksh.is_interrupt(e) then error(e, 0) end
    fail(EXIT_ERROR, "elect: observer lost")
  end
  if o.listen then fail(EXIT_BAD_ARGS, "proposal given but -l is set") end
  local el, e = c:campaign(args[1], args[2])
  if not el then fail(EXIT_ERROR, "%s", errtext(e)) end
  show(o, "get", call(c:get(el.key)))
  io.stdout:flush()
  until_signal(function()
    while not el.session:done() do sleep(0.2) end
  end, function() el:resign() end)
  fail(EXIT_ERROR, "elect: session expired")
end

-- ------------------------------------------------------------------ txn ---

-- Go's Argify: "double quoted" (Go escapes), 'single quoted', or bare words
local function argify(s)
  local args, i, n = {}, 1, #s
  while i <= n do
    local c = s:sub(i, i)
    if c:match("%s") then
      i = i + 1
    elseif c == '"' then
      local j = i + 1
      while j <= n do
        local d = s:sub(j, j)
        if d == "\\" then j = j + 2 elseif d == '"' then break else j = j + 1 end
      end
      local q = s:sub(i + 1, j - 1)
      q = q:gsub("\\(.)", { n = "\n", t = "\t", r = "\r", ['"'] = '"', ["\\"] = "\\" })
      args[#args + 1] = q
      i = j + 1
    elseif c == "'" then
      local j = s:find("'", i + 1, true) or n + 1
      args[#args + 1] = s:sub(i + 1, j - 1)
      i = j + 1
    else
      local j = s:find("%s", i) or n + 1
      args[#args + 1] = s:sub(i, j - 1)
      i = j
    end
  end
  return args
end

local CMP_TARGET = { ver = "version", version = "version", c = "create", create = "create", m = "mod", mod = "mod",
                     val = "value", value = "value", lease = "lease" }

-- Go's fmt %q scanning: a "double-quoted" string with Go escapes or a
-- `raw` one at s[i] (after spaces); returns the string and the next index
local GO_ESC = { a = "\a", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", v = "\v", ["\\"] = "\\",
                 ['"'] = '"', ["'"] = "'" }
local function scan_quoted(s, i)
  i = s:find("[^ \t]", i) or #s + 1
  local q = s:sub(i, i)
  if q == "`" then
    local j = s:find("`", i + 1, true)
    if not j then return nil end
    return s:sub(i + 1, j - 1), j + 1
  end
  if q ~= '"' then return nil end
  local buf, j = {}, i + 1
  while j <= #s do
    local c = s:sub(j, j)
    if c == '"' then return table.concat(buf), j + 1 end
    if c == "\\" then
      local d = s:sub(j + 1, j + 1)
      if GO_ESC[d] then buf[#buf + 1] = GO_ESC[d]; j = j + 2
      elseif d == "x" and s:sub(j + 2, j + 3):match("^%x%x$") then
        buf[#buf + 1] = string.char(tonumber(s:sub(j + 2, j + 3), 16)); j = j + 4
      elseif d:match("[0-7]") and s:sub(j + 1, j + 3):match("^[0-7][0-7][0-7]$") then
        local n = tonumber(s:sub(j + 1, j + 3), 8)
        if n > 255 then return nil end
        buf[#buf + 1] = string.char(n); j = j + 4
      elseif d == "u" and s:sub(j + 2, j + 5):match("^%x%x%x%x$") then
        buf[#buf + 1] = utf8.char(tonumber(s:sub(j + 2, j + 5), 16)); j = j + 6
      elseif d == "U" and s:sub(j + 2, j + 9):match("^%x%x%x%x%x%x%x%x$") then
        local cp = tonumber(s:sub(j + 2, j + 9), 16)
        if cp > 0x10ffff then return nil end
        buf[#buf + 1] = utf8.char(cp); j = j + 10
      else
        return nil
      end
    elseif c == "\n" then
      return nil
    else
      buf[#buf + 1] = c; j = j + 1
    end
  end
  return nil
end

local CMP_TARGET = { ver = "version", version = "version", c = "create", create = "create", m = "mod", mod = "mod",
                     val = "value", value = "value", lease = "lease" }

-- etcdctl's ParseCompare: TARGET("KEY") OP "VALUE", scanned as fmt.Sscanf(rest, "%q) %s %q")
local function parse_compare(line)
  local target, rest = line:match("^([^(]*)%((.*)$")
  if not target then fail(EXIT_INVALID_INPUT, "malformed comparison: %s", line) end
  local key, op, val = "", "", ""
  local n, i = 0, 1
  local k, j = scan_quoted(rest, i)
  if k then
    key, n, i = k, 1, j
    if rest:sub(i, i) == ")" then
      i = rest:find("[^ \t]", i + 1) or #rest + 1
      local o2 = rest:match("^[^ \t\n]+", i)
      if o2 then
        op, n, i = o2, 2, i + #o2
        local v, _ = scan_quoted(rest, i)
        if v then val, n = v, 3 end
      end
    end
  end
  if n ~= 3 then
    fail(EXIT_INVALID_INPUT, "malformed comparison: %s; got %s(%s) %s %s", line, target, ctl.quote(key), op, ctl.quote(val))
  end
  local t = CMP_TARGET[target]
  if not t then fail(EXIT_INVALID_INPUT, "malformed comparison: %s (unknown target %s)", line, target) end
  if op ~= "=" and op ~= "!=" and op ~= "<" and op ~= ">" then
    fail(EXIT_INVALID_INPUT, "malformed comparison: %s (unknown op %s)", line, op)
  end
  local value = val
  if t ~= "value" then
    local ok = val:match(t == "lease" and "^[+-]?%x+$" or "^[+-]?%d+$")
    value = ok and (t == "lease" and tonumber(val, 16) or math.tointeger(tonumber(val)))
    if not value then fail(EXIT_INVALID_INPUT, "invalid txn compare request: %s", line) end
  end
  return { key = key, target = t, result = op, value = value }
end

local function sub_flags(cmd, words)
  local specs = COMMANDS[cmd]
  local vals, changed, pos = {}, {}, {}
  for _, w in ipairs(words) do
    local name, v = w:match("^%-%-([^=]+)=(.*)$")
    name = name or w:match("^%-%-(.+)$")
    if name then
      local s = specs[name]
      if not s then return nil end
      vals[name] = convert(name, s, v or (s[1] == "bool" and "true") or "")
      changed[name] = true
    else
      pos[#pos + 1] = w
    end
  end
  local o = {}
  for name, s in pairs(specs) do if changed[name] then o[name] = vals[name] else o[name] = s[2] end end
  return o, pos
end

local function parse_op(line)
  local args = argify(line)
  if #args < 2 then fail(EXIT_INVALID_INPUT, "invalid txn compare request: %s", line) end
  local cmd = args[1]
  if not (cmd == "get" or cmd == "put" or cmd == "del") then fail(EXIT_INVALID_INPUT, "invalid txn request: %s", line) end
  local o, pos = sub_flags(cmd, { table.unpack(args, 2) })
  if not o then fail(EXIT_INVALID_INPUT, "invalid txn request: %s", line) end
  if cmd == "get" then
    local req = get_op(o, pos)
    local key = req.key
    req.key = nil
    return { "get", key, req }
  elseif cmd == "put" then
    local key, value, opts = put_op(o, pos, false)
    return { "put", key, value, opts }
  else
    local key, opts = del_op(o, pos)
    return { "del", key, opts }
  end
end

function run.txn(o, args)
  if #args ~= 0 then fail(EXIT_BAD_ARGS, "txn command does not accept argument") end
  local c = connect(o)
  local function section(prompt, parse_line)
    if o.interactive then out(prompt .. "\n"); io.stdout:flush() end
    local list = {}
    while true do
      local line = io.stdin:read("L")
      if not line or line:sub(-1) ~= "\n" then fail(EXIT_INVALID_INPUT, "EOF") end
      line = line:match("^%s*(.-)%s*$")
      if line == "" then break end
      list[#list + 1] = parse_line(line)
    end
    return list
  end
  local t = {}
  t.compare = section("compares:", parse_compare)
  t.success = section("success requests (get, put, del):", parse_op)
  t.failure = section("failure requests (get, put, del):", parse_op)
  printer_of(o)
  display(o, "txn", call(c:txn(t)))
end

-- ---------------------------------------------------------------- watch ---

function run.watch(o, args, after_dash, dash)
  if o.interactive then fail(EXIT_BAD_ARGS, "kscript etcd: watch -i is not supported") end
  local env_key, env_range = os.getenv("ETCDCTL_WATCH_KEY") or "", os.getenv("ETCDCTL_WATCH_RANGE_END") or ""
  if env_key == "" and env_range ~= "" then
    fail(EXIT_BAD_ARGS, "ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END=%s", ctl.quote(env_range))
  end
  local exec
  local wargs = {}
  local nbefore = #args - #after_dash
  for i = 1, nbefore do wargs[#wargs + 1] = args[i] end
  if dash then
    if #after_dash == 0 then fail(EXIT_BAD_ARGS, "bad number of arguments: '--' was given but no command after it") end
    exec = after_dash
  end
  if env_key ~= "" then
    if #wargs > 0 then fail(EXIT_BAD_ARGS, "conflicting environment variable: ETCDCTL_WATCH_KEY is set but the key was given as an argument") end
    wargs = { env_key }
    if env_range ~= "" then wargs[2] = env_range end
  end
  if #wargs < 1 then fail(EXIT_BAD_ARGS, "bad number of arguments") end
  local key = wargs[1]
  local wo = { start_revision = o.rev > 0 and o.rev or nil, prev_kv = o["prev-kv"] or nil,
               progress_notify = o["progress-notify"] or nil }
  if #wargs == 2 then
    if o.prefix then fail(EXIT_BAD_ARGS, "`range_end` and `--prefix` are mutually exclusive") end
    wo.range_end = wargs[2]
  end
  if o.prefix then
    if key == "" then key, wo.range_end = "\0", "\0" else wo.prefix = true end
  end
  local p, w = printer_of(o)
  if not p or not p.watch then fail(EXIT_BAD_FEATURE, "%s not supported as output format", w) end
  local c = connect(o)
  local watcher = c:watcher(key, wo)
  local ok, e
  if not exec and not o.hex and (w == "simple" or w == "json") then
    -- the events' text written in C from the responses (ksh.etcdpb.watch_printer)
    local printer = pb.watch_printer(w)
    ok, e = pcall(function()
      while true do
        local text, ev = watcher:next_output(printer)
        if text == nil then break end
        if text then
          out(text)
        else
          out(("progress notify: %d\n"):format(ev.revision))
          p.watch(out, { header = ev.header, events = {} }, {})
        end
        io.stdout:flush()
      end
    end)
  else ok, e = pcall(function()
    while true do
      local ev = watcher:next()
      if not ev then break end
      local resp
      if ev.type == "PROGRESS" then
        out(("progress notify: %d\n"):format(ev.revision))
        resp = { header = ev.header, events = {} }
      else
        -- one WatchResponse: the events that came with this one
        resp = { header = ev.header, events = { ev } }
        while watcher:pending() > 0 do resp.events[#resp.events + 1] = watcher:next() end
      end
      p.watch(out, resp, { hex = o.hex })
      io.stdout:flush()
      for _, ev in ipairs(exec and resp.events or {}) do
        local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
        local envs = ("ETCD_WATCH_REVISION=%d ETCD_WATCH_EVENT_TYPE=%s ETCD_WATCH_KEY=%s ETCD_WATCH_VALUE=%s")
          :format(resp.header and resp.header.revision or ev.revision, q(ctl.quote(ev.type)), q(ctl.quote(ev.kv.key)), q(ctl.quote(ev.kv.value or "")))
        local words = {}
        for i, a in ipairs(exec) do words[i] = q(a) end
        local okx, how, code = os.execute("env " .. envs .. " " .. table.concat(words, " "))
        if not okx then
          local cmdq = {}
          for i, a in ipairs(exec) do cmdq[i] = ctl.quote(a) end
          error(setmetatable({ code = EXIT_ERROR, raw = true, message = ("command [%s] error (%s)")
            :format(table.concat(cmdq, " "), how == "exit" and "exit status " .. code or "signal: " .. tostring(code)) },
            Fail), 0)
        end
      end
    end
  end) end
  watcher:close()
  if not ok then
    if getmetatable(e) == Fail or ksh.is_interrupt(e) then error(e, 0) end
    if type(e) == "table" and e.kind == "compacted" then
      io.stderr:write(("watch was canceled (etcdserver: mvcc: required revision has been compacted)\n"))
      fail(EXIT_INTERRUPTED, "watch is canceled by the server")
    end
    world(e)
  end
  fail(EXIT_INTERRUPTED, "watch is canceled by the server")
end

-- ----------------------------------------------------------------- main ---

local function main()
  for _, w in ipairs(argv) do
    if w == "-h" or w == "--help" then
      out((require "ksh.cmd").usage("etcd") .. "\n")
      return 0
    end
    if w == "--" or not w:match("^%-") then break end
  end
  -- --api N (kscript's) or ETCDCTL_API=N: 2 is etcdctl 3.4's v2 command set (lua/etcd/ctl2.lua)
  local api = os.getenv("ETCDCTL_API")
  for i = 1, #argv do
    local w = argv[i]
    if w == "--" or (not w:match("^%-") and COMMANDS[w]) then break end
    local v = w:match("^%-%-api=(.*)$")
    if v then api = v; table.remove(argv, i); break end
    if w == "--api" and argv[i + 1] then api = argv[i + 1]; table.remove(argv, i); table.remove(argv, i); break end
  end
  if api == "2" then return require("etcd.ctl2").run(argv) end
  if api and api ~= "" and api ~= "3" then
    fail(EXIT_ERROR, "kscript etcd: unknown API version %s (2 or 3)", api)
  end
  local cmd, vals, changed, pos, after_dash, dash = parse(argv)
  if not cmd then
    io.stderr:write("usage: kscript etcd [global flags] COMMAND [flags] [args]   (kscript help etcd)\n")
    return 2
  end
  local o = flags_of(cmd, vals, changed)
  o._changed = changed
  if o.user ~= "" and o.password ~= "" and o.user:find(":", 1, true) then
    fail(EXIT_BAD_ARGS, "username[:password] and password cannot be set at the same time")
  end
  local w = o["write-out"]
  if not PRINTERS[w] and w ~= "table" then fail(EXIT_BAD_FEATURE, "unsupported output format") end
  if o.snapshot ~= "" and cmd ~= "get" then
    fail(EXIT_BAD_ARGS, "--snapshot FILE reads a snapshot file: only `get` works on it, not `%s`", cmd)
  end
  return run[cmd](o, pos, after_dash, dash)
end

local ok, e = pcall(main)
io.stdout:flush()
if ok then return e end
if getmetatable(e) == Fail then
  io.stderr:write((e.raw and "" or "Error: ") .. e.message .. "\n")
  return e.code
end
error(e, 0)
