#!/usr/bin/env bash
# The API server paused (SIGSTOP/SIGCONT) and killed and restarted under an
# informer and under a watch streamed through `kscript proxy` (RESTARTS the
# environment's apiserver: run it against your own env, as tests/run does).
#  - the informer: after the pause, and after the restart (changes made
#    while it was itself stopped, so they all precede its reconnection), it
#    delivers every change once, in order, and its cache equals a fresh
#    list (names and resourceVersions) from kubectl;
#  - the proxied watch (curl through kscript proxy): while the apiserver is
#    paused the stream waits and then goes on, each change once; when the
#    apiserver is killed the proxied response ends (the client is not left
#    hanging); after the restart the same proxy process serves a new watch
#    from the last resourceVersion seen, which delivers exactly the changes
#    made meanwhile.
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh" KSCRIPT_ENV_DIR
top=${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
ns=kscript-fault-restart-$$
pids=() apipid= ipid=
cleanup() {
  [ -n "$apipid" ] && kill -CONT "$apipid" 2>/dev/null
  [ -n "$ipid" ] && kill -CONT "$ipid" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  $KC delete ns "$ns" --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
api_pid() { awk '$1 == "pid" && $3 == "kube-apiserver" { print $2 }' "$KSCRIPT_ENV_DIR/state" | tail -1; }
# the watch events a stream file holds, as "TYPE name" lines (kube-root-ca.crt,
# kube-controller-manager's, left out)
stream_events() {
  python3 -c '
import json, sys
for l in open(sys.argv[1], errors="replace"):
    try: e = json.loads(l)
    except ValueError: continue
    n = e["object"]["metadata"].get("name")
    if n != "kube-root-ca.crt": print(e["type"], n)' "$1"
}
stream_last_rv() {
  python3 -c '
import json, sys
rv = ""
for l in open(sys.argv[1], errors="replace"):
    try: rv = json.loads(l)["object"]["metadata"]["resourceVersion"]
    except (ValueError, KeyError): pass
print(rv)' "$1"
}
lines() { grep -c "$2" "$1" 2>/dev/null; }

$KC create ns "$ns" >/dev/null || { nok "create namespace $ns"; finish; }
$KC -n "$ns" create cm a --from-literal=v=1 >/dev/null
rv0=$($KC -n "$ns" create cm b --from-literal=v=1 -o jsonpath='{.metadata.resourceVersion}')

# --- the informer: events on stdout; its cache to a file when told to stop
cat > "$tmp/inf.lua" <<'LUA'
local k8s = require "k8s"
local ns, stopf, cachef = arg[1], arg[2], arg[3]
local k = assert(k8s.connect { namespace = ns })
local function say(...) io.stdout:write(table.concat({ ... }, " "), "\n"); io.stdout:flush() end
local function skip(o) return o.metadata.name == "kube-root-ca.crt" end
local inf <close> = k:informer("configmaps", { namespace = ns,
  on_add = function(o, initial) if not skip(o) then say("ADD", o.metadata.name, initial and "initial" or nil) end end,
  on_update = function(_, o) if not skip(o) then say("UPD", o.metadata.name) end end,
  on_delete = function(o) if not skip(o) then say("DEL", o.metadata.name) end end })
assert(inf:wait_synced(60))
while not io.open(stopf) do sleep(0.1) end
local out = {}
for _, o in ipairs(inf:list()) do
  if not skip(o) then out[#out + 1] = o.metadata.name .. " " .. o.metadata.resourceVersion end
end
table.sort(out)
local f = assert(io.open(cachef, "w"))
f:write(table.concat(out, "\n"), "\n")
f:close()
LUA
"$KS" "$tmp/inf.lua" "$ns" "$tmp/stop" "$tmp/cache" >"$tmp/inf.out" 2>"$tmp/inf.err" & ipid=$!; pids+=($ipid)
initial2() { [ "$(lines "$tmp/inf.out" initial)" = 2 ]; }
wait_for 60 initial2 && ok "the informer lists what exists" \
  || nok "the informer lists what exists" "$(cat "$tmp/inf.out" "$tmp/inf.err")"

# --- the proxy and a watch through it
"$KS" proxy --port=0 >"$tmp/proxy.out" 2>&1 & pids+=($!)
pport=$(serving_port "$tmp/proxy.out")
[ -n "$pport" ] && ok "kscript proxy serves on port $pport" || nok "kscript proxy serves" "$(cat "$tmp/proxy.out")"
curl -sN "http://127.0.0.1:$pport/api/v1/namespaces/$ns/configmaps?watch=1&resourceVersion=$rv0" >"$tmp/s1" 2>&1 & cpid=$!; pids+=($cpid)

# --- paused
apipid=$(api_pid)
[ -n "$apipid" ] && ok "the test API server's pid ($apipid)" || nok "the test API server's pid" "$(cat "$KSCRIPT_ENV_DIR/state")"
kill -STOP "$apipid"
sleep 8 # the fault itself: the server stays stopped for 8 s
kill -CONT "$apipid"; apipid=
wait_for 60 "$KC" get --raw /readyz >/dev/null 2>&1
$KC -n "$ns" create cm c --from-literal=v=1 >/dev/null
$KC -n "$ns" patch cm a -p '{"data":{"v":"2"}}' >/dev/null
wait_for 60 grep -q "^UPD a" "$tmp/inf.out" && ok "the informer goes on after the pause" \
  || nok "the informer goes on after the pause" "$(cat "$tmp/inf.out" "$tmp/inf.err")"
wait_for 60 bash -c "[ \"\$(python3 -c 'import sys; print(sys.stdin.read().count(\"MODIFIED\"))' <'$tmp/s1')\" -ge 1 ]"
is "the proxied watch goes on after the pause: each change once" "$(stream_events "$tmp/s1")" "ADDED c
MODIFIED a"

# --- killed and restarted; the informer is stopped meanwhile, the changes
# are made before it runs again
export IPID=$ipid
t0=$SECONDS
if "$top/tests/env/restart-apiserver" -- bash -c 'kill -STOP $IPID' 2>"$tmp/restart.log"; then
  ok "apiserver killed and restarted ($((SECONDS - t0)) s)"
else
  nok "apiserver killed and restarted" "$(tail -5 "$tmp/restart.log")"
fi
wait_for 60 bash -c "! kill -0 $cpid 2>/dev/null" && ok "the proxied watch ended when the apiserver was killed" \
  || nok "the proxied watch ended when the apiserver was killed" "curl still runs"
rv1=$(stream_last_rv "$tmp/s1")
$KC -n "$ns" create cm d --from-literal=v=1 >/dev/null
$KC -n "$ns" patch cm b -p '{"data":{"v":"2"}}' >/dev/null
$KC -n "$ns" delete cm c >/dev/null
kill -CONT "$ipid"
curl -sN "http://127.0.0.1:$pport/api/v1/namespaces/$ns/configmaps?watch=1&resourceVersion=$rv1" >"$tmp/s2" 2>&1 & pids+=($!)
$KC -n "$ns" create cm z-last --from-literal=v=1 >/dev/null
wait_for 90 grep -q "^ADD z-last" "$tmp/inf.out" && ok "the informer goes on after the restart" \
  || nok "the informer goes on after the restart" "$(cat "$tmp/inf.out" "$tmp/inf.err")"
wait_for 60 grep -q '"z-last"' "$tmp/s2"
is "the same proxy serves a watch from the last resourceVersion seen: exactly the changes since" \
  "$(stream_events "$tmp/s2")" "ADDED d
MODIFIED b
DELETED c
ADDED z-last"
touch "$tmp/stop"
wait_for 30 test -s "$tmp/cache"
is "the informer delivered every change once, in order" "$(cat "$tmp/inf.out")" "ADD a initial
ADD b initial
ADD c
UPD a
ADD d
UPD b
DEL c
ADD z-last"
fresh=$($KC -n "$ns" get cm -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.resourceVersion}{"\n"}{end}' | grep -v '^kube-root-ca.crt ' | sort)
is "its cache equals a fresh list (names and resourceVersions)" "$(cat "$tmp/cache")" "$fresh"
grep -q . "$tmp/inf.err" && nok "the informer printed no error" "$(head -5 "$tmp/inf.err")" || ok "the informer printed no error"
finish
