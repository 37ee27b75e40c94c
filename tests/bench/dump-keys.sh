#!/usr/bin/env bash
# tests/bench/dump-keys.sh [RUNS]: kscript dump-keys against etcdctl on 100,000
# Kubernetes-shaped keys (~800-byte values) in etcd 3.4 on loopback, side by
# side in one run; medians of RUNS (default 5) runs of wall time and peak RSS
# (/usr/bin/time -f %M), with ratios.  Not a test: it prints numbers.
#   KSCRIPT=path (default build/kscript), ETCD=path (default /usr/bin/etcd)
set -eu
export LC_ALL=C ETCDCTL_API=3
cd "$(dirname "$0")/../.."
. tests/etcd/lib.sh
runs=${1:-5}
kscript=${KSCRIPT:-$PWD/build/kscript}
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
etcd_start bench "${ETCD:-/usr/bin/etcd}" >&2
export ETCDCTL_ENDPOINTS=$ETCD_EP_bench
ep=$ETCD_EP_bench
echo "etcd $("${ETCD:-/usr/bin/etcd}" --version | head -1 | awk '{print $3}') at $ep; filling 100,000 keys..." >&2
"$kscript" tests/etcd/fill.lua 100000 800
"$kscript" tests/etcd/fill.lua 2000 800 /seed/registry
t=$ETCD_TEST_TMP

# one measurement: prints "seconds KB"
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
  printf '%-28s %8.3f s %9.1f MB   (runs: %s)\n' "$name" "${T[$name]}" "$(echo "${R[$name]}" | awk '{print $1/1024}')" "${secs[*]}"
}
# the hand-encoded RangeRequest for /registry (keys only / with values), as curl sends it
printf '\0\0\0\0\x18\x0a\x09/registry\x12\x09/registrz\x40\x01' >"$t/range-keys.bin"
printf '\0\0\0\0\x16\x0a\x09/registry\x12\x09/registrz' >"$t/range-values.bin"
grpc_curl() { curl -s --http2-prior-knowledge -H 'content-type: application/grpc' -H 'te: trailers' \
  --data-binary @"$1" "$ep/etcdserverpb.KV/Range" -o /dev/null; }
seed_pipeline() { # the seed's script: JSON, pretty-printed, grep, base64 -d per key
  etcdctl get /seed/registry --prefix -w json | python3 -m json.tool | grep '"key"' | cut -d'"' -f4 |
    while read -r k; do echo "$k" | base64 -d; echo; done
}
export -f seed_pipeline; export ep

echo "== keys only (100,000 keys)"
bench "kscript dump-keys" "$kscript" dump-keys
bench "etcdctl --keys-only" etcdctl get /registry --prefix --keys-only
bench "curl gRPC Range (floor)" bash -c "$(declare -f grpc_curl); grpc_curl $t/range-keys.bin"
echo "== with values (~80 MB)"
bench "kscript dump-keys --values" "$kscript" dump-keys --values
bench "etcdctl -w json" etcdctl get /registry --prefix -w json
bench "etcdctl (values, simple)" etcdctl get /registry --prefix
bench "curl gRPC Range+values" bash -c "$(declare -f grpc_curl); grpc_curl $t/range-values.bin"
echo "== the seed's pipeline (2,000 keys, x50)"
runs_saved=$runs; runs=1
bench "seed pipeline 2k" bash -c seed_pipeline
runs=$runs_saved
seed100k=$(awk -v s="${T[seed pipeline 2k]}" 'BEGIN {print s * 50}')
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "dump-keys / etcdctl --keys-only:        time $(ratio "${T[kscript dump-keys]}" "${T[etcdctl --keys-only]}")x (target <= 0.9)," \
  "RSS $(ratio "${R[kscript dump-keys]}" "${R[etcdctl --keys-only]}")x (target <= 0.5)"
echo "dump-keys --values / etcdctl -w json:   time $(ratio "${T[kscript dump-keys --values]}" "${T[etcdctl -w json]}")x (target <= 0.5)," \
  "RSS $(ratio "${R[kscript dump-keys --values]}" "${R[etcdctl -w json]}")x (target <= 0.1)"
. tests/bench/lib.sh
row "dump-keys, 100,000 keys: wall" s "${T[kscript dump-keys]}" "etcdctl --keys-only" "${T[etcdctl --keys-only]}" "curl gRPC Range" "${T[curl gRPC Range (floor)]}"
row "dump-keys, 100,000 keys: RSS" MB "$(awk -v k="${R[kscript dump-keys]}" 'BEGIN {printf "%.1f", k/1024}')" "etcdctl --keys-only" "$(awk -v k="${R[etcdctl --keys-only]}" 'BEGIN {printf "%.1f", k/1024}')" "curl gRPC Range" "$(awk -v k="${R[curl gRPC Range (floor)]}" 'BEGIN {printf "%.1f", k/1024}')"
row "dump-keys --values (~80 MB): wall" s "${T[kscript dump-keys --values]}" "etcdctl -w json" "${T[etcdctl -w json]}" "curl gRPC Range+values" "${T[curl gRPC Range+values]}"
echo "seed pipeline scaled to 100,000 keys:   ${seed100k} s; dump-keys is $(ratio "$seed100k" "${T[kscript dump-keys]}")x faster"
