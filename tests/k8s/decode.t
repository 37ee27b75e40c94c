#!/usr/bin/env bash
# k8s.decode against the real servers: objects of every built-in type the
# cluster serves (and a custom resource) are created through the API server,
# their values read from the env's etcd, decoded, and compared byte for byte
# with `kubectl get --raw` of the same object at its storage version (the
# stored version can differ from the preferred one).  k8s.encode of the
# decoded object gives back the stored bytes.  An object that changes between
# the etcd read and kubectl's (kwok's node and pod heartbeats) is read again.
# Then the commands: dump-keys --decode and etcd get --decode.
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh" KSCRIPT_TEST_ETCD
id=$$
ns=kscript-decode-$id
group=d$id.kscript.dev
cleanup() {
  $KC delete crd "widgets.$group" --wait=false >/dev/null 2>&1
  $KC delete clusterrole "kscript-decode-empty-$id" "kscript-decode-agg-$id" --wait=false >/dev/null 2>&1
  $KC delete validatingwebhookconfiguration "kscript-decode-$id" --wait=false >/dev/null 2>&1
  $KC delete mutatingwebhookconfiguration "kscript-decode-$id" --wait=false >/dev/null 2>&1
  $KC delete ns "$ns" --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

cat > "$tmp/crd.yaml" <<EOF
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.$group}
spec:
  group: $group
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd$id]}
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 0, maximum: 100, default: 3}
              ratio: {type: number, maximum: 100.5}
              port: {x-kubernetes-int-or-string: true}
              mode: {type: string, enum: ["a", "b<c>"], default: "a"}
              tags: {type: array, items: {type: string}}
              extra: {type: object, additionalProperties: {type: string}}
              free: {type: object, x-kubernetes-preserve-unknown-fields: true}
              open: {type: object, additionalProperties: true}
EOF
cat > "$tmp/objs.yaml" <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $ns}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  namespace: $ns
  labels: {z: "1", a: "2"}
  annotations: {html: "<b>&amp;</b>", sep: "a\u2028b", emoji: "\U0001F600 ok"}
data: {b: "two", a: "one", empty: ""}
binaryData: {bin: AAEC/w==}
---
apiVersion: v1
kind: Secret
metadata: {name: s, namespace: $ns}
type: Opaque
data: {k: AAEC/w==}
stringData: {plain: "x"}
---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: $ns}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: alt, port: 8080, targetPort: 9090, protocol: TCP}
---
apiVersion: v1
kind: Pod
metadata: {name: pod, namespace: $ns, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 5
  tolerations: [{key: k, operator: Exists, effect: NoExecute, tolerationSeconds: 30}]
  nodeSelector: {kubernetes.io/os: linux}
  containers:
  - name: c
    image: nginx:1.25
    args: ["<&>", ""]
    ports: [{name: http, containerPort: 8080}]
    env:
    - {name: A, value: "1"}
    - name: B
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    resources:
      requests: {cpu: 100m, memory: 64Mi}
      limits: {cpu: "1.5", memory: 1Gi}
    livenessProbe:
      httpGet: {path: /, port: http}
      periodSeconds: 7
    readinessProbe:
      tcpSocket: {port: 8080}
  volumes:
  - name: v
    configMap: {name: cm, defaultMode: 0644}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: dep, namespace: $ns}
spec:
  replicas: 1
  selector: {matchLabels: {app: dep}}
  strategy: {rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: dep}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds, namespace: $ns}
spec:
  selector: {matchLabels: {app: ds}}
  template:
    metadata: {labels: {app: ds}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: sts, namespace: $ns}
spec:
  serviceName: svc
  replicas: 0
  selector: {matchLabels: {app: sts}}
  template:
    metadata: {labels: {app: sts}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: job, namespace: $ns}
spec:
  suspend: true
  template:
    spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cron, namespace: $ns}
spec:
  schedule: "*/5 * * * *"
  suspend: true
  jobTemplate:
    spec:
      template:
        spec: {restartPolicy: OnFailure, containers: [{name: c, image: busybox}]}
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: lease, namespace: $ns}
spec:
  holderIdentity: me
  leaseDurationSeconds: 15
  acquireTime: "2026-01-02T03:04:05.123456Z"
  renewTime: "2026-01-02T03:04:06.000001Z"
