#!/usr/bin/env bash
# tests/etcd/ctl2.t: `ETCDCTL_API=2 kscript etcd` against Debian's etcdctl
# 3.4 (v2 commands) on twin etcd 3.4 servers started with --enable-v2 (same
# identity, fed the same requests: kscript talks to one, etcdctl to the
# other), over TLS with client certificates as in the seed article, whose
# command lines run verbatim.  Compares stdout, the last line of stderr and
# the exit code.  Then the Lua API: etcd.connect{api = 2}, and a watch whose
# index was cleared (more than 1000 events later) ends with the right state
# and says events were lost.
set -u
export LC_ALL=C
cd "$(dirname "$0")/../.."
. tests/etcd/lib.sh
. tests/etcd/tap.sh
export ETCDCTL_API=2
unset ETCDCTL_ENDPOINTS ETCDCTL_CA_FILE ETCDCTL_CERT_FILE ETCDCTL_KEY_FILE
etcd_tmp
t=$ETCD_TEST_TMP
etcd_certs
c=$t/certs
ETCD_TWIN=1 etcd_start v2a /usr/bin/etcd tls --enable-v2=true >&2 || { ok 1 "etcd 3.4 with v2 starts"; tap_done; exit 1; }
ETCD_TWIN=1 etcd_start v2b /usr/bin/etcd tls --enable-v2=true >&2 || { ok 1 "etcd 3.4 with v2 starts"; tap_done; exit 1; }
A=$ETCD_EP_v2a B=$ETCD_EP_v2b
V="[etcd 3.4 v2]"

# same NAME STDIN [SORT] ARGS...: the global TLS flags first, as the seed writes them
same() {
  local name=$1 in=$2
  shift 2
  local sortit=cat
  if [ "${1:-}" = SORT ]; then sortit=sort; shift; fi
  # USAGE: etcdctl adds its help text on stdout; compare stderr and the exit code only
  if [ "${1:-}" = USAGE ]; then sortit="cat >/dev/null"; shift; fi
  case $name in *expiration*) sortit="sed 's/\"expiration\":\"[^\"]*\"/\"expiration\":\"T\"/'";; esac
  printf '%s' "$in" | kscript etcd --endpoints="$A" --ca-file="$c/ca.crt" --cert-file="$c/client.crt" \
    --key-file="$c/client.key" "$@" 2>"$t/k.err" | eval "$sortit" >"$t/k.out"
  local kc=${PIPESTATUS[1]}
  printf '%s' "$in" | etcdctl --endpoints="$B" --ca-file="$c/ca.crt" --cert-file="$c/client.crt" \
    --key-file="$c/client.key" "$@" 2>"$t/e.err" | eval "$sortit" >"$t/e.out"
  local ec=${PIPESTATUS[1]}
  local ke ee
  ke=$(grep -av '^{"level"' "$t/k.err" | tail -1); ee=$(grep -av '^{"level"' "$t/e.err" | tail -1)
  if cmp -s "$t/k.out" "$t/e.out" && [ "$kc" = "$ec" ] && [ "$ke" = "$ee" ]; then ok 0 "$V $name"; else
    ok 1 "$V $name"
    echo "#   exit: kscript $kc, etcdctl $ec"
    [ "$ke" = "$ee" ] || { echo "#   kscript stderr: $ke"; echo "#   etcdctl stderr: $ee"; }
    diff <(cat -v "$t/k.out") <(cat -v "$t/e.out") | sed 's/^/#   /' | head -20
  fi
}

# the seed's flannel data
same "mk config" "" mk /kubernetes/network/config '{"Network":"10.2.0.0/16","Backend":{"Type":"vxlan"}}'
for s in 10.2.70.0-24 10.2.67.0-24 10.2.49.0-24; do
  same "set subnet $s" "" set "/kubernetes/network/subnets/$s" '{"PublicIP":"10.0.0.2","BackendType":"vxlan","BackendData":{"VtepMAC":"a6:16:81:8a:af:71"}}'
