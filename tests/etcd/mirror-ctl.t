#!/usr/bin/env bash
# tests/etcd/mirror-ctl.t: `kscript etcd make-mirror` beside etcdctl 3.6's,
# from one etcd 3.6 source to two destinations (one each): the keys under
# --prefix copied at one revision with --dest-prefix in place of the prefix,
# then puts, overwrites, deletes and multi-key transactions (split by
# --max-txn-ops 2) followed; both destinations must end byte for byte alike
# and equal to the source with the prefix replaced.  A second pair with
# --no-dest-prefix and --rev (etcdctl then only watches from REV, and leaves
# the prefix out of the destination keys); misuse compared too.
set -u
export LC_ALL=C
cd "$(dirname "$0")/../.."
. tests/etcd/lib.sh
. tests/etcd/tap.sh
unset ETCDCTL_API ETCDCTL_ENDPOINTS
KSCRIPT_REQUIRE_ETCD36=1 versions=$(etcd_versions) || { ok 1 "etcd 3.6 is required"; tap_done; exit 1; }
ETCDCTL=$(tests/etcd/build-etcdctl 2>"${TMPDIR:-/tmp}/build-etcdctl.log") || { ok 1 "etcdctl 3.6 builds"; tap_done; exit 1; }
bin=${versions##*3.6=}
etcd_tmp
t=$ETCD_TEST_TMP
V="[etcd 3.6]"
for n in src dk de; do etcd_start "$n" "$bin" >&2 || { ok 1 "$V etcd $n starts"; tap_done; exit 1; }; done
S=$ETCD_EP_src; DK=$ETCD_EP_dk; DE=$ETCD_EP_de
ctl() { "$ETCDCTL" "$@" 2>&1 | grep -av '^{"level"'; }

# misuse: the same words and exit codes as etcdctl
for args in "make-mirror" "make-mirror a b" "make-mirror --dest-prefix /x --no-dest-prefix $DK"; do
  # shellcheck disable=SC2086
  kscript etcd --endpoints "$S" $args >"$t/k.out" 2>"$t/k.err"; kc=$?
  # shellcheck disable=SC2086
  "$ETCDCTL" --endpoints "$S" $args >"$t/e.out" 2>"$t/e.err"; ec=$?
  [ "$kc" = "$ec" ] && [ "$(tail -1 "$t/k.err")" = "$(grep -av '^{"level"' "$t/e.err" | tail -1)" ]
  ok $? "$V misuse: $args (exit $kc, etcdctl $ec)"
done

# the source: keys under /src/ (spaces, UTF-8, high bytes, an empty value) and beside it
ctl --endpoints "$S" put /src/a 1 >/dev/null
ctl --endpoints "$S" put '/src/with space' 'two words' >/dev/null
ctl --endpoints "$S" put /src/ü/ключ 'ünï' >/dev/null
printf 'x\377y' | "$ETCDCTL" --endpoints "$S" put /src/bin >/dev/null 2>&1
ctl --endpoints "$S" put /src/empty '' >/dev/null
ctl --endpoints "$S" put /other/a no >/dev/null
for i in $(seq 1 30); do "$ETCDCTL" --endpoints "$S" put "/src/many/$i" "v$i" >/dev/null 2>&1; done

kscript etcd --endpoints "$S" make-mirror --prefix /src/ --dest-prefix /dst/ --max-txn-ops 2 "$DK" >"$t/km.out" 2>"$t/km.err" &
kpid=$!
"$ETCDCTL" --endpoints "$S" make-mirror --prefix /src/ --dest-prefix /dst/ --max-txn-ops 2 "$DE" >"$t/em.out" 2>"$t/em.err" &
epid=$!

# the source's /src/ with the prefix replaced, as each destination should hold it
want() { "$ETCDCTL" --endpoints "$S" get /src/ --prefix 2>/dev/null | python3 -c '
import sys
d = sys.stdin.buffer.read().split(b"\n")
out = []
for i in range(0, len(d) - 1, 2):
    out.append(d[i].replace(b"/src/", b"/dst/", 1) + b"\n" + d[i + 1] + b"\n")
sys.stdout.buffer.write(b"".join(out))'; }
# wait_same NAME: both destinations equal the source (bounded), then compared byte for byte
wait_same() {
  local i w k e
  for i in $(seq 1 100); do
    w=$(want | od -c); k=$("$ETCDCTL" --endpoints "$DK" get /dst/ --prefix 2>/dev/null | od -c)
    e=$("$ETCDCTL" --endpoints "$DE" get /dst/ --prefix 2>/dev/null | od -c)
    [ "$w" = "$k" ] && [ "$w" = "$e" ] && break
    sleep 0.1
  done
  [ "$w" = "$k" ]; ok $? "$V $1: kscript's destination holds the source's keys under /dst/"
  [ "$w" = "$k" ] || diff <(echo "$w") <(echo "$k") | head -10 | sed 's/^/#   /'
  [ "$k" = "$e" ]; ok $? "$V $1: kscript's destination is etcdctl's, byte for byte"
}
wait_same "initial copy"
[ "$("$ETCDCTL" --endpoints "$DK" get /other/a 2>/dev/null)" = "" ]; ok $? "$V keys outside --prefix are not copied"

# changes after the copy: overwrite, delete, a transaction of several keys, a prefix delete
ctl --endpoints "$S" put /src/a changed >/dev/null
ctl --endpoints "$S" del '/src/with space' >/dev/null
printf '\nput /src/t1 a\nput /src/t2 b\nput /src/t3 c\ndel /src/empty\nput /other/t x\n\n\n' | "$ETCDCTL" --endpoints "$S" txn >/dev/null 2>&1
ctl --endpoints "$S" del /src/many/1 --prefix >/dev/null   # /src/many/1, /src/many/10..19: one revision
ctl --endpoints "$S" put /src/last end >/dev/null
wait_same "updates (one transaction per source revision, at most 2 operations each)"
# the destination revisions: etcdctl and kscript commit the same transactions
kr=$("$ETCDCTL" --endpoints "$DK" get /dst/last -w json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
er=$("$ETCDCTL" --endpoints "$DE" get /dst/last -w json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
[ -n "$kr" ] && [ "$kr" = "$er" ]; ok $? "$V as many destination revisions as etcdctl's ($kr, $er)"
kill -0 "$kpid" 2>/dev/null; ok $? "$V kscript's make-mirror is still following"
kill "$kpid" "$epid" 2>/dev/null; wait "$kpid" "$epid" 2>/dev/null
cmp -s "$t/km.out" "$t/em.out"; ok $? "$V the same stdout as etcdctl's (no count before 30 s)"

# --no-dest-prefix --rev R: only the changes from R on, the prefix left out
rev=$("$ETCDCTL" --endpoints "$S" put /src/r1 one -w json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
ctl --endpoints "$S" put /src/r2 two >/dev/null
kscript etcd --endpoints "$S" make-mirror --prefix /src/ --no-dest-prefix --rev "$rev" "$DK" >/dev/null 2>"$t/km.err" &
kpid=$!
"$ETCDCTL" --endpoints "$S" make-mirror --prefix /src/ --no-dest-prefix --rev "$rev" "$DE" >/dev/null 2>"$t/em.err" &
epid=$!
for i in $(seq 1 100); do
  k=$("$ETCDCTL" --endpoints "$DK" get r1 --from-key 2>/dev/null); e=$("$ETCDCTL" --endpoints "$DE" get r1 --from-key 2>/dev/null)
  [ "$k" = "$(printf 'r1\none\nr2\ntwo')" ] && [ "$k" = "$e" ] && break
  sleep 0.1
done
[ "$k" = "$(printf 'r1\none\nr2\ntwo')" ] && [ "$k" = "$e" ]; ok $? "$V --no-dest-prefix --rev: the changes from REV, at the root, as etcdctl"
[ "$k" = "$e" ] || { echo "# kscript: $k"; echo "# etcdctl: $e"; }
kill "$kpid" "$epid" 2>/dev/null; wait "$kpid" "$epid" 2>/dev/null
tap_done
