#!/usr/bin/env bash
# tests/etcd/ctl.t: `kscript etcd` against etcdctl 3.6 (built beside etcd by
# tests/etcd/build-etcdctl), command by command, in the same run.  For each
# server version (etcd 3.4 and 3.6) two twin servers are started with the
# same identity (ETCD_TWIN=1: same cluster and member IDs); kscript talks to
# one, etcdctl to the other, and every case sends both the same command (and
# stdin), so their states stay equal and the outputs must be byte-identical:
# stdout, the last line of stderr (etcdctl's "Error: ..."; its JSON log
# lines cannot match) and the exit code.
#   KSCRIPT_CTL_SEED=N  the seed of the random keys and flag sets (printed)
#   KSCRIPT_CTL_N=N     how many random get cases per server (default 60)
#   KSCRIPT_CTL_ETCDCTL=PATH  another etcdctl (debugging only)
set -u
export LC_ALL=C
cd "$(dirname "$0")/../.."
. tests/etcd/lib.sh
. tests/etcd/tap.sh
unset ETCDCTL_API   # etcdctl 3.6 is v3 only and warns about the variable
unset ETCDCTL_ENDPOINTS ETCDCTL_CACERT ETCDCTL_CERT ETCDCTL_KEY ETCDCTL_WRITE_OUT
versions=$(etcd_versions) || { ok 1 "etcd 3.6 is required (KSCRIPT_REQUIRE_ETCD36=1)"; tap_done; exit 1; }
ETCDCTL=${KSCRIPT_CTL_ETCDCTL:-}   # a debugging override; the suite uses the 3.6 build
[ -n "$ETCDCTL" ] || ETCDCTL=$(tests/etcd/build-etcdctl 2>"${TMPDIR:-/tmp}/build-etcdctl.log") || {
  ok 1 "etcdctl 3.6 builds (tests/etcd/build-etcdctl; log in ${TMPDIR:-/tmp}/build-etcdctl.log)"; tap_done; exit 1; }
etcd_tmp
t=$ETCD_TEST_TMP
seed=${KSCRIPT_CTL_SEED:-$RANDOM}
nrand=${KSCRIPT_CTL_N:-60}
echo "# seed $seed (KSCRIPT_CTL_SEED=$seed to repeat); etcdctl $ETCDCTL"

# last line of stderr that is not one of etcdctl's JSON log lines
last_err() { grep -av '^{"level"' "$1" | tail -1; }

# same NAME STDIN ARGS...: run kscript etcd on A and etcdctl on B, compare
same() {
  local name=$1 in=$2
  shift 2
  printf '%s' "$in" | kscript etcd --endpoints "$A" "${TLSF[@]}" "$@" >"$t/k.out" 2>"$t/k.err"
  local kc=$?
  printf '%s' "$in" | "$ETCDCTL" --endpoints "$B" "${TLSF[@]}" "$@" >"$t/e.out" 2>"$t/e.err"
  local ec=$?
  local ke ee
  ke=$(last_err "$t/k.err"); ee=$(last_err "$t/e.err")
  if cmp -s "$t/k.out" "$t/e.out" && [ "$kc" = "$ec" ] && [ "$ke" = "$ee" ]; then
    ok 0 "$V $name"
  else
    ok 1 "$V $name"
    echo "#   exit: kscript $kc, etcdctl $ec"
    [ "$ke" = "$ee" ] || { echo "#   kscript stderr: $ke"; echo "#   etcdctl stderr: $ee"; }
    cmp -s "$t/k.out" "$t/e.out" || diff <(cat -v "$t/k.out") <(cat -v "$t/e.out") | cut -c1-300 | sed 's/^/#   /' | head -20
  fi
}

# same_a NAME SED ARGS...: both tools against the same server A (read-only
# commands, or ones whose output depends on server-made IDs and clocks),
# both outputs passed through the sed script SED first
same_a() {
  local name=$1 sedx=$2
  shift 2
  kscript etcd --endpoints "$A" "${TLSF[@]}" "$@" 2>"$t/k.err" </dev/null | sed -e "$sedx" >"$t/k.out"
  local kc=${PIPESTATUS[0]}
  "$ETCDCTL" --endpoints "$A" "${TLSF[@]}" "$@" 2>"$t/e.err" </dev/null | sed -e "$sedx" >"$t/e.out"
  local ec=${PIPESTATUS[0]}
  local ke ee
  ke=$(last_err "$t/k.err" | sed -e "$sedx"); ee=$(last_err "$t/e.err" | sed -e "$sedx")
  if cmp -s "$t/k.out" "$t/e.out" && [ "$kc" = "$ec" ] && [ "$ke" = "$ee" ]; then ok 0 "$V $name"; else
    ok 1 "$V $name"
    echo "#   exit: kscript $kc, etcdctl $ec"
    [ "$ke" = "$ee" ] || { echo "#   kscript stderr: $ke"; echo "#   etcdctl stderr: $ee"; }
    diff <(cat -v "$t/k.out") <(cat -v "$t/e.out") | cut -c1-300 | sed 's/^/#   /' | head -20
  fi
}

