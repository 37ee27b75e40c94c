#!/usr/bin/env bash
# node-watch against the real control plane: a kwok node whose heartbeat
# stops (tests/env/node stop) is reported NotReady at the lastTransitionTime
# kubectl shows, and, once its heartbeat is back, Ready again (at the time it
# saw it: kwok restores an old lastTransitionTime) after the time since that
# NotReady transition; nothing is printed for the
# nodes that stay Ready; --timeout ends it with 0.
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
top=${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/lib/k8s.sh" KSCRIPT_TEST_NODE_GRACE
node=node-3
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  "$top/tests/env/node" start "$node" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
has() { grep -q -- "$2" "$1" 2>/dev/null; }
ready_cond() { $KC get node "$node" -o "jsonpath={.status.conditions[?(@.type==\"Ready\")].$1}"; }

check "$node is Ready to begin with" wait_for 120 eval '[ "$(ready_cond status)" = True ]'
$KS node-watch > "$tmp/out" 2> "$tmp/err" & pid=$!; pids+=($!)
check "node-watch filled its cache (its stderr line)" wait_for 60 has "$tmp/err" "node-watch: watching [0-9]* nodes"
is "nothing printed while every node is Ready" "$(cat "$tmp/out")" ""

"$top/tests/env/node" stop "$node" 2>/dev/null
bound=$((KSCRIPT_TEST_NODE_GRACE + 90))
check "$node reported NotReady (within grace + 90 s)" wait_for $bound has "$tmp/out" " $node NotReady "
t_down=$(ready_cond lastTransitionTime)
is "the NotReady line: kubectl's lastTransitionTime and condition" "$(grep " $node NotReady " "$tmp/out" | cut -d' ' -f1-5)" \
  "$t_down $node NotReady (Ready=$(ready_cond status) $(ready_cond reason):"

t_start=$(date -u +%s)
"$top/tests/env/node" start "$node" 2>/dev/null
check "$node reported Ready again" wait_for 120 has "$tmp/out" " $node Ready again after "
t_seen=$(date -u +%s)
line=$(grep " $node Ready again" "$tmp/out")
t_up=${line%% *}
# (kwok restores the Ready condition with its old lastTransitionTime: the time is when it was seen)
up=$(date -d "$t_up" +%s)
check "the Ready line's time is when the heartbeat came back ($t_up)" [ "$up" -ge "$t_start" -a "$up" -le "$t_seen" ]
secs=$(( up - $(date -d "$t_down" +%s) ))
want=$(awk -v s=$secs 'BEGIN { h = int(s / 3600); m = int(s % 3600 / 60); r = s % 60;
  if (h) printf "%dh%dm%ds", h, m, r; else if (m) printf "%dm%ds", m, r; else printf "%ds", r }')
is "the Ready line: away from kubectl's NotReady lastTransitionTime until then" \
  "$line" "$t_up $node Ready again after $want"
is "two lines in all (only $node changed)" "$(wc -l < "$tmp/out")" 2
kill "$pid"; wait "$pid"
is "SIGTERM ends it (143)" $? 143

# a node already NotReady when it starts is reported first; --timeout ends it with 0
"$top/tests/env/node" stop "$node" 2>/dev/null
check "$node NotReady again" wait_for $bound eval '[ "$(ready_cond status)" != True ]'
$KS node-watch "$node" --timeout 3s > "$tmp/out2" 2> "$tmp/err2"
status "--timeout 3s ends it with 0" $?
is "a NotReady node is reported at start (kubectl's lastTransitionTime)" "$(cut -d' ' -f1-3 "$tmp/out2")" \
  "$(ready_cond lastTransitionTime) $node NotReady"
is "NODE arguments: one node watched" "$(cat "$tmp/err2")" "node-watch: watching 1 nodes, 0 Ready"
"$top/tests/env/node" start "$node" 2>/dev/null
check "$node Ready at the end" wait_for 120 eval '[ "$(ready_cond status)" = True ]'
finish
