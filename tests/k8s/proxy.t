#!/usr/bin/env bash
# The proxy against the real API server: k:proxy() for service, pod and node
# proxy URLs (the HTTP backend and the kubelet stand-in in the test netns),
# and `kscript proxy` compared with `kubectl proxy` (the same build as the
# server) started in this test: the same requests through both, the same
# status, content type and body; the seed's --reject-paths case, host, path
# and method filters, path cleaning, a watch streamed event by event, a client
# that disconnects (the API server's watch ends), per-request Lua filters, bad
# regexps, a port already taken, 200 concurrent clients.
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh" KSCRIPT_TEST_BACKEND KSCRIPT_TEST_KUBELET KSCRIPT_TEST_HOST_IP

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  $KC delete configmap kscript-proxy-watch --ignore-not-found >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

# start NAME CMD...: run a proxy, wait for "Starting to serve on ADDR:PORT", set port_NAME
start() {
  local name=$1; shift
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pids+=($!)
  eval "pid_$name=$!"
  local p
  p=$(serving_port "$tmp/$name.out")
  eval "port_$name=$p"
  if [ -n "$p" ]; then ok "$name: $(head -1 "$tmp/$name.out" | sed 's/[0-9]*$/PORT/')"
  else nok "$name started" "$(cat "$tmp/$name.out" "$tmp/$name.err")"; fi
}

# fetch PORT PATH [curl args]: "STATUS CONTENT-TYPE" then the body (the list's
# resourceVersion, which moves between two reads, masked)
fetch() {
  local port=$1 path=$2; shift 2
  curl -s --path-as-is -o "$tmp/body" -w '%{http_code} %{content_type}\n' "$@" "http://127.0.0.1:$port$path"
  sed -E '0,/"resourceVersion": ?"[0-9]+"/s//"resourceVersion":"RV"/' "$tmp/body"
}
# same DESC PATH [curl args]: the same answer through both proxies of the pair (ks, kc)
same() {
  local desc=$1 path=$2; shift 2
  local a b
  a=$(fetch "$ks" "$path" "$@")
  b=$(fetch "$kc" "$path" "$@")
  if [ "$a" = "$b" ] && [ -n "$a" ]; then ok "$desc: $(head -1 <<<"$a")"
  else nok "$desc" "kscript: $(head -c 300 <<<"$a" | tr '\n' '|')" "kubectl: $(head -c 300 <<<"$b" | tr '\n' '|')"; fi
}

