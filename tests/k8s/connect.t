#!/usr/bin/env kscript
-- k8s.connect against the real API server (tests/env): kubeconfig loading and
-- merging, every auth identity, exec plugins, tokenFile, errors.
-- Needs the variables `eval "$(tests/env/up)"` exports; FAILS without them.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local k8s = require "k8s"
local yaml = require "ksh.yaml"

local KC = os.getenv("KUBECONFIG")
if not t.ok(KC and KC ~= "" and os.getenv("KSCRIPT_TEST_APISERVER"),
  "KUBECONFIG and KSCRIPT_TEST_* are set (eval \"$(tests/env/up)\")") then t.done() end

local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p " .. tmp .. "/sub")
local function write(path, s)
  local f = assert(io.open(path, "w"))
  f:write(s)
  f:close()
  return path
end
local function read(path)
  local f = assert(io.open(path))
  local s = f:read("a")
  f:close()
  return s
end

local base = assert(yaml.decode(read(KC)))
local server = base.clusters[1].cluster.server

-- every identity of tests/env
for _, ctx in ipairs { "admin", "token", "exec" } do
  local k, err = k8s.connect { context = ctx }
  t.ok(k, "connect context " .. ctx, err)
  if k then
    local l, lerr = k:list("pods", { namespace = "default" })
    t.ok(l and #l.items >= 1, ctx .. ": list pods in default", lerr)
    t.is(k.context, ctx, ctx .. ": context recorded")
  end
end

local lim = assert(k8s.connect { context = "limited" })
t.is(lim.namespace, "limited-ns", "limited: namespace from the context")
local l, err = lim:list("pods")
t.ok(l and l.kind == "PodList", "limited: may list pods in limited-ns", err)
l, err = lim:list("pods", { namespace = "default" })
t.is(l, nil, "limited: listing pods in default fails")
t.is(err and err.kind, "forbidden", "limited: err.kind is forbidden")
t.is(err and err.status, 403, "limited: err.status 403")
t.like(err and err.message, 'User "limited" cannot list resource "pods"', "limited: the message names user, verb, resource")
t.is(err and err.reason, "Forbidden", "limited: the Status reason")

-- a wrong token: 401 names the kubeconfig user
local k = assert(k8s.connect { context = "token", token = "not-a-token" })
l, err = k:get("/api")
t.is(err and err.kind, "unauthorized", "bad token: unauthorized")
t.like(err and err.message, 'user "token"', "bad token: the message names the kubeconfig user")

-- client certificate from files, relative paths resolved against the kubeconfig's directory
os.execute(("cp %s %s/sub/a.crt && cp %s %s/sub/a.key && cp %s %s/sub/ca.crt"):format(
  os.getenv("KSCRIPT_TEST_ADMIN_CERT"), tmp, os.getenv("KSCRIPT_TEST_ADMIN_KEY"), tmp,
  os.getenv("KSCRIPT_TEST_CA"), tmp))
local files_cfg = write(tmp .. "/sub/files.yaml", ([[
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: %s
    certificate-authority: ca.crt
users:
- name: u
  user:
    client-certificate: a.crt
    client-key: ./a.key
contexts:
- name: files
  context: {cluster: c, user: u}
current-context: files
]]):format(server))
k, err = k8s.connect { kubeconfig = files_cfg }
t.ok(k and k.tls.cert == tmp .. "/sub/a.crt", "relative client-certificate resolved against the file's directory", err)
t.is(k and k.tls.cacert, tmp .. "/sub/ca.crt", "relative certificate-authority resolved")
t.is(k and k.namespace, "default", "no namespace in the context: default")
l, err = k and k:get("/api/v1/namespaces/default/services/php-apache")
t.is(l and l.metadata.name, "php-apache", "client certificate from files works", err)

-- $KUBECONFIG merging: the first file to define a name wins; current-context from the first that has one
local first = write(tmp .. "/first.yaml", ([[
apiVersion: v1
kind: Config
clusters:
- name: kscript
  cluster: {server: "https://127.0.0.1:1"}
contexts:
- name: admin
  context: {cluster: kscript, user: admin, namespace: kube-system}
]]):format())
local saved = os.getenv("KUBECONFIG")
local cfg, cerr = require("k8s.kubeconfig").load { kubeconfig = nil }
t.ok(cfg and cfg.current_context == "admin", "load() reads $KUBECONFIG", cerr)
-- simulate KUBECONFIG=first:missing:real through files() + load of an explicit list
local function with_env(value, fn)
  -- os.setenv does not exist: run a child kscript with the variable set
  local p = io.popen(("KUBECONFIG=%q %s -e %q 2>&1"):format(value, "kscript", fn))
  local s = p:read("a")
  p:close()
  return s
end
local out = with_env(first .. ":" .. tmp .. "/missing.yaml:" .. saved,
  [[local k, e = require("k8s").connect(); if not k then print("ERR", e) else print(k.server, k.namespace, k.context, k.user) end]])
t.like(out, "^https://127%.0%.0%.1:1\tkube%-system\tadmin\tadmin", "merge: cluster and context from the first file, user from the second, current-context from the second", out)
out = with_env(tmp .. "/missing.yaml", [[local k, e = require("k8s").connect(); print(k, e)]])
t.like(out, "no kubeconfig found", "no kubeconfig at all: a clear error", out)

-- unknown context, malformed YAML with file and line, missing explicit file
k, err = k8s.connect { context = "nope" }
t.like(err and err.message, 'context "nope" not found', "unknown context")
local bad = write(tmp .. "/bad.yaml", "apiVersion: v1\nclusters:\n- name: x\n  cluster: {server: [\n")
k, err = k8s.connect { kubeconfig = bad }
t.like(err and err.message, "bad%.yaml: yaml: .* line %d+", "malformed YAML: file and line", err and err.message)
k, err = k8s.connect { kubeconfig = tmp .. "/none.yaml" }
t.like(err and err.message, "none%.yaml", "missing explicit kubeconfig names the file")

-- tokenFile, re-read when it changes
local tokfile = write(tmp .. "/token", "wrong\n")
local tf_cfg = write(tmp .. "/tf.yaml", ([[
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "%s", certificate-authority: "%s"}
users:
- name: tf
  user: {tokenFile: token}
contexts:
- name: tf
  context: {cluster: c, user: tf}
current-context: tf
]]):format(server, os.getenv("KSCRIPT_TEST_CA")))
k = assert(k8s.connect { kubeconfig = tf_cfg })
l, err = k:get("/api")
t.is(err and err.kind, "unauthorized", "tokenFile with a wrong token: unauthorized")
write(tokfile, os.getenv("KSCRIPT_TEST_TOKEN") .. "\n")
l, err = k:get("/api")
t.is(l and l.kind, "APIVersions", "tokenFile rewritten: the new token is used", err)

