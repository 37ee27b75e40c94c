#!/usr/bin/env bash
# Many clusters at once, against the real API server and kubectl:
#  - `kscript get RESOURCE --contexts a,b` is kubectl's tables for `--context a`
#    and `--context b` joined under one header with a leading CONTEXT column
#    (realigned as kubectl's tabwriter would), rows in the order given;
#    -o name is CONTEXT/kind/name, -o json one List per context, -o yaml the
#    same separated by "---" (kubectl's own outputs, byte for byte);
#  - a context out of reach (connection refused; a loopback listener that
#    never answers TLS) is reported once on stderr, the others still print,
#    status 1, and the run is bounded (< 15 s); two silent servers are
#    waited for at once (< 9 s, one after the other would be 10); --all-contexts;
#  - a Lua script with clients on two contexts: a watch on one sees the
#    objects created through the other while a list runs on it and a third
#    client, out of reach, fails without holding them up.
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
umask 077 # kubeconfigs with credentials are private, as kubectl writes them
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh" \
  KSCRIPT_TEST_APISERVER KSCRIPT_TEST_CA KSCRIPT_TEST_TOKEN KSCRIPT_TEST_ADMIN_CERT KSCRIPT_TEST_ADMIN_KEY
ns=kscript-contexts-$$
lpid=
cleanup() {
  [ -n "$lpid" ] && kill "$lpid" 2>/dev/null
  KUBECONFIG=$ENVKC $KC delete ns "$ns" --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
ENVKC=$KUBECONFIG

# ------------------------------------------------------------ the kubeconfig
# a: the environment's admin; b: the token user, namespace default;
# down: nothing listens there; silent and silent2 (two servers): accept
# connections, never answer
python3 -c '
import socket, sys, time
socks = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks), flush=True)
time.sleep(600)' >"$tmp/port" &
lpid=$!
wait_for 10 test -s "$tmp/port" || nok "the silent listener is up"
kc=$tmp/kubeconfig
cfg() { $KC --kubeconfig "$kc" config "$@" >/dev/null || nok "kubectl config $*"; }
cfg set-cluster kscript --server="$KSCRIPT_TEST_APISERVER" --certificate-authority="$KSCRIPT_TEST_CA" --embed-certs
cfg set-cluster down --server=https://127.0.0.1:9 --certificate-authority="$KSCRIPT_TEST_CA" --embed-certs
read -r port1 port2 <"$tmp/port"
cfg set-cluster silent --server="https://127.0.0.1:$port1" --certificate-authority="$KSCRIPT_TEST_CA" --embed-certs
cfg set-cluster silent2 --server="https://127.0.0.1:$port2" --certificate-authority="$KSCRIPT_TEST_CA" --embed-certs
cfg set-credentials admin --client-certificate="$KSCRIPT_TEST_ADMIN_CERT" --client-key="$KSCRIPT_TEST_ADMIN_KEY" --embed-certs
cfg set-credentials tok --token="$KSCRIPT_TEST_TOKEN"
cfg set-context a --cluster=kscript --user=admin
cfg set-context b --cluster=kscript --user=tok --namespace=default
cfg set-context down --cluster=down --user=tok
cfg set-context silent --cluster=silent --user=tok
cfg set-context silent2 --cluster=silent2 --user=tok
cfg use-context a
export KUBECONFIG=$kc

$KC create ns "$ns" >/dev/null
$KC -n "$ns" create configmap one --from-literal=k=v >/dev/null

