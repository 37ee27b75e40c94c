# tests/etcd/lib.sh: start and stop throw-away etcd servers on loopback for
# the etcd tests.  Sourced by tests/etcd/*.t (bash); also runnable:
#   tests/etcd/lib.sh restart DIR     stop and start the instance in DIR again
#
#   etcd_versions              -> "3.4=/usr/bin/etcd 3.6=..." (fails when 3.6
#                                 is missing and KSCRIPT_REQUIRE_ETCD36=1)
#   etcd_start NAME BIN [tls] [extra etcd flags...]   (ETCD_TWIN=1: see below)
#       sets ETCD_DIR_<NAME>, ETCD_EP_<NAME>; data, logs and certificates
#       live in one temp dir removed by the EXIT trap
#   etcd_stop NAME, etcd_restart NAME
#   certificates (tls): $ETCD_TEST_TMP/certs/{ca,server,client,other-ca,stranger}.*
set -u
ETCD_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ETCD36_VERSION=v3.6.16

etcd_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

etcd_versions() {
  local out="3.4=/usr/bin/etcd"
  local cache=${XDG_CACHE_HOME:-$HOME/.cache}/kscript
  local b
  b=$(ls -d "$cache"/etcd-v3.6.*/etcd 2>/dev/null | sort -V | tail -1)
  if [ -n "$b" ] && [ -x "$b" ]; then
    out="$out 3.6=$b"
  elif [ "${KSCRIPT_REQUIRE_ETCD36:-}" = 1 ]; then
    echo "etcd 3.6 is missing under $cache (run tests/env/build)" >&2
    return 1
  fi
  echo "$out"
}

# The temp dir of this test run, removed at exit with every server in it.
etcd_tmp() {
  if [ -z "${ETCD_TEST_TMP:-}" ]; then
    ETCD_TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/kscript-etcd.XXXXXX")
    export ETCD_TEST_TMP
    trap etcd_cleanup EXIT
  fi
}

etcd_cleanup() {
  local d
  for d in "$ETCD_TEST_TMP"/srv-*; do
    [ -f "$d/pid" ] && kill "$(cat "$d/pid")" 2>/dev/null
  done
  for d in "$ETCD_TEST_TMP"/srv-*; do
    [ -f "$d/pid" ] && while kill -0 "$(cat "$d/pid")" 2>/dev/null; do sleep 0.05; done
  done
  rm -rf "$ETCD_TEST_TMP"
}

etcd_certs() {
  etcd_tmp
  if [ ! -f "$ETCD_TEST_TMP/certs/ca.crt" ]; then
    # shellcheck source=../lib/certs.sh
    . "$ETCD_LIB_DIR/../lib/certs.sh"
    mkcerts "$ETCD_TEST_TMP/certs"
  fi
}

# Start the instance whose command line is in DIR/cmd; wait until it answers.
etcd_run_dir() {
  local d=$1
  (cd "$d" && exec setsid bash -c "exec $(cat "$d/cmd")" >>"$d/log" 2>&1 </dev/null) &
  echo $! >"$d/pid"
  local i health=$(cat "$d/health")
  for i in $(seq 1 200); do
    if eval "curl -sf -o /dev/null $health" 2>/dev/null; then return 0; fi
    if ! kill -0 "$(cat "$d/pid")" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "etcd in $d did not start; log:" >&2
  tail -20 "$d/log" >&2
  return 1
}

etcd_stop_dir() {
  local d=$1 pid
  pid=$(cat "$d/pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f "$d/pid"
}

etcd_start() {
  local name=$1 bin=$2 tls=${3:-}
  shift 2
  [ $# -gt 0 ] && shift
  etcd_tmp
  local d=$ETCD_TEST_TMP/srv-$name p q scheme=http extra="" health
  mkdir -p "$d"
  p=$(etcd_free_port)
  q=$(etcd_free_port)
  if [ "$tls" = tls ]; then
    etcd_certs
    local c=$ETCD_TEST_TMP/certs
    scheme=https
    extra="--cert-file $c/server.crt --key-file $c/server.key --trusted-ca-file $c/ca.crt --client-cert-auth"
    health="--cacert $c/ca.crt --cert $c/client.crt --key $c/client.key https://127.0.0.1:$p/health"
  else
    health="http://127.0.0.1:$p/health"
  fi
  echo "$health" >"$d/health"
  # ETCD_TWIN=1: advertise a fixed peer URL (never dialled by a one-member
  # cluster), so two servers started so get the same cluster and member IDs
  # and, fed the same requests, answer byte for byte alike
  local adv=http://127.0.0.1:$q
  [ "${ETCD_TWIN:-}" = 1 ] && adv=http://127.0.0.1:2380
  echo "$bin --name default --data-dir $d/data --listen-client-urls $scheme://127.0.0.1:$p" \
    "--advertise-client-urls $scheme://127.0.0.1:$p --listen-peer-urls http://127.0.0.1:$q" \
    "--initial-advertise-peer-urls $adv --initial-cluster default=$adv" \
    "--log-level error $extra $*" >"$d/cmd"
  etcd_run_dir "$d" || return 1
  eval "ETCD_DIR_$name=\$d; ETCD_EP_$name=$scheme://127.0.0.1:$p"
  export "ETCD_DIR_$name" "ETCD_EP_$name"
}

etcd_stop() { local v="ETCD_DIR_$1"; etcd_stop_dir "${!v}"; }
etcd_restart() { local v="ETCD_DIR_$1"; etcd_stop_dir "${!v}"; etcd_run_dir "${!v}"; }

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case ${1:-} in
    restart) etcd_stop_dir "$2" && etcd_run_dir "$2" ;;
    stop) etcd_stop_dir "$2" ;;
    start) etcd_run_dir "$2" ;;
    *) echo "usage: tests/etcd/lib.sh restart|stop|start DIR" >&2; exit 2 ;;
  esac
fi
