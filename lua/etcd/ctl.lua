-- etcd.ctl: etcdctl's (3.6, v3 API) output formats, for scripts/etcd.lua and
-- for scripts that want to print what etcdctl prints.
--
--   local ctl = require "etcd.ctl"
--   ctl.simple.get(out, resp, {hex =, value_only =})      out: a write(s) function
--   ctl.json.get(out, resp)  ctl.fields.get(out, resp, {hex =})
--   (get, put, del, txn, watch for each printer; protobuf for get, put, del, txn)
--   ctl.quote(s) -> Go's strconv.Quote(s)        ctl.hex(s) -> \x41\x42...
-- Responses are the tables lua/etcd.lua returns (header.cluster_id and
-- member_id are decimal strings).
local b64 = require "ksh.b64"
local pb = require "ksh.etcdpb"

local M = {}

--- hex(s): etcdctl's --hex form of a byte string (\x41\x42).
function M.hex(s)
  return (s:gsub(".", function(c) return ("\\x%02x"):format(c:byte()) end))
end

-- Go's strconv.IsPrint, on Go's own tables (lua/etcd/isprint.lua)
local T = require "etcd.isprint"

-- first index i (1-based) with t[i] >= x, or #t + 1
local function bsearch(t, x)
  local lo, hi = 1, #t + 1
  while lo < hi do
    local m = (lo + hi) // 2
    if t[m] < x then lo = m + 1 else hi = m end
  end
  return lo
end

local function in_pairs(t, x)
  local i = bsearch(t, x)
  if i > #t then return false end
  local lo = (i % 2 == 1) and i or i - 1 -- Go's i&^1 with 0-based indices
  return t[lo] <= x and x <= t[lo + 1]
end

local function found(t, x)
  local i = bsearch(t, x)
  return i <= #t and t[i] == x
end

local function printable(r)
  if r <= 0xff then
    if r >= 0x20 and r <= 0x7e then return true end
    if r >= 0xa1 and r <= 0xff then return r ~= 0xad end
    return false
  end
  if r < 0x10000 then
    return in_pairs(T.print16, r) and not found(T.notprint16, r)
  end
  if not in_pairs(T.print32, r) then return false end
  if r >= 0x20000 then return true end
  return not found(T.notprint32, r - 0x10000)
end
M.isprint = printable

local ESC = { [7] = "\\a", [8] = "\\b", [12] = "\\f", [10] = "\\n", [13] = "\\r", [9] = "\\t", [11] = "\\v",
              [34] = '\\"', [92] = "\\\\" }

