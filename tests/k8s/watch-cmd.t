#!/usr/bin/env bash
# kscript watch against the real API server: without a handler its -o json,
# -o name, -o yaml and table output equals `kubectl get -w --output-watch-events` watching
# the same changes in the same run; with --on / a HANDLER.lua it runs the
# handler per event (ev.type, ev.object, ev.old on MODIFIED, cache),
# `return false` ends it with 0, a handler error goes on (or ends it with 1
# under --stop-on-error), --since-now skips what exists, --timeout ends it.
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh"
ns=kscript-wcmd-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  $KC delete ns "$ns" --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
$KC create ns "$ns" >/dev/null
$KC -n "$ns" create configmap seed --from-literal=a=1 >/dev/null
# (the controller-manager may publish kube-root-ca.crt in the namespace at any time)
fs=metadata.name!=kube-root-ca.crt

has() { grep -q -- "$2" "$1" 2>/dev/null; }             # FILE PATTERN
lines() { [ "$(wc -l < "$1" 2>/dev/null || echo 0)" -ge "$2" ]; }   # FILE N
done_pid() { ! kill -0 "$1" 2>/dev/null; }
# status of a background process started here (after it ended)
status_of() { wait "$1"; echo $?; }

# ---------------------------------------------------------------- printing, vs kubectl
$KS watch configmaps -n "$ns" --field-selector "$fs" -o json > "$tmp/ks.json" 2> "$tmp/ks.json.err" & pids+=($!); ksj=$!
$KC get configmaps -n "$ns" --field-selector "$fs" -w --output-watch-events -o json > "$tmp/kc.json" 2> "$tmp/kc.json.err" & pids+=($!); kcj=$!
$KS watch configmaps -n "$ns" --field-selector "$fs" -o name > "$tmp/ks.name" 2> "$tmp/ks.name.err" & pids+=($!); ksn=$!
$KC get configmaps -n "$ns" --field-selector "$fs" -w --output-watch-events -o name > "$tmp/kc.name" 2> "$tmp/kc.name.err" & pids+=($!); kcn=$!
$KS watch configmaps -n "$ns" --field-selector "$fs" -o yaml > "$tmp/ks.yaml" 2>&1 & pids+=($!); ksy=$!
$KC get configmaps -n "$ns" --field-selector "$fs" -w --output-watch-events -o yaml > "$tmp/kc.yaml" 2>&1 & pids+=($!); kcy=$!
$KS watch configmaps -n "$ns" --field-selector "$fs" > "$tmp/ks.table" 2>&1 & pids+=($!); kst=$!
$KC get configmaps -n "$ns" --field-selector "$fs" -w --output-watch-events > "$tmp/kc.table" 2>&1 & pids+=($!); kct=$!
# a handler that prints what it sees and ends itself on the DELETED of "stop"
$KS watch configmaps -n "$ns" --field-selector "$fs" --on '
  local o = ev.object.metadata
  local key = o.namespace .. "/" .. o.name
  io.write(ev.type, " ", o.name, " old=", ev.old and (ev.old.data.a or "-") or "nil",
           " new=", ev.object.data and ev.object.data.a or "-", " cached=", tostring(cache[key] ~= nil), "\n")
  io.flush()
  if ev.type == "DELETED" and o.name == "stop" then return false end' > "$tmp/on.out" 2> "$tmp/on.err" & pids+=($!); kon=$!
# every watcher has shown the object that existed before it started
check "every watcher started (the existing object arrived as ADDED)" wait_for 60 eval \
  'has "$tmp/ks.json" seed && has "$tmp/kc.json" seed && has "$tmp/ks.name" seed && lines "$tmp/kc.name" 1 && has "$tmp/on.out" seed &&
   has "$tmp/ks.yaml" seed && has "$tmp/kc.yaml" seed && has "$tmp/ks.table" seed && has "$tmp/kc.table" seed'

