-- etcd-usage: where etcd's space goes, by resource type and by namespace
-- usage: kscript etcd-usage [--snapshot FILE] [--prefix /registry] [-o json]
--          [--top N] [--endpoints URLS] [--cacert FILE] [--cert FILE] [--key FILE]
--          [--command-timeout DUR] [--force]
--   Reads every key under the prefix at one revision (a live etcd, or an
--   `etcdctl snapshot save` file with --snapshot) and prints:
--     * the database: size on disk and in use, the quota, the current
--       revision, the last compaction and how many revisions etcd keeps since
--       it (what `etcdctl compaction` would free);
--     * by resource type (the key's path under the prefix: pods,
--       services/specs, apiregistration.k8s.io/apiservices, ...): keys, bytes
--       of the current values, their share, the largest value;
--     * by namespace (namespaced objects only);
--     * the N largest values (--top, default 10).
--   Sorted by bytes.  On a terminal sizes are human (KiB, MiB) with
--   proportional bars; piped, plain columns of whole numbers.
--   -o json: the same numbers as one JSON document.
--   The first thing to run when etcd says "database space exceeded".
local args = require "ksh.args"
local ksh = require "ksh"
local json = require "json"
local sys = require "ksh.sys"
local storage = require "k8s.storage"

local o, rest = args.parse(arg, require("etcd.flags").add({
  { nil, "prefix", value = true, default = "/registry" },
  { "o", "output", value = true },
  { nil, "top", value = true, number = true, default = 10 },
  { "h", "help" },
}))
if o.help then print(require("ksh.cmd").usage("etcd-usage")); return end
if #rest > 0 then ksh.usage("etcd-usage: unexpected argument %q", rest[1]) end
if o.output and o.output ~= "json" and o.output ~= "table" then
  ksh.usage("etcd-usage: unsupported output format %q (json)", o.output)
end
if o.top < 0 then ksh.usage("etcd-usage: --top needs a number >= 0") end
local prefix = storage.clean_prefix(o.prefix)

-- a live etcd or a snapshot file, with dump-keys' flags (etcd.flags)
local db, live = require("etcd.flags").open(o, "etcd-usage")

-- ---------------------------------------------------------------- the scan
local types, spaces = {}, {}
local total = { keys = 0, bytes = 0, key_bytes = 0 }
local top = {} -- the o.top largest values, smallest first
local function bucket(t, name)
  local b = t[name]
  if not b then b = { name = name, keys = 0, bytes = 0, largest = 0, largest_key = nil }; t[name] = b end
  return b
