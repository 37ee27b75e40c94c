#!/usr/bin/env bash
# `kscript get TYPE -A`, `-A -o name` and `-A -o wide` for every resource type
# the server lists (`kubectl api-resources --verbs=list -o name`), compared
# with the matching kubectl: stdout, stderr and exit status.  Empty types are
# the point (a Table with "rows": null, "No resources found" without a
# period under -A), so the loop runs whatever the cluster holds.
# A pair is compared exactly first (twice: a clock can tick between the two
# runs); if that differs, once more with what depends on the clock
# normalised: durations (AGE, LAST SEEN, DURATION, ...) become "<d>" and the
# padding after them, which follows their width, is squeezed (norm_age in
# tests/lib/k8s.sh; componentstatuses
# are also sorted: the server lists them in the order its probes answer).
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh"
trap 'rm -rf "$tmp"' EXIT

run() { # FILE cmd args...: stdout, then stderr, then the status
  local f=$1; shift
  "$@" >"$f.out" 2>"$f.err"; local rc=$?
  { cat "$f.out"; echo "--- stderr"; cat "$f.err"; echo "--- exit $rc"; } >"$f"
}

pass=0 total=0
compare() { # description args...
  local d=$1; shift
  local try
  total=$((total + 1))
  for try in 1 2; do
    run "$tmp/a" "$KS" "$@"
    run "$tmp/b" $KC "$@"
    cmp -s "$tmp/a" "$tmp/b" && break
  done
  # componentstatuses come in the order the server's probes answer: sorted
  local order=cat
  [ "${1:-}/${2:-}" = get/componentstatuses ] && order=sort
  if cmp -s "$tmp/a" "$tmp/b" || cmp -s <(norm_age "$tmp/a" | $order) <(norm_age "$tmp/b" | $order); then
    pass=$((pass + 1)); ok "$d"
  else
    nok "$d" "$(diff <(norm_age "$tmp/a") <(norm_age "$tmp/b") | head -8)"
  fi
}

# Types of the throwaway CRDs other tests make (groups *.kscript.dev) are left
# out: their cleanup deletes them without waiting, so one can vanish between
# the kscript run and the kubectl run of a pair (CI failed on that once).
# crd.t and get-sort.t compare CRD listings themselves.
types=$($KC api-resources --verbs=list -o name 2>"$tmp/err" | grep -v '\.kscript\.dev$')
ntypes=$(printf '%s\n' "$types" | grep -c .)
[ "$ntypes" -gt 30 ] && ok "kubectl api-resources --verbs=list lists $ntypes types" ||
  nok "kubectl api-resources --verbs=list" "$types" "$(cat "$tmp/err")"

for t in $types; do
  compare "get $t -A" get "$t" -A
  compare "get $t -A -o name" get "$t" -A -o name
  compare "get $t -A -o wide" get "$t" -A -o wide
done
# the empty ones without -A: "No resources found in NS namespace." for
# namespaced types, "No resources found" for cluster-scoped ones
for args in "get limitranges" "get csistoragecapacities" "get limitranges -n kube-system" \
  "get limitranges,resourcequotas" "get limitranges,priorityclasses" "get limitranges -o name"; do
  # shellcheck disable=SC2086
  compare "$args" $args
done
echo "# $pass of $total pairs as kubectl's ($ntypes types)"

finish
