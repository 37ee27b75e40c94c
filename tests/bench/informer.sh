#!/usr/bin/env bash
# tests/bench/informer.sh [PODS] [RUNS]: pod events into a kscript informer
# with three indexes (by node, by phase, by a label) against a
# `kubectl get pods -w -o json --output-watch-events | awk` pipeline, both
# watching the same stream in the same run.  PODS pods (default 2000) are
# created, each patched three times, then deleted: 5 x PODS events (10,000 by
# default).  The pods name a scheduler that does not exist, so nothing else
# changes them.  Per consumer: CPU seconds (user + sys, from /proc, the
# pipeline's awk included) and CPU per event; events per second from its
# first event to its last (bounded by how fast the server produces them, so
# close for both; the CPU is what differs).  Medians of RUNS (default 3),
# then ratios.  Not a test.  Uses the running environment ($KUBECONFIG ...).
set -eu
export LC_ALL=C
cd "$(dirname "$0")/../.."
pods=${1:-2000}
runs=${2:-3}
K=${KSCRIPT:-$PWD/kscript}
: "${KUBECONFIG:?run eval \"\$(tests/env/up)\" first}" "${KSCRIPT_TEST_KUBECTL:?}"
KC=$KSCRIPT_TEST_KUBECTL
tmp=$(mktemp -d)
ns=kscript-bench-inf-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  "$KC" delete ns "$ns" --wait=false >/dev/null 2>&1 || true
  [ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT
"$KC" create ns "$ns" >/dev/null
events=$((pods * 5))

cat > "$tmp/informer.lua" <<'EOF'
-- the informer: three indexes, a handler per event; prints "EVENTS SECONDS"
local ns, want = arg[1], tonumber(arg[2])
local k = assert(k8s.connect { namespace = ns })
local n, t0, t1 = 0, nil, nil
local function tick()
  n = n + 1
  t1 = now()
  if not t0 then t0 = t1 end
end
local inf <close> = assert(k:informer("pods", { namespace = ns,
  indexes = {
    by_node = function(p) return p.spec.nodeName end,
    by_phase = function(p) return p.status and p.status.phase end,
    by_round = function(p) return p.metadata.labels and p.metadata.labels.round end,
  },
  on_add = function(_, initial) if not initial then tick() end end,
  on_update = function() tick() end,
  on_delete = function() tick() end }))
assert(inf:wait_synced(60))
io.stderr:write("ready\n")
while n < want do sleep(0.05) end
print(("%d %.3f"):format(n, t1 - t0))
EOF

cat > "$tmp/gen.lua" <<'EOF'
-- PODS pods created, patched three times, deleted (concurrently, 32 in flight)
local ns, n = arg[1], tonumber(arg[2])
local k = assert(k8s.connect { namespace = ns })
local list = {}
for i = 1, n do list[i] = i end
local name = function(i) return ("p-%05d"):format(i) end
for _, r in ipairs(k:each(list, function(i)
  return assert(k:create { apiVersion = "v1", kind = "Pod", metadata = { name = name(i), labels = { round = "0" } },
    spec = { schedulerName = "nobody", containers = { { name = "c", image = "x" } } } })
end)) do assert(r[1]) end
for round = 1, 3 do
  for _, r in ipairs(k:each(list, function(i)
    return assert(k:patch("pods", name(i), { metadata = { labels = { round = tostring(round) } } }))
  end)) do assert(r[1]) end
end
for _, r in ipairs(k:each(list, function(i) return assert(k:delete("pods", name(i), { grace_period = 0 })) end)) do
  assert(r[1])
end
EOF

cpu_of() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }
median() { sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.3f", m}'; }
ks_cpu=() kc_cpu=() ks_rate=() kc_rate=()
echo "== $events pod events ($pods pods: created, patched 3 times, deleted), $runs runs; load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
for run in $(seq "$runs"); do
  rm -f "$tmp"/ks.* "$tmp"/kc.* "$tmp"/awk.*
  /usr/bin/time -f "%U %S" -o "$tmp/ks.time" "$K" "$tmp/informer.lua" "$ns" "$events" > "$tmp/ks.out" 2> "$tmp/ks.err" &
  kp=$!; pids+=($kp)
  # the kubectl pipeline: one JSON line per event; awk counts them and times first to last
  # (then reads on, so kubectl lives until its CPU time is read)
  ( "$KC" get pods -n "$ns" -w -o json --output-watch-events --watch-only 2>"$tmp/kc.err" &
    echo $! > "$tmp/kc.pid"; wait ) |
    /usr/bin/time -f "%U %S" -o "$tmp/awk.time" awk -v want="$events" '
      function t(   x) { "date +%s.%N" | getline x; close("date +%s.%N"); return x }
      { n++; if (n == 1) t0 = t(); if (n == want) { printf "%d %.3f\n", n, t() - t0; fflush() } }' > "$tmp/kc.out" &
  ap=$!; pids+=($ap)
  for _ in $(seq 600); do grep -q ready "$tmp/ks.err" 2>/dev/null && [ -s "$tmp/kc.pid" ] && break; sleep 0.1; done
  sleep 2 # (kubectl --watch-only prints nothing once its watch is open: give it time to open)
  kcp=$(cat "$tmp/kc.pid")
  "$K" "$tmp/gen.lua" "$ns" "$pods"
  for _ in $(seq 1200); do [ -s "$tmp/ks.out" ] && [ -s "$tmp/kc.out" ] && break; sleep 0.1; done
  c_kc=$(cpu_of "$kcp")
  kill "$kcp" 2>/dev/null || true
  wait "$kp" || true; wait "$ap" 2>/dev/null || true
  read -r ks_n ks_s < "$tmp/ks.out"; read -r kc_n kc_s < "$tmp/kc.out"
  c_ks=$(awk '{ printf "%.2f", $1 + $2 }' "$tmp/ks.time")
  c_awk=$(awk '{ printf "%.2f", $1 + $2 }' "$tmp/awk.time")
  c_kcp=$(awk -v a="$c_kc" -v b="$c_awk" 'BEGIN { printf "%.2f", a + b }')
  printf 'run %d: kscript informer %d events in %.2f s, CPU %.2f s | kubectl|awk %d events in %.2f s, CPU %.2f s (kubectl %.2f, awk %.2f)\n' \
    "$run" "$ks_n" "$ks_s" "$c_ks" "$kc_n" "$kc_s" "$c_kcp" "$c_kc" "$c_awk"
  ks_cpu+=("$c_ks"); kc_cpu+=("$c_kcp")
  ks_rate+=("$(awk -v n="$ks_n" -v s="$ks_s" 'BEGIN { print n / s }')")
  kc_rate+=("$(awk -v n="$kc_n" -v s="$kc_s" 'BEGIN { print n / s }')")
done
mk=$(printf '%s\n' "${ks_cpu[@]}" | median); mc=$(printf '%s\n' "${kc_cpu[@]}" | median)
rk=$(printf '%s\n' "${ks_rate[@]}" | median); rc=$(printf '%s\n' "${kc_rate[@]}" | median)
echo "== medians"
awk -v mk="$mk" -v mc="$mc" -v rk="$rk" -v rc="$rc" -v e="$events" 'BEGIN {
  printf "  kscript informer (3 indexes)   %8.0f events/s  CPU %6.2f s  %6.1f us/event\n", rk, mk, mk / e * 1e6
  printf "  kubectl -w -o json | awk       %8.0f events/s  CPU %6.2f s  %6.1f us/event\n", rc, mc, mc / e * 1e6
  printf "  kscript/kubectl: CPU per event %.2fx, events/s %.2fx (the server paces both)\n", mk / mc, rk / rc }'
