#!/usr/bin/env bash
# Leader election (k8s.leader_election) and the mini-scheduler against the
# real API server and kwok nodes:
#  - two electors on one Lease: one leads, the other waits; a release on
#    stop hands over at once; bad timings raise;
#  - mini-scheduler binds N pending pods (KSCRIPT_TEST_LE_PODS, default 200)
#    that name it, onto Ready kwok nodes, while a second copy waits; the
#    leader killed with SIGKILL: the standby takes over no sooner than the
#    lease allows and within lease + 2 x 2.2 x retry (client-go's bound: the
#    standby polls every retry..2.2 x retry, and times expiry from when IT saw
#    the last renewal), and binds the rest; every pod bound, kubectl agreeing
#    with the binders' logs;
#  - the leader frozen with SIGSTOP past its lease: the standby takes over;
#    the old leader, continued, makes no bind after the new leader's
#    acquireTime and ends with status 1.
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh"
ns=kscript-le-$$
N=${KSCRIPT_TEST_LE_PODS:-200}
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
  $KC delete ns "$ns" --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
$KC create ns "$ns" >/dev/null

LD=6 RD=4 RP=1
holder() { $KC -n "$ns" get lease "$1" -o 'jsonpath={.spec.holderIdentity}' 2>/dev/null; }
holder_is() { [ "$(holder "$1")" = "$2" ]; }
epoch() { date -d "$1" +%s.%N; }
lines() { [ "$(wc -l < "$1" 2>/dev/null || echo 0)" -ge "$2" ]; }   # FILE N
done_pid() { ! kill -0 "$1" 2>/dev/null; }
unbound() { $KC -n "$ns" get pods --field-selector spec.nodeName= -o name | wc -l; }
all_bound() { # PREFIX: N pods named PREFIX-*, none without a node
  [ "$($KC -n "$ns" get pods -o name | grep -c "^pod/$1-")" = "$N" ] && [ "$(unbound)" = 0 ]
}

# ---------------------------------------------------------------- the Lua API
cat > "$tmp/api.lua" <<'EOF'
local ns = ...
local k = assert(k8s.connect { namespace = ns })
local base = { lease = ns .. "/api", lease_duration = 6, renew_deadline = 4, retry_period = 1 }
local function cfg(extra)
  local t = {}
  for key, v in pairs(base) do t[key] = v end
  for key, v in pairs(extra) do t[key] = v end
  return t
