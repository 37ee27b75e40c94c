#!/usr/bin/env bash
# tests/etcd/downgrade.t: `downgrade validate|enable|cancel` (etcd's
# Maintenance.Downgrade, 3.5+) through `kscript etcd` and etcdctl 3.6 on the
# same server: stdout byte for byte, the last stderr line and the exit code.
# etcd 3.6: validate 3.5 succeeds with each writer etcdctl has for it
# (simple, json, protobuf; fields and table refused), bad and missing
# versions fail alike; enable 3.5 starts a downgrade job (seen in `endpoint
# status` by both tools, -w table too), a second enable and a validate fail
# with "in progress", cancel ends it (the cluster version moves to 3.5 and
# back: the test waits for each); each tool starts the job once.
# etcd 3.4 has no Downgrade: etcdctl's Unimplemented error, several times
# (etcd 3.4 resets the stream as it answers, see Client:downgrade).  The Lua
# API c:downgrade is checked on both.
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
# run TOOL NAME ARGS...: one tool's stdout, last stderr line and exit code into $t/NAME.*
run() {
  local tool=$1 n=$2
  shift 2
  if [ "$tool" = k ]; then kscript etcd --endpoints "$S" "$@" >"$t/$n.out" 2>"$t/$n.err" </dev/null
  else "$ETCDCTL" --endpoints "$S" "$@" >"$t/$n.out" 2>"$t/$n.err" </dev/null; fi
  echo $? >"$t/$n.rc"
  grep -av '^{"level"' "$t/$n.err" | tail -1 >"$t/$n.last"
}
# alike NAME A B: the runs A and B printed the same
alike() {
  if cmp -s "$t/$2.out" "$t/$3.out" && cmp -s "$t/$2.rc" "$t/$3.rc" && cmp -s "$t/$2.last" "$t/$3.last"; then
    ok 0 "$V $1"
  else
    ok 1 "$V $1"
    echo "#   exit: $2 $(cat "$t/$2.rc"), $3 $(cat "$t/$3.rc")"
    echo "#   $2: $(cat "$t/$2.last")"; echo "#   $3: $(cat "$t/$3.last")"
    diff <(od -c "$t/$2.out") <(od -c "$t/$3.out") | sed 's/^/#   /' | head -10
  fi
}
same() { local name=$1; shift; run k k "$@"; run e e "$@"; alike "$name" k e; }
# settle VERSION: wait (10 s at most) until the server's storage version is
# VERSION: a downgrade job moves the cluster to the target version within a
# second or so, and a cancelled one back up a few seconds later
settle() {
  local i
  for i in $(seq 1 100); do
    "$ETCDCTL" --endpoints "$S" endpoint status -w json 2>/dev/null | grep -q "\"storageVersion\":\"$1\"" && return 0
    sleep 0.1
  done
  return 1
}

for v in $versions; do
  name=${v%%=*}; bin=${v#*=}; id=${name//./_}
  V="[etcd $name]"
  etcd_start "d$id" "$bin" >&2 || { ok 1 "$V server starts"; continue; }
  ep=ETCD_EP_d$id; S=${!ep}

  # misuse, checked before any call
  same "validate: no version" downgrade validate
  same "validate: two versions" downgrade validate 3.5 3.4
  same "validate: an empty version" downgrade validate ""
  same "enable: no version" downgrade enable
  same "unknown writer" -w yaml downgrade validate 3.5

  if [ "$name" = 3.4 ]; then
    for i in 1 2 3 4 5; do same "validate 3.5 is Unimplemented (run $i)" downgrade validate 3.5; done
    same "enable 3.5 is Unimplemented" downgrade enable 3.5
    same "cancel is Unimplemented" downgrade cancel
    same "-w json cancel is Unimplemented" -w json downgrade cancel
    out=$(kscript -e "local c = etcd.connect{endpoints = '$S'}
      for i = 1, 5 do local r, e = c:downgrade('validate', '3.5'); io.write(tostring(r), ' ', e.kind, ' ', e.grpc_status, ';') end" 2>&1)
    [ "$out" = "$(printf 'nil unimplemented 12;%.0s' 1 2 3 4 5)" ]; ok $? "$V c:downgrade: kind unimplemented, gRPC status 12"
    [ "$out" = "$(printf 'nil unimplemented 12;%.0s' 1 2 3 4 5)" ] || echo "#   $out"
    continue
  fi

  for w in simple json protobuf fields table; do same "validate 3.5 -w $w" -w "$w" downgrade validate 3.5; done
  run k k downgrade validate 3.5
  grep -qx 'Downgrade validate success, cluster version 3.6' "$t/k.out"
  ok $? "$V   ... validate 3.5 succeeds, cluster version 3.6"
  same "validate 3.5.0" downgrade validate 3.5.0
  same "validate 3.6 (not a downgrade)" downgrade validate 3.6
  same "validate 3.4 (two minors down)" downgrade validate 3.4
  same "validate v3.5 (bad format)" downgrade validate v3.5
  same "validate xyz (bad format)" downgrade validate xyz
  same "enable 3.7" downgrade enable 3.7
  same "cancel, no job (succeeds)" downgrade cancel
  same "-w json cancel" -w json downgrade cancel

  # one job started by each tool in turn; the other tool sees it
  for first in k e; do
    other=$([ $first = k ] && echo e || echo k)
    run $first a1 downgrade enable 3.5
    grep -qx 'Downgrade enable success, cluster version 3.6' "$t/a1.out"; ok $? "$V enable 3.5 by $first succeeds"
    run $other a2 downgrade enable 3.5; run $first a3 downgrade enable 3.5
    alike "a second enable fails alike (in progress), $other then $first" a2 a3
    grep -q 'downgrade job in progress' "$t/a2.last"; ok $? "$V   ... 'cluster has a downgrade job in progress'"
    run $other a2 downgrade validate 3.5; run $first a3 downgrade validate 3.5
    alike "validate during the job fails alike" a2 a3
    settle 3.5.0; ok $? "$V   ... the cluster moves to 3.5 (etcdctl's endpoint status)"
    same "endpoint status -w table shows the job" endpoint status -w table
    grep -q '| *3\.5\.0 | *true |$' "$t/k.out"; ok $? "$V   ... target 3.5.0, enabled"
    same "endpoint status -w fields shows the job" endpoint status -w fields
    run $other a2 downgrade cancel
    grep -qx 'Downgrade cancel success, cluster version 3.5' "$t/a2.out"; ok $? "$V cancel by $other succeeds"
    settle 3.6.0; ok $? "$V   ... the cluster moves back to 3.6"
    same "endpoint status -w table after cancel" endpoint status -w table
    grep -q '| *| *false |$' "$t/k.out"; ok $? "$V   ... no target, not enabled"
  done

  out=$(kscript -e "local c = etcd.connect{endpoints = '$S'}
    local r = assert(c:downgrade('validate', '3.5')); print(r.version, r.header.member_id ~= nil)
    local r2, e = c:downgrade('validate', '3.6'); print(r2, e.kind, e.grpc_message)
    print(pcall(c.downgrade, c, 'upgrade', '3.7'))" 2>&1)
  exp="3.6	true
nil	invalid	etcdserver: invalid downgrade target version
false	bad argument #1 to 'downgrade' (validate, enable or cancel expected, got upgrade)"
  [ "$out" = "$exp" ]; ok $? "$V c:downgrade: result, error, misuse"
  [ "$out" = "$exp" ] || echo "$out" | sed 's/^/#   /'
done
tap_done
