#!/usr/bin/env bash
# The write commands (create, apply, replace, delete, patch, label, annotate,
# scale, logs) compared with the matching kubectl on the same inputs and the
# same cluster state: stdout, stderr and exit status byte for byte, and the
# objects left behind (managedFields, resourceVersion, uid, timestamps
# stripped).  Each case runs kubectl first, records, resets the namespace,
# then runs kscript the same way.  Then what kscript does on its own terms:
# malformed YAML (file, document, line; nothing sent), apply twice (the
# second changes nothing), the limited user's forbidden writes, logs -f.
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh" KSCRIPT_TEST_KUBELET
ns=kscript-write-$$
cleanup() { $KC delete ns "$ns" --wait=false >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT
$KC create ns "$ns" >/dev/null
export KUBECONFIG_NS=$ns

# the namespace's objects as JSON, volatile fields stripped
state() {
  $KC get cm,secret,deploy -n "$ns" -o json 2>/dev/null | jq -S '[.items[]
    | del(.metadata.managedFields, .metadata.resourceVersion, .metadata.uid, .metadata.creationTimestamp,
          .metadata.generation, .metadata.annotations["deployment.kubernetes.io/revision"], .status)
    | select(.metadata.name != "kube-root-ca.crt")]'
}
reset() { # empty the namespace (what the cases make), wait until it is empty
  $KC delete cm,secret,deploy --all -n "$ns" --wait=true >/dev/null 2>&1
}

# same DESC SETUP ARGS...: run SETUP then `kubectl ARGS`, record; reset; run
# SETUP then `kscript ARGS`; compare stdout, stderr, status and state.
# ARGS may use @NS@ for the namespace and @STDIN@ FILE to feed a file.
same() {
  local d=$1 setup=$2; shift 2
  local t a stdin=/dev/null
  local argv=()
  while [ $# -gt 0 ]; do
    if [ "$1" = @STDIN@ ]; then stdin=$2; shift 2; continue; fi
    argv+=("${1//@NS@/$ns}"); shift
  done
  for t in kc ks; do
    reset
    $setup
    if [ $t = kc ]; then (cd "$tmp" && $KC "${argv[@]}" <"$stdin" >"$tmp/out.$t" 2>"$tmp/err.$t"; echo $? >"$tmp/rc.$t")
    else (cd "$tmp" && "$KS" "${argv[@]}" <"$stdin" >"$tmp/out.$t" 2>"$tmp/err.$t"; echo $? >"$tmp/rc.$t"); fi
    state >"$tmp/state.$t"
  done
  local diffs=()
  for f in out err rc state; do
    cmp -s "$tmp/$f.kc" "$tmp/$f.ks" || diffs+=("$f: $(diff "$tmp/$f.ks" "$tmp/$f.kc" | head -6 | tr '\n' '|')")
  done
  if [ ${#diffs[@]} -eq 0 ]; then ok "$d"; else nok "$d (kscript < > kubectl)" "${diffs[@]}"; fi
}

cd "$tmp"
cat >multi.yaml <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm-a
  labels: {app: w}
data:
  x: "1"
---
# a comment-only document and an empty one are skipped
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: nginx}]
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: cm-b, labels: {app: w}}
  data: {y: "<&>"}
- apiVersion: v1
  kind: Secret
  metadata: {name: s-1}
  stringData: {k: v}
