#!/usr/bin/env bash
# `kscript get --sort-by`, tables of several chunks, `-L` and `--show-labels`,
# each byte-compared with kubectl 1.37.2 on the same objects in the same run
# (stdout, stderr, exit status).
#  - --sort-by over a CRD whose objects hold every kind of value (integers
#    with ties, floats, resource quantities next to plain strings,
#    timestamps, fields missing from some objects, values with a line break),
#    with its printer columns of every type; as tables, -o name|json|yaml|wide,
#    custom-columns and jsonpath; -A; several names; a field found nowhere
#    and one that cannot sort (kubectl stops with a fatal log line: there the
#    message after the log header is compared, and the status);
#  - 1,200 objects of varied name widths, the widest ones in later
#    chunks: kubectl 1.37 aligns each chunk at least as wide as the ones
#    before (not the whole table, not each chunk alone; a chunk's rows
#    after its last 100-row flush take the next chunk's widths); with
#    --chunk-size 500 (the default), 250 and 130, --no-headers, -L,
#    --show-labels, and --sort-by on labels with many ties (one chunk, Go's
#    unstable sort).
# The CRD's tables have no AGE column (it has printer columns of its own),
# so tables compare exactly; a pair is run again (up to four times) until
# it matches exactly or with durations masked by a string of the same width
# (never squeezing the padding: alignment is the point).
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh"
id=$$
ns=kscript-sort-$id
group=t$id.kscript.dev
plural=sorttests$id kind=SortTest$id
crd=$plural.$group
cleanup() {
  $KC delete ns "$ns" --wait=false >/dev/null 2>&1
  $KC delete crd "$crd" --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

run() { # FILE cmd args...: stdout, then stderr, then the status
  local f=$1; shift
  "$@" >"$f.out" 2>"$f.err"; local rc=$?
  { cat "$f.out"; echo "--- stderr"; cat "$f.err"; echo "--- exit $rc"; } >"$f"
}
mask() { # durations -> D repeated to their width (the padding stays as it is)
  perl -pe 's/(?<=\s)(\d+(ms|s|m|h|d|y)(\d+(s|m|h|d))?)(?=\s|$)/"D" x length($1)/ge' "$1"
}
same() { # description args...: kscript ARGS vs kubectl ARGS
  local d=$1; shift
  local try
  for try in 1 2 3 4; do
    run "$tmp/a" "$KS" "$@"
    run "$tmp/b" $KC "$@"
    if cmp -s "$tmp/a" "$tmp/b" || cmp -s <(mask "$tmp/a") <(mask "$tmp/b"); then ok "$d"; return; fi
  done
  nok "$d" "$(diff <(mask "$tmp/a") <(mask "$tmp/b") | head -8)"
}
fatal_same() { # description args...: kubectl exits with a fatal log line: the
  # same stdout and status, and the same message (kubectl's after its log header)
  local d=$1; shift
  run "$tmp/a" "$KS" "$@"
  run "$tmp/b" $KC "$@"
  local ma mb
  ma=$(sed -n 's/^error: //p' "$tmp/a.err")
  mb=$(sed -n 's/^F[0-9]\{4\} [0-9:.]* *[0-9]* [a-z_]*\.go:[0-9]*\] //p' "$tmp/b.err")
  if cmp -s "$tmp/a.out" "$tmp/b.out" && [ -n "$mb" ] && [ "$ma" = "$mb" ] &&
    [ "$(tail -1 "$tmp/a")" = "$(tail -1 "$tmp/b")" ]; then ok "$d"
  else nok "$d" "kscript: $(tail -1 "$tmp/a") $(cat "$tmp/a.err")" "kubectl: $(tail -1 "$tmp/b") $(cat "$tmp/b.err")"; fi
}

cat >"$tmp/crd.yaml" <<EOF
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: $crd
spec:
  group: $group
  scope: Namespaced
  names: {plural: $plural, singular: sorttest$id, kind: $kind}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
    additionalPrinterColumns:
    - {name: Size, type: string, jsonPath: .spec.size}
    - {name: Count, type: integer, jsonPath: .spec.count}
    - {name: Ratio, type: number, jsonPath: .spec.ratio}
    - {name: Ok, type: boolean, jsonPath: .spec.ok}
    - {name: Note, type: string, jsonPath: .spec.note, priority: 1}
EOF
$KC apply -f "$tmp/crd.yaml" >/dev/null && $KC wait --for=condition=Established --timeout=60s "crd/$crd" >/dev/null
status "CRD $crd established" $?
$KC create ns "$ns" >/dev/null
$KC -n "$ns" wait --for=create configmap/kube-root-ca.crt --timeout=120s >/dev/null

# 90 objects: ties, holes, quantities among plain strings, a note with a
# line break (cut with "..." in tables), names of varied widths
T=$tmp G=$group K=$kind "$KS" -e '
local json = require "json"
local sizes = { "1Gi", "500Mi", "1024Mi", "2", "100m", "abc", "0.5", "1e3", "10", "-1", "1.5Gi", "k8s" }
local items = {}
for i = 1, 90 do
  local name = ("s%02d"):format((i * 37) % 90) .. ("-x"):rep(i % 9)
  local spec = { count = (i % 5 ~= 0) and (i * 7) % 11 or nil, ok = (i % 2 == 0),
                 size = (i % 13 ~= 0) and sizes[i % #sizes + 1] or nil,
                 ratio = (i % 6 ~= 0) and ((i * 13) % 17) / 4 + 0.3 or nil,
                 when = ("2026-%02d-%02dT%02d:00:00Z"):format(i % 12 + 1, i % 28 + 1, i % 24),
                 note = (i % 17 == 0) and "two\nlines" or ("n" .. (i % 4)) }
  local labels = { tier = tostring(i % 4), set = "clean" }
  if i % 3 == 0 then labels.app = "web" .. (i % 2) end
  items[#items + 1] = { apiVersion = os.getenv("G") .. "/v1", kind = os.getenv("K"),
    metadata = { name = name, labels = labels }, spec = spec }
end
-- values of different types in one field: kubectl cannot sort them
for i, v in ipairs { 3, "x", 2.5 } do
  items[#items + 1] = { apiVersion = os.getenv("G") .. "/v1", kind = os.getenv("K"),
    metadata = { name = "mixed" .. i, labels = { set = "mixed" } }, spec = { count = v } }
end
local f = io.open(os.getenv("T") .. "/objs.json", "w")
f:write(json.encode({ apiVersion = "v1", kind = "List", items = json.array(items) })); f:close()'
"$KS" apply -n "$ns" -f "$tmp/objs.json" >/dev/null
status "93 objects of $kind created" $?

c="-n $ns -l set=clean"
for field in .spec.count spec.ratio '{.spec.size}' .metadata.name .spec.when .spec.note .metadata.labels.app \
  .spec.nope '{.spec.count' '.spec.list[0]'; do
  # shellcheck disable=SC2086
  same "get --sort-by $field" get $plural $c --sort-by "$field"
  # shellcheck disable=SC2086
  same "get --sort-by $field -o name" get $plural $c --sort-by "$field" -o name
done
for fmt in json yaml wide 'custom-columns=N:.metadata.name,C:.spec.count,S:.spec.size' \
  'jsonpath={range .items[*]}{.metadata.name}{" "}{.spec.ratio}{"\n"}{end}'; do
  # shellcheck disable=SC2086
  same "get --sort-by .spec.count -o $fmt" get $plural $c --sort-by .spec.count -o "$fmt"
  # shellcheck disable=SC2086
  same "get --sort-by .spec.size -o $fmt" get $plural $c --sort-by .spec.size -o "$fmt"
done
for args in "--sort-by .spec.nope -o json" "--sort-by {{ -o json" "--sort-by .spec.nope -o custom-columns=N:.metadata.name" \
  "--sort-by .metadata.name -L tier -L app --show-labels" "--sort-by .spec.ratio --no-headers -o wide" \
  "--sort-by .spec.count -l tier=1" "--sort-by .spec.nope -l tier=1,app=web1" "--sort-by .spec.nope -o json -l nope=1"; do
  # shellcheck disable=SC2086
  same "get --sort-by: $args" get $plural -n "$ns" $args
done
same "get -A --sort-by .spec.count" get $plural -A -l set=clean --sort-by .spec.count
same "get -A --sort-by .metadata.namespace -o name" get $plural -A --sort-by .metadata.namespace -o name
same "get NAME NAME --sort-by (kubectl sorts the two Tables first: not found)" get $plural -n "$ns" s01-x s02-xx --sort-by .metadata.name
same "get NAME NAME --sort-by a field of a Table" get $plural -n "$ns" s01-x s02-xx --sort-by .metadata.resourceVersion
same "get NAME NAME -o json --sort-by" get $plural -n "$ns" s01-x s02-xx s03-xxx -o json --sort-by .spec.count
same "get one NAME -o json --sort-by .spec.nope (not a list: not sorted)" get $plural -n "$ns" s01-x -o json --sort-by .spec.nope
same "get cm,TYPE --sort-by .metadata.name" get "cm,$plural" -n "$ns" --sort-by .metadata.name
fatal_same "get --sort-by .spec.ok (booleans cannot be sorted)" get $plural -n "$ns" -l set=clean --sort-by .spec.ok
fatal_same "get --sort-by .spec (a map) -o name" get $plural -n "$ns" -l set=clean --sort-by .spec -o name
fatal_same "get --sort-by .spec.count over mixed types" get $plural -n "$ns" -l set=mixed --sort-by .spec.count
fatal_same "get -o json --sort-by .spec.count over mixed types" get $plural -n "$ns" -l set=mixed --sort-by .spec.count -o json
# -w: the first list as one table, sorted; a warning that events are not
timeout 4 "$KS" get $plural -n "$ns" -l tier=2 -w --sort-by .spec.size >"$tmp/a" 2>&1
timeout 4 $KC get $plural -n "$ns" -l tier=2 -w --sort-by .spec.size >"$tmp/b" 2>&1
if [ -s "$tmp/b" ] && { cmp -s "$tmp/a" "$tmp/b" || cmp -s <(mask "$tmp/a") <(mask "$tmp/b"); }; then ok "get -w --sort-by: the warning, the first list sorted"
else nok "get -w --sort-by" "$(diff "$tmp/a" "$tmp/b" | head -6)"; fi
# flags kubectl refuses with some printers
for args in "--show-labels -o json" "--show-labels -o name" "-L tier -o custom-columns=N:.metadata.name" \
  "-L tier -o json" "--show-labels -o wide"; do
  # shellcheck disable=SC2086
  same "get $args" get $plural -n "$ns" -l tier=3 $args
done

# ---------------------------------------------------------------- several chunks
# (objects of the CRD: its table has no AGE column to tick between the runs)
T=$tmp G=$group K=$kind "$KS" -e '
local json = require "json"
local items = {}
for i = 1, 1200 do
  local name = ("c%04d"):format(i)
  if i == 700 then name = name .. ("-wide"):rep(6) end
  if i == 1100 then name = name .. ("-wider"):rep(8) end
  if i == 460 then name = name .. "-w" end
  local labels = { n = tostring(i % 7), set = "many" }
  if i % 3 == 0 then labels.app = "web" end
  if i == 999 then labels.app = "a-very-long-label-value-here" end
  local spec = { size = ("%dMi"):format(i % 50), count = i % 11 }
  if i == 1150 then spec.size = "a-long-size-value-in-the-last-chunk" end
  items[i] = { apiVersion = os.getenv("G") .. "/v1", kind = os.getenv("K"),
    metadata = { name = name, labels = labels }, spec = spec }
end
local f = io.open(os.getenv("T") .. "/many.json", "w")
f:write(json.encode({ apiVersion = "v1", kind = "List", items = json.array(items) })); f:close()'
"$KS" apply -n "$ns" -f "$tmp/many.json" >/dev/null
status "1,200 more objects created" $?
m="-n $ns -l set=many"
for args in "" "--chunk-size 250" "--chunk-size 130" "--no-headers" "--chunk-size 250 --no-headers" "-L app -L n" \
  "--show-labels --chunk-size 300" "-o wide" "--sort-by .metadata.labels.n" "--sort-by .metadata.labels.app -L app" \
  "-l app=web --chunk-size 100"; do
  # shellcheck disable=SC2086
  same "get (1,200 objects) $args" get $plural $m $args
done
# get -w: the first list as kubectl prints it, one table per page, the
# pages aligned as get aligns them (then nothing happens: both time out)
for args in "--chunk-size 250" "--chunk-size 250 --sort-by .spec.count" "-L app --no-headers"; do
  # shellcheck disable=SC2086
  timeout 10 "$KS" get $plural $m -w $args >"$tmp/a" 2>&1
  # shellcheck disable=SC2086
  timeout 10 $KC get $plural $m -w $args >"$tmp/b" 2>&1
  if [ "$(wc -l <"$tmp/b")" -ge 1200 ] && cmp -s "$tmp/a" "$tmp/b"; then ok "get -w (1,200 objects) $args: the first list as kubectl's"
  else nok "get -w (1,200 objects) $args" "$(diff "$tmp/a" "$tmp/b" | head -6)"; fi
done
# the chunks really are several: kubectl's alignment changes from one to the next
"$KS" get $plural $m >"$tmp/a" 2>&1
widths=$(awk 'NR > 1 { match($0, /^[^ ]+ +/); print RLENGTH }' "$tmp/a" | uniq | tr '\n' ' ')
is "get: three chunks, three widths of NAME (each chunk at least as wide as the ones before)" "$widths" "10 38 56 "

finish
