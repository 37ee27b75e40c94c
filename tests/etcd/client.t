#!/usr/bin/env bash
# tests/etcd/client.t: the etcd Lua module against real etcd 3.4 and 3.6
# (tests/etcd/client.lua does the checking; this starts the servers).
set -eu
export LC_ALL=C
cd "$(dirname "$0")/../.."
. tests/etcd/lib.sh
versions=$(etcd_versions) || { echo "1..1"; echo "not ok 1 - etcd 3.6 is required (KSCRIPT_REQUIRE_ETCD36=1)"; exit 1; }
servers=""
for v in $versions; do
  name=${v%%=*}; bin=${v#*=}; id=${name//./_}
  etcd_start "$id" "$bin" "" --experimental-watch-progress-notify-interval=1s >&2
  ep="ETCD_EP_$id"; dir="ETCD_DIR_$id"
  servers="$servers $name=${!ep}=${!dir}"
done
export ETCD_TEST_SERVERS=$servers
kscript tests/etcd/client.lua
