-- k8s.cli: what the write commands (create, apply, replace, delete, patch,
-- label, annotate, scale, logs, edit) share: the connection flags, kubectl's
-- error messages, the "kind.group/name" words, resource arguments.
local util = require "k8s.util"
local docs = require "k8s.docs"

local M = {}

--- flags(list) -> list with the connection flags every command takes
function M.flags(list)
  local common = {
    { "n", "namespace", value = true },
    { nil, "context", value = true },
    { nil, "kubeconfig", value = true },
    { "s", "server", value = true },
    { nil, "token", value = true },
    { nil, "insecure-skip-tls-verify" },
    { nil, "request-timeout", value = true },
  }
  for _, f in ipairs(common) do list[#list + 1] = f end
  return list
end

local function timeout_of(s)
  if not s or s == "0" then return nil end
  local n, unit = tostring(s):match("^([%d%.]+)(%a*)$")
  n = tonumber(n)
  if not n then require("ksh").usage("invalid --request-timeout %q", s) end
  return n * (({ ms = 0.001, s = 1, m = 60, h = 3600, [""] = 1 })[unit] or 1)
end

--- duration("5m", "--since") -> seconds: Go's time.ParseDuration (ksh.sys),
-- a bad value is a usage error in kubectl's words
function M.duration(s, flag)
  if s == nil then return nil end
  local secs, err = require("ksh.sys").parse_duration(tostring(s))
  if not secs then
    require("ksh").usage('invalid argument "%s" for "%s" flag: %s', tostring(s), flag or "a", tostring(err))
  end
  return secs
end

--- connect(o) -> client (raises on failure)
function M.connect(o)
  local k8s = require "k8s"
  local k, err = k8s.connect {
    namespace = o.namespace, context = o.context, kubeconfig = o.kubeconfig, server = o.server,
    token = o.token, insecure_skip_tls_verify = o.insecure_skip_tls_verify,
    request_timeout = timeout_of(o.request_timeout),
  }
  if not k then error(err, 0) end
  return k
end

--- kind_word(entry) -> "deployment.apps" / "configmap"
function M.kind_word(e)
  local k = tostring(e.kind):lower()
  if e.group ~= "" then k = k .. "." .. e.group end
  return k
end

--- name_word(entry, name) -> "deployment.apps/web"
function M.name_word(e, name) return M.kind_word(e) .. "/" .. tostring(name) end

local function status_of(err)
  local st = type(err) == "table" and err.status_object
  if type(st) == "table" then return st end
  return nil
end

local function with_source(msg, source, verb)
  if source and verb then return ('error when %s "%s": %s'):format(verb, source, msg) end
  return msg
end

--- message(err [, source, verb]) -> kubectl's StandardErrorMessage for one error (no newline)
function M.message(err, source, verb)
  local st = status_of(err)
  if st then
    local msg = with_source(tostring(st.message or ""), source, verb)
    local reason = type(st.reason) == "string" and st.reason ~= "" and st.reason or nil
    if reason == "Unauthorized" then return ("error: You must be logged in to the server (%s)"):format(tostring(st.message)) end
    if reason then return ("Error from server (%s): %s"):format(reason, msg) end
    return "Error from server: " .. msg
  end
  local msg = type(err) == "table" and tostring(err.message) or tostring(err)
  if msg:sub(1, 7) ~= "error: " then msg = "error: " .. msg end
  return msg
end

-- kubectl's checkErr for a single error: Invalid statuses spelled out
local function single(err, source, verb)
  local st = status_of(err)
  if st and st.reason == "Invalid" then
    local d = st.details
    local s = "The request is invalid"
    if type(d) ~= "table" then
      if type(st.message) == "string" and st.message ~= "" then s = s .. ": " .. st.message end
      return s .. "\n"
    end
    local causes = type(d.causes) == "table" and d.causes or {}
    if (d.kind and d.kind ~= "") or (d.name and d.name ~= "") then
      s = ('The %s "%s" is invalid'):format(tostring(d.kind or ""), tostring(d.name or ""))
    elseif type(st.message) == "string" and st.message ~= "" and #causes == 0 then
      s = s .. ": " .. st.message
    end
    if #causes == 0 then return s .. "\n" end
    local msgs, seen = {}, {}
    for _, c in ipairs(causes) do
      local m = ("%s: %s"):format(tostring(c.field or ""), tostring(c.message or ""))
      if not seen[m] then seen[m] = true; msgs[#msgs + 1] = m end
    end
    if #msgs == 1 then return s .. ": " .. msgs[1] .. "\n" end
    local out = { s .. ": \n" }
    for _, m in ipairs(msgs) do out[#out + 1] = "* " .. m .. "\n" end
    return table.concat(out)
  end
  local m = M.message(err, source, verb)
  return m:sub(-1) == "\n" and m or m .. "\n"
end

--- report(errors) -> 1 after printing them as kubectl does (one: checkErr;
-- several: one line each), 0 when there are none.  errors[i] = {err, source, verb}
function M.report(errors)
  if #errors == 0 then return 0 end
  io.stdout:flush()
  if #errors == 1 then
    local e = errors[1]
    io.stderr:write(single(e[1], e[2], e[3]))
  else
    for _, e in ipairs(errors) do
      local m = M.message(e[1], e[2], e[3])
      io.stderr:write(m, m:sub(-1) == "\n" and "" or "\n")
    end
  end
  return 1
end

--- fail(err) -> raises err as a command failure, printed as kubectl prints it
function M.fail(err, source, verb)
  io.stdout:flush()
  io.stderr:write(single(err, source, verb))
  return 1
end

--- objects(o, k) -> objects (with .where), or prints the error and returns nil, 1
-- o.filename (list), o.recursive; every object gets its namespace checked
-- against an explicit -n as kubectl does
function M.objects(o, k)
  local objs, err = docs.load(o.filename, o.recursive)
  if not objs then
    return nil, M.fail(err)
  end
  for _, obj in ipairs(objs) do
    local m = type(obj.metadata) == "table" and obj.metadata or nil
    local ns = m and type(m.namespace) == "string" and m.namespace ~= "" and m.namespace or nil
    if o.namespace and ns and ns ~= o.namespace then
      return nil, M.fail(('the namespace from the provided object "%s" does not match the namespace "%s". You must pass \'--namespace=%s\' to perform this operation.')
        :format(ns, o.namespace, ns))
    end
  end
  return objs
end

--- locate(k, obj, where) -> entry, namespace | nil, err (kubectl's words for an unknown kind)
function M.locate(k, obj, where, o)
  local write = require "k8s.write"
  local e, ns = write.locate(k, obj, { namespace = o and o.namespace })
  if not e then
    local err = ns
    if err.no_kind then
      local m = type(obj.metadata) == "table" and obj.metadata or {}
      local mns = type(m.namespace) == "string" and m.namespace or ""
      local e2 = util.error("notfound", ('resource mapping not found for name: "%s" namespace: "%s" from "%s": %s\nensure CRDs are installed first')
        :format(tostring(m.name or ""), mns, where and where.source or "", err.message), { no_kind = true })
      return nil, e2
    end
    return nil, err
  end
  return e, ns
end

-- kinds that later documents may depend on: applied alone, before the rest
local BARRIER = { Namespace = true, CustomResourceDefinition = true }

--- run_ordered(k, objs, fn) -> results in order: fn(obj, i) runs
-- concurrently (bounded by the client's slots), but a Namespace or a CRD
-- waits for everything before it and everything after waits for it
function M.run_ordered(k, objs, fn)
  local out = {}
  local seg = {}
  local idx = {}
  local function flush()
    if #seg == 0 then return end
    local res = k:each(seg, function(obj, j) return fn(obj, idx[j]) end)
    for j, r in ipairs(res) do out[idx[j]] = r end
    seg, idx = {}, {}
  end
  for i, obj in ipairs(objs) do
    if BARRIER[obj.kind] then
      flush()
      out[i] = table.pack(fn(obj, i))
    else
      seg[#seg + 1] = obj
      idx[#idx + 1] = i
    end
  end
  flush()
  return out
end

--- dry_run(value) -> "server" | "client" | nil (kubectl's --dry-run values)
function M.dry_run(v)
  if v == nil or v == false or v == "none" then return nil end
  if v == true or v == "client" then return "client" end
  if v == "server" then return "server" end
  require("ksh").usage('Invalid dry-run value (%s). Must be "none", "server", or "client".', tostring(v))
end

--- suffix(dry) -> " (dry run)" / " (server dry run)" / ""
function M.suffix(dry)
  if dry == "client" then return " (dry run)" end
  if dry == "server" then return " (server dry run)" end
  return ""
end

--- validation(v) -> the fieldValidation query value for --validate
function M.validation(v)
  if v == nil or v == true or v == "true" or v == "strict" then return "Strict" end
  if v == false or v == "false" or v == "ignore" then return "Ignore" end
  if v == "warn" then return "Warn" end
  require("ksh").usage('invalid - validate option %q; must be one of: strict (or true), warn, ignore (or false)', tostring(v))
end

--- targets(k, args, o) -> {{entry =, name =}, ...}: "TYPE NAME..." or "TYPE/NAME ..."
function M.targets(k, args)
  local out = {}
  if #args == 0 then return out end
  if args[1]:find("/", 1, true) then
    for _, a in ipairs(args) do
      local typ, name = a:match("^([^/]+)/(.+)$")
      if not typ then
        require("ksh").usage("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of 'kubectl get resource resource/<resource_name>'")
      end
      local e, err = k:resource(typ)
      if not e then return nil, err end
      out[#out + 1] = { entry = e, name = name }
    end
    return out
  end
  local e, err = k:resource(args[1])
  if not e then return nil, err end
  out.entry = e
  for i = 2, #args do out[#out + 1] = { entry = e, name = args[i] } end
  return out
end

--- print the objects as -o name/json/yaml asks (nil: nothing); YAML
-- documents after the first get a "---" line, as kubectl prints them
local yaml_printed = 0
function M.print_object(output, e, obj)
  local printers = require "k8s.printers"
  if output == "yaml" then
    if yaml_printed > 0 then io.stdout:write("---\n") end
    yaml_printed = yaml_printed + 1
  end
  if output == "name" then
    io.stdout:write(M.name_word(e, obj.metadata and obj.metadata.name), "\n")
  elseif output == "json" then
    io.stdout:write(printers.json(obj))
  elseif output == "yaml" then
    io.stdout:write(printers.yaml(obj))
  end
end

--- metadata_command(argv, field) -> status: label (field "labels") and
-- annotate ("annotations"), as kubectl label/annotate: KEY=VALUE sets, KEY-
-- removes, --overwrite replaces a different value; a merge patch of the change
function M.metadata_command(argv, field)
  local args = require "ksh.args"
  local ksh = require "ksh"
  local is_label = field == "labels"
  local o, rest = args.parse(argv, M.flags {
    { nil, "overwrite" },
    { "l", "selector", value = true },
    { nil, "all" },
    { nil, "dry-run", value = true },
    { nil, "field-manager", value = true, default = is_label and "kubectl-label" or "kubectl-annotate" },
    { "o", "output", value = true },
  })
  local dry = M.dry_run(o.dry_run)
  -- split words into TYPE NAME... / TYPE/NAME and KEY=VAL / KEY-
  local res, specs = {}, {}
  for _, w in ipairs(rest) do
    if w:find("=", 1, true) or (w:sub(-1) == "-" and #res > 0 and (#res > 1 or res[1]:find("/", 1, true) or o.all or o.selector)) then
      specs[#specs + 1] = w
    else
      res[#res + 1] = w
    end
  end
  if #specs == 0 then ksh.usage("at least one %s update is required", is_label and "label" or "annotation") end
  local set, remove = {}, {}
  for _, sp in ipairs(specs) do
    if sp:find("=", 1, true) then
      local key, val = sp:match("^([^=]*)=(.*)$")
      if is_label and val:find("=", 1, true) then
        io.stderr:write("error: invalid label spec: ", sp, "\n")
        return 1
      end
      set[key] = val
    else
      remove[#remove + 1] = sp:sub(1, -2)
    end
  end
  for _, r in ipairs(remove) do
    if set[r] then
      io.stderr:write(is_label and "error: can not both modify and remove a label in the same command\n"
        or ("error: can not both modify and remove the following annotation(s) in the same command: " .. r .. "\n"))
      return 1
    end
  end
  local k = M.connect(o)
  local t, terr = M.targets(k, res)
  if not t then io.stderr:write("error: ", tostring(terr.message), "\n"); return 1 end
  local ns = o.namespace or k.namespace or "default"
  if #t == 0 and t.entry and (o.all or o.selector) then
    local list, lerr = k:list(t.entry, { namespace = ns, labelSelector = o.selector })
    if not list then return M.fail(lerr) end
    for _, it in ipairs(list.items or {}) do t[#t + 1] = { entry = t.entry, name = it.metadata.name } end
  elseif #t == 0 then
    ksh.usage("one or more resources must be specified as <resource> <name> or <resource>/<name>")
  end
  local keys = {}
  for key in pairs(set) do keys[#keys + 1] = key end
  table.sort(keys)
  local errors = {}
  for _, x in ipairs(t) do
    local e = x.entry
    local nsx = e.namespaced and ns or nil
    local obj, gerr = k:get(e, x.name, { namespace = nsx })
    if not obj then
      errors[#errors + 1] = { gerr }
    else
      local cur = type(obj.metadata[field]) == "table" and obj.metadata[field] or {}
      local bad = {}
      if not o.overwrite then
        for _, key in ipairs(keys) do
          if cur[key] ~= nil and cur[key] ~= set[key] then
            bad[#bad + 1] = ("'%s' already has a value (%s)"):format(key, cur[key])
          end
        end
      end
      if #bad > 0 then
        if is_label then
          for _, b in ipairs(bad) do errors[#errors + 1] = { ksh.error("invalid", b .. ", and --overwrite is false") } end
        else
          errors[#errors + 1] = { ksh.error("invalid", "--overwrite is false but found the following declared annotation(s): " .. table.concat(bad, "; ")) }
        end
      else
        if is_label then
          for _, r in ipairs(remove) do
            if cur[r] == nil then io.stdout:write(('label "%s" not found.\n'):format(r)) end
          end
        end
        local change, added, removed = {}, 0, 0
        for _, key in ipairs(keys) do
          if cur[key] ~= set[key] then change[key] = set[key]; added = added + 1 end
        end
        for _, r in ipairs(remove) do
          if cur[r] ~= nil then change[r] = util.null; removed = removed + 1 end
        end
        local out = obj
        if added + removed > 0 then
          local patched, perr = k:patch(e, x.name, { metadata = { [field] = change } },
            { type = "merge", namespace = nsx, dry_run = dry == "server", field_manager = o.field_manager })
          if not patched then errors[#errors + 1] = { perr } end
          out = patched
        end
        if out then
          local word
          if is_label then
            word = (added > 0 and removed > 0) and "modified" or added > 0 and "labeled" or removed > 0 and "unlabeled" or "not labeled"
          else
            word = "annotated"
          end
          if o.output then M.print_object(o.output, e, out)
          else io.stdout:write(M.name_word(e, x.name), " ", word, M.suffix(dry), "\n") end
        end
      end
    end
  end
  return M.report(errors)
end

return M
