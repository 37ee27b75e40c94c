# tests/lib/k8s.sh: TAP helpers for the bash tests against the control plane
# (sourced).  It FAILS, never skips, when the environment is not up:
#   . "$top/tests/lib/k8s.sh" [EXTRA_VAR...]   (variables that must be set too)
# Sets KS (kscript under test), KC (the matching kubectl), tmp (a temp dir).
# wait_for SECS CMD... waits for an event (generous bounds, never a fixed sleep);
# same_files A B compares outputs exactly, else with ages (which tick between
# two runs on a loaded machine) normalised by norm_age.
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do printf '#   %s\n' "$l"; done; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
status() { if [ "$2" = 0 ]; then ok "$1"; else nok "$1"; fi; }   # description $?
is() { # description got want
  if [ "$2" = "$3" ]; then ok "$1"; else nok "$1" "got:  $(printf '%s' "$2" | head -c 600 | tr '\n' '|')" "want: $(printf '%s' "$3" | head -c 600 | tr '\n' '|')"; fi
}
wait_for() { # SECONDS cmd...: poll cmd every 0.1 s until it succeeds (1 after SECONDS)
  local i n=$(($1 * 10)); shift
  for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}
serving_port() { # FILE: the port of the "Starting to serve on HOST:PORT" line a proxy
  # (kscript's or kubectl's) writes to FILE, waiting up to 30 s; empty if none came
  # (FILE may not exist yet: the shell that starts the proxy opens it)
  wait_for 30 grep -qs '^Starting to serve on .*:[0-9][0-9]*$' "$1"
  sed -n 's/^Starting to serve on .*:\([0-9][0-9]*\)$/\1/p' "$1" 2>/dev/null | head -1
}
norm_age() { # FILE: durations (AGE, LAST SEEN, ...) -> <d>, runs of blanks -> one
  sed -E 's/(^|[[:space:]])(<invalid>|<unknown>|[0-9]+(\.[0-9]+)?(ms|s|m|h|d|y)([0-9]+(s|m|h|d))?)([[:space:]]|$)/\1<d>\7/g;
          s/(^|[[:space:]])(<invalid>|<unknown>|[0-9]+(\.[0-9]+)?(ms|s|m|h|d|y)([0-9]+(s|m|h|d))?)([[:space:]]|$)/\1<d>\7/g;
          s/[[:space:]]+/ /g' "$1"
}
same_files() { # A B: identical, or identical once the clock's columns are normalised
  cmp -s "$1" "$2" || cmp -s <(norm_age "$1") <(norm_age "$2")
}
finish() { echo "1..$n"; [ $failed -eq 0 ]; exit $?; }
for _v in KUBECONFIG KSCRIPT_TEST_KUBECTL "$@"; do
  if [ -z "${!_v:-}" ]; then
    nok "$_v is set (eval \"\$(tests/env/up)\")"
    finish
  fi
done
KS=${KSCRIPT:-kscript}
KC=$KSCRIPT_TEST_KUBECTL
tmp=$(mktemp -d)
