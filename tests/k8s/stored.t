#!/usr/bin/env bash
# kscript stored: objects read straight from etcd by resource name, against
# what kubectl gets from the API server for the same objects.  The storage
# paths are the API server's (services/specs, minions for nodes, the group
# in a custom resource's path): every name kubectl lists is found at the key
# kscript computes, and etcdctl sees those keys.  A custom resource (stored
# as JSON) prints byte for byte as kubectl prints it, one object and lists;
# with the protobuf decoder (k8s.codec) built in, built-in types are compared
# field by field too.  -w sees a create.
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh" KSCRIPT_TEST_ETCD
export ETCDCTL_ENDPOINTS=$KSCRIPT_TEST_ETCD
ETCDCTL=${XDG_CACHE_HOME:-$HOME/.cache}/kscript/etcd-${KSCRIPT_TEST_ETCD_VERSION:-v3.6.16}/etcdctl
[ -x "$ETCDCTL" ] || ETCDCTL=$(command -v etcdctl)
id=$$
ns=kscript-stored-$id
group=s$id.kscript.dev
plural=gadgets$id kind=Gadget$id short=gd$id
wpid=
cleanup() {
  [ -z "$wpid" ] || kill "$wpid" 2>/dev/null
  $KC delete crd "$plural.$group" --wait=false >/dev/null 2>&1
  $KC delete ns "$ns" --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
export XDG_CACHE_HOME=$tmp/cache   # our own discovery cache

$KC create ns "$ns" >/dev/null
$KC create configmap cm1 -n "$ns" --from-literal=a=1 >/dev/null
$KC create configmap cm2 -n "$ns" --from-literal=b=2 >/dev/null
$KC create service clusterip svc1 -n "$ns" --tcp=80:8080 >/dev/null
cat > "$tmp/crd.yaml" <<EOF
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: $plural.$group}
spec:
  group: $group
  scope: Namespaced
  names: {plural: $plural, singular: gadget$id, kind: $kind, shortNames: [$short]}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
EOF
$KC apply -f "$tmp/crd.yaml" >/dev/null
crd_ready() { $KC get "$plural.$group" -n "$ns" >/dev/null 2>&1; }
check "the CRD is served" wait_for 60 crd_ready
for i in 1 2; do
  printf 'apiVersion: %s/v1\nkind: %s\nmetadata: {name: g%s, namespace: %s, labels: {n: "%s"}}\nspec: {size: %s, ratio: 0.5, tags: [a, "<b>"], empty: {}, list: []}\n' \
    "$group" "$kind" "$i" "$ns" "$i" "$i" | $KC apply -f - >/dev/null
done

# ---------------------------------------------------------------- names at the right keys
names_kc() { # kubectl get ARGS: "ns/name" (or "name") lines, sorted
  $KC get "$@" -o jsonpath='{range .items[*]}{.metadata.namespace}{"/"}{.metadata.name}{"\n"}{end}' | sed 's#^/##' | sort
}
names_ks() { # kscript stored ARGS (table): "ns/name" with -A, else "name"
  local all=0 a
  for a in "$@"; do [ "$a" = -A ] && all=1; done
  $KS stored "$@" | tail -n +2 | if [ $all = 1 ]; then awk '{print $1 "/" $2}'; else awk '{print $1}'; fi | sort
}
is "stored pods -A: the pods kubectl lists" "$(names_ks pods -A)" "$(names_kc pods -A)"
is "stored svc -n NS: services/specs (short name svc)" "$(names_ks svc -n "$ns")" "$(names_kc svc -n "$ns" | sed 's#.*/##')"
is "stored nodes: minions" "$(names_ks nodes)" "$(names_kc nodes)"
is "stored configmaps -n kube-system" "$(names_ks configmaps -n kube-system)" "$(names_kc configmaps -n kube-system | sed 's#.*/##')"
is "stored cm -A" "$(names_ks cm -A)" "$(names_kc cm -A)"
is "stored $short (a custom resource's short name) -n NS" "$(names_ks "$short" -n "$ns")" "$(printf 'g1\ng2')"
keys() { "$ETCDCTL" get --prefix --keys-only "$1" | sed '/^$/d'; }
is "the service is at /registry/services/specs/NS/NAME (etcdctl)" "$(keys "/registry/services/specs/$ns/")" "/registry/services/specs/$ns/svc1"
is "the nodes are at /registry/minions/ (etcdctl)" "$(keys /registry/minions/ | sed 's#.*/##' | sort)" "$(names_kc nodes)"
is "the custom resources are at /registry/GROUP/PLURAL/NS/ (etcdctl)" "$(keys "/registry/$group/$plural/$ns/")" \
  "$(printf '/registry/%s/%s/%s/g1\n/registry/%s/%s/%s/g2' "$group" "$plural" "$ns" "$group" "$plural" "$ns")"
