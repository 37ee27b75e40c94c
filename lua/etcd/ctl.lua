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

local function simple_kv(out, kv, o)
  local k, v = kv.key or "", kv.value or ""
  if o.hex then k, v = M.hex(k), M.hex(v) end
  if o.value_only then out(v .. "\n") else out(k .. "\n" .. v .. "\n") end
end
simple.kv = simple_kv

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

local function jbytes(parts, name, v)
  if v ~= nil and v ~= "" then parts[#parts + 1] = ('"%s":"%s"'):format(name, b64.encode(v)) end
end

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
  if key ~= "" and value and value ~= "" and cr ~= 0 and mr ~= 0 and ver ~= 0 and (lease == 0 or lease == nil) then
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

return M
