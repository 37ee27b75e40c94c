-- create: create resources from files or standard input, as kubectl create -f does
-- usage: create -f FILE|DIR|- [-f ...] [-R] [flags]
--   -f, --filename FILE      a YAML or JSON file (many documents, Lists), a directory, - for stdin
--   -R, --recursive          walk directories given with -f
--   -n, --namespace NS       the namespace for objects that name none
--   --dry-run=server|client  ask the server to validate only, or print only
--   -o, --output name|json|yaml   print the created objects
--   --field-manager NAME     (default kubectl-create, as kubectl)
--   --validate=strict|warn|ignore   the server's field validation (default strict)
--   --context, --kubeconfig, -s/--server, --token, --insecure-skip-tls-verify, --request-timeout
-- Objects are sent concurrently (a Namespace or a CRD first, before what follows it);
-- the lines come out in file order, errors after them, as kubectl prints them.
local args = require "ksh.args"
local cli = require "k8s.cli"
local ksh = require "ksh"

local o, rest = args.parse(arg, cli.flags {
  { "f", "filename", value = true, list = true },
  { "R", "recursive" },
  { nil, "dry-run", value = true },
  { "o", "output", value = true },
  { nil, "field-manager", value = true, default = "kubectl-create" },
  { nil, "validate", value = true },
  { nil, "save-config" },
})
if not o.filename then
  ksh.usage("must specify one of -f and -k")
end
if #rest > 0 then ksh.usage("unexpected arguments: %s (create takes -f FILE)", table.concat(rest, " ")) end
local dry = cli.dry_run(o.dry_run)
local validation = cli.validation(o.validate)

local k = cli.connect(o)
local objs, status = cli.objects(o, k)
if not objs then return status end

local errors = {}
local results = cli.run_ordered(k, objs, function(obj, i)
  local where = objs.where[i]
  local e, ns = cli.locate(k, obj, where, o)
  if not e then return nil, e == nil and ns or nil, nil end
  if dry == "client" then return obj, nil, e end
  local created, err = k:create(obj, { namespace = ns, dry_run = dry == "server",
    field_manager = o.field_manager, field_validation = validation })
  return created, err, e
end)
for i, r in ipairs(results) do
  local obj, err, e = r[1], r[2], r[3]
  if obj then
    if o.output then cli.print_object(o.output, e, obj)
    else io.stdout:write(cli.name_word(e, obj.metadata.name), " created", cli.suffix(dry), "\n") end
  else
    errors[#errors + 1] = { err, objs.where[i].source, not err.no_kind and "creating" or nil }
  end
end
return cli.report(errors)
