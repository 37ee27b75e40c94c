#!/usr/bin/env bash
# A CustomResourceDefinition created and then used at once by its plural,
# short name and kind, through `kscript get` and the Lua API, while the
# discovery cache (on disk per server, and in a long-lived client's memory)
# was filled BEFORE the CRD existed: only the refresh-once-on-a-miss makes
# these work.  Objects of the new kind print byte-identical to kubectl.
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh"
id=$$   # names of our own: several runs may share one environment
ns=kscript-crd-$id
group=t$id.kscript.dev
plural=kscripttests$id short=kst$id kind=KscriptTest$id singular=kscripttest$id
crd=$plural.$group
# kscript's discovery cache, ours alone: the disk state is what the test says
export XDG_CACHE_HOME=$tmp/cache
cleanup() {
  $KC delete crd "$crd" --wait=false >/dev/null 2>&1
  $KC delete ns "$ns" --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

cat > "$tmp/crd.yaml" <<EOF
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: $crd
spec:
  group: $group
  scope: Namespaced
  names:
    plural: $plural
    singular: $singular
    kind: $kind
    shortNames: [$short]
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
EOF
cat > "$tmp/obj.yaml" <<EOF
apiVersion: $group/v1
kind: $kind
metadata:
  name: one
  namespace: $ns
  labels: {app: web, tier: a9}
spec:
  replicas: 3
  ratio: 0.5
  enabled: true
  mode: "yes"
  octal: "0755"
  html: "<b>&amp;</b>"
  list: [b, a, {k: v}]
  nested: {z: 1, b: "x", a: [1, 2.5, null]}
  long: aaaaaaaaa bbbbbbbbbb ccccccccccc dddddddddd eeeeeeeeeee ffffffffff gggggggggg hhhhhhhhhh iiiiiiiiii
EOF

$KC create ns "$ns" >/dev/null || { nok "create namespace $ns"; finish; }

# 1. the disk cache is filled while the CRD does not exist
"$KS" get cm -n "$ns" >/dev/null 2>&1
cache=$(find "$tmp/cache" -name resources.json 2>/dev/null | head -1)
check "discovery is cached on disk" [ -s "${cache:-/nonexistent}" ]
[ -n "$cache" ] && grep -q '"configmaps"' "$cache" && ! grep -q "$plural" "$cache"
status "the cache predates the CRD" $?
cp "$cache" "$tmp/stale.json" 2>/dev/null
log=$("$KS" -v get cm -n "$ns" 2>&1 >/dev/null)
is "a warm cache asks the server nothing about discovery" "$(grep -c -e '/api -> ' -e '/apis -> ' <<<"$log")" 0

# 2. a long-lived Lua client: discovery loaded and a miss already refreshed
# once, before the CRD exists; then the CRD is created and used at once
cat > "$tmp/client.lua" <<'LUA'
local k8s = require "k8s"
local ns, plural, short, kind, singular, group, KC, crdfile, objfile = table.unpack(arg)
local k = assert(k8s.connect { namespace = ns })
assert(k:resources())
local function say(...) print(table.concat({ ... }, " ")) end
local l, err = k:list(short)
say("before", l and "found" or err.kind)
local function run(cmd) assert(os.execute(cmd .. " >/dev/null"), cmd) end
run(KC .. " apply -f " .. crdfile)
run(KC .. " wait --for=condition=Established --timeout=30s crd/" .. plural .. "." .. group)
for _, name in ipairs { short, plural, kind, singular, plural .. "." .. group, kind .. ".v1." .. group, short:upper() } do
  local list, lerr = k:list(name)
  say(name, list and ("items=%d kind=%s"):format(#list.items, list.kind) or tostring(lerr))
end
run(KC .. " apply -f " .. objfile)
local o, gerr = k:get(short, "one")
say("get", o and ("%s %s replicas=%s"):format(o.kind, o.metadata.name, tostring(o.spec.replicas)) or tostring(gerr))
local e = assert(k:resource(short))
say("entry", e.name, e.kind, e.group, e.version, tostring(e.namespaced), table.concat(e.short, ","))
LUA
out=$("$KS" "$tmp/client.lua" "$ns" "$plural" "$short" "$kind" "$singular" "$group" "$KC" "$tmp/crd.yaml" "$tmp/obj.yaml" 2>&1)
is "Lua: the CRD is found right after Established by a client whose discovery predates it" "$out" "before notfound
$short items=0 kind=${kind}List
$plural items=0 kind=${kind}List
$kind items=0 kind=${kind}List
$singular items=0 kind=${kind}List
$plural.$group items=0 kind=${kind}List
$kind.v1.$group items=0 kind=${kind}List
${short^^} items=0 kind=${kind}List
get $kind one replicas=3
entry $plural $kind $group v1 true $short"

# 3. `kscript get` with the disk cache from before the CRD (restored before
# each name, so each one goes through the refresh): one refresh, then found
for name in "$short" "$plural" "$kind" "$plural.$group"; do
  for try in 1 2; do   # the AGE column can tick between the two runs
    cp "$tmp/stale.json" "$cache"; touch "$cache"
    "$KS" -v get "$name" -n "$ns" >"$tmp/a" 2>"$tmp/log"; rc=$?
    $KC get "$name" -n "$ns" >"$tmp/b" 2>&1
    cmp -s "$tmp/a" "$tmp/b" && break
  done
  is "get $name with a cache from before the CRD: exit 0, the same table as kubectl" "$rc
$(same_files "$tmp/a" "$tmp/b" && cat "$tmp/b" || cat "$tmp/a")" "0
$(cat "$tmp/b")"
  is "get $name: discovery refreshed exactly once" "$(grep -c '/api -> ' "$tmp/log")/$(grep -c '/apis -> ' "$tmp/log")" "1/1"
done
check "the refreshed discovery is written back to disk" grep -q "\"$plural\"" "$cache"
log=$("$KS" -v get "$short" -n "$ns" 2>&1 >/dev/null)
is "then the cache answers: no discovery request" "$(grep -c -e '/api -> ' -e '/apis -> ' <<<"$log")" 0

# 4. objects of the new kind, byte-compared with kubectl
same() { # description cmd-args...
  local d=$1 try; shift
  for try in 1 2; do   # an AGE column can tick between the two runs
    "$KS" "$@" >"$tmp/a" 2>&1; echo "exit $?" >>"$tmp/a"
    $KC "$@" >"$tmp/b" 2>&1; echo "exit $?" >>"$tmp/b"
    cmp -s "$tmp/a" "$tmp/b" && break
  done
  if same_files "$tmp/a" "$tmp/b"; then ok "$d"; else nok "$d" "$(diff "$tmp/a" "$tmp/b" | head -8)"; fi
}
for args in "get $short one -n $ns -o json" "get $short one -n $ns -o yaml" "get $short -n $ns -o json" \
  "get $kind.v1.$group -n $ns -o yaml" "get $short -A" "get $plural -n $ns --show-labels" "get $short -n $ns -o name" \
  "get $short/one -n $ns -o json" "get $short nope -n $ns" "get $short,cm -n $ns -o json"; do
  # shellcheck disable=SC2086
  same "$args" $args
done
# the comparisons above compared the object itself, not two identical errors
"$KS" get "$short" one -n "$ns" -o json >"$tmp/a" 2>&1; rc=$?
[ $rc = 0 ] && grep -q "^    \"kind\": \"$kind\",\$" "$tmp/a" && grep -q '^        "replicas": 3$' "$tmp/a" \
  && grep -qF '"html": "\u003cb\u003e\u0026amp;\u003c/b\u003e",' "$tmp/a"
status "get $short one -o json: exit 0, the object of kind $kind with its spec, Go's escaping" $?
"$KS" get "$short" one -n "$ns" -o yaml >"$tmp/a" 2>&1; rc=$?
[ $rc = 0 ] && grep -q '^  mode: "yes"$' "$tmp/a" && grep -q '^  octal: "0755"$' "$tmp/a"
status "get $short one -o yaml: exit 0, YAML 1.1 booleans and octals quoted" $?

# go-yaml v2 orders keys "naturally" (a9 before a10, a2b before a9)
$KC -n "$ns" patch "$short" one --type=merge -p '{"spec":{"keys":{"a9":"q","a10":"x","a2b":"y","a10b":"z","aa1":"1","aa10":"2","aa9":"3"}}}' >/dev/null
"$KS" get "$short" one -n "$ns" -o yaml >"$tmp/a" 2>&1
$KC get "$short" one -n "$ns" -o yaml >"$tmp/b" 2>&1
if cmp -s "$tmp/a" "$tmp/b" && grep -q '^    a9: q$' "$tmp/a"; then ok "-o yaml: keys in go-yaml's natural order (a9 before a10), as kubectl"
else nok "-o yaml: keys in go-yaml's natural order (a9 before a10), as kubectl" "$(diff "$tmp/a" "$tmp/b" | head -8)"; fi

# 5. gone again: the delete succeeds, and kscript sees the CRD gone as
# kubectl does (NotFound, exit 1), the Lua API with kind "notfound"
$KC delete crd "$crd" --wait=true --timeout=30s >"$tmp/del" 2>&1
status "kubectl delete crd $crd --wait: exit 0" $?
same "get crd $crd after the delete" get crd "$crd"
grep -q "^Error from server (NotFound): .*\"$crd\" not found" "$tmp/a"
status "get crd $crd after the delete: NotFound" $?
out=$(CRD=$crd "$KS" -e 'local k = assert(k8s.connect())
local o, err = k:get("customresourcedefinitions", os.getenv("CRD")); print(o == nil and err.kind)' 2>&1)
is "k:get of the deleted CRD: nil, kind notfound" "$out" "notfound"
finish