# same_err NAME ARGS...: a flag error, where etcdctl (cobra) adds its usage
# text: compare the exit code and the "Error: ..." line only
same_err() {
  local name=$1
  shift
  kscript etcd --endpoints "$A" "$@" >"$t/k.out" 2>"$t/k.err" </dev/null
  local kc=$?
  "$ETCDCTL" --endpoints "$B" "$@" >"$t/e.out" 2>"$t/e.err" </dev/null
  local ec=$?
  local ke ee
  ke=$(grep -a '^Error: ' "$t/k.err" | head -1); ee=$(grep -a '^Error: ' "$t/e.err" | head -1)
  if [ "$kc" = "$ec" ] && [ "$ke" = "$ee" ] && [ -n "$ee" ]; then ok 0 "$V $name"; else
    ok 1 "$V $name"
    echo "#   kscript: $kc $ke"; echo "#   etcdctl: $ec $ee"
  fi
}

# random keys: UTF-8, spaces, control and high bytes (no NUL: they go through
# argv), very long; values with any byte (they go through stdin)
python3 - "$seed" "$t/keys" <<'EOF'
import random, sys
r = random.Random(int(sys.argv[1]))
out = []
alpha = [b"a", b"Z", b"/", b" ", b"-", b"_", b".", "é".encode(), "日本".encode(), "\u2028".encode(), b"\x01",
         b"\x7f", b"\xff", b"\xc3", b"\n", b"\t", b"\\", b'"', b"'", b"%", b"<&>"]
for i in range(40):
    n = r.choice([1, 3, 8, 20, 60]) if i else 3000
    k = b"/rnd/" + b"".join(r.choice(alpha) for _ in range(n))
    v = bytes(r.randrange(256) for _ in range(r.choice([0, 1, 5, 40, 900])))
    out.append(k + b"\0" + v + b"\0")
open(sys.argv[2], "wb").write(b"".join(out))
EOF