$KS stored svc -n "$ns" > "$tmp/svc.table"
check "the table says how a built-in object is stored (protobuf)" grep -Eq '^svc1 +[^ ]+ +[0-9]+ +protobuf$' "$tmp/svc.table"

# ---------------------------------------------------------------- JSON as kubectl prints it
$KS stored "$kind" g1 -n "$ns" -o json > "$tmp/g1.ks"; $KC get "$plural" g1 -n "$ns" -o json > "$tmp/g1.kc"
check "stored KIND NAME -o json = kubectl get -o json (custom resource, resourceVersion from mod_revision)" cmp "$tmp/g1.kc" "$tmp/g1.ks"
$KS stored "$plural.$group" -n "$ns" -o json > "$tmp/list.ks"; $KC get "$plural.$group" -n "$ns" -o json > "$tmp/list.kc"
check "stored PLURAL.GROUP -o json (a List) = kubectl get -o json" cmp "$tmp/list.kc" "$tmp/list.ks"
$KS stored "$short" g2 -n "$ns" -o yaml > "$tmp/g2.ks"; $KC get "$short" g2 -n "$ns" -o yaml > "$tmp/g2.kc"
check "stored -o yaml = kubectl get -o yaml" cmp "$tmp/g2.kc" "$tmp/g2.ks"
is "stored -o name" "$($KS stored "$short" -n "$ns" -o name)" "$($KC get "$short" -n "$ns" -o name)"
$KS stored crd "$plural.$group" -o json > "$tmp/crd.ks"; $KC get crd "$plural.$group" -o json > "$tmp/crd.kc"
# CRDs are stored as apiextensions.k8s.io/v1beta1 (the storage version), which
# the API server no longer serves: compare what both versions share
field() { $KS -e 'local j = require "json"; local f = assert(io.open((...))); local o = j.decode(f:read("a")); f:close()
  local v = o; for p in select(2, ...):gmatch("[^.]+") do v = type(v) == "table" and v[p] or nil end
  io.write(j.encode(v, {sort_keys = true}))' "$@"; }
is "stored crd NAME (apiextensions.k8s.io/customresourcedefinitions) shows the storage version" "$(field "$tmp/crd.ks" apiVersion)" '"apiextensions.k8s.io/v1beta1"'
for f in spec.group spec.names spec.scope metadata.uid metadata.name; do
  is "... whose $f is kubectl's" "$(field "$tmp/crd.ks" "$f")" "$(field "$tmp/crd.kc" "$f")"
done

if $KS -e 'require "k8s.codec"' >/dev/null 2>&1; then
  $KS stored cm cm1 -n "$ns" -o json > "$tmp/cm1.ks"; $KC get cm cm1 -n "$ns" -o json > "$tmp/cm1.kc"
  check "stored cm NAME -o json = kubectl (protobuf decoded)" cmp "$tmp/cm1.kc" "$tmp/cm1.ks"
  $KS stored svc svc1 -n "$ns" -o json > "$tmp/svc1.ks"; $KC get svc svc1 -n "$ns" -o json > "$tmp/svc1.kc"
  check "stored svc NAME -o json = kubectl (services/specs)" cmp "$tmp/svc1.kc" "$tmp/svc1.ks"
  node=$(names_kc nodes | head -1)
  $KS stored node "$node" -o json > "$tmp/node.ks"; $KC get node "$node" -o json > "$tmp/node.kc"
  for f in metadata.name metadata.uid metadata.labels spec status.addresses status.nodeInfo; do
    is "stored node (minions) $f = kubectl's" "$(field "$tmp/node.ks" "$f")" "$(field "$tmp/node.kc" "$f")"
  done
  pod=$($KC get pods -A -o jsonpath='{.items[0].metadata.namespace}/{.items[0].metadata.name}')
  $KS stored pod "${pod#*/}" -n "${pod%/*}" -o json > "$tmp/pod.ks"; $KC get pod "${pod#*/}" -n "${pod%/*}" -o json > "$tmp/pod.kc"
  for f in metadata.name metadata.uid metadata.ownerReferences spec status.podIP; do
    is "stored pod $f = kubectl's" "$(field "$tmp/pod.ks" "$f")" "$(field "$tmp/pod.kc" "$f")"
  done
else
  $KS stored cm cm1 -n "$ns" -o json > "$tmp/cm1.ks" 2>&1
  st=$?
  is "without k8s.codec, -o json of a protobuf value exits 1" "$st" 1
  check "... saying so: $(head -1 "$tmp/cm1.ks")" grep -q 'protobuf value' "$tmp/cm1.ks"
fi

# ---------------------------------------------------------------- --rev: an older version
old=$(field "$tmp/g1.ks" metadata.resourceVersion | tr -d '"')
$KC patch "$plural" g1 -n "$ns" --type merge -p '{"spec":{"size":42}}' >/dev/null
is "after a patch, stored shows the new spec" "$($KS stored "$short" g1 -n "$ns" -o json | grep -c '"size": 42')" 1
$KS stored "$short" g1 -n "$ns" -o json --rev "$old" > "$tmp/g1.old"
check "--rev $old shows the object as it was (byte for byte as kubectl printed it then)" cmp "$tmp/g1.kc" "$tmp/g1.old"

# ---------------------------------------------------------------- --snapshot: a file, no etcd
if $KS -e 'assert(require("etcd").snapshot)' >/dev/null 2>&1; then
  "$ETCDCTL" snapshot save "$tmp/snap.db" >/dev/null 2>&1
  $KS stored "$short" -n "$ns" -o json > "$tmp/live.json"
  $KS stored "$short" -n "$ns" -o json --snapshot "$tmp/snap.db" > "$tmp/snap.json" 2>&1
  check "--snapshot FILE (etcdctl snapshot save) gives what the live etcd gives" cmp "$tmp/live.json" "$tmp/snap.json"
  is "--snapshot: the services at services/specs" "$($KS stored svc -n "$ns" --snapshot "$tmp/snap.db" | awk 'NR > 1 {print $1}')" svc1
fi

# ---------------------------------------------------------------- errors
$KS stored cm nope -n "$ns" > "$tmp/nf" 2>&1
st=$?
is "a missing object exits 1" "$st" 1
check "... naming its key: $(cat "$tmp/nf")" grep -q "configmaps \"nope\" not found in etcd (key /registry/configmaps/$ns/nope)" "$tmp/nf"
$KS stored nosuchthings > "$tmp/nt" 2>&1
st=$?
is "an unknown resource type exits 1" "$st" 1
check "... as kubectl says it: $(cat "$tmp/nt")" grep -q "the server doesn't have a resource type \"nosuchthings\"" "$tmp/nt"

# ---------------------------------------------------------------- no API server: the built-in table
KUBECONFIG=/nonexistent $KS stored svc -n "$ns" > "$tmp/noapi" 2>&1
check "with no API server to ask, svc is still found (built-in table)" grep -Eq '^svc1 ' "$tmp/noapi"
KUBECONFIG=/nonexistent $KS stored "$plural.$group" -n "$ns" -o name > "$tmp/noapi2" 2>&1
is "... and PLURAL.GROUP of a custom resource" "$(cat "$tmp/noapi2")" "$(printf '%s.%s/g1\n%s.%s/g2' "$(tr A-Z a-z <<<"$kind")" "$group" "$(tr A-Z a-z <<<"$kind")" "$group")"

# ---------------------------------------------------------------- --etcd-prefix
is "--etcd-prefix elsewhere finds nothing" "$($KS stored cm -n "$ns" --etcd-prefix /nothing-here 2>&1)" "No resources found in $ns namespace."

# ---------------------------------------------------------------- -w sees a create
$KS stored "$short" -n "$ns" -w -o name > "$tmp/watch" 2>&1 &
wpid=$!
$KS stored cm -n "$ns" -w > "$tmp/watch.cm" 2>&1 &
wpid="$wpid $!"
initial() { grep -q g2 "$tmp/watch" && grep -q '^cm2 ' "$tmp/watch.cm"; }
check "-w prints the objects first" wait_for 30 initial
printf 'apiVersion: %s/v1\nkind: %s\nmetadata: {name: g3, namespace: %s}\nspec: {size: 3}\n' "$group" "$kind" "$ns" | $KC apply -f - >/dev/null
$KC create configmap cm3 -n "$ns" --from-literal=c=3 >/dev/null
seen() { grep -q "/g3\$" "$tmp/watch"; }
check "-w sees a custom resource created through the API server" wait_for 30 seen
seen_cm() { grep -q '^cm3 ' "$tmp/watch.cm"; }
check "-w (table) sees a configmap created through the API server" wait_for 30 seen_cm
kill $wpid 2>/dev/null; wpid=

finish