done
same "seed: ls" "" ls
same "seed: ls -r (order: sorted, etcdctl's is random)" "" SORT ls -r
same "seed: get /kubernetes/network/subnets/10.2.49.0-24" "" get /kubernetes/network/subnets/10.2.49.0-24
same "ls --sort -r" "" ls --sort -r
same "ls --sort -r -p" "" ls --sort -r -p
same "ls --sort a key" "" ls --sort /kubernetes/network/config
same "ls a missing key" "" ls /nope
for o in json extended; do
  same "-o $o get" "" -o $o get /kubernetes/network/config
  same "-o $o ls --sort -r" "" -o $o ls --sort -r /kubernetes
done
same "get a directory" "" get /kubernetes
same "get a missing key" "" get /nope
same "get without a key" "" get
# odd keys and values
same "set a key with spaces and UTF-8" "" set "/odd/a b/é日本" "v a l"
same "set a key with % ? # +" "" set "/odd/100%?#+&=" x
same "set a value with <>& and a newline" "" -o json set /odd/html "$(printf 'a<b>&c\nd')"
same "set from stdin" "from stdin" set /odd/stdin
same "set with no value and empty stdin" "" set /odd/none
same "ls -r /odd --sort" "" ls --sort -r /odd
same "-o json ls --sort -r /odd" "" -o json ls --sort -r /odd
same "get the odd key" "" get "/odd/a b/é日本"
same "get the %?# key" "" -o extended get "/odd/100%?#+&="
# conditionals and TTLs
same "mk an existing key" "" mk /kubernetes/network/config x
same "set --swap-with-value (wrong)" "" set --swap-with-value nope /odd/stdin y
same "set --swap-with-value (right)" "" -o extended set --swap-with-value "from stdin" /odd/stdin y
same "set --swap-with-index (wrong)" "" set --swap-with-index 1 /odd/stdin z
same "set --ttl (the expiration is the server clock's)" "" -o json set --ttl 1000 /odd/ttl t
same "update a missing key" "" update /odd/missing x
same "update" "" -o extended update /odd/ttl u
same "mkdir" "" mkdir /d1
same "mkdir an existing dir" "" mkdir /d1
same "-o json mkdir" "" -o json mkdir /d2
same "setdir on a dir" "" setdir /d2
same "updatedir --ttl" "" updatedir --ttl 500 /d2
same "updatedir a missing dir" "" updatedir /d3
same "mk --in-order" "" -o json mk --in-order /queue job1
same "mk --in-order again" "" mk --in-order /queue job2
same "ls the queue" "" ls --sort /queue
same "rm a dir without --dir" "" rm /d1
same "rm --dir" "" rm --dir /d1
same "rmdir a dir that is not empty" "" rmdir /kubernetes
same "rmdir" "" -o extended rmdir /d2
same "rm --with-value (wrong)" "" rm --with-value nope /odd/ttl
same "rm --with-index (wrong)" "" rm --with-index 1 /odd/ttl
same "rm" "" rm /odd/ttl
same "-o json rm -r" "" -o json rm -r /queue
same "rm -r a missing key" "" rm -r /queue
# (a TTL that outlives the test: an expiry takes an index of its own on each
# twin at its own moment, shifting the indexes later tests print and expect)
same "flags after the key are moved before it (urfave/cli)" "" set /odd/late v --ttl 1000 -o extended
same "exec-watch without a command" "" exec-watch /odd/late
same "get /odd/late" "" -o extended get /odd/late
same "unknown command" "" frob
same "unknown flag" "" USAGE ls --frob
# watch: with --after-index the events are history, so both print at once
same "watch --after-index" "" watch --after-index 5 /kubernetes/network/subnets/10.2.49.0-24
same "watch -r --after-index" "" watch -r --after-index 3 /kubernetes
same "-o json watch -r --after-index" "" -o json watch -r --after-index 8 /odd
same "-o extended watch --after-index" "" -o extended watch --after-index 1 /kubernetes/network/config
same "watch without a key" "" watch
# a server that does not answer
kscript etcd --endpoints http://127.0.0.1:1 get /x >"$t/k.out" 2>"$t/k.err"; kc=$?
etcdctl --endpoints http://127.0.0.1:1 get /x >"$t/e.out" 2>"$t/e.err"; ec=$?
[ "$kc" = "$ec" ] && cmp -s "$t/k.err" "$t/e.err"; ok $? "$V a refused connection: the same stderr and exit code ($kc)"

