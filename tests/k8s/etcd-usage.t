#!/usr/bin/env bash
# kscript etcd-usage against the env's etcd (filled by the API server): the
# totals, a resource type's and a namespace's keys and bytes, and the largest
# value equal what etcdctl reads at the same revision (the cluster writes all
# the time, so both read at the revision etcd-usage reports); a compaction is
# found; the terminal and piped layouts.
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh" KSCRIPT_TEST_ETCD
export ETCDCTL_ENDPOINTS=$KSCRIPT_TEST_ETCD
ETCDCTL=${XDG_CACHE_HOME:-$HOME/.cache}/kscript/etcd-${KSCRIPT_TEST_ETCD_VERSION:-v3.6.16}/etcdctl
[ -x "$ETCDCTL" ] || ETCDCTL=$(command -v etcdctl)
ns=kscript-usage-$$
cleanup() { $KC delete ns "$ns" --wait=false >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT

$KC create ns "$ns" >/dev/null
head -c 150000 /dev/urandom | base64 -w0 > "$tmp/big"
$KC create configmap big -n "$ns" --from-file=big="$tmp/big" >/dev/null
for i in 1 2 3; do $KC create configmap "small$i" -n "$ns" --from-literal=a="$i" >/dev/null; done

$KS etcd-usage -o json --top 5 > "$tmp/u.json"
status "etcd-usage -o json" $?
j() { # PATH: a field of etcd-usage's JSON; a list is indexed by number or by its type/namespace
  $KS -e 'local f = assert(io.open((...))); local v = require("json").decode(f:read("a")); f:close()
  for p in select(2, ...):gmatch("[^.]+") do
    if type(v) ~= "table" then v = nil; break end
    if tonumber(p) then v = v[tonumber(p)]
    elseif v[1] ~= nil then
      local found
      for _, x in ipairs(v) do if x.type == p or x.namespace == p then found = x end end
      v = found
    else v = v[p] end
  end
  print(v == nil and "nil" or tostring(v))' "$tmp/u.json" "$1"; }
rev=$(j revision)
check "it reports the revision it read at ($rev)" test "$rev" -gt 0
# etcdctl at that revision: every key and value under /registry/, as JSON (base64)
"$ETCDCTL" get --prefix /registry/ --rev="$rev" -w json > "$tmp/ctl.json"
count() { # PREFIX-REGEX: "keys bytes" of the keys matching it, from etcdctl's JSON
  python3 - "$tmp/ctl.json" "$1" <<'PY'
import base64, json, re, sys
doc = json.load(open(sys.argv[1]))
pat = re.compile(sys.argv[2].encode())
n = b = 0
for kv in doc.get("kvs", []):
    k = base64.b64decode(kv["key"])
    if pat.search(k):
        n += 1
        b += len(base64.b64decode(kv.get("value", "")))
print(n, b)
PY
}
is "total keys and value bytes = etcdctl get --prefix /registry/ --rev=$rev" "$(j total.keys) $(j total.bytes)" "$(count '^/registry/')"
is "type pods = etcdctl's /registry/pods/" "$(j types.pods.keys) $(j types.pods.bytes)" "$(count '^/registry/pods/')"
is "type services/specs = etcdctl's /registry/services/specs/" "$(j types.services/specs.keys) $(j types.services/specs.bytes)" "$(count '^/registry/services/specs/')"
is "type minions (nodes) = etcdctl's /registry/minions/" "$(j types.minions.keys) $(j types.minions.bytes)" "$(count '^/registry/minions/')"
is "namespace $ns = etcdctl's keys with /$ns/ in them" "$(j "namespaces.$ns.keys") $(j "namespaces.$ns.bytes")" "$(count "/$ns/")"
bigsize=$("$ETCDCTL" get "/registry/configmaps/$ns/big" --rev="$rev" --print-value-only | head -c -1 | wc -c)
is "the largest value is the big configmap" "$(j largest.1.key)" "/registry/configmaps/$ns/big"
is "... with etcdctl's size" "$(j largest.1.bytes)" "$bigsize"
is "--top 5: five largest values" "$(j largest.5.bytes | grep -c '^[0-9]')" 1
is "type configmaps: its largest value is the big one" "$(j types.configmaps.largest.key)" "/registry/configmaps/$ns/big"
check "types are sorted by bytes, largest first" $KS -e '
  local f = assert(io.open((...))); local o = require("json").decode(f:read("a")); f:close()
  for i = 2, #o.types do assert(o.types[i - 1].bytes >= o.types[i].bytes, o.types[i].type) end' "$tmp/u.json"
dbsize=$("$ETCDCTL" endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["dbSize"])')
check "the database size is etcdctl endpoint status's (or near it: etcd writes meanwhile): $(j db_size) vs $dbsize" \
  python3 -c "import sys; a, b = $(j db_size), $dbsize; sys.exit(0 if abs(a - b) <= max(a, b) // 4 else 1)"

# a compaction: found by bisection, revisions kept counted from it
crev=$((rev - 2))
"$ETCDCTL" compaction "$crev" >/dev/null 2>&1
$KS etcd-usage -o json > "$tmp/u.json"
is "after etcdctl compaction $crev, the compacted revision is $crev" "$(j compact_revision)" "$crev"
is "... and the revisions kept are the current revision minus it" "$(j revisions_kept)" "$(( $(j revision) - crev ))"

# the layouts: plain columns piped, bars on a terminal
$KS etcd-usage > "$tmp/plain"
check "piped: a TYPE header and a row per type with whole numbers" grep -Eq '^configmaps +[0-9]+ +[0-9]+ +[0-9.]+% +[0-9]+$' "$tmp/plain"
check "piped: no bars" sh -c "! grep -q '█' '$tmp/plain'"
is "piped: the compaction in the summary" "$(grep -c "compacted at $crev" "$tmp/plain")" 1
script -qec "$KS etcd-usage" /dev/null > "$tmp/tty"
check "on a terminal: sizes in KiB and proportional bars" sh -c "grep -q 'KiB' '$tmp/tty' && grep -q '█' '$tmp/tty'"
$KS etcd-usage --prefix /nothing-here -o json > "$tmp/empty.json"
is "an empty prefix: zero keys" "$($KS -e 'local f=io.open((...)); print(require("json").decode(f:read("a")).total.keys)' "$tmp/empty.json")" 0

if $KS -e 'assert(require("etcd").snapshot)' >/dev/null 2>&1; then
  "$ETCDCTL" snapshot save "$tmp/snap.db" >/dev/null 2>&1
  $KS etcd-usage --snapshot "$tmp/snap.db" -o json > "$tmp/u.json"
  srev=$(j revision)
  "$ETCDCTL" get --prefix /registry/ --rev="$srev" -w json > "$tmp/ctl.json"
  is "--snapshot: totals = etcdctl at the snapshot's revision $srev" "$(j total.keys) $(j total.bytes)" "$(count '^/registry/')"
fi
finish
