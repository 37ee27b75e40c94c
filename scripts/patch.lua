-- patch: change fields of a resource with a patch (kubectl patch)
-- usage: patch RESOURCE NAME | TYPE/NAME -p PATCH [--type strategic|merge|json] [flags]
--   -p, --patch TEXT     the patch, JSON or YAML;  --patch-file FILE
--   --type TYPE          strategic (default, as kubectl), merge or json
--   --subresource NAME   status, scale, ...
--   -n NS; --dry-run=server; -o name|json|yaml; --field-manager NAME (default kubectl-patch)
--   --context, --kubeconfig, -s/--server, --token, --insecure-skip-tls-verify, --request-timeout
-- Prints "deployment.apps/web patched", or "... patched (no change)" when the
-- object came back unchanged.
local args = require "ksh.args"
local cli = require "k8s.cli"
local ksh = require "ksh"
local json = require "json"

local o, rest = args.parse(arg, cli.flags {
  { "p", "patch", value = true },
  { nil, "patch-file", value = true },
  { nil, "type", value = true, default = "strategic" },
  { nil, "subresource", value = true },
  { nil, "dry-run", value = true },
  { nil, "field-manager", value = true, default = "kubectl-patch" },
  { "o", "output", value = true },
})
if not ({ strategic = true, merge = true, json = true })[o.type] then
  ksh.usage("--type must be one of [json merge strategic], not %q", o.type)
end
local text = o.patch
if o.patch_file then
  local f, err = io.open(o.patch_file, "rb")
  if not f then io.stderr:write("error: unable to read patch file: ", tostring(err), "\n"); return 1 end
  text = f:read("a")
  f:close()
end
if not text or text == "" then ksh.usage("must specify --patch or --patch-file containing the contents of the patch") end
local dry = cli.dry_run(o.dry_run)
-- kubectl turns a YAML patch into JSON
local body = text
if not json.decode(text) then
  local y = require("ksh.yaml").decode(text)
  if type(y) == "table" then body = json.encode(y) end
end

local k = cli.connect(o)
local t, terr = cli.targets(k, rest)
if not t then io.stderr:write("error: ", tostring(terr.message), "\n"); return 1 end
if #t ~= 1 then ksh.usage("patch takes one resource: TYPE NAME or TYPE/NAME") end
local e, name = t[1].entry, t[1].name
local ns = e.namespaced and (o.namespace or k.namespace or "default") or nil
local before, gerr = k:get(e, name, { namespace = ns, subresource = o.subresource })
if not before then return cli.fail(gerr) end
local after, perr = k:patch(e, name, body, { type = o.type, namespace = ns, subresource = o.subresource,
  dry_run = dry == "server", field_manager = o.field_manager })
if not after then return cli.fail(perr) end
if o.output then
  cli.print_object(o.output, e, after)
else
  local changed = not (before.metadata and after.metadata and before.metadata.resourceVersion == after.metadata.resourceVersion)
  io.stdout:write(cli.name_word(e, name), changed and " patched" or " patched (no change)", cli.suffix(dry), "\n")
end
return 0