# combine CTX... : kubectl's table for each context (files $tmp/kc/CTX) as one,
# a CONTEXT column first, realigned as tabwriter does (cells >= 6 wide,
# 3 blanks of padding, the last column unpadded)
combine() {
  local f=()
  for c in "$@"; do f+=("$tmp/kc/$c"); done
  awk 'BEGIN { FS = "   +" }
    FNR == 1 { if (!hdr) { hdr = 1; n++; nf[n] = NF + 1; c[n, 1] = "CONTEXT"; for (i = 1; i <= NF; i++) c[n, i + 1] = $i }; next }
    { ctx = FILENAME; sub(/.*\//, "", ctx); n++; nf[n] = NF + 1; c[n, 1] = ctx; for (i = 1; i <= NF; i++) c[n, i + 1] = $i }
    END {
      for (r = 1; r <= n; r++) for (i = 1; i < nf[r]; i++) { w = length(c[r, i]) + 3; if (w < 6) w = 6; if (w > W[i]) W[i] = w }
      for (r = 1; r <= n; r++) { s = ""; for (i = 1; i < nf[r]; i++) s = s sprintf("%-" W[i] "s", c[r, i]); print s c[r, nf[r]] }
    }' "${f[@]}"
}
mkdir -p "$tmp/kc"

# multi DESC WANT_STATUS FLAG CTXS ARGS...: `kscript ARGS FLAG` against kubectl's
# `ARGS --context C` for each C of CTXS joined (three tries: AGE can tick)
multi() {
  local d=$1 want=$2 flag=$3 ctxs=$4 try st c
  shift 4
  for try in 1 2 3; do
    # shellcheck disable=SC2086
    "$KS" "$@" $flag >"$tmp/out" 2>"$tmp/err"; st=$?
    for c in ${ctxs//,/ }; do
      $KC "$@" --context "$c" >"$tmp/kc/$c" 2>/dev/null
    done
    # shellcheck disable=SC2086
    combine ${ctxs//,/ } >"$tmp/want"
    cmp -s "$tmp/out" "$tmp/want" && break
  done
  if same_files "$tmp/out" "$tmp/want" && [ "$st" = "$want" ]; then ok "$d"; else
    nok "$d" "status $st (want $want)" "$(diff "$tmp/out" "$tmp/want" | head -8)" "$(head -3 "$tmp/err")"
  fi
}
multi "get pods -A --contexts a,b" 0 "--contexts a,b" a,b get pods -A
is "... nothing on stderr" "$(cat "$tmp/err")" ""
grep -q "^b  *default  *backend-pod " "$tmp/out" && ok "... b's rows are there" || nok "... b's rows are there" "$(cat "$tmp/out")"
multi "get svc --contexts b,a (rows in the order given)" 0 "--contexts b,a" b,a get svc
multi "get cm -n NS -o wide --contexts a,b" 0 "--contexts a,b" a,b get cm -n "$ns" -o wide
multi "get cm one -n NS --contexts a,b (one object)" 0 "--contexts a,b" a,b get cm one -n "$ns"

# out of reach: reported once, the others print, status 1, bounded
multi "get pods -A --contexts a,down,b: a's and b's rows" 1 "--contexts a,down,b" a,b get pods -A
is "... one error line, for down" "$(grep -c . "$tmp/err") $(grep -c '^kscript: get: context down: GET https://127.0.0.1:9/api: .*refused' "$tmp/err")" "1 1"
t0=$(date +%s%N)
"$KS" get pods -A --contexts a,silent,b >"$tmp/out" 2>"$tmp/err"; st=$?
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
check "a silent cluster does not stall the others: ${ms} ms < 15000 ms" [ "$ms" -lt 15000 ]
is "... status 1" "$st" 1
is "... one error line, for silent" "$(grep -c . "$tmp/err") $(grep -c '^kscript: get: context silent: ' "$tmp/err")" "1 1"
is "... a's and b's rows all there" "$(awk 'NR > 1 { print $1 }' "$tmp/out" | uniq -c | awk '{ print $2 }' | tr '\n' ' ')" "a b "
t0=$(date +%s%N)
t0=$(date +%s%N)
"$KS" get pods -A --contexts silent,silent2,a >"$tmp/out" 2>"$tmp/err"; st=$?
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
check "two silent clusters are waited for at once, not one after the other: ${ms} ms < 9000 ms" [ "$ms" -lt 9000 ]
is "... status 1, an error line each, a's rows" "$st $(grep -c '^kscript: get: context silent2\{0,1\}: ' "$tmp/err") $(awk 'NR > 1 { print $1 }' "$tmp/out" | sort -u)" "1 2 a"
multi "get pods -A --all-contexts (a, b, down, silent, silent2: by name)" 1 --all-contexts a,b get pods -A
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
check "... bounded: ${ms} ms for up to three runs < 45000 ms" [ "$ms" -lt 45000 ]
is "... errors for down, silent, silent2, once each" "$(sed -E 's/^(kscript: get: context [a-z0-9]+): .*/\1/' "$tmp/err")" \
  "kscript: get: context down
kscript: get: context silent
kscript: get: context silent2"
"$KS" get pods --contexts a,nosuch >"$tmp/out" 2>"$tmp/err"; st=$?
is "an unknown context: its error, status 1" "$st $(cat "$tmp/err")" \
  "1 kscript: get: context nosuch: context \"nosuch\" not found in $kc (contexts: a, b, down, silent, silent2)"
check "... a's rows still print" grep -q "^a  *backend-pod " "$tmp/out"

# -o name / json / yaml: kubectl's output per context, in the order given
"$KS" get pods -A -o name --contexts b,a >"$tmp/out" 2>&1
{ $KC get pods -A -o name --context b | sed 's|^|b/|'; $KC get pods -A -o name --context a | sed 's|^|a/|'; } >"$tmp/want"
check "-o name: CONTEXT/kind/name" cmp -s "$tmp/out" "$tmp/want"
"$KS" get -n "$ns" cm -o json --contexts a,down,b >"$tmp/out" 2>"$tmp/err"; st=$?
{ $KC get -n "$ns" cm -o json --context a; $KC get -n "$ns" cm -o json --context b; } >"$tmp/want"
check "-o json: one List per context (down prints none)" cmp -s "$tmp/out" "$tmp/want"
is "... status 1, one error line" "$st $(grep -c . "$tmp/err")" "1 1"
"$KS" get -n "$ns" cm -o yaml --contexts a,b >"$tmp/out" 2>&1
{ $KC get -n "$ns" cm -o yaml --context a; echo ---; $KC get -n "$ns" cm -o yaml --context b; } >"$tmp/want"
check "-o yaml: the Lists separated by ---" cmp -s "$tmp/out" "$tmp/want"
"$KS" get -n "$ns" cm one -o json --contexts a,b >"$tmp/out" 2>&1
{ $KC get -n "$ns" cm one -o json --context a; $KC get -n "$ns" cm one -o json --context b; } >"$tmp/want"
check "-o json of one object: the object per context" cmp -s "$tmp/out" "$tmp/want"
"$KS" get --contexts a -w pods >/dev/null 2>"$tmp/err"; st=$?
is "--contexts with -w: a usage error" "$st $(cat "$tmp/err")" "2 kscript: get: --contexts/--all-contexts do not apply to --watch"
"$KS" get pods/x svc --contexts a,b >/dev/null 2>"$tmp/err"; st=$?
is "misuse: one usage error, status 2" "$st $(cat "$tmp/err")" \
  "2 kscript: get: there is no need to specify a resource type as a separate argument when passing arguments in resource/name form"
"$KS" get pods -n "$ns" --contexts a,b >"$tmp/out" 2>"$tmp/err"; st=$?
is "nothing in any context: kubectl's line, once" "$st $(cat "$tmp/out" "$tmp/err")" "0 $($KC get pods -n "$ns" 2>&1)"

# ------------------------------------------------------------ a Lua script, several clients
cat >"$tmp/two.lua" <<'EOF'
local k8s = require "k8s"
local ns = arg[1]
local a = assert(k8s.connect { context = "a" })
local b = assert(k8s.connect { context = "b" })
local down = assert(k8s.connect { context = "down", connect_timeout = 2 })
local silent = assert(k8s.connect { context = "silent", connect_timeout = 2 })
local t0 = now()
-- a watch on a, a list on b, two lists on clusters out of reach, at once
local seen = {}
local w = a:watch("configmaps", { namespace = ns, labelSelector = "made-by=b", timeout = 60 }, function(ev)
  if ev.type == "ADDED" then seen[#seen + 1] = ev.object.metadata.name end
  return #seen < 3
end)
local lb = spawn(function() return assert(b:list("pods", { all_namespaces = true })) end)
local ld = spawn(function() return down:list("pods", { all_namespaces = true }) end)
local ls = spawn(function() return silent:list("pods", { all_namespaces = true }) end)
for i = 1, 3 do
  assert(b:create { apiVersion = "v1", kind = "ConfigMap",
    metadata = { name = "from-b-" .. i, namespace = ns, labels = { ["made-by"] = "b" } } })
end
local pods = lb:wait()
local names = {}
for _, p in ipairs(pods.items) do names[#names + 1] = "pod/" .. p.metadata.name end
print("list b: " .. table.concat(names, " "))
w:wait()
table.sort(seen)
print("watch a: " .. table.concat(seen, " "))
local _, derr = ld:wait()
local _, serr = ls:wait()
print("down: " .. tostring(derr and derr.kind) .. ", silent: " .. tostring(serr and serr.kind))
print(("elapsed < 15 s: %s"):format(now() - t0 < 15))
EOF
"$KS" "$tmp/two.lua" "$ns" >"$tmp/out" 2>"$tmp/err"
st=$?
is "two clients, two contexts: status 0" "$st $(head -3 "$tmp/err")" "0 "
is "... the list on b (kubectl's names)" "$(grep '^list b: ' "$tmp/out")" \
  "list b: $($KC get pods -A -o name --context b | tr '\n' ' ' | sed 's/ $//')"
is "... the watch on a saw b's creates" "$(grep '^watch a: ' "$tmp/out")" "watch a: from-b-1 from-b-2 from-b-3"
is "... the clusters out of reach failed, kinds" "$(grep '^down: ' "$tmp/out")" "down: refused, silent: timeout"
is "... without holding up the others" "$(grep '^elapsed' "$tmp/out")" "elapsed < 15 s: true"
finish
