-- delete: delete resources by name, selector, --all, or from files (kubectl delete)
-- usage: delete RESOURCE NAME... | TYPE/NAME... | RESOURCE -l SEL | RESOURCE --all | -f FILE [flags]
--   -f, --filename FILE, -R     the objects named in files (YAML/JSON, many documents), - for stdin
--   -l, --selector SEL; --field-selector SEL; --all; -A, --all-namespaces
--   --cascade=background|foreground|orphan   (default background)
--   --grace-period N         seconds (default: the object's own); 0 with --force deletes at once
--   --now                    --grace-period=1;  --force
--   --wait=true|false        wait until the objects are gone (default true), on a watch
--   --timeout DUR            give up waiting after DUR (default: a week, as kubectl)
--   --ignore-not-found;  --dry-run=server|client;  -o name;  -n NS
--   --context, --kubeconfig, -s/--server, --token, --insecure-skip-tls-verify, --request-timeout
local args = require "ksh.args"
local cli = require "k8s.cli"
local ksh = require "ksh"

local o, rest = args.parse(arg, cli.flags {
  { "f", "filename", value = true, list = true },
  { "R", "recursive" },
  { "l", "selector", value = true },
  { nil, "field-selector", value = true },
  { nil, "all" },
  { "A", "all-namespaces" },
  { nil, "cascade", value = true },
  { nil, "grace-period", value = true, number = true, default = -1 },
  { nil, "now" },
  { nil, "force" },
  { nil, "wait", default = true },
  { nil, "timeout", value = true },
  { nil, "ignore-not-found" },
  { nil, "dry-run", value = true },
  { "o", "output", value = true },
})
local cascade = o.cascade or "background"
if cascade == "true" then cascade = "background" elseif cascade == "false" then cascade = "orphan" end
local policy = ({ background = "Background", foreground = "Foreground", orphan = "Orphan" })[cascade]
if not policy then ksh.usage('invalid cascade value (%s). Must be "background", "foreground", or "orphan"', cascade) end
local grace = o.grace_period
if o.now then
  if grace >= 0 then ksh.usage("--now and --grace-period cannot be specified together") end
  grace = 1
end
if o.force and grace < 0 then grace = 0 end
if grace == 0 and not o.force then grace = 1 end
local dry = cli.dry_run(o.dry_run)
if o.output and o.output ~= "name" then ksh.usage("unexpected -o output mode: %s. We only support '-o name'", o.output) end
local timeout = o.timeout and cli.duration(o.timeout, "--timeout") or 0
if timeout == 0 then timeout = 168 * 3600 end

local function usage_no_args()
  io.stderr:write("error: You must provide one or more resources by argument or filename.\n",
    "Example resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'\n")
  return 1
end

local k = cli.connect(o)
if grace == 0 and o.force then
  io.stderr:write("Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.\n")
end

-- what to delete: {entry, name, namespace, source}
local todo = {}
local errors = {}
if o.filename then
  if #rest > 0 then ksh.usage("when paths, URLs, or stdin is provided as input, you may not specify resource arguments as well") end
  local objs, status = cli.objects(o, k)
  if not objs then return status end
  for i, obj in ipairs(objs) do
    local e, ns = cli.locate(k, obj, objs.where[i], o)
    if not e then return cli.fail(ns) end
    todo[#todo + 1] = { entry = e, name = obj.metadata and obj.metadata.name, namespace = ns, source = objs.where[i].source }
  end
else
  if #rest == 0 then return usage_no_args() end
  local t, err = cli.targets(k, rest)
  if not t then
    io.stderr:write("error: ", tostring(err.message), "\n")
    return 1
  end
  local ns = o.namespace or k.namespace or "default"
  if #t > 0 then
    if o.all or o.selector then ksh.usage("name cannot be provided when a selector is specified") end
    for _, x in ipairs(t) do
      todo[#todo + 1] = { entry = x.entry, name = x.name, namespace = x.entry.namespaced and ns or nil }
    end
  elseif o.all or o.selector or o.field_selector then
    local e = t.entry
    local list, lerr = k:list(e, { namespace = ns, all_namespaces = o.all_namespaces,
      labelSelector = o.selector, fieldSelector = o.field_selector })
    if not list then return cli.fail(lerr) end
    for _, it in ipairs(list.items or {}) do
      todo[#todo + 1] = { entry = e, name = it.metadata.name,
        namespace = e.namespaced and (it.metadata.namespace or ns) or nil }
    end
  else
    io.stderr:write("error: resource(s) were provided, but no name was specified\n")
    return 1
  end
end

local results = k:each(todo, function(t)
  if dry == "client" then return true end
  local r, err = k:delete(t.entry, t.name, { namespace = t.namespace, propagation_policy = policy,
    grace_period = grace >= 0 and grace or nil, dry_run = dry == "server" })
  return r, err
end)

local found = 0
local waits = {}
local warn_cluster = o.namespace ~= nil and not o.all_namespaces
for i, r in ipairs(results) do
  local t = todo[i]
  if warn_cluster and not t.entry.namespaced then
    io.stdout:flush()
    io.stderr:write("Warning: deleting cluster-scoped resources, not scoped to the provided namespace\n")
    warn_cluster = false
  end
  local resp, err = r[1], r[2]
  if resp then
    found = found + 1
    if o.output == "name" then
      io.stdout:write(cli.kind_word(t.entry), "/", t.name, "\n")
    else
      local op = grace == 0 and "force deleted" or "deleted"
      if t.entry.namespaced then op = op .. " from " .. t.namespace .. " namespace" end
      io.stdout:write(cli.kind_word(t.entry), ' "', t.name, '" ', op, cli.suffix(dry), "\n")
    end
    local uid
    if type(resp) == "table" then
      if resp.kind == "Status" then uid = type(resp.details) == "table" and resp.details.uid or nil
      else uid = type(resp.metadata) == "table" and resp.metadata.uid or nil end
    end
    waits[#waits + 1] = { t = t, uid = uid }
  elseif err.kind == "notfound" and o.ignore_not_found then
    found = found + 1   -- as kubectl: found, then the NotFound ignored
  else
    errors[#errors + 1] = { err, t.source, t.source and "deleting" or nil }
  end
end
if #errors > 0 then return cli.report(errors) end
if found == 0 then
  io.stdout:write("No resources found\n")
  return 0
end
if not o.wait or dry then return 0 end
io.stdout:flush()
local waited = k:each(waits, function(w)
  return k:wait_for(w.t.entry, w.t.name, "delete", { namespace = w.t.namespace, uid = w.uid, timeout = timeout })
end)
for i, r in ipairs(waited) do
  if not r[1] and r[2] and r[2].kind ~= "forbidden" and r[2].kind ~= "notallowed" then
    errors[#errors + 1] = { r[2].kind == "timeout" and ksh.error("timeout", ("timed out waiting for the condition on %s/%s"):format(waits[i].t.entry.name, waits[i].t.name)) or r[2] }
  end
end
return cli.report(errors)
