#!/usr/bin/env bash
# tests/bench/write.sh [N] [LOOP] [ROUNDS]: create, then patch, then delete N
# (default 500) ConfigMaps, side by side in one run on the test API server
# (tests/env), ROUNDS (default 3) rounds alternating the tools, medians shown:
#   kscript Lua   one script: N k:create, N k:patch, N k:delete from concurrent
#                 tasks on the loop (client.max_in_flight in flight)
#   kscript cmds  kscript apply -f (N documents), apply -f (changed), delete -f
#   kubectl       kubectl apply --server-side -f (N documents), again changed, delete -f
#   kubectl loop  a shell loop of `kubectl create -f` of one object, LOOP
#                 objects (default 100; one process per object)
# For each: requests per second per phase, peak RSS, the client's own CPU
# (user + system) and the API server's and etcd's CPU, each in ms per
# request, whether kubectl throttled itself (client-go logs "Waited before
# sending request" at -v=3 for any wait over 50 ms: counted), the load
# average, and the ratios. The Lua script also patches once more with one
# request in flight (patch-seq): if that is as fast as 32 in flight, the
# server, not the client, is the bound. The API server may be shared with
# other users (tests/env of someone else): its CPU then includes theirs.
# Not a test: prints numbers.
set -eu
export LC_ALL=C
cd "$(dirname "$0")/../.."
N=${1:-500}
LOOP=${2:-100}
ROUNDS=${3:-3}
K=$PWD/kscript
started=
if [ -z "${KUBECONFIG:-}" ] || [ -z "${KSCRIPT_TEST_KUBECTL:-}" ]; then
  eval "$(tests/env/up)"
  started=1
