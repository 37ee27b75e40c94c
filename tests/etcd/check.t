#!/usr/bin/env bash
# tests/etcd/check.t: `check perf` and `check datascale` (etcdctl 3.6's load
# tests) through `kscript etcd` and etcdctl 3.6.16 on the same servers
# (etcd 3.4 and 3.6).  Timings and memory differ run to run, so the output
# is compared by shape: the same lines in the same order with the numbers
# named N, each tool's verdict consistent with its numbers (throughput above
# 90% of 150 writes/s, slowest put at most 0.5 s, deviation at most 0.1 s;
# exit 0 exactly when the last line is PASS), and no key left behind.
# Misuse fails alike: an unknown --load (exit 4), a prefix that has keys
# (exit 3).  check perf --load s runs its 60 s once, both tools at the same
# time on etcd 3.6 under two prefixes; datascale --load s (10,000 puts) runs
# on both servers, with --auto-compact --auto-defrag on 3.6.  The progress
# bar is drawn on a terminal (script(1)) and not on a pipe; Ctrl-C cleans
# the prefix up; the Lua API (c:check_perf, c:check_datascale) runs with
# small overrides.
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
K=$(command -v kscript)

# same_err NAME ARGS...: stdout, the last stderr line and the exit code alike
same_err() {
  local name=$1
  shift
  kscript etcd --endpoints "$S" "$@" >"$t/k.out" 2>"$t/k.err" </dev/null
  local kc=$?
  "$ETCDCTL" --endpoints "$S" "$@" >"$t/e.out" 2>"$t/e.err" </dev/null
  local ec=$?
  local ke ee
  ke=$(tail -1 "$t/k.err"); ee=$(grep -av '^{"level"' "$t/e.err" | tail -1)
  if cmp -s "$t/k.out" "$t/e.out" && [ "$kc" = "$ec" ] && [ "$ke" = "$ee" ] && [ -n "$ee" ]; then ok 0 "$V $name"; else
    ok 1 "$V $name"; echo "#   exit: kscript $kc, etcdctl $ec"; echo "#   kscript: $ke"; echo "#   etcdctl: $ee"
  fi
}
# keys: how many keys the server holds
keys() { "$ETCDCTL" --endpoints "$S" get "" --prefix --count-only -w fields | sed -n 's/^"Count" : //p'; }
# shape FILE: the lines with their numbers named N, the verdict words kept apart
shape() {
  sed -E 's/^(PASS: Throughput is|FAIL: Throughput too low:) [0-9]+ writes\/s$/THROUGHPUT N/
          s/^(PASS: Slowest request took|Slowest request took too long:) [0-9.]+s$/SLOWEST N/
          s/^(PASS: Stddev is|Stddev too high:) ([0-9.]+|NaN)s$/STDDEV N/
          s/^(PASS|FAIL)$/VERDICT/
          s/-?[0-9]+(\.[0-9]+)?/N/g' "$1"
}
# verdict FILE RC: the PASS/FAIL words follow the numbers, the exit code the last line
verdict() {
  python3 - "$1" "$2" <<'EOF'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
rc = int(sys.argv[2])
good = True
for l in lines:
    m = re.match(r'^(PASS: Throughput is|FAIL: Throughput too low:) (\d+) writes/s$', l)
    if m: good &= (m.group(1).startswith("PASS")) == ((int(m.group(2)) - 1) / 150 > 0.9); continue
    m = re.match(r'^(PASS: Slowest request took|Slowest request took too long:) ([\d.]+)s$', l)
    if m: good &= (m.group(1).startswith("PASS")) == (float(m.group(2)) <= 0.5); continue
    m = re.match(r'^(PASS: Stddev is|Stddev too high:) ([\d.]+)s$', l)
    if m: good &= (m.group(1).startswith("PASS")) == (float(m.group(2)) <= 0.1); continue
fails = [l for l in lines[:-1] if not l.startswith("PASS") and not l.startswith(("Compact", "Defrag"))]
good &= lines[-1] == ("FAIL" if fails else "PASS")
good &= (rc == 0) == (lines[-1] == "PASS")
sys.exit(0 if good else 1)
EOF
}

