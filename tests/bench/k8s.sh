#!/usr/bin/env bash
# tests/bench/k8s.sh [RUNS]: kscript against the matching kubectl, with curl as
# the transport floor, on the test API server (tests/env), side by side in one
# run; medians of RUNS (default 5).  Not a test: prints numbers and ratios.
#   list:   5,000 ConfigMaps as -o json (same URL and Accept header for curl)
#   watch:  time until `get configmaps -w -o json` has printed 10,000 objects
#   replay: a resourceVersion=0 watch of the 10,000 objects into a Lua handler
#           that counts them (events/s, CPU per event), curl of the same URL
set -eu
export LC_ALL=C
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh
runs=${1:-5}
K=$PWD/kscript
started=
if [ -z "${KUBECONFIG:-}" ] || [ -z "${KSCRIPT_TEST_KUBECTL:-}" ]; then
  eval "$(tests/env/up)"
  started=1
fi
KC=$KSCRIPT_TEST_KUBECTL
tmp=$(mktemp -d)
cleanup() {
  $KC delete ns kscript-bench-a-$$ kscript-bench-b-$$ --wait=false >/dev/null 2>&1 || true
  rm -rf "$tmp"
  [ -n "$started" ] && tests/env/down >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "filling 2 x 5,000 ConfigMaps..." >&2
$KC create ns kscript-bench-a-$$ >/dev/null 2>&1 || true
$KC create ns kscript-bench-b-$$ >/dev/null 2>&1 || true
NS_A=kscript-bench-a-$$ NS_B=kscript-bench-b-$$ "$K" - <<'LUA'
local k = assert(k8s.connect())
local json = require "json"
local function fill(ns, n)
  local next_i, tasks = 0, {}
  for w = 1, 16 do
    tasks[w] = spawn(function()
      while next_i < n do
        next_i = next_i + 1
        local i = next_i
        local body = json.encode { apiVersion = "v1", kind = "ConfigMap",
          metadata = { name = ("cm-%05d"):format(i), labels = { bench = "1", app = "web-" .. (i % 7) },
                       annotations = { note = ("annotation %d"):format(i) } },
          data = { ["config.yaml"] = ("key: value-%d\nother: %s\n"):format(i, ("x"):rep(200)), index = tostring(i) } }
        local obj, err = k:raw_request { method = "POST", path = "/api/v1/namespaces/" .. ns .. "/configmaps",
                                         headers = { ["Content-Type"] = "application/json" }, body = body }
        if obj == nil and err.status ~= 409 then error(err) end -- 409: left from an earlier run
      end
    end)
  end
  for _, t in ipairs(tasks) do t:wait() end
end
fill(os.getenv("NS_A"), 5000)
fill(os.getenv("NS_B"), 5000)
LUA

median() { sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.3f", m}'; }
# measure NAME cmd...: wall seconds, peak RSS (kB) and CPU seconds (user+sys) medians
declare -A T R C
measure() {
  local name=$1; shift
  local ts=() rs=() cs=()
  for _ in $(seq "$runs"); do
    run_measured "$tmp/t" "$@" || true
    read -r e m c < "$tmp/t"
    ts+=("$e"); rs+=("$m"); cs+=("$c")
  done
  T[$name]=$(printf '%s\n' "${ts[@]}" | median)
  R[$name]=$(printf '%s\n' "${rs[@]}" | median)
  C[$name]=$(printf '%s\n' "${cs[@]}" | median)
  printf '%-44s %8.3f s %9.1f MB %7.3f s CPU  (runs: %s)\n' "$name" "${T[$name]}" "$(echo "${R[$name]}" | awk '{print $1/1024}')" "${C[$name]}" "${ts[*]}"
}
mb() { awk -v k="${R[$1]}" 'BEGIN {printf "%.1f", k / 1024}'; }

server=$KSCRIPT_TEST_APISERVER
url="$server/api/v1/namespaces/kscript-bench-a-$$/configmaps"
# -A: the API server pretty-prints JSON for a User-Agent starting with "curl",
# which would make the floor a bigger response than the one kscript reads
curl_auth=(-A kscript-bench-floor --cacert "$KSCRIPT_TEST_CA" --cert "$KSCRIPT_TEST_ADMIN_CERT" --key "$KSCRIPT_TEST_ADMIN_KEY")
echo "== list 5,000 ConfigMaps as JSON"
A=kscript-bench-a-$$
measure "kscript get cm -n A -o json" "$K" get configmaps -n $A -o json
measure "kubectl get cm -n A -o json" $KC get configmaps -n $A -o json
measure "kscript get cm -n A -o json --chunk-size 0" "$K" get configmaps -n $A -o json --chunk-size 0
measure "kubectl get cm -n A -o json --chunk-size 0" $KC get configmaps -n $A -o json --chunk-size 0
measure "kscript get cm -n A -o yaml" "$K" get configmaps -n $A -o yaml
measure "kubectl get cm -n A -o yaml" $KC get configmaps -n $A -o yaml
measure "curl (same URL, one request)" curl -sS --fail "${curl_auth[@]}" -H 'Accept: application/json' "$url"
for o in json yaml; do
  "$K" get configmaps -n $A -o $o > "$tmp/k.$o"
  $KC get configmaps -n $A -o $o > "$tmp/c.$o"
  cmp -s "$tmp/k.$o" "$tmp/c.$o" && echo "-o $o outputs identical ($(wc -c < "$tmp/k.$o") bytes)" || echo "-o $o OUTPUTS DIFFER"
done
k="kscript get cm -n A"; c="kubectl get cm -n A"; f="curl (same URL, one request)"
row "get cm -o json, 5,000 (pages of 500): wall" s "${T[$k -o json]}" kubectl "${T[$c -o json]}" "curl, one request" "${T[$f]}"
row "get cm -o json, 5,000 (pages of 500): CPU" s "${C[$k -o json]}" kubectl "${C[$c -o json]}" "curl, one request" "${C[$f]}"
row "get cm -o json, 5,000 (pages of 500): RSS" MB "$(mb "$k -o json")" kubectl "$(mb "$c -o json")" "curl, one request" "$(mb "$f")"
row "get cm -o json --chunk-size 0: wall" s "${T[$k -o json --chunk-size 0]}" kubectl "${T[$c -o json --chunk-size 0]}" "curl, one request" "${T[$f]}"
row "get cm -o json --chunk-size 0: CPU" s "${C[$k -o json --chunk-size 0]}" kubectl "${C[$c -o json --chunk-size 0]}" "curl, one request" "${C[$f]}"
row "get cm -o json --chunk-size 0: RSS" MB "$(mb "$k -o json --chunk-size 0")" kubectl "$(mb "$c -o json --chunk-size 0")" "curl, one request" "$(mb "$f")"
row "get cm -o yaml, 5,000: wall" s "${T[$k -o yaml]}" kubectl "${T[$c -o yaml]}" "curl, one request" "${T[$f]}"
row "get cm -o yaml, 5,000: RSS" MB "$(mb "$k -o yaml")" kubectl "$(mb "$c -o yaml")" "curl, one request" "$(mb "$f")"

# until N PATTERN NAME cmd...: run cmd (a stream that never ends by itself)
# until its output has N lines matching PATTERN, then stop it; median wall
# time (and peak RSS of cmd) over $runs runs
until_n() {
  local n=$1 pat=$2 name=$3; shift 3
  local ts=() rs=() i s e
  for i in $(seq "$runs"); do
    : > "$tmp/stream"
    s=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$tmp/rss" "$@" >"$tmp/stream" 2>/dev/null &
    local tp=$! waited=0
    # poll the output file (a pipe reader would add its own buffering)
    while [ "$(grep -c -E -- "$pat" "$tmp/stream")" -lt "$n" ] && [ $waited -lt 6000 ]; do
      sleep 0.01; waited=$((waited + 1))
    done
    e=$(date +%s%N)
    pkill -TERM -P "$tp" 2>/dev/null || true
    wait "$tp" 2>/dev/null || true
    ts+=("$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')")
    rs+=("$(tail -1 "$tmp/rss" 2>/dev/null | grep -E '^[0-9]+$' || echo 0)")
  done
  T[$name]=$(printf '%s\n' "${ts[@]}" | median)
  R[$name]=$(printf '%s\n' "${rs[@]}" | median)
  printf '%-40s %8.3f s %9.1f MB   (runs: %s)\n' "$name" "${T[$name]}" "$(echo "${R[$name]}" | awk '{print $1/1024}')" "${ts[*]}"
}

echo "== get -w -o json: time until all 10,000 objects are printed"
obj='^    (    ){0,2}"kind": "ConfigMap",?$'   # kubectl nests Lists for lists over one chunk
until_n 10000 "$obj" "kscript get cm -A -l bench=1 -w -o json" "$K" get configmaps -A -l bench=1 -w -o json
until_n 10000 "$obj" "kubectl get cm -A -l bench=1 -w -o json" $KC get configmaps -A -l bench=1 -w -o json

echo "== resourceVersion=0 watch replay of 10,000 objects into a counting handler"
cat > "$tmp/replay.lua" <<'LUA'
local k = assert(k8s.connect())
local n = 0
for ev in k:watch("configmaps", { all_namespaces = true, labelSelector = "bench=1", resourceVersion = "0" }) do
  if ev.type == "ADDED" then n = n + 1 end
  if n >= 10000 then break end
end
os.exit(n == 10000 and 0 or 1)
LUA
measure "kscript watch rv=0 -> Lua handler" "$K" "$tmp/replay.lua"
wurl="$server/api/v1/configmaps?watch=1&resourceVersion=0&labelSelector=bench%3D1"
until_n 10000 '"type":"ADDED"' "curl watch rv=0 (floor)" curl -sS -N "${curl_auth[@]}" -H 'Accept: application/json' "$wurl"
for name in "kscript watch rv=0 -> Lua handler" "curl watch rv=0 (floor)"; do
  awk -v t="${T[$name]}" -v nm="$name" 'BEGIN { printf "%-40s %8.0f events/s (process start included)\n", nm, 10000 / t }'
done
/usr/bin/time -f "%U %S" -o "$tmp/cpu" "$K" "$tmp/replay.lua" 2>/dev/null
awk '{ printf "kscript CPU per event: %.1f us (user+sys %.3f s / 10,000, start-up included)\n", ($1 + $2) * 1e6 / 10000, $1 + $2 }' "$tmp/cpu"

row "get cm -A -w -o json to 10,000 objects: wall" s "${T[kscript get cm -A -l bench=1 -w -o json]}" kubectl "${T[kubectl get cm -A -l bench=1 -w -o json]}"
row "get cm -A -w -o json to 10,000 objects: RSS" MB "$(mb "kscript get cm -A -l bench=1 -w -o json")" kubectl "$(mb "kubectl get cm -A -l bench=1 -w -o json")"
row "watch replay rv=0, 10,000 events: wall" s "${T[kscript watch rv=0 -> Lua handler]}" - - "curl watch" "${T[curl watch rv=0 (floor)]}"
echo
r() { awk -v a="${T[$1]}" -v b="${T[$2]}" -v ra="${R[$1]}" -v rb="${R[$2]}" -v l="$3" 'BEGIN { printf "%-48s time %.2fx, RSS %.2fx\n", l, a / b, ra / rb }'; }
r "kscript get cm -n A -o json" "kubectl get cm -n A -o json" "list -o json, kscript / kubectl (target 0.5x, 0.25x):"
r "kscript get cm -n A -o json" "curl (same URL, one request)" "list, kscript / curl floor:"
r "kscript get cm -A -l bench=1 -w -o json" "kubectl get cm -A -l bench=1 -w -o json" "get -w to 10,000 objects, kscript / kubectl:"
r "kscript watch rv=0 -> Lua handler" "curl watch rv=0 (floor)" "watch replay, kscript / curl floor:"
