-- k8s.encryption: Kubernetes' encryption at rest, read from an
-- EncryptionConfiguration (apiserver.config.k8s.io/v1) as the API server
-- reads it (k8s.io/apiserver/pkg/server/options/encryptionconfig).
--
--   load(path) -> cfg | nil, err          YAML or JSON; err.kind "io", "parse", "config"
--   parse(text [, name]) -> cfg | nil, err
--   envelope(value) -> {provider =, version =, key_name =, prefix =} | nil
--   decrypt(cfg, value, etcd_key) -> plaintext | nil, err
--   encrypt(cfg, plaintext, etcd_key [, resource]) -> value | nil, err   (resource from the key if absent)
--   providers_for(cfg, resource) -> the providers that apply to a resource
--
-- A value the API server encrypted starts with "k8s:enc:<provider>:v<N>:",
-- then the key's name and ":" (aescbc, aesgcm, secretbox, kms v1), or for
-- KMS v2 "k8s:enc:kms:v2:<provider name>:".  What follows the prefix:
--   aescbc     16-byte IV | AES-CBC, PKCS#7 padding, no additional data
--   aesgcm     12-byte nonce | AES-GCM | 16-byte tag, additional data: the etcd key
--   secretbox  24-byte nonce | NaCl secretbox (XSalsa20-Poly1305), 32-byte key
-- The ciphers are in C (src/core/crypt.c, ksh.crypt).  This module never
-- decodes the plaintext (that is k8s.codec's job, which calls decrypt).
--
-- Errors: kind "encrypted" when the value cannot be decrypted here (no
-- configuration, a KMS provider, no key of that name): err.provider,
-- err.key_name; kind "decrypt" when a key was tried and failed (a wrong key,
-- tampered data, or aescbc data that decrypts to something that is neither
-- protobuf nor JSON).
local crypt = require "ksh.crypt"
local b64 = require "ksh.b64"

local M = {}

local function kerror(kind, message, fields)
  return require("ksh").error(kind, message, fields)
end

local ENC = "k8s:enc:"
local PREFIX = {
  aescbc = "k8s:enc:aescbc:v1:",
  aesgcm = "k8s:enc:aesgcm:v1:",
  secretbox = "k8s:enc:secretbox:v1:",
}
local AES_SIZES = { [16] = true, [24] = true, [32] = true }

local function list(v)
  if type(v) ~= "table" then return {} end
  return v
end

-- "resource.group" -> group, resource (schema.ParseGroupResource: the first dot)
local function group_resource(s)
  local r, g = s:match("^([^%.]*)%.(.*)$")
  if r then return g, r end
  return "", s
end

local function provider_of(p, where)
  local names = {}
  for k in pairs(p) do names[#names + 1] = k end
  table.sort(names)
  if #names ~= 1 then
    return nil, ("%s: a provider needs exactly one of aescbc, aesgcm, secretbox, identity, kms (got %s)")
      :format(where, #names == 0 and "none" or table.concat(names, ", "))
  end
  local kind = names[1]
  local body = p[kind]
  if kind == "identity" then return { type = "identity" } end
  if kind == "kms" then
    if type(body) ~= "table" or type(body.name) ~= "string" or body.name == "" then
      return nil, where .. ": kms needs a name"
    end
    local v = body.apiVersion
    if v == nil or v == "" then v = "v1" end
    return { type = "kms", name = body.name, api_version = v,
             prefix = "k8s:enc:kms:" .. v .. ":" .. body.name .. ":" }
  end
  if not PREFIX[kind] then return nil, ("%s: unknown provider %q"):format(where, kind) end
  local keys = {}
  for i, k in ipairs(list(type(body) == "table" and body.keys)) do
    local at = ("%s.%s.keys[%d]"):format(where, kind, i - 1)
    if type(k) ~= "table" or type(k.name) ~= "string" or k.name == "" then
      return nil, at .. ": a key needs a name"
    end
    if type(k.secret) ~= "string" or k.secret == "" then
      return nil, ("%s: key %s has no secret"):format(at, k.name)
    end
    local raw = b64.decode(k.secret)
    if not raw then return nil, ("%s: the secret of key %s is not base64"):format(at, k.name) end
    if kind == "secretbox" and #raw ~= 32 then
      return nil, ("%s: secretbox needs a 32-byte key, key %s has %d bytes"):format(at, k.name, #raw)
    end
    if kind ~= "secretbox" and not AES_SIZES[#raw] then
      return nil, ("%s: %s needs a 16, 24 or 32-byte key, key %s has %d bytes"):format(at, kind, k.name, #raw)
    end
    keys[#keys + 1] = { name = k.name, secret = raw }
  end
  if #keys == 0 then return nil, ("%s: %s has no keys"):format(where, kind) end
  return { type = kind, keys = keys, prefix = PREFIX[kind] }
end

--- parse(text [, name]) -> cfg | nil, err
-- cfg = {resources = {{resources = {"secrets", ...}, providers = {{type =,
--   keys = {{name =, secret = <raw bytes>}}, name =, api_version =, prefix =}}}}}
function M.parse(text, name)
  name = name or "EncryptionConfiguration"
  local doc, perr
  if text:match("^%s*{") then doc, perr = require("json").decode(text)
  else doc, perr = require("ksh.yaml").decode(text) end
  if doc == nil then
    local e = kerror("parse", name .. ": " .. tostring(perr and perr.message or perr))
    return nil, e
  end
  local function bad(msg) return nil, kerror("config", name .. ": " .. msg, { path = name }) end
  if type(doc) ~= "table" then return bad("not an EncryptionConfiguration") end
  if doc.kind ~= "EncryptionConfiguration" then
    return bad(("kind is %q, not EncryptionConfiguration"):format(tostring(doc.kind)))
  end
  local cfg = { resources = {}, path = name }
  for i, rc in ipairs(list(doc.resources)) do
    local where = ("resources[%d]"):format(i - 1)
    local entry = { resources = {}, providers = {} }
    for _, r in ipairs(list(rc.resources)) do
      if type(r) ~= "string" or r == "" then return bad(where .. ": a resource must be a non-empty string") end
      entry.resources[#entry.resources + 1] = r
    end
    if #entry.resources == 0 then return bad(where .. ": no resources") end
    for j, p in ipairs(list(rc.providers)) do
      if type(p) ~= "table" then return bad(("%s.providers[%d]: not a provider"):format(where, j - 1)) end
      local prov, why = provider_of(p, ("%s.providers[%d]"):format(where, j - 1))
      if not prov then return bad(why) end
      entry.providers[#entry.providers + 1] = prov
    end
    if #entry.providers == 0 then return bad(where .. ": no providers") end
    cfg.resources[#cfg.resources + 1] = entry
  end
  if #cfg.resources == 0 then return bad("no resources") end
  return cfg
end

--- load(path) -> cfg | nil, err
function M.load(path)
  local f, why = io.open(path, "rb")
  if not f then return nil, kerror("io", "encryption config: " .. tostring(why), { path = path }) end
  local text = f:read("a")
  f:close()
  return M.parse(text, path)
end

--- envelope(value) -> {provider =, version =, key_name =, prefix =} | nil
-- for a value that starts with "k8s:enc:"; key_name is the text up to the
-- next ":" (KMS v1 names may hold a ":" and are cut there)
function M.envelope(value)
  if type(value) ~= "string" or value:sub(1, #ENC) ~= ENC then return nil end
  local provider, version, rest = value:match("^k8s:enc:([%w%-_]+):(v%d+):()")
  if not provider then return { provider = "unknown", version = "", key_name = "", prefix = ENC } end
  local key = value:match("^([^:]*):", rest)
  local prefix = value:sub(1, rest - 1) .. (key and key .. ":" or "")
  return { provider = provider, version = version, key_name = key or "", prefix = prefix }
end

local function describe(env)
  if env.provider == "kms" then
    return ("encrypted by KMS %s provider %q"):format(env.version, env.key_name)
  end
  return ("encrypted with %s key %q"):format(env.provider, env.key_name)
end

local function plausible(plain)
  -- aescbc has no authentication: a wrong key passes the padding check about
  -- 1 time in 256; what the API server stores is protobuf (k8s\0) or JSON
  return plain:sub(1, 4) == "k8s\0" or plain:match("^%s*[{%[]") ~= nil
end

local function all_providers(cfg)
  local out = {}
  for _, rc in ipairs(cfg.resources) do
    for _, p in ipairs(rc.providers) do out[#out + 1] = p end
  end
  return out
end

--- decrypt(cfg, value, etcd_key) -> plaintext | nil, err
-- A value that is not encrypted is returned as it is.  Every key of every
-- provider in cfg whose prefix matches is tried, in the configuration's order
-- (the API server tries those configured for the resource; trying more keys
-- cannot give a wrong answer: aesgcm and secretbox authenticate, aescbc's
-- plaintext is checked).
function M.decrypt(cfg, value, etcd_key)
  if type(value) ~= "string" then
    error(("bad argument #2 to 'decrypt' (string expected, got %s)"):format(type(value)), 2)
  end
  local env = M.envelope(value)
  if not env then return value end
  local fields = { provider = env.provider, version = env.version, key_name = env.key_name, key = etcd_key }
  if env.provider == "kms" then
    return nil, kerror("encrypted", describe(env) .. ": kscript cannot ask a KMS plugin", fields)
  end
  if cfg == nil then
    return nil, kerror("encrypted", describe(env) .. " (no encryption configuration given)", fields)
  end
  if type(cfg) ~= "table" or type(cfg.resources) ~= "table" then
    error("bad argument #1 to 'decrypt' (an encryption configuration expected)", 2)
  end
  local errs, tried, seen = {}, 0, {}
  for _, p in ipairs(all_providers(cfg)) do
    if p.keys and value:sub(1, #p.prefix) == p.prefix then
      for _, k in ipairs(p.keys) do
        local kp = p.prefix .. k.name .. ":"
        local id = kp .. k.secret -- the same key listed for several resources: tried once
        if value:sub(1, #kp) == kp and not seen[id] then
          seen[id] = true
          tried = tried + 1
          local data = value:sub(#kp + 1)
          local plain, err = crypt.open(p.type, k.secret, data, p.type == "aesgcm" and (etcd_key or "") or nil)
          if plain and p.type == "aescbc" and not plausible(plain) then
            plain, err = nil, { message = "aescbc: decrypted to neither protobuf nor JSON (a wrong key)" }
          end
          if plain then return plain end
          errs[#errs + 1] = ("key %q: %s"):format(k.name, (err.message:gsub("^[%w]+: ", "")))
        end
      end
    end
  end
  if tried == 0 then
    return nil, kerror("encrypted", describe(env) .. ", which " .. (cfg.path or "the configuration") ..
      " does not hold", fields)
  end
  fields.errors = errs
  local what = etcd_key and (" %s"):format(etcd_key) or ""
  return nil, kerror("decrypt", ("cannot decrypt%s (%s): %s"):format(what, describe(env), table.concat(errs, "; ")), fields)
end

local function resource_key(resource)
  if type(resource) == "table" then return resource.group or "", resource.resource or resource.name end
  return group_resource(resource)
end

--- providers_for(cfg, resource) -> providers | nil
-- resource: "secrets", "deployments.apps", or {group =, resource =}; the
-- API server's order: the exact group-resource, then "*.<group>", then "*.*"
function M.providers_for(cfg, resource)
  local g, r = resource_key(resource)
  local exact, group_any, any
  for _, rc in ipairs(cfg.resources) do
    for _, s in ipairs(rc.resources) do
      local cg, cr = group_resource(s)
      if cg == g and cr == r and not exact then exact = rc.providers end
      if cg == g and cr == "*" and not group_any then group_any = rc.providers end
      if cg == "*" and cr == "*" and not any then any = rc.providers end
    end
  end
  return exact or group_any or any
end

--- encrypt(cfg, plaintext, etcd_key, resource) -> value | nil, err
-- with the first provider configured for the resource (identity or no
-- provider: the plaintext); a KMS provider: nil, err (kind "encrypted")
function M.encrypt(cfg, plaintext, etcd_key, resource)
  if type(plaintext) ~= "string" then
    error(("bad argument #2 to 'encrypt' (string expected, got %s)"):format(type(plaintext)), 2)
  end
  if cfg == nil then return plaintext end
  if resource == nil then
    -- the resource from the key (kube-apiserver's paths, k8s.storage)
    local g, r = require("k8s.storage").group_resource(etcd_key or "")
    if not r then
      error("bad argument #4 to 'encrypt' (a resource such as \"secrets\" expected: the key does not say)", 2)
    end
    resource = { group = g, resource = r }
  end
  local provs = M.providers_for(cfg, resource)
  local p = provs and provs[1]
  if not p or p.type == "identity" then return plaintext end
  if p.type == "kms" then
    return nil, kerror("encrypted", ("the first provider for %s is KMS %s %q: kscript cannot ask a KMS plugin")
      :format(type(resource) == "string" and resource or tostring(resource.resource), p.api_version, p.name),
      { provider = "kms", key_name = p.name })
  end
  local k = p.keys[1]
  return p.prefix .. k.name .. ":" .. crypt.seal(p.type, k.secret, plaintext, p.type == "aesgcm" and (etcd_key or "") or nil)
end

return M
