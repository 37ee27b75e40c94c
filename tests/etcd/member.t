#!/usr/bin/env bash
# tests/etcd/member.t: `member add [--learner]`, `member promote`, `member
# update`, `member remove`, `member list` and `move-leader` through `kscript
# etcd` on one etcd 3.6 cluster and etcdctl 3.6.16 on another, fed the same
# steps: a learner m2 is added, started on loopback and promoted, a voter m3
# is added and started, leadership moves to m2 and back, then m3 and m2 are
# removed.  Member and cluster IDs and URLs differ between the two clusters,
# so both outputs are compared after each side's IDs (hex, padded hex,
# decimal) and URLs are replaced by the member's name, and members are put in
# one order (etcd lists them by ID, which differ); everything else (stdout,
# the last stderr line, the exit code) must match.  member list -w table is
# compared on one cluster.
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

etcd_start ka "$bin" >&2 || { ok 1 "$V cluster A starts"; tap_done; exit 1; }
etcd_start eb "$bin" >&2 || { ok 1 "$V cluster B starts"; tap_done; exit 1; }
declare -A EP P
EP[A1]=$ETCD_EP_ka; EP[B1]=$ETCD_EP_eb
P[A1]=$(sed -n 's/.*--initial-advertise-peer-urls \([^ ]*\).*/\1/p' "$ETCD_DIR_ka/cmd")
P[B1]=$(sed -n 's/.*--initial-advertise-peer-urls \([^ ]*\).*/\1/p' "$ETCD_DIR_eb/cmd")
for s in A B; do for m in 2 3; do P[$s$m]=http://127.0.0.1:$(etcd_free_port); done; done

