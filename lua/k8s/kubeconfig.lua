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
-- file's directory (made absolute, as kubectl does; "~" is not expanded).
local sys = require "ksh.sys"
local proc = require "ksh.proc"
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

--- clean(path) -> path: Go's filepath.Clean (no "." or ".." parts, no "//")
function M.clean(p)
  local rooted = p:sub(1, 1) == "/"
  local out = {}
  for part in p:gmatch("[^/]+") do
    if part == ".." then
      if #out > 0 and out[#out] ~= ".." then out[#out] = nil
      elseif not rooted then out[#out + 1] = ".." end
    elseif part ~= "." then
      out[#out + 1] = part
    end
  end
  local r = table.concat(out, "/")
  if rooted then return "/" .. r end
  return r ~= "" and r or "."
end

local cwd
local function getcwd()
  if not cwd then
    -- as Go's os.Getwd: $PWD when set (and absolute), else ask the system
    local pwd = os.getenv("PWD")
    if pwd and pwd:sub(1, 1) == "/" then cwd = pwd
    else
      local f = io.popen("pwd", "r")
      cwd = f and f:read("l") or "/"
      if f then f:close() end
    end
  end
  return cwd
end

--- absdir(file) -> the absolute directory of a kubeconfig file (as filepath.Abs)
function M.absdir(file)
  local d = dirname(file)
  if d:sub(1, 1) ~= "/" then d = getcwd() .. "/" .. d end
  return M.clean(d)
end

-- a path inside a kubeconfig, as kubectl resolves it (ResolvePaths):
-- relative paths join the file's absolute directory; absolute ones stay
local function resolve_path(p, dir)
  if type(p) ~= "string" or p == "" then return p end
  if p:sub(1, 1) == "/" then return p end
  return M.clean(dir .. "/" .. p)
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

-- a YAML sequence (json.array-marked by the decoder), [] included
local function is_list(v) return type(v) == "table" and util.json.isarray(v) end

local function named_list(doc, field, file, inner)
  local out = {}
  local list = doc[field]
  if list == nil or list == util.null then return out end
  if not is_list(list) then -- kubectl: cannot unmarshal object into ... []v1.NamedCluster
    return nil, kerr("config", "%s: %s must be a list", file, field)
  end
  for i, e in ipairs(list) do
    if type(e) ~= "table" or is_list(e) or type(e.name) ~= "string" then
      return nil, kerr("config", "%s: %s[%d] has no name", file, field, i - 1)
    end
    local v = e[inner]
    if v == util.null or v == nil then v = {} end
    -- kubectl: cannot unmarshal string (or array) into ... of type v1.Cluster
    if type(v) ~= "table" or is_list(v) then
      return nil, kerr("config", "%s: %s[%d].%s must be a mapping%s", file, field, i - 1, inner,
        is_list(v) and ", not a list" or "")
    end
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
  if type(doc) ~= "table" or is_list(doc) then return nil, kerr("config", "kubeconfig %s: not a mapping", file) end
  local dir = M.absdir(file)
  local cfg = { file = file, clusters = {}, users = {}, contexts = {}, order = {} }
  for field, inner in pairs { clusters = "cluster", users = "user", contexts = "context" } do
    local list, err = named_list(doc, field, file, inner)
    if not list then return nil, err end
    cfg.order[field] = {}
    for _, e in ipairs(list) do
      local v = e.value
      -- paths as written stay in v["$as_written"] (kubectl config view prints those)
      local orig = {}
      for _, pf in ipairs(path_fields[field] or {}) do
        if type(v[pf]) == "string" and v[pf] ~= "" then orig[pf] = v[pf]; v[pf] = resolve_path(v[pf], dir) end
      end
      if field == "users" and type(v.exec) == "table" and type(v.exec.command) == "string"
          and v.exec.command:find("/", 1, true) then
        orig.command = v.exec.command
        v.exec.command = resolve_path(v.exec.command, dir)
      end
      v["$as_written"] = orig
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
  cfg.extensions = type(doc.extensions) == "table" and doc.extensions or {}
  return cfg
end

-- A kubeconfig that holds credentials (a token, a password, a client key)
-- and that its group or others can read gets kscript's own warning, once
-- per file and process (kubectl says nothing).
local function filled(v) return type(v) == "string" and v ~= "" end
local warned = {}
local function check_mode(f, cfg)
  if warned[f] then return end
  warned[f] = true
  local secret = false
  for _, u in pairs(cfg.users) do
    if type(u) == "table" and (filled(u.token) or filled(u.password) or filled(u["client-key-data"])) then
      secret = true
    end
  end
  if not secret then return end
  local kind, _, _, mode = sys.stat(f)
  if kind == "file" and mode and mode & 0x24 ~= 0 then -- 0044
    io.stderr:write(("kscript: warning: kubeconfig %s holds credentials and is readable by %s (mode %04o): chmod 600 %s\n")
      :format(f, mode & 4 ~= 0 and "others" or "its group", mode, f))
  end
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
      check_mode(f, cfg)
      merged.files[#merged.files + 1] = f
      for _, field in ipairs { "clusters", "users", "contexts" } do
        for _, name in ipairs(cfg.order[field]) do
          if merged[field][name] == nil then
            merged[field][name] = cfg[field][name]
            table.insert(merged.order[field], name)
          end
        end
      end
      if not merged.preferences and next(cfg.preferences) then merged.preferences = cfg.preferences end
      merged.extensions = merged.extensions or {}
      for _, e in ipairs(cfg.extensions) do -- by name, the first file wins
        local seen = false
        for _, m in ipairs(merged.extensions) do
          if type(m) == "table" and type(e) == "table" and m.name == e.name then seen = true end
        end
        if not seen then merged.extensions[#merged.extensions + 1] = e end
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
    err.none = true -- no file at all (kubectl config view then prints an empty config)
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
  -- (a null or a mapping where a name belongs names nothing)
  local clname = nonempty(opts.cluster) or (type(ctx.cluster) == "string" and ctx.cluster or nil)
  local uname = nonempty(opts.user) or (type(ctx.user) == "string" and ctx.user or nil)
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

-- ---------------------------------------------------------------- config view

local API_V1, API_V1BETA1 = "client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"

local function str(v) return type(v) == "string" and v or (v ~= nil and v ~= util.null and tostring(v)) or "" end
local function opt(v) local x = str(v); return x ~= "" and x or nil end
local function flag(v) return v == true or nil end
local function arr(t) return util.json.array(t) end
-- Go's struct field order, for -o json (YAML output sorts keys anyway)
local function ordered(t, ...)
  return setmetatable(t, { __jsonorder = { ... } })
end

-- a []byte field: decoded as kubectl reads it, re-encoded as it writes it
local function bytes(v)
  local x = opt(v)
  if not x then return nil end
  local d = util.b64_decode(x)
  return d and require("ksh.b64").encode(d) or x
end

local function strings(v) -- []string; nil when empty (omitempty)
  if type(v) ~= "table" or #v == 0 then return nil end
  local t = {}
  for i, x in ipairs(v) do t[i] = str(x) end
  return arr(t)
end

local function extensions(v) -- a map by name in kubectl: sorted, the last duplicate wins
  if type(v) ~= "table" or #v == 0 then return nil end
  local by, names = {}, {}
  for _, e in ipairs(v) do
    local name = str(type(e) == "table" and e.name)
    if not by[name] then names[#names + 1] = name end
    by[name] = type(e) == "table" and e.extension or util.null
  end
  table.sort(names)
  local t = {}
  for i, name in ipairs(names) do
    t[i] = ordered({ name = name, extension = by[name] }, "name", "extension")
  end
  return arr(t)
end

-- paths as the file wrote them (view), or resolved (flatten reads them)
local function path(v, field, resolved)
  if resolved then return opt(v[field]) end
  local w = v["$as_written"]
  return opt(w and w[field] or v[field])
end

local function v1_cluster(c, resolved)
  return ordered({ server = str(c.server), ["tls-server-name"] = opt(c["tls-server-name"]),
           ["insecure-skip-tls-verify"] = flag(c["insecure-skip-tls-verify"]),
           ["certificate-authority"] = path(c, "certificate-authority", resolved),
           ["certificate-authority-data"] = bytes(c["certificate-authority-data"]),
           ["proxy-url"] = opt(c["proxy-url"]), ["disable-compression"] = flag(c["disable-compression"]),
           extensions = extensions(c.extensions) },
    "server", "tls-server-name", "insecure-skip-tls-verify", "certificate-authority", "certificate-authority-data",
    "proxy-url", "disable-compression", "extensions")
end

local function v1_exec(e, command)
  if type(e) ~= "table" then return nil end
  local env = util.null
  if type(e.env) == "table" then
    env = {}
    for i, x in ipairs(e.env) do
      env[i] = ordered({ name = str(type(x) == "table" and x.name), value = str(type(x) == "table" and x.value) },
        "name", "value")
    end
    env = arr(env)
  end
  local mode = opt(e.interactiveMode)
  if not mode and (e.apiVersion == API_V1BETA1 or e.apiVersion == "client.authentication.k8s.io/v1alpha1") then
    mode = "IfAvailable" -- kubectl's default for these versions
  end
  local args = util.null -- as Go: absent or null -> null, [] -> []
  if type(e.args) == "table" then
    args = {}
    for i, x in ipairs(e.args) do args[i] = str(x) end
    args = arr(args)
  end
  return ordered({ command = str(command or e.command), args = args, env = env,
           apiVersion = opt(e.apiVersion), installHint = opt(e.installHint),
           provideClusterInfo = e.provideClusterInfo == true, interactiveMode = mode },
    "command", "args", "env", "apiVersion", "installHint", "provideClusterInfo", "interactiveMode")
end

local function v1_user(u, resolved)
  local ap
  if type(u["auth-provider"]) == "table" then
    local c = u["auth-provider"].config
    ap = ordered({ name = str(u["auth-provider"].name), config = type(c) == "table" and next(c) and c or util.null },
      "name", "config")
  end
  local extra
  if type(u["as-user-extra"]) == "table" and next(u["as-user-extra"]) then extra = u["as-user-extra"] end
  local w = not resolved and u["$as_written"] or {}
  return ordered({ ["client-certificate"] = path(u, "client-certificate", resolved),
           ["client-certificate-data"] = bytes(u["client-certificate-data"]),
           ["client-key"] = path(u, "client-key", resolved), ["client-key-data"] = bytes(u["client-key-data"]),
           token = opt(u.token), tokenFile = path(u, "tokenFile", resolved), as = opt(u.as),
           ["as-uid"] = opt(u["as-uid"]), ["as-groups"] = strings(u["as-groups"]), ["as-user-extra"] = extra,
           username = opt(u.username), password = opt(u.password),
           ["auth-provider"] = ap, exec = v1_exec(u.exec, w.command), extensions = extensions(u.extensions) },
    "client-certificate", "client-certificate-data", "client-key", "client-key-data", "token", "tokenFile", "as",
    "as-uid", "as-groups", "as-user-extra", "username", "password", "auth-provider", "exec", "extensions")
end

local function read_b64(path)
  local text, err = read_file(path)
  if not text then return nil, kerr("config", "%s", tostring(err)) end
  return require("ksh.b64").encode(text)
end

--- view(cfg, opts) -> the config as kubectl config view prints it (a v1 Config
-- table for printers.yaml/json) | nil, err.  cfg: merged (load), or nil for
-- none.  opts: raw (keep secrets), minify (the current context only),
-- flatten (file contents inlined), context (for minify).
-- Without raw, as kubectl: token and password read REDACTED, the data
-- fields DATA+OMITTED.
function M.view(cfg, opts)
  opts = opts or {}
  cfg = cfg or { clusters = {}, users = {}, contexts = {}, order = { clusters = {}, users = {}, contexts = {} } }
  local current = opts.minify and opt(opts.context) or cfg.current_context
  local names = { clusters = cfg.order.clusters, users = cfg.order.users, contexts = cfg.order.contexts }
  if opts.minify then
    if not current then return nil, kerr("config", "current-context must exist in order to minify") end
    local c = cfg.contexts[current]
    if not c then return nil, kerr("config", "cannot locate context %s", current) end
    names = { contexts = { current }, clusters = {}, users = {} }
    if opt(c.cluster) then
      if not cfg.clusters[c.cluster] then return nil, kerr("config", "cannot locate cluster %s", c.cluster) end
      names.clusters = { c.cluster }
    end
    if opt(c.user) then
      if not cfg.users[c.user] then return nil, kerr("config", "cannot locate user %s", c.user) end
      names.users = { c.user }
    end
  end
  local function list(field, build, inner)
    local sorted = {}
    for i, n in ipairs(names[field]) do sorted[i] = n end
    table.sort(sorted)
    if #sorted == 0 then return util.null end
    local out = {}
    for i, n in ipairs(sorted) do
      local v, err = build(cfg[field][n])
      if not v then return nil, err end
      out[i] = ordered({ name = n, [inner] = v }, "name", inner)
    end
    return arr(out)
  end
  local function flatten(t, pathf, dataf)
    if opts.flatten and t[pathf] then
      if t[dataf] then return nil, kerr("config", "cannot have values for both path and contents") end
      local d, err = read_b64(t[pathf])
      if not d then return nil, err end
      t[pathf], t[dataf] = nil, d
    end
    return t
  end
  local clusters, err = list("clusters", function(c)
    return flatten(v1_cluster(c, opts.flatten), "certificate-authority", "certificate-authority-data")
  end, "cluster")
  if not clusters then return nil, err end
  local users
  users, err = list("users", function(u)
    local v, ferr = flatten(v1_user(u, opts.flatten), "client-certificate", "client-certificate-data")
    if v then v, ferr = flatten(v, "client-key", "client-key-data") end
    if not v then return nil, ferr end
    if not opts.raw and not opts.flatten then
      if v.token then v.token = "REDACTED" end
      if v.password then v.password = "REDACTED" end
      if v["client-key-data"] then v["client-key-data"] = "DATA+OMITTED" end
      if v["client-certificate-data"] then v["client-certificate-data"] = "DATA+OMITTED" end
    end
    return v
  end, "user")
  if not users then return nil, err end
  local contexts = list("contexts", function(c)
    return ordered({ cluster = str(c.cluster), user = str(c.user), namespace = opt(c.namespace),
             extensions = extensions(c.extensions) }, "cluster", "user", "namespace", "extensions")
  end, "context")
  if not opts.raw and not opts.flatten and clusters ~= util.null then
    for _, c in ipairs(clusters) do
      if c.cluster["certificate-authority-data"] then c.cluster["certificate-authority-data"] = "DATA+OMITTED" end
    end
  end
  local prefs
  local p = cfg.preferences or {}
  if p.colors == true or extensions(p.extensions) then
    prefs = ordered({ colors = flag(p.colors), extensions = extensions(p.extensions) }, "colors", "extensions")
  end
  return ordered({ apiVersion = "v1", kind = "Config", preferences = prefs, clusters = clusters, users = users,
           contexts = contexts, ["current-context"] = current or "", extensions = extensions(cfg.extensions) },
    "kind", "apiVersion", "preferences", "clusters", "users", "contexts", "current-context", "extensions")
end

-- ---------------------------------------------------------------- exec plugins

-- seconds an exec plugin may run (kubectl waits forever; a hung plugin here
-- fails with kind "auth" after this, and Ctrl-C kills it at any time)
M.EXEC_TIMEOUT = 60

--- exec_credential(exec, cluster, server) -> {token=, cert_pem=, key_pem=, expiration=} | nil, err
-- Runs the user's exec plugin as a child process on the loop (the calling
-- task waits; other tasks go on), with KUBERNETES_EXEC_INFO and the exec
-- env set, stdin from /dev/null.  The credential stays in memory: the
-- plugin's stdout is never written to a file or a log, and no error message
-- quotes it.
function M.exec_credential(ex, cl, server)
  local api = ex.apiVersion
  local name = tostring(ex.command)
  if api ~= API_V1 and api ~= API_V1BETA1 then
    return nil, kerr("auth", "exec plugin %s: unsupported apiVersion %q (want %s or %s)", name, tostring(api),
      API_V1, API_V1BETA1)
  end
  if type(ex.command) ~= "string" or ex.command == "" then
    return nil, kerr("auth", "exec plugin: no command")
  end
  local spec = { interactive = false }
  if ex.provideClusterInfo == true then
    cl = cl or {}
    spec.cluster = { server = server, ["tls-server-name"] = cl["tls-server-name"],
                     ["insecure-skip-tls-verify"] = cl["insecure-skip-tls-verify"],
                     ["certificate-authority-data"] = cl["certificate-authority-data"],
                     ["proxy-url"] = cl["proxy-url"], config = cl.extensions }
  end
  local env = { KUBERNETES_EXEC_INFO = util.json.encode { apiVersion = api, kind = "ExecCredential", spec = spec } }
  if type(ex.env) == "table" then
    for _, e in ipairs(ex.env) do
      if type(e) == "table" and type(e.name) == "string" and e.name ~= "" and not e.name:find("=", 1, true) then
        env[e.name] = tostring(e.value or "")
      end
    end
  end
  local argv = { ex.command }
  if type(ex.args) == "table" then for _, a in ipairs(ex.args) do argv[#argv + 1] = tostring(a) end end
  local r, perr = proc.run { argv = argv, env = env, timeout = M.EXEC_TIMEOUT }
  local function fail(msg, stderr)
    stderr = (stderr or ""):gsub("%s+$", "")
    if stderr ~= "" then msg = msg .. ": " .. stderr end
    if type(ex.installHint) == "string" and ex.installHint ~= "" then msg = msg .. "\n" .. ex.installHint end
    return util.error("auth", msg, { stderr = stderr })
  end
  if not r then
    return nil, fail(("exec plugin %s failed (%s)"):format(name, perr.message), perr.stderr)
  end
  if r.status ~= 0 then
    local how = r.signal and ("signal " .. r.signal) or ("exit " .. r.status)
    local e = fail(("exec plugin %s failed (%s)"):format(name, how), r.stderr)
    e.exit = r.status
    return nil, e
  end
  local cred, derr = util.json.decode(r.stdout)
  r.stdout = nil
  if type(cred) ~= "table" or cred.kind ~= "ExecCredential" or type(cred.status) ~= "table" then
    return nil, kerr("auth", "exec plugin %s: output is not an ExecCredential%s", name,
      derr and (" (" .. tostring(derr) .. ")") or "")
  end
  if cred.apiVersion ~= api then
    return nil, kerr("auth", "exec plugin %s: returned apiVersion %q, want %q", name, tostring(cred.apiVersion), api)
  end
  local st = cred.status
  local c = { token = type(st.token) == "string" and st.token ~= "" and st.token or nil,
              cert_pem = type(st.clientCertificateData) == "string" and st.clientCertificateData or nil,
              key_pem = type(st.clientKeyData) == "string" and st.clientKeyData or nil,
              expiration = type(st.expirationTimestamp) == "string" and st.expirationTimestamp or nil }
  if not c.token and not (c.cert_pem and c.key_pem) then
    return nil, kerr("auth", "exec plugin %s: the credential has neither a token nor a client certificate", name)
  end
  return c
end

return M
