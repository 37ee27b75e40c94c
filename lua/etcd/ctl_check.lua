-- etcd.ctl_check: etcdctl 3.6's load tests (ctlv3/command/check.go), for
-- `kscript etcd check perf|datascale` and the client methods
-- c:check_perf(opts) and c:check_datascale(opts).  Run them only against an
-- etcd of your own: they write thousands of keys.
--
--   perf: for 60 s, puts of a 256-byte key (a random varint, zero padded)
--   under the prefix and a 1,024-byte value, at most `limit` a second (a
--   token bucket of one, as golang.org/x/time/rate), from `clients`
--   concurrent workers; PASS when the throughput is above 90% of the limit,
--   the slowest put under 0.5 s and the standard deviation under 0.1 s.
--   datascale: `limit` puts (512-byte key, 512-byte value) from `clients`
--   workers as fast as they go, the server's process_resident_memory_bytes
--   (GET /metrics of the first endpoint) read before and after.
-- Both read the prefix first (keys there: nil, err kind "exists"), delete it
-- afterwards (also when interrupted), then compact (physical) and
-- defragment when asked.  The lines etcdctl prints go to opts.log(line) and
-- into result.lines.
--
--   M.perf(c, opts) / M.datascale(c, opts) -> result | nil, err
--   M.run(sub, o, c, env): the command (kscript etcd check SUB)
local ctl = require "etcd.ctl"
local loop = require "ksh.loop"
local http = require "ksh.http"
local ksh = require "ksh"
local err = ksh.error

local M = {}

