-- scale: set the replica count of a deployment, replica set, stateful set, ... (kubectl scale)
-- usage: scale RESOURCE NAME... | TYPE/NAME... | RESOURCE -l SEL | RESOURCE --all --replicas=N [flags]
--   --replicas N             the new count (required)
--   --current-replicas N     only if the count is N now;  --resource-version RV
--   -l, --selector SEL; --all; -n NS; --dry-run=server; -o name
--   --context, --kubeconfig, -s/--server, --token, --insecure-skip-tls-verify, --request-timeout
-- A merge patch of the scale subresource; prints "deployment.apps/web scaled".
local args = require "ksh.args"
local cli = require "k8s.cli"
local ksh = require "ksh"

local o, rest = args.parse(arg, cli.flags {
  { nil, "replicas", value = true, number = true, default = -1 },
  { nil, "current-replicas", value = true, number = true, default = -1 },
  { nil, "resource-version", value = true },
  { "l", "selector", value = true },
  { nil, "all" },
  { nil, "dry-run", value = true },
  { "o", "output", value = true },
})
if o.replicas < 0 then ksh.usage("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0") end
local dry = cli.dry_run(o.dry_run)
local k = cli.connect(o)
local t, terr = cli.targets(k, rest)
if not t then io.stderr:write("error: ", tostring(terr.message), "\n"); return 1 end
local ns = o.namespace or k.namespace or "default"
if #t == 0 and t.entry and (o.all or o.selector) then
  local list, lerr = k:list(t.entry, { namespace = ns, labelSelector = o.selector })
  if not list then return cli.fail(lerr) end
  for _, it in ipairs(list.items or {}) do t[#t + 1] = { entry = t.entry, name = it.metadata.name } end
end
if #t == 0 then ksh.usage("one or more resources must be specified as <resource> <name> or <resource>/<name>") end
local errors = {}
local results = k:each(t, function(x)
  local nsx = x.entry.namespaced and ns or nil
  if o.current_replicas >= 0 or o.resource_version then
    local sc, err = k:get(x.entry, x.name, { namespace = nsx, subresource = "scale" })
    if not sc then return nil, err end
    if o.current_replicas >= 0 and (sc.spec and sc.spec.replicas or 0) ~= o.current_replicas then
      return nil, ksh.error("invalid", ("Expected replicas to be %d, was %d"):format(o.current_replicas, sc.spec and sc.spec.replicas or 0))
    end
    if o.resource_version and sc.metadata.resourceVersion ~= o.resource_version then
      return nil, ksh.error("conflict", ("Expected resourceVersion %s, was %s"):format(o.resource_version, sc.metadata.resourceVersion))
    end
  end
  return k:scale(x.entry, x.name, o.replicas, { namespace = nsx, dry_run = dry == "server" })
end)
for i, r in ipairs(results) do
  if r[1] then
    if o.output == "name" then io.stdout:write(cli.name_word(t[i].entry, t[i].name), "\n")
    else io.stdout:write(cli.name_word(t[i].entry, t[i].name), " scaled", cli.suffix(dry), "\n") end
  else
    errors[#errors + 1] = { r[2] }
  end
end
return cli.report(errors)
