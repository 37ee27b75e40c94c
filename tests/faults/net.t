#!/usr/bin/env bash
# Faults of the network and of credentials, against real servers:
#  - DNS that does not resolve (a network namespace with no resolver): kind
#    dns for the API server and etcd, quickly, kubectl failing too;
#  - the CA file rotated on disk between two connections of one process:
#    new connections trust the new CA, and no longer the old one;
#  - an exec credential plugin that prints garbage: kind auth, the garbage
#    not echoed as a credential; one that hangs is killed at its timeout
#    (tests/k8s/kubeconfig.t);
#  - a slow-loris client of `kscript proxy` (headers one byte a second)
#    does not stall the other clients;
#  - the API server paused (SIGSTOP) under a list and under a watch: the
#    list fails with kind timeout at --request-timeout (kubectl likewise),
#    the watch delivers what changed once the server is back, nothing lost
#    or repeated.
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh" KSCRIPT_TEST_APISERVER KSCRIPT_ENV_DIR
top=${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
pids=() apipid=
cleanup() {
  [ -n "$apipid" ] && kill -CONT "$apipid" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  $KC delete ns kscript-faults-$$ --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$top/tests/lib/certs.sh"

# --- DNS that does not resolve
kind=$(unshare -n "$KS" -e "local k = assert(k8s.connect{server = 'https://kscript-nowhere.example:6443', token = 't'})
  local _, err = k:get('/version'); print(err.kind)" 2>&1)
is "an unresolvable API server name: kind dns" "$kind" dns
kind=$(unshare -n "$KS" -e "local e = require('etcd').connect{endpoints = 'http://etcd-nowhere.example:2379'}
  local _, err = e:get('/x'); print(err.kind)" 2>&1)
is "an unresolvable etcd name: kind dns" "$kind" dns
unshare -n "$KC" --server https://kscript-nowhere.example:6443 --token t get --raw /version >/dev/null 2>&1
status "kubectl fails there too" $((! $?))

# --- the CA file rotated on disk mid-run
mkcerts "$tmp/a"; mkcerts "$tmp/b"
cp "$tmp/a/ca.crt" "$tmp/ca.crt"
python3 "$top/tests/lib/httpd.py" "$tmp/pa" --tls "$tmp/a/server.crt" "$tmp/a/server.key" & pids+=($!)
python3 "$top/tests/lib/httpd.py" "$tmp/pb" --tls "$tmp/b/server.crt" "$tmp/b/server.key" & pids+=($!)
python3 "$top/tests/lib/httpd.py" "$tmp/pa2" --tls "$tmp/a/server.crt" "$tmp/a/server.key" & pids+=($!)
wait_for 20 test -s "$tmp/pa" -a -s "$tmp/pb" -a -s "$tmp/pa2"
cat > "$tmp/rot.lua" <<L
local http = require "ksh.http"
local function try(port)
  local r, err = http.request{url = "https://127.0.0.1:" .. port .. "/hello", cacert = "$tmp/ca.crt", http1 = true}
  return r and r.status or err.kind
end
print(try($(cat "$tmp/pa")), try($(cat "$tmp/pb")))
os.execute("cp $tmp/b/ca.crt $tmp/ca.crt.new && mv $tmp/ca.crt.new $tmp/ca.crt")
print(try($(cat "$tmp/pb")), try($(cat "$tmp/pa2")))
L
out=$("$KS" "$tmp/rot.lua" 2>&1)
is "before the rotation: server A trusted, B not" "$(echo "$out" | sed -n 1p)" "$(printf '200\ttls')"
is "after it, in the same process, new connections: B trusted, A no longer" "$(echo "$out" | sed -n 2p)" "$(printf '200\ttls')"

# --- an exec plugin that prints garbage
printf '#!/bin/sh\necho "this is not an ExecCredential: sekrit-garbage"\n' > "$tmp/garbage"; chmod +x "$tmp/garbage"
cat > "$tmp/kc" <<K
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "$KSCRIPT_TEST_APISERVER", certificate-authority: "$KSCRIPT_TEST_CA"}}]
users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: "$tmp/garbage", interactiveMode: Never}}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
K
chmod 600 "$tmp/kc"
out=$("$KS" -e "local k, err = k8s.connect{kubeconfig = '$tmp/kc'}
  if k then _, err = k:get('/version') end
  print(err.kind); print(err.message)" 2>&1)
is "an exec plugin printing garbage: kind auth" "$(echo "$out" | head -1)" auth
echo "$out" | grep -q "sekrit-garbage" && nok "its output is not echoed into the error" "$out" || ok "its output is not echoed into the error: $(echo "$out" | sed -n 2p | head -c 150)"
KUBECONFIG=$tmp/kc "$KC" get --raw /version >/dev/null 2>&1
status "kubectl fails on it too" $((! $?))

# --- a slow-loris client of kscript proxy
"$KS" proxy --port=0 >"$tmp/proxy.out" 2>&1 & pids+=($!)
pport=$(serving_port "$tmp/proxy.out")
python3 - "$pport" >"$tmp/loris.out" 2>&1 <<'PY' & pids+=($!)
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for c in b"GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\n":
    s.send(bytes([c])); time.sleep(1)
PY
sleep 2
s=$(date +%s%N)
for i in 1 2 3 4 5; do curl -sf -o /dev/null --max-time 5 "http://127.0.0.1:$pport/version" || break; done
ms=$(( ($(date +%s%N) - s) / 1000000 ))
[ "$i" = 5 ] && [ $ms -lt 5000 ] && ok "five requests through the proxy while a slow-loris client trickles ($ms ms)" \
  || nok "five requests through the proxy while a slow-loris client trickles" "stopped at $i after $ms ms"

# --- the API server paused under a list and under a watch
apipid=$(awk '$1 == "pid" && $3 == "kube-apiserver" { print $2 }' "$KSCRIPT_ENV_DIR/state" | tail -1)
[ -n "$apipid" ] && ok "the test API server's pid ($apipid)" || nok "the test API server's pid" "$(cat "$KSCRIPT_ENV_DIR/state")"
ns=kscript-faults-$$
$KC create ns "$ns" >/dev/null
cat > "$tmp/w.lua" <<L
local k = k8s.connect()
for ev in k:watch("configmaps", {namespace = "$ns"}) do
  if ev.object.metadata.name:match("^f") then print(ev.type, ev.object.metadata.name); io.stdout:flush() end
  if ev.object.metadata.name == "f-last" then break end
end
L
"$KS" "$tmp/w.lua" >"$tmp/events" 2>"$tmp/werr" & wp=$!; pids+=($wp)
$KC create cm f1 -n "$ns" >/dev/null
wait_for 30 grep -q f1 "$tmp/events"
kill -STOP "$apipid"
s=$(date +%s%N)
"$KS" get pods -A --request-timeout 3s >/dev/null 2>"$tmp/lerr"; rc=$?
ms=$(( ($(date +%s%N) - s) / 1000000 ))
"$KC" get pods -A --request-timeout 3s >/dev/null 2>&1; kcrc=$?
kill -CONT "$apipid"
is "paused API server: get fails with status 1" "$rc" 1
[ $ms -lt 12000 ] && ok "at --request-timeout 3s ($ms ms, retries included)" || nok "at --request-timeout 3s" "$ms ms"
grep -qi "timeout\|timed out\|too slow" "$tmp/lerr" && ok "saying it timed out: $(head -c 160 "$tmp/lerr")" || nok "saying it timed out" "$(cat "$tmp/lerr")"
[ "$kcrc" != 0 ]; status "kubectl fails there too (exit $kcrc)" $?
wait_for 60 "$KC" get --raw /readyz >/dev/null 2>&1
$KC create cm f2 -n "$ns" >/dev/null && $KC create cm f-last -n "$ns" >/dev/null
wait_for 60 grep -q f-last "$tmp/events" && ok "the watch goes on after the pause" || nok "the watch goes on after the pause" "$(cat "$tmp/events" "$tmp/werr")"
is "every change once, in order" "$(cat "$tmp/events")" "$(printf 'ADDED\tf1\nADDED\tf2\nADDED\tf-last')"
apipid=
finish
