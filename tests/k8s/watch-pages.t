#!/usr/bin/env bash
# get -w over an initial list of several pages, against kubectl in the same
# run: kubectl gets the pages of the first list as objects and prints one List
# per page (its continue token, remainingItemCount and resourceVersion
# included) for -o json and -o yaml, and one event per page with
# --output-watch-events (managedFields kept there); -o name prints every item.
# kscript must print the same bytes, the lists' own resourceVersions and
# continue tokens aside (each tool lists at its own moment).  A list of one
# page prints its objects one by one (covered in tests/k8s/watch-cmd.t).
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh"
ns=kscript-wpages-$$
N=1100   # 3 pages of 500
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  $KC delete ns "$ns" --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
$KC create ns "$ns" >/dev/null
NS=$ns N=$N $KS - <<'LUA'
local k = assert(k8s.connect())
local ns, n, next_i, tasks = os.getenv("NS"), tonumber(os.getenv("N")), 0, {}
for w = 1, 16 do
  tasks[w] = spawn(function()
    while next_i < n do
      next_i = next_i + 1
      assert(k:create { apiVersion = "v1", kind = "ConfigMap",
        metadata = { name = ("cm-%05d"):format(next_i), namespace = ns, labels = { i = tostring(next_i % 7) } },
        data = { index = tostring(next_i), text = ("<&>"):rep(next_i % 5) } })
    end
  end)
end
for _, t in ipairs(tasks) do t:wait() end
LUA
status "$N ConfigMaps created" $?
# (the controller-manager may publish kube-root-ca.crt in the namespace at any time)
fs=metadata.name!=kube-root-ca.crt

# names of the ConfigMaps printed so far, whatever the format
count() { grep -oE '(name": "|name":"|name: |/)cm-[0-9]{5}' "$1" 2>/dev/null | sort -u | wc -l; }
# the lists' own resourceVersion and continue token (JSON indented, JSON of an
# event, YAML bare, YAML in an event)
norm() {
  case $2 in
    json) sed -E 's/^(        "continue": ).*/\1"C",/; s/^(        "resourceVersion": ).*/\1"RV"/' "$1" ;;
    events-json) sed -E 's/"continue":"[^"]*"/"continue":"C"/; s/"resourceVersion":"[0-9]+"\}\}\}$/"resourceVersion":"RV"}}}/' "$1" ;;
    yaml) sed -E 's/^(  continue: ).*/\1C/; s/^(  resourceVersion: ).*/\1RV/' "$1" ;;
    events-yaml) sed -E 's/^(    continue: ).*/\1C/; s/^(    resourceVersion: ).*/\1RV/' "$1" ;;
    *) cat "$1" ;;
  esac
}

for spec in "json:-o json" "yaml:-o yaml" "events-json:-o json --output-watch-events" \
            "events-yaml:-o yaml --output-watch-events" "name:-o name"; do
  kind=${spec%%:*} args=${spec#*:}
  # shellcheck disable=SC2086
  $KC get configmaps -n "$ns" --field-selector "$fs" -w $args > "$tmp/kc.$kind" 2> "$tmp/kc.$kind.err" & kc=$!
  # shellcheck disable=SC2086
  $KS get configmaps -n "$ns" --field-selector "$fs" -w $args > "$tmp/ks.$kind" 2> "$tmp/ks.$kind.err" & ks=$!
  pids+=("$kc" "$ks")
  check "$args: both printed all $N objects" wait_for 120 eval \
    '[ "$(count "$tmp/kc.$kind")" = $N ] && [ "$(count "$tmp/ks.$kind")" = $N ]'
  # the output of a watch never ends: let a quiet moment pass for the last bytes
  wait_for 10 eval 'a=$(wc -c < "$tmp/ks.$kind"); sleep 0.5; [ "$a" = "$(wc -c < "$tmp/ks.$kind")" ]' >/dev/null
  wait_for 10 eval 'a=$(wc -c < "$tmp/kc.$kind"); sleep 0.5; [ "$a" = "$(wc -c < "$tmp/kc.$kind")" ]' >/dev/null
  kill "$kc" "$ks" 2>/dev/null
  norm "$tmp/kc.$kind" "$kind" > "$tmp/kc.$kind.n"
  norm "$tmp/ks.$kind" "$kind" > "$tmp/ks.$kind.n"
  if cmp -s "$tmp/kc.$kind.n" "$tmp/ks.$kind.n"; then ok "$args: the same bytes as kubectl ($(wc -c < "$tmp/kc.$kind") bytes)"
  else nok "$args: the same bytes as kubectl" "$(diff "$tmp/kc.$kind.n" "$tmp/ks.$kind.n" | head -c 1500)"; fi
  case $kind in
    json|yaml|events-*)
      pages=$(grep -c 'ConfigMapList' "$tmp/ks.$kind")
      is "$args: one List per page" "$pages" 3 ;;
  esac
  is "$args: kscript wrote nothing on stderr" "$(cat "$tmp/ks.$kind.err")" ""
done
# each page is what it says: the first two carry a continue token
is "-o json: pages 1 and 2 carry a continue token, the last none" \
  "$(grep -c '^        "continue": ' "$tmp/ks.json")" 2
is "-o json: no managedFields in a bare List's items" "$(grep -c managedFields "$tmp/ks.json")" 0
check "--output-watch-events -o json: managedFields kept, as kubectl keeps them" grep -q managedFields "$tmp/ks.events-json"
finish
