#!/usr/bin/env bash
# tests/etcd/lock.t: `kscript etcd lock` and `elect` with etcdctl 3.6 on the
# same etcd (3.4 and 3.6): each excludes the other from a lock until it lets
# go; lock NAME -- CMD exits with CMD's status and passes ETCD_LOCK_KEY/REV;
# leadership passes from a kscript leader to an etcdctl candidate when the
# leader is stopped, and both observers (-l) print the same leaders.  Every
# wait is for an event, bounded (10 s), never a fixed sleep.
set -u
export LC_ALL=C
cd "$(dirname "$0")/../.."
. tests/etcd/lib.sh
. tests/etcd/tap.sh
unset ETCDCTL_API ETCDCTL_ENDPOINTS
versions=$(etcd_versions) || { ok 1 "etcd 3.6 is required (KSCRIPT_REQUIRE_ETCD36=1)"; tap_done; exit 1; }
ETCDCTL=$(tests/etcd/build-etcdctl 2>"${TMPDIR:-/tmp}/build-etcdctl.log") || {
  ok 1 "etcdctl 3.6 builds"; tap_done; exit 1; }
etcd_tmp
t=$ETCD_TEST_TMP

# wait_for FILE PATTERN: until FILE has a line matching PATTERN (10 s at most)
wait_for() {
  local i
  for i in $(seq 1 200); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}
# stop PID: SIGTERM and wait for it to end
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

for v in $versions; do
  name=${v%%=*}; bin=${v#*=}; id=l${name//./_}
  V="[etcd $name]"
  etcd_start "$id" "$bin" >&2 || { ok 1 "$V etcd starts"; continue; }
  ep="ETCD_EP_$id"; ep=${!ep}
  K=(kscript etcd --endpoints "$ep")
  E=("$ETCDCTL" --endpoints "$ep")

  # kscript holds, etcdctl waits, then gets it once kscript lets go
  "${K[@]}" lock L1 >"$t/k1" 2>&1 &
  kp=$!
  wait_for "$t/k1" '^L1/'; ok $? "$V kscript etcd lock prints the lock key"
  key=$(head -1 "$t/k1")
  [ "$("${E[@]}" get "$key" --print-value-only)" = "" ] && "${E[@]}" get L1 --prefix --keys-only | grep -qx "$key"
  ok $? "$V the key is NAME/<lease hex>, on a lease: $key"
  "${E[@]}" lock L1 >"$t/e1" 2>&1 &
  ep_=$!
  sleep 0.5 # (a negative check: etcdctl must still be waiting)
  [ ! -s "$t/e1" ]; ok $? "$V etcdctl waits while kscript holds the lock"
  stop "$kp"
  wait_for "$t/e1" '^L1/'; ok $? "$V etcdctl gets the lock when kscript is stopped (SIGTERM releases it)"

  # etcdctl holds, kscript waits
  "${K[@]}" lock L1 >"$t/k2" 2>&1 &
  kp=$!
  sleep 0.5
  [ ! -s "$t/k2" ]; ok $? "$V kscript waits while etcdctl holds the lock"
  stop "$ep_"
  wait_for "$t/k2" '^L1/'; ok $? "$V kscript gets the lock when etcdctl lets go"
  stop "$kp"

  # lock NAME -- CMD: CMD's status and environment, as etcdctl
  "${K[@]}" lock L2 -- sh -c 'echo "$ETCD_LOCK_KEY $ETCD_LOCK_REV"; exit 7' >"$t/k3" 2>"$t/k3e"
  kc=$?
  "${E[@]}" lock L2 -- sh -c 'echo "$ETCD_LOCK_KEY $ETCD_LOCK_REV"; exit 7' >"$t/e3" 2>"$t/e3e"
  ec=$?
  [ "$kc" = 7 ] && [ "$ec" = 7 ]; ok $? "$V lock -- CMD exits with CMD's status (kscript $kc, etcdctl $ec)"
  [ "$(tail -1 "$t/k3e")" = "$(grep -v '^{"level' "$t/e3e" | tail -1)" ]; ok $? "$V the same Error: line ($(tail -1 "$t/k3e"))"
  grep -Eq '^L2/[0-9a-f]+ [0-9]+$' "$t/k3"; ok $? "$V ETCD_LOCK_KEY and ETCD_LOCK_REV are set: $(cat "$t/k3")"
  [ -z "$("${E[@]}" get L2 --prefix --keys-only)" ]; ok $? "$V the lock key is gone after CMD"
  "${K[@]}" lock L2 -- true; ok $? "$V lock -- true exits 0"
  "${K[@]}" lock 2>"$t/k4e"; kc=$?
  "${E[@]}" lock 2>"$t/e4e"; ec=$?
  [ "$kc" = "$ec" ] && [ "$(tail -1 "$t/k4e")" = "$(grep -v '^{"level' "$t/e4e" | tail -1)" ]
  ok $? "$V lock without a name fails alike ($kc)"

  # elections: kscript leads, etcdctl campaigns, two observers
  "${K[@]}" elect E1 alpha >"$t/kl" 2>&1 &
  kl=$!
  wait_for "$t/kl" '^alpha$'; ok $? "$V kscript etcd elect becomes leader"
  "${E[@]}" elect E1 beta >"$t/el" 2>&1 &
  el=$!
  "${K[@]}" elect -l E1 >"$t/ko" 2>"$t/ko.err" &
  ko=$!
  "${E[@]}" elect -l E1 >"$t/eo" 2>"$t/eo.err" &
  eo=$!
  wait_for "$t/ko" '^alpha$' && wait_for "$t/eo" '^alpha$'; ok $? "$V both observers see the kscript leader"
  [ ! -s "$t/el" ]; ok $? "$V etcdctl's candidate waits"
  stop "$kl"
  wait_for "$t/el" '^beta$'; ok $? "$V leadership passes to etcdctl when the kscript leader is stopped"
  wait_for "$t/ko" '^beta$' && wait_for "$t/eo" '^beta$'; ok $? "$V both observers see the new leader"
  "${E[@]}" put "$(head -1 "$t/el")" gamma >/dev/null # the leader's key gets a new value (as proclaim does)
  wait_for "$t/ko" '^gamma$' && wait_for "$t/eo" '^gamma$'; ok $? "$V both observers see the leader's new value"
  stop "$el"
  stop "$ko"; stop "$eo"
  cmp -s "$t/ko" "$t/eo"; ok $? "$V the observers printed the same lines"
  cmp -s "$t/ko" "$t/eo" || diff "$t/ko" "$t/eo" | sed 's/^/#   /'
  [ ! -s "$t/ko.err" ]; ok $? "$V kscript's observer wrote nothing on stderr (etcdctl's client may log retries there: stdout alone is compared)"
  [ -s "$t/ko.err" ] && sed 's/^/#   /' "$t/ko.err"
  "${K[@]}" elect E1 2>"$t/k5e"; kc=$?
  "${E[@]}" elect E1 2>"$t/e5e"; ec=$?
  [ "$kc" = "$ec" ] && [ "$(tail -1 "$t/k5e")" = "$(grep -v '^{"level' "$t/e5e" | tail -1)" ]
  ok $? "$V elect without a proposal or -l fails alike ($kc: $(tail -1 "$t/k5e"))"
  etcd_stop "$id"
done
tap_done
