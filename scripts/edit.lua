-- edit: edit a resource in $KUBE_EDITOR or $EDITOR and save it back (kubectl edit)
-- usage: edit TYPE NAME | TYPE/NAME [-n NS] [flags]
--   -o, --output name|json|yaml   print the saved object;  --field-manager NAME (default kubectl-edit)
--   --show-managed-fields;  --validate=strict|warn|ignore
--   --context, --kubeconfig, -s/--server, --token, --insecure-skip-tls-verify, --request-timeout
-- The object opens as YAML under kubectl's header. On save kscript sends a
-- PUT carrying the object's resourceVersion (it has no strategic-merge
-- metadata to compute kubectl's patch): if someone changed the object in
-- the meantime (409) or the server refuses it (invalid), the file opens
-- again with the error on top, as kubectl does. An unchanged or empty file
-- cancels. The temporary file is private (mode 0600) and removed afterwards,
-- except that a failed edit keeps a copy and says where.
local args = require "ksh.args"
local cli = require "k8s.cli"
local ksh = require "ksh"

local o, rest = args.parse(arg, cli.flags {
  { "o", "output", value = true },
  { nil, "field-manager", value = true, default = "kubectl-edit" },
  { nil, "show-managed-fields" },
  { nil, "validate", value = true },
})
local validation = cli.validation(o.validate)
local k = cli.connect(o)
local t, terr = cli.targets(k, rest)
if not t then io.stderr:write("error: ", tostring(terr.message), "\n"); return 1 end
if #t ~= 1 then ksh.usage("edit takes one object: TYPE NAME or TYPE/NAME") end
local e, name = t[1].entry, t[1].name
local ns = e.namespaced and (o.namespace or k.namespace or "default") or nil

local yaml = require "ksh.yaml"
local printers = require "k8s.printers"
local HEADER = "# Please edit the object below. Lines beginning with a '#' will be ignored,\n" ..
  "# and an empty file will abort the edit. If an error occurs while saving this file will be\n" ..
  "# reopened with the relevant failures.\n#\n"

local obj, gerr = k:get(e, name, { namespace = ns })
if not obj then return cli.fail(gerr) end
if not o.show_managed_fields and type(obj.metadata) == "table" then obj.metadata.managedFields = nil end
local original = printers.yaml(obj, { show_managed_fields = true })

local function shq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local editor = os.getenv("KUBE_EDITOR")
if not editor or editor == "" then editor = os.getenv("EDITOR") end
if not editor or editor == "" then editor = "vi" end

