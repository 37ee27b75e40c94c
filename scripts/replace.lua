-- replace: replace resources from files or standard input (kubectl replace -f)
-- usage: replace -f FILE|DIR|- [-f ...] [-R] [flags]
--   -f, --filename FILE      YAML or JSON (many documents, Lists), a directory, - for stdin
--   -R, --recursive;  -n NS;  --dry-run=server;  -o name|json|yaml
--   --field-manager NAME (default kubectl-replace);  --validate=strict|warn|ignore
--   --context, --kubeconfig, -s/--server, --token, --insecure-skip-tls-verify, --request-timeout
-- A PUT of each object: without metadata.resourceVersion the object is
-- replaced whatever its state; with one, a stale version is a conflict.
local args = require "ksh.args"
local cli = require "k8s.cli"
local ksh = require "ksh"

local o, rest = args.parse(arg, cli.flags {
  { "f", "filename", value = true, list = true },
  { "R", "recursive" },
  { nil, "dry-run", value = true },
  { "o", "output", value = true },
  { nil, "field-manager", value = true, default = "kubectl-replace" },
  { nil, "validate", value = true },
  { nil, "save-config" },
})
if not o.filename then ksh.usage("must specify --filename to replace") end
if #rest > 0 then ksh.usage("unexpected arguments: %s (replace takes -f FILE)", table.concat(rest, " ")) end
local dry = cli.dry_run(o.dry_run)
local validation = cli.validation(o.validate)

local k = cli.connect(o)
local objs, status = cli.objects(o, k)
if not objs then return status end

local results = cli.run_ordered(k, objs, function(obj, i)
  local e, ns = cli.locate(k, obj, objs.where[i], o)
  if not e then return nil, ns end
  if dry == "client" then return obj, nil, e end
  local r, err = k:replace(obj, { namespace = ns, dry_run = dry == "server", field_manager = o.field_manager,
    field_validation = validation })
  return r, err, e
end)
local errors = {}
for i, r in ipairs(results) do
  local obj, err, e = r[1], r[2], r[3]
  if obj then
    if o.output then cli.print_object(o.output, e, obj)
    else io.stdout:write(cli.name_word(e, obj.metadata.name), " replaced", cli.suffix(dry), "\n") end
  else
    errors[#errors + 1] = { err, objs.where[i].source, not err.no_kind and "replacing" or nil }
  end
end
return cli.report(errors)
