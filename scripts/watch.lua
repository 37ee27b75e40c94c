-- watch: print a resource's changes, or run a Lua handler on each one
-- usage: watch RESOURCE [NAME] | TYPE/NAME [HANDLER.lua] [flags]
--   -n, --namespace NS       namespace (default: the context's);  -A, --all-namespaces
--   -l, --selector SEL       label selector;  --field-selector SEL
--   -o, --output FORMAT      json | yaml | name (default: a table with an EVENT column)
--   --on 'LUA'               run LUA for each event (or give a HANDLER.lua file
--                            that returns function(ev, cache, k))
--   --since-now              only changes from now on (no ADDED for what exists)
--   --timeout DUR            stop after DUR (30s, 5m), status 0
--   --stop-on-error          a handler error ends the watch (status 1)
--   --context NAME, --kubeconfig FILE, -s/--server URL, --token T,
--   --insecure-skip-tls-verify
--
-- Without a handler the events print as `kubectl get -w --output-watch-events`
-- prints them.  A handler sees `ev` (ev.type ADDED, MODIFIED or DELETED,
-- ev.object, ev.old: the previous version on MODIFIED), `cache` (every object
-- seen, by "namespace/name", or "name" when cluster-scoped) and `k` (the
-- client).  Handlers run one at a time, in the order of the events;
-- `return false` ends the watch (status 0).  A handler error prints its
-- traceback to stderr and the watch goes on (--stop-on-error: status 1).
-- The watch resumes a dropped connection and relists on 410 (k:watch).
--   kscript watch pods -A --on 'if ev.type == "DELETED" then print(ev.object.metadata.name) end'
--
-- usage: watch etcd KEY [HANDLER.lua] [--prefix] [--rev N] [--prev-kv] [flags]
--   --on 'LUA' | HANDLER.lua, --timeout DUR, --stop-on-error as above
--   --endpoints URLS, --cacert F, --cert F, --key F (default: $ETCDCTL_*)
-- Watches an etcd key (every key under it with --prefix) from now, or from
-- revision N.  Without a handler it prints as `etcdctl watch` does (PUT or
-- DELETE, then the key and the value, on lines of their own).  A handler
-- sees `ev` (ev.type PUT or DELETE, ev.kv = {key, value, mod_revision,
-- create_revision, version, lease}, ev.prev_kv: the value before, ev.revision),
-- `cache` (the last kv of every key changed since the watch began, by key)
-- and `c` (the etcd client).  A compacted --rev ends it with status 1.
--   kscript watch etcd /registry/pods/ --prefix --on 'print(ev.type, ev.kv.key)'
local args = require "ksh.args"
local cli = require "k8s.cli"
local printers = require "k8s.printers"
local ksh = require "ksh"
local json = require "json"
collectgarbage("generational")

-- the handler: --on CODE, or a positional HANDLER.lua that is a readable
-- file (removed from rest); names are the handler's three arguments
local function load_handler(on, rest, names)
  local file
  for i = #rest, 2, -1 do
    local f = rest[i]:match("%.lua$") and io.open(rest[i], "r")
    if f then
      f:close()
      file = table.remove(rest, i)
      break
    end
  end
  if on and file then ksh.usage("give either --on or a HANDLER.lua, not both") end
  if on then
    -- (the locals share line 1 with the code, so error lines are the code's)
    local chunk, err = load("local " .. names .. " = ... " .. on, "=--on", "t")
    if not chunk then ksh.usage("--on: %s", err) end
    return chunk
  elseif file then
    local chunk, err = loadfile(file, "t")
    if not chunk then ksh.usage("%s", err) end
    local ok, fn = pcall(chunk)
    if not ok then error(tostring(fn), 0) end
    if type(fn) ~= "function" then ksh.usage("%s must return a function(%s)", file, names) end
    return fn
  end
end

-- run handler(ev, ...) with the watch's rules: true to go on, false to stop, or the status
local function call_handler(handler, stop_on_error, ...)
  local hok, res = xpcall(handler, function(m)
    if ksh.is_interrupt(m) then return m end
    -- (the traceback down to the handler, not the runner's frames)
    local tb = debug.traceback(tostring(m), 2)
    return { traceback = tb:match("^(.-)\n\t%[C%]: in function 'xpcall'") or tb, err = m }
  end, ...)
  if not hok then
    if ksh.is_interrupt(res) then error(res, 0) end
    io.stderr:write("kscript: watch: handler error: ", res.traceback, "\n")
    io.stderr:flush()
    if stop_on_error then return false, 1 end
  elseif res == false then
    return false, 0
  end
  return true
end

-- ---------------------------------------------------------------- watch etcd
local function watch_etcd(argv)
  local eo, erest = args.parse(argv, {
    { nil, "endpoints", value = true }, { nil, "cacert", value = true },
    { nil, "cert", value = true }, { nil, "key", value = true },
    { nil, "prefix" }, { nil, "rev", value = true, number = true }, { nil, "prev-kv" },
    { nil, "on", value = true }, { nil, "timeout", value = true }, { nil, "stop-on-error" },
  })
  local handler = load_handler(eo.on, erest, "ev, cache, c")
  if #erest ~= 1 then ksh.usage("watch etcd: one KEY expected (and at most one HANDLER.lua)") end
  local timeout = eo.timeout and cli.duration(eo.timeout, "timeout") or nil
  local etcd = require "etcd"
  local loop = require "ksh.loop"
  local c = assert(etcd.connect { endpoints = eo.endpoints, cacert = eo.cacert, cert = eo.cert, key = eo.key })
  local key = erest[1]
  local wo = { start_revision = eo.rev, prev_kv = (handler ~= nil or eo.prev_kv) or nil }
  if eo.prefix then
    if key == "" then key, wo.range_end = "\0", "\0" else wo.prefix = true end
  end
  local w <close> = c:watcher(key, wo)
  local status, timed_out = 0, false
  if timeout then
    local me = loop.current()
    ksh.after(timeout, function() timed_out = true; loop.cancel(me) end)
  end
  local cache = {}
  local ctl = require "etcd.ctl"
  local ok, err = ksh.try(function()
    while true do
      local ev = w:next()
      if ev == nil then break end
      if ev.type == "PUT" or ev.type == "DELETE" then
        if handler then
          cache[ev.kv.key] = ev.type == "PUT" and ev.kv or nil
          local go, st = call_handler(handler, eo.stop_on_error, ev, cache, c)
          if not go then status = st; break end
        else
          ctl.simple.watch(function(s) io.stdout:write(s) end, { events = { ev } }, {})
          io.stdout:flush()
        end
      end
    end
  end)
  if not ok and not (timed_out and type(err) == "table" and err.kind == "cancelled") then error(err, 0) end
  return status
end
if arg[1] == "etcd" then return watch_etcd(table.move(arg, 2, #arg, 1, {})) end

local o, rest = args.parse(arg, cli.flags {
  { "A", "all-namespaces" },
  { "l", "selector", value = true },
  { nil, "field-selector", value = true },
  { "o", "output", value = true },
  { nil, "on", value = true },
  { nil, "since-now" },
  { nil, "timeout", value = true },
  { nil, "stop-on-error" },
  { nil, "no-headers" },
})

local output = o.output
if output and not ({ json = true, yaml = true, name = true, wide = true })[output] then
  ksh.usage("unsupported output format %q (json, yaml, name, wide)", output)
end
if #rest == 0 then ksh.usage("you must specify the type of resource to watch (kscript api-resources lists them)") end

local handler = load_handler(o.on, rest, "ev, cache, k")

local typ, name = rest[1], rest[2]
if typ:find("/", 1, true) then
  if rest[2] then ksh.usage("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form") end
  typ, name = typ:match("^([^/]+)/(.+)$")
  if not typ then ksh.usage("expected TYPE/NAME") end
elseif #rest > 2 then
  ksh.usage("one NAME at most (and at most one HANDLER.lua)")
end

local timeout = o.timeout and cli.duration(o.timeout, "timeout") or nil
if timeout and timeout <= 0 then timeout = nil end

local k = cli.connect(o)
local e, rerr = k:resource(typ)
if not e then
  if type(rerr) == "table" and rerr.kind == "notfound" and not rerr.status then
    io.stderr:write("error: ", tostring(rerr), "\n")
    return 1
  end
  error(rerr, 0)
end

local human = handler == nil and (output == nil or output == "wide")
local wopts = { namespace = o.namespace, all_namespaces = o.all_namespaces, name = name,
                labelSelector = o.selector, fieldSelector = o.field_selector, timeout = timeout,
                accept = human and printers.TABLE_ACCEPT or nil }

local function out(s) io.stdout:write(s) end

-- ---------------------------------------------------------------- printing
local show
if handler == nil then
  local tbl = printers.table { wide = output == "wide", namespace = o.all_namespaces and e.namespaced,
    no_headers = o.no_headers, event = true }
  tbl.widths[1] = 11 -- kubectl pads EVENT to 8 characters (MODIFIED) from the first line
  local doc = printers.watch_output(output, { events = true })
  show = function(ev)
    if human then
      local obj = ev.object
      if type(obj) == "table" and obj.kind == "Table" then
        tbl:add(obj, ev.type)
      else -- (a relist's DELETED carries only the object's name)
        local m = type(obj) == "table" and obj.metadata or {}
        tbl:add({ rows = { { cells = { m.name }, object = { metadata = m } } } }, ev.type)
      end
      out(tbl:render())
    elseif output == "name" then
      out(printers.name(ev.object, e) .. "\n")
    else
      local s = doc(ev)
      if s then out(s) end
    end
    io.stdout:flush()
  end
end

-- ---------------------------------------------------------------- the loop
local function key_of(obj)
  local m = type(obj) == "table" and type(obj.metadata) == "table" and obj.metadata or {}
  local ns = m.namespace
  if ns == nil or ns == json.null or ns == "" then return tostring(m.name) end
  return ns .. "/" .. tostring(m.name)
end

local cache = {}
local status = 0
local it, w = k:watch(e, wopts)
local ok, err = ksh.try(function()
  for ev in it do
    local t = ev.type
    if t == "ADDED" or t == "MODIFIED" or t == "DELETED" then
      if handler then
        local key = key_of(ev.object)
        local old = cache[key]
        if t == "DELETED" then
          -- (a relist's DELETED names the object only: hand over the last version seen)
          if old and ev.relist then ev.object = old end
          cache[key] = nil
        else
          cache[key] = ev.object
          if t == "MODIFIED" then ev.old = old end
        end
        if not (o.since_now and ev.initial) then
          local go, st = call_handler(handler, o.stop_on_error, ev, cache, k)
          if not go then
            status = st
            break
          end
        end
      elseif not (o.since_now and ev.initial) then
        show(ev)
      end
    end
  end
end)
w:close()
if not ok then error(err, 0) end
return status
