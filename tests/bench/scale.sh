#!/usr/bin/env bash
# tests/bench/scale.sh [RUNS]: issue 10's benchmark on the populated cluster of the
# scale preset (tests/env/up --nodes 1000 --pods 30000): `get pods -A -o json` and
# `get pods -A` (table), kscript against the matching kubectl, with curl as the
# transport floor, side by side in one run. Wall time and peak RSS
# (/usr/bin/time -f '%e %M'), medians of RUNS (default 3; the commands take turns,
# so a change of load hits them all), then the ratios and the load average.
#   paging   kscript and kubectl page in chunks of 500 (both default to
#            --chunk-size 500: 60 requests for 30,000 pods); curl asks once for
#            everything (no limit), with a non-curl User-Agent (-A) so the server
#            does not pretty-print the JSON it sends.
#   table    kscript and kubectl ask for server-side Tables (chunks of 500); curl
#            asks once for the Table (Accept: ...;as=Table;g=meta.k8s.io;v=v1).
# Cluster: the running environment if it is a scale preset ($KSCRIPT_TEST_SCALE_PODS
# > 0), else tests/env/up --nodes $KSCRIPT_ENV_NODES --pods $KSCRIPT_ENV_PODS
# (default 1000/30000) under a pointer of its own ($KSCRIPT_BENCH_ENV, default
# ${TMPDIR:-/tmp}/kscript-env.scale-bench), stopped again at the end. The first such
# up builds the cluster (many minutes) and saves its etcd snapshot; later ones
# restore it (tests/env/README, "Scale preset"). Not a test: no number fails it.
set -eu
export LC_ALL=C
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh
runs=${1:-3}
K=${KSCRIPT:-$PWD/build/kscript}
[ -x "$K" ] || { echo "tests/bench/scale.sh: $K is not built (make)" >&2; exit 1; }
started=
if [ -z "${KUBECONFIG:-}" ] || [ "${KSCRIPT_TEST_SCALE_PODS:-0}" = 0 ]; then
  export KSCRIPT_ENV_CURRENT=${KSCRIPT_BENCH_ENV:-${TMPDIR:-/tmp}/kscript-env.scale-bench}
  envsh=$(tests/env/up --nodes "${KSCRIPT_ENV_NODES:-1000}" --pods "${KSCRIPT_ENV_PODS:-30000}")
  eval "$envsh"
  started=1
fi
KC=$KSCRIPT_TEST_KUBECTL
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; [ -z "$started" ] || tests/env/down >/dev/null 2>&1 || true; }
trap cleanup EXIT

url="$KSCRIPT_TEST_APISERVER/api/v1/pods"
curl_auth=(--cacert "$KSCRIPT_TEST_CA" --cert "$KSCRIPT_TEST_ADMIN_CERT" --key "$KSCRIPT_TEST_ADMIN_KEY" -A kscript-bench)
names=(kscript-json kubectl-json curl-json kscript-table kubectl-table curl-table)
declare -A label=(
  [kscript-json]="kscript get pods -A -o json" [kubectl-json]="kubectl get pods -A -o json"
  [curl-json]="curl, one request (JSON)" [kscript-table]="kscript get pods -A"
  [kubectl-table]="kubectl get pods -A" [curl-table]="curl, one request (Table)")
