#!/usr/bin/env bash
# tests/etcd/mirror.t: `kscript etcd-mirror PREFIX DIR` against etcd 3.6: the
# directory equals `etcdctl get --prefix` (one file per key, the value byte
# for byte, nothing else) after the first copy, after live changes, after a
# SIGKILL and changes made while it was down (it resumes from the revision
# it recorded), and after a compaction past that revision (it copies again
# and removes the files of deleted keys).  Keys outside the prefix never
# appear; no temp file is left.  Every wait is bounded, never a fixed sleep.
set -u
export LC_ALL=C
cd "$(dirname "$0")/../.."
. tests/etcd/lib.sh
. tests/etcd/tap.sh
unset ETCDCTL_API ETCDCTL_ENDPOINTS
KS=${KSCRIPT:-kscript}
versions=$(KSCRIPT_REQUIRE_ETCD36=1 etcd_versions) || { ok 1 "etcd 3.6 is available"; tap_done; exit 1; }
ETCDCTL=$(tests/etcd/build-etcdctl 2>"${TMPDIR:-/tmp}/build-etcdctl.log") || {
  ok 1 "etcdctl 3.6 builds"; tap_done; exit 1; }
bin=""
for v in $versions; do [ "${v%%=*}" = 3.6 ] && bin=${v#*=}; done
etcd_tmp
t=$ETCD_TEST_TMP
etcd_start m36 "$bin" >&2 || { ok 1 "etcd 3.6 starts"; tap_done; exit 1; }
E=("$ETCDCTL" --endpoints "$ETCD_EP_m36")
P=/mirror/
D=$t/dir

# same: the directory equals etcdctl's view of the prefix (prints the differences)
cat > "$t/same.py" <<'EOF'
import base64, json, os, re, sys
prefix, d = sys.argv[1].encode(), sys.argv[2]
kvs = json.load(sys.stdin).get("kvs", [])
def enc(rel):
    s = re.sub(rb"[^A-Za-z0-9._-]", lambda m: b"%%%02X" % m.group(0)[0], rel)
    s = re.sub(rb"^\.", b"%2E", s)
    return (s or b"%").decode()
want = {enc(base64.b64decode(kv["key"])[len(prefix):]): base64.b64decode(kv.get("value", "")) for kv in kvs}
got = {}
for n in os.listdir(d):
    if n.startswith("."): continue
    with open(os.path.join(d, n), "rb") as f: got[n] = f.read()
bad = [n for n in sorted(set(want) | set(got)) if want.get(n) != got.get(n)]
print("same %d" % len(want) if not bad else "differ: " + " ".join(bad[:10]))
EOF
same() { "${E[@]}" get --prefix "$P" -w json | python3 "$t/same.py" "$P" "$D"; }
is_same() { same | grep -q '^same'; }
wait_same() { local i; for i in $(seq 1 200); do is_same && return 0; sleep 0.05; done; return 1; }
wait_line() { local i; for i in $(seq 1 200); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
trap 'kill $(jobs -p) 2>/dev/null; etcd_cleanup' EXIT

"${E[@]}" put /mirror/a 1 >/dev/null
"${E[@]}" put /mirror/dir/b "two words" >/dev/null
"${E[@]}" put /mirror/.hidden h >/dev/null
"${E[@]}" put "/mirror/sp ace%" s >/dev/null
"${E[@]}" put /mirror/ "the prefix itself" >/dev/null
printf 'bin\000\377\n' | "${E[@]}" put /mirror/bin >/dev/null
"${E[@]}" put /mirrorx/outside no >/dev/null
for i in $(seq 1 50); do echo "/mirror/many/$i"; done | while read -r k; do "${E[@]}" put "$k" "v$k" >/dev/null; done

"$KS" etcd-mirror "$P" "$D" --endpoints "$ETCD_EP_m36" > "$t/m.out" 2> "$t/m.err" &
m=$!
wait_line "$t/m.err" "copied $P at revision"; ok $? "the first copy is announced"
wait_same; ok $? "the directory equals etcdctl get --prefix after the first copy ($(same))"
[ ! -e "$D/outside" ] && ! ls "$D" | grep -q outside; ok $? "keys outside the prefix are not copied"
[ -f "$D/%2Ehidden" ] && [ -f "$D/dir%2Fb" ] && [ -f "$D/%" ] && [ -f "$D/sp%20ace%25" ]; ok $? "file names: / . space % escaped, the prefix key is %"

# live changes
"${E[@]}" put /mirror/a 11 >/dev/null
"${E[@]}" del /mirror/dir/b >/dev/null
"${E[@]}" put /mirror/new fresh >/dev/null
"${E[@]}" del --prefix /mirror/many/1 >/dev/null     # 1, 10-19
wait_same; ok $? "live puts and deletes are mirrored ($(same))"
rev=$("${E[@]}" get /mirror/new -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
wait_line "$D/.etcd-mirror" "^revision $rev\$"; ok $? "the recorded revision follows the watch ($rev)"

# SIGKILL, changes while down, resume
kill -KILL "$m"; wait "$m" 2>/dev/null
saved=$(sed -n 's/^revision //p' "$D/.etcd-mirror")
"${E[@]}" put /mirror/a 111 >/dev/null
"${E[@]}" del /mirror/new >/dev/null
"${E[@]}" put /mirror/while-down yes >/dev/null
"$KS" etcd-mirror "$P" "$D" --endpoints "$ETCD_EP_m36" > "$t/m2.out" 2> "$t/m2.err" &
m=$!
wait_line "$t/m2.err" "resuming $P from revision $((saved + 1))"; ok $? "after a restart it resumes from the recorded revision + 1 ($((saved + 1)))"
wait_same; ok $? "changes made while it was down are mirrored ($(same))"
"${E[@]}" put /mirror/after-restart 1 >/dev/null
wait_same; ok $? "and it goes on watching"

# compaction past the recorded revision: a new copy, stale files removed
kill -KILL "$m"; wait "$m" 2>/dev/null
"${E[@]}" del /mirror/a >/dev/null
"${E[@]}" put /mirror/after-compact 1 >/dev/null
cur=$("${E[@]}" get /mirror/after-compact -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
"${E[@]}" compact "$cur" >/dev/null
"$KS" etcd-mirror "$P" "$D" --endpoints "$ETCD_EP_m36" > "$t/m3.out" 2> "$t/m3.err" &
m=$!
wait_line "$t/m3.err" "is compacted; copying $P again"; ok $? "a compacted revision makes it copy again ($(tail -1 "$t/m3.err"))"
wait_same; ok $? "after the new copy the directory equals etcdctl's view (a deleted key's file removed) ($(same))"
[ ! -e "$D/a" ]; ok $? "the file of the key deleted while down is gone"
stop "$m"
! ls -A "$D" | grep -q '^\.tmp-'; ok $? "no temp file left behind"

# --once into a new directory
D2=$t/once
"$KS" etcd-mirror "$P" "$D2" --endpoints "$ETCD_EP_m36" --once 2> "$t/once.err"; ok $? "--once exits 0"
D=$D2; is_same; ok $? "--once copies the prefix ($(same))"
"$KS" etcd-mirror "$P" 2>/dev/null; [ $? = 2 ]; ok $? "a missing DIR is a usage error (2)"
tap_done
