-- k8s.codec: what Kubernetes stores in etcd, decoded and encoded
-- (k8s.decode / k8s.encode; share/lua-api.md, share/stored.md).
--
-- decode(value [, kv_or_key [, opts]]) -> table | nil, err
-- decode_text(value [, kv_or_key [, opts]]) -> json_text | nil, err
--   value: the bytes etcd holds (or a key-value table {key=, value=,
--   mod_revision=} as etcd's get returns, standing for both arguments).
--   Built-in objects ("k8s\0" + runtime.Unknown protobuf) become exactly the
--   JSON the API server returns for them (decode_text: the compact text,
--   byte for byte; decode: that JSON decoded, objects keeping their key
--   order, unless opts.order == false); custom resources (stored as JSON)
--   as they are.  Given the
--   key-value, metadata.resourceVersion is its mod_revision, as the API
--   server sets it.  Encrypted values ("k8s:enc:<provider>:v<N>:<key>:") are
--   decrypted with opts.encryption (a configuration loaded by
--   k8s.encryption) when given, else an error of kind "encrypted".
--   Errors: "corrupt" (err.offset), "encrypted" (err.provider,
--   err.key_name), "unknowntype" (err.api_version, err.object_kind).
-- encode(obj [, opts]) -> bytes | nil, err
--   the object in the storage format ("k8s\0" envelope, fields as Go's
--   generated Marshal writes them), so decode -> encode gives back the
--   stored bytes; metadata.resourceVersion is left out as the API server
--   stores it.  opts.encryption (with opts.key, the etcd key): encrypted
--   with the configuration's first provider.  A type without a schema
--   (custom resources) is refused: "unknowntype".
local pb = require "ksh.k8spb"
local loop = require "ksh.loop"
local json = require "json"

local M = {}

local MAGIC = "k8s\0"
local ENC = "k8s:enc:"

local function kv_parts(value, kv)
  if type(value) == "table" then value, kv = value.value, value end
  if type(value) ~= "string" then error("bad argument #1 to 'decode' (string or key-value expected, got " .. type(value) .. ")", 3) end
  local key, rev
  if type(kv) == "table" then
    key, rev = kv.key, kv.mod_revision
  elseif type(kv) == "string" then
    key = kv
  elseif kv ~= nil then
    error("bad argument #2 to 'decode' (key-value or key expected, got " .. type(kv) .. ")", 3)
  end
  return value, key, rev and tostring(math.tointeger(rev) or rev) or nil
end

--- The provider, version and key name of an encrypted value, or nil.
-- "k8s:enc:aescbc:v1:key1:..." -> "aescbc", "v1", "key1";
-- "k8s:enc:kms:v2:name:..." -> "kms", "v2", "name".
function M.encrypted(value)
  if type(value) ~= "string" or value:sub(1, #ENC) ~= ENC then return nil end
  local provider, version, name = value:match("^k8s:enc:([^:]+):(v%d+):([^:]*):")
  if not provider then provider = value:match("^k8s:enc:([^:]*)") or "" end
  return provider, version, name
end

local function decrypt(value, key, opts)
  local provider, version, name = M.encrypted(value)
  local fields = { provider = provider, version = version, key_name = name, key = key }
  if not (opts and opts.encryption) then
    return nil, loop.error("encrypted", ("k8s: %s is encrypted (provider %s%s%s); give the EncryptionConfiguration to decrypt it")
      :format(key or "the value", provider, version and (" " .. version) or "", name and (", key " .. name) or ""), fields)
  end
  local ok, enc = pcall(require, "k8s.encryption")
  if not ok or type(enc) ~= "table" or not enc.decrypt then
    return nil, loop.error("encrypted", ("k8s: %s is encrypted (provider %s) and this build has no k8s.encryption module")
      :format(key or "the value", provider), fields)
  end
  return enc.decrypt(opts.encryption, value, key)
end

local function plain(value, key, opts)
  if value:sub(1, #ENC) == ENC then
    local p, err = decrypt(value, key, opts)
    if not p then return nil, err end
    return p
  end
  return value
end

local function corrupt(key, msg, offset)
  return nil, loop.error("corrupt", (key and (key .. ": ") or "") .. msg, { offset = offset, key = key })
end

local function annotate(err, key)
  if key and err.kind ~= "encrypted" then
    err.key = key
    err.message = key .. ": " .. err.message
  end
  return nil, err
end

function M.decode_text(value, kv, opts)
  local key, rev
  value, key, rev = kv_parts(value, kv)
  local v, err = plain(value, key, opts)
  if not v then return nil, err end
  if v:sub(1, 4) == MAGIC then
    local text, derr = pb.decode_text(v, rev)
    if not text then return annotate(derr, key) end
    return text
  end
  if v:match("^%s*{") then
    local obj, jerr = json.decode(v, { order = true })
    if obj == nil then return corrupt(key, "k8s: a JSON value that does not parse: " .. jerr.message, jerr.offset) end
    if type(obj.apiVersion) == "string" and type(obj.kind) == "string" and pb.has_type(obj.apiVersion, obj.kind) then
      -- a built-in type stored as JSON (APIServices, CRDs): written as its Go
      -- struct is, through the schema (fields in declaration order, unknown
      -- ones dropped as Go's decoder drops them)
      local bytes, eerr = pb.encode(obj, json.encode)
      if not bytes then return annotate(eerr, key) end
      local text, derr = pb.decode_text(bytes, rev)
      if not text then return annotate(derr, key) end
      return text
    end
    -- custom resources: unstructured, written with sorted keys as the API server does
    obj = json.decode(v)
    if rev and type(obj.metadata) == "table" then obj.metadata.resourceVersion = rev end
    return json.encode(obj)
  end
  return corrupt(key, "k8s: neither protobuf (k8s\\0), JSON nor an encrypted value", 0)
end

function M.decode(value, kv, opts)
  local text, err = M.decode_text(value, kv, opts)
  if not text then return nil, err end
  -- opts.order = false: plain tables (about twice as fast; json.encode then
  -- sorts keys, and raw JSON fields may re-encode in another order)
  return json.decode(text, { order = not (type(opts) == "table" and opts.order == false) })
end

function M.encode(obj, opts)
  if type(obj) ~= "table" then error("bad argument #1 to 'encode' (table expected, got " .. type(obj) .. ")", 2) end
  if opts ~= nil and type(opts) ~= "table" then error("bad argument #2 to 'encode' (table expected, got " .. type(opts) .. ")", 2) end
  opts = opts or {}
  -- stored objects have no resourceVersion (the API server clears it)
  local meta = type(obj.metadata) == "table" and obj.metadata or nil
  local rv = meta and meta.resourceVersion
  if meta then meta.resourceVersion = nil end
  local ok, bytes, err = pcall(pb.encode, obj, json.encode)
  if meta then meta.resourceVersion = rv end
  if not ok then error(bytes, 2) end
  if not bytes then return nil, err end
  if opts.encryption then
    local lok, enc = pcall(require, "k8s.encryption")
    if not lok or type(enc) ~= "table" or not enc.encrypt then
      return nil, loop.error("encrypted", "k8s.encode: this build has no k8s.encryption module to encrypt with")
    end
    return enc.encrypt(opts.encryption, bytes, opts.key)
  end
  return bytes
end

return M
