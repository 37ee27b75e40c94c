#!/usr/bin/env bash
# tests/bench/pods.sh [RUNS]: `get pods -A` on a populated cluster (the scale
# preset: tests/env/up --nodes 1000 --pods 30000), kscript against the matching
# kubectl, with curl as the transport floor, side by side in one run; medians of
# RUNS (default 3) of wall time and peak RSS, then ratios. Not a test.
#   -o json  kscript and kubectl page in chunks of 500 (both default to
#            --chunk-size 500); curl asks once for everything (no limit), with
#            a non-curl User-Agent so the server does not pretty-print.
#   table    kscript and kubectl ask for server-side Tables (chunks of 500);
#            curl asks once for the Table (Accept: ...;as=Table).
# Uses the running environment ($KUBECONFIG ...) or starts the scale preset
# (KSCRIPT_ENV_NODES/KSCRIPT_ENV_PODS, default 1000/30000) and stops it after.
set -eu
export LC_ALL=C
cd "$(dirname "$0")/../.."
runs=${1:-3}
K=$PWD/kscript
started=
if [ -z "${KUBECONFIG:-}" ] || [ -z "${KSCRIPT_TEST_KUBECTL:-}" ]; then
  envsh=$(tests/env/up --nodes "${KSCRIPT_ENV_NODES:-1000}" --pods "${KSCRIPT_ENV_PODS:-30000}")
  eval "$envsh"
  started=1
fi
KC=$KSCRIPT_TEST_KUBECTL
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; [ -z "$started" ] || tests/env/down >/dev/null 2>&1 || true; }
trap cleanup EXIT

median() { sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.3f", m}'; }
declare -A T R
measure() { # name cmd...: wall seconds and peak RSS (kB), medians of $runs
  local name=$1; shift
  local ts=() rs=() e m
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$tmp/t" "$@" >"$tmp/out" 2>"$tmp/err" || cat "$tmp/err" >&2
    read -r e m < "$tmp/t"
    ts+=("$e"); rs+=("$m")
  done
  T[$name]=$(printf '%s\n' "${ts[@]}" | median)
  R[$name]=$(printf '%s\n' "${rs[@]}" | median)
  printf '%-34s %8.3f s %9.1f MB  %8d lines  (runs: %s)\n' "$name" "${T[$name]}" \
    "$(awk -v r="${R[$name]}" 'BEGIN { print r / 1024 }')" "$(wc -l < "$tmp/out")" "${ts[*]}"
}
ratio() { awk -v a="${T[$1]}" -v b="${T[$2]}" -v c="${R[$1]}" -v d="${R[$2]}" -v n="$3" \
  'BEGIN { printf "  %-44s time %.2fx  RSS %.2fx\n", n, a / b, c / d }'; }

n=$($KC get pods -A --no-headers 2>/dev/null | wc -l)
echo "== $n pods, $($KC get nodes --no-headers | wc -l) nodes (kube-apiserver $KSCRIPT_TEST_K8S_VERSION)"
url="$KSCRIPT_TEST_APISERVER/api/v1/pods"
curl_auth=(--cacert "$KSCRIPT_TEST_CA" --cert "$KSCRIPT_TEST_ADMIN_CERT" --key "$KSCRIPT_TEST_ADMIN_KEY" -A kscript-bench)
echo "== get pods -A -o json"
measure "kscript get pods -A -o json" "$K" get pods -A -o json
measure "kubectl get pods -A -o json" "$KC" get pods -A -o json
measure "curl (one request, JSON)" curl -sS --fail "${curl_auth[@]}" -H 'Accept: application/json' "$url"
echo "== get pods -A (table)"
measure "kscript get pods -A" "$K" get pods -A
measure "kubectl get pods -A" "$KC" get pods -A
measure "curl (one request, Table)" curl -sS --fail "${curl_auth[@]}" \
  -H 'Accept: application/json;as=Table;g=meta.k8s.io;v=v1' "$url"
echo "== ratios (targets: -o json at most 0.3x kubectl's time and 0.2x its RSS, within 2x curl's time)"
ratio "kscript get pods -A -o json" "kubectl get pods -A -o json" "kscript/kubectl -o json"
ratio "kscript get pods -A -o json" "curl (one request, JSON)" "kscript/curl -o json"
ratio "kscript get pods -A" "kubectl get pods -A" "kscript/kubectl table"
ratio "kscript get pods -A" "curl (one request, Table)" "kscript/curl table"
