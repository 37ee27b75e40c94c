-- dump-keys: dump every key under a prefix (default /registry) from etcd
-- usage: kscript dump-keys [PREFIX] [--values] [--count] [--raw] [--page N] [--rev N]
--          [--decode [-o json|yaml]]
--          [--endpoints URLS] [--cacert FILE] [--cert FILE] [--key FILE]
--          [--command-timeout DUR] [--snapshot FILE [--force]]
--   Every key under PREFIX, one per line, in etcd's (byte) order, read at one
--   revision over etcd's native gRPC.  A key holding a newline, a backslash
--   or bytes that are not printable UTF-8 is written with C escapes (\n, \\,
--   \xff) so each line is one key; --raw writes the bytes as stored.
--   --values  each key's line is followed by a line with its value (escaped
--             the same way unless --raw)
--   --count   keys and value bytes per resource type (the path segment after
--             PREFIX), then the total
--   --page N  keys per Range request (default: one Range, decoded as it
--             streams in, so memory stays bounded)
--   --command-timeout DUR  fail when the server sends nothing for DUR
--             (default 30s: a paused or stuck etcd is an error, never a hang)
--   --rev N   read at revision N (refused below the last compaction)
--   --snapshot FILE  read a file of `etcdctl snapshot save` (or a stopped
--             member's member/snap/db) instead of a server: the same output,
--             no etcd needed; --force reads the db of a running member
--             (which may be half written)
--   --decode  values as Kubernetes' API server returns them (k8s.decode:
--             protobuf and JSON values, metadata.resourceVersion from the
--             key's revision): each key's line is followed by the object's
--             compact JSON; with -o json (indented, a blank line between)
--             or -o yaml (documents after "---" lines) only the objects.
--             A value that does not decode is written as it is (escaped)
--             and the reason goes to stderr.
--   The endpoints and certificates default to ETCDCTL_ENDPOINTS,
--   ETCDCTL_CACERT, ETCDCTL_CERT and ETCDCTL_KEY.
local etcd = require "etcd"
local pb = require "ksh.etcdpb"
local sys = require "ksh.sys"

local args = { ... }
local o = {}
local prefix
local i = 1
local function value_of(name)
  local a = args[i]
  local v = a:match("^%-%-[%w-]+=(.*)$")
  if v then return v end
  i = i + 1
  if args[i] == nil then ksh.usage("dump-keys: %s needs a value", name) end
  return args[i]
end
while i <= #args do
  local a = args[i]
  local name = a:match("^(%-%-[%w-]+)")
  if a == "--values" then o.values = true
  elseif a == "--count" then o.count = true
  elseif a == "--raw" then o.raw = true
  elseif a == "--force" then o.force = true
  elseif name == "--snapshot" then o.snapshot = value_of(name)
  elseif name == "--rev" then
    o.rev = math.tointeger(tonumber(value_of(name)))
    if not o.rev or o.rev < 0 then ksh.usage("dump-keys: --rev needs a revision") end
  elseif a == "--decode" then o.decode = true
  elseif name == "-o" or name == "--output" or a == "-o" or a:match("^%-o.") then
    if a == "-o" or name then o.output = value_of(a == "-o" and "-o" or name)
    else o.output = a:sub(3) end
    if o.output ~= "json" and o.output ~= "yaml" then ksh.usage("dump-keys: -o json or -o yaml") end
  elseif name == "--endpoints" then o.endpoints = value_of(name)
  elseif name == "--cacert" then o.cacert = value_of(name)
  elseif name == "--cert" then o.cert = value_of(name)
  elseif name == "--key" then o.key = value_of(name)
  elseif name == "--command-timeout" then
    local v = value_of(name)
    o.timeout = sys.parse_duration(v)
    if not o.timeout or o.timeout <= 0 then ksh.usage("dump-keys: --command-timeout needs a duration (10s, 2m), got %q", v) end
  elseif name == "--page" then
    o.page = tonumber(value_of(name))
    if not o.page or o.page < 0 or o.page % 1 ~= 0 then ksh.usage("dump-keys: --page needs a number of keys") end
  elseif a == "-h" or a == "--help" then
    print((require "ksh.cmd").usage("dump-keys"))
    return
  elseif a:sub(1, 2) == "--" then ksh.usage("dump-keys: unknown option %s", a)
  elseif prefix then ksh.usage("dump-keys: one PREFIX only (got %q and %q)", prefix, a)
  else prefix = a end
  i = i + 1
end
prefix = prefix or "/registry"
if o.output and not o.decode then ksh.usage("dump-keys: -o is for --decode") end
if o.decode and (o.count or o.raw) then ksh.usage("dump-keys: --decode goes with neither --count nor --raw") end

if o.endpoints then
  local ok, why = etcd.split_endpoints(o.endpoints)
  if not ok then ksh.usage("dump-keys: --endpoints: %s", why) end
end
local c, cerr
if o.snapshot then
  if o.endpoints or o.page then ksh.usage("dump-keys: --snapshot reads a file: no --endpoints or --page") end
  c, cerr = etcd.snapshot(o.snapshot, { rev = o.rev, force = o.force })
else
  c, cerr = etcd.connect { endpoints = o.endpoints, cacert = o.cacert, cert = o.cert, key = o.key,
                           timeout = o.timeout }
end
if not c then error(cerr, 0) end
local progress = sys.isatty(2)
-- the plain listing without a progress line: printed by C as the response
-- arrives (ksh.etcdpb.output), from the response's bytes to stdout
local printer = not (o.count or o.decode or progress) and pb.output("lines", o.values, o.raw) or nil
local sc = c:scanner(prefix, { keys_only = not (o.values or o.count or o.decode), page = o.page, revision = o.rev,
                               output = not o.snapshot and printer or nil })
local out = io.stdout
out:setvbuf("full", 1 << 16)

local t0, shown, n = now(), nil, 0
local function show(done)
  if not progress then return end
  local t = now()
  if done then
    if shown then io.stderr:write("\r\27[K") end
  elseif t - t0 > 1 and (not shown or t - shown > 0.5) then
    shown = t
    io.stderr:write(("\rdump-keys: %d keys%s"):format(n, sc.count and (" of %d"):format(sc.count) or ""))
  end
end

if o.count then
  local counts, bytes, order = {}, {}, {}
  local total, tbytes = 0, 0
  local skip = #prefix + 1
  for rec in sc:records() do
    for _, kv in ipairs(assert(pb.kvs(rec))) do
      local rest = kv.key:sub(skip):gsub("^/", "")
      local ty = rest:match("^[^/]*")
      if not counts[ty] then counts[ty], bytes[ty] = 0, 0; order[#order + 1] = ty end
      counts[ty] = counts[ty] + 1
      bytes[ty] = bytes[ty] + #kv.value
      total, tbytes = total + 1, tbytes + #kv.value
    end
    n = total
    show()
  end
  show(true)
  local w = 5
  for _, ty in ipairs(order) do w = math.max(w, #pb.escape(ty)) end
  out:write(("%-" .. w .. "s %10s %14s\n"):format("TYPE", "KEYS", "VALUE_BYTES"))
  for _, ty in ipairs(order) do
    out:write(("%-" .. w .. "s %10d %14d\n"):format((pb.escape(ty)), counts[ty], bytes[ty]))
  end
  out:write(("%-" .. w .. "s %10d %14d\n"):format("TOTAL", total, tbytes))
elseif o.decode then
  local codec = require "k8s.codec"
  local first = true
  for rec in sc:records() do
    for _, kv in ipairs(assert(pb.kvs(rec))) do
      n = n + 1
      local text, err
      if o.output then text, err = codec.decode(kv) else text, err = codec.decode_text(kv) end
      if not text then
        io.stderr:write("dump-keys: ", tostring(err.message), "\n")
        if not o.output then out:write(pb.escape(kv.key), "\n", pb.escape(kv.value), "\n") end
      elseif o.output == "json" then
        out:write(first and "" or "\n", json.encode(text, { indent = 4 }), "\n")
        first = false
      elseif o.output == "yaml" then
        out:write("---\n", yaml.encode(text))
      else
        out:write(pb.escape(kv.key), "\n", text, "\n")
      end
    end
    show()
  end
  show(true)
elseif printer then
  local ok, e = pcall(function()
    for rec in sc:records() do -- records reach Lua only from a snapshot file
      local fed, ferr = printer:feed(rec)
      if not fed then error(ferr, 0) end
    end
  end)
  if ok then ok, e = printer:finish() end
  if not ok then
    sc:close()
    if type(e) == "table" and e.kind == "pipe" then return 141 end -- stdout closed: quietly, as a SIGPIPE
    error(e, 0)
  end
else
  local lines, values, raw = pb.lines, o.values, o.raw
  for rec in sc:records() do
    local text, k = assert(lines(rec, values, raw))
    out:write(text)
    n = n + k
    if progress then show() end
  end
  show(true)
end
out:flush()