local path = os.tmpname()   -- mkstemp: mode 0600
os.remove(path)
path = path .. "-edit.yaml"
local function write(text)
  local old = io.open(path, "rb")
  if old then old:close() end
  os.execute("umask 077; : > " .. shq(path))
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end
local function read()
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end
local function strip(text)
  local out = {}
  for line in (text .. (text:sub(-1) == "\n" and "" or "\n")):gmatch("([^\n]*)\n") do
    if not line:match("^#") then out[#out + 1] = line end
  end
  return table.concat(out, "\n"):gsub("%s+$", "")
end
local json = require "json"
local function is_map(v) return type(v) == "table" and v ~= json.null and not json.isarray(v) end
local function same(a, b) return json.encode(a) == json.encode(b) end
-- a JSON merge patch from a to b, and its application: after a 409 the
-- user's changes are carried over onto the latest object
local function diff(a, b)
  local p = {}
  for key, v in pairs(b) do
    if a[key] == nil then p[key] = v
    elseif is_map(a[key]) and is_map(v) then
      local sub = diff(a[key], v)
      if next(sub) ~= nil then p[key] = sub end
    elseif not same(a[key], v) then p[key] = v end
  end
  for key in pairs(a) do if b[key] == nil then p[key] = json.null end end
  return p
end
local function merge(target, p)
  for key, v in pairs(p) do
    if v == json.null then target[key] = nil
    elseif is_map(v) and is_map(target[key]) then merge(target[key], v)
    else target[key] = v end
  end
  return target
end

local function keep_copy()
  local copy = ("%s/kscript-edit-%d.yaml"):format(os.getenv("TMPDIR") or "/tmp", require("ksh.sys").pid())
  os.rename(path, copy)
  io.stderr:write(('A copy of your changes has been stored to "%s"\n'):format(copy))
end

write(HEADER .. original)
local previous = strip(original)
local first = true
while true do
  local ok = os.execute(editor .. " " .. shq(path))
  if not ok then
    keep_copy()
    io.stderr:write("error: there was a problem with the editor ", shq(editor), "\n")
    return 1
  end
  local edited = strip(read())
  if edited == "" then
    os.remove(path)
    io.stderr:write("Edit cancelled, saved file was empty.\n")
    return 0
  end
  if edited == previous then
    if first then
      os.remove(path)
      io.stderr:write("Edit cancelled, no changes made.\n")
      return 0
    end
    keep_copy()
    io.stderr:write("error: Edit cancelled, no valid changes were saved.\n")
    return 1
  end
  first = false
  local new, perr = yaml.decode(edited)
  local err_text
  local conflict = false
  if type(new) ~= "table" then
    err_text = { "The edited file had a syntax error: " .. tostring(perr or "not an object") }
  else
    local m = type(new.metadata) == "table" and new.metadata or {}
    if new.apiVersion ~= obj.apiVersion or new.kind ~= obj.kind or m.name ~= obj.metadata.name then
      keep_copy()
      io.stderr:write("error: At least one of apiVersion, kind and name was changed\n")
      return 1
    end
    local saved, err = k:replace(new, { namespace = ns, field_manager = o.field_manager, field_validation = validation })
    if saved then
      os.remove(path)
      if o.output then cli.print_object(o.output, e, saved)
      else io.stdout:write(cli.name_word(e, name), " edited\n") end
      return 0
    end
    local st = err.status_object
    if err.kind == "invalid" and type(st) == "table" and type(st.details) == "table" then
      err_text = { ('%s "%s" was not valid:'):format(e.name, name) }
      for _, c in ipairs(st.details.causes or {}) do
        err_text[#err_text + 1] = ("* %s: %s"):format(tostring(c.field), tostring(c.message))
      end
      io.stderr:write(('error: %s "%s" is invalid\n'):format(e.name, name))
    elseif err.kind == "conflict" then
      -- someone wrote in between: the latest object with this edit carried over
      local msg = type(st) == "table" and tostring(st.message) or tostring(err.message)
      local latest, lerr = k:get(e, name, { namespace = ns })
      if not latest then keep_copy(); return cli.fail(lerr) end
      if not o.show_managed_fields and type(latest.metadata) == "table" then latest.metadata.managedFields = nil end
      local p = diff(obj, new)
      if type(p.metadata) == "table" then p.metadata.resourceVersion = nil end
      obj = latest
      edited = strip(printers.yaml(merge(json.decode(json.encode(latest)), p), { show_managed_fields = true }))
      err_text = { msg }
      io.stderr:write("error: ", msg, "\n")
      conflict = true
    elseif err.kind == "invalid" or err.kind == "badrequest" then
      local msg = type(st) == "table" and tostring(st.message) or tostring(err.message)
      err_text = { msg }
      io.stderr:write("error: ", msg, "\n")
    else
      keep_copy()
      return cli.fail(err)
    end
  end
  local lines = { HEADER:sub(1, -1) }
  for _, l in ipairs(err_text) do lines[#lines + 1] = "# " .. l .. "\n" end
  lines[#lines + 1] = "#\n"
  lines[#lines + 1] = edited .. "\n"
  write(table.concat(lines))
  -- after a conflict the file is new to the user: saving it as it is tries again
  previous = not conflict and edited or nil
end