# the Lua API
out=$(kscript -e "
local c = etcd.connect{endpoints = '$A', api = 2, cacert = '$c/ca.crt', cert = '$c/client.crt', key = '$c/client.key'}
print(table.concat(assert(c:ls('/kubernetes', {recursive = true})), ' '))
local r = assert(c:get('/kubernetes/network/subnets/10.2.49.0-24'))
print(r.action, r.node.value, r.index > 0)
local _, e = c:get('/nope')
print(e.kind, e.code, e.cause, tostring(e):match('^100: Key not found %(/nope%) %[%d+%]$') ~= nil)
local _, e2 = c:mkdir('/kubernetes')
print(e2.kind, e2.code)
print(assert(c:set('/api/x', '1', {ttl = 100})).node.ttl)
print(assert(c:update('/api/x', '2')).prevNode.value)
print(select(2, c:set('/api/x', '3', {prev_value = 'nope'})).kind)
print(assert(c:rm('/api', {recursive = true})).action)
" 2>&1)
want="/kubernetes/network /kubernetes/network/config /kubernetes/network/subnets /kubernetes/network/subnets/10.2.49.0-24 /kubernetes/network/subnets/10.2.67.0-24 /kubernetes/network/subnets/10.2.70.0-24
get {\"PublicIP\":\"10.0.0.2\",\"BackendType\":\"vxlan\",\"BackendData\":{\"VtepMAC\":\"a6:16:81:8a:af:71\"}} true
notfound	100	/nope	true
exists	105
100
1
conflict
delete"
want=$(printf '%s' "$want" | sed 's/ true$/\ttrue/; s/^get /get\t/; s/ {/\t{/')
[ "$out" = "$want" ]; ok $? "$V the Lua API: ls, get, errors as kinds, set/update/rm"
[ "$out" = "$want" ] || diff <(echo "$want") <(echo "$out") | sed 's/^/#   /'

# a watch from an index the server no longer keeps: resync, lost = true, right state
out=$(timeout 60 kscript -e "
local c = etcd.connect{endpoints = '$A', api = 2, cacert = '$c/ca.crt', cert = '$c/client.crt', key = '$c/client.key'}
local first = assert(c:set('/w/k', 'v0'))
local start = first.node.modifiedIndex
-- 1100 more events: the server keeps the last 1000, so start is cleared
for i = 1, 1100 do assert(c:set('/w/k', 'v' .. i)) end
assert(c:set('/w/other', 'o'))
local w = c:watcher('/w', {recursive = true, after_index = start})
local ev = w:next()
print(ev.action, ev.lost)
local vals = {}
for _, n in ipairs(ev.node.nodes) do vals[#vals + 1] = n.key .. '=' .. n.value end
table.sort(vals)
print(table.concat(vals, ' '))
-- and then the next event, live: our own write, after the resync's index
-- (not always ev.index + 1: a TTL expiry on the server takes an index too)
local after
spawn(function() sleep(0.2); after = assert(c:set('/w/k', 'after')).node.modifiedIndex end)
local ev2 = w:next()
for _ = 1, 200 do if after then break end sleep(0.05) end
print(ev2.action, ev2.node.key, ev2.node.value, ev2.node.modifiedIndex == after and after > ev.index)
" 2>&1)
want=$(printf 'resync\ttrue\n/w/k=v1100 /w/other=o\nset\t/w/k\tafter\ttrue')
[ "$out" = "$want" ]; ok $? "$V a watch past EventIndexCleared resyncs to the right state and says events were lost"
[ "$out" = "$want" ] || { echo "# got:"; echo "$out" | sed 's/^/#   /'; }
# and etcdctl's v2 watch on a cleared index fails; kscript's command says so and goes on
ETCDCTL_API=2 timeout 3 kscript etcd --endpoints="$A" --ca-file="$c/ca.crt" --cert-file="$c/client.crt" \
  --key-file="$c/client.key" watch --after-index 3 /w/k >"$t/k.out" 2>"$t/k.err"
grep -q "were cleared" "$t/k.err"; ok $? "$V kscript etcd watch on a cleared index warns: $(head -1 "$t/k.err")"
tap_done