--- quote(s) -> s as Go's strconv.Quote writes it (%q).
function M.quote(s)
  if not s:find("[^ !#-%[%]-~]") then return '"' .. s .. '"' end
  local out, i, n = { '"' }, 1, #s
  while i <= n do
    local c = s:byte(i)
    if c < 0x80 then
      if ESC[c] then out[#out + 1] = ESC[c]
      elseif c < 0x20 or c == 0x7f then out[#out + 1] = ("\\x%02x"):format(c)
      else out[#out + 1] = string.char(c) end
      i = i + 1
    else
      local len = c >= 0xf0 and 4 or c >= 0xe0 and 3 or c >= 0xc2 and 2 or 0
      local ch = len > 0 and s:sub(i, i + len - 1)
      local ok, cp = false, nil
      if ch and #ch == len and utf8.len(ch) == 1 then
        ok, cp = pcall(utf8.codepoint, ch)
        if ok and (cp < 0x80 or (len == 3 and cp < 0x800) or (len == 4 and (cp < 0x10000 or cp > 0x10ffff))
            or (cp >= 0xd800 and cp <= 0xdfff)) then ok = false end
      end
      if not ok then
        out[#out + 1] = ("\\x%02x"):format(c)
        i = i + 1
      else
        if printable(cp) then out[#out + 1] = ch
        elseif cp < 0x10000 then out[#out + 1] = ("\\u%04x"):format(cp)
        else out[#out + 1] = ("\\U%08x"):format(cp) end
        i = i + len
      end
    end
  end
  out[#out + 1] = '"'
  return table.concat(out)
end

-- ------------------------------------------------------------- simple ---

local simple = {}
M.simple = simple

-- kscript's get --decode: a function kv -> value text (Kubernetes values
-- as the API server's JSON), or nil
local simple_decode
local function simple_kv(out, kv, o)
  local k, v = kv.key or "", kv.value or ""
  if simple_decode and kv.value then v = simple_decode(kv) end
  if o.hex then k, v = M.hex(k), M.hex(v) end
  if o.value_only then out(v .. "\n") else out(k .. "\n" .. v .. "\n") end
end
simple.kv = simple_kv
--- set_decode(fn | nil): values printed as fn(kv) returns them; decoder() -> fn
function simple.set_decode(fn) simple_decode = fn end
function simple.decoder() return simple_decode end

function simple.get(out, r, o)
  for _, kv in ipairs(r.kvs or {}) do simple_kv(out, kv, o) end
end

function simple.put(out, r, o)
  out("OK\n")
  if r.prev_kv then simple_kv(out, r.prev_kv, o) end
end

function simple.del(out, r, o)
  out(("%d\n"):format(r.deleted or 0))
  for _, kv in ipairs(r.prev_kvs or {}) do simple_kv(out, kv, o) end
end

function simple.txn(out, r, o)
  out(r.succeeded and "SUCCESS\n" or "FAILURE\n")
  for _, op in ipairs(r.responses or {}) do
    out("\n")
    if op.op == "get" then simple.get(out, op, o)
    elseif op.op == "put" then simple.put(out, op, o)
    elseif op.op == "del" then simple.del(out, op, o) end
  end
end

-- one WatchResponse: {header, events = {{type, kv, prev_kv}}}
function simple.watch(out, r, o)
  for _, ev in ipairs(r.events or {}) do
    out((ev.type or "PUT") .. "\n")
    if ev.prev_kv then simple_kv(out, ev.prev_kv, o) end
    simple_kv(out, ev.kv or {}, o)
  end
end

-- --------------------------------------------------------------- json ---

local json = {}
M.json = json

-- Go's encoding/json of the gogo structs: fields in .proto order, each
-- omitted when zero (omitempty), bytes as standard base64.
local function jnum(parts, name, v)
  if v ~= nil and v ~= 0 and v ~= "0" then parts[#parts + 1] = ('"%s":%s'):format(name, tostring(v)) end
end

-- kscript's -w json --decode: keys and values as JSON text instead of base64
local decode_text = false
local function jtext(v) return (require "json").encode(v) end

local function jbytes(parts, name, v)
  if v ~= nil and v ~= "" then
    if decode_text then parts[#parts + 1] = ('"%s":%s'):format(name, jtext(v))
    else parts[#parts + 1] = ('"%s":"%s"'):format(name, b64.encode(v)) end
  end
end

--- json.set_decode(on): key and value bytes as text (kscript's --decode)
function json.set_decode(on) decode_text = on and true or false end
--- json.decoding() -> whether set_decode is on
function json.decoding() return decode_text end

function json.header(h)
  if not h then return nil end
  local p = {}
  jnum(p, "cluster_id", h.cluster_id); jnum(p, "member_id", h.member_id)
  jnum(p, "revision", h.revision); jnum(p, "raft_term", h.raft_term)
  return "{" .. table.concat(p, ",") .. "}"
end

local KV_FAST = '{"key":"%s","create_revision":%d,"mod_revision":%d,"version":%d,"value":"%s"}'
local b64encode = b64.encode

function json.kv(kv)
  local key, value, cr, mr, ver, lease = kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease
  if not decode_text and key ~= "" and value and value ~= "" and cr ~= 0 and mr ~= 0 and ver ~= 0
      and (lease == 0 or lease == nil) then
    return KV_FAST:format(b64encode(key), cr, mr, ver, b64encode(value)) -- the common case, in one format
  end
  local p = {}
  jbytes(p, "key", kv.key); jnum(p, "create_revision", kv.create_revision)
  jnum(p, "mod_revision", kv.mod_revision); jnum(p, "version", kv.version)
  jbytes(p, "value", kv.value); jnum(p, "lease", kv.lease)
  return "{" .. table.concat(p, ",") .. "}"
end

local function jkvs(p, name, kvs)
  if kvs and #kvs > 0 then
    local t = {}
    for i, kv in ipairs(kvs) do t[i] = json.kv(kv) end
    p[#p + 1] = ('"%s":[%s]'):format(name, table.concat(t, ","))
  end
end

local function jhdr(p, h)
  local s = json.header(h)
  if s then p[#p + 1] = '"header":' .. s end
end

function json.range(r)
  local p = {}
  jhdr(p, r.header); jkvs(p, "kvs", r.kvs)
  if r.more then p[#p + 1] = '"more":true' end
  jnum(p, "count", r.count)
  return "{" .. table.concat(p, ",") .. "}"
end

function json.put_resp(r)
  local p = {}
  jhdr(p, r.header)
  if r.prev_kv then p[#p + 1] = '"prev_kv":' .. json.kv(r.prev_kv) end
  return "{" .. table.concat(p, ",") .. "}"
end

function json.del_resp(r)
  local p = {}
  jhdr(p, r.header); jnum(p, "deleted", r.deleted); jkvs(p, "prev_kvs", r.prev_kvs)
  return "{" .. table.concat(p, ",") .. "}"
end

function json.txn_resp(r)
  local p = {}
  jhdr(p, r.header)
  if r.succeeded then p[#p + 1] = '"succeeded":true' end
  if r.responses and #r.responses > 0 then
    local t = {}
    for i, op in ipairs(r.responses) do
      local inner
      if op.op == "get" then inner = '"response_range":' .. json.range(op)
      elseif op.op == "put" then inner = '"response_put":' .. json.put_resp(op)
      elseif op.op == "del" then inner = '"response_delete_range":' .. json.del_resp(op)
      else inner = '"response_txn":' .. json.txn_resp(op) end
      t[i] = '{"Response":{' .. inner .. "}}"
    end
    p[#p + 1] = '"responses":[' .. table.concat(t, ",") .. "]"
  end
  return "{" .. table.concat(p, ",") .. "}"
end

function json.get(out, r) out(json.range(r) .. "\n") end
function json.put(out, r) out(json.put_resp(r) .. "\n") end
function json.del(out, r) out(json.del_resp(r) .. "\n") end
function json.txn(out, r) out(json.txn_resp(r) .. "\n") end

-- clientv3.WatchResponse: Header (not omitted), Events, CompactRevision, Canceled, Created
function json.watch(out, r)
  local evs = {}
  for i, ev in ipairs(r.events or {}) do
    local p = {}
    if ev.type == "DELETE" then p[1] = '"type":1' end
    if ev.kv then p[#p + 1] = '"kv":' .. json.kv(ev.kv) end
    if ev.prev_kv then p[#p + 1] = '"prev_kv":' .. json.kv(ev.prev_kv) end
    evs[i] = "{" .. table.concat(p, ",") .. "}"
  end
  out(('{"Header":%s,"Events":%s,"CompactRevision":%d,"Canceled":%s,"Created":%s}\n'):format(
    json.header(r.header or {}), #evs > 0 and "[" .. table.concat(evs, ",") .. "]" or "null",
    r.compact_revision or 0, tostring(r.canceled == true), tostring(r.created == true)))
end

-- ------------------------------------------------------------- fields ---

local fields = {}
M.fields = fields

local function fkv(out, pfx, kv, o)
  local q = M.quote
  out(('"%sKey" : %s\n"%sCreateRevision" : %d\n"%sModRevision" : %d\n"%sVersion" : %d\n"%sValue" : %s\n')
    :format(pfx, q(kv.key or ""), pfx, kv.create_revision or 0, pfx, kv.mod_revision or 0, pfx, kv.version or 0,
      pfx, q(kv.value or "")))
  if o.hex then out(('"%sLease" : %016x\n'):format(pfx, kv.lease or 0))
  else out(('"%sLease" : %d\n'):format(pfx, kv.lease or 0)) end
end

local function hexid(s) -- types.ID: %x of the uint64
  return ("%x"):format(math.tointeger(s) or tonumber(s) or 0)
end

local function u64(s) -- decimal string or integer -> Lua integer (wrapping)
  if type(s) == "number" then return s end
  local n = 0
  for d in tostring(s or "0"):gmatch("%d") do n = n * 10 + tonumber(d) end
  return n
end

local function fhdr(out, h, o)
  h = h or {}
  if o.hex then
    out(('"ClusterID" : %s\n"MemberID" : %s\n'):format(hexid(u64(h.cluster_id)), hexid(u64(h.member_id))))
  else
    out(('"ClusterID" : %s\n"MemberID" : %s\n'):format(tostring(h.cluster_id or 0), tostring(h.member_id or 0)))
  end
  if (h.revision or 0) > 0 then out(('"Revision" : %d\n'):format(h.revision)) end
  out(('"RaftTerm" : %d\n'):format(h.raft_term or 0))
end
fields.header = fhdr

function fields.get(out, r, o)
  fhdr(out, r.header, o)
  for _, kv in ipairs(r.kvs or {}) do fkv(out, "", kv, o) end
  out(('"More" : %s\n"Count" : %d\n'):format(tostring(r.more == true), r.count or 0))
end

function fields.put(out, r, o)
  fhdr(out, r.header, o)
  if r.prev_kv then fkv(out, "Prev", r.prev_kv, o) end
end

function fields.del(out, r, o)
  fhdr(out, r.header, o)
  out(('"Deleted" : %d\n'):format(r.deleted or 0))
  for _, kv in ipairs(r.prev_kvs or {}) do fkv(out, "Prev", kv, o) end
end

function fields.txn(out, r, o)
  fhdr(out, r.header, o)
  out(('"Succeeded" : %s\n'):format(tostring(r.succeeded == true)))
  for _, op in ipairs(r.responses or {}) do
    if op.op == "get" then fields.get(out, op, o)
    elseif op.op == "put" then fields.put(out, op, o)
    elseif op.op == "del" then fields.del(out, op, o) end
  end
end

function fields.watch(out, r, o)
  fhdr(out, r.header, o)
  for _, ev in ipairs(r.events or {}) do
    out(('"Type" : %s\n'):format(ev.type or "PUT"))
    if ev.prev_kv then fkv(out, "Prev", ev.prev_kv, o) end
    fkv(out, "", ev.kv or {}, o)
  end
end

-- ----------------------------------------------------------- protobuf ---

local protobuf = {}
M.protobuf = protobuf

-- a copy without the fields proto3 leaves out (zero numbers, false, empty
-- bytes, empty lists) and without lua/etcd.lua's "op" mark
local function strip(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do
    if k ~= "op" and x ~= 0 and x ~= false and x ~= "" and x ~= "0" then
      if type(x) == "table" then
        x = strip(x)
        if next(x) == nil and not (type(k) == "number") then x = nil end
      end
      t[k] = x
    end
  end
  return t
end

local function txn_pb(r)
  local t = { header = r.header, succeeded = r.succeeded, responses = {} }
  for i, op in ipairs(r.responses or {}) do
    local key = op.op == "get" and "response_range" or op.op == "put" and "response_put"
      or op.op == "del" and "response_delete_range" or "response_txn"
    t.responses[i] = { [key] = op.op == "txn" and txn_pb(op) or strip(op) }
  end
  return t
end

function protobuf.get(out, r) out(pb.encode("RangeResponse", strip(r))) end
function protobuf.put(out, r) out(pb.encode("PutResponse", strip(r))) end
function protobuf.del(out, r) out(pb.encode("DeleteRangeResponse", strip(r))) end
function protobuf.txn(out, r) out(pb.encode("TxnResponse", txn_pb(r))) end

-- ------------------------------------------- leases, members, endpoints ---
-- (the response tables of lua/etcd.lua's lease_*, members, status, hashkv,
-- alarms; IDs of members unsigned decimal text, lease IDs integers)

local function hdr_fields(h) -- Go's embedded *ResponseHeader: its fields inline
  local s = json.header(h or {})
  return s:sub(2, -2)
end

local function join(a, b) if a == "" then return b end return a .. "," .. b end

function simple.grant(out, r) out(("lease %016x granted with TTL(%ds)\n"):format(r.ID, r.TTL)) end
function json.grant(out, r)
  out("{" .. join(hdr_fields(r.header), ('"ID":%d,"TTL":%d,"Error":%s'):format(r.ID, r.TTL, M.jstr(r.error or ""))) .. "}\n")
end
function fields.grant(out, r, o)
  fhdr(out, r.header, o)
  if o.hex then out(('"ID" : %016x\n'):format(r.ID)) else out(('"ID" : %d\n'):format(r.ID)) end
  out(('"TTL" : %d\n'):format(r.TTL))
end

function simple.revoke(out, r, o) out(("lease %016x revoked\n"):format(o.id)) end
function json.revoke(out, r) out('{"header":' .. json.header(r.header or {}) .. "}\n") end
function fields.revoke(out, r, o) fhdr(out, r.header, o) end

function simple.keepalive(out, r) out(("lease %016x keepalived with TTL(%d)\n"):format(r.ID, r.TTL)) end
function json.keepalive(out, r)
  out("{" .. join(hdr_fields(r.header), ('"ID":%d,"TTL":%d'):format(r.ID, r.TTL)) .. "}\n")
end
fields.keepalive = function(out, r, o)
  fhdr(out, r.header, o)
  if o.hex then out(('"ID" : %016x\n'):format(r.ID)) else out(('"ID" : %d\n'):format(r.ID)) end
  out(('"TTL" : %d\n'):format(r.TTL))
end

function simple.timetolive(out, r, o)
  if r.grantedTTL == 0 and r.TTL == -1 then
    out(("lease %016x already expired\n"):format(r.ID))
    return
  end
  local txt = ("lease %016x granted with TTL(%ds), remaining(%ds)"):format(r.ID, r.grantedTTL, r.TTL)
  if o.keys then txt = txt .. (", attached keys([%s])"):format(table.concat(r.keys or {}, " ")) end
  out(txt .. "\n")
end
function json.timetolive(out, r)
  local keys = "null"
  if r.keys and #r.keys > 0 then
    local t = {}
    for i, k in ipairs(r.keys) do t[i] = '"' .. b64encode(k) .. '"' end
    keys = "[" .. table.concat(t, ",") .. "]"
  end
  out("{" .. join(hdr_fields(r.header), ('"id":%d,"ttl":%d,"granted-ttl":%d,"keys":%s'):format(r.ID, r.TTL,
    r.grantedTTL, keys)) .. "}\n")
end
function fields.timetolive(out, r, o)
  fhdr(out, r.header, o)
  if o.hex then out(('"ID" : %016x\n'):format(r.ID)) else out(('"ID" : %d\n'):format(r.ID)) end
  out(('"TTL" : %d\n"GrantedTTL" : %d\n'):format(r.TTL, r.grantedTTL))
  for _, k in ipairs(r.keys or {}) do out(('"Key" : %s\n'):format(M.quote(k))) end
end

function simple.leases(out, r)
  out(("found %d leases\n"):format(#r.leases))
  for _, l in ipairs(r.leases) do out(("%016x\n"):format(l.ID)) end
end
function json.leases(out, r)
  local t = {}
  for i, l in ipairs(r.leases) do t[i] = ('{"id":%d}'):format(l.ID) end
  out("{" .. join(hdr_fields(r.header), '"leases":[' .. table.concat(t, ",") .. "]") .. "}\n")
end
function fields.leases(out, r, o)
  fhdr(out, r.header, o)
  for _, l in ipairs(r.leases) do
    if o.hex then out(('"ID" : %016x\n'):format(l.ID)) else out(('"ID" : %d\n'):format(l.ID)) end
  end
end

--- jstr(s): s as a Go encoding/json string (HTML-escaped)
function M.jstr(s)
  local j = package.loaded.json or require "json"
  return j.encode(s)
end

local function jstrs(list)
  local t = {}
  for i, v in ipairs(list) do t[i] = M.jstr(v) end
  return "[" .. table.concat(t, ",") .. "]"
end

local function hex_of(id) return ("%x"):format(u64(id)) end
M.hex_id = hex_of

function simple.members(out, r)
  for _, m in ipairs(r.members) do
    out(("%s, %s, %s, %s, %s, %s\n"):format(hex_of(m.ID), m.name == "" and "unstarted" or "started", m.name,
      table.concat(m.peerURLs, ","), table.concat(m.clientURLs, ","), tostring(m.isLearner)))
  end
end
function json.members(out, r, o)
  local h = r.header or {}
  if o.hex then
    local t = {}
    for i, m in ipairs(r.members) do
      t[i] = ('{"ID":"%s","name":"%s","peerURLs":%s,"clientURLs":%s}'):format(hex_of(m.ID), m.name,
        #m.peerURLs > 0 and jstrs(m.peerURLs) or "null", #m.clientURLs > 0 and jstrs(m.clientURLs) or "null")
    end
    out(('{"header":{"cluster_id":"%s","member_id":"%s","raft_term":%d}%s}\n'):format(hex_of(h.cluster_id),
      hex_of(h.member_id), h.raft_term or 0, #t > 0 and ',"members":[' .. table.concat(t, ",") .. "]" or ""))
    return
  end
  local t = {}
  for i, m in ipairs(r.members) do
    local p = {}
    jnum(p, "ID", m.ID)
    if m.name ~= "" then p[#p + 1] = '"name":' .. M.jstr(m.name) end
    if #m.peerURLs > 0 then p[#p + 1] = '"peerURLs":' .. jstrs(m.peerURLs) end
    if #m.clientURLs > 0 then p[#p + 1] = '"clientURLs":' .. jstrs(m.clientURLs) end
    if m.isLearner then p[#p + 1] = '"isLearner":true' end
    t[i] = "{" .. table.concat(p, ",") .. "}"
  end
  local p = {}
  jhdr(p, r.header)
  if #t > 0 then p[#p + 1] = '"members":[' .. table.concat(t, ",") .. "]" end
  out("{" .. table.concat(p, ",") .. "}\n")
end
function fields.members(out, r, o)
  fhdr(out, r.header, o)
  for _, m in ipairs(r.members) do
    if o.hex then out(('"ID" : %s\n'):format(hex_of(m.ID))) else out(('"ID" : %s\n'):format(m.ID)) end
    out(('"Name" : %s\n'):format(M.quote(m.name)))
    for _, u in ipairs(m.peerURLs) do out(('"PeerURL" : %s\n'):format(M.quote(u))) end
    for _, u in ipairs(m.clientURLs) do out(('"ClientURL" : %s\n'):format(M.quote(u))) end
    out(('"IsLearner" : %s\n\n'):format(tostring(m.isLearner)))
  end
end

-- github.com/dustin/go-humanize Bytes: SI units, one decimal under 10
function M.humanize_bytes(n)
  if n < 10 then return ("%d B"):format(n) end
  local sizes = { "B", "kB", "MB", "GB", "TB", "PB", "EB" }
  local e = math.floor(math.log(n) / math.log(1000))
  local val = math.floor(n / 1000 ^ e * 10 + 0.5) / 10
  local f = val < 10 and "%.1f %s" or "%.0f %s"
  return f:format(val, sizes[e + 1])
end

local function status_row(st)
  local r = st.resp
  local h = r.header or {}
  local notinuse = r.dbSize > 0 and math.floor(100 - (r.dbSizeInUse * 100 // r.dbSize)) or 0
  local dg = r.downgradeInfo or {}
  return { st.ep, hex_of(h.member_id), r.version, r.storageVersion, M.humanize_bytes(r.dbSize),
    M.humanize_bytes(r.dbSizeInUse), ("%d%%"):format(notinuse), M.humanize_bytes(r.dbSizeQuota),
    tostring(r.leader == h.member_id), tostring(r.isLearner), tostring(r.raftTerm), tostring(r.raftIndex),
    tostring(r.raftAppliedIndex), table.concat(r.errors, ", "), dg.targetVersion or "", tostring(dg.enabled == true) }
end

M.status_row = status_row -- the cells of `endpoint status` (simple and table)

function simple.status(out, list)
  for _, st in ipairs(list) do out(table.concat(status_row(st), ", ") .. "\n") end
end
function json.status(out, list)
  local t = {}
  for i, st in ipairs(list) do
    local r = st.resp
    local p = {}
    jhdr(p, r.header)
    if r.version ~= "" then p[#p + 1] = '"version":' .. M.jstr(r.version) end
    jnum(p, "dbSize", r.dbSize); jnum(p, "leader", r.leader); jnum(p, "raftIndex", r.raftIndex)
    jnum(p, "raftTerm", r.raftTerm); jnum(p, "raftAppliedIndex", r.raftAppliedIndex)
    if #r.errors > 0 then p[#p + 1] = '"errors":' .. jstrs(r.errors) end
    jnum(p, "dbSizeInUse", r.dbSizeInUse)
    if r.isLearner then p[#p + 1] = '"isLearner":true' end
    if r.storageVersion ~= "" then p[#p + 1] = '"storageVersion":' .. M.jstr(r.storageVersion) end
    jnum(p, "dbSizeQuota", r.dbSizeQuota)
    if r.downgradeInfo then
      local d = {}
      if r.downgradeInfo.enabled then d[1] = '"enabled":true' end
      if r.downgradeInfo.targetVersion ~= "" then d[#d + 1] = '"targetVersion":' .. M.jstr(r.downgradeInfo.targetVersion) end
      p[#p + 1] = '"downgradeInfo":{' .. table.concat(d, ",") .. "}"
    end
    t[i] = ('{"Endpoint":%s,"Status":{%s}}'):format(M.jstr(st.ep), table.concat(p, ","))
  end
  out("[" .. table.concat(t, ",") .. "]\n")
end
function fields.status(out, list, o)
  for _, st in ipairs(list) do
    local r = st.resp
    fhdr(out, r.header, o)
    out(('"Version" : %s\n"StorageVersion" : %s\n"DBSize" : %d\n"DBSizeInUse" : %d\n"DBSizeQuota" : %d\n')
      :format(M.quote(r.version), M.quote(r.storageVersion), r.dbSize, r.dbSizeInUse, r.dbSizeQuota))
    out(('"Leader" : %s\n"IsLearner" : %s\n"RaftIndex" : %d\n"RaftAppliedIndex" : %d\n"Errors" : [%s]\n')
      :format(r.leader, tostring(r.isLearner), r.raftIndex, r.raftAppliedIndex, table.concat(r.errors, " ")))
    local dg = r.downgradeInfo or {}
    out(('"Endpoint" : %s\n"DowngradeTargetVersion" : %s\n"DowngradeEnabled" : %s\n\n')
      :format(M.quote(st.ep), M.quote(dg.targetVersion or ""), tostring(dg.enabled == true)))
  end
end

function simple.hashkv(out, list)
  for _, h in ipairs(list) do out(("%s, %d, %d\n"):format(h.ep, h.resp.hash, h.resp.hash_revision)) end
end
function json.hashkv(out, list)
  local t = {}
  for i, h in ipairs(list) do
    local p = {}
    jhdr(p, h.resp.header); jnum(p, "hash", h.resp.hash); jnum(p, "compact_revision", h.resp.compact_revision)
    jnum(p, "hash_revision", h.resp.hash_revision)
    t[i] = ('{"Endpoint":%s,"HashKV":{%s}}'):format(M.jstr(h.ep), table.concat(p, ","))
  end
  out("[" .. table.concat(t, ",") .. "]\n")
end
function fields.hashkv(out, list, o)
  for _, h in ipairs(list) do
    fhdr(out, h.resp.header, o)
    out(('"Endpoint" : %s\n"Hash" : %d\n"HashRevision" : %d\n\n'):format(M.quote(h.ep), h.resp.hash, h.resp.hash_revision))
  end
end

function simple.health(out, list, o)
  for _, h in ipairs(list) do
    if h.error == "" then
      out(("%s is healthy: successfully committed proposal: took = %s\n"):format(h.ep, h.took))
    else
      o.err(("%s is unhealthy: failed to commit proposal: %s\n"):format(h.ep, h.error))
    end
  end
end
function json.health(out, list)
  local t = {}
  for i, h in ipairs(list) do
    t[i] = ('{"endpoint":%s,"health":%s,"took":%s%s}'):format(M.jstr(h.ep), tostring(h.health), M.jstr(h.took),
      h.error ~= "" and ',"error":' .. M.jstr(h.error) or "")
  end
  out("[" .. table.concat(t, ",") .. "]\n")
end
function fields.health(out, list)
  for _, h in ipairs(list) do
    out(('"Endpoint" : %s\n"Health" : %s\n"Took" : %s\n"Error" : %s\n\n'):format(M.quote(h.ep), tostring(h.health),
      h.took, h.error))
  end
end

local ALARMS = { [0] = "NONE", [1] = "NOSPACE", [2] = "CORRUPT" }
function simple.alarm(out, r)
  for _, a in ipairs(r.alarms) do
    out(("memberID:%s alarm:%s \n"):format(a.memberID, ALARMS[a.alarm] or tostring(a.alarm)))
  end
end
function json.alarm(out, r)
  local t = {}
  for i, a in ipairs(r.alarms) do
    local p = {}
    jnum(p, "memberID", a.memberID); jnum(p, "alarm", a.alarm)
    t[i] = "{" .. table.concat(p, ",") .. "}"
  end
  local p = {}
  jhdr(p, r.header)
  if #t > 0 then p[#p + 1] = '"alarms":[' .. table.concat(t, ",") .. "]" end
  out("{" .. table.concat(p, ",") .. "}\n")
end
function fields.alarm(out, r, o)
  fhdr(out, r.header, o)
  for _, a in ipairs(r.alarms) do
    if o.hex then out(('"MemberID" : %s\n'):format(hex_of(a.memberID))) else out(('"MemberID" : %s\n'):format(a.memberID)) end
    out(('"AlarmType" : %s\n\n'):format(ALARMS[a.alarm] or tostring(a.alarm)))
  end
end

--- go_duration(seconds) -> Go's time.Duration.String() (1.234567ms, 2.5s, 1m3s)
function M.go_duration(secs)
  local ns = math.floor(secs * 1e9 + 0.5)
  if ns == 0 then return "0s" end
  local function frac(v, unit, digits)
    local whole, rest = v // unit, v % unit
    local s = tostring(whole)
    if rest > 0 then
      local f = ("%0" .. digits .. "d"):format(rest):gsub("0+$", "")
      s = s .. "." .. f
    end
    return s
  end
  if ns < 1000 then return ns .. "ns" end
  if ns < 1000000 then return frac(ns, 1000, 3) .. "µs" end
  if ns < 1000000000 then return frac(ns, 1000000, 6) .. "ms" end
  local h, m = ns // 3600000000000, (ns // 60000000000) % 60
  local sec = frac(ns % 60000000000, 1000000000, 9) .. "s"
  if h > 0 then return h .. "h" .. m .. "m" .. sec end
  if m > 0 then return m .. "m" .. sec end
  return sec
end

return M