-- exec plugins: env, args, v1beta1, failure with stderr, expiry and 401 refetch
local plugin = write(tmp .. "/plugin.sh", ([[
#!/bin/sh
# args: MODE COUNTFILE
n=$(cat "$2" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$2"
case "$KUBERNETES_EXEC_INFO" in *'"kind":"ExecCredential"'*) ;; *) echo "no exec info" >&2; exit 3 ;; esac
case "$1" in
fail) echo "plugin says: no credentials for you" >&2; exit 7 ;;
expired) # the first call hands out a wrong token, later calls the right one
  if [ $n -eq 1 ]; then tok=wrong; else tok=%s; fi
  printf '{"apiVersion":"%%s","kind":"ExecCredential","status":{"token":"%%s","expirationTimestamp":"2999-01-01T00:00:00Z"}}\n' "$API" "$tok" ;;
*) printf '{"apiVersion":"%%s","kind":"ExecCredential","status":{"token":"%%s"}}\n' "$API" %s ;;
esac
]]):format(os.getenv("KSCRIPT_TEST_EXEC_TOKEN"), os.getenv("KSCRIPT_TEST_EXEC_TOKEN")))
os.execute("chmod +x " .. plugin)
local function exec_cfg(name, mode, api)
  return write(tmp .. "/" .. name .. ".yaml", ([[
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "%s", certificate-authority: "%s"}
users:
- name: %s
  user:
    exec:
      apiVersion: %s
      command: ./plugin.sh
      args: [%s, %s/%s.count]
      env: [{name: API, value: %s}]
      interactiveMode: Never
contexts:
- name: %s
  context: {cluster: c, user: %s}
current-context: %s
]]):format(server, os.getenv("KSCRIPT_TEST_CA"), name, api, mode, tmp, name, api, name, name, name))
end
k, err = k8s.connect { kubeconfig = exec_cfg("beta", "ok", "client.authentication.k8s.io/v1beta1") }
l, err = k and k:get("/api/v1/namespaces/default/services/php-apache")
t.is(l and l.metadata.name, "php-apache", "exec plugin v1beta1 (relative command, args, env)", err)
k, err = k8s.connect { kubeconfig = exec_cfg("failing", "fail", "client.authentication.k8s.io/v1") }
t.is(k, nil, "a failing exec plugin: connect fails")
t.like(err and err.message, "plugin says: no credentials for you", "a failing exec plugin: its stderr is shown")
t.like(err and err.message, "exit 7", "a failing exec plugin: its exit status is shown")
k, err = k8s.connect { kubeconfig = exec_cfg("expired", "expired", "client.authentication.k8s.io/v1") }
l, err = k and k:get("/api")
t.is(l and l.kind, "APIVersions", "exec token refused (401): the plugin runs again and the request succeeds", err)
t.is(read(tmp .. "/expired.count"):match("%d+"), "2", "exec plugin ran exactly twice")
k:get("/api")
t.is(read(tmp .. "/expired.count"):match("%d+"), "2", "the exec credential is cached until it expires")

