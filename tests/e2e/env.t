#!/usr/bin/env bash
# TAP test of the real test environment (tests/env/up): run with the variables
# `up` prints already exported:
#     eval "$(tests/env/up)" && prove tests/e2e/env.t; tests/env/down
# Without them it FAILS (never skips).
set -uo pipefail

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do printf '#   %s\n' "$l"; done; }
check() { # description command...: ok if the command succeeds
  local d=$1 out; shift
  if out=$("$@" 2>&1); then ok "$d"; else nok "$d" "command: $*" "${out:0:600}"; fi
}
contains() { # description needle command...
  local d=$1 needle=$2 out; shift 2
  out=$("$@" 2>&1)
  if [[ $out == *"$needle"* ]]; then ok "$d"; else nok "$d" "command: $*" "wanted: $needle" "got: ${out:0:600}"; fi
}
equals() { # description want command...
  local d=$1 want=$2 out; shift 2
  out=$("$@" 2>&1)
  if [ "$out" = "$want" ]; then ok "$d"; else nok "$d" "command: $*" "wanted: $want" "got: ${out:0:600}"; fi
}

required=(KUBECONFIG KSCRIPT_TEST_KUBECTL KSCRIPT_TEST_APISERVER KSCRIPT_TEST_ETCD KSCRIPT_TEST_CA
  KSCRIPT_TEST_ADMIN_CERT KSCRIPT_TEST_ADMIN_KEY KSCRIPT_TEST_LIMITED_CERT KSCRIPT_TEST_LIMITED_KEY
  KSCRIPT_TEST_TOKEN KSCRIPT_TEST_LIMITED_TOKEN KSCRIPT_TEST_BACKEND KSCRIPT_TEST_KUBELET
  KSCRIPT_TEST_NETNS KSCRIPT_TEST_SUBNET KSCRIPT_ENV_DIR KSCRIPT_TEST_SCHEDULER KSCRIPT_TEST_KWOK
  KSCRIPT_TEST_POD_CIDR KSCRIPT_TEST_NODE_GRACE)