EOF
cat >one.json <<EOF
{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-j"}, "data": {"j": "1"}}
{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-k"}, "data": {"k": "2"}}
EOF
mkdir -p dir/sub
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d-1\n' >dir/a.yaml
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d-2\n' >dir/sub/b.yml
printf 'not a manifest\n' >dir/notes.txt
printf 'apiVersion: v1\nkind: Frobnicator\nmetadata:\n  name: f1\n' >unknown.yaml
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-ns\n  namespace: other\n' >otherns.yaml
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-inv\ndata:\n  x: 1\n' >invalid.yaml
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-unk\nfoo: 1\n' >unkfield.yaml
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n' >badname.yaml
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: conf\ndata:\n  x: "2"\n' >conf.yaml
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-a\n  labels: {app: w, v: "2"}\ndata:\n  x: "2"\n' >replace.yaml

none() { :; }
made() { $KC apply --server-side --field-manager=setup -n "$ns" -f multi.yaml >/dev/null; }
conf() { $KC create cm conf -n "$ns" --from-literal=x=1 >/dev/null; }
x1() { $KC create cm x1 -n "$ns" --from-literal=a=b >/dev/null && $KC label cm x1 -n "$ns" a=b >/dev/null \
  && $KC annotate cm x1 -n "$ns" n=1 >/dev/null; }

# ---------------------------------------------------------------- create
same "create -f multi-document YAML with a List" none create -n @NS@ -f multi.yaml
same "create -f of objects that exist: AlreadyExists each, exit 1" made create -n @NS@ -f multi.yaml
same "create -f JSON stream" none create -n @NS@ -f one.json
same "create -f DIR (top level only)" none create -n @NS@ -f dir
same "create -f DIR -R" none create -n @NS@ -R -f dir
same "create -f - (stdin)" none create -n @NS@ -f - @STDIN@ multi.yaml
same "create -f of an unknown kind" none create -n @NS@ -f unknown.yaml
same "create -f with another namespace than -n" none create -n @NS@ -f otherns.yaml
same "create -f: server says BadRequest (a number for a string)" none create -n @NS@ -f invalid.yaml
same "create -f: strict field validation" none create -n @NS@ -f unkfield.yaml
same "create -f: Invalid (spelled out as kubectl does)" none create -n @NS@ -f badname.yaml
same "create -f missing file" none create -n @NS@ -f nope.yaml
same "create -o name" none create -n @NS@ -f multi.yaml -o name
same "create --dry-run=server" none create -n @NS@ -f multi.yaml --dry-run=server
same "create --dry-run=server -o name" none create -n @NS@ -f multi.yaml --dry-run=server -o name

# ---------------------------------------------------------------- apply
same "apply --server-side -f (new objects)" none apply --server-side -n @NS@ -f multi.yaml
same "apply --server-side -f again (serverside-applied every time)" made apply --server-side -n @NS@ -f multi.yaml
same "apply: conflict with another field manager" conf apply --server-side -n @NS@ -f conf.yaml
same "apply --force-conflicts" conf apply --server-side --force-conflicts -n @NS@ -f conf.yaml
same "apply --dry-run=server" none apply --server-side --dry-run=server -n @NS@ -f multi.yaml
same "apply -f of an unknown kind" none apply --server-side -n @NS@ -f unknown.yaml
same "apply -f DIR -R" none apply --server-side -n @NS@ -R -f dir

# apply twice: the second apply changes nothing on the server
reset
"$KS" apply -n "$ns" -f multi.yaml >/dev/null
before=$($KC get cm,secret,deploy -n "$ns" -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}')
"$KS" apply -n "$ns" -f multi.yaml >"$tmp/out" 2>&1; rc=$?
after=$($KC get cm,secret,deploy -n "$ns" -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}')
is "apply twice: the second apply leaves every resourceVersion as it was" "$after" "$before"
is "apply twice: status 0 and the same lines" "$rc $(cat "$tmp/out")" "0 configmap/cm-a serverside-applied
deployment.apps/web serverside-applied
configmap/cm-b serverside-applied
secret/s-1 serverside-applied"

# ---------------------------------------------------------------- replace
same "replace -f" made replace -n @NS@ -f replace.yaml
same "replace -f of a missing object" none replace -n @NS@ -f replace.yaml

# ---------------------------------------------------------------- delete
same "delete -f multi (waits, 'from NS namespace')" made delete -n @NS@ -f multi.yaml
same "delete -f of missing objects" none delete -n @NS@ -f multi.yaml
same "delete -f --ignore-not-found" none delete -n @NS@ -f multi.yaml --ignore-not-found
same "delete NAME NAME (one missing)" made delete -n @NS@ cm cm-a cm-nope
same "delete TYPE/NAME TYPE/NAME" made delete -n @NS@ cm/cm-a deploy/web
same "delete -l" made delete -n @NS@ cm -l app=w
same "delete -l matching nothing" made delete -n @NS@ cm -l app=none
same "delete --all" made delete -n @NS@ cm --all
same "delete -o name" made delete -n @NS@ cm cm-a cm-b -o name
same "delete --dry-run=server" made delete -n @NS@ cm cm-a --dry-run=server
same "delete --cascade=orphan --wait=false" made delete -n @NS@ deploy web --cascade=orphan --wait=false
same "delete --grace-period=0 --force" made delete -n @NS@ cm cm-a --grace-period=0 --force
same "delete TYPE without a name" made delete -n @NS@ cm
same "delete with no arguments" none delete
same "delete an unknown type" none delete -n @NS@ frobs x
extra_ns() { $KC create ns "$ns-x" >/dev/null 2>&1; }
same "delete a cluster-scoped object with -n: kubectl's warning" extra_ns delete -n @NS@ ns @NS@-x --wait=false

# ---------------------------------------------------------------- patch, label, annotate, scale
same "patch (strategic, default)" x1 patch -n @NS@ cm x1 -p '{"data":{"q":"1"}}'
same "patch with no change" x1 patch -n @NS@ cm x1 -p '{"data":{"a":"b"}}'
same "patch --type=merge with YAML" x1 patch -n @NS@ cm x1 --type=merge -p 'data: {q: "2"}'
same "patch --type=json" x1 patch -n @NS@ cm x1 --type=json -p '[{"op":"add","path":"/data/z","value":"2"}]'
same "patch --type=json failing test op" x1 patch -n @NS@ cm x1 --type=json -p '[{"op":"test","path":"/data/a","value":"zz"}]'
same "patch of a missing object" x1 patch -n @NS@ cm nope -p '{}'
same "label KEY=VALUE" x1 label -n @NS@ cm x1 tier=web
same "label an existing key without --overwrite" x1 label -n @NS@ cm x1 a=c
same "label --overwrite" x1 label -n @NS@ cm x1 a=c --overwrite
same "label KEY- (remove)" x1 label -n @NS@ cm x1 a-
same "label KEY- of a missing label" x1 label -n @NS@ cm x1 nope-
same "label with no change" x1 label -n @NS@ cm x1 a=b
same "label an invalid key (Invalid from the server)" x1 label -n @NS@ cm x1 'bad key=v'
same "label a missing object" x1 label -n @NS@ cm nope a=b
same "annotate KEY=VALUE KEY=VALUE" x1 annotate -n @NS@ cm x1 m=2 o=3
same "annotate an existing key without --overwrite" x1 annotate -n @NS@ cm x1 n=9
same "annotate KEY-" x1 annotate -n @NS@ cm x1 n-
same "scale --replicas" made scale -n @NS@ deploy web --replicas=3
same "scale TYPE/NAME" made scale -n @NS@ deployment.apps/web --replicas=0
same "scale a missing deployment" made scale -n @NS@ deploy nope --replicas=1
same "scale a type without /scale" x1 scale -n @NS@ cm x1 --replicas=1

# ---------------------------------------------------------------- edit with a scripted $EDITOR
printf '#!/bin/sh\nsed -i "s/^  a: b$/  a: edited/" "$1"\n' >"$tmp/ed-change"
printf '#!/bin/sh\ntrue\n' >"$tmp/ed-none"
printf '#!/bin/sh\nsed -i "s/^  name: x1$/  name: other/" "$1"\n' >"$tmp/ed-rename"
chmod +x "$tmp"/ed-*
TMPDIR=$tmp EDITOR=$tmp/ed-change same "edit: a change is saved" x1 edit -n @NS@ cm x1
TMPDIR=$tmp EDITOR=$tmp/ed-none same "edit: no change cancels" x1 edit -n @NS@ cm x1
TMPDIR=$tmp EDITOR=$tmp/ed-none same "edit of a missing object" x1 edit -n @NS@ cm nope
# a rename is refused (the copy's path differs: compare the first and last lines)
reset; x1
TMPDIR=$tmp EDITOR=$tmp/ed-rename "$KS" edit -n "$ns" cm x1 >"$tmp/out" 2>"$tmp/err"; rc=$?
is "edit: a rename is refused, the changes kept in a copy" "$rc $(head -1 "$tmp/err" | sed 's/".*"/"F"/') $(tail -1 "$tmp/err")" \
  '1 A copy of your changes has been stored to "F" error: At least one of apiVersion, kind and name was changed'
# a 409 (someone else wrote in between) and an invalid label: the file comes back with the error on top
cat >"$tmp/ed-409" <<EOF
#!/bin/sh
n=\$(cat "$tmp/ed-count" 2>/dev/null || echo 0); n=\$((n + 1)); echo \$n >"$tmp/ed-count"
cp "\$1" "$tmp/ed-seen.\$n"
case \$n in
1) $KC -n "$ns" label cm x1 meanwhile=yes >/dev/null; sed -i 's/^  a: b\$/  a: first/' "\$1" ;;
2) sed -i 's/^  a: first\$/  a: second/; s/^  labels:\$/  labels:\n    "bad key": x/' "\$1" ;;
3) sed -i '/bad key/d' "\$1" ;;
esac
EOF
chmod +x "$tmp/ed-409"
reset; x1; rm -f "$tmp/ed-count"
TMPDIR=$tmp EDITOR=$tmp/ed-409 "$KS" edit -n "$ns" cm x1 >"$tmp/out" 2>"$tmp/err"; rc=$?
is "edit: after a 409 and an invalid save, the third save lands (exit 0, 'edited')" "$rc $(cat "$tmp/out")" "0 configmap/x1 edited"
check "edit: the 409 reopened the file with the conflict on top" grep -q '^# Operation cannot be fulfilled on configmaps "x1": the object has been modified' "$tmp/ed-seen.2"
check "edit: the invalid label reopened it with the causes as kubectl lists them" grep -q '^# \* metadata.labels: Invalid value: "bad key"' "$tmp/ed-seen.3"
is "edit: the result has the edit and the other writer's label" \
  "$($KC get cm x1 -n "$ns" -o jsonpath='{.data.a} {.metadata.labels.meanwhile}')" "second yes"