run_server() { # version label, A and B set
  # the seed article's data: flannel's subnets (v3 here) and a service
  same "put flannel config" "" put /kubernetes/network/config '{"Network":"10.2.0.0/16","Backend":{"Type":"vxlan"}}'
  for s in 10.2.70.0-24 10.2.67.0-24 10.2.49.0-24; do
    same "put subnet $s" "" put "/kubernetes/network/subnets/$s" '{"PublicIP":"10.0.0.2","BackendType":"vxlan","BackendData":{"VtepMAC":"a6:16:81:8a:af:71"}}'
  done
  same "put from stdin" '{"kind":"Service","apiVersion":"v1","metadata":{"name":"php-apache","namespace":"default"}}' \
    put /registry/services/specs/default/php-apache
  # the seed's commands, verbatim (flags after the command)
  same "seed: get / --prefix --keys-only" "" get / --prefix --keys-only
  same "seed: get php-apache -w=json" "" get /registry/services/specs/default/php-apache -w=json
  same "seed: get /registry --prefix -w json" "" get /registry --prefix -w json

  # random keys, put by both
  local k v i=0
  while IFS= read -r -d '' k && IFS= read -r -d '' v; do
    i=$((i + 1))
    if [ $((i % 2)) = 0 ]; then
      same "put random key $i (argv)" "" put -- "$k" "$v"
    else
      same "put random key $i (stdin)" "$v" put -- "$k"
    fi
  done <"$t/keys"

  # every writer on the whole keyspace and on prefixes
  local w
  for w in "" "-w=json" "-w fields" "-w protobuf" "--hex" "--hex -w fields" "-w table"; do
    # shellcheck disable=SC2086
    same "get \"\" --prefix $w" "" get "" --prefix $w
    # shellcheck disable=SC2086
    same "get /rnd --prefix $w" "" get /rnd --prefix $w
  done
  # random flag sets
  local flags=("--keys-only" "--print-value-only" "--limit=3" "--limit 1" "--rev=5" "--sort-by=MODIFY" "--order=DESCEND"
    "--sort-by VALUE --order ASCEND" "--sort-by=KEY --order=DESCEND" "--sort-by=version" "--count-only" "-w fields"
    "-w json" "-w=protobuf" "--hex" "--consistency=s" "--from-key" "--min-mod-rev=4" "--max-create-rev 9"
    "--write-out=fields" "--keys-only --limit 2")
  local keys=("" "/" "/rnd" "/rnd/a" "/kubernetes/network/subnets/10.2.49.0-24" "/zzz" "/registry")
  RANDOM=$seed
  local n set key
  for n in $(seq 1 "$nrand"); do
    set=""
    for _ in 1 2 3; do [ $((RANDOM % 2)) = 0 ] && set="$set ${flags[RANDOM % ${#flags[@]}]}"; done
    [ $((RANDOM % 3)) != 0 ] && set="$set --prefix"
    key=${keys[RANDOM % ${#keys[@]}]}
    # shellcheck disable=SC2086
    same "get '$key'$set" "" get "$key" $set
  done
  same "get with a range end" "" get /kubernetes /kubernetes/network/subnets/10.2.67.0-24
  same "get a missing key" "" get /no/such/key -w json
  same "get --prefix -w json with no keys (no count)" "" get /no/such/ --prefix -w json

  # put and del variants
  same "put --prev-kv" "" put /kubernetes/network/config changed --prev-kv
  same "put --prev-kv -w json" "" put /kubernetes/network/config again --prev-kv -w json
  same "put --prev-kv -w fields" "" put /kubernetes/network/config third --prev-kv -w fields
  same "put --ignore-value" "" put /kubernetes/network/config --ignore-value
  same "put --ignore-value with a value" "" put /kubernetes/network/config x --ignore-value
  same "get after put --ignore-value" "" get /kubernetes/network/config -w fields
  same "put -- a value starting with -" "" put -- /dash -v-
  same "put a bad lease" "" put /l v --lease=zz
  same "put a missing lease" "" put /l v --lease=1234abcd
  same "put no value, empty stdin" "" put /l
  same "del --prev-kv" "" del /dash --prev-kv
  same "del a range --range -w json" "" del /kubernetes/network/subnets/10.2.49 /kubernetes/network/subnets/10.2.5 --range -w json
  same "del --prefix --prev-kv -w fields" "" del /kubernetes/network/subnets --prefix --prev-kv -w fields
  same "del --from-key -w protobuf" "" del /zz --from-key -w protobuf
  same "del nothing" "" del /no/such
  same "del with no key" "" del

  # txn from stdin, etcdctl's grammar
  same "txn success" $'value("/kubernetes/network/config") = "third"\n\nput /t/1 a\nget /t --prefix\n\nput /t/2 b\n\n' txn
  same "txn failure -w json" $'mod("/kubernetes/network/config") < "2"\nver("/t/1") > "0"\n\nput /t/3 c\n\ndel /t --prefix --prev-kv\nget /t/1\n\n' txn -w json
  same "txn -w fields" $'create("/t/1") = "0"\n\nput /t/4 d --prev-kv\n\nget /kubernetes --prefix --keys-only\n\n' txn -w fields
  same "txn -i" $'\nput /t/5 e\n\n\n' txn -i
  same "txn -w protobuf" $'val("/t/4") != "d"\n\n\nget /t --prefix\ndel /t/4\n\n' txn -w protobuf
  same "txn: a malformed compare" $'value(/t/1) = "a"\n\n\n\n' txn
  same "txn: an unknown op" $'\nfrob /t/1\n\n\n' txn
  same "txn: input ends early" $'\nput /t/9 z\n' txn
  same "txn with an argument" "" txn x

  # watch: replay from revision 1 (history is the same on both), then stop
  watch_case "watch --prefix --rev 1" watch /t --prefix --rev 1
  watch_case "watch --prev-kv --rev 2 -w json" watch --prev-kv --rev=2 -w json /kubernetes/network/config
  watch_case "watch a range -w fields" watch -w fields --rev 1 /kubernetes /kubernetes/z
  watch_case "watch --hex --rev 1" watch --hex --rev 1 /t/ --prefix
  same "watch with no key" "" watch
  same "watch --prefix with a range end" "" watch /a /b --prefix

  # compaction, then reads of compacted revisions fail alike
  same "compaction 3" "" compaction 3
  same "compaction: already compacted" "" compaction 2
  same "compaction: future revision" "" compaction 100000
  same "get --rev 2 after compaction" "" get /t --prefix --rev 2
  same "compaction --physical" "" compaction 5 --physical
  same "compaction without a revision" "" compaction

  # leases: IDs and remaining TTLs come from the server's clock, so on one server
  local L1 L2 NOID='s/"ID" : [0-9]*/"ID" : N/; s/"id":[0-9]*/"id":N/g; s/"ID":[0-9]*/"ID":N/g; s/[0-9a-f]\{16\}/LEASE/g; s/remaining([0-9]*s)/remaining(Ns)/; s/"ttl":[0-9]*/"ttl":N/; s/"TTL" : [0-9]*/"TTL" : N/; s/"Revision" : [0-9]*/"Revision" : N/; s/"revision":[0-9]*/"revision":N/'
  L1=$("$ETCDCTL" --endpoints "$A" lease grant 300 | awk '{print $2}')
  L2=$("$ETCDCTL" --endpoints "$A" lease grant 300 | awk '{print $2}')
  "$ETCDCTL" --endpoints "$A" put /leased/a 1 --lease="$L1" >/dev/null
  "$ETCDCTL" --endpoints "$A" put /leased/b 2 --lease="$L2" >/dev/null
  for w in simple json fields; do
    same_a "lease grant -w $w" "$NOID" lease grant 100 -w $w
    same_a "lease timetolive --keys -w $w" "$NOID" lease timetolive "$L1" --keys -w $w
    same_a "lease keep-alive --once -w $w" "$NOID" lease keep-alive --once "$L1" -w $w
  done
  same_a "lease timetolive" "$NOID" lease timetolive "$L2"
  same_a "lease timetolive --hex -w fields" "$NOID" lease timetolive "$L2" --hex -w fields
  same_a "lease timetolive of a missing lease" "" lease timetolive 123abc
  same_a "lease revoke of a missing lease" "" lease revoke 123abc
  same_a "lease keep-alive --once of a missing lease" "" lease keep-alive --once 123abc
  same_a "lease revoke a bad ID" "" lease revoke xyz
  same_a "lease grant a bad TTL" "" lease grant 1x
  same_a "lease grant without TTL" "" lease grant
  same_a "put --lease (the lease's keys)" "$NOID" put /leased/c 3 --lease="$L2"
  same_a "get --lease'd keys -w json" "" get /leased --prefix -w json
  kscript etcd --endpoints "$A" lease revoke "$L1" >"$t/k.out" 2>"$t/k.err"
  "$ETCDCTL" --endpoints "$A" lease revoke "$L2" >"$t/e.out" 2>"$t/e.err"
  sed -i -e "$NOID" "$t/k.out" "$t/e.out"
  cmp -s "$t/k.out" "$t/e.out"; ok $? "$V lease revoke"
  cmp -s "$t/k.out" "$t/e.out" || diff "$t/k.out" "$t/e.out" | sed 's/^/#   /' 
  same_a "keys of a revoked lease are gone" "" get /leased --prefix
  for w in simple json fields; do
    same_a "lease list -w $w" "$NOID" lease list -w $w
    same_a "member list -w $w" "" member list -w $w
    same_a "endpoint status -w $w" "" endpoint status -w $w
    same_a "endpoint hashkv -w $w" "" endpoint hashkv -w $w
    # etcdctl 3.6 -w fields dereferences the header etcd 3.4 leaves out of AlarmResponse and panics
    [ "$w" = fields ] && [ "$name" = 3.4 ] || same_a "alarm list -w $w" "" alarm list -w $w
  done
  same_a "member list --hex -w json" "" member list --hex -w json
  same_a "member list --hex -w fields" "" member list --hex -w fields
  same_a "member list --consistency=s" "" member list --consistency=s
  same_a "endpoint hashkv --rev 10" "" endpoint hashkv --rev 10
  same_a "endpoint status -w table is refused alike" "" endpoint health -w protobuf
  local TOOK='s/took = [0-9.]*[µmn]*s/took = T/; s/"took":"[^"]*"/"took":"T"/; s/"Took" : .*/"Took" : T/; s/took [0-9.]*[µmn]*s/took T/'
  for w in simple json fields; do same_a "endpoint health -w $w" "$TOOK" endpoint health -w $w; done
  same_a "defrag" "$TOOK" defrag
  same_a "alarm disarm (none)" "" alarm disarm

  # kscript's -w json --decode: the same document with keys and values as text
  kscript etcd --endpoints "$A" get /kubernetes --prefix -w json --decode >"$t/d.json" 2>&1
  "$ETCDCTL" --endpoints "$A" get /kubernetes --prefix -w json >"$t/b.json" 2>/dev/null # (A: the lease cases ran on A only)
  python3 - "$t/d.json" "$t/b.json" <<'PY'
import base64, json, sys
d, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
for kv in b["kvs"]:
    for f in ("key", "value"):
        if f in kv:
            kv[f] = base64.b64decode(kv[f]).decode()
sys.exit(0 if d == b and len(d["kvs"]) > 0 else 1)
PY
  ok $? "$V get -w json --decode: etcdctl's document with keys and values as text"

  # flags and usage errors
  same "unknown command" "" frobnicate
  same "unknown output format" "" get / -w yaml
  same "get --count-only without -w fields" "" get / --prefix --count-only
  same "--print-value-only -w json" "" get / --prefix --print-value-only -w json
  same_err "bad --limit" get / --limit=x
  same_err "bad --limit (separate word)" get / --limit x
  same_err "unknown flag" get / --frob
  same_err "unknown shorthand flag" get / -z
  same_err "a flag without its value" get / --rev
  same "bad sort target" "" get / --sort-by=SIZE
  same "bad --order" "" get / --order=UP
  same "--prefix and --from-key" "" get / --prefix --from-key
  same "--keys-only and --count-only" "" get / --keys-only --count-only -w fields
  same "empty --cacert" "" --cacert= get /
  same "version" "" version
}

# watch_case NAME ARGS...: both watches run until each has printed as many
# bytes as etcdctl settles on (bounded wait), then are stopped and compared
watch_case() {
  local name=$1
  shift
  kscript etcd --endpoints "$A" "$@" >"$t/k.out" 2>"$t/k.err" &
  local kp=$!
  "$ETCDCTL" --endpoints "$B" "$@" >"$t/e.out" 2>"$t/e.err" &
  local ep=$!
  local i prev=-1 cur
  for i in $(seq 1 100); do # until etcdctl's output stops growing (0.3 s still), at most 10 s
    sleep 0.1
    cur=$(stat -c %s "$t/e.out")
    if [ "$cur" = "$prev" ] && [ $((i % 3)) = 0 ] && [ "$cur" -gt 0 ]; then
      [ "$(stat -c %s "$t/k.out")" -ge "$cur" ] && break
    fi
    [ $((i % 3)) = 0 ] && prev=$cur
  done
  kill "$kp" "$ep" 2>/dev/null
  wait "$kp" "$ep" 2>/dev/null
  if [ -s "$t/e.out" ] && cmp -s "$t/k.out" "$t/e.out"; then ok 0 "$V $name"; else
    ok 1 "$V $name"
    diff <(cat -v "$t/k.out") <(cat -v "$t/e.out") | cut -c1-300 | sed 's/^/#   /' | head -20
  fi
}

for v in $versions; do
  name=${v%%=*}; bin=${v#*=}; id=${name//./_}
  V="[etcd $name]"
  TLSF=()
  ETCD_TWIN=1 etcd_start "a$id" "$bin" >&2 || { ok 1 "$V twin A starts"; continue; }
  ETCD_TWIN=1 etcd_start "b$id" "$bin" >&2 || { ok 1 "$V twin B starts"; continue; }
  a="ETCD_EP_a$id"; b="ETCD_EP_b$id"; A=${!a}; B=${!b}
  run_server
  etcd_stop "a$id"; etcd_stop "b$id"
done

# the seed's TLS command lines, verbatim, against TLS twins (etcd 3.6)
for v in $versions; do
  name=${v%%=*}; bin=${v#*=}
  [ "$name" = 3.6 ] || continue
  V="[etcd $name, TLS]"
  ETCD_TWIN=1 etcd_start tlsa "$bin" tls >&2 || { ok 1 "$V twin A starts"; continue; }
  ETCD_TWIN=1 etcd_start tlsb "$bin" tls >&2 || { ok 1 "$V twin B starts"; continue; }
  A=$ETCD_EP_tlsa B=$ETCD_EP_tlsb
  c=$ETCD_TEST_TMP/certs
  TLSF=(--cacert="$c/ca.crt" --cert="$c/client.crt" --key="$c/client.key")
  same "put" "" put /registry/services/specs/default/php-apache '{"kind":"Service"}'
  same "seed: get / --prefix --keys-only" "" get / --prefix --keys-only
  same "seed: get php-apache -w=json" "" get /registry/services/specs/default/php-apache -w=json
  TLSF=(--cacert "$c/ca.crt" --cert "$c/client.crt" --key "$c/client.key")
  same "seed: get /registry --prefix -w json (flags with spaces)" "" get /registry --prefix -w json
  TLSF=(--cacert="$c/other-ca.crt" --cert="$c/client.crt" --key="$c/client.key" --dial-timeout=1s --command-timeout=2s)
  same "a wrong CA fails alike" "" get /
done
tap_done
