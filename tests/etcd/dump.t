#!/usr/bin/env bash
# tests/etcd/dump.t: `kscript dump-keys` against etcdctl on the same data, in
# etcd 3.4 and 3.6: 100,000 Kubernetes-shaped keys, hostile keys, values.
set -u
export LC_ALL=C
cd "$(dirname "$0")/../.."
. tests/etcd/lib.sh
. tests/etcd/tap.sh
export ETCDCTL_API=3
versions=$(etcd_versions) || { ok 1 "etcd 3.6 is required (KSCRIPT_REQUIRE_ETCD36=1)"; tap_done; exit 1; }
etcd_tmp
t=$ETCD_TEST_TMP
for v in $versions; do
  name=${v%%=*}; bin=${v#*=}; id=d${name//./_}
  etcd_start "$id" "$bin" >&2 || { ok 1 "[$name] etcd starts"; continue; }
  ep="ETCD_EP_$id"; export ETCDCTL_ENDPOINTS=${!ep}
  V="[$name]"

  kscript tests/etcd/fill.lua 100000 100 >&2
  ok $? "$V filled 100,000 keys with batched Txn puts"
  kscript dump-keys >"$t/dk" 2>"$t/err"; rc=$?
  etcdctl get /registry --prefix --keys-only | awk 'NR % 2 == 1' >"$t/ec"
  ok $rc "$V dump-keys exits 0"
  [ "$(wc -l <"$t/dk")" = 100000 ] && cmp -s "$t/dk" "$t/ec"
  ok $? "$V dump-keys = etcdctl get /registry --prefix --keys-only (100,000 keys, same order)"
  kscript dump-keys --page 7000 | cmp -s - "$t/dk"
  ok $? "$V dump-keys --page 7000 gives the same keys"
  kscript dump-keys.lua /registry/pods | cmp -s - <(grep '^/registry/pods/' "$t/dk")
  ok $? "$V dump-keys.lua PREFIX (the script name works too)"
  kscript dump-keys --count >"$t/count"
  grep -q '^TOTAL  *100000  *10000000$' "$t/count" && grep -q '^pods  *14286 ' "$t/count"
  ok $? "$V dump-keys --count: per type and total"

  # hostile keys, checked against etcdctl -w json (base64 keys)
  kscript -e '
    local c = etcd.connect{}
    for _, k in ipairs{"/hostile/with space", "/hostile/new\nline", "/hostile/tab\there", "/hostile/caf\xc3\xa9",
        "/hostile/\xff\xfe", "/hostile/back\\slash", "/hostile/nul\0", "/hostile/esc\27[31m", "/hostile/\xc2\x85nel",
        "/hostile/\xf0\x9f\x98\x80"} do
      assert(c:put(k, k:sub(10) .. "\n\xff value"))
    end
    assert(c:put("/hostile/empty", ""))' >&2
  kscript dump-keys /hostile/ >"$t/hk"
  etcdctl get /hostile/ --prefix -w json | python3 tests/etcd/escape.py >"$t/hj"
  [ "$(wc -l <"$t/hk")" = 11 ] && cmp -s "$t/hk" "$t/hj"
  ok $? "$V hostile keys: one line each, escaped, = etcdctl -w json decoded"
  grep -qx '/hostile/new\\nline' "$t/hk" && grep -qx '/hostile/\\xff\\xfe' "$t/hk" && grep -qx '/hostile/caf'$'\xc3\xa9' "$t/hk"
  ok $? "$V newline -> \\n, 0xff -> \\xff, UTF-8 as is"
  kscript dump-keys --values /hostile/ >"$t/hv"
  etcdctl get /hostile/ --prefix -w json | python3 tests/etcd/escape.py --values >"$t/hvj"
  cmp -s "$t/hv" "$t/hvj" && [ "$(wc -l <"$t/hv")" = 22 ]
  ok $? "$V --values: key line then escaped value line"
  kscript dump-keys --raw /hostile/caf | cmp -s - <(printf '/hostile/caf\xc3\xa9\n')
  ok $? "$V --raw writes the bytes as stored"
  kscript dump-keys --values /registry/pods/ns-0/ | head -2 | tail -1 | grep -q '^/registry/pods/ns-0/obj-0000000xxx'
  ok $? "$V --values prints the value under its key"
  kscript dump-keys --bogus >/dev/null 2>&1
  [ $? = 2 ]
  ok $? "$V an unknown option is a usage error (exit 2)"
  kscript dump-keys --endpoints http://127.0.0.1:1 >/dev/null 2>"$t/err"
  [ $? != 0 ] && grep -q 'refused' "$t/err"
  ok $? "$V an endpoint that is down: exit non-zero, message says refused"
  etcd_stop "$id"
done
tap_done