# ---------------------------------------------------------------- logs (through the API server to the kubelet stand-in)
for args in "logs backend-pod" "logs backend-pod --tail=1" "logs backend-pod --prefix" "logs pod/backend-pod -c backend" \
  "logs backend-pod backend" "logs -l app=backend" "logs backend-pod --since=1h" "logs nope" "logs backend-pod -c nope"; do
  # shellcheck disable=SC2086
  same "$args" none $args -n default
done
# logs -f: lines arrive while the kubelet writes them (one a second after the first three)
"$KS" logs -f backend-pod -n default --prefix >"$tmp/follow" 2>&1 &
fpid=$!
for _ in $(seq 1 100); do [ "$(wc -l <"$tmp/follow")" -ge 5 ] && break; sleep 0.1; done
lines=$(wc -l <"$tmp/follow")
kill "$fpid" 2>/dev/null; wait "$fpid" 2>/dev/null
check "logs -f: the 3 lines and then the ones written later ($lines lines within 10 s)" [ "$lines" -ge 5 ]
is "logs -f --prefix: line 5 as it was written" "$(sed -n 5p "$tmp/follow")" "[pod/backend-pod/backend] kscript log line 5 from default/backend-pod/backend"

# ---------------------------------------------------------------- kscript's own terms
# malformed YAML: file, document and line named; nothing created (kubectl would have created cm-ok)
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-ok\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-bad\n data:\n  x: 1\n' >bad.yaml
reset
"$KS" create -n "$ns" -f bad.yaml >"$tmp/out" 2>"$tmp/err"; rc=$?
is "malformed YAML: exit 1" "$rc" 1
is "malformed YAML: the file, the document and the line in the file" "$(cat "$tmp/err")" \
  "error: error parsing bad.yaml: document 2: yaml: did not find expected key at line 10 column 2 (while parsing a block mapping at line 6 column 1)"