cmd() { # name: run it under /usr/bin/time (wall s, peak RSS kB into $tmp/t), output to stdout
  local tm=(/usr/bin/time -f '%e %M' -o "$tmp/t")
  case $1 in
    kscript-json) "${tm[@]}" "$K" get pods -A -o json ;;
    kubectl-json) "${tm[@]}" "$KC" get pods -A -o json ;;
    curl-json) "${tm[@]}" curl -sS --fail "${curl_auth[@]}" -H 'Accept: application/json' "$url" ;;
    kscript-table) "${tm[@]}" "$K" get pods -A ;;
    kubectl-table) "${tm[@]}" "$KC" get pods -A ;;
    curl-table) "${tm[@]}" curl -sS --fail "${curl_auth[@]}" -H 'Accept: application/json;as=Table;g=meta.k8s.io;v=v1' "$url" ;;
  esac
}
median() { sort -n | awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.3f", m }'; }

load0=$(cut -d' ' -f1-3 /proc/loadavg)
count() { # resource: how many, from one list of limit 1
  curl -sS --fail "${curl_auth[@]}" "$KSCRIPT_TEST_APISERVER/api/v1/$1?limit=1" | jq '(.metadata.remainingItemCount // 0) + (.items | length)'
}
npods=$(count pods)
echo "== $npods pods, $(count nodes) nodes (kube-apiserver $KSCRIPT_TEST_K8S_VERSION), $runs runs each, load average $load0"
declare -A ts rs lines
for ((i = 1; i <= runs; i++)); do
  for n in "${names[@]}"; do
    cmd "$n" >"$tmp/out" 2>"$tmp/err" ||
      { echo "tests/bench/scale.sh: $n failed:" >&2; tail -3 "$tmp/err" >&2; }
    read -r e m < <(tail -1 "$tmp/t")
    ts[$n]+="$e " rs[$n]+="$m "
    lines[$n]=$(wc -l < "$tmp/out")
    if [ "$i" = 1 ] && [ "${n%-json}" != "$n" ]; then jq '.items | length' < "$tmp/out" > "$tmp/items-$n" 2>/dev/null || echo "?" > "$tmp/items-$n"; fi
  done
done
declare -A T R
for n in "${names[@]}"; do
  T[$n]=$(tr ' ' '\n' <<< "${ts[$n]}" | grep . | median)
  R[$n]=$(tr ' ' '\n' <<< "${rs[$n]}" | grep . | median)
  printf '%-30s %8.3f s %8.1f MB  %8d lines  (runs: %s)\n' "${label[$n]}" "${T[$n]}" \
    "$(awk -v r="${R[$n]}" 'BEGIN { print r / 1024 }')" "${lines[$n]}" "${ts[$n]% }"
done
echo "   items in the JSON: kscript $(cat "$tmp/items-kscript-json"), kubectl $(cat "$tmp/items-kubectl-json"), curl $(cat "$tmp/items-curl-json")"
ratio() { awk -v a="${T[$1]}" -v b="${T[$2]}" -v c="${R[$1]}" -v d="${R[$2]}" -v n="$3" \
  'BEGIN { printf "  %-26s time %.2fx  RSS %.2fx\n", n, a / b, c / d }'; }
echo "== ratios (targets for -o json: at most 0.3x kubectl's time and 0.2x its RSS, within 2x curl's time)"
ratio kscript-json kubectl-json "kscript/kubectl -o json"
ratio kscript-json curl-json "kscript/curl -o json"
ratio kscript-table kubectl-table "kscript/kubectl table"
ratio kscript-table curl-table "kscript/curl table"
echo "== load average: $load0 before, $(cut -d' ' -f1-3 /proc/loadavg) after"
mb() { awk -v r="$1" 'BEGIN { printf "%.1f", r / 1024 }'; }
row "scale: get pods -A -o json ($npods pods)" s "${T[kscript-json]}" "kubectl -o json" "${T[kubectl-json]}" "curl (1 request)" "${T[curl-json]}"
row "scale: get pods -A -o json, peak RSS" MB "$(mb "${R[kscript-json]}")" "kubectl -o json" "$(mb "${R[kubectl-json]}")" "curl (1 request)" "$(mb "${R[curl-json]}")"
row "scale: get pods -A (table)" s "${T[kscript-table]}" "kubectl" "${T[kubectl-table]}" "curl (1 request)" "${T[curl-table]}"
row "scale: get pods -A (table), peak RSS" MB "$(mb "${R[kscript-table]}")" "kubectl" "$(mb "${R[kubectl-table]}")" "curl (1 request)" "$(mb "${R[curl-table]}")"
