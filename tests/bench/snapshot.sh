#!/usr/bin/env bash
# tests/bench/snapshot.sh [RUNS]: reading a snapshot file against reading the
# live etcd it came from: 100,000 Kubernetes-shaped keys (~800-byte values)
# in etcd 3.6 (3.4 when 3.6 is not built) on loopback, `etcdctl snapshot
# save`, then side by side in one run: `kscript dump-keys --snapshot F`, the
# same dump from the live etcd, and `etcdctl get --prefix --keys-only`; keys
# only and with values; medians of RUNS (default 5) runs of wall time and
# peak RSS (/usr/bin/time -f %M), with ratios.  Not a test: it prints numbers.
# The snapshot reads include checking the file's sha256 and indexing every
# revision; the file's pages are mapped, and the ones read count in the RSS.
#   KSCRIPT=path (default build/kscript)
set -eu
export LC_ALL=C
cd "$(dirname "$0")/../.."
. tests/etcd/lib.sh
runs=${1:-5}
kscript=${KSCRIPT:-$PWD/build/kscript}
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
bin=/usr/bin/etcd
for v in $(etcd_versions); do [ "${v%%=*}" = 3.6 ] && bin=${v#*=}; done
etcdctl=$(tests/etcd/build-etcdctl 2>/dev/null) || etcdctl=etcdctl
etcd_start bench "$bin" >&2
export ETCDCTL_ENDPOINTS=$ETCD_EP_bench ETCDCTL_API=3
echo "etcd $("$bin" --version | head -1 | awk '{print $3}') at $ETCD_EP_bench; filling 100,000 keys..." >&2
"$kscript" tests/etcd/fill.lua 100000 800
t=$ETCD_TEST_TMP
"$etcdctl" snapshot save "$t/s.db" >/dev/null 2>&1
echo "snapshot: $(stat -c %s "$t/s.db") bytes; load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

measure() { /usr/bin/time -f "%e %M" -o "$t/time" "$@" >/dev/null 2>"$t/stderr" || { cat "$t/stderr" >&2; return 1; }; cat "$t/time"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
declare -A T R
bench() { # bench NAME CMD...
  local name=$1; shift
  local i out secs=() kbs=()
  for i in $(seq 1 "$runs"); do
    out=$(measure "$@")
    secs+=("${out% *}"); kbs+=("${out#* }")
  done
  T[$name]=$(printf '%s\n' "${secs[@]}" | median)
  R[$name]=$(printf '%s\n' "${kbs[@]}" | median)
  printf '%-34s %8.3f s %9.1f MB   (runs: %s)\n' "$name" "${T[$name]}" "$(echo "${R[$name]}" | awk '{print $1/1024}')" "${secs[*]}"
}
# the outputs agree before anything is timed
"$kscript" dump-keys --snapshot "$t/s.db" >"$t/a"; "$kscript" dump-keys >"$t/b"
cmp -s "$t/a" "$t/b" || { echo "dump-keys --snapshot and the live dump differ" >&2; exit 1; }

echo "== keys only (100,000 keys)"
bench "dump-keys --snapshot" "$kscript" dump-keys --snapshot "$t/s.db"
bench "dump-keys (live etcd)" "$kscript" dump-keys
bench "etcdctl get --prefix --keys-only" "$etcdctl" get /registry --prefix --keys-only
bench "etcd --snapshot get --keys-only" "$kscript" etcd --snapshot "$t/s.db" get /registry --prefix --keys-only
echo "== with values (~80 MB)"
bench "dump-keys --snapshot --values" "$kscript" dump-keys --snapshot "$t/s.db" --values
bench "dump-keys --values (live etcd)" "$kscript" dump-keys --values
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "dump-keys --snapshot / live dump-keys:           time $(ratio "${T[dump-keys --snapshot]}" "${T[dump-keys (live etcd)]}")x," \
  "RSS $(ratio "${R[dump-keys --snapshot]}" "${R[dump-keys (live etcd)]}")x"
echo "dump-keys --snapshot / etcdctl --keys-only:      time $(ratio "${T[dump-keys --snapshot]}" "${T[etcdctl get --prefix --keys-only]}")x," \
  "RSS $(ratio "${R[dump-keys --snapshot]}" "${R[etcdctl get --prefix --keys-only]}")x"
echo "dump-keys --snapshot --values / live --values:   time $(ratio "${T[dump-keys --snapshot --values]}" "${T[dump-keys --values (live etcd)]}")x," \
  "RSS $(ratio "${R[dump-keys --snapshot --values]}" "${R[dump-keys --values (live etcd)]}")x"
