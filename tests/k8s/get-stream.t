#!/usr/bin/env bash
# The streamed output paths of get against the real API server, in small
# pages so that every page boundary is crossed: `get -o json|yaml
# --chunk-size 2` (items from the response bytes in C) equals kubectl's in
# the same run, and `get -w --chunk-size 2` prints every initial object as
# kubectl does (one List per page), the first ones before the whole list has been read (the list is read a
# page at a time as the objects are printed).
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh"
ns=kscript-gstream-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  $KC delete ns "$ns" --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
$KC create ns "$ns" >/dev/null
for i in 1 2 3 4 5 6 7; do
  $KC -n "$ns" create configmap "cm-$i" --from-literal=a="$i" --from-literal='html=<b>&amp;</b>' \
    --from-literal=multi="$(printf 'line one\nline two\n')" >/dev/null
done
fs=metadata.name!=kube-root-ca.crt

for o in json yaml name; do
  for cs in 2 0 500; do
    $KS get configmaps -n "$ns" --field-selector "$fs" -o $o --chunk-size $cs > "$tmp/ks.$o" 2> "$tmp/ks.err"; r1=$?
    $KC get configmaps -n "$ns" --field-selector "$fs" -o $o --chunk-size $cs > "$tmp/kc.$o" 2> "$tmp/kc.err"; r2=$?
    if [ $r1 = $r2 ] && cmp -s "$tmp/ks.$o" "$tmp/kc.$o" && cmp -s "$tmp/ks.err" "$tmp/kc.err"; then
      ok "get -o $o --chunk-size $cs: byte-identical to kubectl ($(wc -c < "$tmp/ks.$o") bytes)"
    else
      nok "get -o $o --chunk-size $cs: byte-identical to kubectl" "status $r1 vs $r2" \
        "$(diff "$tmp/ks.$o" "$tmp/kc.$o" | head -20)" "$(cat "$tmp/ks.err")"
    fi
  done
done
# several types, one empty: the List wrapper and separators across requests
for o in json yaml; do
  $KS get configmaps,secrets,leases -n "$ns" --field-selector "$fs" -o $o --chunk-size 2 > "$tmp/ks.m" 2>&1
  $KC get configmaps,secrets,leases -n "$ns" --field-selector "$fs" -o $o --chunk-size 2 > "$tmp/kc.m" 2>&1
  if cmp -s "$tmp/ks.m" "$tmp/kc.m"; then ok "get configmaps,secrets,leases -o $o: byte-identical to kubectl"
  else nok "get configmaps,secrets,leases -o $o: byte-identical to kubectl" "$(diff "$tmp/ks.m" "$tmp/kc.m" | head -20)"; fi
done

# get -w: all 7 initial objects, as kubectl prints them: a list of one page
# as the objects, a list of several pages (--chunk-size 2) as one List per
# page, the lists' own resourceVersion and continue token aside
# (tests/k8s/watch-pages.t has the other formats)
$KS get configmaps -n "$ns" --field-selector "$fs" -w -o json > "$tmp/ks.w" 2>&1 & pids+=($!)
$KC get configmaps -n "$ns" --field-selector "$fs" -w -o json > "$tmp/kc.w" 2>&1 & pids+=($!)
$KS get configmaps -n "$ns" --field-selector "$fs" -w -o json --chunk-size 2 > "$tmp/ks.w2" 2>&1 & pids+=($!)
$KC get configmaps -n "$ns" --field-selector "$fs" -w -o json --chunk-size 2 > "$tmp/kc.w2" 2>&1 & pids+=($!)
n_objs() { local c; c=$(grep -c '^    "kind": "ConfigMap",$' "$1" 2>/dev/null); echo "${c:-0}"; }
n_items() { local c; c=$(grep -c '^            "kind": "ConfigMap",$' "$1" 2>/dev/null); echo "${c:-0}"; }
check "get -w: kscript and kubectl printed the 7 initial objects, in one page and in pages of 2" wait_for 60 eval \
  '[ "$(n_objs "$tmp/ks.w")" -ge 7 ] && [ "$(n_objs "$tmp/kc.w")" -ge 7 ] && [ "$(n_items "$tmp/ks.w2")" -ge 7 ] && [ "$(n_items "$tmp/kc.w2")" -ge 7 ]'
if cmp -s "$tmp/ks.w" "$tmp/kc.w"; then ok "and the same bytes (one page: the objects)"
else nok "and the same bytes (one page: the objects)" "$(diff "$tmp/ks.w" "$tmp/kc.w" | head -20)"; fi
norm_list() { sed -E 's/^(        "continue": ).*/\1"C",/; s/^(        "resourceVersion": ).*/\1"RV"/' "$1"; }
is "--chunk-size 2: one List per page (4 pages)" "$(grep -c '^    "kind": "ConfigMapList",$' "$tmp/ks.w2")" 4
if cmp -s <(norm_list "$tmp/ks.w2") <(norm_list "$tmp/kc.w2"); then ok "and the same bytes as kubectl's pages"
else nok "and the same bytes as kubectl's pages" "$(diff <(norm_list "$tmp/ks.w2") <(norm_list "$tmp/kc.w2") | head -20)"; fi

# streamed: the first object is out before the last page is asked for.  A
# Lua watch with a 2-item limit counts the list requests made by the time
# the first event is delivered.
out=$(NS=$ns FS=$fs $KS -e '
local k = assert(k8s.connect())
local http = require "ksh.http"
local reqs, orig = 0, http.request
http.request = function(o, ...)
  if not o.url:find("watch=", 1, true) then reqs = reqs + 1 end
  return orig(o, ...)
end
local w = k:watch("configmaps", { namespace = os.getenv("NS"), fieldSelector = os.getenv("FS"), limit = 2 })
local first, n = nil, 0
for ev in w do
  n = n + 1
  if n == 1 then first = reqs end
  if n == 7 then break end
end
print(first, reqs, n)' 2>&1)
set -- $out
[ "${1:-}" = 1 ] && [ "${2:-}" -ge 4 ] && [ "${3:-}" = 7 ]
status "k:watch delivers the first object after one page request, the rest as it goes (first, total, events: $out)" $?
finish