-- expirationTimestamp parsing
t.is(k8s.parse_time("1970-01-02T00:00:00Z"), 86400, "parse_time UTC")
t.is(k8s.parse_time("1970-01-02T01:00:00+01:00"), 86400, "parse_time with an offset")

-- server override with an explicit token, insecure-skip-tls-verify warns
local warn = with_env(KC, ([[local k = assert(require("k8s").connect{context="admin", token="%s", insecure_skip_tls_verify=true}); print(assert(k:get("/api")).kind)]])
  :format(os.getenv("KSCRIPT_TEST_TOKEN")))
t.like(warn, "warning: TLS certificate verification is disabled", "insecure-skip-tls-verify warns", warn)
t.like(warn, "APIVersions", "insecure-skip-tls-verify with a token override works", warn)

-- the prompt and completion at ksh>
t.is(k8s._hooks.prompt_context(), "admin/default", "prompt: context/namespace of the kubeconfig")
t.is(table.concat(k8s._hooks.complete.get({ "get" }, "deploy"), " "), "deploy deployments", "completion: resource types and short names")
t.is(table.concat(k8s._hooks.complete.get({ "get", "svc" }, "php"), " "), "php-apache", "completion: object names from the server")
t.is(table.concat(k8s._hooks.complete.get({ "get", "pods", "-n" }, "limited"), " "), "limited-ns", "completion: namespaces after -n")

-- k8s's fields are its documented API; internals stay out of k8s.<Tab>
local keys = {}
for key in pairs(k8s) do keys[#keys + 1] = key end
table.sort(keys)
t.is(table.concat(keys, " "), "_hooks connect decode encode leader_election parse_time proxy_server",
  "k8s holds only the documented API (connect, decode, encode, leader_election, parse_time, proxy_server) and _hooks")

os.execute("rm -rf " .. tmp)
t.done()
