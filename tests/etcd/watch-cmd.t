#!/usr/bin/env bash
# tests/etcd/watch-cmd.t: `kscript watch etcd KEY` against etcd 3.6: without a
# handler it prints what `etcdctl watch` (3.6) prints for the same changes,
# byte for byte (--prefix, --prev-kv, --rev); with --on or a HANDLER.lua it
# runs the handler per event (ev.type, ev.kv, ev.prev_kv, cache), `return
# false` ends it with 0, a handler error goes on (--stop-on-error: 1),
# --timeout ends it with 0, a compacted --rev fails with 1.  Every wait is
# bounded, never a fixed sleep.
set -u
export LC_ALL=C
cd "$(dirname "$0")/../.."
. tests/etcd/lib.sh
. tests/etcd/tap.sh
unset ETCDCTL_API ETCDCTL_ENDPOINTS
KS=${KSCRIPT:-kscript}
versions=$(KSCRIPT_REQUIRE_ETCD36=1 etcd_versions) || { ok 1 "etcd 3.6 is available"; tap_done; exit 1; }
ETCDCTL=$(tests/etcd/build-etcdctl 2>"${TMPDIR:-/tmp}/build-etcdctl.log") || {
  ok 1 "etcdctl 3.6 builds"; tap_done; exit 1; }
