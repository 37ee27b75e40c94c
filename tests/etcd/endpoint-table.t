#!/usr/bin/env bash
# tests/etcd/endpoint-table.t: `endpoint status|health|hashkv -w table` (the
# tables etcdctl 3.6 draws with olekukonko/tablewriter, beside `member list
# -w table` in member.t) through `kscript etcd` and etcdctl 3.6 on the same
# server, etcd 3.4 and 3.6: stdout byte for byte (health: the took column,
# which varies run to run, named T and the padding squeezed), the last
# stderr line and the exit code.  Cases: one server; a dead endpoint beside
# it (the row missing from status and hashkv, an unhealthy row in health);
# only dead endpoints (a table with no rows); --cluster; a server out of
# space (NOSPACE alarm): its errors cell is wider than 30 columns, so
# tablewriter wraps it onto two lines.  Commands without a table writer
# fail alike.
set -u
export LC_ALL=C
cd "$(dirname "$0")/../.."
. tests/etcd/lib.sh
. tests/etcd/tap.sh
unset ETCDCTL_API ETCDCTL_ENDPOINTS
KSCRIPT_REQUIRE_ETCD36=1 versions=$(etcd_versions) || { ok 1 "etcd 3.6 is required"; tap_done; exit 1; }
ETCDCTL=$(tests/etcd/build-etcdctl 2>"${TMPDIR:-/tmp}/build-etcdctl.log") || { ok 1 "etcdctl 3.6 builds"; tap_done; exit 1; }
etcd_tmp
t=$ETCD_TEST_TMP
NORM=cat
# same NAME ARGS...: both tools with the same arguments; stdout through $NORM
same() {
  local name=$1
  shift
  kscript etcd "$@" >"$t/k.raw" 2>"$t/k.err" </dev/null
  local kc=$?
  "$ETCDCTL" "$@" >"$t/e.raw" 2>"$t/e.err" </dev/null
  local ec=$?
  $NORM <"$t/k.raw" >"$t/k.out"; $NORM <"$t/e.raw" >"$t/e.out"
  local ke ee
  ke=$(tail -1 "$t/k.err"); ee=$(grep -av '^{"level"' "$t/e.err" | tail -1)
  if cmp -s "$t/k.out" "$t/e.out" && [ "$kc" = "$ec" ] && [ "$ke" = "$ee" ] && [ -s "$t/e.out" -o -n "$ee" ]; then
    ok 0 "$V $name"
  else
    ok 1 "$V $name"
    echo "#   exit: kscript $kc, etcdctl $ec"; echo "#   kscript: $ke"; echo "#   etcdctl: $ee"
    diff "$t/k.out" "$t/e.out" | sed 's/^/#   /' | head -12
  fi
}
# settled EP: wait (10 s at most) until two status reads 0.2 s apart agree (a
# write changes the db sizes once the backend commits it, up to 100 ms later)
settled() {
  local i a b
  for i in $(seq 1 50); do
    a=$("$ETCDCTL" --endpoints "$1" endpoint status -w json 2>&1); sleep 0.2
    b=$("$ETCDCTL" --endpoints "$1" endpoint status -w json 2>&1)
    [ "$a" = "$b" ] && return 0
  done
  return 1
}
# the took cell of a health table (Go's Duration text) named T, the columns' padding squeezed
took() { sed -E 's/[0-9.]+(ns|µs|ms|s|m[0-9.]+s)( |$)/T\2/g; s/ +/ /g; s/-+/-/g'; }

for v in $versions; do
  name=${v%%=*}; bin=${v#*=}; id=${name//./_}
  V="[etcd $name]"
  etcd_start "s$id" "$bin" >&2 || { ok 1 "$V server starts"; continue; }
  etcd_start "q$id" "$bin" "" --quota-backend-bytes=200000 >&2 || { ok 1 "$V small-quota server starts"; continue; }
  ep=ETCD_EP_s$id; S=${!ep}; ep=ETCD_EP_q$id; Q=${!ep}
  DEAD=http://127.0.0.1:$(etcd_free_port)
  FAST=(--dial-timeout 2s --command-timeout 3s) # the dead endpoint costs etcdctl this long; a loaded machine needs the margin
  "$ETCDCTL" --endpoints "$S" put a 1 >/dev/null
  settled "$S"

  NORM=cat
  same "endpoint status -w table" --endpoints "$S" endpoint status -w table
  same "endpoint hashkv -w table" --endpoints "$S" endpoint hashkv -w table
  same "endpoint hashkv --rev 2 -w table" --endpoints "$S" endpoint hashkv --rev 2 -w table
  same "endpoint status --cluster -w table" --endpoints "$S" endpoint status --cluster -w table
  same "endpoint status -w table, a dead endpoint after it" "${FAST[@]}" --endpoints "$S,$DEAD" endpoint status -w table
  same "endpoint hashkv -w table, a dead endpoint after it" "${FAST[@]}" --endpoints "$S,$DEAD" endpoint hashkv -w table
  same "endpoint status -w table, only a dead endpoint (no rows)" "${FAST[@]}" --endpoints "$DEAD" endpoint status -w table
  same "endpoint hashkv -w table, only a dead endpoint (no rows)" "${FAST[@]}" --endpoints "$DEAD" endpoint hashkv -w table
  NORM=took
  same "endpoint health -w table" --endpoints "$S" endpoint health -w table
  same "endpoint health --cluster -w table" --endpoints "$S" endpoint health --cluster -w table
  same "endpoint health -w table, a dead endpoint after it" "${FAST[@]}" --endpoints "$S,$DEAD" endpoint health -w table
  NORM=cat
  # out of space: the NOSPACE alarm in status's errors (wrapped) and health's error
  val=$(head -c 50000 /dev/zero | tr '\0' x)
  for i in $(seq 1 40); do "$ETCDCTL" --endpoints "$Q" put "k$i" "$val" >/dev/null 2>&1 || break; done
  "$ETCDCTL" --endpoints "$Q" alarm list | grep -q NOSPACE; ok $? "$V the small-quota server raised NOSPACE"
  settled "$Q"
  same "endpoint status -w table, NOSPACE (the errors cell wrapped)" --endpoints "$Q" endpoint status -w table
  grep -q '^| *|.*alarm:NOSPACE' "$t/k.out"; ok $? "$V   ... the alarm on a second line of the row"
  NORM=took
  same "endpoint health -w table, NOSPACE" --endpoints "$Q" endpoint health -w table
  NORM=cat
  # commands without a table writer
  same "alarm list -w table" --endpoints "$Q" alarm list -w table
  same "lease list -w table" --endpoints "$S" lease list -w table
  same "get -w table" --endpoints "$S" get a -w table
  same "member list -w table" --endpoints "$S" member list -w table
done
tap_done