missing=()
for v in "${required[@]}"; do [ -n "${!v:-}" ] || missing+=("$v"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "1..1"
  echo "not ok 1 - test environment variables are set (missing: ${missing[*]}); run: eval \"\$(tests/env/up)\""
  exit 1
fi

PLAN=51
echo "1..$PLAN"
K=$KSCRIPT_TEST_KUBECTL
: "${KSCRIPT_TEST_K8S_VERSION:=v1.37.2}" "${KSCRIPT_TEST_ETCD_VERSION:=v3.6.16}"
API=$KSCRIPT_TEST_APISERVER
admin=(--cacert "$KSCRIPT_TEST_CA" --cert "$KSCRIPT_TEST_ADMIN_CERT" --key "$KSCRIPT_TEST_ADMIN_KEY")
limited=(--cacert "$KSCRIPT_TEST_CA" --cert "$KSCRIPT_TEST_LIMITED_CERT" --key "$KSCRIPT_TEST_LIMITED_KEY")
k() { "$K" --request-timeout=20s "$@"; }
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$@"; }
ETCDCTL() { ETCDCTL_API=3 etcdctl --endpoints="$KSCRIPT_TEST_ETCD" "$@"; }
in_subnet() { # ip: inside KSCRIPT_TEST_SUBNET (a /24) or KSCRIPT_TEST_POD_CIDR (a /16)
  local net=${KSCRIPT_TEST_SUBNET%.0/24} pods=${KSCRIPT_TEST_POD_CIDR%.0.0/16}
  [[ $1 == "$net".* || $1 == "$pods".* ]]
}
poll() { # seconds command...: retry until it succeeds, at most that long
  local end=$((SECONDS + $1)); shift
  while ((SECONDS < end)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  "$@" >/dev/null 2>&1
}
U=$$-$RANDOM

# --- the servers and their versions
equals "admin /readyz is ok" "ok" curl -sf --max-time 10 "${admin[@]}" "$API/readyz"
contains "/version reports $KSCRIPT_TEST_K8S_VERSION" "\"gitVersion\": \"$KSCRIPT_TEST_K8S_VERSION\"" \
  curl -sf --max-time 10 "${admin[@]}" "$API/version"
contains "built kubectl is $KSCRIPT_TEST_K8S_VERSION" "Client Version: $KSCRIPT_TEST_K8S_VERSION" k version --client
contains "etcd backing the apiserver is $KSCRIPT_TEST_ETCD_VERSION" "\"etcdserver\":\"${KSCRIPT_TEST_ETCD_VERSION#v}" \
  curl -sf --max-time 10 "$KSCRIPT_TEST_ETCD/version"
equals "apiserver stores in that etcd (kubernetes keys under /registry)" "/registry/namespaces/default" \
  ETCDCTL get /registry/namespaces/default --keys-only

# --- identities and RBAC
equals "unauthenticated request is 403 for system:anonymous" "403" code --cacert "$KSCRIPT_TEST_CA" "$API/api/v1/namespaces"
equals "limited user can list pods in limited-ns" "yes" k --context=limited auth can-i list pods -n limited-ns
equals "limited user cannot list pods in default" "no" k --context=limited auth can-i list pods -n default
equals "limited user cannot create pods in limited-ns" "no" k --context=limited auth can-i create pods -n limited-ns
equals "limited cert: GET pods in default is HTTP 403" "403" code "${limited[@]}" "$API/api/v1/namespaces/default/pods"
equals "limited cert: GET pods in limited-ns is HTTP 200" "200" code "${limited[@]}" "$API/api/v1/namespaces/limited-ns/pods"
contains "limited kubectl gets Forbidden in default" "Forbidden" k --context=limited -n default get pods
equals "limited token: HTTP 403 in default" "403" code --cacert "$KSCRIPT_TEST_CA" -H "Authorization: Bearer $KSCRIPT_TEST_LIMITED_TOKEN" "$API/api/v1/namespaces/default/pods"
equals "token context authenticates as tokenuser" "tokenuser" k --context=token auth whoami -o 'jsonpath={.status.userInfo.username}'
equals "bearer token over curl lists namespaces" "200" code --cacert "$KSCRIPT_TEST_CA" -H "Authorization: Bearer $KSCRIPT_TEST_TOKEN" "$API/api/v1/namespaces"
equals "exec context (credential plugin) authenticates as execuser" "execuser" k --context=exec auth whoami -o 'jsonpath={.status.userInfo.username}'
equals "wrong token is 401" "401" code --cacert "$KSCRIPT_TEST_CA" -H "Authorization: Bearer not-a-token" "$API/api/v1/namespaces"

# --- controllers
ns=kscript-envt-$U
ns_empty() { [[ $(k get namespace "$ns" 2>&1) == *NotFound* ]]; }
sa_made() { k -n "$ns" get serviceaccount default; }
if k create namespace "$ns" >/dev/null && poll 60 sa_made; then ok "serviceaccount controller creates default SA in a new namespace"
else nok "serviceaccount controller creates default SA in a new namespace"; fi
k -n "$ns" create configmap owner --from-literal=a=1 >/dev/null 2>&1
uid=$(k -n "$ns" get configmap owner -o 'jsonpath={.metadata.uid}' 2>/dev/null)
k -n "$ns" apply -f - >/dev/null 2>&1 <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: dependent
  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: owner, uid: "$uid"}]
data: {b: "2"}
YAML
dep_gone() { [[ $(k -n "$ns" get configmap dependent 2>&1) == *NotFound* ]]; }
if k -n "$ns" get configmap dependent >/dev/null 2>&1 && k -n "$ns" delete configmap owner >/dev/null && poll 60 dep_gone; then
  ok "garbage collector deletes a dependent after its owner"
else nok "garbage collector deletes a dependent after its owner"; fi
k -n "$ns" apply -f - >/dev/null 2>&1 <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: sa-token
  annotations: {kubernetes.io/service-account.name: default}
type: kubernetes.io/service-account-token
YAML
tok_filled() { [ -n "$(k -n "$ns" get secret sa-token -o 'jsonpath={.data.token}')" ]; }
if poll 60 tok_filled; then ok "serviceaccount-token controller fills a service-account-token Secret"
else nok "serviceaccount-token controller fills a service-account-token Secret"; fi
if k delete namespace "$ns" --wait=false >/dev/null && poll 60 ns_empty; then ok "namespace deletion completes (namespace controller) within 60s"
else nok "namespace deletion completes (namespace controller) within 60s" "$(k get namespace "$ns" -o yaml 2>&1 | tail -20)"; fi