---
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: ev, namespace: $ns}
eventTime: "2026-01-02T03:04:05.654321Z"
reportingController: kscript.dev/test
reportingInstance: t1
action: Test
reason: Tested
note: "a <note> & more"
type: Normal
regarding: {kind: Pod, name: pod, namespace: $ns, apiVersion: v1}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: role, namespace: $ns}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb, namespace: $ns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: role}
subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: kscript-decode-empty-$id}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: kscript-decode-agg-$id}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {kscript.dev/agg-$id: "true"}}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: kscript-decode-$id}
webhooks:
- name: v.$group
  clientConfig: {url: "https://127.0.0.1:1/validate"}
  rules: [{apiGroups: [none$id.kscript.dev], apiVersions: ["*"], operations: [CREATE], resources: ["*"]}]
  failurePolicy: Ignore
  sideEffects: None
  admissionReviewVersions: [v1]
  timeoutSeconds: 2
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: kscript-decode-$id}
webhooks:
- name: m.$group
  clientConfig: {url: "https://127.0.0.1:1/mutate"}
  rules: [{apiGroups: [none$id.kscript.dev], apiVersions: ["*"], operations: [CREATE], resources: ["*"]}]
  failurePolicy: Ignore
  sideEffects: None
  admissionReviewVersions: [v1]
EOF
cat > "$tmp/cr.yaml" <<EOF
apiVersion: $group/v1
kind: Widget
metadata: {name: w1, namespace: $ns}
spec:
  size: 7
  ratio: 0.25
  port: http
  tags: [b, a]
  extra: {z: "1", a: "<2>"}
  free: {n: 1.5, deep: {list: [1, "x", null, true]}}
EOF

if out=$($KC apply -f "$tmp/objs.yaml" 2>&1); then ok "objects of every built-in type created"
else nok "objects of every built-in type created" "$out"; fi
if out=$($KC apply -f "$tmp/crd.yaml" 2>&1); then ok "a CustomResourceDefinition created"
else nok "a CustomResourceDefinition created" "$out"; fi
$KC wait --for=condition=Established "crd/widgets.$group" --timeout=60s >/dev/null 2>&1
if wait_for 60 $KC apply -f "$tmp/cr.yaml" >/dev/null 2>&1; then ok "a custom resource created"
else nok "a custom resource created" "$($KC apply -f "$tmp/cr.yaml" 2>&1)"; fi
# the controllers' objects: the deployment's ReplicaSet, the service's EndpointSlice
wait_for 60 sh -c "$KC get rs -n $ns -o name | grep -q ." || nok "the deployment's ReplicaSet appeared"
wait_for 60 sh -c "$KC get endpointslices -n $ns -o name | grep -q ." || nok "the service's EndpointSlice appeared"

