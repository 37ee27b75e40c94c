-- etcd-mirror: keep a directory equal to an etcd prefix, resuming after restarts
-- usage: etcd-mirror PREFIX DIR [flags]
--   --endpoints URLS         comma-separated (default: $ETCDCTL_ENDPOINTS, 127.0.0.1:2379)
--   --cacert F, --cert F, --key F   TLS (default: $ETCDCTL_CACERT, ...)
--   --once                   copy the prefix once and exit (no watch)
--   --timeout DUR            stop after DUR (30s, 5m), status 0
--
-- One file per key under PREFIX, named by the rest of the key with every
-- byte other than A-Z a-z 0-9 . _ - written as %XX ("/" too, and a leading
-- "."), so any key maps to one plain file name and back; the file holds the
-- value, byte for byte.  Files are written atomically (a temp file renamed
-- over the old one) and deleted keys are removed.  DIR/.etcd-mirror records
-- the prefix and the revision the directory reflects, written after each
-- watch response has been applied; after a restart the watch resumes from
-- that revision + 1, so changes made while it was down arrive in order.  If
-- that revision is compacted (or DIR is new), it copies the prefix at the
-- current revision and removes the files of keys that are gone.
--   kscript etcd-mirror /registry/configmaps/ ./cm --endpoints http://127.0.0.1:2379
local args = require "ksh.args"
local ksh = require "ksh"
local loop = require "ksh.loop"
local etcd = require "etcd"
local proc = require "ksh.proc"
local sys = require "ksh.sys"

local o, rest = args.parse(arg, {
  { nil, "endpoints", value = true },
  { nil, "cacert", value = true },
  { nil, "cert", value = true },
  { nil, "key", value = true },
  { nil, "once" },
  { nil, "timeout", value = true },
})
if #rest ~= 2 then ksh.usage("PREFIX and DIR expected (kscript help etcd-mirror)") end
local prefix, dir = rest[1], (rest[2]:gsub("(.)/+$", "%1"))
if prefix == "" then ksh.usage("PREFIX must not be empty") end
local timeout
if o.timeout then
  local err
  timeout, err = sys.parse_duration(o.timeout)
  if not timeout then ksh.usage("--timeout: %s", tostring(err)) end
end

local c = assert(etcd.connect { endpoints = o.endpoints, cacert = o.cacert, cert = o.cert, key = o.key })

local STATE = dir .. "/.etcd-mirror"

-- ---------------------------------------------------------------- names
local function encode(rel)
  local s = rel:gsub("[^%w._-]", function(ch) return ("%%%02X"):format(ch:byte()) end)
  s = s:gsub("^%.", "%%2E")
  if s == "" then s = "%" end -- the key PREFIX itself
  return s
end

local function name_of(key) return encode(key:sub(#prefix + 1)) end

local function hex(s) return (s:gsub(".", function(ch) return ("%02x"):format(ch:byte()) end)) end

-- ---------------------------------------------------------------- files
local function fail(msg, path)
  error(ksh.error("io", msg, { path = path }), 0)
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local pid = sys.pid()
-- write path atomically: a temp file in the same directory renamed over it
local function write_file(path, data)
  local tmp = ("%s/.tmp-%d"):format(dir, pid)
  local f, err = io.open(tmp, "wb")
  if not f then fail("etcd-mirror: " .. tostring(err), tmp) end
  local ok, werr = f:write(data)
  if ok then ok, werr = f:close() else f:close() end
  if not ok then os.remove(tmp); fail("etcd-mirror: " .. tmp .. ": " .. tostring(werr), tmp) end
  local rok, rerr = os.rename(tmp, path)
  if not rok then os.remove(tmp); fail("etcd-mirror: " .. tostring(rerr), path) end
end

local function put(kv)
  local path = dir .. "/" .. name_of(kv.key)
  if read_file(path) ~= kv.value then write_file(path, kv.value) end
end

local function del(kv)
  local path = dir .. "/" .. name_of(kv.key)
  local ok, err, code = os.remove(path)
  if not ok and code ~= 2 then fail("etcd-mirror: " .. tostring(err), path) end
end

local function save_state(rev)
  write_file(STATE, ("kscript etcd-mirror\nprefix %s\nrevision %d\n"):format(hex(prefix), rev))
end

local function load_state()
  local s = read_file(STATE)
  if not s then return nil end
  local p, rev = s:match("\nprefix (%x*)\nrevision (%d+)\n")
  if p ~= hex(prefix) then return nil end
  return math.tointeger(tonumber(rev))
end

local function listdir()
  local r, err = proc.run { argv = { "ls", "-A", "--", dir } }
  if not r then error(err, 0) end
  if r.status ~= 0 then fail("etcd-mirror: ls " .. dir .. ": " .. r.stderr, dir) end
  local out = {}
  for name in r.stdout:gmatch("[^\n]+") do out[#out + 1] = name end
  return out
end

-- ---------------------------------------------------------------- sync
-- copy the prefix at one revision, remove what is gone; -> that revision
local function full_sync()
  local keep = {}
  local sc = c:scanner(prefix)
  for kv in sc:kvs() do
    local name = name_of(kv.key)
    keep[name] = true
    put(kv)
  end
  for _, name in ipairs(listdir()) do
    if name:sub(1, 1) ~= "." and not keep[name] then os.remove(dir .. "/" .. name) end
  end
  save_state(sc.revision)
  return sc.revision
end

local r, merr = proc.run { argv = { "mkdir", "-p", "--", dir } }
if not r then error(merr, 0) end
if r.status ~= 0 then fail("etcd-mirror: mkdir " .. dir .. ": " .. r.stderr, dir) end
for _, name in ipairs(listdir()) do -- a temp file left by a killed copy
  if name:match("^%.tmp%-%d+$") then os.remove(dir .. "/" .. name) end
end

if timeout then
  local me = loop.current()
  ksh.after(timeout, function() loop.cancel(me) end)
end

local ok, err = ksh.try(function()
  local rev = not o.once and load_state()
  if rev then
    io.stderr:write(("etcd-mirror: resuming %s from revision %d\n"):format(prefix, rev + 1))
  else
    rev = full_sync()
    io.stderr:write(("etcd-mirror: copied %s at revision %d\n"):format(prefix, rev))
    if o.once then return end
  end
  while true do
    local w <close> = c:watcher(prefix, { prefix = true, start_revision = rev + 1, progress_notify = true })
    local wok, werr = ksh.try(function()
      while true do
        local ev = w:next()
        if ev == nil then return end
        if ev.type == "PUT" then put(ev.kv) elseif ev.type == "DELETE" then del(ev.kv) end
        if ev.revision and ev.revision > rev then rev = ev.revision end
        if w:pending() == 0 then save_state(rev) end
      end
    end)
    if wok then error(ksh.error("closed", "etcd-mirror: the watch ended"), 0) end
    if type(werr) == "table" and werr.kind == "compacted" then
      io.stderr:write(("etcd-mirror: revision %d is compacted; copying %s again\n"):format(rev + 1, prefix))
      rev = full_sync()
    else
      error(werr, 0)
    end
  end
end)
if not ok then
  if type(err) == "table" and err.kind == "cancelled" and timeout then return 0 end
  error(err, 0)
end
return 0
