#!/usr/bin/env bash
# tests/bench/dump-keys.sh [RUNS]: kscript dump-keys against etcdctl on 100,000
# Kubernetes-shaped keys (~800-byte values) in etcd 3.4 on loopback, side by
# side in one run; medians of RUNS (default 5) rounds, each running every
# command of a group once (interleaved, so drifting load hits all alike), of
# wall time, CPU and peak RSS, with ratios.  Not a test: it prints numbers.
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

. tests/bench/lib.sh
declare -A T R C CMD
GROUP=()
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
run_group
echo "== with values (~80 MB)"
bench "kscript dump-keys --values" "$kscript" dump-keys --values
bench "etcdctl -w json" etcdctl get /registry --prefix -w json
bench "etcdctl (values, simple)" etcdctl get /registry --prefix
bench "curl gRPC Range+values" bash -c "$(declare -f grpc_curl); grpc_curl $t/range-values.bin"
run_group
echo "== the seed's pipeline (2,000 keys, x50)"
runs_saved=$runs; runs=1
bench "seed pipeline 2k" bash -c seed_pipeline
run_group
runs=$runs_saved
seed100k=$(awk -v s="${T[seed pipeline 2k]}" 'BEGIN {print s * 50}')
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "dump-keys / etcdctl --keys-only:        time $(ratio "${T[kscript dump-keys]}" "${T[etcdctl --keys-only]}")x (target <= 0.9)," \
  "RSS $(ratio "${R[kscript dump-keys]}" "${R[etcdctl --keys-only]}")x (target <= 0.5)"
echo "dump-keys --values / etcdctl -w json:   time $(ratio "${T[kscript dump-keys --values]}" "${T[etcdctl -w json]}")x (target <= 0.5)," \
  "RSS $(ratio "${R[kscript dump-keys --values]}" "${R[etcdctl -w json]}")x (target <= 0.1)"
echo "dump-keys / gRPC floor:                 wall $(ratio "${T[kscript dump-keys]}" "${T[curl gRPC Range (floor)]}")x (target <= 1.1)," \
  "--values $(ratio "${T[kscript dump-keys --values]}" "${T[curl gRPC Range+values]}")x (target <= 1.5);" \
  "CPU $(ratio "${C[kscript dump-keys]}" "${C[curl gRPC Range (floor)]}")x, $(ratio "${C[kscript dump-keys --values]}" "${C[curl gRPC Range+values]}")x"
row "dump-keys, 100,000 keys: wall" s "${T[kscript dump-keys]}" "etcdctl --keys-only" "${T[etcdctl --keys-only]}" "curl gRPC Range" "${T[curl gRPC Range (floor)]}"
row "dump-keys, 100,000 keys: RSS" MB "$(awk -v k="${R[kscript dump-keys]}" 'BEGIN {printf "%.1f", k/1024}')" "etcdctl --keys-only" "$(awk -v k="${R[etcdctl --keys-only]}" 'BEGIN {printf "%.1f", k/1024}')" "curl gRPC Range" "$(awk -v k="${R[curl gRPC Range (floor)]}" 'BEGIN {printf "%.1f", k/1024}')"
row "dump-keys --values (~80 MB): wall" s "${T[kscript dump-keys --values]}" "etcdctl -w json" "${T[etcdctl -w json]}" "curl gRPC Range+values" "${T[curl gRPC Range+values]}"
row "dump-keys --values (~80 MB): CPU" s "${C[kscript dump-keys --values]}" "etcdctl -w json" "${C[etcdctl -w json]}" "curl gRPC Range+values" "${C[curl gRPC Range+values]}"
echo "seed pipeline scaled to 100,000 keys:   ${seed100k} s; dump-keys is $(ratio "$seed100k" "${T[kscript dump-keys]}")x faster"