end
local function add(kv)
  local key, n = kv.key, #kv.value
  local p = storage.parse_key(key, prefix)
  local ty = p and p.resource_prefix or (key:sub(#prefix + 2):match("^[^/]*") or key)
  local b = bucket(types, ty)
  b.keys, b.bytes = b.keys + 1, b.bytes + n
  if n > b.largest then b.largest, b.largest_key = n, key end
  if p and p.namespace then
    local s = bucket(spaces, p.namespace)
    s.keys, s.bytes = s.keys + 1, s.bytes + n
    if n > s.largest then s.largest, s.largest_key = n, key end
  end
  total.keys, total.bytes, total.key_bytes = total.keys + 1, total.bytes + n, total.key_bytes + #key
  if o.top > 0 and (#top < o.top or n > top[1].bytes) then
    if #top == o.top then table.remove(top, 1) end
    local i = #top + 1
    while i > 1 and top[i - 1].bytes > n do i = i - 1 end
    table.insert(top, i, { key = key, bytes = n })
  end
end

local scan_prefix = prefix == "/" and "/" or prefix .. "/"
-- one revision, bounded memory: the live client's scanner, or the
-- snapshot's (the same shape)
local sc = db:scanner(scan_prefix, {})
for kv in sc:kvs() do add(kv) end
local revision = sc.header and sc.header.revision or sc.revision

-- ---------------------------------------------------------------- the database
local info = { prefix = prefix, revision = revision }
if live then
  local st = live:status()
  if st then
    info.db_size, info.db_size_in_use, info.db_size_quota = st.dbSize, st.dbSizeInUse, st.dbSizeQuota
    revision = revision or (st.header and st.header.revision)
    info.revision = revision
  end
  -- the last compaction: the oldest revision a Range still answers, found by
  -- bisection (about log2(revision) count-only requests)
  if revision and revision > 1 then
    local lo, hi = 1, math.tointeger(revision)
    local function readable(r)
      local res, err = live:get(scan_prefix, { prefix = true, count_only = true, revision = r })
      if res then return true end
      if err.kind == "compacted" then return false end
      error(err, 0)
    end
    if not readable(lo) then
      while hi - lo > 1 do
        local mid = (lo + hi) // 2
        if readable(mid) then hi = mid else lo = mid end
      end
      info.compact_revision = hi
    else
      info.compact_revision = 0
    end
    info.revisions_kept = math.tointeger(revision) - info.compact_revision
  end
else
  -- a snapshot file knows its last compaction; its size is the database's
  local f = io.open(o.snapshot, "rb")
  if f then info.db_size = f:seek("end"); f:close() end
  info.compact_revision = db.compact_revision
  revision = revision or db.revision
  info.revision = revision
  if info.compact_revision and revision then
    info.revisions_kept = math.tointeger(revision) - math.tointeger(info.compact_revision)
  end
end

local function sorted(t)
  local out = {}
  for _, b in pairs(t) do out[#out + 1] = b end
  table.sort(out, function(a, b)
    if a.bytes ~= b.bytes then return a.bytes > b.bytes end
    return a.name < b.name
  end)
  return out
end
local by_type, by_ns = sorted(types), sorted(spaces)
local largest = {}
for i = #top, 1, -1 do largest[#largest + 1] = top[i] end

local out = io.stdout
if o.output == "json" then
  local function rows(list, field)
    local arr = json.array({})
    for i, b in ipairs(list) do
      arr[i] = { [field] = b.name, keys = b.keys, bytes = b.bytes,
                 largest = b.largest_key and { key = b.largest_key, bytes = b.largest } or nil }
    end
    return arr
  end
  local lt = json.array({})
  for i, t in ipairs(largest) do lt[i] = t end
  info.total = total
  info.types = rows(by_type, "type")
  info.namespaces = rows(by_ns, "namespace")
  info.largest = lt
  out:write(json.encode(info, { indent = 2, sort_keys = true }), "\n")
  return 0
end

-- ---------------------------------------------------------------- the tables
local tty = sys.isatty(1)
local function size(n)
  if not tty then return tostring(n) end
  if n < 1024 then return ("%d B"):format(n) end
  local units = { "KiB", "MiB", "GiB", "TiB" }
  local v, u = n / 1024, 1
  while v >= 1024 and u < #units do v, u = v / 1024, u + 1 end
  return ("%.1f %s"):format(v, units[u])
end
local function pct(n, of)
  if of == 0 then return "0.0%" end
  return ("%.1f%%"):format(100 * n / of)
end
local BAR = 24
local function bar(n, max)
  if max == 0 then return "" end
  local eighths = math.floor(n * BAR * 8 / max + 0.5)
  local blocks = { "▏", "▎", "▍", "▌", "▋", "▊", "▉" }
  local s = ("█"):rep(eighths // 8)
  if eighths % 8 > 0 then s = s .. blocks[eighths % 8] end
  return s
end
local function esc(s) return (s:gsub("[%c\127]", function(c) return ("\\x%02x"):format(c:byte()) end)) end

local function render(header, rows)
  local w = {}
  for _, r in ipairs({ header, table.unpack(rows) }) do
    for i, c in ipairs(r) do
      local len = utf8.len(c) or #c
      if len > (w[i] or 0) then w[i] = len end
    end
  end
  local right = header.right or {}
  local function line(r)
    local parts = {}
    for i, c in ipairs(r) do
      local pad = (" "):rep(w[i] - (utf8.len(c) or #c))
      if i == #r then parts[i] = right[i] and pad .. c or c
      else parts[i] = right[i] and pad .. c or c .. pad end
    end
    out:write((table.concat(parts, "   "):gsub("%s+$", "")), "\n")
  end
  line(header)
  for _, r in ipairs(rows) do line(r) end
end

local function section(title, list, col)
  if tty then out:write("\n") end
  if not tty and title then out:write("\n") end
  local max = list[1] and list[1].bytes or 0
  local rows = {}
  for _, b in ipairs(list) do
    local r = { esc(b.name), tostring(b.keys), size(b.bytes), pct(b.bytes, total.bytes),
                b.largest_key and size(b.largest) or "" }
    if tty then r[#r + 1] = bar(b.bytes, max) end
    rows[#rows + 1] = r
  end
  local header = { col, "KEYS", "BYTES", "SHARE", "LARGEST" }
  if tty then header[#header + 1] = "" end
  header.right = { false, true, true, true, true }
  render(header, rows)
end

local function num(v) return v and tostring(math.tointeger(v) or v) or "-" end
if info.db_size then
  out:write(("database: %s on disk%s%s\n"):format(size(info.db_size),
    info.db_size_in_use and (", " .. size(info.db_size_in_use) .. " in use") or "",
    info.db_size_quota and info.db_size_quota > 0 and (", quota " .. size(info.db_size_quota) ..
      " (" .. pct(info.db_size, info.db_size_quota) .. " used)") or ""))
end
if info.compact_revision == 0 then
  out:write(("revision %s, never compacted: etcd keeps all %s revisions\n"):format(num(info.revision), num(info.revisions_kept)))
else
  out:write(("revision %s, compacted at %s, %s revisions kept since\n"):format(num(info.revision),
    num(info.compact_revision), num(info.revisions_kept)))
end
out:write(("%s: %d keys, %s of values, %s of keys\n"):format(esc(prefix), total.keys, size(total.bytes), size(total.key_bytes)))
section("types", by_type, "TYPE")
if #by_ns > 0 then section("namespaces", by_ns, "NAMESPACE") end
if #largest > 0 then
  out:write("\n")
  local rows = {}
  for _, t in ipairs(largest) do rows[#rows + 1] = { size(t.bytes), esc(t.key) } end
  render({ "BYTES", "KEY", right = { true, false } }, rows)
end
return 0
