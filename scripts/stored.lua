-- stored: read Kubernetes objects straight from etcd, as kubectl get shows them
-- usage: kscript stored RESOURCE [NAME] [-n NS | -A] [-o json|yaml|table|name] [-w]
--          [--etcd-prefix P] [--encryption-config FILE] [--snapshot FILE] [--rev N]
--          [--endpoints URLS] [--cacert FILE] [--cert FILE] [--key FILE]
--          [--command-timeout DUR] [--force] [--context NAME] [--kubeconfig FILE]
--   RESOURCE is found as kubectl finds it (plural, singular, short name,
--   kind, PLURAL.GROUP) through the API server's discovery when one answers,
--   else among the built-in types; the etcd key is where kube-apiserver
--   stores it (/registry/services/specs/NS/NAME, /registry/minions/NAME,
--   /registry/GROUP/PLURAL/... for custom resources; see share/stored.md).
--   -n, --namespace NS   one namespace (default: the context's, else default)
--   -A, --all-namespaces every namespace
--   -o, --output FMT     table (default), json, yaml, name; json and yaml as
--                        kubectl prints them (one object, or a List)
--   -w, --watch          after the objects, each change as it is written
--                        (live etcd only)
--   --etcd-prefix P      kube-apiserver's --etcd-prefix (default /registry)
--   --encryption-config FILE  the API server's EncryptionConfiguration:
--                        values encrypted at rest (aescbc, aesgcm, secretbox)
--                        are decrypted; without it they are reported as
--                        encrypted with their provider and key name
--   --snapshot FILE      read an `etcdctl snapshot save` file, no etcd needed
--   --rev N              read at etcd revision N (an older version of the
--                        objects, if not compacted away)
--   The table shows NAME, AGE, the stored size and how the value is stored
--   (protobuf, json, or the encryption provider and key).  An object that
--   cannot be read is reported on stderr, the others are printed, status 1.
--   The endpoints and certificates default to ETCDCTL_ENDPOINTS,
--   ETCDCTL_CACERT, ETCDCTL_CERT and ETCDCTL_KEY; --command-timeout and
--   --force (a running member's db with --snapshot) as for dump-keys.
local args = require "ksh.args"
local ksh = require "ksh"
local json = require "json"
local printers = require "k8s.printers"
local storage = require "k8s.storage"
local encryption = require "k8s.encryption"

local o, rest = args.parse(arg, require("etcd.flags").add({
  { "n", "namespace", value = true },
  { "A", "all-namespaces" },
  { "o", "output", value = true },
  { "w", "watch" },
  { nil, "etcd-prefix", value = true },
  { nil, "encryption-config", value = true },
  { nil, "rev", value = true, number = true },
  { nil, "context", value = true },
  { nil, "kubeconfig", value = true },
  { "h", "help" },
}))
if o.help then print(require("ksh.cmd").usage("stored")); return end
if #rest < 1 or #rest > 2 then ksh.usage("stored: RESOURCE [NAME] expected (kscript stored --help)") end
local output = o.output or "table"
if not ({ table = true, json = true, yaml = true, name = true })[output] then
  ksh.usage("stored: unsupported output format %q (table, json, yaml, name)", output)
end
if o.rev and o.rev < 1 then ksh.usage("stored: --rev needs a revision >= 1") end
if o.watch and o.snapshot then ksh.usage("stored: --watch reads a live etcd, not a --snapshot") end
local resource, name = rest[1], rest[2]
if name and o.all_namespaces then
  ksh.usage("stored: a resource cannot be retrieved by name across all namespaces")
end

-- the encryption configuration, if any
local cfg
if o.encryption_config then cfg = assert(encryption.load(o.encryption_config)) end

-- the resource: discovery when an API server answers, else the built-in table
local client
do
  local ok, k = pcall(require("k8s").connect, { context = o.context, kubeconfig = o.kubeconfig })
  if ok and k then client = k end
end
local entry, rerr = storage.resolve(client, resource)
if not entry and client and rerr and rerr.kind ~= "notfound" then entry, rerr = storage.resolve(nil, resource) end
if not entry then
  io.stderr:write("error: ", tostring(rerr and rerr.message or rerr), "\n")
  return 1
end
local namespace
if entry.namespaced ~= false and not o.all_namespaces then
  namespace = o.namespace or (client and client.namespace) or "default"
end

-- etcd: live or a snapshot file, with dump-keys' flags (etcd.flags)
local db = require("etcd.flags").open(o, "stored")

local prefix = storage.clean_prefix(o.etcd_prefix)
local key
if name then
  key = storage.key(entry, namespace, name, prefix)
else
  key = storage.key_prefix(entry, { prefix = prefix, namespace = namespace })
end

-- one key-value -> the object (a table) | nil, err
local codec_ok, codec = pcall(require, "k8s.codec")
if not codec_ok then codec = nil end
local function decode(kv)
  local v, err = encryption.decrypt(cfg, kv.value, kv.key)
  if not v then return nil, err end
  if codec then
    -- the API server's JSON, decoded without its field order: kubectl's
    -- -o json/yaml print the keys sorted (printers sort_keys)
    local text, cerr = codec.decode_text(v, { key = kv.key, mod_revision = kv.mod_revision })
    if not text then return nil, cerr end
    return json.decode(text)
  end
  if v:sub(1, 4) == "k8s\0" then
    return nil, ksh.error("parse", "a protobuf value: this build has no Kubernetes protobuf decoder (k8s.codec)",
      { no_codec = true })
  end
  local obj, jerr = json.decode(v)
  if obj == nil then return nil, jerr end
  if type(obj) == "table" and type(obj.metadata) == "table" then
    obj.metadata.resourceVersion = tostring(math.tointeger(kv.mod_revision) or kv.mod_revision)
  end
  return obj
end

local function storage_of(value)
  local env = encryption.envelope(value)
  if env then return env.provider .. ":" .. env.key_name end
  if value:sub(1, 4) == "k8s\0" then return "protobuf" end
  if value:match("^%s*{") then return "json" end
  return "?"
end

-- kubectl's duration.HumanDuration
local function human(secs)
  if secs < 0 then secs = 0 end
  if secs < 120 then return ("%ds"):format(secs) end
  local m = secs // 60
  if m < 10 then local s = secs % 60; return s == 0 and ("%dm"):format(m) or ("%dm%ds"):format(m, s) end
  if m < 180 then return ("%dm"):format(m) end
  local h = secs // 3600
  if h < 8 then local mm = m % 60; return mm == 0 and ("%dh"):format(h) or ("%dh%dm"):format(h, mm) end
  if h < 48 then return ("%dh"):format(h) end
  local d = h // 24
  if h < 24 * 8 then local hh = h % 24; return hh == 0 and ("%dd"):format(d) or ("%dd%dh"):format(d, hh) end
  if h < 24 * 365 * 2 then return ("%dd"):format(d) end
  if h < 24 * 365 * 8 then
    local y, dd = d // 365, d % 365
    return dd == 0 and ("%dy"):format(y) or ("%dy%dd"):format(y, dd)
  end
  return ("%dy"):format(d // 365)
end

local COLUMNS = { { name = "Name" }, { name = "Age" }, { name = "Stored" }, { name = "Format" } }
local tbl = printers.table { namespace = o.all_namespaces and entry.namespaced ~= false, event = false }
local function row(kv, obj)
  local m = type(obj) == "table" and type(obj.metadata) == "table" and obj.metadata or {}
  local parsed = storage.parse_key(kv.key, prefix) or {}
  local meta = { name = m.name or parsed.name, namespace = m.namespace or parsed.namespace }
  local age = "<unknown>"
  local t = type(m.creationTimestamp) == "string" and require("k8s").parse_time(m.creationTimestamp)
  if t then age = human(os.time() - t) end
  return { cells = { meta.name, age, tostring(#kv.value), storage_of(kv.value) }, object = { metadata = meta } }
end

local status = 0
local out = io.stdout
local function failed(kv, err)
  status = 1
  io.stderr:write(("error: %s: %s\n"):format(kv.key, tostring(err and err.message or err)))
end

local printed = false
local list_items = {} -- -o json|yaml of several objects: one List at the end
local function print_objects(kvs, single)
  local objs, rows = {}, {}
  for _, kv in ipairs(kvs) do
    local obj, err = decode(kv)
    -- the table's FORMAT column already says "protobuf" or "aesgcm:key1"
    if obj == nil and not (output == "table" and (err.no_codec or err.kind == "encrypted")) then failed(kv, err) end
    if output == "table" then
      rows[#rows + 1] = row(kv, obj)
    elseif obj ~= nil then
      objs[#objs + 1] = obj
    end
  end
  if output == "table" then
    if #rows > 0 then
      tbl:add({ columnDefinitions = COLUMNS, rows = rows })
      out:write(tbl:render())
    end
  elseif output == "name" then
    for _, obj in ipairs(objs) do out:write(printers.name(obj, entry), "\n") end
  elseif single or o.watch then
    for i, obj in ipairs(objs) do
      if output == "yaml" and (i > 1 or printed) then out:write("---\n") end
      out:write(output == "json" and printers.json(obj) or printers.yaml(obj))
      printed = true
    end
  else
    for _, obj in ipairs(objs) do list_items[#list_items + 1] = obj end
  end
  out:flush()
end

-- one object (a Range of its key), or every object under the prefix at one
-- revision in pages (the scanner: bounded memory, rows printed as they come)
local count, rev = 0, nil
if name then
  local resp, gerr = db:get(key, { revision = o.rev })
  if not resp then error(gerr, 0) end
  rev = resp.header and resp.header.revision
  if #(resp.kvs or {}) == 0 then
    io.stderr:write(("error: %s %q not found in etcd (key %s)\n"):format(entry.name, name, key))
    return 1
  end
  print_objects(resp.kvs, true)
else
  local sc = db:scanner(key, { revision = o.rev })
  local batch = {}
  for kv in sc:kvs() do
    count = count + 1
    batch[#batch + 1] = kv
    if #batch == 500 then print_objects(batch); batch = {} end
  end
  print_objects(batch)
  rev = (sc.header and sc.header.revision) or sc.revision
  if count == 0 and not o.watch and output == "table" then
    if namespace then io.stderr:write(("No resources found in %s namespace.\n"):format(namespace))
    else io.stderr:write("No resources found\n") end
  end
  if (output == "json" or output == "yaml") and not o.watch then
    local list = printers.as_list(list_items)
    out:write(output == "json" and printers.json(list) or printers.yaml(list))
  end
end

if o.watch then
  local wopts = { prefix = not name or nil, prev_kv = true, start_revision = rev and (math.tointeger(rev) + 1) or nil }
  for ev in db:watch(key, wopts) do
    if ev.type == "PUT" then
      print_objects({ ev.kv }, true)
    elseif ev.type == "DELETE" and ev.prev_kv then
      print_objects({ ev.prev_kv }, true)
    end
  end
end
out:flush()
return status
