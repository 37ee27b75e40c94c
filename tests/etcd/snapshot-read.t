#!/usr/bin/env bash
# tests/etcd/snapshot-read.t: reading snapshot files with no etcd running
# (`kscript etcd --snapshot F get`, `kscript dump-keys --snapshot F`,
# etcd.snapshot) against the live server that made them, on etcd 3.6 and
# 3.4: keys put (binary ones, values from empty to 200 KB so overflow pages,
# leases), overwritten, deleted and compacted; `etcdctl snapshot save`; the
# file's keys and values equal etcdctl's Range at the snapshot's revision
# and at an older one; a compacted revision fails as etcd does; a damaged
# file (a flipped byte, damaged pages, a truncated file) is an error naming
# the page or offset, never a crash; the db of a running member is refused
# without --force.
set -u
export LC_ALL=C
cd "$(dirname "$0")/../.."
. tests/etcd/lib.sh
. tests/etcd/tap.sh
unset ETCDCTL_API ETCDCTL_ENDPOINTS
versions=$(etcd_versions) || { ok 1 "etcd 3.6 is required (KSCRIPT_REQUIRE_ETCD36=1)"; tap_done; exit 1; }
ETCDCTL=$(tests/etcd/build-etcdctl 2>"${TMPDIR:-/tmp}/build-etcdctl.log") || { ok 1 "etcdctl 3.6 builds"; tap_done; exit 1; }
etcd_tmp
t=$ETCD_TEST_TMP

kvs_of() { # the kvs and count of a get -w json on stdin, one line
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps([d.get("kvs", []), d.get("count", 0), d.get("more", False)]))'
}
rev_of() { "$ETCDCTL" --endpoints "$1" get x -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])'; }
no_header() { sed -E '/^"(ClusterID|MemberID|Revision|RaftTerm)" : /d'; }