# ------------------------------------------------------------- k:proxy in Lua
out=$("$KS" -e '
local k = assert(k8s.connect())
local function line(what, okv, detail) print(what .. "\t" .. (okv and "ok" or ("bad " .. tostring(detail)))) end
-- the seed article: services/http:php-apache:/proxy/
local st, h, body = k:proxy("service", "php-apache", "/", {scheme = "http"})
line("service http:php-apache: (seed)", st == 200 and body:match("^kscript%-test%-backend") and body:find("path=/\n", 1, true), body)
-- services/http:tomcat-service:/proxy/: its only port is named, so the API server refuses an empty port name
local s2, err = k:proxy("service", "tomcat-service", "/", {scheme = "http"})
line("service http:tomcat-service: (seed) is the API server refusing", s2 == nil and err.kind == "unavailable" and err.status == 503, err)
st, h, body = k:proxy("service", "tomcat-service", "/index.html", {scheme = "http", port = "http"})
line("service http:tomcat-service:http", st == 200 and body:find("path=/index.html", 1, true), body)
-- method, headers, body, query
st, h, body = k:proxy("service", "php-apache", "/echo", {namespace = "default", method = "POST", body = "hello",
  headers = {["X-Test"] = "1"}, query = {a = "b c"}})
line("POST with body and query", st == 200 and body:find("method=POST", 1, true) and body:find("path=/echo?a=b%20c", 1, true)
  and body:find("body=hello", 1, true), body)
-- the backend own error is an answer, not an error
st, h, body = k:proxy("service", "php-apache", "/status/418")
line("backend 418 comes back raw", st == 418 and body == "status 418\n", tostring(st) .. " " .. tostring(body))
-- pod and node
st, h, body = k:proxy("pod", "backend-pod", "/from-pod")
line("pod proxy", st == 200 and body:find("path=/from-pod", 1, true), body)
local node = k:get("nodes", "node-1")
st, h, body = k:proxy("node", "node-1", "/healthz")
line("node proxy (kubelet stand-in)", st == 200 and body == "ok", tostring(st) .. " " .. tostring(body))
local nf
nf, err = k:proxy("service", "no-such-service", "/")
line("a missing service is the API server refusing", nf == nil and err.status == 503 or (nf == nil and err.kind == "notfound"), err)
-- streaming form
local s3, h3, stream = k:proxy("service", "php-apache", "/stream", {stream = true})
local parts = {}
for chunk in stream:records() do parts[#parts + 1] = chunk end
stream:close()
line("stream form", s3 == 200 and table.concat(parts):find("path=/stream", 1, true), table.concat(parts))
-- misuse raises
local okm, e = pcall(k.proxy, k, "deployment", "x", "/")
line("unknown kind raises", not okm and tostring(e):find("unknown kind", 1, true), e)
-- a proxy server inside a script, beside other work on the loop
local p = assert(k8s.proxy_server{client = k, port = 0})
p:start()
local ticks = 0
local t = spawn(function() for _ = 1, 3 do sleep(0.01) ticks = ticks + 1 end end)
local r = assert(require("ksh.http").request{url = "http://127.0.0.1:" .. p:port() .. "/version", headers = {Accept = "application/json"}})
local v = k:get("/version")
t:wait()
line("k8s.proxy_server in a script", r.status == 200 and json.decode(r.body).gitVersion == v.gitVersion and ticks == 3, r.body)
p:close()
' 2>&1)
while IFS=$'\t' read -r what verdict; do
  [ -z "$what" ] && continue
  if [ "$verdict" = ok ]; then ok "k:proxy: $what"; else nok "k:proxy: $what" "$verdict"; fi
done <<<"$out"
[ "$(grep -c $'\tok$' <<<"$out")" -eq 11 ] && ok "k:proxy: all 11 checks ran" || nok "k:proxy: all 11 checks ran" "$out"

# ------------------------------------------- defaults: kscript proxy vs kubectl proxy
start ks1 "$KS" proxy --port=0
start kc1 $KC proxy --port=0
ks=$port_ks1 kc=$port_kc1
pod=backend-pod
for p in /api /version /api/v1/pods /api/v1/nodes /api/v1/services /api/v1/replicationcontrollers \
  /api/v1/namespaces/default/pods /api/v1/namespaces/default/pods/$pod /apis/batch/v1 \
  "/api/v1/namespaces/default/services/http:php-apache:/proxy/" \
  "/api/v1/namespaces/default/services/http:tomcat-service:/proxy/" \
  "/api/v1/namespaces/default/services/http:tomcat-service:http/proxy/x?y=1" \
  /api/v1/namespaces/default/pods/$pod/proxy/p "/api/v1/nodes/node-1/proxy/healthz" \
  /api/v1/namespaces/default/pods/nope /no/such/path "/%zz"; do
  same "same answer $p" "$p"
done
same "pretty-printing follows the User-Agent" /api/v1/namespaces/default/pods/$pod -A "kubectl/v1.37.2"
same "default exec rejection" "/api/v1/namespaces/default/pods/$pod/exec?command=ls"
same "default attach rejection" "/api/v1/namespaces/default/pods/$pod/attach"
same "escaped exec still rejected" "/api/v1/namespaces/default/pods/$pod/%65xec"
same "%2e%2e does not dodge the filter" "/api/v1/namespaces/default/pods/$pod/%2e%2e/$pod/exec"
same "// is cleaned first (307)" "/api//v1/namespaces/default/pods/$pod/exec"
same ".. is cleaned first (307)" "/api/v1/namespaces/default/pods/x/../$pod/attach?a=1"
same "Host evil.com rejected" /version -H "Host: evil.com"
same "Host localhost:1234 accepted" /version -H "Host: localhost:1234"
same "Host [::1]:80 (port split off: refused, as Go does)" /version -H "Host: [::1]:80"
same "Host [::1] accepted" /version -H "Host: [::1]"
same "POST through" /api/v1/namespaces/default/configmaps -X POST -H "Content-Type: application/json" \
  --data '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{}}' -A kscript-test -H "X-Dry: 1" \
  -G --data-urlencode dryRun=All -d ""
hdr=$(curl -s -D - -o /dev/null -H "Host: evil.com" "http://127.0.0.1:$ks/version" | tr -d '\r' | grep -iE '^(content-type|x-content-type-options):' | sort)
is "403 headers as kubectl's" "$hdr" $'Content-Type: text/plain; charset=utf-8\nX-Content-Type-Options: nosniff'
if grep -q "Authorization\|$KSCRIPT_TEST_TOKEN" "$tmp/ks1.out" "$tmp/ks1.err"; then nok "no credentials in the proxy's output"; else ok "no credentials in the proxy's output"; fi

# keep-alive and pipelining: several requests on one connection
n2=$(curl -s -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}\n' "http://127.0.0.1:$ks/version" "http://127.0.0.1:$ks/api" "http://127.0.0.1:$ks/apis/batch/v1" | paste -sd' ')
is "keep-alive: three requests, one connection" "$n2" "1 0 0"

# ----------------------------------------------------------- a watch through both
watches() {
  curl -s "http://127.0.0.1:$kc/metrics" | awk '/^apiserver_longrunning_requests\{/ && /resource="configmaps"/ && /scope="namespace"/ && /verb="WATCH"/ {s += $2} END {print s + 0}'
}
base=$(watches)
rv=$($KC get configmaps -o jsonpath='{.metadata.resourceVersion}')
for who in ks kc; do
  port=${!who}
  curl -sN "http://127.0.0.1:$port/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$rv" >"$tmp/watch.$who" 2>/dev/null &
  pids+=($!)
  eval "wpid_$who=$!"
done
sleep 0.5
$KC create configmap kscript-proxy-watch --from-literal=a=1 >/dev/null
for who in ks kc; do
  seen=
  for _ in $(seq 100); do grep -q '"name":"kscript-proxy-watch"' "$tmp/watch.$who" && { seen=1; break; }; sleep 0.1; done
  [ -n "$seen" ] && ok "$who: the watch delivers the ConfigMap created after it started" || nok "$who: watch event" "$(head -c 300 "$tmp/watch.$who")"
done
a=$(grep -o '"type":"ADDED"[^}]*"name":"kscript-proxy-watch"' "$tmp/watch.ks"); b=$(grep -o '"type":"ADDED"[^}]*"name":"kscript-proxy-watch"' "$tmp/watch.kc")
is "the same event through both" "$a" "$b"
# a client that disconnects mid-watch: the API server's watch ends (the
# count of namespaced ConfigMap watches on the API server goes back down)
drop_to() { for _ in $(seq 150); do [ "$(watches)" -le "$1" ] && return 0; sleep 0.1; done; return 1; }
kill "$wpid_kc" 2>/dev/null
drop_to $((base + 1)) && ok "kubectl proxy: its watch ends on disconnect ($base + 1 left)" || nok "kubectl proxy watch ended" "base $base, now $(watches)"
alive=$(kill -0 "$wpid_ks" 2>/dev/null && echo yes || echo no)
kill "$wpid_ks" 2>/dev/null
drop_to "$base" && ok "kscript proxy: disconnect cancels the upstream watch (back to $base)" || nok "kscript proxy: disconnect cancels the upstream watch" "base $base, now $(watches)" "ks watch alive before the kill: $alive" "$(curl -s http://127.0.0.1:$kc/metrics | grep longrunning | grep configmaps)"

# ---------------------------------------------------------- 200 concurrent clients
conc=$(python3 - "$ks" <<'EOF'
import sys, threading, urllib.request
port = sys.argv[1]
res = []
def one(i):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/namespaces/default/pods/backend-pod", timeout=60) as r:
            res.append(r.status == 200 and b'"backend-pod"' in r.read())
    except Exception as e:
        res.append(False)
ts = [threading.Thread(target=one, args=(i,)) for i in range(200)]
for t in ts: t.start()
for t in ts: t.join()
print(sum(res))
EOF
)
is "200 concurrent clients all answered" "$conc" 200

# ----------------------------------------- the seed: --reject-paths='^/api/v1/services'
host=$KSCRIPT_TEST_HOST_IP
start ks2 "$KS" proxy --port=0 --accept-hosts='.*' --address="$host" --reject-paths='^/api/v1/services'
start kc2 $KC proxy --port=0 --accept-hosts='.*' --address="$host" --reject-paths='^/api/v1/services'
grep -q "warning" "$tmp/ks2.err" && ok "non-loopback address with any host: a warning" || nok "warning for a non-loopback address" "$(cat "$tmp/ks2.err")"
fetch2() { curl -s -o "$tmp/b2" -w '%{http_code} %{content_type}\n' "http://$host:$1$2"; cat "$tmp/b2"; }
for p in /api/v1/services /api/v1/services/ "/api/v1/namespaces/default/services/http:php-apache:/proxy/" /api/v1/pods/ \
  "/api/v1/namespaces/default/pods/$pod/exec"; do
  a=$(fetch2 "$port_ks2" "$p" | sed -E '0,/"resourceVersion": ?"[0-9]+"/s//"resourceVersion":"RV"/')
  b=$(fetch2 "$port_kc2" "$p" | sed -E '0,/"resourceVersion": ?"[0-9]+"/s//"resourceVersion":"RV"/')
  if [ "$a" = "$b" ]; then ok "seed reject-paths $p: $(head -1 <<<"$a")"; else nok "seed reject-paths $p" "${a:0:200}" "${b:0:200}"; fi
done

# ------------------------------------- prefix, methods, accept-paths, www
mkdir -p "$tmp/www"; echo "static hello" >"$tmp/www/hello.txt"
flags=(--port=0 --api-prefix=/k8s/ --reject-methods='^DELETE$,^PATCH$' --accept-paths='^/api/,^/version' --www="$tmp/www" --www-prefix=/files/)
start ks3 "$KS" proxy "${flags[@]}"
start kc3 $KC proxy "${flags[@]}"
ks=$port_ks3 kc=$port_kc3
same "api-prefix: /k8s/version" /k8s/version
same "api-prefix: /k8s/api/v1/namespaces/default/pods/$pod" /k8s/api/v1/namespaces/default/pods/$pod
same "api-prefix: /version outside it" /version
same "api-prefix: /k8s redirects" /k8s
same "accept-paths: /apis refused" /k8s/apis/batch/v1
same "reject-methods: DELETE" /k8s/api/v1/namespaces/default/configmaps/nope -X DELETE
same "reject-methods: GET passes" /k8s/api/v1/namespaces/default/configmaps/nope
same "www: a file" /files/hello.txt
same "www: missing file" /files/nope.txt

# ------------------------------------------------------- per-request Lua
start ks4 "$KS" proxy --port=0 --on-request '
  if req.method == "DELETE" then return 403, "deletes are off" end
  if req.path == "/boom" then error("filter exploded") end
  if req.path == "/rewrite" then req.path = "/version" end'
ks=$port_ks4
a=$(fetch "$ks" /api/v1/namespaces/default/configmaps/kscript-proxy-watch -X DELETE)
is "Lua filter denies deletes" "$a" $'403 text/plain; charset=utf-8\ndeletes are off'
$KC get configmap kscript-proxy-watch >/dev/null 2>&1 && ok "the ConfigMap is still there" || nok "the ConfigMap is still there"
a=$(fetch "$ks" /boom)
is "a filter that raises denies (fail closed)" "$a" $'403 text/plain; charset=utf-8\nForbidden'
grep -q "filter exploded" "$tmp/ks4.err" && ok "the raised error is logged" || nok "the raised error is logged" "$(cat "$tmp/ks4.err")"
a=$(fetch "$ks" /rewrite | head -1); b=$(fetch "$ks" /version)
is "the filter rewrites the path" "$a" "200 application/json"
cat >"$tmp/filter.lua" <<'EOF'
function filter(req)
  if req.headers["x-deny"] then return false end
  if req.headers["x-yaml"] then req.headers["accept"] = "application/yaml" end
end
function log(req, res)
  io.stderr:write(("AUDIT %s %s %d %d\n"):format(req.method, req.path, res.status, res.bytes))
end
EOF
start ks5 "$KS" proxy --port=0 --filter "$tmp/filter.lua"
a=$(fetch "$port_ks5" /version -H "X-Deny: 1")
is "--filter FILE: filter(req) denies" "$a" $'403 text/plain; charset=utf-8\nForbidden'
a=$(fetch "$port_ks5" /api/v1/namespaces/default/pods/backend-pod -H "X-Yaml: 1" | head -1)
is "--filter FILE: a header changed upstream" "$a" "200 application/yaml"
for _ in $(seq 50); do grep -q "AUDIT GET /version 403" "$tmp/ks5.err" && break; sleep 0.1; done
grep -q "AUDIT GET /version 403 10" "$tmp/ks5.err" && ok "--filter FILE: log(req, res)" || nok "--filter FILE: log(req, res)" "$(cat "$tmp/ks5.err")"

# ------------------- the C fast path (ks1: no Lua per request) and the Lua path (ks5: a filter)
# send the same headers upstream: the backend echoes what reached it through
# the API server's service proxy
hpath=/api/v1/namespaces/default/services/http:php-apache:/proxy/headers
hargs=(-H "X-Test: a" -H "X-Test: b" -H "X-Forwarded-For: 10.1.2.3" -H "Impersonate-User: mallory"
  -H "Authorization: Bearer not-this-one" -H "Accept:" -H "x-lower_case-Name: v" -A "ua/1")
a=$(fetch "$port_ks1" "$hpath" "${hargs[@]}"); b=$(fetch "$port_ks5" "$hpath" "${hargs[@]}")
is "fast path and Lua path: the same headers upstream" "$a" "$b"
grep -q '^x-test: b$' <<<"$a" && ok "both X-Test lines went through" || nok "both X-Test lines went through" "$a"
if grep -qi 'mallory\|not-this-one' <<<"$a"; then nok "client credentials and impersonation are dropped" "$a"
else ok "client credentials and impersonation are dropped"; fi
sel() { grep -E '^(x-test|user-agent|x-forwarded-for|x-lower_case-name|accept):' <<<"$1"; }
# (kubectl proxy passes Impersonate-* and Authorization on: not those to it)
c=$(fetch "$port_kc1" "$hpath" "${hargs[@]:0:6}" "${hargs[@]:10}")
is "fast path: the client's headers upstream as kubectl proxy sends them" "$(sel "$a")" "$(sel "$c")"
a=$(fetch "$port_ks1" "$hpath"); b=$(fetch "$port_ks5" "$hpath"); c=$(fetch "$port_kc1" "$hpath")
is "no User-Agent or Accept: the same as the Lua path" "$a" "$b"
is "no User-Agent or Accept: as kubectl proxy" "$(sel "$a")" "$(sel "$c")"

# -------------------------------------------------------------- failures
"$KS" proxy --port=0 --accept-paths='^(?=x)' >"$tmp/bad.out" 2>"$tmp/bad.err"; rc1=$?
$KC proxy --port=0 --accept-paths='^(?=x)' >/dev/null 2>"$tmp/badkc.err"; rc2=$?
# kubectl exits 255 (klog.Fatalf); the command returns 255, which the runner passes on once it honours returned statuses
[ "$rc1" -ne 0 ] && [ "$rc2" -eq 255 ] && ok "bad regexp: a startup failure (kscript $rc1, kubectl $rc2)" || nok "bad regexp: startup failure" "kscript $rc1, kubectl $rc2"
grep -q "Error compiling re" "$tmp/bad.err" && grep -q "Error compiling re" "$tmp/badkc.err" && ok "bad regexp: Error compiling re" || nok "bad regexp message" "$(cat "$tmp/bad.err")"
for bad in 'a++' '\1' '(?<=a)b' 'a{1001}' '\Z'; do
  "$KS" proxy --port=0 --reject-paths="$bad" >/dev/null 2>&1; rc1=$?
  $KC proxy --port=0 --reject-paths="$bad" >/dev/null 2>&1; rc2=$?
  [ "$rc1" -ne 0 ] && [ "$rc2" -ne 0 ] && ok "RE2 refuses $bad, as kubectl (kscript $rc1, kubectl $rc2)" || nok "RE2 refuses $bad" "kscript $rc1, kubectl $rc2"
done
"$KS" proxy --port="$port_kc1" >"$tmp/taken.out" 2>"$tmp/taken.err"; rc1=$?
$KC proxy --port="$port_kc1" >/dev/null 2>"$tmp/takenkc.err"; rc2=$?
is "port taken: exit status as kubectl's" "$rc1" "$rc2"
grep -q "address already in use" "$tmp/taken.err" && ok "port taken: address already in use" || nok "port taken message" "$(cat "$tmp/taken.err")"
"$KS" proxy --port=9999 --unix-socket="$tmp/s" >/dev/null 2>"$tmp/unix.err"; rc=$?
is "--unix-socket with --port: usage error" "$rc" 2
# a Unix socket
"$KS" proxy --unix-socket="$tmp/px.sock" >"$tmp/ks6.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "Starting to serve on $tmp/px.sock" "$tmp/ks6.out" && break; sleep 0.1; done
is "--unix-socket: the socket path is printed" "$(cat "$tmp/ks6.out")" "Starting to serve on $tmp/px.sock"
a=$(curl -s --unix-socket "$tmp/px.sock" http://localhost/version -o /dev/null -w '%{http_code}')
is "--unix-socket serves" "$a" 200
finish
