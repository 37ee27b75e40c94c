#!/usr/bin/env bash
# tests/etcd/tls.t: etcd 3.4 and 3.6 with TLS client-certificate auth
# (certificates made by openssl now): dump-keys and the module over HTTPS
# (HTTP/2 by ALPN); a wrong CA or client certificate fails with kind "tls".
set -u
export LC_ALL=C
cd "$(dirname "$0")/../.."
. tests/etcd/lib.sh
. tests/etcd/tap.sh
export ETCDCTL_API=3
versions=$(etcd_versions) || { ok 1 "etcd 3.6 is required (KSCRIPT_REQUIRE_ETCD36=1)"; tap_done; exit 1; }
etcd_certs
t=$ETCD_TEST_TMP
c=$t/certs
kind_of() { # kind_of ENDPOINT CACERT CERT KEY -> prints "ok N" or "kind: message"
  T_EP=$1 T_CA=$2 T_CERT=$3 T_KEY=$4 kscript -e "
    local function env(k) local v = os.getenv(k); if v ~= '' then return v end end
    local c = etcd.connect{endpoints = env'T_EP', cacert = env'T_CA', cert = env'T_CERT', key = env'T_KEY'}
    local r, e = c:get('/registry/a', {prefix = true})
    if r then print('ok ' .. #r.kvs) else print(e.kind .. ': ' .. e.message) end" 2>&1
}
for v in $versions; do
  name=${v%%=*}; bin=${v#*=}; id=t${name//./_}
  etcd_start "$id" "$bin" tls >&2 || { ok 1 "[$name] TLS etcd starts"; continue; }
  ep="ETCD_EP_$id"; ep=${!ep}
  V="[$name]"
  flags=(--endpoints "$ep" --cacert "$c/ca.crt" --cert "$c/client.crt" --key "$c/client.key")
  for k in /registry/a/1 "/registry/a/two words" /registry/b/x; do etcdctl "${flags[@]}" put "$k" v >/dev/null; done
  kscript dump-keys "${flags[@]}" >"$t/dk"
  etcdctl "${flags[@]}" get /registry --prefix --keys-only | awk 'NR % 2 == 1' >"$t/ec"
  [ "$(wc -l <"$t/dk")" = 3 ] && cmp -s "$t/dk" "$t/ec"
  ok $? "$V dump-keys over TLS with a client certificate = etcdctl"
  ETCDCTL_ENDPOINTS=$ep ETCDCTL_CACERT=$c/ca.crt ETCDCTL_CERT=$c/client.crt ETCDCTL_KEY=$c/client.key \
    kscript dump-keys | cmp -s - "$t/dk"
  ok $? "$V dump-keys takes ETCDCTL_ENDPOINTS/CACERT/CERT/KEY"
  out=$(kind_of "$ep" "$c/ca.crt" "$c/client.crt" "$c/client.key")
  [ "$out" = "ok 2" ]
  ok $? "$V etcd.connect over TLS: get works ($out)"
  out=$(kind_of "$ep" "$c/other-ca.crt" "$c/client.crt" "$c/client.key")
  case $out in tls:*) r=0 ;; *) r=1 ;; esac
  ok $r "$V wrong CA -> kind tls ($out)"
  out=$(kind_of "$ep" "$c/ca.crt" "$c/stranger.crt" "$c/stranger.key")
  case $out in tls:*) r=0 ;; *) r=1 ;; esac
  ok $r "$V client certificate from another CA -> kind tls ($out)"
  out=$(kind_of "$ep" "$c/ca.crt" "" "")
  case $out in tls:*) r=0 ;; *) r=1 ;; esac
  ok $r "$V no client certificate -> kind tls ($out)"
  kscript dump-keys --endpoints "$ep" --cacert "$c/other-ca.crt" --cert "$c/client.crt" --key "$c/client.key" >/dev/null 2>"$t/err"
  [ $? = 1 ] && grep -qi 'certificate\|SSL\|TLS' "$t/err"
  ok $? "$V dump-keys with a wrong CA fails with a clear message: $(head -c 200 "$t/err")"
  etcd_stop "$id"
done
tap_done