cat > "$tmp/check.lua" <<'EOF'
-- every value under /registry: ours all, others up to 3 per kind
local etcd = require "etcd"
local proc = require "ksh.proc"
local codec = require "k8s.codec"
local ns, KC, group = arg[1], arg[2], arg[3]
local k = assert(k8s.connect())
local c = assert(etcd.connect { endpoints = os.getenv("KSCRIPT_TEST_ETCD") })
local r = assert(c:get("/registry/", { prefix = true }))
local per, seen, lines = {}, {}, {}
local function say(s) lines[#lines + 1] = s end
local function path_of(o)
  local res = k:resource(o.kind .. "." .. (o.apiVersion:match("^(.*)/") or "")) or k:resource(o.kind)
  if not res or not res.name then return nil end
  return (o.apiVersion:find("/") and "/apis/" or "/api/") .. o.apiVersion ..
    (o.metadata.namespace and ("/namespaces/" .. o.metadata.namespace) or "") .. "/" .. res.name .. "/" .. o.metadata.name
end
local function raw(path)
  local res = assert(proc.run { argv = { KC, "get", "--raw", path }, timeout = 30 })
  if res.status ~= 0 then return nil, res.stderr end
  return (res.stdout:gsub("\n$", ""))
end
for _, kv in ipairs(r.kvs) do
  local pbv = kv.value:sub(1, 4) == "k8s\0"
  if not pbv and kv.value:sub(1, 1) ~= "{" then goto next end
  local text, err = codec.decode_text(kv)
  if not text then say(("FAIL decode %s: %s"):format(kv.key, err.message)); goto next end
  local o = json.decode(text)
  if not (o.metadata and o.metadata.name) then goto next end   -- masterleases & co: no REST path
  local kindkey = o.apiVersion .. " " .. o.kind
  local mine = o.metadata.namespace == ns or o.metadata.name:find(arg[4], 1, true) or o.apiVersion:find(group, 1, true)
    or o.metadata.name:find(group, 1, true)
  per[kindkey] = per[kindkey] or { n = 0, same = 0, rt = 0, pb = pbv }
  local p = per[kindkey]
  if not mine and p.n >= 3 then goto next end
  local path = path_of(o)
  if not path then say("FAIL no REST path for " .. kindkey); goto next end
  local body, kerr = raw(path)
  if not body and kerr:find("NotFound") then
    -- a storage version the server does not serve (CRDs are stored as
    -- apiextensions v1beta1, ClusterTrustBundle as v1beta1): the served
    -- version of the same object has the same uid and resourceVersion
    local pv = o.apiVersion:match("^(.*)/") and k:resource(o.kind .. "." .. o.apiVersion:match("^(.*)/"))
    local served = pv and pv.version and raw(path:gsub("/v[%w]+/", "/" .. pv.version .. "/", 1))
    local so = served and json.decode(served)
    if so and so.metadata.uid == o.metadata.uid and so.metadata.resourceVersion == o.metadata.resourceVersion then
      if mine then seen[o.kind] = true end
      say(("ok %s (stored as %s, not served): uid and resourceVersion as %s"):format(o.metadata.name, o.apiVersion, so.apiVersion))
    elseif mine then
      say("FAIL " .. path .. ": " .. kerr)
    end
    goto next
  end
  p.n = p.n + 1
  seen[o.kind] = true
  -- changed between the two reads: read both again (bounded)
  local tries = 0
  while body ~= text and tries < 10 do
    tries = tries + 1
    local g = c:get(kv.key)
    if not g or not g.kvs[1] then break end
    kv = g.kvs[1]
    text = codec.decode_text(kv)
    body = raw(path)
  end
  if body == text then p.same = p.same + 1
  else
    local i = 1
    while body and body:sub(i, i) == text:sub(i, i) do i = i + 1 end
    say(("FAIL %s differs at byte %d\n  ours:    %s\n  kubectl: %s"):format(path, i, text:sub(math.max(1, i - 60), i + 60),
      tostring(body and body:sub(math.max(1, i - 60), i + 60))))
  end
  if pbv then
    local b, eerr = codec.encode(codec.decode(kv))
    if b == kv.value then p.rt = p.rt + 1
    else say(("FAIL encode %s: %s"):format(kv.key, eerr and eerr.message or "bytes differ")) end
  else p.rt = p.rt + 1 end
  ::next::
end
local keys = {}
for kk in pairs(per) do keys[#keys + 1] = kk end
table.sort(keys)
for _, kk in ipairs(keys) do
  local p = per[kk]
  if p.n > 0 then
    print(("%s %s %d %d %d"):format(p.same == p.n and p.rt == p.n and "OK" or "BAD", kk:gsub(" ", "|"), p.n, p.same, p.rt))
  end
end
local ks = {}
for kk in pairs(seen) do ks[#ks + 1] = kk end
table.sort(ks)
print("KINDS " .. table.concat(ks, ","))
for _, l in ipairs(lines) do print("# " .. l:gsub("\n", "\n# ")) end
EOF
"$KS" "$tmp/check.lua" "$ns" "$KC" "$group" "-$id" > "$tmp/out" 2> "$tmp/err"
status "the checker ran" $?
sed -n 's/^# /#   /p' "$tmp/out"
[ -s "$tmp/err" ] && sed 's/^/#   stderr: /' "$tmp/err" | head -20
while read -r verdict kind total same rt; do
  kind=${kind//|/ }
  if [ "$verdict" = OK ]; then ok "$kind: $total objects decode to kubectl get --raw's bytes, encode round trips"
  else nok "$kind: $total objects, $same identical to kubectl get --raw, $rt round trip"; fi
done < <(grep -E '^(OK|BAD) ' "$tmp/out")
kinds=",$(sed -n 's/^KINDS //p' "$tmp/out"),"
for want in Pod Service EndpointSlice ConfigMap Secret Deployment ReplicaSet DaemonSet StatefulSet Job CronJob \
  Node Namespace Event Lease Role RoleBinding ClusterRole ClusterRoleBinding ValidatingWebhookConfiguration \
  MutatingWebhookConfiguration CustomResourceDefinition Widget APIService ServiceAccount PriorityClass FlowSchema; do
  if [[ $kinds == *",$want,"* ]]; then ok "$want compared"; else nok "$want compared" "kinds seen: $kinds"; fi
done

# the ClusterRole without rules: "rules":null, as the API server writes it
out=$(ETCDCTL_ENDPOINTS=$KSCRIPT_TEST_ETCD "$KS" etcd get "/registry/clusterroles/kscript-decode-empty-$id" --decode --print-value-only)
want=$($KC get --raw "/apis/rbac.authorization.k8s.io/v1/clusterroles/kscript-decode-empty-$id")
is "etcd get --decode: the empty ClusterRole as kubectl get --raw" "$out" "$want"
[[ $out == *'"rules":null'* ]] && ok 'its rules are null' || nok 'its rules are null' "$out"

# dump-keys --decode: key lines then the objects; -o json like kubectl -o json's object
ETCDCTL_ENDPOINTS=$KSCRIPT_TEST_ETCD "$KS" dump-keys "/registry/configmaps/$ns/" --decode > "$tmp/dk" 2>&1
want=$(printf '%s\n%s' "/registry/configmaps/$ns/cm" "$($KC get --raw "/api/v1/namespaces/$ns/configmaps/cm")")
got=$(grep -A1 "^/registry/configmaps/$ns/cm\$" "$tmp/dk")
is "dump-keys --decode: the ConfigMap as kubectl get --raw" "$got" "$want"
ETCDCTL_ENDPOINTS=$KSCRIPT_TEST_ETCD "$KS" dump-keys "/registry/leases/$ns/lease" --decode -o json > "$tmp/dkj" 2>&1
$KC get --raw "/apis/coordination.k8s.io/v1/namespaces/$ns/leases/lease" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), indent=4, ensure_ascii=False))' > "$tmp/dkj.want"
if cmp -s "$tmp/dkj" "$tmp/dkj.want"; then ok "dump-keys --decode -o json: the Lease (MicroTime at 6 decimals) indented"
else nok "dump-keys --decode -o json: the Lease indented" "$(diff "$tmp/dkj" "$tmp/dkj.want" | head -5)"; fi
ETCDCTL_ENDPOINTS=$KSCRIPT_TEST_ETCD "$KS" dump-keys "/registry/leases/$ns/lease" --decode -o yaml > "$tmp/dky" 2>&1
$KC get lease -n "$ns" lease -o yaml --show-managed-fields > "$tmp/dky.want"
if cmp -s <(sed 1d "$tmp/dky") "$tmp/dky.want"; then ok "dump-keys --decode -o yaml: the Lease as kubectl get -o yaml"
else nok "dump-keys --decode -o yaml: as kubectl get -o yaml" "$(diff <(sed 1d "$tmp/dky") "$tmp/dky.want" | head -5)"; fi

# the protobuf transport: lists and a get give the same tables as JSON
cat > "$tmp/proto.lua" <<'EOF'
local kj = assert(k8s.connect())
local kp = assert(k8s.connect { content_type = "protobuf" })
local same, n = 0, 0
for _, what in ipairs { "pods", "services", "configmaps", "secrets", "deployments", "daemonsets", "statefulsets", "jobs",
                        "cronjobs", "leases", "roles", "clusterroles", "nodes", "namespaces", "endpointslices",
                        "customresourcedefinitions", "apiservices", "widgets." .. arg[2] } do
  -- read until two JSON lists agree (kwok's heartbeats change nodes and pods)
  for _ = 1, 10 do
    local a = assert(kj:list(what, { namespace = arg[1] }))
    local b = assert(kp:list(what, { namespace = arg[1] }))
    local a2 = assert(kj:list(what, { namespace = arg[1] }))
    if json.encode(a) == json.encode(b) or json.encode(a2) == json.encode(b) then same = same + 1; break end
  end
  n = n + 1
end
local _, r = kp:get("/api/v1/namespaces/" .. arg[1] .. "/configmaps/cm")
print(same .. "/" .. n, r.headers["content-type"])
EOF
is "protobuf transport: 18 lists (a custom resource's as JSON) equal to the JSON client's; a get is protobuf on the wire" \
  "$("$KS" "$tmp/proto.lua" "$ns" "$group" 2>&1)" "18/18	application/vnd.kubernetes.protobuf"

# a corrupt value and an encrypted one, from the Lua API
cat > "$tmp/err.lua" <<'EOF'
local etcd = require "etcd"
local c = assert(etcd.connect { endpoints = os.getenv("KSCRIPT_TEST_ETCD") })
local kv = assert(c:get(arg[1])).kvs[1]
local _, e = k8s.decode(kv.value:sub(1, #kv.value - 7), kv.key)
print(e.kind, e.offset ~= nil and e.offset <= #kv.value)
local _, e2 = k8s.decode("k8s:enc:aesgcm:v1:key1:" .. kv.value, kv.key)
print(e2.kind, e2.provider, e2.key_name)
local _, e3 = k8s.encode({ apiVersion = "x.dev/v1", kind = "Thing", metadata = { name = "a" } })
print(e3.kind)
EOF
is "a truncated value: corrupt with its offset; k8s:enc: encrypted with provider and key; a type without schema refused" \
  "$("$KS" "$tmp/err.lua" "/registry/configmaps/$ns/cm" 2>&1)" "$(printf 'corrupt\ttrue\nencrypted\taesgcm\tkey1\nunknowntype')"
finish
