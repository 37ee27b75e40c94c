#!/usr/bin/env kscript
-- etcd.snapshot (lua/etcd/snapshot.lua over ksh.snapshot) on a real member db
-- of etcd 3.6, the fuzzer's seed tests/fuzz/corpus/bbolt/etcd36-5keys.db:
-- put /k1..5, put /k1 again, del /k2, compaction 3 (so it also runs under the
-- sanitizer build); the comparison with live servers is tests/etcd/snapshot-read.t.
local top = os.getenv("KSCRIPT_TOP") or "."
package.path = top .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local etcd = require "etcd"
local pb = require "ksh.etcdpb"
local db = top .. "/tests/fuzz/corpus/bbolt/etcd36-5keys.db"

local s = assert(etcd.snapshot(db))
t.is(s.revision, 8, "the newest revision")
t.is(s.compact_revision, 3, "the last compaction")
local r = assert(s:get("", { prefix = true }))
local keys = {}
for i, kv in ipairs(r.kvs) do keys[i] = kv.key .. "=" .. kv.value end
t.is(table.concat(keys, " "), "/k1=again /k3=v3 /k4=v4 /k5=v5", "the live keys: /k2 deleted, /k1 overwritten")
t.is(r.count, 4, "count")
t.is(r.header.revision, 8, "header revision")
local k1 = r.kvs[1]
t.ok(k1.create_revision == 2 and k1.mod_revision == 7 and k1.version == 2 and k1.lease == 0 and k1.revisions == 2,
  "/k1: created 2, modified 7, version 2, 2 revisions kept")
r = assert(s:get("/k", { prefix = true, limit = 2, sort_order = "DESCEND", keys_only = true }))
t.ok(#r.kvs == 2 and r.kvs[1].key == "/k5" and r.kvs[1].value == "" and r.more and r.count == 4,
  "limit, descending, keys only, more")
r = assert(s:get("/k1", { revision = 5 }))
t.is(r.kvs[1].value, "v1", "at revision 5 /k1 is v1")
r = assert(s:get("/k2", { revision = 5 }))
t.is(#r.kvs, 1, "at revision 5 /k2 exists")
r = assert(s:get("/k2", { revision = 8 }))
t.is(#r.kvs, 0, "at revision 8 /k2 is deleted")
local _, e = s:get("/k1", { revision = 2 })
t.ok(e and e.kind == "compacted" and e.grpc_message == "etcdserver: mvcc: required revision has been compacted",
  "revision 2 is compacted: " .. tostring(e))
_, e = etcd.snapshot(db, { rev = 9 })
t.is(e and e.kind, "range", "revision 9 is in the future")
local n = 0
for rec in s:scanner("/k"):records() do
  local text, k = assert(pb.lines(rec, true, false))
  t.is(text, "/k1\nagain\n/k3\nv3\n/k4\nv4\n/k5\nv5\n", "scanner records read by ksh.etcdpb.lines")
  n = n + k
end
t.is(n, 4, "4 keys scanned")
-- damage: a copy with one byte changed in the key bucket's pages
local f = assert(io.open(db, "rb"))
local data = f:read("a")
f:close()
local tmp = os.tmpname()
local bad = 0
for page = 2, #data // 4096 - 1 do
  local o = page * 4096
  local w = assert(io.open(tmp, "wb"))
  w:write(data:sub(1, o), "\255\255\255\255\255\255\255\255", data:sub(o + 9))
  w:close()
  local ok2, err = etcd.snapshot(tmp)
  if not ok2 and err.kind == "corrupt" and err.page == page then bad = bad + 1 end
end
os.remove(tmp)
t.ok(bad >= 1, ("a page whose id is overwritten is named: %d of %d pages"):format(bad, #data // 4096 - 2))
_, e = etcd.snapshot(top .. "/tests/fuzz/run")
t.is(e and e.kind, "corrupt", "a file that is not a bbolt db: corrupt")
s:close()
t.ok(not pcall(s.get, s, "/k1"), "a closed snapshot raises")
t.done()
