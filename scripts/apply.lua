-- apply: server-side apply of files or standard input (kubectl apply --server-side)
-- usage: apply -f FILE|DIR|- [-f ...] [-R] [flags]
-- kscript's apply is always server-side apply: the server merges the fields
-- this field manager owns.  There is no client-side apply (no
-- last-applied-configuration annotation) and no --prune.
--   -f, --filename FILE      YAML or JSON (many documents, Lists), a directory, - for stdin
--   -R, --recursive          walk directories given with -f
--   --server-side            accepted (always on)
--   --force-conflicts        take over fields another manager owns
--   --field-manager NAME     (default kubectl, as kubectl apply --server-side)
--   --dry-run=server         the server validates and answers, nothing is stored
--   -o, --output name|json|yaml;  -n NS; --validate=strict|warn|ignore
--   --context, --kubeconfig, -s/--server, --token, --insecure-skip-tls-verify, --request-timeout
-- Prints "configmap/x serverside-applied" for every object, as kubectl does.
local args = require "ksh.args"
local cli = require "k8s.cli"
local ksh = require "ksh"

local o, rest = args.parse(arg, cli.flags {
  { "f", "filename", value = true, list = true },
  { "R", "recursive" },
  { nil, "server-side" },
  { nil, "force-conflicts" },
  { nil, "field-manager", value = true, default = "kubectl" },
  { nil, "dry-run", value = true },
  { "o", "output", value = true },
  { nil, "validate", value = true },
})
if o.server_side == false then ksh.usage("kscript apply is always server-side apply (--server-side=false is not offered)") end
if not o.filename then ksh.usage("must specify one of -f and -k") end
if #rest > 0 then ksh.usage("unexpected arguments: %s (apply takes -f FILE)", table.concat(rest, " ")) end
local dry = cli.dry_run(o.dry_run)
if dry == "client" then ksh.usage("--dry-run=client is not offered with server-side apply: use --dry-run=server") end
local validation = cli.validation(o.validate)

local k = cli.connect(o)
local objs, status = cli.objects(o, k)
if not objs then return status end

local results = cli.run_ordered(k, objs, function(obj, i)
  local e, ns = cli.locate(k, obj, objs.where[i], o)
  if not e then return nil, ns end
  local m = type(obj.metadata) == "table" and obj.metadata or {}
  if type(m.name) ~= "string" or m.name == "" then
    return nil, ksh.error("invalid", ('error when retrieving current configuration of:\nResource: "%s", GroupVersionKind: "%s"\nName: "", Namespace: "%s"\nfrom server for: "%s": resource name may not be empty')
      :format(e.name .. "." .. e.version .. "." .. e.group, obj.apiVersion .. ", Kind=" .. obj.kind, ns or "", objs.where[i].source))
  end
  local applied, err = k:apply(obj, { namespace = ns, field_manager = o.field_manager, force = o.force_conflicts,
    dry_run = dry == "server", field_validation = validation })
  return applied, err, e
end)

local errors = {}
for i, r in ipairs(results) do
  local obj, err, e = r[1], r[2], r[3]
  if obj then
    if o.output then cli.print_object(o.output, e, obj)
    else io.stdout:write(cli.name_word(e, obj.metadata.name), " serverside-applied", cli.suffix(dry), "\n") end
  elseif err.kind == "conflict" and err.status_object and err.status_object.reason == "Conflict"
      and tostring(err.status_object.message):match("^Apply failed") then
    errors[#errors + 1] = { ksh.error("conflict", tostring(err.status_object.message) .. [[

Please review the fields above--they currently have other managers. Here
are the ways you can resolve this warning:
* If you intend to manage all of these fields, please re-run the apply
  command with the `--force-conflicts` flag.
* If you do not intend to manage all of the fields, please edit your
  manifest to remove references to the fields that should keep their
  current managers.
* You may co-own fields by updating your manifest to match the existing
  value; in this case, you'll become the manager if the other manager(s)
  stop managing the field (remove it from their configuration).
See https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts]]) }
  else
    errors[#errors + 1] = { err }
  end
end
return cli.report(errors)