# --- proxying into the network namespace
contains "service proxy reaches the backend (php-apache)" $'kscript-test-backend\nmethod=GET\npath=/x/y?z=1' \
  curl -sf --max-time 20 "${admin[@]}" "$API/api/v1/namespaces/default/services/php-apache/proxy/x/y?z=1"
contains "service proxy by named port (tomcat-service:http)" "kscript-test-backend" \
  curl -sf --max-time 20 "${admin[@]}" "$API/api/v1/namespaces/default/services/tomcat-service:http/proxy/"
contains "pod proxy reaches the backend (backend-pod)" $'kscript-test-backend\nmethod=GET\npath=/' \
  curl -sf --max-time 20 "${admin[@]}" "$API/api/v1/namespaces/default/pods/backend-pod/proxy/"
equals "node proxy reaches the kubelet stand-in (node-1 /healthz)" "ok" \
  curl -sf --max-time 20 "${admin[@]}" "$API/api/v1/nodes/node-1/proxy/healthz"
equals "kubectl logs reaches the kubelet stand-in" $'kscript log line 2 from default/backend-pod/backend\nkscript log line 3 from default/backend-pod/backend' \
  k logs backend-pod --tail=2

check "seeded objects exist (deployment, job, services, slices, nodes, pod)" \
  k -n default get deployment/tomcat-deployment job/pi service/php-apache service/tomcat-service \
  endpointslice/php-apache-1 node/node-1 node/node-2 node/node-3 pod/backend-pod

# --- seeded addresses all lie in the environment's own subnet
addrs=$(k get nodes -o 'jsonpath={range .items[*]}{.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}'
        k get pods -A -o 'jsonpath={range .items[*]}{.status.podIP}{"\n"}{end}'
        k get endpointslices -A -o 'jsonpath={range .items[*]}{range .endpoints[*]}{.addresses[0]}{"\n"}{end}{end}')