-- the load profiles (check.go's checkPerfCfgMap and checkDatascaleCfgMap)
M.PERF = {
  s = { limit = 150, clients = 50, duration = 60 },
  m = { limit = 1000, clients = 200, duration = 60 },
  l = { limit = 8000, clients = 500, duration = 60 },
  xl = { limit = 15000, clients = 1000, duration = 60 },
}
M.DATASCALE = {
  s = { limit = 10000, kv_size = 1024, clients = 50 },
  m = { limit = 100000, kv_size = 1024, clients = 200 },
  l = { limit = 1000000, kv_size = 1024, clients = 500 },
  xl = { limit = 3000000, kv_size = 1024, clients = 1000 },
}
local ALIAS = { s = "s", small = "s", m = "m", medium = "m", l = "l", large = "l", xl = "xl", xLarge = "xl" }

--- model(load) -> "s"|"m"|"l"|"xl" | nil (etcdctl's names and aliases)
function M.model(load) return ALIAS[load or "s"] end

-- the profile, with the Lua API's overrides (limit, clients, duration)
local function profile(what, fname, opts)
  local model = ALIAS[opts.load or "s"]
  if not model then
    error(("bad argument #1 to '%s' (load: unknown load option %s; s, m, l or xl)"):format(fname, tostring(opts.load)), 3)
  end
  local cfg = {}
  for k, v in pairs(what[model]) do cfg[k] = v end
  for _, k in ipairs { "limit", "clients", "duration" } do
    if opts[k] ~= nil then
      if math.type(opts[k]) ~= "integer" or opts[k] < 1 then
        error(("bad argument #1 to '%s' (%s: a positive integer expected)"):format(fname, k), 3)
      end
      cfg[k] = opts[k]
    end
  end
  cfg.model = model
  return cfg
end

-- binary.PutVarint(k, rand.Int63n(MaxInt64)) into a zeroed buffer of n bytes
local function varint_key(n)
  local ux = math.random(0, math.maxinteger - 1) << 1 -- zigzag of a non-negative number
  local t = {}
  while math.ult(0x7f, ux) do
    t[#t + 1] = string.char((ux & 0x7f) | 0x80)
    ux = ux >> 7
  end
  t[#t + 1] = string.char(ux)
  local s = table.concat(t)
  return s .. ("\0"):rep(n - #s)
end

-- Go's error text of a failure (clientv3 prints etcd's own message)
local function errtext(e)
  if type(e) ~= "table" then return tostring(e) end
  if e.grpc_message and e.grpc_message ~= "" then return e.grpc_message end
  return tostring(e.message)
end

local function gofloat(x) -- Go's %f (NaN for no sample)
  if x ~= x then return "NaN" end
  return ("%f"):format(x)
end

-- report.Stats: latencies of the successes, errors by text, requests/s over the whole run
local function stats(lats, total)
  local s = { count = #lats, total = total, rps = #lats / total, slowest = 0, fastest = 0 }
  local sum = 0
  for _, l in ipairs(lats) do sum = sum + l end
  s.average = sum / #lats
  local dev = 0
  for _, l in ipairs(lats) do dev = dev + (l - s.average) ^ 2 end
  s.stddev = math.sqrt(dev / #lats)
  for _, l in ipairs(lats) do
    if l > s.slowest then s.slowest = l end
    if s.fastest == 0 or l < s.fastest then s.fastest = l end
  end
  return s
end

-- run fn(); on an error or an interruption, run cleanup() first, then raise it again
local function guarded(fn, cleanup)
  local r = table.pack(pcall(fn))
  if not r[1] then
    pcall(cleanup)
    error(r[2], 0)
  end
  return table.unpack(r, 2, r.n)
end

-- delete the prefix, then compact and defragment when asked; nil, err on a
-- failed compaction or defragmentation (etcdctl exits there)
local function cleanup(c, prefix, opts, log, fail_line)
  local d, e = c:del(prefix, { prefix = true })
  if not d then
    if fail_line then log(("FAIL: Cleanup failed during key deletion: ERROR(%s)"):format(errtext(e))); return true end
    return nil, e
  end
  if opts.auto_compact then
    local rev = d.header.revision
    log(("Compacting with revision %d"):format(rev))
    local ok, ce = c:compact(rev, { physical = true })
    if not ok then return nil, ce end
    log(("Compacted with revision %d"):format(rev))
  end
  if opts.auto_defrag then
    for i, ep in ipairs(c.endpoints) do
      local name = opts.endpoint_names and opts.endpoint_names[i] or ep
      log(("Defragmenting %s"):format(ctl.quote(name)))
      local ok, de = c:defrag(ep)
      if not ok then return nil, de end
      log(("Defragmented %s"):format(ctl.quote(name)))
    end
  end
  return true
end

-- n concurrent workers running fn until it returns false; all cancelled if one fails
local function workers(n, fn)
  local tasks = {}
  for i = 1, n do tasks[i] = ksh.spawn(fn) end
  guarded(function() for _, t in ipairs(tasks) do t:wait() end end,
    function() for _, t in ipairs(tasks) do t:cancel() end end)
end

local function new_result(cfg, prefix)
  return { load = cfg.model, limit = cfg.limit, clients = cfg.clients, duration = cfg.duration, prefix = prefix,
           lines = {}, errors = {} }
end

--- perf(c, {load, prefix, auto_compact, auto_defrag, log = fn(line), progress = fn(done, total),
--            endpoint_names, limit, clients, duration}) -> result | nil, err
-- result = {ok, rps, slowest, stddev, average, count, total, errors = {[text] = n}, lines, load, ...}
function M.perf(c, opts)
  opts = opts or {}
  local cfg = profile(M.PERF, "check_perf", opts)
  local prefix = opts.prefix or "/etcdctl-check-perf/"
  local res = new_result(cfg, prefix)
  local function log(s) res.lines[#res.lines + 1] = s; if opts.log then opts.log(s) end end
  local r, e = c:get(prefix, { prefix = true, limit = 1 })
  if not r then return nil, e end
  if #r.kvs > 0 then
    return nil, err("exists", ("prefix %s has keys. Delete with 'etcdctl del --prefix %s' first"):format(ctl.quote(prefix),
      prefix), { prefix = prefix })
  end
  local value = ("\0"):rep(1024)
  local interval = 1 / cfg.limit
  local t0 = loop.now()
  local deadline = t0 + cfg.duration
  -- the token bucket (burst 1): each put reserves the next slot, a limit-th
  -- of a second after the last; a slot missed by less than SLACK (the
  -- loop's timers wake a millisecond late) is still taken, a longer stall
  -- is lost as the limiter loses it
  local SLACK = 0.05
  local last = t0 - interval
  local lats, nerr = {}, 0
  local function take()
    local now = loop.now()
    local slot = math.max(last + interval, now - SLACK)
    if slot >= deadline then return false end
    last = slot
    if slot > now then loop.sleep(slot - now) end
    return true
  end
  local ticker = opts.progress and ksh.spawn(function()
    for i = 1, cfg.duration do
      loop.sleep(math.max(0, t0 + i - loop.now()))
      opts.progress(i, cfg.duration)
    end
  end)
  if opts.progress then opts.progress(0, cfg.duration) end
  guarded(function()
    workers(cfg.clients, function()
      while take() do
        local st = loop.now()
        local ok, pe = c:put(prefix .. varint_key(256), value)
        if ok then lats[#lats + 1] = loop.now() - st
        else
          local k = errtext(pe)
          res.errors[k] = (res.errors[k] or 0) + 1
          nerr = nerr + 1
        end
      end
    end)
  end, function()
    if ticker then ticker:cancel() end
    c:del(prefix, { prefix = true })
  end)
  if ticker then ticker:wait() end
  local s = stats(lats, loop.now() - t0)
  for k, v in pairs(s) do res[k] = v end
  local ok, ce = cleanup(c, prefix, opts, log, true)
  if not ok then return nil, ce end
  res.ok = true
  if nerr > 0 then
    log("FAIL: too many errors")
    for k, v in pairs(res.errors) do log(("FAIL: ERROR(%s) -> %d"):format(k, v)) end
    res.ok = false
  end
  if s.rps / cfg.limit <= 0.9 then
    log(("FAIL: Throughput too low: %d writes/s"):format(math.floor(s.rps) + 1))
    res.ok = false
  else
    log(("PASS: Throughput is %d writes/s"):format(math.floor(s.rps) + 1))
  end
  if s.slowest > 0.5 then
    log(("Slowest request took too long: %ss"):format(gofloat(s.slowest)))
    res.ok = false
  else
    log(("PASS: Slowest request took %ss"):format(gofloat(s.slowest)))
  end
  if s.stddev > 0.1 then
    log(("Stddev too high: %ss"):format(gofloat(s.stddev)))
    res.ok = false
  else
    log(("PASS: Stddev is %ss"):format(gofloat(s.stddev)))
  end
  log(res.ok and "PASS" or "FAIL")
  return res
end

-- process_resident_memory_bytes of an endpoint (GET /metrics), or 0 and
-- the line etcdctl prints
local function resident_memory(c, ep)
  local r, e = http.request { url = ep .. "/metrics", cacert = c.cacert, cert = c.cert, key = c.key,
    insecure = c.insecure, connect_timeout = c.connect_timeout, timeout = c.timeout }
  if not r then return 0, "fetch error: " .. tostring(e.message or e) end
  if r.status >= 400 then return 0, ("fetch error: %s/metrics: status %d"):format(ep, r.status) end
  local v
  for line in r.body:gmatch("[^\n]+") do
    if line:sub(1, 29) == "process_resident_memory_bytes" then
      v = line:sub(30):match("^%s*(.-)%s*$")
      break
    end
  end
  if not v or v == "" then return 0, "could not find: process_resident_memory_bytes" end
  local n = tonumber(v)
  if not n then return 0, ("parse error: strconv.ParseFloat: parsing %s: invalid syntax"):format(ctl.quote(v)) end
  return n
end

--- datascale(c, {load, prefix, auto_compact, auto_defrag, log, progress, endpoint_names, limit, clients})
--   -> result | nil, err;  result = {ok, mb_used, bytes_before, bytes_after, errors, lines, ...}
function M.datascale(c, opts)
  opts = opts or {}
  local cfg = profile(M.DATASCALE, "check_datascale", opts)
  local prefix = opts.prefix or "/etcdctl-check-datascale/"
  local res = new_result(cfg, prefix)
  local function log(s) res.lines[#res.lines + 1] = s; if opts.log then opts.log(s) end end
  local r, e = c:get(prefix, { prefix = true, limit = 1 })
  if not r then return nil, e end
  if #r.kvs > 0 then
    return nil, err("exists", ("prefix %s has keys. Delete with etcdctl del --prefix %s first"):format(ctl.quote(prefix),
      prefix), { prefix = prefix })
  end
  local value = ("\0"):rep(512)
  local before, why = resident_memory(c, c.endpoints[1])
  if why then log(why) end
  if before == 0 then
    log("FAIL: Could not read process_resident_memory_bytes before the put operations.")
    res.ok = false
    return res
  end
  res.bytes_before = before
  log(("Start data scale check for work load [%d key-value pairs, %d bytes per key-value, %d concurrent clients].")
    :format(cfg.limit, cfg.kv_size, cfg.clients))
  local started, done, nerr = 0, 0, 0
  local t0 = loop.now()
  if opts.progress then opts.progress(0, cfg.limit) end
  guarded(function()
    workers(cfg.clients, function()
      while started < cfg.limit do
        started = started + 1
        local ok, pe = c:put(prefix .. varint_key(512), value)
        if not ok then
          local k = errtext(pe)
          res.errors[k] = (res.errors[k] or 0) + 1
          nerr = nerr + 1
        end
        done = done + 1
        if opts.progress then opts.progress(done, cfg.limit) end
      end
    end)
  end, function() c:del(prefix, { prefix = true }) end)
  res.total = loop.now() - t0
  local after
  after, why = resident_memory(c, c.endpoints[1])
  if why then log(why) end
  if after == 0 then
    log("FAIL: Could not read process_resident_memory_bytes after the put operations.")
    res.ok = false
    c:del(prefix, { prefix = true }) -- etcdctl leaves them; kscript cleans up
    return res
  end
  res.bytes_after = after
  local ok, ce = cleanup(c, prefix, opts, log, false)
  if not ok then return nil, ce end
  res.mb_used = (after - before) / (1024 * 1024)
  if nerr > 0 then
    log("FAIL: too many errors")
    for k, v in pairs(res.errors) do log(("FAIL: ERROR(%s) -> %d"):format(k, v)) end
    res.ok = false
    return res
  end
  log(("PASS: Approximate system memory used : %.2f MB."):format(res.mb_used))
  res.ok = true
  return res
end

-- ---------------------------------------------------------- the command ---

-- cheggaaa/pb v3's default bar ("12 / 60 [--->____] 20.00% 1 p/s"), on
-- stderr when it is a terminal (etcdctl writes it there even when it is
-- not, without line breaks); redrawn at most every 0.2 s.  A line printed
-- ends the bar drawn so far (stdout and stderr share the terminal).
local function bar()
  if not require("ksh.sys").isatty(2) then return nil end
  local cur, total, t0, drawn, live = 0, 0, loop.now(), 0, false
  local cols = tonumber(os.getenv("COLUMNS") or "") or 80
  local function draw(final)
    local el = loop.now() - t0
    local left = ("%d / %d"):format(cur, total)
    local right = ("%.2f%% %d p/s"):format(total > 0 and cur * 100 / total or 0, el > 0 and math.floor(cur / el) or 0)
    local inner = math.max(2, cols - #left - #right - 5)
    local n = total > 0 and math.ceil(cur / total * inner) or 0
    local b
    if final and cur == total then b = ("-"):rep(n) .. ("_"):rep(inner - n)
    elseif n > 0 then b = ("-"):rep(n - 1) .. ">" .. ("_"):rep(inner - n)
    else b = ("_"):rep(inner) end
    local line = left .. " [" .. b .. "] " .. right
    -- padded to the width, as pb does on a terminal, so a shorter line leaves nothing behind
    io.stderr:write("\r" .. line .. (" "):rep(cols - 1 - #line) .. (final and "\n" or ""))
    drawn, live = loop.now(), not final
  end
  return {
    update = function(v, t)
      if not live then t0 = loop.now() end
      cur, total = v, t
      if not live or loop.now() - drawn >= 0.2 then draw(false) end
    end,
    finish = function() if live then draw(true) end end,
  }
end

--- run(sub, o, c, env): `check perf|datascale` with the flags o; env =
-- {fail, errtext, out, EXIT_*} from scripts/etcd.lua.  Returns the exit status.
function M.run(sub, o, c, env)
  local load = o.load
  if not ALIAS[load] then env.fail(env.EXIT_BAD_FEATURE, "unknown load option %s", load) end
  if o._changed.prefix and o.prefix == "" then
    -- etcdctl would write at the top of the keyspace and delete all of it afterwards
    env.fail(env.EXIT_INVALID_INPUT, "kscript etcd: an empty --prefix is refused (the check deletes its prefix afterwards)")
  end
  local b = bar()
  local opts = {
    load = load, prefix = o._changed.prefix and o.prefix or nil, auto_compact = o["auto-compact"],
    auto_defrag = o["auto-defrag"], endpoint_names = o._raw_endpoints,
    log = function(line)
      if b then b.finish() end
      env.out(line .. "\n")
    end,
    progress = b and b.update,
  }
  local fn = sub == "perf" and M.perf or M.datascale
  local r, e = fn(c, opts)
  if b then b.finish() end
  if not r then
    if type(e) == "table" and e.kind == "exists" then env.fail(env.EXIT_INVALID_INPUT, "%s", e.message) end
    env.fail(env.EXIT_ERROR, "%s", env.errtext(e))
  end
  return r.ok and 0 or env.EXIT_ERROR
end

return M
