#!/usr/bin/env bash
# Every request of the seed article, end to end against the real API server:
# through `kscript get --raw` (byte-compared with the matching kubectl's
# `get --raw`), through the Lua API (k:get(path)), and through a plain
# http:// server (`kubectl proxy`, as in the article).
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh"
top=${KSCRIPT_TOP:-$PWD}

proxy_pid=
cleanup() { [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

node=$($KC get nodes -o jsonpath='{.items[0].metadata.name}')
paths=(/api /api/v1 /api/v1/nodes /api/v1/pods /api/v1/services /api/v1/replicationcontrollers
  "/api/v1/nodes/$node" /api/v1/namespaces/default/services/php-apache /apis/batch/v1)

# Volatile fields can differ between two reads: a list's resourceVersion is
# the store's current revision, which leases and heartbeats move every few
# seconds.  Three tries; a real difference shows every time.
for p in "${paths[@]}"; do
  for try in 1 2 3; do
    "$KS" get --raw "$p" >"$tmp/ks" 2>"$tmp/ks.err"; rc1=$?
    $KC get --raw "$p" >"$tmp/kc" 2>&1; rc2=$?
    # `get /PATH` piped is the same as --raw
    "$KS" get "$p" >"$tmp/bare" 2>&1
    cmp -s "$tmp/ks" "$tmp/kc" && cmp -s "$tmp/bare" "$tmp/kc" && break
  done
  if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && cmp -s "$tmp/ks" "$tmp/kc"; then
    ok "get --raw $p: byte-identical to kubectl"
  else
    nok "get --raw $p: byte-identical to kubectl" "rc $rc1 vs $rc2" "$(head -c 300 "$tmp/ks.err")" "$(diff "$tmp/ks" "$tmp/kc" | head -5 | cut -c1-300)"
  fi
  if cmp -s "$tmp/bare" "$tmp/kc"; then ok "get $p (bare path, piped)"; else nok "get $p (bare path, piped)"; fi
done

# the Lua API: decoded objects with the expected kinds and names
out=$("$KS" -e '
local k = assert(k8s.connect())
local want = {
  ["/api"] = "APIVersions", ["/api/v1"] = "APIResourceList", ["/api/v1/nodes"] = "NodeList",
  ["/api/v1/pods"] = "PodList", ["/api/v1/services"] = "ServiceList",
  ["/api/v1/replicationcontrollers"] = "ReplicationControllerList",
  ["/api/v1/nodes/'"$node"'"] = "Node", ["/api/v1/namespaces/default/services/php-apache"] = "Service",
  ["/apis/batch/v1"] = "APIResourceList" }
local paths = {}
for p in pairs(want) do paths[#paths + 1] = p end
table.sort(paths)
for _, p in ipairs(paths) do
  local v, resp = k:get(p)
  print(p, v and v.kind == want[p] and resp.status == 200 and "ok" or ("bad " .. tostring(resp)))
end
local svc = k:get("services", "php-apache", {namespace = "default"})
print("resource form", svc and svc.spec.ports[1].port == 80 and "ok" or "bad")
local text, resp = k:get("/api/v1/namespaces/default/services/php-apache/proxy/hello")
print("non-JSON body", type(text) == "string" and text:match("^kscript%-test%-backend") and resp.status == 200 and "ok" or ("bad " .. tostring(text)))
local nf, err = k:get("/api/v1/namespaces/default/services/nope")
print("404", nf == nil and err.kind == "notfound" and err.status == 404 and "ok" or "bad")
' 2>&1)
while IFS=$'\t' read -r what verdict; do
  if [ "$verdict" = ok ]; then ok "Lua API: $what"; else nok "Lua API: $what" "$verdict"; fi
done <<<"$out"
[ "$(grep -c $'\tok$' <<<"$out")" -eq 12 ] && ok "Lua API: all 12 checks ran" || nok "Lua API: all 12 checks ran" "$out"

# plain http:// through kubectl proxy (the article's 8001), without a kubeconfig
$KC proxy --port=0 >"$tmp/proxy.out" 2>&1 &
proxy_pid=$!
for _ in $(seq 50); do grep -q "Starting to serve" "$tmp/proxy.out" && break; sleep 0.1; done
port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/proxy.out" | head -1)
if [ -n "$port" ]; then
  for p in /api/v1/pods /api/v1/namespaces/default/services/php-apache /apis/batch/v1; do
    for try in 1 2 3; do   # a list's resourceVersion moves with every lease renewal
      a=$(env -u KUBECONFIG HOME="$tmp" "$KS" get --raw "$p" -s "http://127.0.0.1:$port" 2>&1)
      b=$($KC get --raw "$p")
      [ "$a" = "$b" ] && break
    done
    if [ "$a" = "$b" ]; then ok "kubectl proxy http://127.0.0.1:PORT$p"; else nok "kubectl proxy http://127.0.0.1:PORT$p" "${a:0:300}"; fi
  done
  a=$(env -u KUBECONFIG HOME="$tmp" "$KS" -e "print(assert(require('k8s').connect{server='http://127.0.0.1:$port'}:get('/api')).kind)" 2>&1)
  [ "$a" = APIVersions ] && ok "Lua API through kubectl proxy" || nok "Lua API through kubectl proxy" "$a"
else
  nok "kubectl proxy started" "$(cat "$tmp/proxy.out")"
fi
finish