for v in $versions; do
  name=${v%%=*}; bin=${v#*=}; id=r${name//./_}
  V="[etcd $name]"
  etcd_start "$id" "$bin" >&2 || { ok 1 "$V etcd starts"; continue; }
  ep="ETCD_EP_$id"; ep=${!ep}
  E() { "$ETCDCTL" --endpoints "$ep" "$@"; }
  # history: puts in batches (many leaf and branch pages), overwrites, deletes, a compaction
  ETCDCTL_ENDPOINTS=$ep kscript tests/etcd/fill.lua 1500 300 >/dev/null
  E put /a 1 >/dev/null; E put /a 2 >/dev/null; E put /gone x >/dev/null
  E put "/bin/$(printf 'k\001\377\n')" "$(printf 'v\000\002')" >/dev/null
  E put /empty "" >/dev/null
  head -c 10000 /dev/urandom | base64 -w0 | E put /big10k >/dev/null            # > a page: overflow pages
  head -c 150000 /dev/urandom | base64 -w0 | E put /big200k >/dev/null          # many overflow pages
  lease=$(E lease grant 600 | awk '{print $2}')
  E put --lease="$lease" /leased v >/dev/null
  E del /gone >/dev/null
  crev=$(rev_of "$ep")
  E compaction "$crev" >/dev/null
  E put /a 3 >/dev/null
  old=$(rev_of "$ep")
  E del /registry/pods --prefix >/dev/null
  E put /gone again >/dev/null
  E put /registry/configmaps/ns-1/obj-0000001 changed >/dev/null
  rev=$(rev_of "$ep")
  E snapshot save "$t/s.db" >/dev/null 2>&1; ok $? "$V etcdctl snapshot save (revision $rev, compacted at $crev)"
  size=$(stat -c %s "$t/s.db")
  [ $((size % 512)) = 32 ]; ok $? "$V the file carries the sha256 trailer (size $size)"

  # the same keys and values as the live Range, at the snapshot's revision and at an older one
  kscript etcd --snapshot "$t/s.db" get "" --prefix -w json | kvs_of >"$t/k" 2>"$t/k.err"
  E get "" --prefix -w json --rev "$rev" | kvs_of >"$t/e"
  n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))[0]))' "$t/e")
  [ "$n" -gt 1200 ] && cmp -s "$t/k" "$t/e"; ok $? "$V get \"\" --prefix -w json: the same $n keys, values, revisions, leases as etcdctl --rev $rev"
  kscript etcd --snapshot "$t/s.db" get "" --prefix -w json --rev "$old" | kvs_of >"$t/k"
  E get "" --prefix -w json --rev "$old" | kvs_of >"$t/e"
  E get "" --prefix -w json | kvs_of >"$t/now"
  cmp -s "$t/k" "$t/e" && ! cmp -s "$t/k" "$t/now"
  ok $? "$V --rev $old (before deletes): the keys etcdctl reads at $old"
  # (etcdctl gets --rev first: a --rev in args comes later and wins)
  for args in "\"\" --prefix" "\"\" --prefix --keys-only" "/registry --prefix --limit 7 -w json" \
              "/registry/configmaps --prefix --sort-by KEY --order DESCEND --limit 20 -w json" \
              "/ --from-key --keys-only --limit 30 -w json" "/a -w fields" "/leased -w json --hex" \
              "/registry --prefix --count-only -w fields" "/big10k --print-value-only" \
              "\"\" --prefix --min-mod-rev $((crev - 3)) --max-mod-rev $rev -w json" \
              "/registry/c /registry/s --max-create-rev 8 --keys-only" "/nothing -w json" "/empty -w json" \
              "/a --rev $old -w fields"; do
    eval "kscript etcd --snapshot \"\$t/s.db\" get $args" 2>&1 | sed -E 's/"header":\{[^}]*\},?//' | no_header >"$t/k"
    eval "E get --rev $rev $args" 2>&1 | sed -E 's/"header":\{[^}]*\},?//' | no_header >"$t/e"
    [ -s "$t/e" ] && cmp -s "$t/k" "$t/e"; ok $? "$V get $args: as etcdctl at $rev (header aside)"
  done
  # the header: the file's revision and term (etcd 3.4 stores no term); no cluster or member ID
  h=$(kscript etcd --snapshot "$t/s.db" get /a -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"])')
  term=$(E get /a -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["raft_term"])')
  if [ "$name" = 3.4 ]; then want="{'revision': $rev}"; else want="{'revision': $rev, 'raft_term': $term}"; fi
  [ "$h" = "$want" ]; ok $? "$V the header holds the revision and the raft term: $h"

  # dump-keys: the same output as the live dump (nothing written since the snapshot)
  for a in "" "--values" "--count" "/ --raw"; do
    kscript dump-keys --snapshot "$t/s.db" $a >"$t/k"
    ETCDCTL_ENDPOINTS=$ep kscript dump-keys $a >"$t/e"
    [ -s "$t/e" ] && cmp -s "$t/k" "$t/e"; ok $? "$V dump-keys --snapshot $a: as the live dump ($(wc -l <"$t/e") lines)"
  done
  kscript dump-keys --snapshot "$t/s.db" --rev "$old" --values >"$t/k"
  ETCDCTL_ENDPOINTS=$ep kscript dump-keys --rev "$old" --values >"$t/e"
  cmp -s "$t/k" "$t/e"; ok $? "$V dump-keys --snapshot --rev $old: as the live dump at $old"

  # a revision below the compaction: etcd's error, kind compacted
  kscript etcd --snapshot "$t/s.db" get /a --rev $((crev - 1)) >/dev/null 2>"$t/k.err"; kc=$?
  E get /a --rev $((crev - 1)) >/dev/null 2>"$t/e.err"; ec=$?
  [ "$kc" = "$ec" ] && [ "$(tail -1 "$t/k.err")" = "$(grep -v '^{"level' "$t/e.err" | tail -1)" ]
  ok $? "$V --rev $((crev - 1)) (compacted at $crev): exit $kc, $(tail -1 "$t/k.err")"
  kscript etcd --snapshot "$t/s.db" get /a --rev $((rev + 5)) >/dev/null 2>"$t/k.err"; kc=$?
  E get /a --rev $((rev + 5)) >/dev/null 2>"$t/e.err"; ec=$?
  [ "$kc" = "$ec" ] && [ "$(tail -1 "$t/k.err")" = "$(grep -v '^{"level' "$t/e.err" | tail -1)" ]
  ok $? "$V --rev $((rev + 5)) (future): exit $kc, $(tail -1 "$t/k.err")"

  # the Lua API
  out=$(kscript -e "
    local s = assert(etcd.snapshot('$t/s.db'))
    local r = assert(s:get('/a'))
    local p = assert(s:get('/registry/', {prefix = true, count_only = true}))
    local _, e = etcd.snapshot('$t/s.db', {rev = $((crev - 1))})
    local _, e2 = s:get('/a', {revision = 1})
    local _, e3 = etcd.snapshot('$t/none.db')
    local o = assert(s:get('/a', {revision = $old}))
    local n = 0
    for kv in s:scan('/registry/configmaps/') do n = n + 1 end
    print(s.revision, s.compact_revision, r.kvs[1].value, r.kvs[1].version, p.count, e.kind, e2.kind, e3.kind, o.kvs[1].value, n, r.kvs[1].revisions)
    s:close()
    print(pcall(s.get, s, '/a'))" 2>&1)
  cnt=$(E get /registry/ --prefix --count-only -w fields | sed -n 's/"Count" : //p')
  ncm=$(E get /registry/configmaps/ --prefix --keys-only | grep -c .)
  # /a: puts 1 and 2 before the compaction (which keeps only 2), 3 after: 2 revisions kept
  want="$rev	$crev	3	3	$cnt	compacted	compacted	notfound	3	$ncm	2"
  [ "$(echo "$out" | head -1)" = "$want" ] && echo "$out" | tail -1 | grep -q "^false.*closed etcd snapshot"
  ok $? "$V etcd.snapshot: $(echo "$out" | tr '\n' ' ')"

  # damaged files
  cp "$t/s.db" "$t/flip.db"
  printf '\x55' | dd of="$t/flip.db" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
  out=$(kscript -e "local s, e = etcd.snapshot('$t/flip.db'); print(e.kind, e.offset, e.message)" 2>&1)
  echo "$out" | grep -q "^corrupt	$((size - 32))	.*sha256"; ok $? "$V a flipped byte: the sha256 trailer does not match: $out"
  head -c $((size - 32)) "$t/s.db" >"$t/plain.db"
  kscript etcd --snapshot "$t/plain.db" get "" --prefix -w json | kvs_of >"$t/k"
  kscript etcd --snapshot "$t/s.db" get "" --prefix -w json | kvs_of >"$t/e"
  cmp -s "$t/k" "$t/e"; ok $? "$V the same file without its trailer (a member's db) reads the same"
  pages=$(( (size - 32) / 4096 ))
  python3 - "$t/plain.db" "$t/dmg" "$pages" <<'PY'
import os, random, struct, sys
src, out, pages = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(src, 'rb').read()
os.makedirs(out, exist_ok=True)
random.seed(7)
for p in range(2, pages):                   # every data page: a wrong id, a count that overflows it
    d = bytearray(data); o = p * 4096
    flags = struct.unpack_from('<H', d, o + 8)[0]
    if flags not in (1, 2): continue        # free and freelist pages are never read
    struct.pack_into('<QHH', d, o, p + 1000, flags, 0xffff)
    open(f'{out}/hdr-{p}', 'wb').write(d)
for i in range(40):                         # random damage inside pages
    d = bytearray(data); p = random.randrange(2, pages); o = p * 4096 + random.randrange(16, 4096 - 64)
    d[o:o + 64] = os.urandom(64)
    open(f'{out}/rnd-{i}', 'wb').write(d)
for i, cut in enumerate((pages // 2 * 4096, pages // 3 * 4096 + 100, 4096 + 77)):
    open(f'{out}/cut-{i}', 'wb').write(data[:cut])
PY
  crashes=0 named=0 total=0
  for f in "$t"/dmg/hdr-*; do
    p=${f##*-}; total=$((total + 1))
    kscript dump-keys --snapshot "$f" / --values >/dev/null 2>"$t/d.err"; c=$?
    [ $c -ge 128 ] && crashes=$((crashes + 1))
    grep -q "page $p: its header says page $((p + 1000))" "$t/d.err" && named=$((named + 1))
  done
  [ "$crashes" = 0 ] && [ "$named" -gt $((total / 2)) ]
  ok $? "$V $total copies with a damaged page header: $named errors name the page, no crash"
  crashes=0 errs=0
  for f in "$t"/dmg/rnd-* "$t"/dmg/cut-*; do
    kscript dump-keys --snapshot "$f" / --values >/dev/null 2>"$t/d.err"; c=$?
    [ $c -ge 128 ] && { crashes=$((crashes + 1)); echo "# $f: exit $c" >&2; }
    [ $c = 1 ] && errs=$((errs + 1))
  done
  [ "$crashes" = 0 ]; ok $? "$V 43 copies with random damage or cut short: no crash ($errs errors)"
  out=$(kscript -e "local s, e = etcd.snapshot('$t/dmg/cut-0'); print(e.kind, e.page, e.message)" 2>&1)
  echo "$out" | grep -q "^corrupt	$((pages / 2))	.*truncated"; ok $? "$V a file cut short: kind corrupt naming the page: $out"

  # the db of the running member: refused, or read with --force
  d="ETCD_DIR_$id"; db=${!d}/data/member/snap/db
  kscript dump-keys --snapshot "$db" / >/dev/null 2>"$t/k.err"; kc=$?
  [ "$kc" = 1 ] && grep -q -- "--force" "$t/k.err"; ok $? "$V the running member's db is refused: $(tail -1 "$t/k.err")"
  out=$(kscript -e "local s, e = etcd.snapshot('$db'); print(e.kind)")
  [ "$out" = busy ]; ok $? "$V etcd.snapshot on it: kind $out"
  kscript dump-keys --snapshot "$db" --force / >"$t/k"; kc=$?
  ETCDCTL_ENDPOINTS=$ep kscript dump-keys / >"$t/e"
  [ "$kc" = 0 ] && cmp -s "$t/k" "$t/e"; ok $? "$V with --force it reads the live keys"
  kscript etcd --snapshot "$t/s.db" put /x y >/dev/null 2>"$t/k.err"; kc=$?
  [ "$kc" = 128 ] && grep -q "only \`get\`" "$t/k.err"; ok $? "$V other commands with --snapshot: exit $kc, $(tail -1 "$t/k.err")"
  etcd_stop "$id"
  # a stopped member's db needs no --force
  kscript dump-keys --snapshot "$db" / >"$t/k"; ok $? "$V a stopped member's db reads without --force"
  cmp -s "$t/k" "$t/e"; ok $? "$V ... the same keys"
done
tap_done