# the names of each side's IDs and URLs, from its member list (kept after removals)
declare -A MAP HEX
learn() { # learn SIDE
  local s=$1 line
  while IFS=$'\t' read -r from to; do
    if [ "${from:0:1}" = "#" ]; then HEX[$s:${from#\#}]=$to; else MAP[$s:$from]=$to; fi
  done < <(
    "$ETCDCTL" --endpoints "${EP[${s}1]}" member list -w json 2>/dev/null | python3 -c '
import json, sys
s, urls = sys.argv[1], dict(a.split("=", 1) for a in sys.argv[2:])
r = json.load(sys.stdin)
print("%d\tCLUSTER" % r["header"]["cluster_id"])
print("%x\tCLUSTER" % r["header"]["cluster_id"])
for m in r["members"]:
    name = urls.get(m["peerURLs"][0], "?")
    print("%d\tID_%s" % (m["ID"], name)); print("%x\tID_%s" % (m["ID"], name)); print("#%s\t%x" % (name, m["ID"]))
    for u in m.get("clientURLs") or []: print("%s\tCLIENT_%s" % (u, name))
    print("%s\tPEER_%s" % (m["peerURLs"][0], name))
' "$s" "${P[${s}1]}=m1" "${P[${s}2]}=m2" "${P[${s}3]}=m3")
}
# norm SIDE FILE: the file with the side's IDs and URLs named (decimal IDs and
# URLs first, then hex IDs with the spaces Go's %16x pads them with)
norm() {
  local s=$1 f=$2 k
  for k in "${!MAP[@]}"; do [ "${k%%:*}" = "$s" ] && printf '%s\t%s\n' "${k#*:}" "${MAP[$k]}"; done |
    python3 -c '
import sys, re
pairs = [l.rstrip("\n").split("\t") for l in sys.stdin if l.strip()]
data = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
dec = sorted([p for p in pairs if p[0].isdigit() and len(p[0]) > 16 or "://" in p[0]], key=lambda p: -len(p[0]))
for a, b in dec: data = data.replace(a, b)
for a, b in sorted([p for p in pairs if p not in dec], key=lambda p: -len(p[0])):
    data = re.sub(r"(?<![0-9a-zA-Z_]) *" + re.escape(a) + r"(?![0-9a-zA-Z_])", " " + b, data)
sys.stdout.write(data)
' "$f"
}
# canon FILE: etcd lists members in ID order, and the IDs differ between the
# clusters: members sorted by their text (JSON members, -w fields blocks,
# ETCD_INITIAL_CLUSTER entries, simple lines)
canon() {
  python3 - "$1" <<'EOF'
import json, re, sys
f = sys.argv[1]
text = open(f).read()
def cluster(m):
    return 'ETCD_INITIAL_CLUSTER="%s"' % ",".join(sorted(m.group(1).split(",")))
text = re.sub(r'ETCD_INITIAL_CLUSTER="([^"]*)"', cluster, text)
if '"ID" :' in text:  # -w fields: the header, then a block per member
    parts = re.split(r'(?m)^(?="ID" :)', text)
    open(f, "w").write(parts[0] + "".join(sorted(parts[1:])))
    sys.exit(0)
out, plain = [], []
for l in text.splitlines():
    try:
        r = json.loads(re.sub(r'(?<=[:\[,])(CLUSTER|ID_[^,}\]"]+)(?=[,}\]])', r'"\1"', l))
        if isinstance(r, dict) and "members" in r: r["members"].sort(key=lambda m: json.dumps(m))
        out.append(json.dumps(r, separators=(",", ":")))
    except ValueError:
        plain.append(l)
open(f, "w").write("\n".join(out + sorted(plain)) + "\n")
EOF
}
# side SIDE ARGS...: run the side's tool (A: kscript, B: etcdctl) on its first member
side() {
  local s=$1
  shift
  local ep=(--endpoints "${EP[${s}1]}") a
  for a in "$@"; do [ "${a%%=*}" = --endpoints ] && ep=(); done  # etcdctl appends a second --endpoints
  if [ "$s" = A ]; then kscript etcd "${ep[@]}" "$@"; else "$ETCDCTL" "${ep[@]}" "$@"; fi
}
# compare NAME: the last run of each side, named
compare() {
  local name=$1 ka kb
  learn A; learn B
  norm A "$t/A.out" >"$t/A.n"; norm B "$t/B.out" >"$t/B.n"
  canon "$t/A.n"; canon "$t/B.n"
  ka=$(tail -1 "$t/A.err" >"$t/A.e1"; norm A "$t/A.e1"); kb=$(grep -av '^{"level"' "$t/B.err" | tail -1 >"$t/B.e1"; norm B "$t/B.e1")
  if cmp -s "$t/A.n" "$t/B.n" && [ "$(cat "$t/A.rc")" = "$(cat "$t/B.rc")" ] && [ "$ka" = "$kb" ]; then ok 0 "$V $name"; else
    ok 1 "$V $name"
    echo "#   exit: kscript $(cat "$t/A.rc"), etcdctl $(cat "$t/B.rc")"; echo "#   kscript: $ka"; echo "#   etcdctl: $kb"
    diff "$t/A.n" "$t/B.n" | sed 's/^/#   /' | head -20
  fi
}
# same NAME ARGS...: the same command on both sides ({m2}/{m3}/{P2}/{P3}/{EPS}/{EP3}: that side's ID or URL)
same() {
  local name=$1 s
  shift
  for s in A B; do
    local args=() a
    for a in "$@"; do
      a=${a//\{m2\}/$(idhex "$s" m2)}; a=${a//\{m3\}/$(idhex "$s" m3)}; a=${a//\{m1\}/$(idhex "$s" m1)}
      a=${a//\{P2\}/${P[${s}2]}}; a=${a//\{P3\}/${P[${s}3]}}
      a=${a//\{EPS\}/${EP[${s}1]},${EP[${s}2]:-},${EP[${s}3]:-}}; a=${a//\{EP3\}/${EP[${s}3]:-}}
      args+=("$a")
    done
    side "$s" "${args[@]}" >"$t/$s.out" 2>"$t/$s.err"
    echo $? >"$t/$s.rc"
  done
  compare "$name"
}
idhex() { echo "${HEX[$1:$2]:-}"; } # idhex SIDE NAME -> the member's hex ID
# start_member SIDE N INITIAL_CLUSTER: etcd m<N> joining the side's cluster
start_member() {
  local s=$1 n=$2 ic=$3 d=$ETCD_TEST_TMP/srv-$1m$2 c
  c=$(etcd_free_port)
  mkdir -p "$d"
  echo "'http://127.0.0.1:$c/health?serializable=true'" >"$d/health"
  echo "$bin --name m$n --data-dir $d/data --listen-client-urls http://127.0.0.1:$c" \
    "--advertise-client-urls http://127.0.0.1:$c --listen-peer-urls ${P[$s$n]}" \
    "--initial-advertise-peer-urls ${P[$s$n]} --initial-cluster $ic --initial-cluster-state existing" \
    "--log-level error" >"$d/cmd"
  etcd_run_dir "$d" >&2 || return 1
  EP[$s$n]=http://127.0.0.1:$c
}

# table: column widths follow the IDs and URLs, so both tools read cluster A
table_same() {
  kscript etcd --endpoints "${EP[A1]}" member list -w table >"$t/kt.out" 2>&1
  "$ETCDCTL" --endpoints "${EP[A1]}" member list -w table >"$t/et.out" 2>&1
  cmp -s "$t/kt.out" "$t/et.out"; ok $? "$V member list -w table ($1), on the same cluster as etcdctl"
  cmp -s "$t/kt.out" "$t/et.out" || diff "$t/kt.out" "$t/et.out" | sed 's/^/#   /' | head -10
}
learn A; learn B
table_same "one member"
for w in simple json fields; do same "member list -w $w (one member)" -w "$w" member list; done
same "member list -w json --hex" -w json --hex member list
same "member add: no name" member add
same "member add: no --peer-urls" member add m2
same "member add: too many arguments (did you mean)" member add m2 http://127.0.0.1:1 HTTP://x
same "member add: a bad URL" member add m2 --peer-urls=127.0.0.1:1
same "member add --learner" member add m2 --learner --peer-urls={P2}
for s in A B; do
  ic=$(sed -n 's/^ETCD_INITIAL_CLUSTER="\(.*\)"$/\1/p' "$t/$s.out")
  start_member "$s" 2 "$ic"; ok $? "$V side $s: the learner m2 starts with the ETCD_INITIAL_CLUSTER printed"
done
for w in simple json fields; do same "member list -w $w (with the learner)" -w "$w" member list; done
table_same "with the learner"
same "member promote: a bad ID" member promote xyz
same "member promote: an ID too long" member promote 1ffffffffffffffff
same "member promote: no ID" member promote
same "member promote: an unknown member" member promote 1234
# a learner is promoted once it caught up with the leader: retry, bounded
for s in A B; do
  for i in $(seq 1 100); do
    args=(member promote "$(idhex "$s" m2)")
    side "$s" "${args[@]}" >"$t/$s.out" 2>"$t/$s.err"
    echo $? >"$t/$s.rc"
    [ "$(cat "$t/$s.rc")" = 0 ] && break
    grep -q "in sync with leader" "$t/$s.err" || break
    sleep 0.2
  done
done
compare "member promote (the learner caught up)"
same "member promote a voter" member promote {m2}
same "member update: no --peer-urls" member update {m2}
same "member update" member update {m2} --peer-urls={P2}
same "member update -w json" -w json member update {m2} --peer-urls={P2}
same "member add -w json (a voter)" -w json member add m3 --peer-urls={P3}
same "member add -w fields (unsupported, after the add)" -w fields member add m4 --learner --peer-urls=http://127.0.0.1:9
learn A; learn B
for s in A B; do
  same_id=$(idhex "$s" '?'); side "$s" member remove "$same_id" >/dev/null 2>&1  # m4 never starts
  start_member "$s" 3 "default=${P[${s}1]},m2=${P[${s}2]},m3=${P[${s}3]}"; ok $? "$V side $s: m3 starts"
done
same "member list (three members)" member list
same "move-leader: no argument" move-leader
same "move-leader: a bad ID" move-leader zz
same "move-leader: only a follower's endpoint" --endpoints={EP3} move-leader {m2}
same "move-leader to m2" --endpoints={EPS} move-leader {m2}
lead() { "$ETCDCTL" --endpoints "${EP[${1}1]},${EP[${1}2]},${EP[${1}3]}" endpoint status -w json | python3 -c '
import json, sys; print(" ".join("%x" % l for l in set(s["Status"]["leader"] for s in json.load(sys.stdin))))'; }
for s in A B; do learn "$s"; done
[ "$(lead A)" = "$(idhex A m2)" ]; ok $? "$V m2 leads cluster A after kscript's move-leader"
same "move-leader -w json back to m1" -w json --endpoints={EPS} move-leader {m1}
same "move-leader -w fields (unsupported)" -w fields --endpoints={EPS} move-leader {m1}
same "member remove: a bad ID" member remove g1
same "member remove: an unknown member" member remove 1234
same "member remove m3" member remove {m3}
for s in A B; do etcd_stop_dir "$ETCD_TEST_TMP/srv-${s}m3"; done
same "member remove -w json m2" -w json member remove {m2}
for s in A B; do etcd_stop_dir "$ETCD_TEST_TMP/srv-${s}m2"; done
for w in simple json fields; do same "member list -w $w (one again)" -w "$w" member list; done
# the Lua API
out=$(kscript -e "
  local c = etcd.connect{endpoints = '${EP[A1]}'}
  local r = assert(c:member_add({'http://127.0.0.1:9'}, {learner = true}))
  local id = r.member.ID
  local u = assert(c:member_update(id, 'http://127.0.0.1:8'))
  local found
  for _, m in ipairs(u.members) do if m.ID == id then found = m.peerURLs[1] .. ' ' .. tostring(m.isLearner) end end
  assert(c:member_remove(id))
  local l = assert(c:members())
  print(r.member.isLearner, found, #l.members)
" 2>&1)
[ "$out" = "$(printf 'true\thttp://127.0.0.1:8 true\t1')" ]; ok $? "$V Lua: member_add, member_update, member_remove"
[ "$out" = "$(printf 'true\thttp://127.0.0.1:8 true\t1')" ] || echo "$out" | sed 's/^/#   /'
tap_done
