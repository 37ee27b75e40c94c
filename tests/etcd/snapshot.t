#!/usr/bin/env bash
# tests/etcd/snapshot.t: `kscript etcd snapshot save` against etcdctl 3.6 on
# etcd 3.4 and 3.6: both take a snapshot of the same state; etcdutl 3.6
# (built beside etcd by tests/etcd/build-etcdctl etcdutl) reads the same
# revision, key count and hash from both; kscript's restores (etcdutl
# snapshot restore) into an etcd 3.6 that serves the same keys; the file is
# private (0600) and no .part is left; errors as etcdctl's.
set -u
export LC_ALL=C
cd "$(dirname "$0")/../.."
. tests/etcd/lib.sh
. tests/etcd/tap.sh
unset ETCDCTL_API ETCDCTL_ENDPOINTS
versions=$(etcd_versions) || { ok 1 "etcd 3.6 is required (KSCRIPT_REQUIRE_ETCD36=1)"; tap_done; exit 1; }
ETCDCTL=$(tests/etcd/build-etcdctl 2>"${TMPDIR:-/tmp}/build-etcdctl.log") || { ok 1 "etcdctl 3.6 builds"; tap_done; exit 1; }
ETCDUTL=$(tests/etcd/build-etcdctl etcdutl 2>"${TMPDIR:-/tmp}/build-etcdutl.log") || { ok 1 "etcdutl 3.6 builds"; tap_done; exit 1; }
etcd_tmp
t=$ETCD_TEST_TMP
bin36=""
for v in $versions; do [ "${v%%=*}" = 3.6 ] && bin36=${v#*=}; done

status_of() { "$ETCDUTL" snapshot status "$1" -w json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["revision"], d["totalKey"], d["hash"])'; }

for v in $versions; do
  name=${v%%=*}; bin=${v#*=}; id=s${name//./_}
  V="[etcd $name]"
  etcd_start "$id" "$bin" >&2 || { ok 1 "$V etcd starts"; continue; }
  ep="ETCD_EP_$id"; ep=${!ep}
  ETCDCTL_ENDPOINTS=$ep kscript tests/etcd/fill.lua 3000 300 >/dev/null
  "$ETCDCTL" --endpoints "$ep" put "/bin/$(printf 'k\001\377')" "$(printf 'v\002')" >/dev/null
  "$ETCDCTL" --endpoints "$ep" del /registry/pods --prefix >/dev/null # history: deletions too
  kscript etcd --endpoints "$ep" snapshot save "$t/k.db" >"$t/k.out" 2>"$t/k.err"
  kc=$?
  "$ETCDCTL" --endpoints "$ep" snapshot save "$t/e.db" >"$t/e.out" 2>"$t/e.err"
  ec=$?
  [ "$kc" = 0 ] && [ "$ec" = 0 ]; ok $? "$V both save (kscript $kc, etcdctl $ec)"
  sed -i "s|$t/k.db|FILE|" "$t/k.out"; sed -i "s|$t/e.db|FILE|" "$t/e.out"
  cmp -s "$t/k.out" "$t/e.out"; ok $? "$V the same stdout: $(tr '\n' ' ' <"$t/k.out")"
  [ ! -e "$t/k.db.part" ]; ok $? "$V no .part left"
  [ "$(stat -c %a "$t/k.db")" = 600 ]; ok $? "$V the snapshot is private (mode $(stat -c %a "$t/k.db"))"
  ks=$(status_of "$t/k.db"); es=$(status_of "$t/e.db")
  [ -n "$ks" ] && [ "$ks" = "$es" ]; ok $? "$V etcdutl snapshot status: same revision, key count, hash ($ks / $es)"
  [ "$(stat -c %s "$t/k.db")" = "$(stat -c %s "$t/e.db")" ]; ok $? "$V the same size"
  if [ "$name" = 3.6 ]; then
    rm -rf "$t/restored"
    "$ETCDUTL" snapshot restore "$t/k.db" --data-dir "$t/restored" >/dev/null 2>&1; ok $? "$V etcdutl snapshot restore reads kscript's snapshot"
    # serve the restored data and compare every key with the original
    mkdir -p "$ETCD_TEST_TMP/srv-restored"
    rp=$(etcd_free_port); rq=$(etcd_free_port)
    d=$ETCD_TEST_TMP/srv-restored
    echo "http://127.0.0.1:$rp/health" >"$d/health"
    echo "$bin36 --name default --data-dir $t/restored --listen-client-urls http://127.0.0.1:$rp --advertise-client-urls http://127.0.0.1:$rp --listen-peer-urls http://127.0.0.1:$rq --log-level error" >"$d/cmd"
    if etcd_run_dir "$d" >&2; then
      "$ETCDCTL" --endpoints "$ep" get "" --prefix -w json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps(d["kvs"]))' >"$t/orig"
      "$ETCDCTL" --endpoints "127.0.0.1:$rp" get "" --prefix -w json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps(d["kvs"]))' >"$t/rest"
      cmp -s "$t/orig" "$t/rest"; ok $? "$V the restored etcd serves the same keys, values and revisions"
      etcd_stop_dir "$d"
    else
      ok 1 "$V the restored etcd starts"
    fi
  fi
  kscript etcd --endpoints "$ep,$ep" snapshot save "$t/x.db" 2>"$t/k.err"; kc=$?
  "$ETCDCTL" --endpoints "$ep,$ep" snapshot save "$t/x.db" 2>"$t/e.err"; ec=$?
  [ "$kc" = "$ec" ] && [ "$(tail -1 "$t/k.err")" = "$(grep -v '^{"level' "$t/e.err" | tail -1)" ]
  ok $? "$V two endpoints are refused alike ($kc: $(tail -1 "$t/k.err"))"
  kscript etcd --endpoints "$ep" snapshot save "$t/no/such/dir/x.db" 2>"$t/k.err"; kc=$?
  [ "$kc" = 5 ] && [ "$(tail -1 "$t/k.err")" = "Error: could not open $t/no/such/dir/x.db.part (open $t/no/such/dir/x.db.part: no such file or directory)" ]
  ok $? "$V an unwritable path fails with etcdctl's exit code 5: $(tail -1 "$t/k.err")"
  # the Lua API
  out=$(ETCDCTL_ENDPOINTS=$ep kscript -e "
    local c = etcd.connect()
    local r = assert(c:snapshot('$t/l.db'))
    print(r.size .. ' ' .. tostring(r.version ~= nil))")
  [ "$out" = "$(stat -c %s "$t/l.db") $([ "$name" = 3.6 ] && echo true || echo false)" ]
  ok $? "$V c:snapshot(path) returns the size and the server's version ($out)"
  etcd_stop "$id"
done
tap_done