is "malformed YAML: nothing was created" "$($KC get cm cm-ok -n "$ns" -o name 2>&1)" 'Error from server (NotFound): configmaps "cm-ok" not found'
printf '{"apiVersion": "v1", "kind": "ConfigMap",\n "metadata": {"name": "j"},\n "data": {"a": 1,}}\n' >bad.json
"$KS" apply -n "$ns" -f bad.json >"$tmp/out" 2>"$tmp/err"; rc=$?
check "malformed JSON: exit 1, the file, document 1 and line 3 named ($(cat "$tmp/err"))" \
  grep -q '^error: error parsing bad.json: document 1, line 3: ' "$tmp/err"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sep\n--- x\n' >badsep.yaml
"$KS" apply -n "$ns" -f badsep.yaml >"$tmp/out" 2>"$tmp/err"
is "a bad document separator is named with its line" "$(cat "$tmp/err")" "error: error parsing badsep.yaml: line 5: invalid YAML document separator: x"

# the limited user may only read pods in limited-ns: every write is Forbidden, as kubectl says
lim=(--context=limited -n limited-ns)
same "forbidden: create -f as the limited user" none create "${lim[@]}" -f one.json
same "forbidden: apply -f as the limited user" none apply --server-side "${lim[@]}" -f one.json
same "forbidden: delete as the limited user" none delete "${lim[@]}" cm x
same "forbidden: label as the limited user" none label "${lim[@]}" pod nope a=b
finish