$KC -n "$ns" create configmap one --from-literal=a=1 >/dev/null
$KC -n "$ns" patch configmap one --type merge -p '{"data":{"a":"2"}}' >/dev/null
$KC -n "$ns" label configmap seed tier=x >/dev/null
$KC -n "$ns" delete configmap one >/dev/null
$KC -n "$ns" create configmap stop >/dev/null
$KC -n "$ns" delete configmap stop >/dev/null
# 1 existing + 6 changes
check "kscript and kubectl saw all 7 events" wait_for 60 eval \
  'lines "$tmp/ks.json" 7 && lines "$tmp/kc.json" 7 && lines "$tmp/ks.name" 7 && lines "$tmp/kc.name" 7 &&
   [ "$(grep -c "^type: " "$tmp/ks.yaml")" = 7 ] && [ "$(grep -c "^type: " "$tmp/kc.yaml")" = 7 ] &&
   lines "$tmp/ks.table" 8 && lines "$tmp/kc.table" 8'
check "the handler ended itself with return false" wait_for 60 done_pid $kon
is "  ... with status 0" "$(status_of $kon)" 0
kill $ksj $kcj $ksn $kcn $ksy $kcy $kst $kct 2>/dev/null
wait $ksj $kcj $ksn $kcn $ksy $kcy $kst $kct 2>/dev/null
if cmp -s "$tmp/ks.json" "$tmp/kc.json"; then ok "-o json: the same bytes as kubectl get -w --output-watch-events -o json"
else nok "-o json: the same bytes as kubectl get -w --output-watch-events -o json" "$(diff "$tmp/ks.json" "$tmp/kc.json" | head -c 1500)"; fi
is "-o name: the same as kubectl" "$(cat "$tmp/ks.name")" "$(cat "$tmp/kc.name")"
is "-o yaml: the same as kubectl" "$(cat "$tmp/ks.yaml")" "$(cat "$tmp/kc.yaml")"
if same_files "$tmp/ks.table" "$tmp/kc.table"; then ok "the table (EVENT column): the same as kubectl (ages normalised only if they ticked)"
else nok "the table (EVENT column): the same as kubectl" "$(diff "$tmp/ks.table" "$tmp/kc.table")"; fi
is "-o json: the event types in order" "$(grep -o '^{"type":"[A-Z]*"' "$tmp/ks.json" | cut -d'"' -f4 | tr '\n' ' ')" \
  "ADDED ADDED MODIFIED MODIFIED DELETED ADDED DELETED "
is "nothing on stderr" "$(cat "$tmp/ks.json.err" "$tmp/ks.name.err")" ""
is "--on: every event, ev.old on MODIFIED, cache follows" "$(cat "$tmp/on.out")" "ADDED seed old=nil new=1 cached=true
ADDED one old=nil new=1 cached=true
MODIFIED one old=1 new=2 cached=true
MODIFIED seed old=1 new=1 cached=true
DELETED one old=nil new=2 cached=false
ADDED stop old=nil new=- cached=true
DELETED stop old=nil new=- cached=false"
is "--on: nothing on stderr" "$(cat "$tmp/on.err")" ""

# ---------------------------------------------------------------- handler errors
on_err='if ev.object.metadata.name == "bad" then local x = nil; return x.y end
  print(ev.type, ev.object.metadata.name); io.flush()
  if ev.object.metadata.name == "stop2" then return false end'
$KS watch configmaps -n "$ns" --field-selector "$fs" --since-now --on "$on_err" > "$tmp/e1.out" 2> "$tmp/e1.err" & pids+=($!); e1=$!
$KS watch configmaps -n "$ns" --field-selector "$fs" --since-now --stop-on-error --on "$on_err" > "$tmp/e2.out" 2> "$tmp/e2.err" & pids+=($!); e2=$!
# (--since-now hands nothing over for what exists, and a watcher gives no
# sign that it has listed: create a new marker each second until both have
# handled one, so they are watching)
mk=0
marker_seen() {
  mk=$((mk + 1))
  $KC -n "$ns" create configmap "marker-$mk" >/dev/null
  wait_for 1 eval 'has "$tmp/e1.out" marker && has "$tmp/e2.out" marker'
}
check "--since-now watchers started" wait_for 60 marker_seen
$KC -n "$ns" create configmap bad >/dev/null
$KC -n "$ns" create configmap stop2 >/dev/null
check "a handler error: the watch goes on to its return false" wait_for 60 done_pid $e1
is "  ... with status 0" "$(status_of $e1)" 0
is "  ... the events after the error were handled" "$(grep -v marker "$tmp/e1.out")" "ADDED	stop2"
check "  ... the traceback on stderr" grep -q "handler error: --on:1: attempt to index a nil value" "$tmp/e1.err"
check "  ... a stack traceback" grep -q "stack traceback" "$tmp/e1.err"
check "--stop-on-error: the first error ends the watch" wait_for 60 done_pid $e2
is "  ... with status 1" "$(status_of $e2)" 1
is "  ... no event handled after the error" "$(grep -v marker "$tmp/e2.out")" ""
check "  ... (it had handled the markers)" grep -q marker "$tmp/e2.out"
check "  ... the traceback on stderr" grep -q "attempt to index a nil value" "$tmp/e2.err"
check "--since-now: the existing seed was not handed over" bash -c "! grep -q seed '$tmp/e1.out'"

