-- tests/etcd/client.lua: run by tests/etcd/client.t with ETCD_TEST_SERVERS =
-- "VERSION=ENDPOINT=DIR ..." (plain etcd servers started with a 1 s
-- progress-notify interval).  TAP on stdout.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local etcd = require "etcd"

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

local function keys_of(kvs)
  local out = {}
  for i, kv in ipairs(kvs) do out[i] = kv.key end
  return out
end

local function closed_port()
  return sh([[python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()']]):match("%d+")
end

local function check(ver, ep, dir)
  local c = etcd.connect { endpoints = ep, connect_timeout = 2 }
  local V = "[" .. ver .. "] "

  -- hostile keys and values
  local mib = ("0123456789abcdef"):rep(65536)
  local hostile = {
    ["/h/with space"] = "v1", ["/h/new\nline"] = "v2", ["/h/caf\xc3\xa9/\xe2\x9c\x93"] = "utf8",
    ["/h/\xff\xfe"] = "bytes\0\xff", ["/h/nul\0key"] = "", ["/h/empty"] = "", ["/h/big"] = mib,
  }
  local sorted = {}
  for k, v in pairs(hostile) do
    assert(c:put(k, v))
    sorted[#sorted + 1] = k
  end
  table.sort(sorted)
  local ok = true
  for k, v in pairs(hostile) do
    local r = assert(c:get(k))
    if #r.kvs ~= 1 or r.kvs[1].key ~= k or r.kvs[1].value ~= v then ok = false; t.diag("mismatch for " .. ("%q"):format(k)) end
  end
  t.ok(ok, V .. "hostile keys and empty / 1 MiB values read back byte for byte")
  local r = assert(c:get("/h/", { prefix = true }))
  t.is_deeply(keys_of(r.kvs), sorted, V .. "a prefix get returns them in byte order")
  t.is(r.count, #sorted, V .. "count")
  local seen = {}
  for kv in c:scan("/h/", { page = 2 }) do seen[#seen + 1] = kv.key end
  t.is_deeply(seen, sorted, V .. "scan in pages of 2 returns the same keys")
  seen = {}
  for kv in c:scan("/h/") do seen[#seen + 1] = kv.key; if kv.key == "/h/big" then t.is(#kv.value, #mib, V .. "scan carries the 1 MiB value") end end
  t.is_deeply(seen, sorted, V .. "scan in one Range returns the same keys")

  -- header IDs are exact unsigned 64-bit numbers
  local json = sh(("ETCDCTL_API=3 etcdctl --endpoints %s get /h/empty -w json"):format(ep))
  t.is(r.header.cluster_id, json:match('"cluster_id":(%d+)'), V .. "cluster_id exact and unsigned (as etcdctl -w json)")
  t.is(r.header.member_id, json:match('"member_id":(%d+)'), V .. "member_id exact and unsigned")
  t.is(math.type(r.header.revision), "integer", V .. "revision is an integer")

  -- range_end with a carry
  for _, k in ipairs { "/c\xfe", "/c\xff", "/c\xff\xff", "/c\xffz", "/d", "/d0" } do assert(c:put(k, "x")) end
  t.is(etcd.prefix_end("/c\xff"), "/d", V .. "prefix_end carries past 0xff")
  r = assert(c:get("/c\xff", { prefix = true }))
  t.is_deeply(keys_of(r.kvs), { "/c\xff", "/c\xffz", "/c\xff\xff" }, V .. "prefix /c\\xff: only its keys")
  seen = {}
  for kv in c:scan("/c\xff", { page = 1 }) do seen[#seen + 1] = kv.key end
  t.is_deeply(seen, { "/c\xff", "/c\xffz", "/c\xff\xff" }, V .. "scan of /c\\xff in pages of 1")

  -- get options
  for i = 1, 5 do assert(c:put("/o/" .. i, "v" .. i)) end
  local rev1 = assert(c:get("/o/1")).header.revision
  assert(c:put("/o/1", "changed"))
  r = assert(c:get("/o/", { prefix = true, keys_only = true }))
  t.ok(#r.kvs == 5 and r.kvs[1].value == "" and r.kvs[1].key == "/o/1", V .. "keys_only")
  r = assert(c:get("/o/", { prefix = true, count_only = true }))
  t.ok(#r.kvs == 0 and r.count == 5, V .. "count_only")
  r = assert(c:get("/o/", { prefix = true, limit = 2 }))
  t.ok(#r.kvs == 2 and r.more == true and r.count == 5, V .. "limit, more, count")
  r = assert(c:get("/o/", { prefix = true, sort_order = "DESCEND" }))
  t.is(r.kvs[1].key, "/o/5", V .. "sort_order DESCEND")
  r = assert(c:get("/o/1", { revision = rev1 }))
  t.is(r.kvs[1].value, "v1", V .. "get at an older revision")
  r = assert(c:get("/o/3", { from_key = true }))
  t.is_deeply(keys_of(r.kvs), { "/o/3", "/o/4", "/o/5" }, V .. "from_key")

  -- txn, put prev_kv, del
  local tr = assert(c:txn {
    compare = { { key = "/o/2", target = "value", result = "==", value = "v2" } },
    success = { { "put", "/o/6", "six" }, { "get", "/o/", { prefix = true, count_only = true } } },
    failure = { { "del", "/o/2" } },
  })
  t.ok(tr.succeeded and tr.responses[1].op == "put" and tr.responses[2].count == 6, V .. "txn success branch")
  tr = assert(c:txn {
    compare = { { key = "/o/2", target = "version", result = ">", value = 5 } },
    success = {}, failure = { { "get", "/o/2" } },
  })
  t.ok(not tr.succeeded and tr.responses[1].kvs[1].value == "v2", V .. "txn failure branch")
  local pr = assert(c:put("/o/6", "seven", { prev_kv = true }))
  t.is(pr.prev_kv and pr.prev_kv.value, "six", V .. "put returns prev_kv")
  local dr = assert(c:del("/o/", { prefix = true, prev_kv = true }))
  t.ok(dr.deleted == 6 and #dr.prev_kvs == 6, V .. "del prefix with prev_kv")

  -- gRPC errors
  local res, e = c:put("", "x")
  t.ok(res == nil and e.kind == "invalid" and e.message:find("key is not provided", 1, true), V .. "InvalidArgument -> kind invalid: " .. tostring(e))
  res, e = c:get("/o/1", { revision = 1 << 40 })
  t.ok(res == nil and e.kind == "range" and e.message:find("future revision", 1, true), V .. "future revision error")
  t.raises(function() etcd.pb.encode("RangeRequest", { keyz = "x" }) end, "no field 'keyz'", V .. "unknown fields are refused")

  -- endpoint failover
  local port = closed_port()
  local c2 = etcd.connect { endpoints = "http://127.0.0.1:" .. port .. "," .. ep }
  res, e = c2:get("/h/empty")
  t.ok(res and res.kvs[1].key == "/h/empty", V .. "the first endpoint down: the second answers", e)
  local c3 = etcd.connect { endpoints = { "127.0.0.1:" .. port, "http://127.0.0.1:" .. closed_port() } }
  res, e = c3:get("x")
  t.ok(res == nil and e.kind == "refused" and select(2, e.message:gsub("127%.0%.0%.1:%d+", "")) >= 2,
    V .. "every endpoint down: the error names each: " .. tostring(e))

  -- watch: events, prev_kv, handler
  local events = {}
  local w = c:watch("/w/", { prefix = true, prev_kv = true }, function(ev)
    events[#events + 1] = ev
    if #events == 3 then return false end
  end)
  sleep(0.2)
  assert(c:put("/w/a", "1"))
  assert(c:put("/w/a", "2"))
  assert(c:del("/w/a"))
  local guard = after(10, function() w:cancel() end)
  pcall(w.wait, w)
  guard:cancel()
  t.ok(#events == 3 and events[1].type == "PUT" and events[2].prev_kv.value == "1" and events[3].type == "DELETE"
    and events[3].kv.key == "/w/a", V .. "watch: PUT, PUT with prev_kv, DELETE")

  -- watch across a restart: nothing lost, nothing repeated
  local got = {}
  local want = {}
  for _, p in ipairs { "a", "b", "c" } do for i = 1, 5 do want[#want + 1] = "/r/" .. p .. i end end
  local wr = c:watch("/r/", { prefix = true }, function(ev)
    got[#got + 1] = ev.kv.key
    if #got >= #want then return false end
  end)
  sleep(0.2)
  for i = 1, 5 do assert(c:put("/r/a" .. i, "x")) end
  sleep(0.3)
  local puts = {}
  for i = 1, 5 do puts[#puts + 1] = ("etcdctl --endpoints %s put /r/b%d x >/dev/null"):format(ep, i) end
  -- the loop is blocked meanwhile: b1..b5 happen while the watch is down
  os.execute(("bash tests/etcd/lib.sh restart %s && ETCDCTL_API=3 && export ETCDCTL_API && %s"):format(dir, table.concat(puts, " && ")))
  sleep(0.5)
  for i = 1, 5 do
    local ok2, err2
    for _ = 1, 50 do
      ok2, err2 = c:put("/r/c" .. i, "x")
      if ok2 then break end
      sleep(0.1)
    end
    assert(ok2, err2)
  end
  guard = after(15, function() wr:cancel() end)
  pcall(wr.wait, wr)
  guard:cancel()
  t.is_deeply(got, want, V .. "watch across an etcd restart: every event once, in order")

  -- quiet watch with progress notifications
  local cur = assert(c:get("/q")).header.revision
  local progress, quiet_ev = {}, nil
  local wq = c:watch("/q/", { prefix = true, progress_notify = true, idle_timeout = 5 }, function(ev)
    if ev.type == "PROGRESS" then progress[#progress + 1] = ev.revision
    else quiet_ev = ev; return false end
  end)
  sleep(3.2)
  assert(c:put("/q/x", "1"))
  guard = after(5, function() wq:cancel() end)
  pcall(wq.wait, wq)
  guard:cancel()
  t.ok(#progress >= 1 and progress[1] >= cur, V .. ("quiet watch: %d progress notifications at revision %s"):format(#progress, tostring(progress[1])))
  t.ok(quiet_ev and quiet_ev.kv.key == "/q/x", V .. "the quiet watch still delivers the next event")

  -- compaction: get and watch from a compacted revision
  local now_rev = assert(c:put("/z", "1")).header.revision
  assert(c:put("/z", "2"))
  local crev = now_rev + 1
  assert(c:compact(crev))
  res, e = c:get("/z", { revision = now_rev - 1 })
  t.ok(res == nil and e.kind == "compacted", V .. "get at a compacted revision -> kind compacted: " .. tostring(e))
  local werr
  local okw, ew = pcall(function()
    for _ in c:watch("/z", { start_revision = now_rev - 1 }) do end
  end)
  werr = ew
  t.ok(not okw and type(werr) == "table" and werr.kind == "compacted" and werr.compact_revision == crev
    and tostring(werr):find("oldest available revision is " .. crev, 1, true),
    V .. "watch from a compacted revision names the oldest: " .. tostring(werr))
end

local servers = os.getenv("ETCD_TEST_SERVERS") or ""
local n = 0
for spec in servers:gmatch("%S+") do
  local ver, ep, dir = spec:match("^([^=]+)=([^=]+)=(.+)$")
  n = n + 1
  check(ver, ep, dir)
end
t.ok(n > 0, "ran against " .. n .. " etcd version(s)")
t.done()