bad=()
for a in $addrs; do in_subnet "$a" || bad+=("$a"); done
if [ -n "$addrs" ] && [ ${#bad[@]} -eq 0 ]; then ok "every seeded address is inside $KSCRIPT_TEST_SUBNET"
else nok "every seeded address is inside $KSCRIPT_TEST_SUBNET" "outside: ${bad[*]}" "all: $(echo $addrs)"; fi
equals "pod proxy reaches a kwok pod's IP (routed into the netns)" "kscript-test-backend" \
  bash -c "curl -sf --max-time 20 ${admin[*]@Q} \"$API/api/v1/namespaces/default/pods/\$($K -n default get pods -l app=tomcat -o 'jsonpath={.items[0].metadata.name}')/proxy/\" | head -1"

# --- 410 Gone, the documented way (tests/env/README): configmaps bypass the watch cache
cm=gone-$U
k -n default create configmap "$cm" --from-literal=v=0 >/dev/null 2>&1
rv0=$(k -n default get configmap "$cm" -o 'jsonpath={.metadata.resourceVersion}' 2>/dev/null)
for i in 1 2 3; do k -n default patch configmap "$cm" --type=merge -p "{\"data\":{\"v\":\"$i\"}}" >/dev/null 2>&1; done
rv1=$(k -n default get configmap "$cm" -o 'jsonpath={.metadata.resourceVersion}' 2>/dev/null)
ETCDCTL compact "$rv1" >/dev/null 2>&1
equals "list configmaps at a compacted resourceVersion (Exact) is HTTP 410" "410" \
  code "${admin[@]}" "$API/api/v1/namespaces/default/configmaps?resourceVersion=$rv0&resourceVersionMatch=Exact"
contains "watch configmaps from a compacted resourceVersion gives an ERROR event with code 410" '"code":410' \
  curl -s --max-time 5 "${admin[@]}" "$API/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$rv0"
k -n default delete configmap "$cm" >/dev/null 2>&1

# --- a cluster that behaves like one: scheduler, every controller, kwok nodes and pods
equals "kube-scheduler /healthz is ok" "ok" curl -sfk --max-time 10 "$KSCRIPT_TEST_SCHEDULER/healthz"
equals "kwok /healthz is ok" "ok" curl -sf --max-time 10 "$KSCRIPT_TEST_KWOK/healthz"
managed=$(k get nodes -l kscript.test/kwok=managed -o 'jsonpath={range .items[*]}{.metadata.name}{" "}{end}')
equals "the seed's three nodes are Ready (kwok)" "node-1=True node-2=True node-3=True " \
  k get nodes node-1 node-2 node-3 -o 'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{" "}{end}'
equals "kwok keeps node-1's InternalIP and kubelet port" "${KSCRIPT_TEST_NODE_IPS%% *}:${KSCRIPT_TEST_KUBELET##*:}" \
  k get node node-1 -o 'jsonpath={.status.addresses[?(@.type=="InternalIP")].address}:{.status.daemonEndpoints.kubeletEndpoint.Port}'
check "kwok renews node-1's Lease (kube-node-lease/node-1)" k -n kube-node-lease get lease node-1
hash=$(k -n default get rs -l app=tomcat -o 'jsonpath={.items[0].metadata.labels.pod-template-hash}' 2>/dev/null)
equals "tomcat-deployment owns a ReplicaSet tomcat-deployment-<pod-template-hash>" "tomcat-deployment-$hash Deployment/tomcat-deployment" \
  k -n default get rs -l app=tomcat -o 'jsonpath={.items[0].metadata.name} {.items[0].metadata.ownerReferences[0].kind}/{.items[0].metadata.ownerReferences[0].name}'
tomcat=$(k -n default get pods -l app=tomcat -o 'jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.spec.nodeName}{"\n"}{end}' 2>&1)
m=${managed% }
bad=$(grep -Ev "^tomcat-deployment-$hash-[a-z0-9]{5} Running (${m// /|})\$" <<< "$tomcat")
if [ -n "$hash" ] && [ "$(wc -l <<< "$tomcat")" = 2 ] && [ -z "$bad" ]; then ok "the seed's tomcat pods: tomcat-deployment-$hash-<5>, Running, on kwok nodes"
else nok "the seed's tomcat pods: tomcat-deployment-$hash-<5>, Running, on kwok nodes" "managed nodes: $managed" "$tomcat"; fi
KS=${KSCRIPT:-$(cd "$(dirname "$0")/../.." && pwd)/kscript}
out=$("$KS" get pods 2>&1)
if grep -Eq "^tomcat-deployment-$hash-[a-z0-9]{5} +1/1 +Running +0 " <<< "$out" && grep -Eq '^pi-[a-z0-9]{5} +0/1 +Completed ' <<< "$out"
then ok "kscript get pods shows tomcat-deployment-$hash-<5> Running and pi-<5> Completed"
else nok "kscript get pods shows tomcat-deployment-$hash-<5> Running and pi-<5> Completed" "$out"; fi
equals "the seed's job pi is Complete" "True 1" k -n default get job pi -o 'jsonpath={.status.conditions[?(@.type=="Complete")].status} {.status.succeeded}'

ns=kscript-envk-$U
k create namespace "$ns" >/dev/null 2>&1
poll 60 k -n "$ns" get serviceaccount default
ready_is() { [ "$(k -n "$ns" get deployment web -o 'jsonpath={.status.readyReplicas}')" = "$1" ]; }
if k -n "$ns" create deployment web --image=kscript.test/web:1 --replicas=3 >/dev/null && poll 120 ready_is 3; then
  ok "a new deployment reaches 3/3 ready replicas"
else nok "a new deployment reaches 3/3 ready replicas" "$(k -n "$ns" get deploy,rs,pods -o wide 2>&1)"; fi
web=$(k -n "$ns" get pods -l app=web -o 'jsonpath={range .items[*]}{.status.phase} {.spec.nodeName} {.status.podIP}{"\n"}{end}' 2>&1)
bad=$(awk -v m=" $managed" '!($1 == "Running" && index(m, " " $2 " ")) { print }' <<< "$web")
if [ "$(wc -l <<< "$web")" = 3 ] && [ -z "$bad" ] && ! grep -qv "${KSCRIPT_TEST_POD_CIDR%.0.0/16}\." <<< "$(awk '{print $3}' <<< "$web")"; then
  ok "its pods are Running on kwok nodes with IPs in $KSCRIPT_TEST_POD_CIDR"
else nok "its pods are Running on kwok nodes with IPs in $KSCRIPT_TEST_POD_CIDR" "$web"; fi
job_done() { [ "$(k -n "$ns" get job once -o 'jsonpath={.status.conditions[?(@.type=="Complete")].status}')" = True ]; }
if k -n "$ns" create job once --image=kscript.test/once:1 >/dev/null && poll 120 job_done; then ok "a new Job completes"
else nok "a new Job completes" "$(k -n "$ns" get job,pods -o wide 2>&1)"; fi
k -n "$ns" apply -f - >/dev/null 2>&1 <<YAML
apiVersion: v1
kind: Pod
metadata: {name: unbound}
spec:
  containers: [{name: c, image: kscript.test/unbound:1}]
YAML
bound() { [ -n "$(k -n "$ns" get pod unbound -o 'jsonpath={.spec.nodeName}')" ]; }
if poll 60 bound; then
  equals "a pod without a node is bound by kube-scheduler (Scheduled event from default-scheduler)" "default-scheduler" \
    k -n "$ns" get events --field-selector involvedObject.name=unbound,reason=Scheduled -o 'jsonpath={.items[0].source.component}{.items[0].reportingComponent}'
else nok "a pod without a node is bound by kube-scheduler (Scheduled event from default-scheduler)" "$(k -n "$ns" get pod unbound -o yaml 2>&1 | tail -20)"; fi
running() { [ "$(k -n "$ns" get pod unbound -o 'jsonpath={.status.phase}')" = Running ]; }
if poll 60 running; then ok "kwok runs the bound pod"; else nok "kwok runs the bound pod" "$(k -n "$ns" get pod unbound -o wide 2>&1)"; fi
deleted() { [[ $(k -n "$ns" get pod unbound 2>&1) == *NotFound* ]]; }
if k -n "$ns" delete pod unbound --wait=false >/dev/null && poll 60 deleted; then ok "a deleted pod goes away (kwok's pod-delete stage)"
else nok "a deleted pod goes away (kwok's pod-delete stage)" "$(k -n "$ns" get pod unbound -o wide 2>&1)"; fi

# --- a node whose heartbeat stops: NotReady within the grace period, Ready again after start
NODE=envt-node-$U
grace=$KSCRIPT_TEST_NODE_GRACE
node_ready() { [ "$(k get node "$NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = "$1" ]; }
"$(dirname "$0")/../env/node" add "$NODE" 2>/dev/null
if poll 60 node_ready True; then ok "a new kwok node $NODE becomes Ready"; else nok "a new kwok node $NODE becomes Ready" "$(k get node "$NODE" -o yaml 2>&1 | tail -30)"; fi
t0=$SECONDS
"$(dirname "$0")/../env/node" stop "$NODE" 2>/dev/null
if poll $((grace + 60)) node_ready Unknown; then
  el=$((SECONDS - t0))
  if ((el <= grace + 15)); then ok "tests/env/node stop: NotReady (Ready=Unknown) after ${el}s (grace ${grace}s, node-monitor-period 2s)"
  else nok "tests/env/node stop: NotReady (Ready=Unknown) after ${el}s (grace ${grace}s, node-monitor-period 2s)"; fi
else nok "tests/env/node stop: NotReady (Ready=Unknown) within $((grace + 60))s" "$(k get node "$NODE" -o yaml 2>&1 | tail -30)"; fi
tainted() { [[ $(k get node "$NODE" -o 'jsonpath={.spec.taints[*].key}') == *node.kubernetes.io/unreachable* ]]; }
if poll 30 tainted; then ok "the node-lifecycle controller taints it unreachable"; else nok "the node-lifecycle controller taints it unreachable" "$(k get node "$NODE" -o 'jsonpath={.spec.taints}' 2>&1)"; fi
"$(dirname "$0")/../env/node" start "$NODE" 2>/dev/null
untainted() { ! tainted; }
if poll 60 node_ready True && poll 60 untainted; then ok "tests/env/node start: Ready again, taint removed"
else nok "tests/env/node start: Ready again, taint removed" "$(k get node "$NODE" -o yaml 2>&1 | tail -30)"; fi
# leave the cluster as the seed made it: later tests compare two reads of all nodes and pods
k delete node "$NODE" --wait=false >/dev/null 2>&1
k delete namespace "$ns" --wait=false >/dev/null 2>&1
node_gone() { [[ $(k get node "$NODE" 2>&1) == *NotFound* ]]; }
if poll 120 ns_empty && poll 60 node_gone; then ok "the test's namespace and node are gone (pods deleted by kwok)"
else nok "the test's namespace and node are gone (pods deleted by kwok)" "$(k get ns "$ns" -o yaml 2>&1 | tail -15)"; fi

[ "$n" = "$PLAN" ] || { echo "# planned $PLAN tests, ran $n"; exit 1; }
[ "$failed" = 0 ]
