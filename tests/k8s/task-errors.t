#!/usr/bin/env bash
# An uncaught error in a background task ends the script with 1, against the
# real API server: a k:watch(..., handler) whose token is refused.  The same
# watch with a good token runs its handler and ends with 0 (the control).
# Needs the variables `eval "$(tests/env/up)"` exports; FAILS without them.
set -u
export LC_ALL=C
top=${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
K=${KSCRIPT:-$top/kscript}
d=$(mktemp -d "${TMPDIR:-/tmp}/kscript-taskerr.XXXXXX")
trap 'rm -rf "$d"' EXIT
n=0; fails=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails+1)); fi; }
run() { timeout 60 "$@" >"$d/out" 2>"$d/err"; rc=$?; out=$(cat "$d/out"); err=$(cat "$d/err"); }

[ -n "${KSCRIPT_TEST_APISERVER:-}" ] && [ -n "${KSCRIPT_TEST_TOKEN:-}" ] && [ -n "${KSCRIPT_TEST_CA:-}" ]
ok $? 'KSCRIPT_TEST_APISERVER, _TOKEN and _CA are set (eval "$(tests/env/up)")'

code='local k = assert(k8s.connect{server = os.getenv("KSCRIPT_TEST_APISERVER"), token = os.getenv("TOK"),
  certificate_authority = os.getenv("KSCRIPT_TEST_CA")})
k:watch("configmaps", {namespace = "default"}, function(ev) print("event", ev.type) return false end)
sleep(20)
print("main chunk went on")'
run env -u KUBECONFIG TOK=not-a-valid-token "$K" -e "$code"
[ "$rc" = 1 ]; ok $? "a watch handler whose token is refused: exit 1 (rc=$rc)"
case "$err" in *"Unauthorized"*) r=0 ;; *) r=1 ;; esac; ok $r "the refusal is reported, in the task or at the watch call ($err)"
case "$out" in *"main chunk went on"*) r=1 ;; *) r=0 ;; esac; ok $r "and the script ended there ($out)"

run env -u KUBECONFIG TOK="$KSCRIPT_TEST_TOKEN" "$K" --timeout 30s -e "${code/sleep(20)/}"
[ "$rc" = 0 ]; ok $? "the same watch with a valid token ends with 0 (rc=$rc $err)"
case "$out" in *"event	ADDED"*) r=0 ;; *) r=1 ;; esac; ok $r "after its handler saw an event ($out)"

echo "1..$n"
[ $fails = 0 ]