# ---------------------------------------------------------------- a HANDLER.lua file, --timeout
cat > "$tmp/h.lua" <<'EOF'
local n = 0
return function(ev, cache)
  n = n + 1
  if ev.object.metadata.name == "seed" then print("seed seen"); io.stdout:flush() end
  if ev.object.metadata.name == "filed" then
    print(ev.type, n, cache[ev.object.metadata.namespace .. "/seed"] ~= nil)
    return false
  end
end
EOF
$KS watch configmaps -n "$ns" --field-selector "$fs" "$tmp/h.lua" > "$tmp/h.out" 2> "$tmp/h.err" & pids+=($!); h=$!
# created once the watch has handed over seed: had it come in the first list,
# it would have been handed over before seed ("filed" < "seed"), with seed not
# yet in the cache (the cache fills as the list is handed over, as client-go's)
check "HANDLER.lua: the existing seed handed over" wait_for 60 grep -q "^seed seen$" "$tmp/h.out"
$KC -n "$ns" create configmap filed >/dev/null
check "HANDLER.lua: it ended itself" wait_for 60 done_pid $h
is "  ... status 0" "$(status_of $h)" 0
check "  ... saw the event, with the cache holding existing objects" grep -qE "^ADDED	[0-9]+	true$" "$tmp/h.out"
t0=$(date +%s)
$KS watch configmaps -n "$ns" --field-selector "$fs" --timeout 2s -o name > "$tmp/t.out" 2>&1
st=$?
t1=$(date +%s)
is "--timeout 2s: status 0" "$st" 0
check "  ... ended after about 2 s ($((t1 - t0)) s)" test $((t1 - t0)) -ge 1 -a $((t1 - t0)) -le 20
check "  ... printed the existing objects first" grep -qx "configmap/seed" "$tmp/t.out"

# ---------------------------------------------------------------- signals
for sig in TERM INT; do
  $KS watch configmaps -n "$ns" --field-selector "$fs" --on 'print(ev.object.metadata.name); io.flush()' > "$tmp/sig.out" 2> "$tmp/sig.err" & pids+=($!); sp=$!
  wait_for 60 has "$tmp/sig.out" seed
  kill -$sig $sp
  check "SIG$sig ends a watch that waits for events" wait_for 30 done_pid $sp
  want=$([ $sig = TERM ] && echo 143 || echo 130)
  is "  ... status $want, nothing on stderr" "$(status_of $sp) $(cat "$tmp/sig.err")" "$want "
done

# ---------------------------------------------------------------- bad input
$KS watch nosuchthings > "$tmp/bad.out" 2> "$tmp/bad.err"; st=$?
$KC get nosuchthings -w > "$tmp/kbad.out" 2> "$tmp/kbad.err"; kst=$?
is "an unknown type: kubectl's message" "$(cat "$tmp/bad.err")" "$(cat "$tmp/kbad.err")"
check "  ... which is not empty" test -s "$tmp/kbad.err"
is "  ... and status" "$st" "$kst"
$KS watch configmaps --on 'this is not lua' > /dev/null 2> "$tmp/syn.err"; st=$?
is "--on with a syntax error: a usage error (2)" "$st" 2
check "  ... naming --on" grep -q -- "--on" "$tmp/syn.err"
$KS watch configmaps -o bogus > /dev/null 2>&1; is "-o bogus: usage (2)" "$?" 2
finish
