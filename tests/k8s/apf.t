#!/usr/bin/env bash
# A real 429 from the real API server: API Priority and Fairness with a tiny
# priority level that rejects (no queues) for one service account.  Many
# concurrent writes from kscript as that account: the server answers some
# with 429 and a Retry-After header; kscript waits and retries them, so every
# object is created, none twice, and the client says how often it waited.
# curl, run the same way, shows what the server does (some 429s, each with
# a Retry-After header).
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh" KSCRIPT_TEST_APISERVER KSCRIPT_TEST_CA
ns=kscript-apf-$$
cleanup() {
  touch "$tmp/stop"
  $KC delete flowschema "$ns" --wait=false >/dev/null 2>&1
  $KC delete prioritylevelconfiguration "$ns" --wait=false >/dev/null 2>&1
  $KC delete ns "$ns" --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
$KC create ns "$ns" >/dev/null
$KC create sa writer -n "$ns" >/dev/null
$KC create rolebinding writer -n "$ns" --clusterrole=edit --serviceaccount="$ns:writer" >/dev/null
$KC apply -f - >/dev/null <<Y
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: PriorityLevelConfiguration
metadata: {name: $ns}
spec:
  type: Limited
  limited:
    nominalConcurrencyShares: 1
    lendablePercent: 0
    borrowingLimitPercent: 0
    limitResponse: {type: Reject}
---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata: {name: $ns}
spec:
  priorityLevelConfiguration: {name: $ns}
  matchingPrecedence: 100
  distinguisherMethod: {type: ByUser}
  rules:
  - subjects: [{kind: ServiceAccount, serviceAccount: {name: writer, namespace: $ns}}]
    resourceRules: [{verbs: ["*"], apiGroups: ["*"], resources: ["*"], namespaces: ["*"]}]
Y
tok=$($KC create token writer -n "$ns")
umask 077
KUBECONFIG=$tmp/kc $KC config set-cluster c --server="$KSCRIPT_TEST_APISERVER" --certificate-authority="$KSCRIPT_TEST_CA" >/dev/null
KUBECONFIG=$tmp/kc $KC config set-credentials w --token="$tok" >/dev/null
KUBECONFIG=$tmp/kc $KC config set-context c --cluster=c --user=w --namespace="$ns" >/dev/null
KUBECONFIG=$tmp/kc $KC config use-context c >/dev/null
# keep the level's seats busy: big lists of the namespace's configmaps, as the account, all along
for i in $(seq 40); do printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big-%s"},"data":{"pad":"%s"}}\n' $i "$(head -c 60000 /dev/zero | tr '\0' y)"; done \
  | $KC create -n "$ns" -f - >/dev/null
busy() { while [ ! -e "$tmp/stop" ]; do curl -s -o /dev/null --cacert "$KSCRIPT_TEST_CA" -H "Authorization: Bearer $tok" \
  "$KSCRIPT_TEST_APISERVER/api/v1/namespaces/$ns/configmaps"; done; }
busypids=()
for i in 1 2 3 4 5 6; do busy & busypids+=($!); done
# the load ends as soon as the stop file appears: the loops and the lists they
# have in flight (a killed curl closes its connection and frees its seat)
( wait_for 300 test -e "$tmp/stop"; pkill -P "$(echo "${busypids[@]}" | tr ' ' ,)" curl 2>/dev/null ) & busypids+=($!)
# the flow schema is in force once a request of the account is classified by it
wait_for 30 bash -c "curl -s -o /dev/null -D - --cacert '$KSCRIPT_TEST_CA' -H 'Authorization: Bearer $tok' \
  '$KSCRIPT_TEST_APISERVER/api/v1/namespaces/$ns/configmaps' | grep -qi 'X-Kubernetes-PF-FlowSchema-UID: $($KC get flowschema "$ns" -o jsonpath='{.metadata.uid}')'" \
  && ok "the flow schema classifies the account's requests" || nok "the flow schema classifies the account's requests"

# the peer: 60 concurrent curl creates as the account; some must get a 429 with
# Retry-After.  On a loaded machine one burst may start too slowly to find the
# level's seat taken: up to 5 bursts, until one has a 429.
pad=$(head -c 3000 /dev/zero | tr '\0' x)
for burst in 1 2 3 4 5; do
  peers=()
  for i in $(seq 60); do
    curl -s -o /dev/null -D "$tmp/h$burst-$i" -w '%{http_code}\n' --cacert "$KSCRIPT_TEST_CA" -H "Authorization: Bearer $tok" \
      -H 'Content-Type: application/json' -d "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"peer-$burst-$i\"},\"data\":{\"pad\":\"$pad\"}}" \
      "$KSCRIPT_TEST_APISERVER/api/v1/namespaces/$ns/configmaps" >>"$tmp/codes" & peers+=($!)
  done
  wait "${peers[@]}"
  grep -q '^429$' "$tmp/codes" && break
done
n429=$(grep -c '^429$' "$tmp/codes")
[ "$n429" -gt 0 ] && ok "the server rejects some of 60 concurrent creates with 429 ($n429, burst $burst)" || nok "the server rejects some of 60 concurrent creates with 429" "$(sort "$tmp/codes" | uniq -c | tr '\n' ' ')"
grep -qi '^Retry-After: [0-9]' $(grep -l ' 429' "$tmp"/h* 2>/dev/null | head -1) 2>/dev/null \
  && ok "with a Retry-After header" || nok "with a Retry-After header"

# kscript: 60 concurrent creates on the loop, each retried on 429 after Retry-After
out=$("$KS" -e "
local k = assert(k8s.connect{kubeconfig = '$tmp/kc'})
local pad = ('x'):rep(3000)
local tasks, created, failed = {}, 0, {}
-- once throttled a few times, end the load that keeps the level's seats busy
ksh.spawn(function()
  local t0 = ksh.now()
  while (k.throttled or 0) < 3 and ksh.now() - t0 < 90 do ksh.sleep(0.05) end
  io.open('$tmp/stop', 'w'):close()
end)
for i = 1, 60 do
  tasks[i] = ksh.spawn(function()
    local o, err = k:create({apiVersion = 'v1', kind = 'ConfigMap', metadata = {name = 'ks-' .. i, namespace = '$ns'}, data = {pad = pad}})
    if o then created = created + 1 else failed[#failed + 1] = err.kind end
  end)
end
for _, t in ipairs(tasks) do t:wait() end
print(created, k.throttled or 0, table.concat(failed, ','))" 2>&1)
touch "$tmp/stop"; wait "${busypids[@]}"
read -r created throttled kfails <<<"$out"
is "kscript: all 60 created despite the 429s" "$created" 60
[ "${throttled:-0}" -gt 0 ] && ok "kscript waited on $throttled 429s (the server did throttle it)" || nok "kscript waited on some 429s" "$out"
is "no create failed" "${kfails:-}" ""
is "each object once" "$($KC get cm -n "$ns" -o name | grep -c '/ks-')" 60
finish
