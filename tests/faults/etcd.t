#!/usr/bin/env bash
# Faults against a real etcd 3.6 that this test starts (never the shared one):
#  - paused (SIGSTOP) before a dump and in the middle of one (half a gRPC
#    frame sent, then nothing): a timeout error within the configured bound,
#    a non-zero exit, never a hang, never a short dump that exits 0;
#  - killed in the middle of a dump: an error, a non-zero exit;
#  - restarted under a watch: every change delivered exactly once, in order;
#  - compacted under a watch that resumes from an old revision: kind
#    "compacted", never a silent gap;
#  - the disk full while `snapshot save` writes: kind io, and neither the
#    file nor its .part is left behind.
set -u
export LC_ALL=C
cd "$(dirname "$0")/../.."
. tests/etcd/lib.sh
. tests/etcd/tap.sh
versions=$(etcd_versions) || { ok 1 "etcd 3.6 is required"; tap_done; exit 1; }
bin=
for v in $versions; do [ "${v%%=*}" = 3.6 ] && bin=${v#*=}; done
[ -n "$bin" ] || { ok 1 "etcd 3.6 is built (tests/env/build)"; tap_done; exit 1; }
etcd_tmp
t=$ETCD_TEST_TMP
etcd_start f "$bin" >&2 || { ok 1 "etcd starts"; tap_done; exit 1; }
export ETCDCTL_ENDPOINTS=$ETCD_EP_f ETCDCTL_API=3
pid() { cat "$ETCD_DIR_f/pid"; }
wait_for() { local i n=$(($1 * 10)); shift; for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done; return 1; }
kscript tests/etcd/fill.lua 50000 200 >&2
ok $? "filled 50,000 keys with 200-byte values"
kscript dump-keys --values >"$t/full"; ok $? "a dump works while etcd runs ($(wc -c <"$t/full") bytes)"
[ "$(wc -l <"$t/full")" = 100000 ]; ok $? "50,000 keys and values in it"

# 1. paused before the dump
kill -STOP "$(pid)"
s=$(date +%s%N)
kscript dump-keys --command-timeout 2s >"$t/out" 2>"$t/err"; rc=$?
ms=$(( ($(date +%s%N) - s) / 1000000 ))
kill -CONT "$(pid)"
[ $rc = 1 ]; ok $? "paused etcd: dump-keys fails with status 1 (exit $rc)"
[ $ms -lt 20000 ]; ok $? "within the bound: ${ms} ms for --command-timeout 2s (retries included)"
grep -q "too slow\|timed out\|timeout" "$t/err"; ok $? "the error says it timed out: $(head -c 200 "$t/err")"
kill -STOP "$(pid)"
kscript -e 'local e = require("etcd").connect{timeout = 2}
  local ok, err = pcall(function() for _ in e:scanner("/registry", {}):records() do end end)
  print(ok, type(err) == "table" and err.kind or tostring(err))' >"$t/kind" 2>&1
kill -CONT "$(pid)"
[ "$(cat "$t/kind")" = "false	timeout" ]; ok $? "the scanner's error kind is timeout ($(cat "$t/kind"))"

# 2. paused in the middle of a dump: the consumer reads slowly so the pause
# lands mid-stream, with part of a gRPC message sent
rm -f "$t/out"
( kscript dump-keys --values --command-timeout 3s 2>"$t/err" | { head -c 100000; sleep 2; cat; } >"$t/out"; echo "${PIPESTATUS[0]}" >"$t/rc" ) &
wait_for 30 test -s "$t/out"
kill -STOP "$(pid)"
wait_for 60 test -s "$t/rc"; got=$?
kill -CONT "$(pid)"
[ $got = 0 ]; ok $? "paused mid-dump: dump-keys ends by itself"
rc=$(cat "$t/rc" 2>/dev/null)
if [ "$(wc -c <"$t/out")" = "$(wc -c <"$t/full")" ]; then
  [ "$rc" = 0 ] && cmp -s "$t/out" "$t/full"; ok $? "the dump had finished before the pause: complete and exit 0"
else
  [ "$rc" = 1 ]; ok $? "a short dump never exits 0: status 1 ($rc, $(wc -c <"$t/out") of $(wc -c <"$t/full") bytes): $(head -c 160 "$t/err")"
fi

# 3. killed in the middle of a dump
rm -f "$t/out" "$t/rc"
( kscript dump-keys --values 2>"$t/err" | { head -c 100000; sleep 1; cat; } >"$t/out"; echo "${PIPESTATUS[0]}" >"$t/rc" ) &
wait_for 30 test -s "$t/out"
kill -KILL "$(pid)"
wait_for 60 test -s "$t/rc"; ok $? "killed mid-dump: dump-keys ends by itself"
rc=$(cat "$t/rc" 2>/dev/null)
if [ "$(wc -c <"$t/out")" = "$(wc -c <"$t/full")" ]; then
  [ "$rc" = 0 ]; ok $? "the dump had finished before the kill: exit 0"
else
  [ "$rc" = 1 ]; ok $? "a dump cut by the kill fails with status 1 ($rc): $(head -c 160 "$t/err")"
fi
etcd_run_dir "$ETCD_DIR_f" >&2; ok $? "etcd restarts on its data"

# 4. restarted under a watch: every change exactly once, in order
cat >"$t/w.lua" <<'L'
local e = require("etcd").connect{}
for ev in e:watch("/faults/w/", {prefix = true}) do
  print(ev.type, ev.kv.key, ev.kv.value)
  io.stdout:flush()
  if ev.kv.key == "/faults/w/100" then break end
end
L
kscript "$t/w.lua" >"$t/events" 2>"$t/werr" & wp=$!
sleep 1
for i in $(seq 1 50); do etcdctl put /faults/w/$i v$i >/dev/null; done
wait_for 30 grep -q "/faults/w/50" "$t/events"
etcd_restart f >&2
for i in $(seq 51 100); do etcdctl put /faults/w/$i v$i >/dev/null; done
wait_for 60 grep -q "/faults/w/100" "$t/events"; ok $? "the watch sees the changes made after the restart"
kill $wp 2>/dev/null; wait $wp 2>/dev/null
want=$(for i in $(seq 1 100); do printf 'PUT\t/faults/w/%s\tv%s\n' $i $i; done)
[ "$(cat "$t/events")" = "$want" ]; ok $? "100 changes across the restart: each once, in order ($(wc -l <"$t/events") lines)"

# 5. compacted under a watch that starts from an old revision
rev=$(etcdctl get /faults/w/1 -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["kvs"][0]["mod_revision"])')
etcdctl put /faults/c x >/dev/null
now=$(etcdctl get /faults/c -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
etcdctl compaction "$now" >/dev/null
kscript -e "local e = require('etcd').connect{}
  local ok, err = pcall(function() for ev in e:watch('/faults/w/', {prefix = true, start_revision = $rev}) do end end)
  print(type(err) == 'table' and err.kind or tostring(err))" >"$t/ck" 2>&1
[ "$(cat "$t/ck")" = compacted ]; ok $? "a watch from a compacted revision: kind compacted ($(cat "$t/ck"))"

# 6. the disk full while snapshot save writes (a 1 MiB tmpfs in a private mount namespace)
dbsize=$(etcdctl endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["dbSize"])')
mkdir -p "$t/small"
unshare -m bash -c "mount -t tmpfs -o size=1m tmpfs '$t/small' && kscript etcd snapshot save '$t/small/snap.db' >'$t/sout' 2>'$t/serr'; echo \$? >'$t/src'; ls -A '$t/small' >'$t/left'"
[ "$dbsize" -gt 2000000 ]; ok $? "the db ($dbsize bytes) does not fit on the 1 MiB disk"
[ "$(cat "$t/src")" = 5 ]; ok $? "snapshot save on a full disk fails with etcdctl's status (5, ExitInterrupted: $(cat "$t/src"))"
grep -qi "no space\|could not write" "$t/serr"; ok $? "saying why: $(head -c 200 "$t/serr")"
[ -z "$(cat "$t/left")" ]; ok $? "nothing half-written left behind (neither snap.db nor snap.db.part): '$(cat "$t/left")'"
kscript -e "local e = require('etcd').connect{}
  local ok, err = e:snapshot('/proc/nonexistent/x.db'); print(err and err.kind)" >"$t/k2" 2>&1
[ "$(cat "$t/k2")" = io ]; ok $? "an unwritable path: kind io"
tap_done
