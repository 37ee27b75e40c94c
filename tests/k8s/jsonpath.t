#!/usr/bin/env bash
# kubectl's JSONPath and custom-columns printers: `kscript get -o jsonpath=...`
# (and jsonpath-as-json, jsonpath-file, custom-columns, custom-columns-file)
# byte-compared with the matching kubectl on the same objects: range/end,
# filters, unions, slices, quoting, maps and lists as compact Go JSON (which
# escapes <>&), floats in Go's format (1e+06), null, missing keys, errors.
# The objects: nodes, pods, a ConfigMap with HTML characters, and custom
# objects of a schemaless CRD holding floats, nulls and nested lists.
# (`.*` and `..` over maps come out in Go's random map order in kubectl:
# those are compared as sorted words.)
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh"
ns=kscript-jp-$$
crd=jpthings.kscript.test
cleanup() { $KC delete ns "$ns" --wait=false >/dev/null 2>&1; $KC delete crd "$crd" --wait=false >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT

same() { # description args...: kscript vs kubectl, stdout + stderr + status
  local d=$1; shift
  "$KS" "$@" >"$tmp/a" 2>&1; echo "exit $?" >>"$tmp/a"
  $KC "$@" >"$tmp/b" 2>&1; echo "exit $?" >>"$tmp/b"
  if cmp -s "$tmp/a" "$tmp/b"; then ok "$d"; else nok "$d" "$(diff "$tmp/a" "$tmp/b" | head -8)"; fi
}
same_words() { # description args...: the same words in any order (map order is random in kubectl)
  local d=$1; shift
  "$KS" "$@" 2>&1 | tr ' ' '\n' | sort >"$tmp/a"
  $KC "$@" 2>&1 | tr ' ' '\n' | sort >"$tmp/b"
  if cmp -s "$tmp/a" "$tmp/b"; then ok "$d"; else nok "$d" "$(diff "$tmp/a" "$tmp/b" | head -8)"; fi
}

$KC create ns "$ns" >/dev/null
$KC -n "$ns" create configmap odd --from-literal='html=<b>&amp;</b>' --from-literal='uni=héllo ✓' \
  --from-literal='multi=line one
line two' >/dev/null
$KC -n "$ns" label configmap odd app=web >/dev/null
$KC apply -f - >/dev/null <<EOF
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: $crd
spec:
  group: kscript.test
  scope: Namespaced
  names: {plural: jpthings, singular: jpthing, kind: JpThing}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
EOF
for _ in $(seq 1 100); do $KC get jpthings -n "$ns" >/dev/null 2>&1 && break; sleep 0.2; done
$KC apply -n "$ns" -f - >/dev/null <<'EOF'
apiVersion: kscript.test/v1
kind: JpThing
metadata: {name: t1}
spec:
  f: 1.5
  big: 1000000.5
  small: 0.0000125
  n: 42
  neg: -7
  t: true
  z: null
  s: "a <b> & c"
  list: [3, 1, 2]
  nested: [[1, 2], [3, [4, 5]]]
  objs: [{name: a, v: 1}, {name: b, v: 2}, {name: c, v: 3, extra: {deep: "x"}}]
  empty: {}
  emptylist: []
---
apiVersion: kscript.test/v1
kind: JpThing
metadata: {name: t2}
spec:
  f: 2.25
  n: 7
  s: plain
  objs: [{name: d, v: 4}]
EOF

# ---------------------------------------------------------------- jsonpath
while IFS= read -r t; do
  [ -z "$t" ] && continue
  same "jpthings -o jsonpath=$t" get jpthings -n "$ns" -o "jsonpath=$t"
done <<'EOF'
{.items[*].metadata.name}
{.items[0].spec}
{.items[0].spec.f} {.items[0].spec.big} {.items[0].spec.small} {.items[0].spec.n} {.items[0].spec.neg}
{.items[0].spec.t}|{.items[0].spec.z}|{.items[0].spec.s}|{.items[0].spec.missing}|
{.items[0].spec.list}
{.items[0].spec.list[*]}
{.items[0].spec.list[1]}
{.items[0].spec.list[-1]}
{.items[0].spec.list[0:2]}
{.items[0].spec.list[::2]}
{.items[0].spec.list[1:]}
{.items[0].spec.nested}
{.items[0].spec.nested[1][1][0]}
{.items[0].spec.objs[*].name}
{.items[0].spec.objs[?(@.v>1)].name}
{.items[0].spec.objs[?(@.v==2)].name}
{.items[0].spec.objs[?(@.name=="c")].extra.deep}
{.items[0].spec.objs[?(@.name!='a')].v}
{.items[0].spec.objs[?(@.extra)].name}
{.items[*].spec.objs[?(@.v>=3)]}
{.items[0].spec.objs[0,2].name}
{.items[0].spec.objs[0]['name','v']}
{.items[0].spec['s']}
{.items[0].spec.empty}{"|"}{.items[0].spec.emptylist}
{range .items[*]}{.metadata.name}{"\t"}{.spec.f}{"\n"}{end}
{range .items[*]}[{range .spec.objs[*]}{.name}={.v};{end}]{end}
{range .items[*]}{.metadata.name}{end} and {.kind}
{range .items[*]}{.spec.objs[*].name}{"\n"}{end}
name: {.items[0].metadata.name}, labels: {.items[0].metadata.labels}
{.items[0].spec.objs[?(@.v==1.5)].name}
{.items[0].spec.list[7]}
{.items[0].spec.s[0]}
{.items[0].spec.list[?(@.x)]}
{.items[*].spec.n}{"\u00e9\t\x41"}
{end}
{.items[0].spec.f
{.items[0].spec.list[a]}
{@.kind}{$.kind}
{.items[0].spec.t}{true}{12}{-1.5}
EOF
same "jpthing t1 (one object, not a List) -o jsonpath" get jpthing t1 -n "$ns" -o 'jsonpath={.spec.objs[*].name} {.kind}'
same "cm -o jsonpath: map values as Go JSON (escaping <>&)" get cm odd -n "$ns" -o 'jsonpath={.data}'
same "cm -o jsonpath: strings as they are" get cm odd -n "$ns" -o 'jsonpath={.data.html} {.data.uni} {.data.multi}'
same "nodes -o jsonpath with a filter on conditions" get nodes -o 'jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}'
same "nodes -o jsonpath of addresses" get nodes -o 'jsonpath={.items[*].status.addresses[?(@.type=="InternalIP")].address}'
same "pods -A -o jsonpath" get pods -A -o 'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}: {.status.phase} {.spec.containers[*].image}{"\n"}{end}'
same "-o jsonpath-as-json" get jpthings -n "$ns" -o 'jsonpath-as-json={.items[*].spec.objs[*]}'
same "-o jsonpath-as-json of several groups" get jpthings -n "$ns" -o 'jsonpath-as-json={.items[0].spec.f}{.items[*].metadata.name}'
same "-o jsonpath= (empty)" get jpthings -n "$ns" -o 'jsonpath='
same "an empty list -o jsonpath" get cm -n "$ns" -l nothing=here -o 'jsonpath={.items[*].metadata.name}'
printf '{range .items[*]}{.metadata.name}:{.spec.n}\n{end}' >"$tmp/t.jsonpath"
same "-o jsonpath-file" get jpthings -n "$ns" -o "jsonpath-file=$tmp/t.jsonpath"
same_words "-o jsonpath with .* over a map (any order)" get jpthing t2 -n "$ns" -o 'jsonpath={.spec.*}'
same_words "-o jsonpath with .. (any order)" get jpthings -n "$ns" -o 'jsonpath={..name}'

# ---------------------------------------------------------------- custom-columns
same "custom-columns" get jpthings -n "$ns" -o 'custom-columns=NAME:.metadata.name,F:.spec.f,LIST:.spec.list,OBJ:.spec.objs[0],NONE:.spec.missing,NAMES:.spec.objs[*].name'
same "custom-columns: maps as map[k:v], null as <nil>" get jpthings -n "$ns" -o 'custom-columns=E:.spec.empty,Z:.spec.z,N:.spec.nested,B:spec.big,S:{.spec.small}'
same "custom-columns --no-headers" get nodes --no-headers -o 'custom-columns=NAME:.metadata.name,IP:.status.addresses[0].address'
same "custom-columns of labels (a map)" get cm odd -n "$ns" -o 'custom-columns=NAME:.metadata.name,LABELS:.metadata.labels,HTML:.data.html'
same "custom-columns with multi-byte text" get cm odd -n "$ns" -o 'custom-columns=U:.data.uni,N:.metadata.name'
printf 'NAME      COUNT\n.metadata.name   .spec.n\n' >"$tmp/cols"
same "custom-columns-file" get jpthings -n "$ns" -o "custom-columns-file=$tmp/cols"
same "custom-columns: a bad spec" get jpthings -n "$ns" -o 'custom-columns=NAME'
same "custom-columns: empty" get jpthings -n "$ns" -o 'custom-columns='

# ---------------------------------------------------------------- -o lua=EXPR (kscript's own, instead of go-template)
is "-o lua: one line per object" "$("$KS" get jpthings -n "$ns" -o 'lua=obj.metadata.name .. " " .. obj.spec.f')" "t1 1.5
t2 2.25"
is "-o lua: a table prints as JSON, nil prints nothing" "$("$KS" get jpthings -n "$ns" -o 'lua=obj.spec.list')" '[3,1,2]'
is "-o lua: a bad expression is a clear error" "$("$KS" get jpthings -n "$ns" -o 'lua=obj..' 2>&1)" \
  "error: error parsing -o lua expression obj..: -o lua:1: unexpected symbol near <eof>"

# ---------------------------------------------------------------- the Lua API
out=$("$KS" -e '
local jp = require "k8s.jsonpath"
local obj = json.decode([[{"a":{"b":[1,2.5,"x",null,true]}}]])
io.write(assert(jp.execute("{.a.b[*]}", obj)), "|", jp.execute("{.a.c}", obj, {allow_missing = false}) or "missing", "|")
local _, err = jp.execute("{.a.c}", obj, {allow_missing = false})
io.write(err, "|", select(2, jp.parse("{.a")), "|", table.concat(jp.values(jp.compile("{.a.b[0:2]}"), obj), ","))')
is "Lua: execute, allow_missing = false, parse errors, values" "$out" "1 2.5 x null true|missing|c is not found|unclosed action|1,2.5"
finish
