-- k8s.kubeconfig: reading and merging kubeconfig files as kubectl does, and
-- resolving one context into what a client needs (server, TLS, credentials).
--
--   local kc = require "k8s.kubeconfig"
--   local cfg, err = kc.load{kubeconfig = FILE, context = NAME}   -- merged view
--   local r, err = kc.resolve(cfg, {context =, namespace =, server =, token =, ...})
--
-- Merging ($KUBECONFIG=a:b:c): missing files are skipped; a named cluster,
-- user or context comes from the first file defining it; current-context
-- from the first file that sets one.  Paths inside a file (certificate
-- files, tokenFile, an exec command containing a "/") resolve against that
-- file's directory.
local sys = require "ksh.sys"
local util = require "k8s.util"

local M = {}

local function kerr(kind, fmt, ...)
  return util.error(kind, select("#", ...) > 0 and fmt:format(...) or fmt)
end

local function dirname(p)
  local d = p:match("^(.*)/[^/]*$")
  if d == nil then return "." end
  if d == "" then return "/" end
  return d
end

local function resolve_path(p, dir)
  if type(p) ~= "string" or p == "" then return p end
  if p:sub(1, 1) == "/" then return p end
  if p:sub(1, 2) == "~/" then return (os.getenv("HOME") or "") .. p:sub(2) end
  return dir .. "/" .. p
end

