#!/usr/bin/env bash
# `kscript get`, `api-resources` and `config get-contexts` byte-compared with
# the matching kubectl on the same objects: tables (aligned like kubectl's
# tabwriter), -o json / yaml / name, errors and exit codes; then paging with
# --chunk-size 1 over 300 objects and `get -w`.
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh"
ns=kscript-get-$$
wpid=
cleanup() { [ -n "$wpid" ] && kill "$wpid" 2>/dev/null; $KC delete ns "$ns" --wait=false >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT

same() { # description cmd-args...: kscript CMD vs kubectl CMD, stdout+stderr+status
  local d=$1; shift
  local try
  # three times at most: an AGE column (seconds on a fresh cluster) can tick
  # between the two runs; a real difference shows every time
  for try in 1 2 3; do
    "$KS" "$@" >"$tmp/a" 2>&1; echo "exit $?" >>"$tmp/a"
    $KC "$@" >"$tmp/b" 2>&1; echo "exit $?" >>"$tmp/b"
    cmp -s "$tmp/a" "$tmp/b" && break
  done
  if same_files "$tmp/a" "$tmp/b"; then ok "$d"; else nok "$d" "$(diff "$tmp/a" "$tmp/b" | head -8)"; fi
}

# objects whose output exercises escaping, labels, YAML quoting
$KC create ns "$ns" >/dev/null
# kube-controller-manager's root-ca-certificate-publisher adds this one to every
# new namespace: wait for it, so both tools see the same set from here on
$KC -n "$ns" wait --for=create configmap/kube-root-ca.crt --timeout=120s >/dev/null
$KC -n "$ns" create configmap odd --from-literal='html=<b>&amp;</b>' --from-literal='yes=y' \
  --from-literal='octal=0755' --from-literal='long=aaaaaaaaa bbbbbbbbbb ccccccccccc dddddddddd eeeeeeeeeee ffffffffff gggggggggg hhhhhhhhhh iiiiiiiiii' \
  --from-literal='multi=line one
line two' --from-literal='uni=héllo ✓' >/dev/null
$KC -n "$ns" label configmap odd app=web tier=a9 >/dev/null

for args in "get pods" "get pods -A" "get svc,deploy" "get nodes -o wide" "get all" "get pod backend-pod" \
  "get cm -A --show-labels" "get nodes -L kubernetes.io/hostname" "get svc --no-headers" \
  "get pods -o name" "get svc,deploy,jobs -o name" "get pod/backend-pod svc/php-apache" \
  "get pods -A -o json" "get svc php-apache -o json" "get nodes -o json" "get svc,deploy -o json" \
  "get pod/backend-pod -o json" "get cm -o json --show-managed-fields" "get ns nope -o json" \
  "get pods -n no-such-ns -o json" "get pods nope" "get deploy.apps -o json" "get cronjobs.batch" \
  "get -n $ns cm -o json" "get -n $ns cm odd -o yaml" "get -n $ns cm -o yaml" "get pods -A -o yaml" \
  "get svc php-apache -o yaml" "get nodes -o yaml" "get jobs -o yaml" "get -n $ns cm -l app=web" \
  "get pods --field-selector metadata.name=backend-pod" "get nosuchtype" \
  "api-resources" "api-resources -o name" "api-resources --namespaced=false" "api-resources -o wide" \
  "config get-contexts" "config get-contexts -o name" "config current-context" \
  "get pod/nope svc/nope" "get pods nope backend-pod" "get pods nope --ignore-not-found" "get pods,nosuchtype" \
  "get nosuchtype -o json" "get pods nope -o name" "get pod/nope -o yaml" "get --raw /api/v1/nope" \
  "get --raw /api/v1/namespaces/default/pods/nope" "get pods nope -n no-such-ns"; do
  # shellcheck disable=SC2086
  same "$args" $args
done

# failures kubectl words differently: one line "kscript: get: ...", status 1,
# never a Lua position (scripts/get.lua:71:) nor a traceback
for args in "--kubeconfig $tmp/none" "-s https://127.0.0.1:1" "--context nosuch"; do
  # shellcheck disable=SC2086
  "$KS" get pods $args >"$tmp/a" 2>"$tmp/e"; rc=$?
  if [ $rc = 1 ] && [ ! -s "$tmp/a" ] && [ "$(wc -l <"$tmp/e")" = 1 ] && grep -q '^kscript: get: ' "$tmp/e" && ! grep -q '\.lua:' "$tmp/e"
  then ok "get pods $args: one line, status 1, no Lua position"
  else nok "get pods $args: one line, status 1, no Lua position" "status $rc" "$(cat "$tmp/e")"; fi
done
"$KS" get pods --request-timeout 10x >"$tmp/a" 2>"$tmp/e"; rc=$?
[ $rc = 2 ] && grep -q 'invalid --request-timeout "10x"' "$tmp/e" && ! grep -q '\.lua:' "$tmp/e"
status "get --request-timeout 10x: a usage error (status 2), not 10 seconds" $?
! grep -n 'os\.exit' "${KSCRIPT_TOP:-.}/scripts/get.lua" >"$tmp/e"
status "scripts/get.lua never calls os.exit" $?

# get /PATH: at a terminal the decoded JSON as -o json prints it (here the
# same bytes as kubectl get ns kube-system -o json); piped, the body as the
# server sent it (as --raw); -o yaml anywhere; text bodies as they are
script -qec "$KS get /api/v1/namespaces/kube-system" /dev/null | tr -d '\r' >"$tmp/a"
$KC get ns kube-system -o json >"$tmp/b"
if [ -s "$tmp/b" ] && cmp -s "$tmp/a" "$tmp/b"; then ok "get /api/v1/namespaces/kube-system at a terminal: as kubectl get ns kube-system -o json"
else nok "get /PATH at a terminal: as -o json" "$(diff "$tmp/a" "$tmp/b" | head -6)"; fi
"$KS" get /api/v1/namespaces/kube-system >"$tmp/a" 2>&1
$KC get --raw /api/v1/namespaces/kube-system >"$tmp/b" 2>&1
if [ -s "$tmp/b" ] && cmp -s "$tmp/a" "$tmp/b"; then ok "get /PATH piped: the body as sent, as kubectl get --raw"
else nok "get /PATH piped: the body as sent" "$(diff "$tmp/a" "$tmp/b" | head -6)"; fi
"$KS" get /api/v1/namespaces/kube-system -o yaml >"$tmp/a" 2>&1
$KC get ns kube-system -o yaml >"$tmp/b" 2>&1
if [ -s "$tmp/b" ] && cmp -s "$tmp/a" "$tmp/b"; then ok "get /PATH -o yaml: as kubectl get ns kube-system -o yaml"
else nok "get /PATH -o yaml" "$(diff "$tmp/a" "$tmp/b" | head -6)"; fi
is "get /healthz at a terminal: the text as sent" "$(script -qec "$KS get /healthz" /dev/null | tr -d '\r')" "ok"

# paging: 300 objects, one per request
T=$tmp "$KS" -e '
local json = require "json"
local items = {}
for i = 1, 300 do items[i] = {apiVersion = "v1", kind = "ConfigMap", metadata = {name = ("page-%03d"):format(i)}, data = {i = tostring(i)}} end
local f = io.open(os.getenv("T") .. "/cms.json", "w"); f:write(json.encode({apiVersion = "v1", kind = "List", items = json.array(items)})); f:close()'
$KC -n "$ns" apply -f "$tmp/cms.json" >/dev/null
# (kubectl throttles itself to 5 requests a second: it lists in one chunk here)
"$KS" get -n "$ns" cm --chunk-size 1 -o json >"$tmp/a" 2>&1
$KC get -n "$ns" cm -o json >"$tmp/b" 2>&1
cmp -s "$tmp/a" "$tmp/b" && ok "get cm --chunk-size 1 -o json (302 objects, 302 requests) as kubectl's" || nok "get cm --chunk-size 1 -o json" "$(diff "$tmp/a" "$tmp/b" | head -5)"
"$KS" get -n "$ns" cm --chunk-size 7 2>&1 | sed 's/ *[0-9][0-9smhd]*$//' >"$tmp/a"
$KC get -n "$ns" cm 2>&1 | sed 's/ *[0-9][0-9smhd]*$//' >"$tmp/b"
cmp -s "$tmp/a" "$tmp/b" && ok "get cm --chunk-size 7: the table (AGE cut) as kubectl's" || nok "get cm --chunk-size 7 (table)" "$(diff "$tmp/a" "$tmp/b" | head -5)"
out=$(NS=$ns KSCRIPT_VERBOSE=1 "$KS" -e '
local k = assert(k8s.connect{namespace = os.getenv("NS")})
local pages, names = 0, 0
for page in k:pages("configmaps", {limit = 1}) do pages = pages + 1; names = names + #page.items end
local l = assert(k:list("cm", {limit = 1}))
print(pages, names, #l.items, l.items[1].kind, l.items[300].metadata.name, l.metadata.continue == nil)')
[ "$out" = $'302\t302\t302\tConfigMap\tpage-298\ttrue' ] && ok "Lua pages/list with limit=1 over 302 configmaps (kube-root-ca.crt, odd, 300 pages)" || nok "Lua pages/list with limit=1" "$out"

# get -w: initial rows, then the changes as they happen
# (-v logs the watch request once the server has answered it: the watch exists)
"$KS" -v get -n "$ns" cm -w -l w=1 >"$tmp/w" 2>"$tmp/wlog" &
wpid=$!
wait_for 30 grep -qs 'watch=1 -> 200' "$tmp/wlog"
status "get -w: the watch is created" $?
$KC -n "$ns" create cm watched --from-literal=a=1 >/dev/null && $KC -n "$ns" label cm watched w=1 >/dev/null
$KC -n "$ns" patch cm watched -p '{"data":{"b":"2"}}' >/dev/null
$KC -n "$ns" delete cm watched >/dev/null
wait_for 30 eval '[ "$(grep -c "^watched " "$tmp/w")" -ge 3 ]'
kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null; wpid=
lines=$(grep -c '^watched ' "$tmp/w")
head=$(head -1 "$tmp/w")
[ "$lines" -eq 3 ] && [[ $head == "NAME "*"DATA "*"AGE" ]] && ok "get -w: header, then labelled/modified/deleted rows" || nok "get -w" "$(cat "$tmp/w")"
# the initial list of -w -o json / -o yaml, printed as kubectl prints it
# (one object per item; YAML documents separated by ---, none before the first)
for fmt in json yaml; do
  timeout 3 "$KS" get cm -n "$ns" -w -o $fmt >"$tmp/a" 2>&1
  timeout 3 $KC get cm -n "$ns" -w -o $fmt >"$tmp/b" 2>&1
  if [ -s "$tmp/a" ] && cmp -s "$tmp/a" "$tmp/b"; then ok "get cm -w -o $fmt: the initial objects as kubectl prints them"
  else nok "get cm -w -o $fmt: the initial objects as kubectl prints them" "$(diff "$tmp/a" "$tmp/b" | head -6)"; fi
done

finish
