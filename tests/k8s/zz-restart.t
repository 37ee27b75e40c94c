#!/usr/bin/env bash
# A watch across a kube-apiserver restart (runs last: it restarts the shared
# test apiserver).  A kscript process watches configmaps; the apiserver is
# stopped while the watcher is connected, kept down until the watcher is in
# a long reconnect backoff, started again (tests/env/restart-apiserver), and
# configmaps are created, changed and deleted before the watcher reconnects.
# The watcher must resume from its last resourceVersion and deliver exactly
# those changes, in order, each once, then watch on.
# No timing window: once in its backoff the watcher is stopped (SIGSTOP)
# until the changes are made, however long the restart takes, and every
# later step waits for the event it needs (generous bounds).
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh" KSCRIPT_ENV_DIR
top=${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
ns=kscript-restart-$$
wpid=
cleanup() {
  [ -n "$wpid" ] && kill -CONT "$wpid" 2>/dev/null && kill "$wpid" 2>/dev/null
  $KC delete ns "$ns" --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

# the watcher: one line per event, `TYPE name resourceVersion [initial|relist]`,
# and a `# reconnects N relists M last-error KIND` line whenever its stats change
cat > "$tmp/watcher.lua" <<'LUA'
local k8s = require "k8s"
local ns = arg[1]
local k = assert(k8s.connect { namespace = ns })
local it, w = k:watch("configmaps", { namespace = ns })
local function say(s) io.stdout:write(s, "\n"); io.stdout:flush() end
local last = ""
every(0.05, function()
  local s = ("# reconnects %d relists %d last-error %s"):format(w.stats.reconnects, w.stats.relists,
    w.last_error and tostring(w.last_error.kind) or "-")
  if s ~= last then last = s; say(s) end
end)
for ev in it do
  -- (kube-root-ca.crt: kube-controller-manager's, in every namespace, not the test's)
  if ev.type ~= "BOOKMARK" and ev.object.metadata.name ~= "kube-root-ca.crt" then
    local m = ev.object.metadata
    say(("%s %s %s%s"):format(ev.type, m.name, m.resourceVersion,
      ev.initial and " initial" or ev.relist and " relist" or ""))
  end
end
LUA

events() { grep -v '^#' "$tmp/out" | awk '{ print $1, $2, $4 }' | sed 's/ $//'; }
rvs() { grep -v '^#' "$tmp/out" | awk '{ print $3 }'; }
wait_lines() { # count secs: until the watcher has printed count event lines
  local i c
  for ((i = 0; i < $2 * 10; i++)); do
    c=$(grep -vcs '^#' "$tmp/out")   # (the watcher may not have opened it yet)
    [ "${c:-0}" -ge "$1" ] && return 0
    sleep 0.1
  done
  return 1
}
reconnects() { grep '^# reconnects' "$tmp/out" | tail -1 | awk '{ print $3 }'; }

$KC create ns "$ns" >/dev/null || { nok "create namespace $ns"; finish; }
$KC -n "$ns" create cm a --from-literal=v=1 >/dev/null
$KC -n "$ns" create cm b --from-literal=v=1 >/dev/null

"$KS" "$tmp/watcher.lua" "$ns" >"$tmp/out" 2>"$tmp/err" &
wpid=$!
wait_lines 2 20
is "the watcher lists what exists" "$(events)" "ADDED a initial
ADDED b initial"
$KC -n "$ns" patch cm a -p '{"data":{"v":"2"}}' >/dev/null
wait_lines 3 20
is "and sees a change live" "$(events | sed -n 3p)" "MODIFIED a"

# Stop the apiserver; keep it down until the watcher has failed to reconnect
# 5 times (0.8, 1.6, 3.2, 6.4 s, each up to twice that by jitter: it now
# sleeps 12.8 to 25.6 s), then stop the
# watcher itself (SIGSTOP) and start the apiserver again; the changes are
# made while the watcher is stopped, so they all happen before it reconnects
# whatever the restart costs on a loaded machine.
export WATCH_OUT=$tmp/out WATCH_PID=$wpid
down_wait() {
  local i
  for ((i = 0; i < 600; i++)); do
    r=$(grep '^# reconnects' "$WATCH_OUT" | tail -1 | awk '{ print $3 }')
    [ "${r:-0}" -ge 5 ] && { kill -STOP "$WATCH_PID"; return 0; }
    sleep 0.1
  done
  return 1
}
export -f down_wait
t0=$SECONDS
if "$top/tests/env/restart-apiserver" -- bash -c down_wait 2>"$tmp/restart.log"; then
  ok "apiserver restarted ($((SECONDS - t0)) s)"
else
  nok "apiserver restarted" "$(tail -5 "$tmp/restart.log")"
fi
before=$(grep -vc '^#' "$tmp/out")
is "the watcher noticed and backed off while the apiserver was down" "$(reconnects)" 5
rv=()
rv+=("$($KC -n "$ns" create cm c --from-literal=v=1 -o jsonpath='{.metadata.resourceVersion}')")
rv+=("$($KC -n "$ns" patch cm b -p '{"data":{"v":"2"}}' -o jsonpath='{.metadata.resourceVersion}')")
$KC -n "$ns" delete cm a >/dev/null; rv+=(-)
rv+=("$($KC -n "$ns" create cm d --from-literal=v=1 -o jsonpath='{.metadata.resourceVersion}')")
rv+=("$($KC -n "$ns" patch cm d -p '{"data":{"v":"2"}}' -o jsonpath='{.metadata.resourceVersion}')")
$KC -n "$ns" delete cm c >/dev/null; rv+=(-)
after=$(grep -vc '^#' "$tmp/out")
is "the changes were made before the watcher reconnected (no event since the restart yet)" "$after/$(reconnects)" "$before/5"
kill -CONT "$wpid"

# it wakes at the end of its 12.8-25.6 s backoff at the latest
wait_lines 9 60
# and the watch goes on after catching up; a repeated event would come
# before the live ones, so waiting for two live events is enough
$KC -n "$ns" create cm e --from-literal=v=1 >/dev/null
wait_lines 10 30
$KC -n "$ns" create cm f --from-literal=v=1 >/dev/null
wait_lines 11 30
kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null; wpid=
is "exactly the changes made during the gap, in order, each once, then live events" "$(events)" "ADDED a initial
ADDED b initial
MODIFIED a
ADDED c
MODIFIED b
DELETED a
ADDED d
MODIFIED d
DELETED c
ADDED e
ADDED f"
got_rv=$(rvs | sed -n '4,9p' | tr '\n' ' ')
want_rv=
for i in 0 1 2 3 4 5; do
  if [ "${rv[$i]}" = - ]; then want_rv+="$(rvs | sed -n "$((i + 4))p") "; else want_rv+="${rv[$i]} "; fi
done
is "the replayed events carry the resourceVersions of the writes" "$got_rv" "$want_rv"
prev=0 mono=1
for r in $(rvs | sed -n '3,$p'); do [ "$r" -gt "$prev" ] || mono=0; prev=$r; done
check "resourceVersions increase across the restart" [ "$mono" = 1 ]
last=$(grep '^# reconnects' "$tmp/out" | tail -1)
check "it reconnected once the apiserver was back, without a relist ($last)" [ "$(echo "$last" | awk '{ print $3, $5 }')" = "5 0" ]
is "the watcher wrote nothing on stderr" "$(cat "$tmp/err")" ""

# the rest of the suite still has a working apiserver
is "the apiserver answers after the restart" "$("$KC" get --raw /readyz 2>&1)" ok
finish