for v in $versions; do
  name=${v%%=*}; bin=${v#*=}; id=${name//./_}
  V="[etcd $name]"
  etcd_start "c$id" "$bin" >&2 || { ok 1 "$V server starts"; continue; }
  ep=ETCD_EP_c$id; S=${!ep}
  "$ETCDCTL" --endpoints "$S" put /mine/a 1 >/dev/null
  n0=$(keys)

  same_err "check perf --load x: unknown load" check perf --load x
  same_err "check datascale --load huge: unknown load" check datascale --load huge
  same_err "check perf: the prefix has keys" check perf --prefix /mine/
  same_err "check datascale: the prefix has keys" check datascale --prefix /mine/
  [ "$(keys)" = "$n0" ]; ok $? "$V   ... nothing written, nothing deleted"

  # datascale --load s: etcdctl, then kscript (3.6: also compacting and defragmenting)
  extra=()
  [ "$name" = 3.6 ] && extra=(--auto-compact --auto-defrag)
  "$ETCDCTL" --endpoints "$S" check datascale "${extra[@]}" >"$t/e.out" 2>/dev/null; ec=$?
  [ "$(keys)" = "$n0" ]; ok $? "$V etcdctl check datascale ${extra[*]} leaves no key"
  if [ "$name" = 3.4 ]; then
    # on a terminal: the bar is drawn on it, the lines are the same
    script -qec "$K etcd --endpoints $S check datascale; echo rc=\$?" /dev/null >"$t/tty.out" </dev/null
    tr '\r' '\n' <"$t/tty.out" | tr -d '\033' | grep -av '^$' >"$t/tty.lines"
    grep -q '^10000 / 10000 \[-*\] 100\.00% [0-9]* p/s$' "$t/tty.lines"; ok $? "$V on a terminal, the bar reaches 10000 / 10000"
    grep -q '^[0-9]* / 10000 \[-*>_*\] ' "$t/tty.lines"; ok $? "$V   ... and is drawn on the way"
    grep -av ' / 10000 \[' "$t/tty.lines" | tr -d '\r' >"$t/k.out"; kc=$(sed -n 's/^rc=//p' "$t/k.out"); sed -i '/^rc=/d' "$t/k.out"
  else
    kscript etcd --endpoints "$S" check datascale "${extra[@]}" >"$t/k.out" 2>"$t/k.err"; kc=$?
    [ ! -s "$t/k.err" ]; ok $? "$V no bar on a pipe (stderr empty)"
  fi
  [ "$(keys)" = "$n0" ]; ok $? "$V kscript check datascale ${extra[*]} leaves no key"
  shape "$t/k.out" >"$t/k.shape"; shape "$t/e.out" >"$t/e.shape"
  cmp -s "$t/k.shape" "$t/e.shape" && [ "$kc" = "$ec" ]; ok $? "$V check datascale ${extra[*]}: the same lines as etcdctl, exit $ec"
  cmp -s "$t/k.shape" "$t/e.shape" || diff "$t/k.shape" "$t/e.shape" | sed 's/^/#   /'
  grep -q '^PASS: Approximate system memory used : -\?[0-9]*\.[0-9][0-9] MB\.$' "$t/k.out"; ok $? "$V   ... PASS: Approximate system memory used : N.NN MB."
  if [ "$name" = 3.6 ]; then
    grep -qx "Defragmented \"$S\"" "$t/k.out"; ok $? "$V   ... defragmented the endpoint as given"
  fi

  # Ctrl-C during check perf: the prefix is deleted, exit 130
  kscript etcd --endpoints "$S" check perf --prefix /int/ >"$t/int.out" 2>&1 &
  pid=$!
  for i in $(seq 1 100); do
    [ "$("$ETCDCTL" --endpoints "$S" get /int/ --prefix --count-only -w fields | sed -n 's/^"Count" : //p')" -gt 10 ] && break
    sleep 0.1
  done
  kill -INT $pid; wait $pid; rc=$?
  [ $rc = 130 ] && [ "$(keys)" = "$n0" ]; ok $? "$V check perf interrupted: exit 130, its keys deleted (exit $rc)"

  # the Lua API, with small overrides
  out=$(kscript -e "local c = etcd.connect{endpoints = '$S'}
    local r = assert(c:check_perf{prefix = '/lua-perf/', duration = 2, limit = 20, clients = 2})
    print(type(r.ok), r.load, r.count >= 30 and r.count <= 41, r.rps > 10, r.slowest >= 0, #r.lines, r.lines[#r.lines])
    local d = assert(c:check_datascale{prefix = '/lua-ds/', limit = 300, clients = 4, auto_compact = true})
    print(d.ok, type(d.mb_used), d.bytes_before > 0, d.lines[2]:match('^Compacting') ~= nil, d.lines[#d.lines]:match('^PASS') ~= nil)
    local x, e = c:check_perf{prefix = '/mine/'}
    print(x, e.kind, e.message)
    print(pcall(c.check_perf, c, {load = 'huge'}))" 2>&1)
  [ "$(sed -n 1p <<<"$out" | cut -f1-6)" = "boolean	s	true	true	true	4" ] &&
    sed -n 1p <<<"$out" | grep -Eq '	(PASS|FAIL)$' &&
    [ "$(sed -n 2p <<<"$out")" = "true	number	true	true	true" ] &&
    [ "$(sed -n 3p <<<"$out")" = "nil	exists	prefix \"/mine/\" has keys. Delete with 'etcdctl del --prefix /mine/' first" ] &&
    [ "$(sed -n 4p <<<"$out")" = "false	bad argument #1 to 'check_perf' (load: unknown load option huge; s, m, l or xl)" ] &&
    [ "$(keys)" = "$n0" ]
  r=$?
  ok $r "$V c:check_perf, c:check_datascale: results, errors, no key left"
  [ $r = 0 ] || echo "$out" | sed 's/^/#   /'
done

# check perf --load s: 60 s, both tools at once on etcd 3.6, each under its prefix
V="[etcd 3.6]"
S=$ETCD_EP_c3_6
n0=$(keys)
kscript etcd --endpoints "$S" check perf --prefix /k-perf/ --auto-compact --auto-defrag >"$t/kp.out" 2>"$t/kp.err" &
kp=$!
"$ETCDCTL" --endpoints "$S" check perf --prefix /e-perf/ --auto-compact --auto-defrag >"$t/ep.out" 2>/dev/null
ec=$?
wait $kp; kc=$?
[ "$(keys)" = "$n0" ]; ok $? "$V check perf: no key left by either tool"
shape "$t/kp.out" >"$t/k.shape"; shape "$t/ep.out" >"$t/e.shape"
cmp -s "$t/k.shape" "$t/e.shape"; ok $? "$V check perf --auto-compact --auto-defrag: the same lines as etcdctl"
cmp -s "$t/k.shape" "$t/e.shape" || diff "$t/k.shape" "$t/e.shape" | sed 's/^/#   /'
verdict "$t/ep.out" $ec; ok $? "$V   ... etcdctl's verdict follows its numbers (exit $ec)"
verdict "$t/kp.out" $kc; ok $? "$V   ... kscript's verdict follows its numbers (exit $kc)"
sed 's/^/#   kscript: /' "$t/kp.out"; sed 's/^/#   etcdctl: /' "$t/ep.out"
[ ! -s "$t/kp.err" ]; ok $? "$V   ... no bar on a pipe"
tap_done