fi
KC=$KSCRIPT_TEST_KUBECTL
ns=kscript-bench-w-$$
tmp=$(mktemp -d)
cleanup() {
  $KC delete ns "$ns" --wait=false >/dev/null 2>&1 || true
  rm -rf "$tmp"
  [ -n "$started" ] && tests/env/down >/dev/null 2>&1 || true
}
trap cleanup EXIT
$KC create ns "$ns" >/dev/null
api_pid=$(awk '$1 == "pid" && $3 == "kube-apiserver" {print $2}' "$KSCRIPT_ENV_DIR/state")
hz=$(getconf CLK_TCK)
etcd_pid=$(awk '$1 == "pid" && $3 == "etcd" {print $2}' "$KSCRIPT_ENV_DIR/state")
api_cpu() { awk -v hz="$hz" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$api_pid/stat"; }
etcd_cpu() { awk -v hz="$hz" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$etcd_pid/stat"; }

# the manifests: N documents, and the same with changed data
gen() { # data-value > file
  local i
  for ((i = 1; i <= N; i++)); do
    printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bench-%04d\n  labels: {bench: w}\ndata:\n  value: "%s-%d"\n---\n' "$i" "$1" "$i"
  done
}
gen one >"$tmp/cms.yaml"
gen two >"$tmp/cms2.yaml"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: loop-NNN\ndata:\n  value: "x"\n' >"$tmp/one.tmpl"

declare -A RATE RSS CPU WALL ALLRATE ALLRSS ALLCPU ECPU ALLECPU UCPU ALLUCPU
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }
# phase NAME REQUESTS cmd...: wall time, peak RSS, API server CPU of one command
phase() {
  local name=$1 reqs=$2; shift 2
  local c0 c1 e0 e1 wall rss usr sys
  c0=$(api_cpu); e0=$(etcd_cpu)
  /usr/bin/time -f "%e %M %U %S" -o "$tmp/t" "$@" >"$tmp/out.$name" 2>"$tmp/err.$name" || { echo "$name failed:" >&2; tail -3 "$tmp/err.$name" >&2; }
  c1=$(api_cpu); e1=$(etcd_cpu)
  read -r wall rss usr sys <"$tmp/t"
  WALL[$name]=$wall
  RSS[$name]=$rss
  # ms of CPU per request: the client's own, the API server's, etcd's
  UCPU[$name]=$(awk -v u="$usr" -v s="$sys" -v n="$reqs" 'BEGIN {printf "%.2f", (u + s) * 1000 / n}')
  CPU[$name]=$(awk -v a="$c0" -v b="$c1" -v n="$reqs" 'BEGIN {printf "%.2f", (b - a) * 1000 / n}')
  ECPU[$name]=$(awk -v a="$e0" -v b="$e1" -v n="$reqs" 'BEGIN {printf "%.2f", (b - a) * 1000 / n}')
  ALLUCPU[$name]="${ALLUCPU[$name]:-} ${UCPU[$name]}"
  ALLECPU[$name]="${ALLECPU[$name]:-} ${ECPU[$name]}"
  RATE[$name]=$(awk -v n="$reqs" -v w="$wall" 'BEGIN {printf "%.0f", n / (w > 0 ? w : 0.001)}')
  ALLRATE[$name]="${ALLRATE[$name]:-} ${RATE[$name]}"
  ALLRSS[$name]="${ALLRSS[$name]:-} $rss"
  ALLCPU[$name]="${ALLCPU[$name]:-} ${CPU[$name]}"
  printf '%-12s %5d requests %7.2f s %5s req/s  RSS %6d kB  CPU ms/request: own %5s apiserver %5s etcd %5s\n' \
    "$name" "$reqs" "$wall" "${RATE[$name]}" "$rss" "${UCPU[$name]}" "${CPU[$name]}" "${ECPU[$name]}"
}

cat >"$tmp/bench.lua" <<'LUA'
-- N creates, N patches, N deletes from concurrent tasks; one line per phase
local k = assert(k8s.connect { namespace = os.getenv("NS") })
local n = tonumber(os.getenv("N"))
local function run(what, fn)
  local t0 = now()
  local tasks = {}
  for i = 1, n do tasks[i] = spawn(fn, ("lua-%04d"):format(i), i) end
  local bad = 0
  for i = 1, n do if not tasks[i]:wait() then bad = bad + 1 end end
  local dt = now() - t0
  io.write(("%s %.3f %d\n"):format(what, dt, bad))
end
run("create", function(name, i)
  return k:create { apiVersion = "v1", kind = "ConfigMap", metadata = { name = name, labels = { bench = "w" } },
                    data = { value = "one-" .. i } }
end)
run("patch", function(name, i) return k:patch("configmaps", name, { data = { value = "two-" .. i } }) end)
-- the same patches with one request in flight: as fast means the server is the bound
local inflight = k.max_in_flight
k.max_in_flight = 1
run("patch-seq", function(name, i) return k:patch("configmaps", name, { data = { value = "three-" .. i } }) end)
k.max_in_flight = inflight
run("delete", function(name) return k:delete("configmaps", name) end)
LUA

echo "== $N ConfigMaps: create, patch, delete (kscript $($K --version 2>/dev/null | head -1), kubectl $($KC version --client -o json | jq -r .clientVersion.gitVersion))"
for ((round = 1; round <= ROUNDS; round++)); do
  echo "== round $round of $ROUNDS"
  echo "-- kscript, one Lua script (all three phases in one process)"
  phase lua-all $((4 * N)) env NS="$ns" N="$N" "$K" "$tmp/bench.lua"
  while read -r what secs bad; do
    printf '   %-8s %7.3f s  %6.0f req/s  (%d failed)\n' "$what" "$secs" "$(awk -v n="$N" -v s="$secs" 'BEGIN {print n / s}')" "$bad"
    RATE[lua-$what]=$(awk -v n="$N" -v s="$secs" 'BEGIN {printf "%.0f", n / s}')
    ALLRATE[lua-$what]="${ALLRATE[lua-$what]:-} ${RATE[lua-$what]}"
  done <"$tmp/out.lua-all"

  echo "-- kscript commands"
  phase ks-apply "$N" "$K" apply -n "$ns" -f "$tmp/cms.yaml"
  phase ks-apply2 "$N" "$K" apply -n "$ns" -f "$tmp/cms2.yaml"
  phase ks-delete "$N" "$K" delete -n "$ns" -f "$tmp/cms.yaml" --wait=false

  echo "-- kubectl (-v=3: client-go logs every client-side wait over 50 ms)"
  phase kc-apply "$N" "$KC" -v=3 apply --server-side -n "$ns" -f "$tmp/cms.yaml"
  phase kc-apply2 "$N" "$KC" -v=3 apply --server-side -n "$ns" -f "$tmp/cms2.yaml"
  phase kc-delete "$N" "$KC" -v=3 delete -n "$ns" -f "$tmp/cms.yaml" --wait=false
  thr=$(cat "$tmp"/err.kc-* | grep -c -e "Waited before sending request" -e "client-side throttling" || true)
  echo "   kubectl waited on its client-side rate limiter $thr times; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  THR=$((${THR:-0} + thr))
done
echo "-- a shell loop of kubectl create, $LOOP objects"
cat >"$tmp/loop.sh" <<EOF
for i in \$(seq 1 $LOOP); do sed "s/NNN/\$i/" "$tmp/one.tmpl" | "$KC" create -n "$ns" -f - >/dev/null; done
EOF
phase kc-loop "$LOOP" bash "$tmp/loop.sh"
$KC delete cm -n "$ns" -l '!bench' --wait=false >/dev/null 2>&1 || true

for key in "${!ALLRATE[@]}"; do RATE[$key]=$(echo "${ALLRATE[$key]}" | median); done
for key in "${!ALLRSS[@]}"; do
  RSS[$key]=$(echo "${ALLRSS[$key]}" | median); CPU[$key]=$(echo "${ALLCPU[$key]}" | median)
  UCPU[$key]=$(echo "${ALLUCPU[$key]}" | median); ECPU[$key]=$(echo "${ALLECPU[$key]}" | median)
done
echo "== medians of $ROUNDS rounds (kubectl waited on its rate limiter ${THR:-0} times in all; load average now $(cut -d' ' -f1-3 /proc/loadavg))"
for key in lua-all lua-create lua-patch lua-patch-seq lua-delete ks-apply ks-apply2 ks-delete kc-apply kc-apply2 kc-delete kc-loop; do
  printf '   %-13s %5s req/s  RSS %8s kB  CPU ms/request: own %5s apiserver %5s etcd %5s\n' "$key" "${RATE[$key]}" \
    "${RSS[$key]:--}" "${UCPU[$key]:--}" "${CPU[$key]:--}" "${ECPU[$key]:--}"
done
echo "== ratios (kscript / kubectl: rate higher is better, RSS lower is better)"
ratio() { awk -v a="$2" -v b="$3" -v l="$1" 'BEGIN {printf "%-46s %.1fx\n", l, a / b}'; }
ratio "create rate: Lua script vs kubectl apply -f" "${RATE[lua-create]}" "${RATE[kc-apply]}"
ratio "patch rate: Lua script vs kubectl apply -f (changed)" "${RATE[lua-patch]}" "${RATE[kc-apply2]}"
ratio "delete rate: Lua script vs kubectl delete -f" "${RATE[lua-delete]}" "${RATE[kc-delete]}"
ratio "create rate: Lua script vs a kubectl create loop" "${RATE[lua-create]}" "${RATE[kc-loop]}"
ratio "apply rate: kscript apply -f vs kubectl apply -f" "${RATE[ks-apply]}" "${RATE[kc-apply]}"
ratio "delete rate: kscript delete -f vs kubectl delete -f" "${RATE[ks-delete]}" "${RATE[kc-delete]}"
ratio "RSS: kscript apply -f / kubectl apply -f" "${RSS[ks-apply]}" "${RSS[kc-apply]}"
ratio "RSS: Lua script (3 phases) / kubectl apply -f" "${RSS[lua-all]}" "${RSS[kc-apply]}"
ratio "apiserver CPU/request: kscript apply / kubectl" "${CPU[ks-apply]}" "${CPU[kc-apply]}"
ratio "own CPU/request: kscript apply -f / kubectl" "${UCPU[ks-apply]}" "${UCPU[kc-apply]}"
ratio "patch rate: 32 in flight / 1 in flight (Lua)" "${RATE[lua-patch]}" "${RATE[lua-patch-seq]}"
