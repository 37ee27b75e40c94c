#!/usr/bin/env bash
# tests/bench/etcd-watch.sh [EVENTS]: `kscript etcd watch --prefix` against
# `etcdctl watch --prefix` (3.6) on etcd 3.6, side by side in one run: EVENTS
# (default 100,000) puts are made first, then each watcher replays them from
# their first revision (--rev) until it has printed every event; wall time,
# events per second and CPU per event (user+sys of the watcher), with ratios.
# The two outputs are checked identical.  Not a test: it prints numbers.
set -eu
export LC_ALL=C
unset ETCDCTL_API
cd "$(dirname "$0")/../.."
. tests/etcd/lib.sh
n=${1:-100000}
kscript=${KSCRIPT:-$PWD/build/kscript}
etcdctl=$(tests/etcd/build-etcdctl)
v36=$(etcd_versions | tr ' ' '\n' | sed -n 's/^3\.6=//p')
[ -n "$v36" ] || { echo "etcd 3.6 is missing (tests/env/build)" >&2; exit 1; }
etcd_start wbench "$v36" "" --quota-backend-bytes=4294967296 >&2
export ETCDCTL_ENDPOINTS=$ETCD_EP_wbench
t=$ETCD_TEST_TMP
rev0=$("$etcdctl" get / -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"] + 1)')
"$kscript" tests/bench/etcd-put.lua "$n" 4 /w 128 >&2
lines=$((n * 3)) # PUT, key, value

# run NAME CMD...: start the watcher, wait for all its lines (10 min at most), stop it
run() {
  local name=$1; shift
  local out=$t/$name.out
  local s0 s1
  : >"$out" # before the watcher starts: its redirection happens in the child, maybe after our first wc
  s0=$(date +%s.%N)
  "$@" >"$out" 2>"$t/$name.err" &
  local pid=$!
  while [ "$(wc -l <"$out")" -lt "$lines" ]; do
    kill -0 "$pid" 2>/dev/null || { echo "$name ended early: $(tail -2 "$t/$name.err")" >&2; return 1; }
    [ "$(awk -v a="$s0" -v b="$(date +%s.%N)" 'BEGIN {print (b - a > 600)}')" = 1 ] && { echo "$name: timed out" >&2; break; }
    sleep 0.02
  done
  s1=$(date +%s.%N)
  local ticks cpu
  ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  cpu=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.3f", t / hz}')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local secs
  secs=$(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.3f", b - a}')
  eval "T_$name=$secs C_$name=$cpu"
  printf '%-8s %d events in %7.3f s: %8.0f events/s, %6.2f us CPU per event\n' "$name" "$n" "$secs" \
    "$(awk -v n="$n" -v s="$secs" 'BEGIN {print n / s}')" "$(awk -v n="$n" -v c="$cpu" 'BEGIN {print c / n * 1e6}')"
}
run kscript "$kscript" etcd watch --prefix /w --rev "$rev0"
run etcdctl "$etcdctl" watch --prefix /w --rev "$rev0"
if cmp -s <(head -n "$lines" "$t/kscript.out") <(head -n "$lines" "$t/etcdctl.out"); then echo "outputs identical ($lines lines)"
else echo "OUTPUTS DIFFER"; fi
echo "watch: kscript/etcdctl wall $(awk -v a="$T_kscript" -v b="$T_etcdctl" 'BEGIN {printf "%.2f", a / b}')x," \
  "CPU $(awk -v a="$C_kscript" -v b="$C_etcdctl" 'BEGIN {printf "%.2f", a / b}')x"
. tests/bench/lib.sh
row "etcd watch replay, $n events: wall" s "$T_kscript" "etcdctl watch" "$T_etcdctl"
row "etcd watch replay, $n events: CPU" s "$C_kscript" "etcdctl watch" "$C_etcdctl"