bin=""
for v in $versions; do [ "${v%%=*}" = 3.6 ] && bin=${v#*=}; done
etcd_tmp
t=$ETCD_TEST_TMP
etcd_start w36 "$bin" >&2 || { ok 1 "etcd 3.6 starts"; tap_done; exit 1; }
EP=$ETCD_EP_w36
E=("$ETCDCTL" --endpoints "$EP")
W=("$KS" watch etcd --endpoints "$EP")
wait_line() { local i; for i in $(seq 1 200); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }
done_pid() { local i; for i in $(seq 1 200); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done; return 1; }
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
# (watchers left running if the test ends early are stopped with the servers)
trap 'kill $(jobs -p) 2>/dev/null; etcd_cleanup' EXIT

# printing, side by side with etcdctl
"${E[@]}" put /w/seed 0 >/dev/null
"${E[@]}" watch --prefix /w/ > "$t/ctl.out" 2>&1 & c1=$!
"${W[@]}" --prefix /w/ > "$t/ks.out" 2>&1 & k1=$!
"${E[@]}" watch --prefix --prev-kv /w/ > "$t/ctl.prev" 2>&1 & c2=$!
"${W[@]}" --prefix --prev-kv /w/ > "$t/ks.prev" 2>&1 & k2=$!
"${E[@]}" watch /w/one > "$t/ctl.one" 2>&1 & c3=$!
"${W[@]}" /w/one > "$t/ks.one" 2>&1 & k3=$!
# (a watch is open once it saw a marker put after it started)
i=0
until grep -q "^/w/marker$" "$t/ctl.out" && grep -q "^/w/marker$" "$t/ks.out" && grep -q "^/w/marker$" "$t/ctl.prev" &&
      grep -q "^/w/marker$" "$t/ks.prev" && [ $i -ge 1 ] && grep -q "^m$i$" "$t/ctl.one" && grep -q "^m$i$" "$t/ks.one" || [ $i -gt 100 ]; do
  i=$((i + 1)); "${E[@]}" put /w/marker "m$i" >/dev/null; "${E[@]}" put /w/one "m$i" >/dev/null; sleep 0.1
done
ok $([ $i -le 100 ]; echo $?) "every watcher is open"
"${E[@]}" put /w/a "1" >/dev/null
"${E[@]}" put /w/a "two words" >/dev/null
printf '\nput /w/b x\nput /w/one last\ndel /w/a\n\n\n' | "${E[@]}" txn >/dev/null   # one revision, three events
"${E[@]}" del --prefix /w/marker >/dev/null
"${E[@]}" put /w/end 1 >/dev/null
for f in ctl.out ks.out ctl.prev ks.prev; do wait_line "$t/$f" "^/w/end$"; done
wait_line "$t/ctl.one" "^last$"; wait_line "$t/ks.one" "^last$"
stop $c1; stop $k1; stop $c2; stop $k2; stop $c3; stop $k3
# (the watchers opened at different markers: compare from the first change after they were all open)
from_a() { awk 'p || (prev == "PUT" && $0 == "/w/a") { if (!p) print prev; p = 1; print } { prev = $0 }' "$1"; }
for f in ctl.out ks.out ctl.prev ks.prev; do from_a "$t/$f" > "$t/$f.a"; done
cmp -s "$t/ctl.out.a" "$t/ks.out.a" && [ -s "$t/ks.out.a" ]; ok $? "--prefix: the same output as etcdctl watch --prefix ($(wc -l < "$t/ks.out") lines)"
cmp -s "$t/ctl.prev.a" "$t/ks.prev.a" && [ -s "$t/ks.prev.a" ]; ok $? "--prev-kv: the same output as etcdctl"
# (the two /w/one watchers may have opened at different markers: compare from m$i, the first both saw)
from_m() { awk -v m="m$i" '{ l[NR] = $0 } $0 == m && !s { s = NR - 2 } END { if (s > 0) for (j = s; j <= NR; j++) print l[j] }' "$1"; }
from_m "$t/ctl.one" > "$t/ctl.one.m"; from_m "$t/ks.one" > "$t/ks.one.m"
cmp -s "$t/ctl.one.m" "$t/ks.one.m" && grep -q "^last$" "$t/ks.one.m"; ok $? "one key: the same output as etcdctl"
rev=$("${E[@]}" get /w/seed -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["kvs"][0]["mod_revision"])')
"${E[@]}" watch --prefix --rev "$rev" /w/ > "$t/ctl.rev" 2>&1 & c1=$!
"${W[@]}" --prefix --rev "$rev" /w/ > "$t/ks.rev" 2>&1 & k1=$!
wait_line "$t/ctl.rev" "^/w/end$"; wait_line "$t/ks.rev" "^/w/end$"
stop $c1; stop $k1
cmp -s "$t/ctl.rev" "$t/ks.rev"; ok $? "--rev N: the history from N, as etcdctl"

# handlers
"${W[@]}" --prefix /w/h/ --on '
  io.write(ev.type, " ", ev.kv.key, " ", ev.kv.value or "", " prev=", ev.prev_kv and ev.prev_kv.value or "-",
           " cached=", tostring(cache[ev.kv.key] ~= nil), " rev=", tostring(ev.kv.mod_revision == ev.revision), "\n")
  io.flush()
  if ev.kv.key == "/w/h/boom" then error("boom") end
  if ev.kv.key == "/w/h/stop" then return false end' > "$t/h.out" 2> "$t/h.err" & h=$!
i=0
until grep -q "^PUT /w/h/ready" "$t/h.out" || [ $i -gt 100 ]; do i=$((i + 1)); "${E[@]}" put /w/h/ready 1 >/dev/null; sleep 0.1; done
"${E[@]}" put /w/h/x 1 >/dev/null
"${E[@]}" put /w/h/x 2 >/dev/null
"${E[@]}" put /w/h/boom 1 >/dev/null
"${E[@]}" del /w/h/x >/dev/null
"${E[@]}" put /w/h/stop 1 >/dev/null
done_pid $h; ok $? "return false ends the handler's watch"
wait $h; ok $? "... with status 0"
grep -v "/w/h/ready" "$t/h.out" > "$t/h.got"
printf '%s\n' "PUT /w/h/x 1 prev=- cached=true rev=true" "PUT /w/h/x 2 prev=1 cached=true rev=true" \
  "PUT /w/h/boom 1 prev=- cached=true rev=true" "DELETE /w/h/x  prev=2 cached=false rev=true" \
  "PUT /w/h/stop 1 prev=- cached=true rev=true" > "$t/h.want"
cmp -s "$t/h.got" "$t/h.want"; ok $? "the handler saw ev.type, ev.kv, ev.prev_kv, cache, in order ($(tr '\n' '|' < "$t/h.got"))"
grep -q "^kscript: watch: handler error: --on:.*boom" "$t/h.err"; ok $? "a handler error is printed with its line and the watch goes on"
cat > "$t/handler.lua" <<'EOF'
return function(ev, cache, c)
  if ev.kv.key == "/w/f/bad" then error("bad key") end
  print("file", ev.type, ev.kv.key)
end
EOF
"${W[@]}" --prefix /w/f/ "$t/handler.lua" --stop-on-error > "$t/f.out" 2> "$t/f.err" & h=$!
i=0
until grep -q "^file	PUT	/w/f/ready" "$t/f.out" || [ $i -gt 100 ]; do i=$((i + 1)); "${E[@]}" put /w/f/ready 1 >/dev/null; sleep 0.1; done
"${E[@]}" put /w/f/bad 1 >/dev/null
done_pid $h; wait $h; [ $? = 1 ]; ok $? "a HANDLER.lua that errors under --stop-on-error ends the watch with 1"
"${W[@]}" /w/nothing --timeout 1s --on 'print(ev)' > "$t/to.out" 2>&1; ok $? "--timeout ends a quiet watch with 0"
"${E[@]}" compact "$("${E[@]}" get /w/end -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')" >/dev/null
"${W[@]}" --prefix /w/ --rev 2 > "$t/c.out" 2> "$t/c.err"; [ $? = 1 ]; ok $? "a compacted --rev fails with 1"
grep -q "compacted" "$t/c.err"; ok $? "... saying it is compacted ($(head -1 "$t/c.err"))"
tap_done