end
local started = {}
local a = k:leader_election(cfg { identity = "a", release_on_cancel = true,
  on_started = function(le) started[#started + 1] = "a"; while le:is_leader() do sleep(0.1) end end })
local t0 = now()
while not a:is_leader() and now() - t0 < 30 do sleep(0.05) end
print("a leads", a:is_leader())
local b = k8s.leader_election(cfg { client = k, identity = "b",
  on_started = function() started[#started + 1] = "b" end })
sleep(2.5) -- b tried at least once (retry 1 s, jitter up to 2.2 s)
print("b leads while a holds", b:is_leader(), b:leader())
local t1 = now()
a:stop()
print("a ended", a:wait())
while not b:is_leader() and now() - t1 < 30 do sleep(0.05) end
print("b leads after the release", b:is_leader(), now() - t1 < 4)   -- at once, not after 6 s
print("started", table.concat(started, ","))
b:stop(); b:wait()
for _, bad in ipairs { { lease_duration = 4, renew_deadline = 4 }, { renew_deadline = 1.2, retry_period = 1 },
                       { lease = "nonamespace" } } do
  local ok, err = pcall(k8s.leader_election, cfg(bad))
  print("bad", ok, (tostring(err):gsub("^.-: ", "")))
end
EOF
$KS "$tmp/api.lua" "$ns" > "$tmp/api.out" 2> "$tmp/api.err"
is "two electors, one Lease: a leads, b waits, a release hands over at once, bad timings raise" "$(cat "$tmp/api.out")" \
"a leads	true
b leads while a holds	false	a
a ended	stopped
b leads after the release	true	true
started	a,b
bad	false	leader_election: lease_duration must be greater than renew_deadline
bad	false	leader_election: renew_deadline must be greater than retry_period*1.2
bad	false	leader_election: lease: \"namespace/name\" expected"
is "b stopped without release_on_cancel: it still holds the Lease (holder b, 1 transition)" \
  "$($KC -n "$ns" get lease api -o 'jsonpath={.spec.holderIdentity} {.spec.leaseTransitions} {.spec.leaseDurationSeconds}')" "b 1 6"

# pods that name the scheduler, created all at once (the leader binds them as they come)
cat > "$tmp/mkpods.lua" <<'EOF'
local ns, n, sched, prefix = arg[1], tonumber(arg[2]), arg[3], arg[4]
local k = assert(k8s.connect { namespace = ns })
local list = {}
for i = 1, n do list[i] = i end
for _, r in ipairs(k:each(list, function(i)
  return assert(k:create { apiVersion = "v1", kind = "Pod", metadata = { name = ("%s-%03d"):format(prefix, i) },
    spec = { schedulerName = sched, containers = { { name = "c", image = "x",
      resources = { requests = { cpu = "10m", memory = "16Mi" } } } } } })
end)) do assert(r[1]) end
EOF

# binds in a log: "TIME ID bound NS/POD NODE" -> the checks below
check_logs() { # PREFIX LOG... : every pod bound once in the logs, at the node kubectl shows
  local prefix=$1; shift
  $KC -n "$ns" get pods -o 'custom-columns=N:.metadata.name,NODE:.spec.nodeName' --no-headers | grep "^$prefix-" |
    awk -v ns="$ns" '{print ns "/" $1, $2}' | sort > "$tmp/kc.bind"
  cat "$@" | awk '$3 == "bound" {last[$4] = $5} END {for (p in last) print p, last[p]}' | sort > "$tmp/log.bind"
  cmp -s "$tmp/kc.bind" "$tmp/log.bind"
}

# ---------------------------------------------------------------- SIGKILL
S=mini-k-$$
opts=(--scheduler-name "$S" --lease "$ns/$S" --lease-duration ${LD}s --renew-deadline ${RD}s --retry-period ${RP}s)
$KS mini-scheduler "${opts[@]}" --identity A > "$tmp/A.log" 2> "$tmp/A.err" & pidA=$!; pids+=($!)
check "copy A holds the Lease" wait_for 60 holder_is "$S" A
$KS mini-scheduler "${opts[@]}" --identity B > "$tmp/B.log" 2> "$tmp/B.err" & pidB=$!; pids+=($!)
check "copy B waits as a standby (it saw A lead)" wait_for 30 grep -q "the leader is A" "$tmp/B.err"
$KS "$tmp/mkpods.lua" "$ns" "$N" "$S" k 2> "$tmp/mk.err" &
mk=$!
check "A binds pods (a quarter of $N)" wait_for 120 lines "$tmp/A.log" $((N / 4))
tkill=$(date +%s.%N)
kill -KILL "$pidA"; wait "$pidA" 2>/dev/null
wait "$mk"; status "all $N pods created" $?
check "B takes over the Lease" wait_for 60 holder_is "$S" B
acq=$(epoch "$($KC -n "$ns" get lease "$S" -o 'jsonpath={.spec.acquireTime}')")
took=$(echo "$acq - $tkill" | bc -l)
echo "# takeover after SIGKILL: ${took}s (lease $LD s, retry $RP s)"
check "takeover no sooner than the lease allows (>= lease - retry: ${took}s)" [ "$(echo "$took >= $LD - $RP - 0.5" | bc)" = 1 ]
check "takeover within lease + 4.4 x retry (+1 s for a loaded machine: ${took}s)" [ "$(echo "$took <= $LD + 4.4 * $RP + 1" | bc)" = 1 ]
check "B binds the rest: all $N pods on a node" wait_for 120 all_bound k
check "every pod is bound where the binders' logs say (kubectl, A's and B's logs)" check_logs k "$tmp/A.log" "$tmp/B.log"
check "B bound pods, A bound pods" eval '[ -s "$tmp/B.log" ] && [ -s "$tmp/A.log" ]'
late=$(awk -v t="$acq" '{ cmd = "date -d " $1 " +%s.%N"; cmd | getline e; close(cmd); if (e < t) print }' "$tmp/B.log" | wc -l)
is "no bind by B before its acquireTime" "$late" 0
is "leaseTransitions 1 (A, then B)" "$($KC -n "$ns" get lease "$S" -o 'jsonpath={.spec.leaseTransitions}')" 1
nodes=$($KC -n "$ns" get pods -o 'jsonpath={range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort -u | tr '\n' ' ')
is "pods spread over the Ready kwok nodes" "$nodes" "node-1 node-2 node-3 "
kill "$pidB"; wait "$pidB"
is "SIGTERM ends the standby-turned-leader (143)" $? 143

# (room on the nodes for the next round)
$KC -n "$ns" delete pods --all --force --grace-period=0 >/dev/null 2>&1
check "the pods are gone" wait_for 120 eval '[ -z "$($KC -n "$ns" get pods -o name)" ]'

# ---------------------------------------------------------------- SIGSTOP
S=mini-s-$$
opts=(--scheduler-name "$S" --lease "$ns/$S" --lease-duration ${LD}s --renew-deadline ${RD}s --retry-period ${RP}s)
$KS mini-scheduler "${opts[@]}" --identity C > "$tmp/C.log" 2> "$tmp/C.err" & pidC=$!; pids+=($!)
check "copy C holds the Lease" wait_for 60 holder_is "$S" C
$KS mini-scheduler "${opts[@]}" --identity D > "$tmp/D.log" 2> "$tmp/D.err" & pidD=$!; pids+=($!)
check "copy D waits as a standby" wait_for 30 grep -q "the leader is C" "$tmp/D.err"
$KS "$tmp/mkpods.lua" "$ns" "$N" "$S" s 2> "$tmp/mk.err" &
mk=$!
check "C binds pods" wait_for 120 lines "$tmp/C.log" 10
kill -STOP "$pidC"
tstop=$(date +%s.%N)
wait "$mk"; status "all $N pods created" $?
check "D takes over the Lease while C is frozen" wait_for 60 holder_is "$S" D
acq=$(epoch "$($KC -n "$ns" get lease "$S" -o 'jsonpath={.spec.acquireTime}')")
check "D binds the rest" wait_for 120 all_bound s
kill -CONT "$pidC"
check "C, continued, ends by itself" wait_for 60 done_pid "$pidC"
wait "$pidC"; is "C's status after losing the lease" $? 1
check "C says it lost the lease" grep -q "C lost the lease" "$tmp/C.err"
after=$(awk -v t="$acq" '{ cmd = "date -d " $1 " +%s.%N"; cmd | getline e; close(cmd); if (e >= t) print }' "$tmp/C.log")
is "no bind by C at or after D's acquireTime" "$after" ""
after=$(awk -v t="$tstop" '{ cmd = "date -d " $1 " +%s.%N"; cmd | getline e; close(cmd); if (e >= t) print }' "$tmp/C.log")
is "no bind by C after it was frozen" "$after" ""
check "every pod is bound where the binders' logs say (kubectl, C's and D's logs)" check_logs s "$tmp/C.log" "$tmp/D.log"
is "the Lease: D holds it, 1 transition" "$($KC -n "$ns" get lease "$S" -o 'jsonpath={.spec.holderIdentity} {.spec.leaseTransitions}')" "D 1"
kill "$pidD"; wait "$pidD"
finish
