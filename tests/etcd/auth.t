#!/usr/bin/env bash
# tests/etcd/auth.t: an auth-enabled etcd (3.4 and 3.6): users, roles and
# `auth enable|status|disable`, then reads and writes with --user NAME:PASS
# and --user NAME --password PASS, a wrong password and no user, through
# `kscript etcd` and etcdctl 3.6 on twin servers fed the same requests
# (stdout, the last stderr line, the exit code); the Lua API authenticates
# on its first call and again when its token is no longer valid.
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
same() {
  local name=$1
  shift
  kscript etcd --endpoints "$A" "$@" >"$t/k.out" 2>"$t/k.err" </dev/null
  local kc=$?
  "$ETCDCTL" --endpoints "$B" "$@" >"$t/e.out" 2>"$t/e.err" </dev/null
  local ec=$?
  local ke ee
  ke=$(tail -1 "$t/k.err"); ee=$(grep -av '^{"level"' "$t/e.err" | tail -1)
  if cmp -s "$t/k.out" "$t/e.out" && [ "$kc" = "$ec" ] && [ "$ke" = "$ee" ]; then ok 0 "$V $name"; else
    ok 1 "$V $name"
    echo "#   exit: kscript $kc, etcdctl $ec"; echo "#   kscript: $ke"; echo "#   etcdctl: $ee"
    diff "$t/k.out" "$t/e.out" | sed 's/^/#   /' | head -10
  fi
}
for v in $versions; do
  name=${v%%=*}; bin=${v#*=}; id=${name//./_}
  V="[etcd $name]"
  ETCD_TWIN=1 etcd_start "aa$id" "$bin" >&2 || { ok 1 "$V twin A starts"; continue; }
  ETCD_TWIN=1 etcd_start "ab$id" "$bin" >&2 || { ok 1 "$V twin B starts"; continue; }
  a="ETCD_EP_aa$id"; b="ETCD_EP_ab$id"; A=${!a}; B=${!b}
  same "auth status (off)" auth status
  same "user add root" user add root:rootpw
  same "user add alice" user add alice --new-user-password=alicepw
  same "user list" user list
  same "role add reader" role add reader
  same "role list" role list
  same "put before auth" put /secret s3cr3t
  same "auth enable (makes the root role)" auth enable
  same "get without a user" get /secret
  same "get as root (user:pass)" --user root:rootpw get /secret
  same "get as root (--password)" --user root --password rootpw get /secret -w json
  same "a wrong password" --user root:nope get /secret
  same "alice has no permission" --user alice:alicepw get /secret
  same "put as root" --user root:rootpw put /secret new
  same "get --prefix as root (streamed)" --user root:rootpw get / --prefix
  same "auth status (on)" --user root:rootpw auth status
  same "role list (with root)" --user root:rootpw role list
  same "auth status -w json" --user root:rootpw auth status -w json
  # the Lua API: authenticate on the first call; a token made invalid is replaced once
  out=$(kscript -e "
    local c = etcd.connect{endpoints = '$A', user = 'root', password = 'rootpw'}
    print(assert(c:get('/secret')).kvs[1].value)
    c.token = 'not-a-token'   -- as if the server had forgotten it
    print(assert(c:get('/secret')).kvs[1].value, c.token ~= 'not-a-token')
    local bad = etcd.connect{endpoints = '$A', user = 'root', password = 'nope'}
    local r, e = bad:get('/secret')
    print(r, e.grpc_message)
  " 2>&1)
  want=$(printf 'new\nnew\ttrue\nnil\tetcdserver: authentication failed, invalid user ID or password')
  [ "$out" = "$want" ]; ok $? "$V the Lua API authenticates, re-authenticates once on an invalid token, reports a refusal"
  [ "$out" = "$want" ] || echo "$out" | sed 's/^/#   /'
  same "auth disable" --user root:rootpw auth disable
  same "get after auth disable" get /secret
  etcd_stop "aa$id"; etcd_stop "ab$id"
done
tap_done