--- files(opts) -> list of candidate files, in precedence order, and whether
-- they came from an explicit choice (missing explicit file = error)
function M.files(opts)
  opts = opts or {}
  if opts.kubeconfig and opts.kubeconfig ~= "" then return { opts.kubeconfig }, "explicit" end
  local env = os.getenv("KUBECONFIG")
  if env and env ~= "" then
    local t, seen = {}, {}
    for f in env:gmatch("[^:]+") do
      if not seen[f] then seen[f] = true; t[#t + 1] = f end
    end
    return t, "env"
  end
  local home = os.getenv("HOME")
  return { (home or "") .. "/.kube/config" }, "home"
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  return s
end

local function named_list(doc, field, file, inner)
  local out = {}
  local list = doc[field]
  if list == nil or list == util.null then return out end
  if type(list) ~= "table" then
    return nil, kerr("config", "%s: %s must be a list", file, field)
  end
  for i, e in ipairs(list) do
    if type(e) ~= "table" or type(e.name) ~= "string" then
      return nil, kerr("config", "%s: %s[%d] has no name", file, field, i - 1)
    end
    local v = e[inner]
    if v == util.null or v == nil then v = {} end
    out[#out + 1] = { name = e.name, value = v }
  end
  return out
end

local path_fields = {
  clusters = { "certificate-authority" },
  users = { "client-certificate", "client-key", "tokenFile" },
}

--- parse(text, file) -> config table | nil, err   (one file, paths resolved)
function M.parse(text, file)
  local doc, perr = util.yaml_decode(text)
  if doc == nil and perr then
    return nil, kerr("config", "kubeconfig %s: %s", file, tostring(perr))
  end
  if doc == nil or doc == util.null then doc = {} end
  if type(doc) ~= "table" then return nil, kerr("config", "kubeconfig %s: not a mapping", file) end
  local dir = dirname(file)
  local cfg = { file = file, clusters = {}, users = {}, contexts = {}, order = {} }
  for field, inner in pairs { clusters = "cluster", users = "user", contexts = "context" } do
    local list, err = named_list(doc, field, file, inner)
    if not list then return nil, err end
    cfg.order[field] = {}
    for _, e in ipairs(list) do
      local v = e.value
      for _, pf in ipairs(path_fields[field] or {}) do
        if type(v[pf]) == "string" and v[pf] ~= "" then v[pf] = resolve_path(v[pf], dir) end
      end
      if field == "users" and type(v.exec) == "table" and type(v.exec.command) == "string"
          and v.exec.command:find("/", 1, true) then
        v.exec.command = resolve_path(v.exec.command, dir)
      end
      v["$file"] = file
      if cfg[field][e.name] == nil then
        cfg[field][e.name] = v
        table.insert(cfg.order[field], e.name)
      end
    end
  end
  local cc = doc["current-context"]
  cfg.current_context = (type(cc) == "string" and cc ~= "") and cc or nil
  cfg.preferences = type(doc.preferences) == "table" and doc.preferences or {}
  return cfg
end

--- load(opts) -> merged config | nil, err
-- merged = {files = {...}, clusters = {name = ...}, users = ..., contexts = ...,
--           current_context = NAME, first_file = FILE (where kubectl writes)}
function M.load(opts)
  opts = opts or {}
  local files, how = M.files(opts)
  local merged = { files = {}, clusters = {}, users = {}, contexts = {}, current_context = nil,
                   order = { clusters = {}, users = {}, contexts = {} } }
  for _, f in ipairs(files) do
    local text, rerr = read_file(f)
    if text then
      local cfg, err = M.parse(text, f)
      if not cfg then return nil, err end
      merged.files[#merged.files + 1] = f
      for _, field in ipairs { "clusters", "users", "contexts" } do
        for _, name in ipairs(cfg.order[field]) do
          if merged[field][name] == nil then
            merged[field][name] = cfg[field][name]
            table.insert(merged.order[field], name)
          end
        end
      end
      if not merged.current_context and cfg.current_context then
        merged.current_context = cfg.current_context
        merged.current_context_file = f
      end
    elseif how == "explicit" then
      return nil, kerr("config", "kubeconfig %s: %s", f, rerr)
    end
  end
  merged.how = how
  merged.candidates = files
  if #merged.files == 0 then
    local err = kerr("config", "no kubeconfig found (tried %s); set KUBECONFIG, create ~/.kube/config, " ..
      "or pass a server", table.concat(files, ", "))
    return nil, err
  end
  return merged
end

--- in_cluster() -> resolved | nil: the pod's service account, when running in one
function M.in_cluster()
  local host, port = os.getenv("KUBERNETES_SERVICE_HOST"), os.getenv("KUBERNETES_SERVICE_PORT")
  local dir = "/var/run/secrets/kubernetes.io/serviceaccount"
  if not host or host == "" or not port or sys.stat(dir .. "/token") ~= "file" then return nil end
  if host:find(":", 1, true) then host = "[" .. host .. "]" end
  local ns = read_file(dir .. "/namespace")
  return {
    server = "https://" .. host .. ":" .. port,
    cacert = dir .. "/ca.crt",
    token_file = dir .. "/token",
    namespace = ns and ns:match("^%s*(.-)%s*$") or "default",
    context = "in-cluster", user = "serviceaccount",
  }
end

local function nonempty(v) return type(v) == "string" and v ~= "" and v or nil end

local function b64(field, s, where)
  local d = util.b64_decode(s)
  if not d then return nil, kerr("config", "%s: %s is not valid base64", where, field) end
  return d
end

--- resolve(cfg, opts) -> resolved | nil, err: the connection settings of one context
-- resolved = {server, context, cluster, user, namespace, cacert | cacert_pem,
--   insecure, server_name, proxy, cert | cert_pem, key | key_pem, token,
--   token_file, exec, username, password, as, as_groups, compress}
function M.resolve(cfg, opts)
  opts = opts or {}
  local ctxname = nonempty(opts.context) or cfg.current_context
  if not ctxname then
    if opts.server then ctxname = nil
    else
      return nil, kerr("config", "no current context in %s; pick one with --context or " ..
        "`kscript config use-context NAME`", table.concat(cfg.files, ", "))
    end
  end
  local ctx = {}
  if ctxname then
    ctx = cfg.contexts[ctxname]
    if not ctx then
      local names = table.concat(cfg.order.contexts, ", ")
      return nil, kerr("config", "context %q not found in %s (contexts: %s)", ctxname,
        table.concat(cfg.files, ", "), names ~= "" and names or "none")
    end
  end
  local clname = nonempty(opts.cluster) or ctx.cluster
  local uname = nonempty(opts.user) or ctx.user
  local cl = clname and cfg.clusters[clname]
  if clname and not cl and not opts.server then
    return nil, kerr("config", "context %q: cluster %q not found", ctxname, clname)
  end
  cl = cl or {}
  local u = uname and cfg.users[uname]
  if uname and not u then
    return nil, kerr("config", "context %q: user %q not found", tostring(ctxname), uname)
  end
  u = u or {}
  local r = {
    context = ctxname, cluster = clname, user = uname,
    namespace = nonempty(opts.namespace) or nonempty(ctx.namespace) or "default",
    server = nonempty(opts.server) or nonempty(cl.server),
    server_name = nonempty(opts.tls_server_name) or nonempty(cl["tls-server-name"]),
    insecure = opts.insecure_skip_tls_verify or cl["insecure-skip-tls-verify"] == true,
    proxy = nonempty(opts.proxy_url) or nonempty(cl["proxy-url"]),
    compress = not (cl["disable-compression"] == true),
  }
  if not r.server then
    return nil, kerr("config", "context %q: cluster %q has no server", tostring(ctxname), tostring(clname))
  end
  local where = ("kubeconfig %s, cluster %q"):format(cl["$file"] or "?", tostring(clname))
  if not r.insecure then
    if nonempty(cl["certificate-authority-data"]) then
      local pem, err = b64("certificate-authority-data", cl["certificate-authority-data"], where)
      if not pem then return nil, err end
      r.cacert_pem = pem
    elseif nonempty(cl["certificate-authority"]) then
      r.cacert = cl["certificate-authority"]
    end
  end
  where = ("kubeconfig %s, user %q"):format(u["$file"] or "?", tostring(uname))
  if nonempty(u["client-certificate-data"]) then
    local pem, err = b64("client-certificate-data", u["client-certificate-data"], where)
    if not pem then return nil, err end
    r.cert_pem = pem
  elseif nonempty(u["client-certificate"]) then
    r.cert = u["client-certificate"]
  end
  if nonempty(u["client-key-data"]) then
    local pem, err = b64("client-key-data", u["client-key-data"], where)
    if not pem then return nil, err end
    r.key_pem = pem
  elseif nonempty(u["client-key"]) then
    r.key = u["client-key"]
  end
  if nonempty(opts.token) then
    r.token = opts.token
  elseif nonempty(u.token) then
    r.token = u.token
  elseif nonempty(u.tokenFile) then
    r.token_file = u.tokenFile
  end
  if not r.token and not r.token_file and type(u.exec) == "table" then
    r.exec = u.exec
    r.exec_cluster = cl
  end
  if nonempty(u.username) then r.username, r.password = u.username, u.password end
  if type(u["auth-provider"]) == "table" and not r.token and not r.exec then
    r.auth_provider = u["auth-provider"].name
  end
  r.as = nonempty(opts.as) or nonempty(u.as)
  r.as_groups = opts.as_groups or (type(u["as-groups"]) == "table" and u["as-groups"]) or nil
  return r
end

return M
